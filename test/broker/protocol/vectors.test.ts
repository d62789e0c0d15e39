import { describe, expect, test } from 'vitest';
import {
  ApiKey,
  decodeRequest,
  decodeRequestHeader,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  encodeUnsupportedApiVersions,
} from '../../../src/broker/protocol/index.js';

// Byte-exact frames worked out by hand from Kafka's message schemas (3.9): each part is one
// field, in schema order, with the size prefix first. Both directions are checked: our encoder
// writes exactly these bytes, and our decoder reads them back into the object.

/** Joins annotated hex parts (spaces ignored) into bytes. */
const hex = (...parts: string[]) => Buffer.from(parts.join('').replace(/\s+/g, ''), 'hex');
/** A frame: the int32 size of the payload, then the payload's parts. */
const frame = (...parts: string[]) => {
  const payload = hex(...parts);
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length);
  return Buffer.concat([size, payload]);
};
const utf8 = (s: string) => Buffer.from(s).toString('hex');
const uuid = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
const batch = Buffer.from('cafebabe0102', 'hex');

function expectRequest(apiKey: number, version: number, body: object, clientId: string | null, bytes: Buffer, decoded = body) {
  expect(Buffer.concat(encodeRequest(apiKey, version, 1, clientId, body)).toString('hex')).toBe(bytes.toString('hex'));
  const payload = bytes.subarray(4);
  const header = decodeRequestHeader(payload);
  expect(header).toEqual({ apiKey, apiVersion: version, correlationId: 1, clientId, bodyOffset: header.bodyOffset });
  expect(decodeRequest(apiKey, version, payload, header.bodyOffset)).toEqual(decoded);
}

function expectResponse(apiKey: number, version: number, body: object, bytes: Buffer, decoded = body) {
  expect(Buffer.concat(encodeResponse(apiKey, version, 1, body)).toString('hex')).toBe(bytes.toString('hex'));
  expect(decodeResponse(apiKey, version, bytes.subarray(4))).toEqual({ correlationId: 1, body: decoded });
}

describe('ApiVersions', () => {
  test('v0 request: header v1, empty body', () => {
    expectRequest(ApiKey.ApiVersions, 0, {}, 'c', frame('0012 0000 00000001', '0001' + utf8('c')));
  });

  test('v3 request: header v2 (client id stays a classic string), compact strings, tagged sections', () => {
    const body = { clientSoftwareName: 'kjs', clientSoftwareVersion: '2.2' };
    expectRequest(
      ApiKey.ApiVersions,
      3,
      body,
      'c',
      frame('0012 0003 00000001', '0001' + utf8('c'), '00', '04' + utf8('kjs'), '04' + utf8('2.2'), '00'),
    );
  });

  test('v0 response: error code and the api key ranges', () => {
    const body = { errorCode: 0, apiKeys: [{ apiKey: 0, minVersion: 3, maxVersion: 11 }] };
    expectResponse(ApiKey.ApiVersions, 0, body, frame('00000001', '0000', '00000001', '0000 0003 000b'));
  });

  test('an unsupported version gets the v0 body with UNSUPPORTED_VERSION and ApiVersions own range', () => {
    expect(Buffer.concat(encodeUnsupportedApiVersions(1)).toString('hex')).toBe(
      frame('00000001', '0023', '00000001', '0012 0000 0004').toString('hex'),
    );
  });

  test('v3 response: header v0 even though the body is flexible; tagged fields in tag order', () => {
    const body = {
      errorCode: 0,
      apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 4 }],
      throttleTimeMs: 0,
      zkMigrationReady: true,
      finalizedFeaturesEpoch: 5n,
    };
    expectResponse(
      ApiKey.ApiVersions,
      3,
      body,
      frame(
        '00000001', // correlation id, and no header tagged fields
        '0000',
        '02', '0012 0000 0004 00', // one api key (compact), its tagged section
        '00000000', // throttle
        '02', // two tagged fields
        '01 08 0000000000000005', // tag 1 finalizedFeaturesEpoch, 8 bytes
        '03 01 01', // tag 3 zkMigrationReady, 1 byte
      ),
      { ...body, supportedFeatures: [], finalizedFeatures: [] },
    );
  });
});

describe('Metadata', () => {
  test('v0 request: a non-nullable array of topic names', () => {
    expectRequest(ApiKey.Metadata, 0, { topics: [{ name: 'a' }] }, 'c', frame('0003 0000 00000001', '0001' + utf8('c'), '00000001', '0001' + utf8('a')));
  });

  test('v12 request: topic ids, nullable compact names, null topic list', () => {
    const body = {
      topics: [
        { topicId: uuid, name: 'a' },
        { topicId: Buffer.alloc(16), name: null },
      ],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: true,
    };
    expectRequest(
      ApiKey.Metadata,
      12,
      body,
      'c',
      frame(
        '0003 000c 00000001', '0001' + utf8('c'), '00',
        '03', // two topics
        uuid.toString('hex'), '02' + utf8('a'), '00',
        '00000000000000000000000000000000', '00', '00', // null name
        '00', // allowAutoTopicCreation
        '01', // includeTopicAuthorizedOperations
        '00',
      ),
    );
    expectRequest(
      ApiKey.Metadata,
      12,
      { topics: null, allowAutoTopicCreation: true, includeTopicAuthorizedOperations: false },
      null,
      frame('0003 000c 00000001', 'ffff', '00', '00', '01', '00', '00'),
    );
  });
});

