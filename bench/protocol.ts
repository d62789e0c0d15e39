/**
 * The protocol codec's cost on the two hot paths, next to one copy of the same bytes measured in
 * the same run: decoding a Produce request (one partition, one batch of 100 x 1 KiB records) and
 * encoding a Fetch response of 1 MiB of stored batches (sent as slices). Run:
 * `npm run bench:protocol` (SEGLOG_BENCH_RUNS sets the runs per figure; the median is shown).
 */
import { encodeBatch } from '../src/record/batch-builder.js';
import { machineLine } from './common.js';
import {
  ApiKey,
  decodeRequest,
  decodeRequestHeader,
  decodeResponse,
  encodeRequest,
  encodeResponse,
} from '../src/broker/protocol/index.js';

const RUNS = Number(process.env.SEGLOG_BENCH_RUNS ?? 7);
const KiB = 1024;

function batchOf(records: number, valueBytes: number, baseOffset: number): Buffer {
  const value = Buffer.alloc(valueBytes, 0x61);
  const input = Array.from({ length: records }, (_, i) => ({ key: `sensor-${i % 16}`, value }));
  return Buffer.from(encodeBatch(input, baseOffset, { compression: 'none', timestampType: 'CreateTime', now: 1_700_000_000_000 }).buffer);
}

function callsFor(fn: () => unknown): number {
  let calls = 1;
  for (;;) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) fn();
    if (Number(process.hrtime.bigint() - t) > 20e6) return calls;
    calls *= 2;
  }
}

function timeOnce(fn: () => unknown, calls: number): number {
  const t = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) fn();
  return Number(process.hrtime.bigint() - t) / calls;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * ns per call of `fn` and of the copy it is compared with, timed in alternating runs (the
 * machine is shared and noisy), and the median of the per-run ratios.
 */
function paired(copy: () => unknown, fn: () => unknown): { copy: number; fn: number; ratio: number } {
  const copyCalls = callsFor(copy);
  const fnCalls = callsFor(fn);
  const copies: number[] = [];
  const fns: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const c = timeOnce(copy, copyCalls);
    const f = timeOnce(fn, fnCalls);
    copies.push(c);
    fns.push(f);
    ratios.push(f / c);
  }
  return { copy: median(copies), fn: median(fns), ratio: median(ratios) };
}

function row(name: string, bytes: number, ns: number, ratio?: number): string {
  const gbs = bytes / ns; // bytes per ns = GB/s
  const vs = ratio === undefined ? '' : `${ratio.toFixed(3)}x the copy`;
  return `${name.padEnd(46)} ${(ns / 1000).toFixed(2).padStart(9)} us  ${gbs.toFixed(2).padStart(7)} GB/s  ${vs}`;
}

// Produce: one partition, one batch of 100 records of 1 KiB.
const produceBatch = batchOf(100, KiB, 0);
const produceBody = { transactionalId: null, acks: -1, timeoutMs: 30_000, topicData: [{ name: 'sensors', partitionData: [{ index: 0, records: produceBatch }] }] };
const versions = [
  { produce: 7, fetch: 11 }, // what kafkajs and librdkafka 2.0 ask for
  { produce: 11, fetch: 17 }, // the newest, flexible
];

console.log(`protocol bench: ${machineLine()}; ${RUNS} runs per figure (median)`);
const lines: string[] = [];
for (const v of versions) {
  const produceFrame = Buffer.concat(encodeRequest(ApiKey.Produce, v.produce, 1, 'bench', produceBody)).subarray(4);
  const copyProduce = () => Buffer.from(produceBatch);
  const decodeProduce = paired(copyProduce, () => {
    const h = decodeRequestHeader(produceFrame);
    return decodeRequest(ApiKey.Produce, v.produce, produceFrame, h.bodyOffset);
  });
  const encodeProduce = paired(copyProduce, () => encodeRequest(ApiKey.Produce, v.produce, 1, 'bench', produceBody));
  lines.push(row(`copy of the batch (${produceBatch.length} B)`, produceBatch.length, decodeProduce.copy));
  lines.push(row(`Produce v${v.produce} request decode`, produceFrame.length, decodeProduce.fn, decodeProduce.ratio));
  lines.push(row(`Produce v${v.produce} request encode (client side)`, produceFrame.length, encodeProduce.fn, encodeProduce.ratio));

  // Fetch: 1 MiB of stored batches for one partition, sent as they are (ten ~100 KiB slices).
  const stored: Buffer[] = [];
  let bytes = 0;
  for (let offset = 0; bytes < 1024 * KiB; offset += 100) {
    const b = batchOf(100, KiB, offset);
    stored.push(b);
    bytes += b.length;
  }
  const topic = v.fetch >= 13 ? { topicId: Buffer.alloc(16, 7) } : { topic: 'sensors' };
  const fetchBody = {
    throttleTimeMs: 0,
    errorCode: 0,
    sessionId: 0,
    responses: [
      { ...topic, partitions: [{ partitionIndex: 0, errorCode: 0, highWatermark: 5000n, lastStableOffset: 5000n, logStartOffset: 0n, abortedTransactions: null, records: stored }] },
    ],
  };
  const copyFetch = () => Buffer.concat(stored, bytes);
  const encodeFetch = paired(copyFetch, () => encodeResponse(ApiKey.Fetch, v.fetch, 1, fetchBody));
  const fetchFrame = Buffer.concat(encodeResponse(ApiKey.Fetch, v.fetch, 1, fetchBody)).subarray(4);
  const decodeFetch = paired(copyFetch, () => decodeResponse(ApiKey.Fetch, v.fetch, fetchFrame));
  lines.push(row(`copy of the batches (${bytes} B, ${stored.length} slices)`, bytes, encodeFetch.copy));
  lines.push(row(`Fetch v${v.fetch} response encode (slices)`, fetchFrame.length, encodeFetch.fn, encodeFetch.ratio));
  lines.push(row(`Fetch v${v.fetch} response decode (client side)`, fetchFrame.length, decodeFetch.fn, decodeFetch.ratio));
}
for (const line of lines) console.log(line);
console.log('GB/s counts the frame bytes; "x the copy": median over alternating runs of (time / time of one copy of the same records).');
