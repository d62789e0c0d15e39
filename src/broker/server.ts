/**
 * The broker's sockets: Kafka's framing (a 4-byte size, then the request), one request at a time
 * decoded and handed to its handler as it arrives, and the responses written back in request
 * order per connection, even when an earlier one (a long-polling Fetch, a held JoinGroup) is
 * still waiting. A frame over `maxRequestBytes`, a frame that does not decode, an unknown API or
 * an unserved version closes that one connection with one log line; nothing a client sends can
 * stop the broker.
 */
import net from 'node:net';
import { FrameReader, type FrameSink } from './frame-reader.js';
import { readConnection, type ReadPath } from './socket-reads.js';
import { HANDLERS, type BrokerContext } from './handlers/index.js';
import {
  ApiKey,
  SUPPORTED_VERSIONS,
  apiName,
  decodeRequest,
  decodeRequestHeader,
  encodeResponse,
  encodeUnsupportedApiVersions,
  type RequestHeader,
} from './protocol/index.js';

/** Requests decoded but not yet answered on one connection before it stops reading. */
const MAX_IN_FLIGHT = 256;

/**
 * Bytes one socket read may take, in a buffer all connections share (see `readConnection`): a
 * whole produce of a client's default 1 MB batch in one or two reads.
 */
const READ_BUFFER_BYTES = 1024 * 1024;

interface Slot {
  chunks: Buffer[] | null;
}

/** One client connection. */
class Connection implements FrameSink {
  private readonly frames: FrameReader;
  private readonly maxRequestBytes: number;
  private readonly queue: Slot[] = [];
  private closed = false;
  private readonly name: string;
  /** Aborted when this connection or the broker closes: requests held for it answer at once. */
  private readonly gone = new AbortController();
  private readonly ctx: BrokerContext;

  private readonly socket: net.Socket;
  /** How this connection is read (see `readConnection`). */
  readonly readPath: ReadPath;

  constructor(
    accepted: net.Socket,
    readBuffer: Buffer,
    broker: BrokerContext,
    maxRequestBytes: number,
    private readonly onClose: (c: Connection) => void,
  ) {
    this.ctx = { ...broker, closing: AbortSignal.any([broker.closing, this.gone.signal]) };
    this.name = `${accepted.remoteAddress ?? '?'}:${accepted.remotePort ?? '?'}`;
    this.maxRequestBytes = maxRequestBytes;
    this.frames = new FrameReader(maxRequestBytes, this);
    const target = (): Buffer => this.frames.readTarget() ?? readBuffer;
    ({ socket: this.socket, path: this.readPath } = readConnection(accepted, target, (chunk) => this.onData(chunk)));
    this.socket.setNoDelay(true);
    this.socket.on('error', () => this.close(null));
    this.socket.on('close', () => this.close(null));
    this.socket.on('drain', () => this.maybeResume());
  }

  /** Requests still to be answered. */
  get inFlight(): number {
    return this.queue.length;
  }

  private onData(chunk: Buffer): void {
    try {
      this.frames.push(chunk);
    } catch (err) {
      // A bug, not bad input (that is handled where it is read): this connection pays, not the broker.
      this.close(`internal error: ${(err as Error)?.stack ?? String(err)}`);
      return;
    }
    this.maybePause();
  }

  /** FrameSink: the connection is read on until it closes. */
  get open(): boolean {
    return !this.closed;
  }

  /** FrameSink: a size prefix below 0 or over `maxRequestBytes`. */
  refuse(size: number): void {
    this.close(`request of ${size} bytes is over maxRequestBytes (${this.maxRequestBytes})`);
  }

  /**
   * FrameSink: one request, decoded and handed to its handler now, in arrival order (a produce
   * appends before the next request is read). `frame` may be reused once this returns.
   */
  handle(frame: Buffer): void {
    let header: RequestHeader;
    try {
      header = decodeRequestHeader(frame);
    } catch (err) {
      this.close(`malformed request header: ${(err as Error).message}`);
      return;
    }
    const range = SUPPORTED_VERSIONS.get(header.apiKey);
    const handler = HANDLERS.get(header.apiKey);
    if (range === undefined || handler === undefined) {
      this.close(`unknown API key ${header.apiKey}`);
      return;
    }
    if (header.apiVersion < range.min || header.apiVersion > range.max) {
      if (header.apiKey === ApiKey.ApiVersions) {
        this.queue.push({ chunks: encodeUnsupportedApiVersions(header.correlationId) });
        this.writeReady();
        return;
      }
      this.close(`${apiName(header.apiKey)} v${header.apiVersion} is not served (v${range.min}-${range.max})`);
      return;
    }
    let body: unknown;
    try {
      body = decodeRequest(header.apiKey, header.apiVersion, frame, header.bodyOffset);
    } catch (err) {
      this.close(`malformed ${apiName(header.apiKey)} v${header.apiVersion} request: ${(err as Error).message}`);
      return;
    }
    let result: ReturnType<typeof handler>;
    try {
      result = handler(this.ctx, body, header);
    } catch (err) {
      this.failed(header, err);
      return;
    }
    if (result instanceof Promise) this.enqueue(result, header);
    else this.answer(result, header);
  }

