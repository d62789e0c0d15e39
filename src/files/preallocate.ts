/**
 * Disk blocks reserved ahead of a growing file, without changing its length: Linux's
 * `fallocate(fd, FALLOC_FL_KEEP_SIZE, offset, length)`, from seglog's addon (Node's fs has no
 * fallocate). The file's length, and so everything a reader or Kafka's tools see, stays the
 * length of the data written; only `st_blocks` shows the reservation, until an ftruncate to the
 * same length gives the blocks back.
 *
 * Why: on ext4 a write into blocks that are not yet allocated reserves space page by page
 * (delayed allocation); into reserved blocks it only copies, which makes an append of a large
 * batch measurably cheaper.
 *
 * Without the addon (see native.ts), or off Linux, or on a file system that cannot (EOPNOTSUPP),
 * nothing is reserved and files grow as they are written.
 */
import { nativeAddon } from './native.js';

/** True when this platform can reserve space (loads the addon on first call). */
export function canReserveSpace(): boolean {
  return typeof nativeAddon()?.fallocate === 'function';
}

/**
 * Reserves disk blocks for bytes [offset, offset + length) of `fd` without changing the file's
 * length. False when it could not (no support, or no space: then the writes themselves will say).
 */
export function reserveSpace(fd: number, offset: number, length: number): boolean {
  const fallocate = nativeAddon()?.fallocate;
  if (fallocate === undefined || length <= 0) return false;
  return fallocate(fd, offset, length) === 0;
}
