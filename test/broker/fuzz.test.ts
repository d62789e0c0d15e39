/**
 * Request frames no client would send: random bytes behind a plausible header, and valid
 * requests of every API with bytes flipped, cut or added. The broker must stay up, must not fail
 * inside a handler (the connection is closed for a frame that does not decode, never for one that
 * does), and a client on another connection keeps producing and fetching throughout.
 * SEGLOG_FUZZ_FRAMES sets the number of frames (default 400); the run also stops after 30 s.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { ApiKey, SUPPORTED_VERSIONS, encodeRequest } from '../../src/broker/protocol/index.js';
import { encodeBatch } from '../../src/record/batch-builder.js';
import { prng } from '../support/prng.js';
import { RawClient, startBroker } from './helpers.js';

const FRAMES = Number(process.env['SEGLOG_FUZZ_FRAMES'] ?? 400);
const TIME_LIMIT_MS = 30_000;
const SEED = Number(process.env['SEGLOG_FUZZ_SEED'] ?? 20261207);

let dir: string;
let broker: Broker;
let bootstrap: string;
let lines: string[];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-broker-fuzz-'));
  ({ broker, bootstrap, lines } = await startBroker(dir, { maxRequestBytes: 256 * 1024 }));
});

afterAll(async () => {
  await broker?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function records(): Buffer {
  return Buffer.from(encodeBatch([{ key: 'k', value: 'v' }], 0, { compression: 'none', timestampType: 'CreateTime', now: 1_700_000_000_000, partitionLeaderEpoch: -1 }).buffer);
}

/** One valid request per API (held ones with short timeouts), at a given version. */
function validRequest(apiKey: number, version: number): Buffer {
  const topic = 'fuzzed';
  const bodies: Record<number, object> = {
    [ApiKey.Produce]: { transactionalId: null, acks: 1, timeoutMs: 100, topicData: [{ name: topic, partitionData: [{ index: 0, records: records() }] }] },
    [ApiKey.Fetch]: { maxWaitMs: 50, minBytes: 1, maxBytes: 65536, topics: [{ topic, topicId: Buffer.alloc(16), partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 65536 }] }] },
    [ApiKey.ListOffsets]: { replicaId: -1, topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: -2n }] }] },
    [ApiKey.Metadata]: { topics: [{ name: topic }], allowAutoTopicCreation: true },
    [ApiKey.OffsetCommit]: { groupId: 'g', generationIdOrMemberEpoch: -1, memberId: '', topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: 0n, committedMetadata: null }] }] },
    [ApiKey.OffsetFetch]: { groupId: 'g', topics: [{ name: topic, partitionIndexes: [0] }], groups: [{ groupId: 'g', topics: [{ name: topic, partitionIndexes: [0] }] }] },
    [ApiKey.FindCoordinator]: { key: 'g', keyType: 0, coordinatorKeys: ['g'] },
    [ApiKey.JoinGroup]: { groupId: 'fz', sessionTimeoutMs: 1000, rebalanceTimeoutMs: 100, memberId: '', protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from('x') }] },
    [ApiKey.Heartbeat]: { groupId: 'fz', generationId: 1, memberId: 'm' },
    [ApiKey.LeaveGroup]: { groupId: 'fz', memberId: 'm', members: [{ memberId: 'm', groupInstanceId: null }] },
    [ApiKey.SyncGroup]: { groupId: 'fz', generationId: 1, memberId: 'm', assignments: [] },
    [ApiKey.ApiVersions]: { clientSoftwareName: 'fuzz', clientSoftwareVersion: '1' },
    [ApiKey.DeleteRecords]: { topics: [{ name: topic, partitions: [{ partitionIndex: 0, offset: 0n }] }], timeoutMs: 100 },
    [ApiKey.InitProducerId]: { transactionalId: null, transactionTimeoutMs: 100 },
  };
  return Buffer.concat(encodeRequest(apiKey, version, 7, 'fuzz', bodies[apiKey] as never));
}

