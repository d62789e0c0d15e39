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
export type { StreamOptions, LogStream } from './log/stream.js';
export { Consumer } from './log/consumer.js';
export type { AutoOffsetReset, ConsumerOptions, ConsumerStreamOptions } from './log/consumer.js';
export { CONSUMER_OFFSETS_FILE } from './log/consumer-offsets.js';
export type { CleanupPolicy, LogConfig, ResolvedLogConfig } from './log/config.js';
export type { CompactionResult } from './cleaner/cleaner.js';
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
  CorruptCheckpointError,
} from './errors.js';
export type { SeglogErrorCode, ErrorContext } from './errors.js';
export { Topic } from './topic/topic.js';
export type { TopicStreamOptions } from './topic/topic.js';
export type { TopicConfig } from './topic/config.js';
export type { Partitioner, TopicAppendResult, TopicRecord, TopicRecordInput } from './topic/types.js';
export { partitionForKey, DEFAULT_STICKY_BATCH_BYTES } from './topic/partitioner.js';
export { murmur2, toPositive } from './topic/murmur2.js';
export { Broker } from './broker/broker.js';
export type { BrokerOptions } from './broker/broker.js';
