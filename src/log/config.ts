import { InvalidConfigError, InvalidRecordError } from '../errors.js';
import type { CompressionType, TimestampType } from '../record/types.js';

/**
 * Options of `Log.open`. Keys are Kafka's topic configs in camelCase with Kafka's defaults
 * (`segment.bytes` -> `segmentBytes`); the extra keys are seglog's own.
 */
export interface LogConfig {
  /** Roll when the next batch would take the active `.log` past this many bytes. Default 1 GiB. */
  segmentBytes?: number;
  /** Roll when the active segment's first timestamp is this many ms behind the incoming batch. Default 7 days. */
  segmentMs?: number;
  /** Up to this many ms are taken off `segmentMs` per segment, at random, so partitions do not roll together. Default 0. */
  segmentJitterMs?: number;
  /** Maximum size in bytes of each `.index` and `.timeindex` file. Default 10 MiB. */
  segmentIndexBytes?: number;
  /** Bytes of batches between two offset-index entries. Default 4096. */
  indexIntervalBytes?: number;
  /** Delete segments whose newest record is older than this (ms); -1 keeps them forever. Default 7 days. */
  retentionMs?: number;
  /** Delete the oldest segments while the log is over this many bytes; -1 means no limit. Default -1. */
  retentionBytes?: number;
  /** Flush in the background once this many records are unflushed. Default: never (the OS decides). */
  flushMessages?: number | null;
  /** Flush in the background every this many ms (a no-op round when nothing is unflushed). Default: never. */
  flushMs?: number | null;
  /** Largest batch accepted by `append`, in bytes, including the 12-byte log overhead. Default 1048588. */
  maxMessageBytes?: number;
  /**
   * Largest records section a compressed batch may inflate to when it is read, in bytes. A batch
   * that inflates past it is a `CorruptRecordError`, found while inflating, so a decompression
   * bomb costs at most this much memory. Default `16 * maxMessageBytes` (16 MiB with Kafka's
   * default), at most 2^31 - 1.
   */
  maxDecompressedBytes?: number;
  /** Wall-clock ms between renaming a deleted segment to `.deleted` and removing its files. Default 60000. */
  fileDeleteDelayMs?: number;
  /** Codec of appended batches. Default `'none'`. */
  compression?: CompressionType;
  /** `'CreateTime'` keeps the producer's timestamps; `'LogAppendTime'` stamps each batch with `clock()`. */
  timestampType?: TimestampType;
  /** Open without the writer lock; never write; see what a live writer has appended. Default false. */
  readOnly?: boolean;
  /** Replaces `Date.now` for record timestamps, time-based roll and retention (for tests). */
  clock?: () => number;
  /** How often the background retention pass runs, in ms; 0 turns the timer off. Default 300000. */
  retentionCheckIntervalMs?: number;
  /**
   * Reserve disk blocks a few MiB ahead of the active segment's end (Linux fallocate with
   * KEEP_SIZE), which makes appends cheaper on ext4. Unlike Kafka's `preallocate` the file's
   * length stays that of its data, so nothing a reader sees changes; the blocks are given back
   * when the segment rolls or the log closes. Default true (Kafka: false).
   */
  preallocate?: boolean;
  /**
   * Kafka's `cleanup.policy`: `'delete'` (time and size retention), `'compact'` (keep the latest
   * record of every key; retention then deletes nothing) or `'compact,delete'` (both). Default
   * `'delete'`. A compacted log refuses records without a key. See docs/COMPACTION.md.
   */
  cleanupPolicy?: CleanupPolicy;
  /** The background cleaner runs once dirty bytes / cleanable bytes is above this (0 to 1). Default 0.5. */
  minCleanableDirtyRatio?: number;
  /** A record stays uncompacted for at least this many ms after its segment's newest timestamp. Default 0. */
  minCompactionLagMs?: number;
  /** A dirty segment older than this many ms is compacted whatever the dirty ratio. Default: no limit. */
  maxCompactionLagMs?: number;
  /** How long a tombstone (a record with a null value) outlives the pass that first cleaned it, in ms. Default 1 day. */
  deleteRetentionMs?: number;
  /** Memory bound of the cleaner's key map in bytes (Kafka's `log.cleaner.dedupe.buffer.size`). Default 128 MiB. */
  cleanerDedupeBufferSize?: number;
  /** How often the background cleaner checks whether to run, in ms; 0 turns it off. Default 15000. */
  cleanerBackoffMs?: number;
  /**
   * Inactive segments whose files (a `.log` descriptor; for a writer also two index files and
   * their mappings) stay open at once; the least recently used are closed first and reopened on
   * demand, so a log of any number of segments works under a low `ulimit -n`. Default null: one
   * bound of 64 shared by every log of the process (a topic's partitions share it too).
   */
  maxOpenSegments?: number | null;
}

