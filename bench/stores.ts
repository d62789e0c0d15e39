/**
 * The systems under test behind one interface: seglog itself, and the raw-`fs` ceiling that
 * replays the exact bytes seglog wrote. The peers (better-sqlite3, lmdb, classic-level,
 * hypercore) implement the same `Store` interface in `peers.ts`, which only `compare.ts` loads.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Log, type LogConfig } from '../src/index.js';
import {
  MiB,
  lowerBound,
  now,
  payloadOf,
  readBatchBytes,
  record,
  secondsSince,
  segmentLogs,
  type Rec,
  type RecordMap,
} from './common.js';

export type Compression = 'none' | 'lz4';

/** One append workload: records of `valueBytes`-byte values, `batch` records per call. */
export interface AppendWorkload {
  valueBytes: number;
  batch: number;
  compression: Compression;
}

/** A built read dataset (the big log), held open by its store. */
export interface Reader {
  /** One record by offset (may return a promise). */
  get(offset: number): unknown;
  /** The earliest offset with timestamp >= `ts` (may return a promise). */
  offsetForTimestamp(ts: number): unknown;
  /** Reads every record from the start, decoding each; returns counts. Timed by the caller. */
  scan(): Promise<{ records: number; payload: number }>;
  /** Closes cleanly. */
  close(): Promise<void>;
  /** Opens again after `close()` (timed by the caller). */
  open(): Promise<void>;
}

export interface Store {
  readonly name: string;
  /** Configuration in a few words, for the results page. */
  readonly setup: string;
  /**
   * Appends `input` (one call per inner array) to a fresh store in `dir` and returns the seconds
   * of the append loop alone (opening and closing are not timed), or null when the store has no
   * such mode (e.g. no codec).
   */
  append(dir: string, workload: AppendWorkload, input: readonly Rec[][]): Promise<number | null>;
  /** Writes the read dataset into `dir` (untimed) and returns it open. */
  build(dir: string, input: () => Iterable<Rec[]>): Promise<Reader>;
  /**
   * Durable appends: `producers` concurrent loops, each appending one record (`valueBytes`) and
   * awaiting its durability, for `ms` milliseconds. Returns records per second, or null when the
   * store has no durable acknowledgement. `dir` is fresh.
   */
  durable(dir: string, producers: number, ms: number, valueBytes: number): Promise<number | null>;
  /** What "durable" means for this store (for the results page). */
  readonly durableSetup: string;
}

/** Frame used by the key-value peers for a record: timestamp(8, BE) key-length(2) key value. */
export function encodeFrame(r: Rec): Buffer {
  const out = Buffer.allocUnsafe(10 + r.key.length + r.value.length);
  out.writeDoubleBE(r.timestamp, 0);
  out.writeUInt16BE(r.key.length, 8);
  r.key.copy(out, 10);
  r.value.copy(out, 10 + r.key.length);
  return out;
}

/** The decoded record a reader hands back (what `Log.read` gives, minus headers). */
export interface DecodedRecord {
  offset: number;
  timestamp: number;
  key: Buffer;
  value: Buffer;
}

export function decodeFrame(offset: number, frame: Buffer): DecodedRecord {
  const keyLength = frame.readUInt16BE(8);
  return {
    offset,
    timestamp: frame.readDoubleBE(0),
    key: frame.subarray(10, 10 + keyLength),
    value: frame.subarray(10 + keyLength),
  };
}

// ---------------------------------------------------------------------------------------------
// seglog
// ---------------------------------------------------------------------------------------------

/** Config every seglog log of the suite uses: no retention (the data is from 2023), no timers. */
export function seglogConfig(extra: LogConfig = {}): LogConfig {
  return { retentionMs: -1, retentionCheckIntervalMs: 0, ...extra };
}

/** Scan chunk of seglog's `read` and of the raw ceiling's `fs.readSync`. */
export const SCAN_CHUNK = MiB;

export class SeglogStore implements Store {
  readonly name = 'seglog';
  readonly setup = 'Log.open defaults (no flush); retention off; big log: segmentBytes = 1/32 of it';
  readonly durableSetup = 'append() then await flush(): group commit of fdatasync on the thread pool';

  constructor(private readonly readSegmentBytes: number) {}

  async append(dir: string, w: AppendWorkload, input: readonly Rec[][]): Promise<number> {
    const log = Log.open(dir, seglogConfig());
    const options = { compression: w.compression };
    try {
      const start = now();
      if (w.batch === 1) {
        for (let i = 0; i < input.length; i++) log.append(input[i]![0]!, options);
      } else {
        for (let i = 0; i < input.length; i++) log.append(input[i]!, options);
      }
      return secondsSince(start);
    } finally {
      log.close();
    }
  }

