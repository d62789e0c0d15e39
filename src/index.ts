/**
 * seglog: an embedded, segmented commit log with Apache Kafka's on-disk format.
 *
 * ```ts
 * import { Log } from 'seglog';
 * const log = Log.open('data/sensor-data-0', { segmentBytes: 64 * 1024 * 1024 });
 * const { baseOffset } = log.append({ key: 'sensor-A1', value: '{"t":21.5}' });
 * const records = log.read(baseOffset, { maxRecords: 10 });
 * log.close();
 * ```
 */
export { Log, CLEAN_SHUTDOWN_FILE } from './log/log.js';
export type { AppendOptions, AppendResult, ReadOptions, SegmentInfo } from './log/log.js';
export type { StreamOptions } from './log/stream.js';
export type { LogConfig, ResolvedLogConfig } from './log/config.js';
export { DEFAULT_CONFIG } from './log/config.js';
export type { RecoveryReport, RecoveryAction } from './log/log-loader.js';
export type {
  BytesInput,
  CompressionType,
  Header,
  HeaderInput,
  LogRecord,
  RecordInput,
  TimestampType,
} from './record/types.js';
export {
  SeglogError,
  isSeglogError,
  InvalidConfigError,
  InvalidArgumentError,
  InvalidRecordError,
  RecordTooLargeError,
  OffsetOutOfRangeError,
  CorruptRecordError,
  CorruptIndexError,
  LogLockedError,
  LogClosedError,
  ReadOnlyLogError,
  LogIOError,
  OffsetOverflowError,
} from './errors.js';
export type { SeglogErrorCode, ErrorContext } from './errors.js';