/** Kafka's `cleanup.policy` values. */
export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete';

/** `LogConfig` with every default applied. */
export interface ResolvedLogConfig {
  segmentBytes: number;
  segmentMs: number;
  segmentJitterMs: number;
  segmentIndexBytes: number;
  indexIntervalBytes: number;
  retentionMs: number;
  retentionBytes: number;
  flushMessages: number | null;
  flushMs: number | null;
  maxMessageBytes: number;
  maxDecompressedBytes: number;
  fileDeleteDelayMs: number;
  compression: CompressionType;
  timestampType: TimestampType;
  readOnly: boolean;
  clock: () => number;
  retentionCheckIntervalMs: number;
  preallocate: boolean;
  cleanupPolicy: CleanupPolicy;
  minCleanableDirtyRatio: number;
  minCompactionLagMs: number;
  maxCompactionLagMs: number;
  deleteRetentionMs: number;
  cleanerDedupeBufferSize: number;
  cleanerBackoffMs: number;
  maxOpenSegments: number | null;
}

const INT32_MAX = 2 ** 31 - 1;
const DAY_MS = 24 * 60 * 60 * 1000;
/**
 * Compressed batches of real data inflate several times over (JSON often 5-10x), so the default
 * cap leaves room for that, and still keeps a bomb's cost per read in the tens of MiB.
 */
const DECOMPRESSION_RATIO = 16;

/** The default `maxDecompressedBytes` for a `maxMessageBytes`. */
export function decompressedBytesFor(maxMessageBytes: number): number {
  return Math.min(INT32_MAX, DECOMPRESSION_RATIO * maxMessageBytes);
}

export const DEFAULT_CONFIG: Readonly<ResolvedLogConfig> = Object.freeze({
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * DAY_MS,
  segmentJitterMs: 0,
  segmentIndexBytes: 10 * 1024 * 1024,
  indexIntervalBytes: 4096,
  retentionMs: 7 * DAY_MS,
  retentionBytes: -1,
  flushMessages: null,
  flushMs: null,
  maxMessageBytes: 1048588,
  maxDecompressedBytes: decompressedBytesFor(1048588),
  fileDeleteDelayMs: 60000,
  compression: 'none',
  timestampType: 'CreateTime',
  readOnly: false,
  clock: Date.now,
  retentionCheckIntervalMs: 300000,
  preallocate: true,
  cleanupPolicy: 'delete',
  minCleanableDirtyRatio: 0.5,
  minCompactionLagMs: 0,
  maxCompactionLagMs: Number.MAX_SAFE_INTEGER,
  deleteRetentionMs: DAY_MS,
  cleanerDedupeBufferSize: 128 * 1024 * 1024,
  cleanerBackoffMs: 15000,
  maxOpenSegments: null,
});

/** True when the policy compacts (`'compact'` or `'compact,delete'`). */
export function isCompacted(config: { cleanupPolicy?: CleanupPolicy | undefined }): boolean {
  return config.cleanupPolicy !== undefined && config.cleanupPolicy !== 'delete';
}

/**
 * Kafka's LogValidator for compacted topics: every record needs a key, or the whole batch is
 * refused (`InvalidRecordError`, nothing written).
 */
export function requireKeys(list: readonly { key?: unknown }[]): void {
  for (let i = 0; i < list.length; i++) {
    const key = list[i]?.key;
    if (key === null || key === undefined) {
      throw new InvalidRecordError(`a compacted log cannot accept a record without a key (record ${i} of ${list.length}); nothing was written`);
    }
  }
}

/** True when time and size retention apply (`'delete'` or `'compact,delete'`). */
export function deletesByRetention(config: { cleanupPolicy: CleanupPolicy }): boolean {
  return config.cleanupPolicy !== 'compact';
}

type Check = (key: string, value: unknown) => void;

function integer(min: number, max: number): Check {
  return (key, value) => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new InvalidConfigError(`config ${key} must be an integer in [${min}, ${max}], got ${describe(value)}`);
    }
  };
}

function ratio(): Check {
  return (key, value) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
      throw new InvalidConfigError(`config ${key} must be a number in [0, 1], got ${describe(value)}`);
    }
  };
}

function nullable(check: Check): Check {
  return (key, value) => {
    if (value !== null) check(key, value);
  };
}