  async build(dir: string, input: () => Iterable<Rec[]>): Promise<Reader> {
    const config = seglogConfig({ segmentBytes: this.readSegmentBytes });
    let log = Log.open(dir, config);
    for (const batch of input()) log.append(batch);
    let endOffset = log.endOffset;
    const reader: Reader & { log: Log } = {
      get log() {
        return log;
      },
      get: (offset) => log.read(offset, { maxRecords: 1 }),
      offsetForTimestamp: (ts) => log.offsetForTimestamp(ts),
      scan: async () => {
        let records = 0;
        let payload = 0;
        let next = log.startOffset;
        while (next < endOffset) {
          const got = log.read(next, { maxBytes: SCAN_CHUNK });
          for (let i = 0; i < got.length; i++) {
            const r = got[i]!;
            payload += (r.key?.length ?? 0) + (r.value?.length ?? 0);
          }
          records += got.length;
          next = got[got.length - 1]!.offset + 1;
        }
        return { records, payload };
      },
      close: async () => log.close(),
      open: async () => {
        log = Log.open(dir, config);
        endOffset = log.endOffset;
      },
    };
    return reader;
  }

  async durable(dir: string, producers: number, ms: number, valueBytes: number): Promise<number> {
    const log = Log.open(dir, seglogConfig());
    let count = 0;
    const start = now();
    const end = start + BigInt(Math.round(ms * 1e6));
    const producer = async (p: number): Promise<void> => {
      for (let i = 0; now() < end; i++) {
        log.append(record(i * producers + p, valueBytes));
        await log.flush();
        count++;
      }
    };
    await Promise.all(Array.from({ length: producers }, (_, p) => producer(p)));
    const seconds = secondsSince(start);
    log.close();
    return count / seconds;
  }
}

// ---------------------------------------------------------------------------------------------
// The raw ceiling
// ---------------------------------------------------------------------------------------------

/**
 * Appends: one `fs.writeSync` per batch of exactly the bytes seglog wrote for it (read back from
 * its segment files), at the end of one file opened for writing. Seconds of the write loop.
 */
