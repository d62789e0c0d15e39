/**
 * Shared helpers of the broker tests: a broker in this process, a raw Kafka connection speaking
 * through our codec, kafkajs tuned for short waits, and a waiting loop that polls a condition
 * instead of sleeping a fixed time.
 */
import net from 'node:net';
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import { Broker, type BrokerOptions } from '../../src/index.js';
import { decodeResponse, encodeRequest } from '../../src/broker/protocol/index.js';
import type { RequestInput, ResponseBody } from '../../src/broker/protocol/types.js';

export async function startBroker(dir: string, options: Partial<BrokerOptions> = {}): Promise<{ broker: Broker; bootstrap: string; lines: string[] }> {
  const lines: string[] = [];
  const broker = await Broker.start({ dir, port: 0, log: (line) => lines.push(line), ...options });
  return { broker, bootstrap: `127.0.0.1:${broker.port}`, lines };
}

/** kafkajs with short retries and no logging. */
export function kafkaClient(bootstrap: string, config: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({
    clientId: 'seglog-test',
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 5, initialRetryTime: 50, maxRetryTime: 500 },
    ...config,
  });
}

/** Polls `condition` every 20 ms until it holds (returns its value) or `timeoutMs` passes (throws). */
export async function waitFor<T>(condition: () => T | Promise<T>, timeoutMs = 20_000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value !== null && value !== undefined && value !== false) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A raw connection to the broker: requests encoded with our codec, responses read in order. */
export class RawClient {
  private buffered = Buffer.alloc(0);
  private readonly waiting: ((frame: Buffer | null) => void)[] = [];
  private readonly frames: Buffer[] = [];
  private nextCorrelation = 1;
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (data: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, data]);
      while (this.buffered.length >= 4) {
        const size = this.buffered.readInt32BE(0);
        if (this.buffered.length < 4 + size) break;
        this.deliver(this.buffered.subarray(4, 4 + size));
        this.buffered = this.buffered.subarray(4 + size);
      }
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiting.splice(0)) w(null);
    });
    socket.on('error', () => undefined);
  }

  static connect(bootstrap: string): Promise<RawClient> {
    const [host, port] = bootstrap.split(':');
    return new Promise((resolve, reject) => {
      const socket = net.connect(Number(port), host!, () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  private deliver(frame: Buffer): void {
    const w = this.waiting.shift();
    if (w !== undefined) w(frame);
    else this.frames.push(frame);
  }

  /** The next response frame (after its size), or null when the broker closed the connection. */
  nextFrame(): Promise<Buffer | null> {
    const frame = this.frames.shift();
    if (frame !== undefined) return Promise.resolve(frame);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Sends a request without waiting; returns its correlation id. */
  send<K extends number>(apiKey: K, version: number, body: RequestInput<K>): number {
    const correlationId = this.nextCorrelation++;
    for (const chunk of encodeRequest(apiKey, version, correlationId, 'raw-test', body)) this.socket.write(chunk);
    return correlationId;
  }

  writeRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Sends a request and decodes its response. */
  async request<K extends number>(apiKey: K, version: number, body: RequestInput<K>): Promise<ResponseBody<K>> {
    const correlationId = this.send(apiKey, version, body);
    const frame = await this.nextFrame();
    if (frame === null) throw new Error('connection closed by the broker');
    const decoded = decodeResponse(apiKey, version, frame);
    if (decoded.correlationId !== correlationId) throw new Error(`correlation id ${decoded.correlationId}, expected ${correlationId}`);
    return decoded.body;
  }

  close(): void {
    this.socket.destroy();
  }
}
