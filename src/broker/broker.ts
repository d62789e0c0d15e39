import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { InvalidConfigError } from '../errors.js';
import { describe, resolveConfig, type LogConfig } from '../log/config.js';
import { GroupCoordinator } from './group/coordinator.js';
import type { BrokerContext } from './handlers/index.js';
import { ProducerStates } from './producer-state.js';
// Loaded by start() only: the protocol codec and the handlers stay out of `import 'seglog'`.
import type { KafkaServer } from './server.js';
import { BrokerTopics } from './topics.js';

/** Options of `Broker.start`. */
export interface BrokerOptions {
  /** The directory of the topics served: one subdirectory per topic, as `Topic.open` lays it out. Created if missing. */
  dir: string;
  /** Interface to listen on. Default `'127.0.0.1'`. */
  host?: string;
  /** Port to listen on; 0 picks a free one (see `broker.port`). Default 9092. */
  port?: number;
  /** Host clients are told to connect to (Metadata, FindCoordinator). Default: `host`, or `'127.0.0.1'` when `host` is a wildcard. */
  advertisedHost?: string;
  /** Port clients are told to connect to (e.g. a proxy's or a container's mapped port). Default: the port listened on. */
  advertisedPort?: number;
  /** Create a topic the first time a client asks for it (Kafka's `auto.create.topics.enable`). Default true. */
  autoCreateTopics?: boolean;
  /** Partitions of an auto-created topic, and of CreateTopics asking for -1 (Kafka's `num.partitions`). Default 1. */
  numPartitions?: number;
  /** `LogConfig` of every partition the broker opens or creates; a topic's CreateTopics configs override it. */
  topicConfig?: LogConfig;
  /** When true, a produce with acks=all is answered only once its batches are on disk (group commit). Default false. */
  flushOnAck?: boolean;
  /** Largest request accepted; a larger one closes its connection (Kafka's `socket.request.max.bytes`). Default 100 MiB. */
  maxRequestBytes?: number;
  /** Smallest session timeout a consumer may ask for (Kafka's `group.min.session.timeout.ms`). Default 1000. */
  groupMinSessionTimeoutMs?: number;
  /** Where the broker's log lines go (one line each: connections closed for bad input, topics created). Default: stderr. */
  log?: (line: string) => void;
}

const OPTION_KEYS = new Set([
  'dir',
  'host',
  'port',
  'advertisedHost',
  'advertisedPort',
  'autoCreateTopics',
  'numPartitions',
  'topicConfig',
  'flushOnAck',
  'maxRequestBytes',
  'groupMinSessionTimeoutMs',
  'log',
]);

/** Kafka's `socket.request.max.bytes`. */
export const DEFAULT_MAX_REQUEST_BYTES = 100 * 1024 * 1024;

/** How long `close()` waits for requests in flight before closing their connections. */
const CLOSE_GRACE_MS = 5000;

/**
 * A single-node Kafka broker over the seglog topics in a directory: unmodified Kafka clients
 * (kafkajs, librdkafka-based clients, the Java client) produce, fetch, list offsets and consume
 * in groups. See docs/BROKER.md for the APIs and versions served and what each acks promises.
 */
