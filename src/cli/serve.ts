/** `seglog serve DIR`: a single-node Kafka broker over the topics in DIR, until SIGINT or SIGTERM. */
import { Broker } from '../broker/broker.js';
import { nativeAddon } from '../files/native.js';
import { EXIT_OK, flag, intOption, onePath, parseCommand, UsageError, type CommandSpec } from './args.js';

export const serveSpec: CommandSpec = {
  name: 'serve',
  summary: 'Serve the topics in DIR to Kafka clients (a single-node Kafka broker).',
  usage: 'seglog serve DIR [--host H] [--port P] [--partitions N] [--flush-on-ack] [--json]',
  description: [
    'Listens for Kafka clients (kafkajs, librdkafka: kcat, confluent-kafka; the Java client) and',
    'serves the topics under DIR, one subdirectory per topic as Topic.open lays them out. Unknown',
    'topics are created on first use with --partitions partitions. Prints one line',
    '"listening on HOST:PORT" (with --json: {"listening":{"host":...,"port":N}}) once clients can',
    'connect, and on SIGINT or SIGTERM closes every log cleanly and exits 0.',
    'This is the one seglog command that writes: it takes the topics\' writer locks.',
  ],
  options: {
    host: { type: 'string', arg: 'H', description: 'interface to listen on (default 127.0.0.1)' },
    port: { type: 'string', arg: 'P', description: 'port to listen on, 0 for any free one (default 9092)' },
    partitions: { type: 'string', arg: 'N', description: 'partitions of auto-created topics (default 1)' },
    'flush-on-ack': { type: 'boolean', description: 'answer acks=all produces only once on disk' },
    'no-auto-create': { type: 'boolean', description: 'do not create unknown topics (only CreateTopics does)' },
  },
  examples: ['seglog serve data', 'seglog serve data --port 19092 --partitions 3 --flush-on-ack', 'seglog serve data --port 0 --json'],
};

export async function serveCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(serveSpec, argv);
  if (parsed === null) return EXIT_OK;
  const dir = onePath(parsed, 'serve', 'directory');
  const port = intOption(parsed, 'port', 'serve') ?? 9092;
  if (port > 65535) throw new UsageError(`--port must be at most 65535, got ${port}`, 'serve');
  const numPartitions = intOption(parsed, 'partitions', 'serve', 1) ?? 1;
  const host = (parsed.values['host'] as string | undefined) ?? '127.0.0.1';
  const json = flag(parsed, 'json');
  // This process is the server, so it may set malloc's process-wide policy: freed buffers (a
  // fetch's reads, and the socket reads' own when a connection is read through Node's 'data'
  // events, see broker/socket-reads.ts) stay in the heap instead of being faulted in afresh
  // (native/addon.c).
  nativeAddon()?.retainFreedMemory?.();
  const broker = await Broker.start({
    dir,
    host,
    port,
    numPartitions,
    flushOnAck: flag(parsed, 'flush-on-ack'),
    autoCreateTopics: !flag(parsed, 'no-auto-create'),
    log: (line) => process.stderr.write(json ? JSON.stringify({ log: line }) + '\n' : `seglog serve: ${line}\n`),
  });
  process.stdout.write(json ? JSON.stringify({ listening: { host: broker.host, port: broker.port } }) + '\n' : `listening on ${broker.host}:${broker.port}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await broker.close();
  return EXIT_OK;
}
