/**
 * `npm run bench:broker`: produce and fetch of 1 KiB records through `seglog serve` (a child
 * process, so its CPU time is its own) with librdkafka clients (kcat for throughput, confluent-kafka
 * for produce latency) and with kafkajs; and, in the same run, seglog's direct `Topic.append` and
 * `readBatches` of the same records. Reports MB/s, records/s, p50/p99 produce latency for acks=1
 * and for acks=all with --flush-on-ack, and the broker's CPU time per MB produced and fetched as a
 * ratio to the direct calls' CPU time per MB (targets: produce <= 1.5x, fetch <= 3x).
 *
 * SEGLOG_BENCH_BROKER_RECORDS sets the records per run (default 40000, about 41 MB).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { Topic } from '../src/index.js';
import { printTable, repoRoot, runMain, scratchBase } from './common.js';

const RECORDS = Number(process.env.SEGLOG_BENCH_BROKER_RECORDS ?? 40_000);
const VALUE_BYTES = 1024;
const KAFKAJS_BATCH = 100;
/** About what librdkafka puts in one batch of 1 KiB records (batch.size 1 MB). */
const LIBRDKAFKA_BATCH = 1000;
const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const CLK_TCK = 100; // Linux USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s
const MB = 1e6;

const value = Buffer.from('0123456789abcdef'.repeat(VALUE_BYTES / 16));
const key = (i: number): string => `sensor-${i % 64}`;

interface Served {
  child: ChildProcess;
  bootstrap: string;
}

function serve(dir: string, flushOnAck: boolean): Promise<Served> {
  const cli = path.join(repoRoot(), 'dist-all', 'src', 'cli', 'main.js');
  const args = [cli, 'serve', dir, '--port', '0', '--json', ...(flushOnAck ? ['--flush-on-ack'] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve({ child, bootstrap: `127.0.0.1:${(JSON.parse(out.split('\n')[0]!) as { listening: { port: number } }).listening.port}` });
    });
    child.once('exit', (code) => reject(new Error(`seglog serve exited with ${code}`)));
  });
}

async function stop(served: Served): Promise<void> {
  served.child.kill('SIGTERM');
  await new Promise((r) => served.child.once('exit', r));
}

/** CPU seconds (user + system) the process has used. */
function cpuOf(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { maxBuffer: 1 << 30 }, (err, stdout, stderr) => (err === null ? resolve(stdout) : reject(new Error(`${command}: ${err.message}\n${stderr}`))));
  });
}

interface Row {
  what: string;
  seconds: number;
  records: number;
  bytes: number;
  brokerCpu: number;
  p50?: number;
  p99?: number;
}

/** Measures `work` (wall time and the broker's CPU time over it). */
async function measure(served: Served, what: string, records: number, work: () => Promise<{ p50?: number; p99?: number } | void>): Promise<Row> {
  const cpu = cpuOf(served.child.pid!);
  const started = performance.now();
  const extra = (await work()) ?? {};
  const seconds = (performance.now() - started) / 1000;
  return { what, seconds, records, bytes: records * VALUE_BYTES, brokerCpu: cpuOf(served.child.pid!) - cpu, ...extra };
}

function kcatInput(file: string): void {
  const text = value.toString();
  const lines: string[] = [];
  for (let i = 0; i < RECORDS; i++) lines.push(`${key(i)}:${text}`);
  fs.writeFileSync(file, lines.join('\n') + '\n');
}

const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

async function kafkajsProduce(bootstrap: string, topic: string, acks: number): Promise<{ p50: number; p99: number }> {
  const kafka = new Kafka({ clientId: 'bench', brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  await producer.connect();
  const latencies: number[] = [];
  for (let i = 0; i < RECORDS; i += KAFKAJS_BATCH) {
    const messages = Array.from({ length: Math.min(KAFKAJS_BATCH, RECORDS - i) }, (_, j) => ({ key: key(i + j), value }));
    const t = performance.now();
    await producer.send({ topic, acks, messages });
    latencies.push(performance.now() - t);
  }
  await producer.disconnect();
  return { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) };
}

async function kafkajsFetch(bootstrap: string, topic: string, expected: number): Promise<void> {
  const kafka = new Kafka({ clientId: 'bench', brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `bench-${topic}`, maxBytes: 16 << 20, maxBytesPerPartition: 8 << 20, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  await new Promise<void>((resolve) => {
    void consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        seen += batch.messages.length;
        if (seen >= expected) resolve();
      },
    });
  });
  await consumer.disconnect();
}

