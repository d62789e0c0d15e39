import { InvalidArgumentError } from '../errors.js';
import type { LogRecord } from '../record/types.js';
import { requireOffset, requireOptions, requireTimestamp } from './arguments.js';
import type { Log } from './log.js';

export interface StreamOptions {
  /** Where to start: an offset, or `{ timestamp }` (the first record at or after it). Default: `startOffset`. */
  from?: number | { timestamp: number };
  /** Keep waiting for new appends after the last record. Default false. */
  follow?: boolean;
  /** Ends the stream when aborted. */
  signal?: AbortSignal;
  /** Bytes of batches read per step; memory stays bounded by it. Default 1 MiB. */
  maxBytes?: number;
}

const STREAM_KEYS = ['from', 'follow', 'signal', 'maxBytes'] as const;

/**
 * Pulls records batch by batch: nothing is read ahead of the consumer, so a slow consumer
 * never makes memory grow. Records below `startOffset` that retention removed are skipped.
 */
export async function* followLog(log: Log, options?: StreamOptions): AsyncIterableIterator<LogRecord> {
  const opts = requireOptions<StreamOptions>('stream options', options, STREAM_KEYS);
  const maxBytes = opts.maxBytes ?? 1024 * 1024;
  let next = startOf(log, opts.from);
  const signal = opts.signal;
  while (!log.isClosed && signal?.aborted !== true) {
    if (next < log.startOffset) next = log.startOffset;
    if (next > log.endOffset) next = log.endOffset;
    const records = next < log.endOffset ? log.read(next, { maxBytes }) : [];
    if (records.length > 0) {
      for (const record of records) yield record;
      next = records[records.length - 1]!.offset + 1;
      continue;
    }
    const skipped = next < log.endOffset ? nextAfterEmptyRead(log, next) : next;
    if (skipped !== next) {
      next = skipped;
      continue;
    }
    if (opts.follow !== true) return;
    await log.waitForAppend(signal);
  }
}

function startOf(log: Log, from: StreamOptions['from']): number {
  if (from === undefined) return log.startOffset;
  if (typeof from === 'number') return requireOffset('from', from);
  if (typeof from === 'object' && from !== null && 'timestamp' in from) {
    const found = log.offsetForTimestamp(requireTimestamp('from.timestamp', from.timestamp));
    return found ?? log.endOffset;
  }
  throw new InvalidArgumentError('from must be an offset or { timestamp }');
}

/** When a read returns no records (only control batches), move past the batches it covered. */
function nextAfterEmptyRead(log: Log, offset: number): number {
  const bytes = log.readBatches(offset, { maxBytes: 1 });
  if (bytes.length < 61) return offset;
  const lastOffsetDelta = bytes.readInt32BE(23);
  const base = Number(bytes.readBigInt64BE(0));
  return base + lastOffsetDelta + 1;
}
