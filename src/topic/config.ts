import path from 'node:path';
import { InvalidConfigError } from '../errors.js';
import { describe, resolveConfig, type LogConfig } from '../log/config.js';
import { MAX_PARTITIONS, isPartitionCount, isTopicName } from './metadata.js';
import { DEFAULT_STICKY_BATCH_BYTES } from './partitioner.js';
import type { Partitioner } from './types.js';

/**
 * Options of `Topic.open`: the topic's own keys, plus any `LogConfig` key, which is passed to
 * every partition's `Log.open`.
 */
export interface TopicConfig extends LogConfig {
  /** The topic name; partition directories are `<name>-<p>`. Default: the topic directory's name. */
  name?: string;
  /** The partition count. Required for a new topic; on reopen it must match the recorded count, or be omitted. */
  partitions?: number;
  /** Chooses the partition of records without an explicit `partition` (default: Kafka's rules). */
  partitioner?: Partitioner;
  /** Keyless records stay on one partition until about this many bytes went there. Default 16384 (Kafka's `batch.size`). */
  stickyBatchBytes?: number;
}

/** `TopicConfig` split into the topic's keys, validated, and the `LogConfig` for the partitions. */
export interface ResolvedTopicConfig {
  name: string | undefined;
  partitions: number | undefined;
  partitioner: Partitioner | undefined;
  stickyBatchBytes: number;
  readOnly: boolean;
  logConfig: LogConfig;
}

const TOPIC_KEYS = ['name', 'partitions', 'partitioner', 'stickyBatchBytes'] as const;

// Kafka's rule for topic names (`Topic.validate`): what may appear in a directory name on any OS.

/** Validates every key before anything touches the disk; throws `InvalidConfigError` naming the key. */
export function resolveTopicConfig(config: TopicConfig | undefined): ResolvedTopicConfig {
  if (config !== undefined && (typeof config !== 'object' || config === null || Array.isArray(config))) {
    throw new InvalidConfigError(`config must be an object, got ${describe(config)}`);
  }
  const logConfig: Record<string, unknown> = { ...config };
  for (const key of TOPIC_KEYS) delete logConfig[key];
  // Log.open would reject a bad key too, but only after the topic directory exists.
  const resolvedLog = resolveConfig(logConfig as LogConfig);
  const { name, partitions, partitioner, stickyBatchBytes } = config ?? {};
  if (name !== undefined) checkTopicName(name, 'config name');
  if (partitions !== undefined && !isPartitionCount(partitions)) {
    throw new InvalidConfigError(`config partitions must be an integer in [1, ${MAX_PARTITIONS}], got ${describe(partitions)}`);
  }
  if (partitioner !== undefined && typeof partitioner !== 'function') {
    throw new InvalidConfigError(`config partitioner must be a function (record, numPartitions) => number, got ${describe(partitioner)}`);
  }
  if (stickyBatchBytes !== undefined && !(Number.isSafeInteger(stickyBatchBytes) && stickyBatchBytes >= 0)) {
    throw new InvalidConfigError(`config stickyBatchBytes must be a non-negative integer, got ${describe(stickyBatchBytes)}`);
  }
  return {
    name,
    partitions,
    partitioner,
    stickyBatchBytes: stickyBatchBytes ?? DEFAULT_STICKY_BATCH_BYTES,
    readOnly: resolvedLog.readOnly,
    logConfig: logConfig as LogConfig,
  };
}

/** Throws `InvalidConfigError` unless `name` is a legal Kafka topic name. */
export function checkTopicName(name: unknown, what: string): string {
  if (!isTopicName(name)) {
    throw new InvalidConfigError(
      `${what} must be a Kafka topic name (1-249 of a-z, A-Z, 0-9, '.', '_', '-'; not '.' or '..'), got ${describe(name)}`,
    );
  }
  return name;
}

/** The name a topic in `dir` gets when none is given: the directory's own name. */
export function defaultTopicName(dir: string): string {
  return checkTopicName(path.basename(dir), `the topic directory's name (pass config name to choose another)`);
}