async function pythonProduce(bootstrap: string, topic: string, acks: string): Promise<{ p50: number; p99: number }> {
  const out = await run(PYTHON, [path.join(repoRoot(), 'bench', 'clients', 'produce_latency.py'), bootstrap, topic, String(RECORDS), String(VALUE_BYTES), acks]);
  const doc = JSON.parse(out.trim().split('\n').pop()!) as { delivered: number; errors: string[]; p50_ms: number; p99_ms: number };
  if (doc.delivered !== RECORDS) throw new Error(`librdkafka delivered ${doc.delivered} of ${RECORDS}: ${doc.errors.join('; ')}`);
  return { p50: doc.p50_ms, p99: doc.p99_ms };
}

/**
 * Direct seglog calls on the same records in batches of `batch` records (the batches the client
 * sends, so the per-batch costs compare): CPU seconds of this process per MB.
 */
function direct(dir: string, batch: number): { appendCpuPerMB: number; readCpuPerMB: number } {
  const topic = Topic.open(dir, { partitions: 1 });
  const before = process.cpuUsage();
  for (let i = 0; i < RECORDS; i += batch) {
    const records = Array.from({ length: Math.min(batch, RECORDS - i) }, (_, j) => ({ key: key(i + j), value, partition: 0 }));
    topic.append(records);
  }
  const appended = process.cpuUsage(before);
  const log = topic.partition(0);
  const readStart = process.cpuUsage();
  let bytes = 0;
  for (let offset = 0; offset < log.endOffset; ) {
    const chunk = log.readBatches(offset, { maxBytes: 1 << 20 });
    bytes += chunk.length;
    let pos = 0;
    let last = offset;
    while (pos < chunk.length) {
      last = Number(chunk.readBigInt64BE(pos)) + chunk.readInt32BE(pos + 23);
      pos += 12 + chunk.readInt32BE(pos + 8);
    }
    offset = last + 1;
  }
  const read = process.cpuUsage(readStart);
  topic.close();
  const mb = (RECORDS * VALUE_BYTES) / MB;
  void bytes;
  return { appendCpuPerMB: (appended.user + appended.system) / 1e6 / mb, readCpuPerMB: (read.user + read.system) / 1e6 / mb };
}

/** Direct `Topic.append` of each batch followed by `await flush()`: what acks=all with flushOnAck asks of the disk. */
async function directDurable(dir: string, batch: number): Promise<number> {
  const topic = Topic.open(dir, { partitions: 1 });
  const before = process.cpuUsage();
  for (let i = 0; i < RECORDS; i += batch) {
    topic.append(Array.from({ length: Math.min(batch, RECORDS - i) }, (_, j) => ({ key: key(i + j), value, partition: 0 })));
    await topic.flush();
  }
  const used = process.cpuUsage(before);
  topic.close();
  return (used.user + used.system) / 1e6 / ((RECORDS * VALUE_BYTES) / MB);
}