export function rawAppend(file: string, batchBytes: readonly Buffer[]): number {
  const fd = fs.openSync(file, 'w');
  try {
    let position = 0;
    const start = now();
    for (let i = 0; i < batchBytes.length; i++) {
      const b = batchBytes[i]!;
      position += fs.writeSync(fd, b, 0, b.length, position);
    }
    return secondsSince(start);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The records themselves written with one `fs.writevSync` per batch: each record's key and value
 * buffers as they lie in memory (no framing, no CRC, ~98% of seglog's bytes for 1 KiB values).
 * What any writer handed these records pays to read them from where they are: the ceiling's
 * `rawAppend` writes contiguous batch bytes, which the CPU streams from memory, while the records
 * of these workloads are scattered 1 KiB values (a 4 MiB pool, picked at random), cold once the
 * page-cache writes in between have evicted them.
 */
export function rawWritevRecords(file: string, input: readonly (readonly Rec[])[]): number {
  const fd = fs.openSync(file, 'w');
  const iov: Uint8Array[] = [];
  try {
    let position = 0;
    const start = now();
    for (let i = 0; i < input.length; i++) {
      const batch = input[i]!;
      iov.length = 0;
      for (let j = 0; j < batch.length; j++) {
        const r = batch[j]!;
        iov.push(r.key, r.value);
      }
      position += fs.writevSync(fd, iov, position);
    }
    return secondsSince(start);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * `rawAppend` for bytes in the CPU cache: each batch is first copied into one reused buffer (not
 * timed), as seglog's encoder leaves a batch in its scratch buffer, then written; only the
 * `fs.writeSync` calls are timed. Seconds.
 */
export function rawAppendFromCache(file: string, batchBytes: readonly Buffer[]): number {
  const fd = fs.openSync(file, 'w');
  const scratch = Buffer.allocUnsafeSlow(Math.max(1, ...batchBytes.map((b) => b.length)));
  try {
    let position = 0;
    let ns = 0n;
    for (let i = 0; i < batchBytes.length; i++) {
      const b = batchBytes[i]!;
      b.copy(scratch, 0);
      const start = now();
      position += fs.writeSync(fd, scratch, 0, b.length, position);
      ns += now() - start;
    }
    return Number(ns) / 1e9;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Point reads with a perfect index in memory (`mapRecords`): one `fs.readSync` of exactly the
 * record's bytes from the segment file seglog wrote. For a time lookup, a binary search of the
 * in-memory per-record timestamps, then that one read. Nothing is decoded.
 */
export class RawPointReader {
  private readonly fds: number[];
  private readonly buffer = Buffer.allocUnsafe(64 * 1024);

  constructor(private readonly map: RecordMap) {
    this.fds = map.files.map((f) => fs.openSync(f, 'r'));
  }

  get(offset: number): number {
    const m = this.map;
    return fs.readSync(this.fds[m.file[offset]!]!, this.buffer, 0, m.length[offset]!, m.position[offset]!);
  }

  offsetForTimestamp(ts: number): number | null {
    const o = lowerBound(this.map.timestamp, this.map.count, ts);
    if (o >= this.map.count) return null;
    this.get(o);
    return o;
  }

  close(): void {
    for (const fd of this.fds) fs.closeSync(fd);
  }
}

/** Sequential scan: every segment file read with `fs.readSync` in `SCAN_CHUNK` pieces. Returns bytes read. */
export function rawScan(dir: string): number {
  const buffer = Buffer.allocUnsafe(SCAN_CHUNK);
  let total = 0;
  for (const file of segmentLogs(dir)) {
    const fd = fs.openSync(file, 'r');
    try {
      let position = 0;
      for (;;) {
        const n = fs.readSync(fd, buffer, 0, SCAN_CHUNK, position);
        if (n === 0) break;
        position += n;
        total += n;
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  return total;
}

/**
 * Opening: the least any segmented file store does: list the directory and open (and fstat) the
 * newest `.log` file for appending.
 */
export function rawOpen(dir: string): void {
  const logs = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .sort();
  const fd = fs.openSync(path.join(dir, logs[logs.length - 1]!), 'r+');
  fs.fstatSync(fd);
  fs.closeSync(fd);
}

/**
 * Durable appends: the same group commit as seglog's (a caller arriving while a sync is in flight
 * joins the next one) over raw `fs`: each producer `fs.writeSync`s the exact bytes of a one-record
 * batch that seglog wrote and awaits a shared `fs.fdatasync` of the file on the thread pool.
 */
export async function rawDurable(file: string, producers: number, ms: number, batchBytes: readonly Buffer[]): Promise<number> {
  const fd = fs.openSync(file, 'w');
  let position = 0;
  let written = 0;
  let synced = 0;
  interface Round {
    promise: Promise<void>;
    resolve: () => void;
    reject: (err: unknown) => void;
  }
  const newRound = (): Round => {
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
  let inFlight: Round | null = null;
  let next: Round | null = null;
  const start = (round: Round): Promise<void> => {
    inFlight = round;
    const upTo = written;
    fs.fdatasync(fd, (err) => {
      inFlight = null;
      if (err) round.reject(err);
      else {
        synced = Math.max(synced, upTo);
        round.resolve();
      }
      // The next round starts before any waiter of this one resumes, and covers every caller
      // that arrived meanwhile.
      const waiting = next;
      next = null;
      if (waiting !== null) {
        if (written <= synced) waiting.resolve();
        else void start(waiting);
      }
    });
    return round.promise;
  };
  const flush = (): Promise<void> => {
    if (inFlight === null) return written <= synced ? Promise.resolve() : start(newRound());
    next ??= newRound();
    return next.promise;
  };
  let count = 0;
  const begin = now();
  const end = begin + BigInt(Math.round(ms * 1e6));
  const producer = async (p: number): Promise<void> => {
    for (let i = 0; now() < end; i++) {
      const b = batchBytes[(i * producers + p) % batchBytes.length]!;
      position += fs.writeSync(fd, b, 0, b.length, position);
      written++;
      await flush();
      count++;
    }
  };
  await Promise.all(Array.from({ length: producers }, (_, p) => producer(p)));
  const seconds = secondsSince(begin);
  fs.closeSync(fd);
  return count / seconds;
}

/** One-record batches as seglog encodes them (for the raw durable ceiling). */
export function singleRecordBatches(dir: string, count: number, valueBytes: number): Buffer[] {
  const log = Log.open(dir, seglogConfig());
  for (let i = 0; i < count; i++) log.append(record(i, valueBytes));
  log.close();
  return readBatchBytes(dir).map((b) => Buffer.from(b));
}

/** Payload bytes of `input`. */
export function payloadBytes(input: readonly Rec[][], valueBytes: number): number {
  let n = 0;
  for (const b of input) n += b.length;
  return n * payloadOf(valueBytes);
}
