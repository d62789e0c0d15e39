import { ProtocolError } from '../../errors.js';
import { ApiKey, apiName, apiPlans, isFlexible, SUPPORTED_VERSIONS } from './api-keys.js';
import { readStruct, writeStruct } from './codec.js';
import { ErrorCode } from './error-codes.js';
import { compileStruct, type StructPlan } from './plan.js';
import { encodeProduceResponse, decodeProduceRequest } from './produce-codec.js';
import { LengthKind, Reader } from './reader.js';
import type { RequestBody, RequestInput, ResponseBody, ResponseInput } from './types.js';
import { Writer } from './writer.js';
import type { ApiPlans } from './plan.js';

/** A header's tagged-field section: no tags are known, so all are skipped. */
const NO_TAGS: StructPlan = compileStruct([], 0, true);

export interface RequestHeader {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string | null;
  /** Where the body starts in the frame. */
  readonly bodyOffset: number;
}

/**
 * Reads a request header (v1, or v2 for flexible versions) from a frame (the bytes after the
 * 4-byte size). A known API at a version above the served range is still parsed, so the broker
 * can answer an ApiVersions request it does not speak; an unknown API key is read as header v1.
 */
export function decodeRequestHeader(frame: Buffer): RequestHeader {
  const r = new Reader(frame, 0);
  const apiKey = r.int16();
  const apiVersion = r.int16();
  const correlationId = r.int32();
  // The client id stays a classic string even in header v2, so a broker can read it before it
  // knows whether the version is flexible.
  const n = r.length(LengthKind.Int16, 1, 'client id');
  const clientId = n < 0 ? null : r.utf8(n);
  if (isFlexible(apiKey, apiVersion)) readStruct(r, NO_TAGS);
  return { apiKey, apiVersion, correlationId, clientId, bodyOffset: r.pos };
}

/** Decodes a request body. Throws `ProtocolError` for an unknown API, an unserved version or bad bytes. */
export function decodeRequest<K extends number>(
  apiKey: K,
  apiVersion: number,
  frame: Buffer,
  bodyOffset: number,
): RequestBody<K> {
  const plans = servedPlans(apiKey, apiVersion);
  if (apiKey === ApiKey.Produce) return decodeProduceRequest(apiVersion, frame, bodyOffset) as RequestBody<K>;
  const r = new Reader(frame, bodyOffset);
  const body = readStruct(r, plans.request(apiVersion));
  if (r.remaining !== 0) r.fail(`${r.remaining} bytes after the ${apiName(apiKey)} v${apiVersion} request`);
  return body as RequestBody<K>;
}

/**
 * Encodes a response with its size prefix and header (v1 for flexible versions, but always v0
 * for ApiVersions, which a client must parse before it knows what the broker speaks). Record
 * slices in the body are returned as chunks of their own, never copied.
 */
export function encodeResponse<K extends number>(
  apiKey: K,
  apiVersion: number,
  correlationId: number,
  body: ResponseInput<K>,
): Buffer[] {
  const plans = servedPlans(apiKey, apiVersion);
  if (apiKey === ApiKey.Produce) {
    const produced = encodeFast(apiVersion, correlationId, body as ResponseInput<typeof ApiKey.Produce>);
    if (produced !== null) return produced;
  }
  return encodeFrame(`${apiName(apiKey)} v${apiVersion} response`, (w) => {
    w.int32(correlationId);
    if (apiKey !== ApiKey.ApiVersions && plans.isFlexible(apiVersion)) w.uvarint(0);
    writeStruct(w, plans.response(apiVersion), body as Record<string, unknown>);
  });
}

