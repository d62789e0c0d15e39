import { describe, expect, test } from 'vitest';
import {
  ApiKey,
  ProtocolError,
  decodeRequest,
  decodeRequestHeader,
  decodeResponse,
  encodeRequest,
  encodeResponse,
} from '../../../src/broker/protocol/index.js';
import { ALL_SCHEMAS, frameOf, prng, sampleMessage } from './helpers.js';

// Malformed input must end in a ProtocolError (never a RangeError, never a hang or a huge
// allocation). SEGLOG_PROTOCOL_FUZZ sets how many random mutations each frame gets.
const MUTATIONS = Number(process.env.SEGLOG_PROTOCOL_FUZZ ?? 200);

function decodeRequestFrame(frame: Buffer): unknown {
  const h = decodeRequestHeader(frame);
  return decodeRequest(h.apiKey, h.apiVersion, frame, h.bodyOffset);
}

/** Runs `fn`; any error must be a ProtocolError. Returns whether it threw. */
function onlyProtocolErrors(fn: () => unknown): boolean {
  try {
    fn();
    return false;
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    expect(err.code).toBe('SEGLOG_PROTOCOL');
    return true;
  }
}

function expectProtocolError(fn: () => unknown, message?: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ProtocolError);
  if (message !== undefined) expect((caught as Error).message).toMatch(message);
}

/** A valid request and response frame of every API at its lowest and newest served versions. */
function sampleFrames(): { name: string; apiKey: number; version: number; request: Buffer; response: Buffer }[] {
  const out = [];
  for (const schema of ALL_SCHEMAS) {
    for (const version of new Set([schema.minVersion, schema.maxVersion])) {
      const rnd = prng(schema.apiKey * 31 + version);
      const request = frameOf(encodeRequest(schema.apiKey, version, 1, 'c', sampleMessage(schema.request, version, rnd, { nulls: false, maxArray: 2 })));
      const response = frameOf(encodeResponse(schema.apiKey, version, 1, sampleMessage(schema.response, version, rnd, { nulls: false, maxArray: 2 })));
      out.push({ name: `${schema.name} v${version}`, apiKey: schema.apiKey, version, request, response });
    }
  }
  return out;
}

describe.each(sampleFrames())('$name', ({ apiKey, version, request, response }) => {
  test('every truncation of the request and of the response is a ProtocolError', () => {
    for (let n = 0; n < request.length; n++) {
      expectProtocolError(() => decodeRequestFrame(request.subarray(0, n)));
    }
    for (let n = 0; n < response.length; n++) {
      expectProtocolError(() => decodeResponse(apiKey, version, response.subarray(0, n)));
    }
  });

  test('random byte mutations decode or throw ProtocolError, nothing else', () => {
    const rnd = prng(apiKey * 7 + version);
    let threw = 0;
    for (let i = 0; i < MUTATIONS; i++) {
      for (const [frame, decode] of [
        [request, decodeRequestFrame],
        [response, (f: Buffer) => decodeResponse(apiKey, version, f)],
      ] as const) {
        const copy = Buffer.from(frame);
        const flips = 1 + Math.floor(rnd() * 4);
        for (let j = 0; j < flips; j++) copy[Math.floor(rnd() * copy.length)] = Math.floor(rnd() * 256);
        if (onlyProtocolErrors(() => decode(copy))) threw++;
      }
    }
    expect(threw).toBeGreaterThan(0);
  });

  test('trailing bytes after the body are a ProtocolError', () => {
    expectProtocolError(() => decodeRequestFrame(Buffer.concat([request, Buffer.from([0])])), /after/);
    expectProtocolError(() => decodeResponse(apiKey, version, Buffer.concat([response, Buffer.from([0])])), /after/);
  });
});

