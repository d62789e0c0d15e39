/**
 * `npm run bench:broker`: produce and fetch of 1 KiB records through `seglog serve` (a child
 * process, so its CPU time is its own) with librdkafka clients (kcat for throughput, confluent-kafka
 * for produce latency) and with kafkajs; and, in the same run, seglog's direct `Topic.append` and
 * `readBatches` of the same records. Reports MB/s, records/s, p50/p99 produce latency for acks=1
 * and for acks=all with --flush-on-ack, and the broker's CPU time per MB produced and fetched as a
 * ratio to the direct calls' CPU time per MB (targets: produce <= 1.5x, fetch <= 3x).
 *
 * Fair terms: the broker's CPU time is read from /proc in nanoseconds (every thread), each client
 * warms the broker up with runs of its own before the measured ones, and each produce row's
 * baseline appends the same records in batches of the size that client's batches had in the log
 * (records built beforehand, so only `Topic.append` is timed), in a fresh process of its own,
 * back to back and, as a second baseline, at the pace that client's batches reached the broker
 * (a process fed by a slow client waits between requests, and an append after a wait costs more
 * per MB than one back to back). Every measurement is the median of RUNS runs.
 *
 * SEGLOG_BENCH_BROKER_RECORDS sets the records per run (default 40000, about 41 MB),
 * SEGLOG_BENCH_BROKER_RUNS the measured runs (default 3; more steady the medians on a busy machine),
 * and SEGLOG_BENCH_BROKER_CLIENTS a comma-separated list of words that picks the rows whose client
 * name contains one of them (`kafkajs`, `kcat`, `raw`, `acks=1`; default: every row).
 *
 * The `raw` rows send kafkajs-sized requests (one batch of 500 records, built once) from a client
 * of seglog's own protocol encoder (`raw-producer.ts`): one at a time, four in flight, and one at a
 * time after 8 ms of cache-filling work in the client, about what kafkajs spends per send. They
 * tell the broker's cost per request apart from what a busy client on the same cores adds to it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { Topic } from '../src/index.js';
import { machineLine, printTable, repoRoot, runMain, scratchBase } from './common.js';
import { rawBatch, rawProduce, type RawMode } from './raw-producer.js';

const RECORDS = Number(process.env.SEGLOG_BENCH_BROKER_RECORDS ?? 40_000);
const VALUE_BYTES = 1024;
/**
 * Records per kafkajs send(): kafkajs makes one batch of each send, so a throughput user sends
 * many at once; 500 records of 1 KiB stay under Kafka's default max.message.bytes (1 MB).
 */
const KAFKAJS_BATCH = 500;
const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const MB = 1e6;
/** Measured runs per client and per direct call; the median counts (the machine is shared). */
const RUNS = Number(process.env.SEGLOG_BENCH_BROKER_RUNS ?? 3);
/** The rows to run: a client runs when its name contains one of these words (all when unset). */
const ONLY = (process.env.SEGLOG_BENCH_BROKER_CLIENTS ?? '').split(',').filter((w) => w !== '');
/** Warm-up runs before the measured ones, the same for the broker and the direct baseline. */
const WARMUP_RUNS = 2;

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

/**
 * CPU seconds the process's threads have run, from each thread's schedstat (nanoseconds; the
 * 1/100 s ticks of /proc/<pid>/stat are too coarse for a run that costs the broker 50 ms).
 */
function cpuOf(pid: number): number {
  let ns = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // a thread that ended between the listing and the read
    }
  }
  return ns / 1e9;
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { maxBuffer: 1 << 30 }, (err, stdout, stderr) => (err === null ? resolve(stdout) : reject(new Error(`${command}: ${err.message}\n${stderr}`))));
  });
}

interface Row {
  what: string;
  /** The topic it produced to (produce rows), whose batch sizes its baseline takes. */
  topic?: string;
  durable?: boolean;
  /** Mean records per batch the client sent (produce rows), and the direct CPU s/MB to compare with. */
  batch?: number;
  baseline?: number;
  /** The direct appends' CPU s/MB at the pace the client's batches came (produce rows). */
  paced?: number;
  seconds: number;
  records: number;
  bytes: number;
  brokerCpu: number;
  p50?: number;
  p99?: number;
}

/** Measures `work` (wall time and the broker's CPU time over it). */
async function measure(served: Served, what: string, topic: string | undefined, work: () => Promise<{ p50?: number; p99?: number } | void>): Promise<Row> {
  const cpu = cpuOf(served.child.pid!);
  const started = performance.now();
  const extra = (await work()) ?? {};
  const seconds = (performance.now() - started) / 1000;
  return { what, topic, seconds, records: RECORDS, bytes: RECORDS * VALUE_BYTES, brokerCpu: cpuOf(served.child.pid!) - cpu, ...extra };
}

