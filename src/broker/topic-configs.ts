/**
 * Kafka's topic config names (CreateTopics' `configs`) and seglog's `LogConfig` keys, and the file
 * that keeps a created topic's configs so a restarted broker opens it with the same ones:
 * `broker-config.json` in the topic directory, `{"version":1,"configs":{"retention.ms":"600000"}}`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomically } from '../files/checkpoint.js';
import type { LogConfig } from '../log/config.js';

export const BROKER_CONFIG_FILE = 'broker-config.json';

type Parse = (value: string) => unknown;

const integer: Parse = (value) => {
  if (!/^-?\d+$/.test(value.trim())) throw new Error(`not an integer: ${value}`);
  return Number(value);
};

/** Kafka config name -> LogConfig key and parser. */
const KAFKA_TO_LOG: ReadonlyMap<string, { key: keyof LogConfig; parse: Parse }> = new Map([
  ['retention.ms', { key: 'retentionMs', parse: integer }],
  ['retention.bytes', { key: 'retentionBytes', parse: integer }],
  ['segment.bytes', { key: 'segmentBytes', parse: integer }],
  ['segment.ms', { key: 'segmentMs', parse: integer }],
  ['segment.jitter.ms', { key: 'segmentJitterMs', parse: integer }],
  ['segment.index.bytes', { key: 'segmentIndexBytes', parse: integer }],
  ['index.interval.bytes', { key: 'indexIntervalBytes', parse: integer }],
  ['max.message.bytes', { key: 'maxMessageBytes', parse: integer }],
  ['file.delete.delay.ms', { key: 'fileDeleteDelayMs', parse: integer }],
  ['flush.messages', { key: 'flushMessages', parse: integer }],
  ['flush.ms', { key: 'flushMs', parse: integer }],
  ['preallocate', { key: 'preallocate', parse: (v) => v === 'true' }],
  ['message.timestamp.type', { key: 'timestampType', parse: (v) => v }],
  ['compression.type', { key: 'compression', parse: (v) => (v === 'uncompressed' ? 'none' : v) }],
  ['min.cleanable.dirty.ratio', { key: 'minCleanableDirtyRatio', parse: (v) => Number(v) }],
  ['min.compaction.lag.ms', { key: 'minCompactionLagMs', parse: integer }],
  // Kafka's default is Long.MAX_VALUE ("no limit"), past what a JS number holds exactly.
  ['max.compaction.lag.ms', { key: 'maxCompactionLagMs', parse: (v) => Math.min(integer(v) as number, Number.MAX_SAFE_INTEGER) }],
  ['delete.retention.ms', { key: 'deleteRetentionMs', parse: integer }],
] as [string, { key: keyof LogConfig; parse: Parse }][]);

/**
 * Kafka configs that a single node may be given and has nothing to do with: accepted, ignored.
 * Anything else unknown is refused with INVALID_CONFIG, as Kafka refuses it.
 */
const IGNORED = new Set(['min.insync.replicas', 'unclean.leader.election.enable', 'message.downconversion.enable', 'cleanup.policy']);

/** The `LogConfig` of Kafka topic configs; throws with a message naming the config for an unknown or bad one. */
export function logConfigOf(configs: Readonly<Record<string, string>>, cleanupPolicySupported: boolean): LogConfig {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(configs)) {
    if (name === 'cleanup.policy' && cleanupPolicySupported) {
      // Kafka's value is a list: 'compact', 'delete', 'compact,delete' or 'delete,compact'.
      const policies = new Set(value.split(',').map((p) => p.trim()));
      out['cleanupPolicy'] = policies.size === 2 && policies.has('compact') && policies.has('delete') ? 'compact,delete' : value.trim();
      continue;
    }
    if (name === 'cleanup.policy' && value !== 'delete') throw new Error(`cleanup.policy=${value} is not supported by this seglog (only delete)`);
    const mapping = KAFKA_TO_LOG.get(name);
    if (mapping === undefined) {
      if (IGNORED.has(name)) continue;
      throw new Error(`unknown topic config ${name}`);
    }
    try {
      out[mapping.key] = mapping.parse(value);
    } catch (err) {
      throw new Error(`topic config ${name}: ${(err as Error).message}`);
    }
  }
  return out as LogConfig;
}

/** The Kafka configs stored for the topic in `topicDir` (empty when none were given). */
export function readBrokerConfigs(topicDir: string): Record<string, string> {
  try {
    const parsed = JSON.parse(fs.readFileSync(path.join(topicDir, BROKER_CONFIG_FILE), 'utf8')) as { configs?: Record<string, string> };
    return parsed.configs ?? {};
  } catch {
    return {};
  }
}

export function writeBrokerConfigs(topicDir: string, configs: Readonly<Record<string, string>>): void {
  writeFileAtomically(path.join(topicDir, BROKER_CONFIG_FILE), JSON.stringify({ version: 1, configs }) + '\n');
}