  /**
   * A handler that answered at once (every produce without flushOnAck): encoded and queued
   * without a promise, so the produce path allocates no closures per request.
   */
  private answer(out: unknown, header: RequestHeader): void {
    if (out === null) return; // acks=0: no response, and nothing to keep in order
    let chunks: Buffer[];
    try {
      chunks = encodeResponse(header.apiKey, header.apiVersion, header.correlationId, out as never);
    } catch (err) {
      this.failed(header, err);
      return;
    }
    this.queue.push({ chunks });
    this.writeReady();
  }

  private enqueue(response: Promise<unknown>, header: RequestHeader): void {
    const slot: Slot = { chunks: null };
    this.queue.push(slot);
    response
      .then((out) => (out === null ? [] : encodeResponse(header.apiKey, header.apiVersion, header.correlationId, out as never)))
      .then(
        (chunks) => {
          slot.chunks = chunks;
          this.writeReady();
        },
        (err: unknown) => this.failed(header, err),
      );
  }

  private failed(header: RequestHeader, err: unknown): void {
    this.close(`${apiName(header.apiKey)} v${header.apiVersion} failed: ${(err as Error)?.stack ?? String(err)}`);
  }

  /** Writes the answered responses at the head of the queue, in request order. */
  private writeReady(): void {
    if (this.closed) return;
    const head = this.queue[0];
    if (head?.chunks?.length === 1 && (this.queue.length === 1 || this.queue[1]!.chunks === null)) {
      // The common case (one produce answered, nothing behind it ready): one write, without the
      // cork and uncork that would only buffer it and take it out again.
      this.queue.shift();
      this.socket.write(head.chunks[0]!);
      this.maybeResume();
      return;
    }
    this.socket.cork();
    while (this.queue.length > 0 && this.queue[0]!.chunks !== null) {
      for (const chunk of this.queue.shift()!.chunks!) this.socket.write(chunk);
    }
    this.socket.uncork();
    this.maybeResume();
  }

  private maybePause(): void {
    if (!this.closed && (this.queue.length >= MAX_IN_FLIGHT || this.socket.writableNeedDrain)) this.socket.pause();
  }

  private maybeResume(): void {
    if (!this.closed && this.socket.isPaused() && this.queue.length < MAX_IN_FLIGHT && !this.socket.writableNeedDrain) this.socket.resume();
  }

  /** Closes the connection; `reason` (when given) is logged as one line. */
  close(reason: string | null): void {
    if (this.closed) return;
    this.closed = true;
    if (reason !== null) this.ctx.log(`closing connection ${this.name}: ${reason}`);
    this.gone.abort();
    this.socket.destroy();
    this.onClose(this);
  }

  /** Resolves once every request read so far is answered (or the connection closed). */
  async drained(): Promise<void> {
    while (!this.closed && this.queue.length > 0) await new Promise((r) => setTimeout(r, 5));
  }
}

export interface ServerOptions {
  host: string;
  port: number;
  maxRequestBytes: number;
}

/** The listening socket and its connections. */
export class KafkaServer {
  private readonly server: net.Server;
  private readonly connections = new Set<Connection>();
  private readonly readBuffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);

  private constructor(server: net.Server) {
    this.server = server;
  }

  static listen(ctx: () => BrokerContext, options: ServerOptions): Promise<KafkaServer> {
    return new Promise((resolve, reject) => {
      // Paused: a connection is read only once `readConnection` has chosen how.
      const server = net.createServer({ pauseOnConnect: true });
      const kafka = new KafkaServer(server);
      server.on('connection', (accepted) => {
        const connection = new Connection(accepted, kafka.readBuffer, ctx(), options.maxRequestBytes, (c) => kafka.connections.delete(c));
        kafka.connections.add(connection);
      });
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        server.on('error', (err) => ctx().log(`server error: ${err.message}`));
        resolve(kafka);
      });
    });
  }

  /** @internal How each open connection is read (tests check which path Node allowed). */
  get readPaths(): ReadPath[] {
    return [...this.connections].map((c) => c.readPath);
  }

  get address(): { host: string; port: number } {
    const address = this.server.address() as net.AddressInfo;
    return { host: address.address, port: address.port };
  }

  /** Stops accepting connections. */
  stopAccepting(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Waits (up to `timeoutMs`) for every connection's requests to be answered, then closes them all. */
  async closeConnections(timeoutMs: number): Promise<void> {
    const all = [...this.connections];
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)));
    await Promise.race([Promise.all(all.map((c) => c.drained())), timeout]);
    clearTimeout(timer);
    for (const c of all) c.close(null);
  }
}
