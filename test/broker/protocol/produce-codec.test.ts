import { describe, expect, test } from 'vitest';
import { apiPlans } from '../../../src/broker/protocol/api-keys.js';
import { readStruct, writeStruct } from '../../../src/broker/protocol/codec.js';
import { ApiKey, ErrorCode, decodeRequestHeader, encodeRequest, encodeResponse } from '../../../src/broker/protocol/index.js';
import { decodeProduceRequest, encodeProduceResponse } from '../../../src/broker/protocol/produce-codec.js';
import { PRODUCE } from '../../../src/broker/protocol/messages/produce.js';
import { Reader } from '../../../src/broker/protocol/reader.js';
import { Writer } from '../../../src/broker/protocol/writer.js';
import { frameOf, prng, sampleMessage } from './helpers.js';

// Produce's own codec against the generic walk of Kafka's schema, which the byte-exact vectors
// check: the same objects from the same bytes, the same errors from broken bytes, the same bytes
// from the same response, at every served version.

const VERSIONS = Array.from({ length: PRODUCE.maxVersion - PRODUCE.minVersion + 1 }, (_, i) => PRODUCE.minVersion + i);
const plans = apiPlans(ApiKey.Produce)!;

/** The generic decoder's result for a body, or its error message. */
function genericDecode(version: number, frame: Buffer, bodyOffset: number): unknown {
  try {
    const r = new Reader(frame, bodyOffset);
    const body = readStruct(r, plans.request(version));
    if (r.remaining !== 0) r.fail(`${r.remaining} bytes after the Produce v${version} request`);
    return body;
  } catch (err) {
    return (err as Error).message;
  }
}

function fastDecode(version: number, frame: Buffer, bodyOffset: number): unknown {
  try {
    return decodeProduceRequest(version, frame, bodyOffset);
  } catch (err) {
    return (err as Error).message;
  }
}

/** The generic encoder's frame (size prefix included) for a response body. */
function genericResponse(version: number, correlationId: number, body: Record<string, unknown>): Buffer {
  const w = new Writer();
  w.int32(0);
  w.int32(correlationId);
  if (plans.isFlexible(version)) w.uvarint(0);
  writeStruct(w, plans.response(version), body);
  const bytes = Buffer.concat(w.finish());
  bytes.writeInt32BE(bytes.length - 4, 0);
  return bytes;
}

/** What the broker's produce handler answers: successes and errors, messages set or not. */
function handlerResponses(): Record<string, unknown>[] {
  const ok = (index: number) => ({ index, errorCode: 0, baseOffset: 1234567890123n, logAppendTimeMs: -1n, logStartOffset: 17n, errorMessage: null });
  const failed = (index: number, errorMessage: string | null) => ({ index, errorCode: ErrorCode.CORRUPT_MESSAGE, baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: -1n, errorMessage });
  return [
    { responses: [{ name: 'sensor-data', partitionResponses: [ok(0)] }], throttleTimeMs: 0 },
    { responses: [{ name: 't', partitionResponses: [ok(0), failed(1, 'no records'), failed(2, null)] }, { name: 'ünïcode-topic', partitionResponses: [ok(3)] }], throttleTimeMs: 5 },
    { responses: [{ name: 'long', partitionResponses: [{ ...ok(1), logAppendTimeMs: 1733580000000n, errorMessage: 'x'.repeat(300) }] }], throttleTimeMs: 0 },
    { responses: [], throttleTimeMs: 0 },
    { responses: [{ name: 'defaults', partitionResponses: [{ index: 4, errorCode: 0, baseOffset: 9n }] }] },
  ];
}

describe.each(VERSIONS)('Produce v%i', (version) => {
  test('requests decode to what the generic codec reads, records as views into the frame', () => {
    for (const nulls of [false, true]) {
      const rnd = prng(version * 10 + (nulls ? 1 : 0));
      const body = sampleMessage(PRODUCE.request, version, rnd, { nulls, maxArray: 3 });
      const frame = frameOf(encodeRequest(ApiKey.Produce, version, 7, 'c', body));
      const { bodyOffset } = decodeRequestHeader(frame);
      const decoded = decodeProduceRequest(version, frame, bodyOffset);
      expect(decoded).toEqual(genericDecode(version, frame, bodyOffset));
      expect(decoded).toEqual(body);
      for (const t of decoded.topicData) for (const p of t.partitionData) if (p.records !== null) expect(p.records.buffer).toBe(frame.buffer);
    }
  });

  test('a request cut short or with bytes after it fails as the generic codec fails', () => {
    const body = sampleMessage(PRODUCE.request, version, prng(version), { nulls: false, maxArray: 2 });
    const frame = frameOf(encodeRequest(ApiKey.Produce, version, 7, 'c', body));
    const { bodyOffset } = decodeRequestHeader(frame);
    for (let n = bodyOffset; n < frame.length; n++) {
      const cut = frame.subarray(0, n);
      const generic = genericDecode(version, cut, bodyOffset);
      expect(typeof generic).toBe('string');
      expect(fastDecode(version, cut, bodyOffset)).toBe(generic);
    }
    const longer = Buffer.concat([frame, Buffer.from([0])]);
    expect(fastDecode(version, longer, bodyOffset)).toBe(genericDecode(version, longer, bodyOffset));
  });

  test('null and negative lengths fail as the generic codec fails', () => {
    const body = { transactionalId: null, acks: 1, timeoutMs: 5, topicData: [{ name: 't', partitionData: [{ index: 0, records: null }] }] };
    const frame = frameOf(encodeRequest(ApiKey.Produce, version, 7, 'c', body));
    const { bodyOffset } = decodeRequestHeader(frame);
    expect(decodeProduceRequest(version, frame, bodyOffset)).toEqual(body);
    // Every byte of the body set to 0xff in turn: null names, lengths of -1 or huge, bad varints.
    for (let i = bodyOffset; i < frame.length; i++) {
      const bad = Buffer.from(frame);
      bad[i] = 0xff;
      expect(fastDecode(version, bad, bodyOffset)).toEqual(genericDecode(version, bad, bodyOffset));
    }
  });

  test("the handler's responses encode to the generic codec's bytes, in one buffer", () => {
    for (const body of handlerResponses()) {
      const fast = encodeProduceResponse(version, 99, body);
      expect(fast).toHaveLength(1);
      expect(fast![0]!.toString('hex')).toBe(genericResponse(version, 99, body).toString('hex'));
      expect(frameOf(encodeResponse(ApiKey.Produce, version, 99, body))).toEqual(genericResponse(version, 99, body).subarray(4));
    }
  });

  test('fields the broker never sets are left to the generic encoder', () => {
    const body = sampleMessage(PRODUCE.response, version, prng(100 + version), { nulls: false, maxArray: 2 });
    const hasExtras = version >= 8; // record errors from v8, tagged leader and endpoints from v10
    expect(encodeProduceResponse(version, 1, body) === null).toBe(hasExtras);
    expect(frameOf(encodeResponse(ApiKey.Produce, version, 1, body))).toEqual(genericResponse(version, 1, body).subarray(4));
  });
});

test('a response field of the wrong type is refused, as by the generic encoder', () => {
  const body = { responses: [{ name: 't', partitionResponses: [{ index: 0, errorCode: 0, baseOffset: 5 as unknown as bigint, logAppendTimeMs: -1n }] }], throttleTimeMs: 0 };
  expect(() => encodeResponse(ApiKey.Produce, 7, 1, body)).toThrow(/cannot encode Produce v7 response: field baseOffset must be a bigint/);
});