function kcatInput(file: string): void {
  const text = value.toString();
  const lines: string[] = [];
  for (let i = 0; i < RECORDS; i++) lines.push(`${key(i)}:${text}`);
  fs.writeFileSync(file, lines.join('\n') + '\n');
}

const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
const median = (xs: number[]): number => quantile(xs, 0.5);

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

/** The records of a run in batches of `batch`, built before any timing starts. */
function batchesOf(batch: number): { key: string; value: Buffer; partition: number }[][] {
  const batches = [];
  for (let i = 0; i < RECORDS; i += batch) batches.push(Array.from({ length: Math.min(batch, RECORDS - i) }, (_, j) => ({ key: key(i + j), value, partition: 0 })));
  return batches;
}

/**
 * CPU seconds per MB of `Topic.append` of every batch (with `await flush()` after each when
 * durable). With `gapMs` above 0 the appends come at that pace, as the client's batches reached
 * the broker, the process idle in between; the CPU time then counts the whole loop, timers too.
 */
async function directAppend(dir: string, batch: number, durable: boolean, gapMs = 0): Promise<number> {
  const batches = batchesOf(batch);
  const topic = Topic.open(dir, { partitions: 1 });
  const before = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < batches.length; i++) {
    topic.append(batches[i]!);
    if (durable) await topic.flush();
    if (gapMs > 0) await sleepUntil(start + (i + 1) * gapMs);
  }
  const used = process.cpuUsage(before);
  topic.close();
  return (used.user + used.system) / 1e6 / ((RECORDS * VALUE_BYTES) / MB);
}

function sleepUntil(time: number): Promise<void> {
  const ms = time - performance.now();
  return ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms));
}

/** CPU seconds per MB of `readBatches` of a whole partition in 1 MiB reads. */
function directRead(dir: string): number {
  const topic = Topic.open(dir, { partitions: 1 });
  const log = topic.partition(0);
  const before = process.cpuUsage();
  for (let offset = 0; offset < log.endOffset; ) {
    const chunk = log.readBatches(offset, { maxBytes: 1 << 20 });
    let pos = 0;
    let last = offset;
    while (pos < chunk.length) {
      last = Number(chunk.readBigInt64BE(pos)) + chunk.readInt32BE(pos + 23);
      pos += 12 + chunk.readInt32BE(pos + 8);
    }
    offset = last + 1;
  }
  const used = process.cpuUsage(before);
  topic.close();
  return (used.user + used.system) / 1e6 / ((RECORDS * VALUE_BYTES) / MB);
}

/**
 * `--direct BATCH DURABLE GAP_MS DIR`: the baseline in a fresh process, as the broker is one (none
 * of the clients' garbage or timers in it): as many warm-up appends and reads as the broker gets
 * warm-up runs (V8 takes about two runs' worth of calls to optimize the append path, and a
 * baseline timed before that would flatter the broker), then RUNS timed appends back to back,
 * RUNS timed appends paced at GAP_MS per batch (the client's pace), and RUNS timed reads of the
 * last log; prints the medians as JSON.
 */
async function directChildMain(batch: number, durable: boolean, gapMs: number, dir: string): Promise<void> {
  for (let i = 0; i < WARMUP_RUNS; i++) {
    await directAppend(path.join(dir, 'warmup'), batch, durable);
    fs.rmSync(path.join(dir, 'warmup'), { recursive: true });
  }
  const appends = [];
  const paced = [];
  for (let i = 0; i < RUNS; i++) {
    paced.push(await directAppend(path.join(dir, `paced-${i}`), batch, durable, gapMs));
    fs.rmSync(path.join(dir, `paced-${i}`), { recursive: true });
    appends.push(await directAppend(path.join(dir, `run-${i}`), batch, durable));
    if (i > 0) fs.rmSync(path.join(dir, `run-${i - 1}`), { recursive: true });
  }
  const last = path.join(dir, `run-${RUNS - 1}`);
  for (let i = 0; i < WARMUP_RUNS; i++) directRead(last);
  const reads = Array.from({ length: RUNS }, () => directRead(last));
  console.log(JSON.stringify({ append: median(appends), paced: median(paced), read: median(reads) }));
}

/** The direct calls' CPU s/MB: appends back to back, appends at the client's pace, and reads. */
interface Baseline {
  append: number;
  paced: number;
  read: number;
}

