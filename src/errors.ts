/**
 * Every error seglog throws on purpose is a `SeglogError` with a stable string `code`.
 *
 * Three families never share a class: caller misuse (`InvalidArgumentError`, `InvalidConfigError`,
 * `InvalidRecordError`, `RecordTooLargeError`, `OffsetOutOfRangeError`, `LogClosedError`,
 * `ReadOnlyLogError`), invalid state on disk (`CorruptRecordError`, `CorruptIndexError`,
 * `CorruptCheckpointError`), and
 * environment (`LogLockedError`, `LogIOError`). Match on `err.code`, or use `isSeglogError(err)`,
 * which works even when two copies of the package are loaded (the brand is a global symbol).
 */

const BRAND = Symbol.for('seglog.error');

/** Structured context carried by an error; every field is optional. */
export interface ErrorContext {
  /** The file concerned. */
  file?: string;
  /** The offset concerned. */
  offset?: number;
  /** A byte position inside `file`. */
  position?: number;
  /** The underlying error. */
  cause?: unknown;
}

export type SeglogErrorCode =
  | 'SEGLOG_INVALID_CONFIG'
  | 'SEGLOG_INVALID_ARGUMENT'
  | 'SEGLOG_INVALID_RECORD'
  | 'SEGLOG_RECORD_TOO_LARGE'
  | 'SEGLOG_OFFSET_OUT_OF_RANGE'
  | 'SEGLOG_CORRUPT_RECORD'
  | 'SEGLOG_CORRUPT_INDEX'
  | 'SEGLOG_LOG_LOCKED'
  | 'SEGLOG_LOG_CLOSED'
  | 'SEGLOG_READ_ONLY'
  | 'SEGLOG_IO'
  | 'SEGLOG_OFFSET_OVERFLOW'
  | 'SEGLOG_CORRUPT_CHECKPOINT'
  | 'SEGLOG_PROTOCOL'
  | SeglogWarningCode;

/**
 * Codes of the process warnings that report background failures, which have no caller to throw
 * to (see `warnBackgroundFailure`).
 */
export type SeglogWarningCode = 'SEGLOG_RETENTION' | 'SEGLOG_FLUSH' | 'SEGLOG_CLEANER';

/**
 * The one way background failures reach the user: a process warning (`process.on('warning')`;
 * printed to stderr unless Node.js runs with `--no-warnings`) whose `code` says which background
 * task failed and whose `detail` is the error's message. `SEGLOG_RETENTION`: a retention pass run
 * by the timer, or a delayed segment deletion. `SEGLOG_FLUSH`: a flush started by a roll,
 * `flushMessages` or `flushMs` (the log's next `flush()` or `flushSync()` also throws that error).
 * `SEGLOG_CLEANER`: a compaction pass started by the cleaner's timer (tried again at its next
 * check; `compact()` runs its own pass and rejects with that pass's error instead).
 */
export function warnBackgroundFailure(code: SeglogWarningCode, message: string, cause: unknown): void {
  process.emitWarning(message, { code, detail: cause instanceof Error ? cause.message : String(cause) });
}

export abstract class SeglogError extends Error {
  abstract readonly code: SeglogErrorCode;
  readonly file?: string;
  readonly offset?: number;
  readonly position?: number;

  constructor(message: string, context: ErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    if (context.file !== undefined) this.file = context.file;
    if (context.offset !== undefined) this.offset = context.offset;
    if (context.position !== undefined) this.position = context.position;
    Object.defineProperty(this, BRAND, { value: true });
  }

  override get name(): string {
    return this.constructor.name;
  }
}

/** True for any error thrown by seglog, from this copy of the package or another one. */
export function isSeglogError(err: unknown): err is SeglogError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[BRAND] === true;
}

/** An unknown config key, or a value of the wrong type or range. */
export class InvalidConfigError extends SeglogError {
  readonly code = 'SEGLOG_INVALID_CONFIG' as const;
}

/** An argument of the wrong type or range (offsets, timestamps, options). */
export class InvalidArgumentError extends SeglogError {
  readonly code = 'SEGLOG_INVALID_ARGUMENT' as const;
}

/** A record that cannot be encoded: bad key, value, header or timestamp. Kafka: INVALID_RECORD. */
export class InvalidRecordError extends SeglogError {
  readonly code = 'SEGLOG_INVALID_RECORD' as const;
}

/** A batch over `maxMessageBytes` or over `segmentBytes`. Kafka: MESSAGE_TOO_LARGE. */
export class RecordTooLargeError extends SeglogError {
  readonly code = 'SEGLOG_RECORD_TOO_LARGE' as const;
}

/** An offset below `startOffset` or above `endOffset`. Kafka: OFFSET_OUT_OF_RANGE. */
export class OffsetOutOfRangeError extends SeglogError {
  readonly code = 'SEGLOG_OFFSET_OUT_OF_RANGE' as const;
}

/** Bytes on disk that are not a valid record batch (framing, magic, CRC). Kafka: CORRUPT_MESSAGE. */
export class CorruptRecordError extends SeglogError {
  readonly code = 'SEGLOG_CORRUPT_RECORD' as const;
}

/** An index file whose contents cannot be trusted; seglog rebuilds it from the log. */
export class CorruptIndexError extends SeglogError {
  readonly code = 'SEGLOG_CORRUPT_INDEX' as const;
}

/** Another writer (this process or another) holds the partition directory's lock. */
export class LogLockedError extends SeglogError {
  readonly code = 'SEGLOG_LOG_LOCKED' as const;
}

/** A call on a log after `close()`. */
export class LogClosedError extends SeglogError {
  readonly code = 'SEGLOG_LOG_CLOSED' as const;
}

/** A write on a log opened with `readOnly: true`. */
export class ReadOnlyLogError extends SeglogError {
  readonly code = 'SEGLOG_READ_ONLY' as const;
}

/** A failed read, write or sync of a file; `cause` holds the system error. */
export class LogIOError extends SeglogError {
  readonly code = 'SEGLOG_IO' as const;
}

/** An offset that cannot be stored relative to its segment's base offset (over 2^31 - 1). */
export class OffsetOverflowError extends SeglogError {
  readonly code = 'SEGLOG_OFFSET_OVERFLOW' as const;
}

/** A seglog-owned checkpoint file (such as the consumer offsets) that cannot be parsed. */
export class CorruptCheckpointError extends SeglogError {
  readonly code = 'SEGLOG_CORRUPT_CHECKPOINT' as const;
}

/**
 * A Kafka protocol frame that cannot be decoded (truncated, a negative or oversized length, a bad
 * varint, an unknown API or version), or a message that cannot be encoded at the version asked
 * for. `position` is the byte inside the frame where decoding stopped.
 */
export class ProtocolError extends SeglogError {
  readonly code = 'SEGLOG_PROTOCOL' as const;
}