function oneOf(...allowed: string[]): Check {
  return (key, value) => {
    if (typeof value !== 'string' || !allowed.includes(value)) {
      throw new InvalidConfigError(`config ${key} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describe(value)}`);
    }
  };
}

function ofType(type: 'boolean' | 'function'): Check {
  return (key, value) => {
    if (typeof value !== type) throw new InvalidConfigError(`config ${key} must be a ${type}, got ${describe(value)}`);
  };
}

// Ranges follow Kafka's LogConfig where it has one; segment.bytes may not be smaller than one
// empty batch, and the index needs room for at least one time-index entry.
const CHECKS: Record<keyof ResolvedLogConfig, Check> = {
  segmentBytes: integer(61, INT32_MAX),
  segmentMs: integer(1, Number.MAX_SAFE_INTEGER),
  segmentJitterMs: integer(0, Number.MAX_SAFE_INTEGER),
  segmentIndexBytes: integer(12, INT32_MAX),
  indexIntervalBytes: integer(0, INT32_MAX),
  retentionMs: integer(-1, Number.MAX_SAFE_INTEGER),
  retentionBytes: integer(-1, Number.MAX_SAFE_INTEGER),
  flushMessages: nullable(integer(1, Number.MAX_SAFE_INTEGER)),
  flushMs: nullable(integer(0, Number.MAX_SAFE_INTEGER)),
  maxMessageBytes: integer(61, INT32_MAX),
  maxDecompressedBytes: integer(1, INT32_MAX),
  fileDeleteDelayMs: integer(0, Number.MAX_SAFE_INTEGER),
  compression: oneOf('none', 'gzip', 'snappy', 'lz4', 'zstd'),
  timestampType: oneOf('CreateTime', 'LogAppendTime'),
  readOnly: ofType('boolean'),
  clock: ofType('function'),
  retentionCheckIntervalMs: integer(0, INT32_MAX),
  preallocate: ofType('boolean'),
  cleanupPolicy: oneOf('delete', 'compact', 'compact,delete'),
  minCleanableDirtyRatio: ratio(),
  minCompactionLagMs: integer(0, Number.MAX_SAFE_INTEGER),
  maxCompactionLagMs: integer(1, Number.MAX_SAFE_INTEGER),
  deleteRetentionMs: integer(0, Number.MAX_SAFE_INTEGER),
  // Room for at least a few thousand keys (24 bytes each): below that a pass makes little progress.
  cleanerDedupeBufferSize: integer(64 * 1024, INT32_MAX),
  cleanerBackoffMs: integer(0, INT32_MAX),
  maxOpenSegments: nullable(integer(1, INT32_MAX)),
};

/** Applies defaults and validates every key; throws `InvalidConfigError` naming the key. */
export function resolveConfig(config: LogConfig | undefined): ResolvedLogConfig {
  if (config === undefined) return { ...DEFAULT_CONFIG };
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new InvalidConfigError(`config must be an object, got ${describe(config)}`);
  }
  const resolved: Record<string, unknown> = { ...DEFAULT_CONFIG };
  // Own keys only, looked up as own properties of CHECKS: `__proto__` (from JSON.parse),
  // `constructor` or `hasOwnProperty` must not find Object.prototype's members.
  for (const [key, value] of Object.entries(config)) {
    if (!Object.hasOwn(CHECKS, key)) throw new InvalidConfigError(unknownKeyMessage(key));
    if (value === undefined) continue;
    CHECKS[key as keyof ResolvedLogConfig](key, value);
    resolved[key] = value;
  }
  if (!Object.hasOwn(config, 'maxDecompressedBytes') || config.maxDecompressedBytes === undefined) {
    resolved.maxDecompressedBytes = decompressedBytesFor(resolved.maxMessageBytes as number);
  }
  const result = resolved as unknown as ResolvedLogConfig;
  // Kafka's LogConfig.validate: the minimum lag may not exceed the maximum.
  if (result.minCompactionLagMs > result.maxCompactionLagMs) {
    throw new InvalidConfigError(
      `config minCompactionLagMs (${result.minCompactionLagMs}) may not be greater than maxCompactionLagMs (${result.maxCompactionLagMs})`,
    );
  }
  return result;
}

function unknownKeyMessage(key: string): string {
  const folded = key.toLowerCase().replace(/[._-]/g, '');
  const near = Object.keys(CHECKS).find((k) => k.toLowerCase() === folded);
  return near === undefined
    ? `unknown config key '${key}'`
    : `unknown config key '${key}'; did you mean '${near}'?`;
}

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (value !== null && typeof value === 'object') return 'an object';
  return String(value);
}