/** The direct baseline for one row (see `directChildMain`), its scratch directory removed afterwards. */
async function direct(dir: string, batch: number, durable: boolean, gapMs: number): Promise<Baseline> {
  const out = await run(process.execPath, [process.argv[1]!, '--direct', String(batch), String(durable), String(gapMs), dir]);
  fs.rmSync(dir, { recursive: true, force: true });
  return JSON.parse(out.trim().split('\n').pop()!) as Baseline;
}

/** Mean records per batch in a topic the broker wrote (the batches its client sent). */
function meanBatch(dir: string): number {
  const topic = Topic.open(dir, { readOnly: true });
  const log = topic.partition(0);
  let batches = 0;
  for (let offset = log.startOffset; offset < log.endOffset; ) {
    const chunk = log.readBatches(offset, { maxBytes: 1 << 20 });
    for (let pos = 0; pos < chunk.length; pos += 12 + chunk.readInt32BE(pos + 8)) {
      batches++;
      offset = Number(chunk.readBigInt64BE(pos)) + chunk.readInt32BE(pos + 23) + 1;
    }
  }
  const records = log.endOffset - log.startOffset;
  topic.close();
  return Math.max(1, Math.round(records / batches));
}

interface Client {
  name: string;
  durable: boolean;
  /** A client that never asks for auto-creation gets its warm-up topics created for it. */
  needsTopics?: boolean;
  produce(bootstrap: string, topic: string): Promise<{ p50: number; p99: number } | void>;
  fetch?(bootstrap: string, topic: string): Promise<void>;
}

function clients(kcatFile: string): Client[] {
  const kcatProduce = (bootstrap: string, topic: string) => run('kcat', ['-P', '-b', bootstrap, '-t', topic, '-K:', '-X', 'acks=1', '-X', 'linger.ms=5', '-l', kcatFile]).then(() => undefined);
  const kcatFetch = (bootstrap: string, topic: string) => run('kcat', ['-C', '-b', bootstrap, '-t', topic, '-e', '-q', '-o', 'beginning', '-f', '%o\n']).then(() => undefined);
  return [
    { name: 'kcat produce acks=1', durable: false, produce: kcatProduce, fetch: kcatFetch },
    { name: 'librdkafka produce acks=1 (latency)', durable: false, produce: (b, t) => pythonProduce(b, t, '1') },
    { name: 'kafkajs produce acks=1', durable: false, produce: (b, t) => kafkajsProduce(b, t, 1), fetch: (b, t) => kafkajsFetch(b, t, RECORDS) },
    { name: 'librdkafka produce acks=all flushOnAck', durable: true, produce: (b, t) => pythonProduce(b, t, 'all') },
    { name: 'kafkajs produce acks=all flushOnAck', durable: true, produce: (b, t) => kafkajsProduce(b, t, -1) },
    rawClient('raw produce acks=1 one at a time', 'seq'),
    rawClient('raw produce acks=1 4 in flight', 'pipe'),
    rawClient('raw produce acks=1 one at a time, 8 ms busy client', 'seq-busy'),
  ];
}

/** The same batch of KAFKAJS_BATCH records in every request, RECORDS records a run. */
let rawBatchBytes: Buffer | undefined;

function rawClient(name: string, mode: RawMode): Client {
  const produce = async (bootstrap: string, topic: string) => {
    if (RECORDS % KAFKAJS_BATCH !== 0) throw new Error(`raw rows need SEGLOG_BENCH_BROKER_RECORDS a multiple of ${KAFKAJS_BATCH}`);
    rawBatchBytes ??= rawBatch(KAFKAJS_BATCH, value, key);
    const latencies = await rawProduce(bootstrap, topic, rawBatchBytes, RECORDS / KAFKAJS_BATCH, mode);
    return { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) };
  };
  return { name, durable: false, needsTopics: true, produce };
}

/**
 * One client on a broker of its own: warm-up produces (and fetches), the measured produces (and
 * fetches), then its baseline with the batch size its batches had. The data is removed after each
 * client, so the page cache does not fill up over the run.
 */