export class Broker {
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly server: KafkaServer,
    private readonly topics: BrokerTopics,
    private readonly groups: GroupCoordinator,
    private readonly stop: AbortController,
    /** The interface the broker listens on. */
    readonly host: string,
    /** The port it listens on (the one picked when started with port 0). */
    readonly port: number,
  ) {}

  /**
   * Opens every topic under `options.dir` and listens; resolves once clients can connect.
   * Throws `InvalidConfigError` for bad options, `LogLockedError` when another writer has a
   * topic open, and the listen error (e.g. EADDRINUSE).
   */
  static async start(options: BrokerOptions): Promise<Broker> {
    const opts = checkOptions(options);
    const dir = path.resolve(opts.dir);
    const topics = new BrokerTopics(dir, {
      autoCreateTopics: opts.autoCreateTopics ?? true,
      numPartitions: opts.numPartitions ?? 1,
      topicConfig: opts.topicConfig ?? {},
      cleanupPolicySupported: 'cleanupPolicy' in resolveConfig({}),
    });
    topics.openAll();
    const groups = new GroupCoordinator({ minSessionTimeoutMs: opts.groupMinSessionTimeoutMs });
    const stop = new AbortController();
    const host = opts.host ?? '127.0.0.1';
    const log = opts.log ?? ((line: string) => process.stderr.write(`seglog broker: ${line}\n`));
    let ctx: BrokerContext | null = null;
    let server: KafkaServer;
    try {
      const { KafkaServer } = await import('./server.js');
      server = await KafkaServer.listen(() => ctx!, { host, port: opts.port ?? 9092, maxRequestBytes: opts.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES });
    } catch (err) {
      topics.close();
      throw err;
    }
    const port = server.address.port;
    ctx = {
      topics,
      groups,
      producers: new ProducerStates(),
      advertisedHost: opts.advertisedHost ?? (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host),
      advertisedPort: opts.advertisedPort ?? port,
      clusterId: clusterIdOf(dir),
      flushOnAck: opts.flushOnAck ?? false,
      closing: stop.signal,
      log,
      now: Date.now,
    };
    groups.startTimer();
    return new Broker(server, topics, groups, stop, host, port);
  }

  /**
   * Stops accepting connections, answers the requests in flight (held fetches at once, held
   * group joins with COORDINATOR_NOT_AVAILABLE), closes the connections and then every log
   * cleanly. A second call returns the same promise.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const stopped = this.server.stopAccepting();
    this.stop.abort();
    this.groups.close();
    await this.server.closeConnections(CLOSE_GRACE_MS);
    await stopped;
    this.topics.close();
  }
}

function checkOptions(options: BrokerOptions): BrokerOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidConfigError(`broker options must be an object, got ${describe(options)}`);
  for (const key of Object.keys(options)) if (!OPTION_KEYS.has(key)) throw new InvalidConfigError(`unknown broker option ${key}`);
  if (typeof options.dir !== 'string' || options.dir === '') throw new InvalidConfigError(`broker option dir must be a non-empty string, got ${describe(options.dir)}`);
  const { port, advertisedPort, numPartitions, maxRequestBytes, groupMinSessionTimeoutMs } = options;
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new InvalidConfigError(`broker option port must be an integer in [0, 65535], got ${describe(port)}`);
  if (advertisedPort !== undefined && !(Number.isInteger(advertisedPort) && advertisedPort >= 1 && advertisedPort <= 65535)) {
    throw new InvalidConfigError(`broker option advertisedPort must be an integer in [1, 65535], got ${describe(advertisedPort)}`);
  }
  if (numPartitions !== undefined && !(Number.isInteger(numPartitions) && numPartitions >= 1)) throw new InvalidConfigError(`broker option numPartitions must be a positive integer, got ${describe(numPartitions)}`);
  if (maxRequestBytes !== undefined && !(Number.isInteger(maxRequestBytes) && maxRequestBytes >= 64)) throw new InvalidConfigError(`broker option maxRequestBytes must be an integer >= 64, got ${describe(maxRequestBytes)}`);
  if (groupMinSessionTimeoutMs !== undefined && !(Number.isInteger(groupMinSessionTimeoutMs) && groupMinSessionTimeoutMs >= 1)) {
    throw new InvalidConfigError(`broker option groupMinSessionTimeoutMs must be a positive integer, got ${describe(groupMinSessionTimeoutMs)}`);
  }
  for (const key of ['host', 'advertisedHost'] as const) {
    const value = options[key];
    if (value !== undefined && (typeof value !== 'string' || value === '')) throw new InvalidConfigError(`broker option ${key} must be a non-empty string, got ${describe(value)}`);
  }
  for (const key of ['autoCreateTopics', 'flushOnAck'] as const) {
    const value = options[key];
    if (value !== undefined && typeof value !== 'boolean') throw new InvalidConfigError(`broker option ${key} must be a boolean, got ${describe(value)}`);
  }
  if (options.topicConfig !== undefined) resolveConfig(options.topicConfig);
  if (options.log !== undefined && typeof options.log !== 'function') throw new InvalidConfigError('broker option log must be a function');
  return options;
}

/**
 * The cluster id, kept in `meta.properties` in the broker directory as Kafka keeps it, so a
 * client sees the same cluster across restarts.
 */
function clusterIdOf(dir: string): string {
  const file = path.join(dir, 'meta.properties');
  try {
    const match = /^cluster\.id=(.+)$/m.exec(fs.readFileSync(file, 'utf8'));
    if (match !== null) return match[1]!.trim();
  } catch {
    // none yet
  }
  const id = crypto.randomBytes(16).toString('base64url');
  fs.writeFileSync(file, `version=1\ncluster.id=${id}\nnode.id=0\n`);
  return id;
}