await runMain(async () => {
  const flags = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/\b(avx512f|avx512vl|vpclmulqdq|sse4_2|pclmulqdq|avx2)\b/g) ?? [];
  console.log(`seglog bench:broker: node ${process.version}, ${RECORDS} records of ${VALUE_BYTES} B per run; CPU flags: ${[...new Set(flags)].sort().join(' ')}`);
  const base = scratchBase();
  const kcatFile = path.join(base, 'kcat-input.txt');
  kcatInput(kcatFile);
  const rows: Row[] = [];

  const served = await serve(path.join(base, 'broker'), false);
  // Warm-up (the broker's JIT), not reported.
  await run('kcat', ['-P', '-b', served.bootstrap, '-t', 'warmup', '-K:', '-X', 'acks=1', '-l', kcatFile]);
  await run('kcat', ['-C', '-b', served.bootstrap, '-t', 'warmup', '-e', '-q', '-o', 'beginning', '-f', '%o\n']);
  rows.push(await measure(served, 'kcat produce acks=1', RECORDS, () => run('kcat', ['-P', '-b', served.bootstrap, '-t', 'kcat', '-K:', '-X', 'acks=1', '-X', 'linger.ms=5', '-l', kcatFile]).then(() => undefined)));
  rows.push(await measure(served, 'kcat fetch', RECORDS, () => run('kcat', ['-C', '-b', served.bootstrap, '-t', 'kcat', '-e', '-q', '-o', 'beginning', '-f', '%o\n']).then(() => undefined)));
  rows.push(await measure(served, 'librdkafka produce acks=1 (latency)', RECORDS, () => pythonProduce(served.bootstrap, 'py1', '1')));
  rows.push(await measure(served, 'kafkajs produce acks=1', RECORDS, () => kafkajsProduce(served.bootstrap, 'js1', 1)));
  rows.push(await measure(served, 'kafkajs fetch', RECORDS, () => kafkajsFetch(served.bootstrap, 'js1', RECORDS)));
  await stop(served);

  const durable = await serve(path.join(base, 'broker-durable'), true);
  rows.push(await measure(durable, 'librdkafka produce acks=all flushOnAck', RECORDS, () => pythonProduce(durable.bootstrap, 'pyall', 'all')));
  rows.push(await measure(durable, 'kafkajs produce acks=all flushOnAck', RECORDS, () => kafkajsProduce(durable.bootstrap, 'jsall', -1)));
  await stop(durable);

  direct(path.join(base, 'direct-warmup'), LIBRDKAFKA_BATCH);
  const baselines = { kafkajs: direct(path.join(base, 'direct-100'), KAFKAJS_BATCH), librdkafka: direct(path.join(base, 'direct-1000'), LIBRDKAFKA_BATCH) };
  const durableBaselines = {
    kafkajs: await directDurable(path.join(base, 'durable-100'), KAFKAJS_BATCH),
    librdkafka: await directDurable(path.join(base, 'durable-1000'), LIBRDKAFKA_BATCH),
  };
  printTable(
    ['run', 'MB/s', 'records/s', 'p50 ms', 'p99 ms', 'broker CPU s/MB', 'vs direct'],
    rows.map((r) => {
      const mb = r.bytes / MB;
      const perMB = r.brokerCpu / mb;
      const fetch = r.what.includes('fetch');
      const client = r.what.startsWith('kafkajs') ? 'kafkajs' : 'librdkafka';
      const durable = r.what.includes('flushOnAck');
      const baseline = baselines[client];
      const ratio = perMB / (fetch ? baseline.readCpuPerMB : durable ? durableBaselines[client] : baseline.appendCpuPerMB);
      return [
        r.what,
        (mb / r.seconds).toFixed(1),
        Math.round(r.records / r.seconds).toString(),
        r.p50 === undefined ? '' : r.p50.toFixed(2),
        r.p99 === undefined ? '' : r.p99.toFixed(2),
        perMB.toFixed(4),
        `${ratio.toFixed(2)}x ${fetch ? 'readBatches' : durable ? 'append+flush' : 'Topic.append'}`,
      ];
    }),
  );
  for (const [client, b] of Object.entries(baselines)) {
    const size = client === 'kafkajs' ? KAFKAJS_BATCH : LIBRDKAFKA_BATCH;
    const flushed = durableBaselines[client as 'kafkajs' | 'librdkafka'];
    console.log(`direct (for ${client} rows), same records in batches of ${size}: Topic.append ${b.appendCpuPerMB.toFixed(4)}, append+flush ${flushed.toFixed(4)}, readBatches ${b.readCpuPerMB.toFixed(4)} CPU s/MB`);
  }
  console.log('targets: broker CPU per MB produced <= 1.5x Topic.append, per MB fetched <= 3x readBatches');
  console.log('p50/p99: librdkafka per record (produce() to delivery report, linger.ms=2, at most 1000 records in flight); kafkajs per send() of 100 records');
});