/** Encodes a request with its size prefix and header v1 or v2 (for clients, tests and benchmarks). */
export function encodeRequest<K extends number>(
  apiKey: K,
  apiVersion: number,
  correlationId: number,
  clientId: string | null,
  body: RequestInput<K>,
): Buffer[] {
  const plans = servedPlans(apiKey, apiVersion);
  return encodeFrame(`${apiName(apiKey)} v${apiVersion} request`, (w) => {
    w.int16(apiKey);
    w.int16(apiVersion);
    w.int32(correlationId);
    if (clientId === null) w.int16(-1);
    else {
      const n = Buffer.byteLength(clientId, 'utf8');
      if (n > 0x7fff) throw new ProtocolError(`client id of ${n} bytes is over 32767`);
      w.int16(n);
      w.utf8(clientId, n);
    }
    if (plans.isFlexible(apiVersion)) w.uvarint(0);
    writeStruct(w, plans.request(apiVersion), body as Record<string, unknown>);
  });
}

/** Decodes a response frame (the bytes after the size prefix). */
export function decodeResponse<K extends number>(
  apiKey: K,
  apiVersion: number,
  frame: Buffer,
): { correlationId: number; body: ResponseBody<K> } {
  const plans = servedPlans(apiKey, apiVersion);
  const r = new Reader(frame, 0);
  const correlationId = r.int32();
  if (apiKey !== ApiKey.ApiVersions && plans.isFlexible(apiVersion)) readStruct(r, NO_TAGS);
  const body = readStruct(r, plans.response(apiVersion));
  if (r.remaining !== 0) r.fail(`${r.remaining} bytes after the ${apiName(apiKey)} v${apiVersion} response`);
  return { correlationId, body: body as ResponseBody<K> };
}

/**
 * The answer to an ApiVersions request at a version this broker does not serve: the v0 body
 * with UNSUPPORTED_VERSION, listing ApiVersions' own range so the client can retry.
 */
export function encodeUnsupportedApiVersions(correlationId: number): Buffer[] {
  const own = SUPPORTED_VERSIONS.get(ApiKey.ApiVersions)!;
  return encodeResponse(ApiKey.ApiVersions, 0, correlationId, {
    errorCode: ErrorCode.UNSUPPORTED_VERSION,
    apiKeys: [{ apiKey: ApiKey.ApiVersions, minVersion: own.min, maxVersion: own.max }],
  });
}

function servedPlans(apiKey: number, apiVersion: number): ApiPlans {
  const plans = apiPlans(apiKey);
  if (plans === undefined) throw new ProtocolError(`unknown API key ${apiKey}`);
  const { minVersion, maxVersion } = plans.schema;
  // ApiVersions v0 is always spoken: it is the answer to an ApiVersions version we do not know.
  const answerable = apiKey === ApiKey.ApiVersions && apiVersion === 0;
  if (!answerable && (apiVersion < minVersion || apiVersion > maxVersion)) {
    throw new ProtocolError(`${plans.schema.name} v${apiVersion} is not served (v${minVersion}-${maxVersion})`);
  }
  return plans;
}

/** `encodeProduceResponse`, with its failures worded as `encodeFrame` words the generic encoder's. */
function encodeFast(apiVersion: number, correlationId: number, body: ResponseInput<typeof ApiKey.Produce>): Buffer[] | null {
  try {
    return encodeProduceResponse(apiVersion, correlationId, body);
  } catch (err) {
    throw new ProtocolError(`cannot encode Produce v${apiVersion} response: ${(err as Error).message}`, { cause: err });
  }
}

function encodeFrame(what: string, write: (w: Writer) => void): Buffer[] {
  const w = new Writer();
  w.int32(0); // the size, patched below once it is known
  try {
    write(w);
  } catch (err) {
    if (err instanceof ProtocolError) throw new ProtocolError(`cannot encode ${what}: ${err.message}`);
    // A value of the wrong type or range for its field (Buffer's writers throw RangeError/TypeError).
    throw new ProtocolError(`cannot encode ${what}: ${(err as Error).message}`, { cause: err });
  }
  const size = w.length - 4;
  const chunks = w.finish();
  chunks[0]!.writeInt32BE(size, 0);
  return chunks;
}