describe('Produce', () => {
  test('v3 request: records as int32-length bytes, decoded as a view into the frame', () => {
    const body = { transactionalId: null, acks: -1, timeoutMs: 30000, topicData: [{ name: 't', partitionData: [{ index: 2, records: batch }] }] };
    const bytes = frame(
      '0000 0003 00000001', '0001' + utf8('c'),
      'ffff', // transactional id null
      'ffff', '00007530',
      '00000001', '0001' + utf8('t'),
      '00000001', '00000002', '00000006', batch.toString('hex'),
    );
    expectRequest(ApiKey.Produce, 3, body, 'c', bytes);
    const payload = bytes.subarray(4);
    const decoded = decodeRequest(ApiKey.Produce, 3, payload, decodeRequestHeader(payload).bodyOffset);
    const records = decoded.topicData[0]!.partitionData[0]!.records!;
    expect(records.buffer).toBe(payload.buffer); // not copied
    expect(records.byteOffset).toBe(payload.byteOffset + payload.length - 6);
  });

  test('v9 request: compact everything, header v2', () => {
    const body = { transactionalId: 'tx', acks: 1, timeoutMs: 1000, topicData: [{ name: 't', partitionData: [{ index: 0, records: batch }] }] };
    expectRequest(
      ApiKey.Produce,
      9,
      body,
      'c',
      frame(
        '0000 0009 00000001', '0001' + utf8('c'), '00',
        '03' + utf8('tx'),
        '0001', '000003e8',
        '02', '02' + utf8('t'),
        '02', '00000000', '07', batch.toString('hex'), '00', // partition, compact records, tags
        '00', // topic tags
        '00', // body tags
      ),
    );
  });
});

describe('Fetch', () => {
  test('v4 response: last stable offset, aborted transactions, records', () => {
    const body = {
      throttleTimeMs: 0,
      responses: [
        {
          topic: 't',
          partitions: [
            { partitionIndex: 0, errorCode: 0, highWatermark: 10n, lastStableOffset: 10n, abortedTransactions: null, records: batch },
          ],
        },
      ],
    };
    expectResponse(
      ApiKey.Fetch,
      4,
      body,
      frame(
        '00000001',
        '00000000',
        '00000001', '0001' + utf8('t'),
        '00000001', '00000000', '0000', '000000000000000a', '000000000000000a',
        'ffffffff', // aborted transactions null
        '00000006', batch.toString('hex'),
      ),
    );
  });

  test('v13 response: header v1, topic ids, a tagged current leader, records as slices', () => {
    const body = {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: [
        {
          topicId: uuid,
          partitions: [
            {
              partitionIndex: 1,
              errorCode: 1,
              highWatermark: 5n,
              lastStableOffset: 5n,
              logStartOffset: 0n,
              currentLeader: { leaderId: 0, leaderEpoch: 3 },
              abortedTransactions: [],
              preferredReadReplica: -1,
              records: [batch.subarray(0, 2), batch.subarray(2)],
            },
          ],
        },
      ],
    };
    const bytes = frame(
      '00000001', '00', // correlation id, header tagged fields
      '00000000', '0000', '00000000',
      '02', uuid.toString('hex'),
      '02', '00000001', '0001', '0000000000000005', '0000000000000005', '0000000000000000',
      '01', // empty aborted transactions (compact, not null)
      'ffffffff',
      '07', batch.toString('hex'),
      '01', '01 09 00000000 00000003 00', // tag 1 currentLeader: its two int32s and its own empty tag section
      '00', // topic tags
      '00', // body tags
    );
    const chunks = encodeResponse(ApiKey.Fetch, 13, 1, body);
    expect(chunks).toContain(body.responses[0]!.partitions[0]!.records[1]); // the slice itself, not a copy
    expect(Buffer.concat(chunks).toString('hex')).toBe(bytes.toString('hex'));
    const decoded = decodeResponse(ApiKey.Fetch, 13, bytes.subarray(4));
    const p = decoded.body.responses[0]!.partitions[0]!;
    expect(p.records).toEqual(batch);
    expect(p.currentLeader).toEqual({ leaderId: 0, leaderEpoch: 3 });
    expect(p.divergingEpoch).toEqual({ epoch: -1, endOffset: -1n });
  });
});

describe('JoinGroup', () => {
  test('v0 request', () => {
    const body = { groupId: 'g', sessionTimeoutMs: 10000, memberId: '', protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from([1, 2]) }] };
    expectRequest(
      ApiKey.JoinGroup,
      0,
      body,
      'c',
      frame(
        '000b 0000 00000001', '0001' + utf8('c'),
        '0001' + utf8('g'), '00002710', '0000', '0008' + utf8('consumer'),
        '00000001', '0005' + utf8('range'), '00000002 0102',
      ),
    );
  });

  test('v6 request: compact strings and bytes, nullable group instance id', () => {
    const body = {
      groupId: 'g',
      sessionTimeoutMs: 10000,
      rebalanceTimeoutMs: 60000,
      memberId: 'm',
      groupInstanceId: null,
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: Buffer.from([1, 2]) }],
    };
    expectRequest(
      ApiKey.JoinGroup,
      6,
      body,
      'c',
      frame(
        '000b 0006 00000001', '0001' + utf8('c'), '00',
        '02' + utf8('g'), '00002710', '0000ea60', '02' + utf8('m'), '00', '09' + utf8('consumer'),
        '02', '06' + utf8('range'), '03 0102', '00',
        '00',
      ),
    );
  });
});
