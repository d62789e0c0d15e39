/**
 * The next segment's files, made before its roll and off the appending thread: a roll that
 * creates three files by name spends most of its time in the file system's create (an inode and
 * a directory entry each, with the journal), and a roll happens inside the `append` call that
 * crosses `segmentBytes`. Here the `.log`, `.index` and `.timeindex` are made on a thread of their
 * own (not the libuv thread pool, which a roll's background flush fills with long fdatasyncs) as
 * unnamed files (Linux `open(O_TMPFILE)`), the indexes at their preallocated size and the
 * `.log` with its disk blocks reserved (`preparedReserveBytes`), and the roll only gives each its
 * name (`linkat`).
 *
 * Unnamed, they are in no directory listing: Kafka's loader, seglog's loader and a read-only
 * opener in another process see nothing of them, and a crash before the roll names them leaves
 * nothing behind (the file system frees unnamed files). What a roll leaves named is what a roll
 * by create leaves, in the same order (`.log`, then `.index`, then `.timeindex`), so a crash in
 * the middle of one leaves what it always did.
 *
 * Linux with seglog's addon only; elsewhere, or on a file system without O_TMPFILE, rolls create
 * the files by name as before. Nothing here waits for that thread except `drop`, at close.
 */
import { nativeAddon } from './native.js';
import { adoptDescriptor, closeDescriptor } from './descriptors.js';

/** Which file of a segment: the order in which a roll names them. */
export const PREPARED_LOG = 0;
export const PREPARED_OFFSET_INDEX = 1;
export const PREPARED_TIME_INDEX = 2;

/** The descriptors prepared files handed out and not yet closed (tests check that none leak). */
let openDescriptors = 0;

/** Prepared files given a name so far (tests check that rolls use them). */
let named = 0;

/** @internal Descriptors of prepared files not yet named or closed, in this process. */
export function preparedDescriptorsOpen(): number {
  return openDescriptors;
}

/** @internal Prepared files named so far by rolls in this process. */
export function preparedFilesNamed(): number {
  return named;
}

/** The three files of one future segment, made or being made. */
export class PreparedSegmentFiles {
  /** Set once taken: the descriptors, -1 for one named or closed since. */
  private fds: number[] | null = null;
  /** Bytes of disk blocks reserved at the start of the `.log`. */
  private reservedBytes = 0;

  private constructor(private handle: unknown) {}

  /**
   * Starts making the files in `dir`: the indexes `offsetIndexBytes` and `timeIndexBytes` long,
   * `reserveBytes` reserved for the `.log`. Null where this cannot be done (no addon, not Linux).
   */
  static start(dir: string, offsetIndexBytes: number, timeIndexBytes: number, reserveBytes: number): PreparedSegmentFiles | null {
    const prepareFiles = nativeAddon()?.prepareFiles;
    if (prepareFiles === undefined) return null;
    try {
      return new PreparedSegmentFiles(prepareFiles(dir, [0, offsetIndexBytes, timeIndexBytes], reserveBytes));
    } catch {
      return null;
    }
  }

  /**
   * `'made'` once the files are made (from then on `name` hands them out), `'making'` while they
   * are being made, `'failed'` when they could not be (the file system has no O_TMPFILE, no space).
   */
  state(): 'made' | 'making' | 'failed' {
    if (this.fds !== null) return 'made';
    const result = nativeAddon()!.takeFiles!(this.handle);
    if (result === null) return 'making';
    if (typeof result === 'number') {
      this.fds = [];
      return 'failed';
    }
    this.fds = result.fds;
    this.reservedBytes = result.reserved;
    openDescriptors += result.fds.length;
    return 'made';
  }

  /** Bytes of blocks reserved at the start of the `.log` (0 when none could be). */
  get reserved(): number {
    return this.reservedBytes;
  }

  /**
   * Names file `which` (see PREPARED_LOG...) `path` and hands its descriptor to the caller; null
   * when that name is taken or the file cannot be named (then it is closed, and the caller
   * creates the file by name).
   */
  name(which: number, path: string): number | null {
    const fd = this.fds?.[which] ?? -1;
    if (fd < 0) return null;
    this.fds![which] = -1;
    openDescriptors--;
    if (nativeAddon()!.linkFile!(fd, path) === 0) {
      named++;
      adoptDescriptor(fd);
      return fd;
    }
    closeQuietly(fd);
    return null;
  }

  /** Closes whatever was not named (and waits for the files to be made, if they are still being made). */
  drop(): void {
    if (this.fds === null) {
      nativeAddon()!.dropFiles!(this.handle);
      return;
    }
    for (let i = 0; i < this.fds.length; i++) {
      const fd = this.fds[i]!;
      if (fd < 0) continue;
      this.fds[i] = -1;
      openDescriptors--;
      closeQuietly(fd);
    }
  }
}

function closeQuietly(fd: number): void {
  adoptDescriptor(fd);
  try {
    closeDescriptor(fd);
  } catch {
    // An unnamed file's descriptor: closing it frees the file; a failure loses nothing of ours.
  }
}
