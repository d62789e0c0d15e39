/**
 * The topics a broker serves: one `Topic` per subdirectory of the broker's directory (as
 * `Topic.open` lays them out), each with its topic id from the partitions' `partition.metadata`.
 * Topics are opened at start, created by CreateTopics, and, when auto-creation is on, by a
 * Metadata or Produce naming an unknown topic (Kafka's `auto.create.topics.enable`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { SeglogError } from '../errors.js';
import type { LogConfig } from '../log/config.js';
import { checkTopicName } from '../topic/config.js';
import { TOPIC_METADATA_FILE, partitionDirName } from '../topic/metadata.js';
import { Topic } from '../topic/topic.js';
import { newTopicId, readTopicId, writeTopicId } from './partition-metadata.js';
import { logConfigOf, readBrokerConfigs, writeBrokerConfigs } from './topic-configs.js';

export interface ServedTopic {
  readonly name: string;
  readonly topic: Topic;
  readonly id: Buffer;
}

export interface BrokerTopicsOptions {
  autoCreateTopics: boolean;
  numPartitions: number;
  /** `LogConfig` of every partition the broker opens or creates (per-topic configs override it). */
  topicConfig: LogConfig;
  /** Whether `LogConfig` knows `cleanupPolicy` (compaction), so CreateTopics' cleanup.policy is passed on. */
  cleanupPolicySupported: boolean;
}

/** Why a topic could not be created, as Kafka's error name and a message. */
export interface CreateFailure {
  error: 'TOPIC_ALREADY_EXISTS' | 'INVALID_TOPIC_EXCEPTION' | 'INVALID_PARTITIONS' | 'INVALID_CONFIG' | 'INVALID_REPLICATION_FACTOR' | 'UNKNOWN_SERVER_ERROR';
  message: string;
}

/** Kafka's ceiling for a topic's partition count in one request would be far above this; a single node stops here. */
const MAX_PARTITIONS = 10_000;

export class BrokerTopics {
  private readonly byName = new Map<string, ServedTopic>();
  private readonly byId = new Map<string, ServedTopic>();

  constructor(
    readonly dir: string,
    private readonly options: BrokerTopicsOptions,
  ) {}

  /** Opens every topic directory under `dir`; throws what `Topic.open` throws. */
  openAll(): void {
    fs.mkdirSync(this.dir, { recursive: true });
    for (const entry of fs.readdirSync(this.dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || !fs.existsSync(path.join(this.dir, entry.name, TOPIC_METADATA_FILE))) continue;
      this.open(entry.name, undefined);
    }
  }

  get(name: string): ServedTopic | undefined {
    return this.byName.get(name);
  }

  getById(id: Buffer): ServedTopic | undefined {
    return this.byId.get(id.toString('hex'));
  }

  list(): ServedTopic[] {
    return [...this.byName.values()];
  }

  get autoCreate(): boolean {
    return this.options.autoCreateTopics;
  }

  /** The topic, creating it with `numPartitions` when auto-creation is on; undefined otherwise or for an illegal name. */
  getOrAutoCreate(name: string): ServedTopic | undefined {
    const found = this.byName.get(name);
    if (found !== undefined || !this.options.autoCreateTopics) return found;
    const created = this.create(name, this.options.numPartitions, {}, false);
    return created === null || 'error' in created ? undefined : created;
  }

  /** CreateTopics of one topic (`numPartitions` -1: the broker's default); null when only validated. */
  create(name: string, numPartitions: number, configs: Readonly<Record<string, string>>, validateOnly: boolean): ServedTopic | CreateFailure | null {
    try {
      checkTopicName(name, 'topic name');
    } catch (err) {
      return { error: 'INVALID_TOPIC_EXCEPTION', message: (err as Error).message };
    }
    if (this.byName.has(name) || fs.existsSync(path.join(this.dir, name))) return { error: 'TOPIC_ALREADY_EXISTS', message: `topic '${name}' already exists` };
    const partitions = numPartitions === -1 ? this.options.numPartitions : numPartitions;
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
      return { error: 'INVALID_PARTITIONS', message: `number of partitions must be between 1 and ${MAX_PARTITIONS}, got ${numPartitions}` };
    }
    try {
      logConfigOf(configs, this.options.cleanupPolicySupported);
    } catch (err) {
      return { error: 'INVALID_CONFIG', message: (err as Error).message };
    }
    if (validateOnly) return null;
    try {
      return this.open(name, { partitions, configs });
    } catch (err) {
      if (err instanceof SeglogError && err.code === 'SEGLOG_INVALID_CONFIG') return { error: 'INVALID_CONFIG', message: err.message };
      return { error: 'UNKNOWN_SERVER_ERROR', message: (err as Error).message };
    }
  }

  /** Opens (or, with `create`, creates) the topic `name`, giving its partitions a topic id where they lack one. */
  private open(name: string, create: { partitions: number; configs: Readonly<Record<string, string>> } | undefined): ServedTopic {
    const topicDir = path.join(this.dir, name);
    if (create !== undefined && Object.keys(create.configs).length > 0) {
      fs.mkdirSync(topicDir, { recursive: true });
      writeBrokerConfigs(topicDir, create.configs);
    }
    const own = logConfigOf(readBrokerConfigs(topicDir), this.options.cleanupPolicySupported);
    const config = { ...this.options.topicConfig, ...own, name };
    const topic = Topic.open(topicDir, create === undefined ? config : { ...config, partitions: create.partitions });
    const id = this.topicIdOf(topic, topicDir, name);
    const served: ServedTopic = { name, topic, id };
    this.byName.set(name, served);
    this.byId.set(id.toString('hex'), served);
    return served;
  }

  /** Partition 0's id (or a new one) becomes every partition's, as Kafka has one id per topic. */
  private topicIdOf(topic: Topic, topicDir: string, name: string): Buffer {
    const dirs = Array.from({ length: topic.partitions }, (_, p) => path.join(topicDir, partitionDirName(name, p)));
    const id = readTopicId(dirs[0]!) ?? newTopicId();
    for (const dir of dirs) {
      const stored = readTopicId(dir);
      if (stored === null || !stored.equals(id)) writeTopicId(dir, id);
    }
    return id;
  }

  /** Closes every topic; the first failure is thrown after all were tried. */
  close(): void {
    let failure: unknown = null;
    for (const served of this.byName.values()) {
      try {
        served.topic.close();
      } catch (err) {
        failure ??= err;
      }
    }
    this.byName.clear();
    this.byId.clear();
    if (failure !== null) throw failure;
  }
}