async function benchClient(base: string, client: Client): Promise<Row[]> {
  const dir = path.join(base, 'broker');
  const served = await serve(dir, client.durable);
  if (client.needsTopics === true) await createTopics(served.bootstrap, Array.from({ length: WARMUP_RUNS }, (_, i) => `warmup-${i}`));
  // A long-running broker has compiled its hot paths long ago: two warm-up runs get the per-request
  // functions (called once per batch, so a few hundred times a run) through V8's optimizing tier.
  for (let i = 0; i < WARMUP_RUNS; i++) {
    await client.produce(served.bootstrap, `warmup-${i}`);
    await client.fetch?.(served.bootstrap, `warmup-${i}`);
  }
  // The measured topics exist before their runs: a client's first records would otherwise wait
  // for auto-creation and its metadata, and that wait would be the latency run's p99.
  await createTopics(served.bootstrap, Array.from({ length: RUNS }, (_, i) => `measured-${i}`));
  const produced: Row[] = [];
  for (let i = 0; i < RUNS; i++) produced.push(await measure(served, client.name, `measured-${i}`, () => client.produce(served.bootstrap, `measured-${i}`)));
  const rows = [{ ...medianRow(produced), durable: client.durable }];
  if (client.fetch !== undefined) {
    const fetchName = client.name.replace(/produce.*/, 'fetch');
    const fetched: Row[] = [];
    for (let i = 0; i < RUNS; i++) fetched.push(await measure(served, fetchName, undefined, () => client.fetch!(served.bootstrap, `measured-${i}`)));
    rows.push({ ...medianRow(fetched), durable: false });
  }
  await stop(served);
  const batch = meanBatch(path.join(dir, 'measured-0'));
  fs.rmSync(dir, { recursive: true, force: true });
  // The client's pace: the measured run's wall time spread over the batches it sent.
  const gapMs = (rows[0]!.seconds * 1000) / Math.ceil(RECORDS / batch);
  const baseline = await direct(path.join(base, 'direct'), batch, client.durable, gapMs);
  for (const row of rows) {
    row.batch = batch;
    row.baseline = row.topic === undefined ? baseline.read : baseline.append;
    if (row.topic !== undefined) row.paced = baseline.paced;
  }
  return rows;
}

async function createTopics(bootstrap: string, topics: string[]): Promise<void> {
  const admin = new Kafka({ clientId: 'bench', brokers: [bootstrap], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions: 1 })) });
  await admin.disconnect();
}

/** The run whose broker CPU time is the median of the runs (its wall time and latencies with it). */
function medianRow(runs: Row[]): Row {
  return [...runs].sort((a, b) => a.brokerCpu - b.brokerCpu)[Math.floor(runs.length / 2)]!;
}

if (process.argv[2] === '--direct') {
  await directChildMain(Number(process.argv[3]), process.argv[4] === 'true', Number(process.argv[5]), process.argv[6]!);
} else {
  await runMain(async () => {
    console.log(`seglog bench:broker: ${RECORDS} records of ${VALUE_BYTES} B per run; ${machineLine()}`);
    const base = scratchBase();
    const kcatFile = path.join(base, 'kcat-input.txt');
    kcatInput(kcatFile);
    const rows: Row[] = [];
    const chosen = clients(kcatFile).filter((c) => ONLY.length === 0 || ONLY.some((w) => c.name.includes(w)));
    for (const client of chosen) rows.push(...(await benchClient(base, client)));
    printTable(
      ['run', 'MB/s', 'records/s', 'p50 ms', 'p99 ms', 'broker CPU s/MB', 'records/batch', 'direct CPU s/MB', 'vs direct', 'paced CPU s/MB', 'vs paced'],
      rows.map((r) => {
        const mb = r.bytes / MB;
        const perMB = r.brokerCpu / mb;
        const fetch = r.topic === undefined;
        return [
          r.what,
          (mb / r.seconds).toFixed(1),
          Math.round(r.records / r.seconds).toString(),
          r.p50 === undefined ? '' : r.p50.toFixed(2),
          r.p99 === undefined ? '' : r.p99.toFixed(2),
          perMB.toFixed(5),
          fetch ? '' : String(r.batch),
          r.baseline!.toFixed(5),
          `${(perMB / r.baseline!).toFixed(2)}x ${fetch ? 'readBatches' : r.durable === true ? 'append+flush' : 'Topic.append'}`,
          r.paced === undefined ? '' : r.paced.toFixed(5),
          r.paced === undefined ? '' : `${(perMB / r.paced).toFixed(2)}x`,
        ];
      }),
    );
    console.log(`direct: Topic.append (+ flush after each batch for flushOnAck rows) of the same records in batches of the size the client sent, and readBatches in 1 MiB reads; each the median of ${RUNS} runs after ${WARMUP_RUNS} warm-up appends in a fresh process; broker rows: the median of ${RUNS} runs after ${WARMUP_RUNS} warm-up runs`);
    console.log("paced: the same direct appends, each batch at the pace the client's batches came (its run's wall time over its batches), the process idle in between as the broker is between requests");
    console.log('targets: broker CPU per MB produced <= 1.5x Topic.append, per MB fetched <= 3x readBatches');
    console.log(`p50/p99: librdkafka per record (produce() to delivery report, linger.ms=2, at most 1000 records in flight); kafkajs per send() of ${KAFKAJS_BATCH} records; raw per request of ${KAFKAJS_BATCH} records (with the queue, 4 in flight)`);
  });
}
