/**
 * The codec packages seglog loads on first use (so a platform without one's binary can still use
 * the others), and the error every codec throws when output passes the decompression limit.
 */
import { createRequire } from 'node:module';
import zlib from 'node:zlib';
import { CorruptRecordError, InvalidConfigError } from '../errors.js';
import type { CompressionType } from './types.js';

export interface Lz4Module {
  uncompressSync(data: Uint8Array): Buffer;
  decompressFrameSync(data: Buffer): Buffer;
}

export interface SnappyOptions {
  copyOutputData?: boolean;
  asBuffer?: boolean;
}

export interface SnappyModule {
  compressSync(data: Uint8Array, options?: SnappyOptions): Buffer;
  uncompressSync(data: Uint8Array, options?: SnappyOptions): Buffer | string;
}

export interface ZstdZlib {
  zstdCompressSync?: (data: Buffer) => Buffer;
  zstdDecompressSync?: (data: Buffer, options?: zlib.ZlibOptions) => Buffer;
}

export interface FzstdModule {
  Decompress: new (ondata: (chunk: Uint8Array, final: boolean) => void) => { push(chunk: Uint8Array, final?: boolean): void };
}

const require = createRequire(import.meta.url);
/** zlib's zstd functions, where this Node.js has them (22.15 on). */
export const zstdZlib = zlib as unknown as ZstdZlib;

let lz4Module: Lz4Module | undefined;
let snappyModule: SnappyModule | undefined;
let fzstdModule: FzstdModule | undefined;

function loadCodec<T>(type: CompressionType, packageName: string): T {
  try {
    return require(packageName) as T;
  } catch (err) {
    throw new InvalidConfigError(`${type} compression needs the '${packageName}' package, which failed to load`, {
      cause: err,
    });
  }
}

export function lz4(): Lz4Module {
  return (lz4Module ??= loadCodec<Lz4Module>('lz4', 'lz4-napi'));
}

export function snappy(): SnappyModule {
  return (snappyModule ??= loadCodec<SnappyModule>('snappy', 'snappy'));
}

export function fzstd(): FzstdModule {
  return (fzstdModule ??= loadCodec<FzstdModule>('zstd', 'fzstd'));
}

/** Errors made by `inflatesPast`. */
const limitErrors = new WeakSet<object>();

export function inflatesPast(type: CompressionType, maxBytes: number, cause?: unknown): CorruptRecordError {
  const err = new CorruptRecordError(`${type} data inflates past the limit of ${maxBytes} bytes (maxDecompressedBytes)`, cause === undefined ? {} : { cause });
  limitErrors.add(err);
  return err;
}

/** Errors found in the records of a section that inflated: a record damaged inside a whole, CRC-checked batch. */
const inflatedDamage = new WeakSet<object>();

/** Marks `err` as found in the records of an inflated section (see `isCostlyToRetry`). */
export function markInflatedDamage<E extends object>(err: E): E {
  inflatedDamage.add(err);
  return err;
}

/**
 * True for an error that reading the batch again would meet again at the cost of inflating it
 * again: a section past `maxDecompressedBytes`, or damage in the records of one that inflated
 * (bytes torn by a writer almost never inflate, so such damage was written that way).
 */
export function isCostlyToRetry(err: unknown): boolean {
  return isInflateLimitError(err) || inflatedDamage.has(err as object);
}

/** True for a records section refused because it inflates past `maxDecompressedBytes` (itself or as a cause). */
export function isInflateLimitError(err: unknown): boolean {
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if (limitErrors.has(e)) return true;
  }
  return false;
}
