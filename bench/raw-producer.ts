/**
 * A raw Kafka producer for `bench/broker.ts`: Produce v7 requests built with seglog's own protocol
 * and batch encoders, over one socket, no client library in between. It sends the same batch in
 * every request, so the client does next to no work between requests (unless asked to), and the
 * broker's cost per request can be told apart from the cost a client library's work adds.
 */
import net from 'node:net';
import { ApiKey, decodeResponse, encodeRequest, errorName } from '../src/broker/protocol/index.js';
import { encodeBatch } from '../src/record/batch-builder.js';

/** How the requests go: one at a time, four in flight, or one at a time after busy work. */
export type RawMode = 'seq' | 'pipe' | 'seq-busy';

const IN_FLIGHT = 4;
/** Client work before each `seq-busy` request: about what kafkajs spends encoding 500 records. */
const BUSY_MS = 8;
/** 2 MiB walked a line at a time: more than a core's L2 (1 MiB here), so the walk evicts it. */
const busyArea = new Float64Array(1 << 18);

/** The records as one Kafka batch (v2, uncompressed), copied out of the encoder's scratch buffer. */
export function rawBatch(records: number, value: Buffer, key: (i: number) => string): Buffer {
  const input = Array.from({ length: records }, (_, i) => ({ key: Buffer.from(key(i)), value }));
  return Buffer.from(encodeBatch(input, 0, { compression: 'none', timestampType: 'CreateTime', now: Date.now() }).buffer);
}

/** Busy work that fills the caches of the core the client runs on, for `ms` milliseconds. */
function fillCaches(ms: number): void {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) for (let i = 0; i < busyArea.length; i += 16) busyArea[i]! += x++;
}

interface Waiter {
  correlationId: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** One connection; responses come back in request order (Kafka's guarantee per connection). */
class RawConnection {
  private pending: Buffer = Buffer.alloc(0);
  private readonly waiters: Waiter[] = [];
  private correlationId = 1;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', (err) => this.failAll(err));
    socket.on('close', () => this.failAll(new Error('the broker closed the connection')));
  }

  static open(bootstrap: string): Promise<RawConnection> {
    const [host, port] = bootstrap.split(':') as [string, string];
    return new Promise((resolve, reject) => {
      const socket = net.connect(Number(port), host, () => {
        socket.off('error', reject);
        socket.setNoDelay(true);
        resolve(new RawConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Sends `batch` to partition 0 of `topic` with acks=1; resolves when its answer says no error. */
  produce(topic: string, batch: Buffer): Promise<void> {
    const correlationId = this.correlationId++;
    const chunks = encodeRequest(ApiKey.Produce, 7, correlationId, 'bench', {
      transactionalId: null,
      acks: 1,
      timeoutMs: 30_000,
      topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }],
    });
    const answered = new Promise<void>((resolve, reject) => this.waiters.push({ correlationId, resolve, reject }));
    this.socket.write(Buffer.concat(chunks));
    return answered;
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(d: Buffer): void {
    this.pending = this.pending.length === 0 ? d : Buffer.concat([this.pending, d]);
    while (this.pending.length >= 4 && this.pending.length >= 4 + this.pending.readInt32BE(0)) {
      const size = this.pending.readInt32BE(0);
      const frame = this.pending.subarray(4, 4 + size);
      this.pending = this.pending.subarray(4 + size);
      const waiter = this.waiters.shift();
      if (waiter === undefined) return this.failAll(new Error('a response nobody asked for'));
      const problem = produceProblem(frame, waiter.correlationId);
      if (problem === undefined) waiter.resolve();
      else waiter.reject(new Error(problem));
    }
  }

  private failAll(err: Error): void {
    for (const waiter of this.waiters.splice(0)) waiter.reject(err);
  }
}

/** What is wrong with a Produce v7 response (a wrong correlation id or any error code), if anything. */
function produceProblem(frame: Buffer, correlationId: number): string | undefined {
  const { correlationId: got, body } = decodeResponse(ApiKey.Produce, 7, frame);
  if (got !== correlationId) return `response to request ${got}, expected ${correlationId}`;
  for (const topic of body.responses) {
    for (const p of topic.partitionResponses) {
      if (p.errorCode !== 0) return `produce to ${topic.name}-${p.index} failed: ${errorName(p.errorCode)} (${p.errorCode})`;
    }
  }
  return undefined;
}

/**
 * Sends `batch` `requests` times to `topic` in the given mode; rejects at the first error. Returns
 * each request's latency (send to answer; with requests in flight that includes the queue).
 */
export async function rawProduce(bootstrap: string, topic: string, batch: Buffer, requests: number, mode: RawMode): Promise<number[]> {
  const connection = await RawConnection.open(bootstrap);
  const latencies: number[] = [];
  const timed = (started: number) => () => void latencies.push(performance.now() - started);
  try {
    if (mode === 'pipe') {
      const inFlight: Promise<void>[] = [];
      for (let i = 0; i < requests; i++) {
        const answered = connection.produce(topic, batch).then(timed(performance.now()));
        // A failure of a later request is reported when its turn comes, not as unhandled meanwhile.
        answered.catch(() => undefined);
        inFlight.push(answered);
        if (inFlight.length >= IN_FLIGHT) await inFlight.shift();
      }
      await Promise.all(inFlight);
    } else {
      for (let i = 0; i < requests; i++) {
        if (mode === 'seq-busy') fillCaches(BUSY_MS);
        await connection.produce(topic, batch).then(timed(performance.now()));
      }
    }
  } finally {
    connection.close();
  }
  return latencies;
}