function makeFrame(random: () => number): Buffer {
  const int = (n: number): number => Math.floor(random() * n);
  // CreateTopics is left out: a mutated partition count could make thousands of directories.
  const keys = [...SUPPORTED_VERSIONS.keys()].filter((k) => k !== ApiKey.CreateTopics);
  const apiKey = keys[int(keys.length)]!;
  const range = SUPPORTED_VERSIONS.get(apiKey)!;
  const version = range.min + int(range.max - range.min + 1);
  if (random() < 0.3) {
    const body = Buffer.from(Array.from({ length: int(200) }, () => int(256)));
    const head = Buffer.alloc(14);
    head.writeInt16BE(random() < 0.9 ? apiKey : int(65536) - 32768, 4);
    head.writeInt16BE(version, 6);
    head.writeInt32BE(int(1 << 30), 8);
    head.writeInt16BE(-1, 12);
    const frame = Buffer.concat([head, body]);
    frame.writeInt32BE(frame.length - 4, 0);
    return frame;
  }
  const frame = validRequest(apiKey, version);
  const mutations = 1 + int(4);
  let out = frame;
  for (let m = 0; m < mutations; m++) {
    const kind = int(4);
    if (kind === 0 && out.length > 4) out[4 + int(out.length - 4)] = int(256);
    else if (kind === 1 && out.length > 12) out = out.subarray(0, 12 + int(out.length - 12));
    else if (kind === 2) out = Buffer.concat([out, Buffer.from(Array.from({ length: 1 + int(16) }, () => int(256)))]);
    else if (out.length > 14) out.writeInt16BE(int(65536) - 32768, 12 + int(out.length - 14));
  }
  // Mostly a consistent size prefix, so the body itself is what gets tested.
  if (random() < 0.9) out.writeInt32BE(out.length - 4, 0);
  return out;
}

function sendAndDrop(frame: Buffer): Promise<void> {
  const [host, port] = bootstrap.split(':');
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), host!, () => socket.write(frame));
    const done = (): void => {
      socket.destroy();
      resolve();
    };
    socket.on('data', done);
    socket.on('close', done);
    socket.on('error', done);
    setTimeout(done, 150);
  });
}

describe('fuzzed request frames', () => {
  it(`leave the broker up and a client on another connection working (${FRAMES} frames, seed ${SEED})`, async () => {
    const random = prng(SEED);
    const healthy = await RawClient.connect(bootstrap);
    const produceOk = async (i: number): Promise<void> => {
      const r = await healthy.request(ApiKey.Produce, 7, { transactionalId: null, acks: -1, timeoutMs: 1000, topicData: [{ name: 'steady', partitionData: [{ index: 0, records: records() }] }] });
      expect(r.responses[0]!.partitionResponses[0]!.errorCode, `produce after frame ${i}`).toBe(0);
    };
    await healthy.request(ApiKey.Metadata, 9, { topics: [{ name: 'steady' }, { name: 'fuzzed' }], allowAutoTopicCreation: true });
    const started = Date.now();
    let sent = 0;
    for (; sent < FRAMES && Date.now() - started < TIME_LIMIT_MS; sent++) {
      await sendAndDrop(makeFrame(random));
      if (sent % 25 === 0) await produceOk(sent);
    }
    await produceOk(sent);
    const fetched = await healthy.request(ApiKey.Fetch, 11, {
      maxWaitMs: 0,
      minBytes: 1,
      maxBytes: 1 << 20,
      topics: [{ topic: 'steady', partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] }],
    });
    expect(fetched.responses[0]!.partitions[0]!.highWatermark).toBeGreaterThan(1n);
    healthy.close();
    expect(sent).toBeGreaterThan(Math.min(FRAMES, 50));
    // A frame that decodes is answered or refused by its handler; a failure inside one is a bug.
    expect(lines.filter((l) => / failed: /.test(l))).toEqual([]);
  });
});
