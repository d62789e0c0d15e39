/**
 * How the broker reads an accepted connection. Node reads a server's sockets 64 KiB at a time,
 * each read into a buffer allocated for it and passed through the Readable stream machinery to
 * a 'data' event: a 1 MB produce is 16 reads, 16 allocations whose external memory drives the
 * GC, and 16 stream pushes, which cost the broker more CPU than appending the batch. Node's
 * `onread` option reads instead into one buffer the caller owns, as much as the kernel holds (up
 * to the buffer's size) per read, with no allocation and no stream in between; but Node offers it
 * only to sockets it creates (`new net.Socket`, `net.connect`), not to a server's.
 *
 * So an accepted socket, from a server listening with `pauseOnConnect` (nothing read yet), gives
 * its handle to a `net.Socket` built with `{ handle, onread }`: the `handle` option is how Node's
 * own server wraps an accepted connection, and `_handle` where it keeps it. Neither is
 * documented, so the handle is checked for what `onread` needs first, and anything unexpected
 * leaves the accepted socket as it is, read through its 'data' events (`SEGLOG_BROKER_READS=stream`
 * chooses that path on purpose, for tests). Both paths hand `onChunk` the same bytes.
 */
import net from 'node:net';

/** Where an accepted connection's bytes go: each read, valid only until the call returns. */
export type ChunkListener = (chunk: Buffer) => void;

/**
 * The memory the connection's next read lands in, asked for before each read: the shared buffer,
 * or memory of the caller's own that the bytes are wanted in anyway (the rest of a frame being
 * assembled), which saves copying them there from the shared buffer.
 */
export type ReadTarget = () => Buffer;

/** How a connection is read: into the caller's buffer, or through Node's 'data' events. */
export type ReadPath = 'in-place' | 'stream';

/** The part of Node's TCP handle that `onread` relies on (`useUserBuffer`, since Node 12). */
interface StreamHandle {
  useUserBuffer?: unknown;
  readStart?: unknown;
}

/** The handle of an accepted socket that has read nothing yet, if `onread` can take it over. */
function adoptableHandle(socket: net.Socket): StreamHandle | null {
  if (process.env['SEGLOG_BROKER_READS'] === 'stream') return null;
  const handle = (socket as unknown as { _handle?: unknown })._handle;
  if (typeof handle !== 'object' || handle === null) return null;
  const h = handle as StreamHandle;
  return typeof h.useUserBuffer === 'function' && typeof h.readStart === 'function' && socket.bytesRead === 0 ? h : null;
}

/**
 * Starts reading `accepted` (from a server with `pauseOnConnect: true`) and returns the socket to
 * use from now on, and how it is read. In place, every read lands in the buffer `target` gives
 * for it, which may be shared by every connection of the server: the event loop runs one read
 * callback at a time, and `onChunk` keeps nothing of a chunk once it returns. Node asks `target`
 * after each read's callback for the next read's memory.
 */
export function readConnection(accepted: net.Socket, target: ReadTarget, onChunk: ChunkListener): { socket: net.Socket; path: ReadPath } {
  const handle = adoptableHandle(accepted);
  if (handle !== null) {
    let socket: net.Socket | null = null;
    try {
      socket = new net.Socket({
        handle,
        readable: true,
        writable: true,
        onread: { buffer: target, callback: (n: number, buf: Uint8Array) => void onChunk((buf as Buffer).subarray(0, n)) },
      } as net.SocketConstructorOpts);
    } catch {
      socket = null;
    }
    if (socket !== null) {
      // The accepted socket lets go of the handle, then is destroyed: that closes nothing, and
      // the server counts the connection as gone (the broker keeps its own list of connections).
      (accepted as unknown as { _handle: unknown })._handle = null;
      accepted.destroy();
      return { socket, path: 'in-place' };
    }
  }
  accepted.on('data', onChunk);
  accepted.resume();
  return { socket: accepted, path: 'stream' };
}
