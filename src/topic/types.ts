import type { LogRecord, RecordInput } from '../record/types.js';

/** A record to append to a topic: a `RecordInput` with an optional explicit partition. */
export interface TopicRecordInput extends RecordInput {
  /** Send the record to this partition, whatever its key says. An integer in [0, partitions). */
  partition?: number | undefined;
}

/** A record read back from a topic: a `LogRecord` plus the partition it came from. */
export interface TopicRecord extends LogRecord {
  partition: number;
}

/** Where `topic.append` put one record. */
export interface TopicAppendResult {
  partition: number;
  offset: number;
}

/**
 * A custom partitioner: returns the partition, an integer in [0, numPartitions), for a record
 * that has no explicit `partition`. It sees keyed and keyless records alike; `partitionForKey`
 * gives Kafka's default choice for a key, to fall back on. Called once per record, synchronously.
 */
export type Partitioner = (record: TopicRecordInput, numPartitions: number) => number;
