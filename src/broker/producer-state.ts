/**
 * Idempotent producers, as Kafka's `ProducerStateManager` keeps them per partition: for each
 * producer id its epoch and its last five batches' sequence ranges and offsets. A batch whose
 * sequences match one of those is a retry of a batch already written: it is acknowledged with
 * the original offsets and not written again. A batch that does not continue the sequence is
 * refused with OUT_OF_ORDER_SEQUENCE_NUMBER, one from an older epoch with INVALID_PRODUCER_EPOCH.
 *
 * Kafka persists this state in producer snapshots; seglog keeps it in memory and rebuilds it, on
 * a partition's first idempotent produce, from the batch headers of the partition's last few MiB
 * (`REBUILD_SCAN_BYTES`): a retry of a batch older than that is not recognised. Producer ids come
 * from the clock, so ids handed out after a restart never meet a rebuilt one.
 */
import type { Log } from '../log/log.js';
import {
  LOG_OVERHEAD,
  RECORD_BATCH_OVERHEAD,
  readBaseOffset,
  readBaseSequence,
  readBatchSize,
  readLastOffsetDelta,
  readProducerEpoch,
  readProducerId,
} from '../record/batch-layout.js';

/** Kafka's `NUM_BATCHES_TO_RETAIN`: retries of the last five batches per producer are recognised. */
const BATCHES_KEPT = 5;
/** How much of a partition's tail is read to rebuild producer state. */
export const REBUILD_SCAN_BYTES = 8 * 1024 * 1024;
const MAX_SEQUENCE = 0x7fffffff;

interface BatchSequences {
  firstSeq: number;
  lastSeq: number;
  firstOffset: number;
  lastOffset: number;
}

interface ProducerEntry {
  epoch: number;
  /** Newest last. */
  batches: BatchSequences[];
}

/** What to do with a producer's batch. */
export type SequenceCheck =
  | { kind: 'append' }
  | { kind: 'duplicate'; firstOffset: number; lastOffset: number }
  | { kind: 'error'; error: 'OUT_OF_ORDER_SEQUENCE_NUMBER' | 'INVALID_PRODUCER_EPOCH' };

/** The sequence of the last record of a batch of `count` offsets starting at `firstSeq` (sequences wrap at 2^31-1). */
export function lastSequence(firstSeq: number, lastOffsetDelta: number): number {
  const last = firstSeq + lastOffsetDelta;
  return last > MAX_SEQUENCE ? last - MAX_SEQUENCE - 1 : last;
}

function nextSequence(seq: number): number {
  return seq === MAX_SEQUENCE ? 0 : seq + 1;
}

/** The producer state of one partition. */
export class PartitionProducers {
  private readonly producers = new Map<number, ProducerEntry>();

  check(producerId: number, epoch: number, firstSeq: number, lastSeq: number): SequenceCheck {
    const entry = this.producers.get(producerId);
    // Unknown producer (new, or its batches are older than the rebuilt tail): take it as it comes.
    if (entry === undefined) return { kind: 'append' };
    if (epoch < entry.epoch) return { kind: 'error', error: 'INVALID_PRODUCER_EPOCH' };
    if (epoch > entry.epoch) return firstSeq === 0 ? { kind: 'append' } : { kind: 'error', error: 'OUT_OF_ORDER_SEQUENCE_NUMBER' };
    for (const batch of entry.batches) {
      if (batch.firstSeq === firstSeq && batch.lastSeq === lastSeq) return { kind: 'duplicate', firstOffset: batch.firstOffset, lastOffset: batch.lastOffset };
    }
    const last = entry.batches[entry.batches.length - 1];
    if (last !== undefined && firstSeq !== nextSequence(last.lastSeq)) return { kind: 'error', error: 'OUT_OF_ORDER_SEQUENCE_NUMBER' };
    return { kind: 'append' };
  }

  /** Notes a batch written at `firstOffset..lastOffset`. */
  record(producerId: number, epoch: number, firstSeq: number, lastSeq: number, firstOffset: number, lastOffset: number): void {
    let entry = this.producers.get(producerId);
    if (entry === undefined || epoch > entry.epoch) {
      entry = { epoch, batches: [] };
      this.producers.set(producerId, entry);
    }
    entry.batches.push({ firstSeq, lastSeq, firstOffset, lastOffset });
    if (entry.batches.length > BATCHES_KEPT) entry.batches.shift();
  }

  /** The state found in the headers of the last `REBUILD_SCAN_BYTES` (about) of `log`. */
  static rebuild(log: Log): PartitionProducers {
    const state = new PartitionProducers();
    const end = log.endOffset;
    let offset = scanStart(log);
    while (offset < end) {
      const chunk = log.readBatches(offset, { maxBytes: 1024 * 1024 });
      if (chunk.length === 0) break;
      offset = state.noteBatches(chunk, offset);
    }
    return state;
  }

  /** Records the producer batches in `chunk`; returns the offset after its last batch. */
  private noteBatches(chunk: Buffer, offset: number): number {
    let pos = 0;
    let next = offset;
    while (chunk.length - pos >= RECORD_BATCH_OVERHEAD) {
      const size = readBatchSize(chunk, pos);
      if (size < RECORD_BATCH_OVERHEAD || size > chunk.length - pos) break;
      const base = readBaseOffset(chunk, pos);
      const delta = readLastOffsetDelta(chunk, pos);
      const producerId = readProducerId(chunk, pos);
      const firstSeq = readBaseSequence(chunk, pos);
      if (producerId >= 0 && firstSeq >= 0) {
        this.record(producerId, readProducerEpoch(chunk, pos), firstSeq, lastSequence(firstSeq, delta), base, base + delta);
      }
      next = base + delta + 1;
      pos += Math.max(size, LOG_OVERHEAD);
    }
    return Math.max(next, offset + 1);
  }
}

/** An offset about `REBUILD_SCAN_BYTES` before the end, estimated from the segments' sizes. */
function scanStart(log: Log): number {
  const segments = log.segments();
  let bytes = 0;
  for (let i = segments.length - 1; i >= 0; i--) {
    const s = segments[i]!;
    if (bytes + s.sizeBytes >= REBUILD_SCAN_BYTES) {
      const share = (REBUILD_SCAN_BYTES - bytes) / Math.max(1, s.sizeBytes);
      const estimate = Math.floor(s.endOffset - (s.endOffset - s.baseOffset) * share);
      return Math.max(log.startOffset, Math.min(s.endOffset, estimate));
    }
    bytes += s.sizeBytes;
  }
  return log.startOffset;
}

/** Producer state of every partition the broker serves, and the producer ids it hands out. */
export class ProducerStates {
  private readonly partitions = new WeakMap<Log, PartitionProducers>();
  private lastProducerId: number;

  constructor(now = Date.now()) {
    // Ids grow with the clock (1000 per ms), so a restarted broker never reuses an id it gave out.
    this.lastProducerId = now * 1000;
  }

  /** InitProducerId: a fresh producer id, epoch 0. */
  newProducerId(): { producerId: number; producerEpoch: number } {
    this.lastProducerId = Math.max(this.lastProducerId + 1, Date.now() * 1000);
    return { producerId: this.lastProducerId, producerEpoch: 0 };
  }

  of(log: Log): PartitionProducers {
    let state = this.partitions.get(log);
    if (state === undefined) {
      state = PartitionProducers.rebuild(log);
      this.partitions.set(log, state);
    }
    return state;
  }
}