describe('lengths and varints', () => {
  const header = (apiKey: number, version: number) => {
    const b = Buffer.alloc(10);
    b.writeInt16BE(apiKey, 0);
    b.writeInt16BE(version, 2);
    b.writeInt32BE(1, 4);
    b.writeInt16BE(-1, 8); // null client id
    return b;
  };

  test('an array length of 2^31 - 1 in a tiny frame fails at once, before any allocation', () => {
    // Metadata v0: topics is an int32-length array.
    const frame = Buffer.concat([header(ApiKey.Metadata, 0), Buffer.from('7fffffff', 'hex')]);
    const started = process.hrtime.bigint();
    expectProtocolError(() => decodeRequestFrame(frame), /past the end/);
    // Generous bound: a decoder that looped or allocated per claimed element would take seconds.
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(1000);
  });

  test('a compact array length of 2^32 - 2 fails at once', () => {
    // Metadata v12 (flexible): header tagged section, then a compact array length of 0xfffffffe + 1.
    const frame = Buffer.concat([header(ApiKey.Metadata, 12), Buffer.from('00', 'hex'), Buffer.from('ffffffff0f', 'hex')]);
    expectProtocolError(() => decodeRequestFrame(frame), /past the end/);
  });

  test('negative lengths other than -1 are ProtocolErrors', () => {
    expectProtocolError(() => decodeRequestFrame(Buffer.concat([header(ApiKey.Metadata, 0), Buffer.from('fffffffe', 'hex')])), /negative/);
    // A string length of -2 (FindCoordinator v0 key).
    expectProtocolError(() => decodeRequestFrame(Buffer.concat([header(ApiKey.FindCoordinator, 0), Buffer.from('fffe', 'hex')])), /negative/);
  });

  test('null where the version does not allow it is a ProtocolError', () => {
    // Metadata v0's topics are not nullable (v1+ are).
    expectProtocolError(() => decodeRequestFrame(Buffer.concat([header(ApiKey.Metadata, 0), Buffer.from('ffffffff', 'hex')])), /not nullable/);
    expectProtocolError(() => decodeRequestFrame(Buffer.concat([header(ApiKey.FindCoordinator, 0), Buffer.from('ffff', 'hex')])), /not nullable/);
  });

  test('varints longer than 5 bytes or over 32 bits are ProtocolErrors', () => {
    expectProtocolError(() => decodeRequestFrame(Buffer.concat([header(ApiKey.Metadata, 12), Buffer.from('ffffffffff01', 'hex')])), /varint/);
    expectProtocolError(() => decodeRequestFrame(Buffer.concat([header(ApiKey.Metadata, 12), Buffer.from('ffffffff1f', 'hex')])), /32 bits/);
  });

  test('a tagged field whose size runs past the frame is a ProtocolError', () => {
    // ApiVersions v3 header with one tagged field of 100 bytes.
    const frame = Buffer.concat([header(ApiKey.ApiVersions, 3), Buffer.from('010564', 'hex'), Buffer.alloc(10)]);
    expectProtocolError(() => decodeRequestHeader(frame), /past the end/);
  });

  test('a known tagged field whose value does not fill its declared size is a ProtocolError', () => {
    // ApiVersions v3 response: finalizedFeaturesEpoch (tag 1, int64) declared as 9 bytes.
    const body = Buffer.from('00000001' + '0000' + '01' + '00000000' + '01' + '0109' + '000000000000000500', 'hex');
    expectProtocolError(() => decodeResponse(ApiKey.ApiVersions, 3, body), /tagged field 1/);
  });

  test('unknown tagged fields are skipped, in the header and in the body', () => {
    const known = frameOf(encodeRequest(ApiKey.ApiVersions, 3, 9, 'c', { clientSoftwareName: 'n', clientSoftwareVersion: 'v' }));
    // Rebuild with tag 7 (3 bytes) in the header and tags 5 and 9 in the body.
    const frame = Buffer.concat([
      known.subarray(0, 11), // api key, version, correlation id, client id 'c'
      Buffer.from('0107' + '03aabbcc', 'hex'),
      Buffer.from('02' + utf8hex('n') + '02' + utf8hex('v'), 'hex'),
      Buffer.from('02' + '0501ff' + '090200ff', 'hex'),
    ]);
    const h = decodeRequestHeader(frame);
    expect(h).toMatchObject({ apiKey: ApiKey.ApiVersions, apiVersion: 3, correlationId: 9, clientId: 'c', bodyOffset: 17 });
    expect(decodeRequest(ApiKey.ApiVersions, 3, frame, h.bodyOffset)).toEqual({ clientSoftwareName: 'n', clientSoftwareVersion: 'v' });
  });
});

function utf8hex(s: string): string {
  return Buffer.from(s).toString('hex');
}

describe('APIs and versions', () => {
  test('an unknown API key: the header parses (v1), the body is a ProtocolError', () => {
    const frame = Buffer.from('0063000000000001ffff', 'hex'); // key 99
    const h = decodeRequestHeader(frame);
    expect(h).toEqual({ apiKey: 99, apiVersion: 0, correlationId: 1, clientId: null, bodyOffset: 10 });
    expectProtocolError(() => decodeRequest(99, 0, frame, h.bodyOffset), /unknown API key 99/);
  });

  test('ApiVersions at a version above the served range: header v2 parses, body is refused', () => {
    const frame = Buffer.from('0012000700000005ffff00', 'hex'); // v7, null client id, empty tags
    const h = decodeRequestHeader(frame);
    expect(h).toEqual({ apiKey: ApiKey.ApiVersions, apiVersion: 7, correlationId: 5, clientId: null, bodyOffset: 11 });
    expectProtocolError(() => decodeRequest(ApiKey.ApiVersions, 7, frame, h.bodyOffset), /not served/);
  });

  test('versions below the served range are refused on both sides', () => {
    expectProtocolError(() => encodeRequest(ApiKey.Produce, 2, 1, null, {}), /Produce v2 is not served \(v3-11\)/);
    expectProtocolError(() => encodeResponse(ApiKey.Fetch, 3, 1, {}), /Fetch v3 is not served/);
    expectProtocolError(() => decodeRequest(ApiKey.ListOffsets, 0, Buffer.alloc(20), 10), /not served/);
  });

  test('a header cut short is a ProtocolError', () => {
    const frame = Buffer.from('0012000300000005000563', 'hex'); // client id of 5 bytes, 1 present
    expectProtocolError(() => decodeRequestHeader(frame), /client id length 5 past the end/);
    expectProtocolError(() => decodeRequestHeader(Buffer.alloc(3)));
  });
});

describe('encoding bad values', () => {
  test('values out of range or of the wrong type are ProtocolErrors naming the message', () => {
    expectProtocolError(() => encodeResponse(ApiKey.Heartbeat, 0, 1, { errorCode: 70000 }), /Heartbeat v0 response/);
    expectProtocolError(() => encodeResponse(ApiKey.Heartbeat, 0, 1, { errorCode: '1' as unknown as number }), /Heartbeat v0 response/);
    expectProtocolError(() => encodeResponse(ApiKey.Fetch, 13, 1, { responses: [{ topicId: Buffer.alloc(3) }] }), /uuid topicId/);
    expectProtocolError(() => encodeRequest(ApiKey.JoinGroup, 0, 1, null, { groupId: null as unknown as string }), /not nullable/);
  });
});
