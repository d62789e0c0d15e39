import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Log } from '../../src/index.js';
import { crashImage } from '../system/durability/helpers.js';
import { rawBatches, type RawBatch } from '../support/raw-log.js';
import { tmpDir } from '../support/tmp.js';

/**
 * The `.index` and `.timeindex` of a segment appended to, reopened (cleanly or after a crash) and
 * appended to again must be byte for byte what a Kafka broker writes for the same batches. The
 * expected files are worked out here from Kafka's `LogSegment` rules, not from seglog's code:
 *
 * - append: an offset-index entry (last offset, position) and a time-index entry (largest
 *   timestamp so far, its offset) are added before a batch when more than `indexIntervalBytes`
 *   were appended since the last entry; `bytesSinceLastIndexEntry` lives in memory only, so
 *   every segment opened after a restart, clean or recovered, starts it at 0;
 * - recover: both indexes are rebuilt from the batches, an entry before a batch when its position
 *   is more than `indexIntervalBytes` past the last indexed one, then the closing time entry;
 * - close: the closing time-index entry (largest timestamp, its offset) when it is larger than the
 *   last one; both files trimmed to their entries.
 */

const INTERVAL = 300;

type Event = { kind: 'append'; batch: RawBatch } | { kind: 'reopen' } | { kind: 'recover'; upTo: number } | { kind: 'close' };

interface Expected {
  offsets: { offset: number; position: number }[];
  times: { timestamp: number; offset: number }[];
}

function kafkaIndexes(batches: readonly RawBatch[], events: readonly Event[]): Expected {
  const out: Expected = { offsets: [], times: [] };
  let sinceLast = 0;
  let maxTs = -1;
  let offsetOfMaxTs = -1;
  const maybeAppendTime = (timestamp: number, offset: number): void => {
    const last = out.times[out.times.length - 1]?.timestamp ?? -1;
    if (timestamp > last) out.times.push({ timestamp, offset });
  };
  for (const e of events) {
    if (e.kind === 'append') {
      if (e.batch.maxTimestamp > maxTs) [maxTs, offsetOfMaxTs] = [e.batch.maxTimestamp, e.batch.lastOffset];
      if (sinceLast > INTERVAL) {
        out.offsets.push({ offset: e.batch.lastOffset, position: e.batch.position });
        maybeAppendTime(maxTs, offsetOfMaxTs);
        sinceLast = 0;
      }
      sinceLast += e.batch.size;
    } else if (e.kind === 'reopen') {
      sinceLast = 0;
    } else if (e.kind === 'recover') {
      out.offsets.length = 0;
      out.times.length = 0;
      maxTs = -1;
      let lastIndexed = 0;
      for (const b of batches.slice(0, e.upTo)) {
        if (b.maxTimestamp > maxTs) [maxTs, offsetOfMaxTs] = [b.maxTimestamp, b.lastOffset];
        if (b.position - lastIndexed > INTERVAL) {
          out.offsets.push({ offset: b.lastOffset, position: b.position });
          maybeAppendTime(maxTs, offsetOfMaxTs);
          lastIndexed = b.position;
        }
      }
      maybeAppendTime(maxTs, offsetOfMaxTs);
      sinceLast = 0;
    } else {
      maybeAppendTime(maxTs, offsetOfMaxTs);
    }
  }
  return out;
}

function offsetIndexBytes(baseOffset: number, entries: Expected['offsets']): Buffer {
  const buf = Buffer.alloc(entries.length * 8);
  entries.forEach((e, i) => {
    buf.writeInt32BE(e.offset - baseOffset, i * 8);
    buf.writeInt32BE(e.position, i * 8 + 4);
  });
  return buf;
}

function timeIndexBytes(baseOffset: number, entries: Expected['times']): Buffer {
  const buf = Buffer.alloc(entries.length * 12);
  entries.forEach((e, i) => {
    buf.writeBigInt64BE(BigInt(e.timestamp), i * 12);
    buf.writeInt32BE(e.offset - baseOffset, i * 12 + 8);
  });
  return buf;
}

const T0 = 1_700_000_000_000;

/** Batches of 1-3 records of uneven sizes, timestamps increasing. */
function appendSome(log: Log, from: number, count: number): void {
  for (let i = from; i < from + count; i++) {
    const records = Array.from({ length: 1 + (i % 3) }, (_, j) => ({ key: `k${i}`, value: 'x'.repeat(20 + ((i * 37 + j * 11) % 90)), timestamp: T0 + i * 10 + j }));
    log.append(records);
  }
}

/** A batch larger than the index interval: the writer's count is past the interval when it stops. */
function appendLarge(log: Log, i: number): void {
  log.append({ key: `k${i}`, value: 'y'.repeat(2 * INTERVAL), timestamp: T0 + i * 10 });
}

const config = { indexIntervalBytes: INTERVAL, segmentBytes: 1024 * 1024, flushMs: null, flushMessages: null };

function expectKafkaIndexes(dir: string, firstPart: number, reopen: Event): void {
  const file = path.join(dir, '00000000000000000000.log');
  const batches = rawBatches(file);
  const events: Event[] = [
    ...batches.slice(0, firstPart).map((batch): Event => ({ kind: 'append', batch })),
    ...(reopen.kind === 'reopen' ? [{ kind: 'close' } as Event, reopen] : [reopen]),
    ...batches.slice(firstPart).map((batch): Event => ({ kind: 'append', batch })),
    { kind: 'close' },
  ];
  const expected = kafkaIndexes(batches, events);
  expect(expected.offsets.length).toBeGreaterThan(3);
  expect(fs.readFileSync(path.join(dir, '00000000000000000000.index'))).toEqual(offsetIndexBytes(0, expected.offsets));
  expect(fs.readFileSync(path.join(dir, '00000000000000000000.timeindex'))).toEqual(timeIndexBytes(0, expected.times));
}

describe("index entries across a restart follow Kafka's rule (bytesSinceLastIndexEntry starts at 0)", () => {
  it('after a clean close and reopen', () => {
    const dir = path.join(tmpDir(), 'restart-0');
    const log = Log.open(dir, config);
    appendSome(log, 0, 23);
    appendLarge(log, 23);
    log.close();
    const again = Log.open(dir, config);
    appendSome(again, 24, 20);
    again.close();
    expectKafkaIndexes(dir, 24, { kind: 'reopen' });
  });

  it('after a crash, when the segment was recovered', () => {
    const dir = path.join(tmpDir(), 'restart-0');
    const log = Log.open(dir, config);
    appendSome(log, 0, 23);
    appendLarge(log, 23);
    const copy = crashImage(dir);
    log.close();
    const again = Log.open(copy, config);
    expect(again.recovery.segmentsRecovered).toBe(1);
    appendSome(again, 24, 20);
    again.close();
    expectKafkaIndexes(copy, 24, { kind: 'recover', upTo: 24 });
  });
});
