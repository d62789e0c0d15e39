import fs from 'node:fs';
import path from 'node:path';
import { CorruptRecordError, isSeglogError } from '../errors.js';
import { LOG_START_OFFSET_CHECKPOINT, readCheckpoint } from '../files/checkpoint.js';
import { writeEpoch } from '../files/write-epoch.js';
import { segmentOptionsOf, type ResolvedLogConfig } from './config.js';
import type { LocalLog } from './local-log.js';
import { LogLoader } from './log-loader.js';
import { isWriterRace } from './log-reader.js';
import { isCostlyToRetry } from '../record/codec-modules.js';

/** Reloads a read-only view tries before an error in a read is taken as real (see `ReadOnlyView.read`). */
const READ_ATTEMPTS = 5;
/**
 * A read-only view answers a read inside the offsets it knows without looking at the directory
 * again when it looked less than this long ago and no writer of this process changed a file since
 * (see `ReadOnlyView.read`): a writer in another process is seen within this time.
 */
const RECHECK_MS = 2;

/**
 * What a `readOnly: true` opener adds to the log state: it keeps up with a writer in another
 * process that appends, rolls, deletes and swaps segment files under it. Before a read it looks at
 * the directory (new or removed segment files: the directory's mtime moved, so the segments are
 * listed again) and at the active segment's length; a read that fails because the writer moved a
 * file after the view listed it (`isWriterRace`) reloads every segment and is tried again. A
 * writer's `Log` has no view: its state is the truth.
 */
export class ReadOnlyView {
  private dirMtimeMs: number;
  /** When the view last looked at the directory (`performance.now()`), and the write epoch then. */
  private checkedAt = -Infinity;
  private checkedEpoch = -1;

  constructor(
    private readonly local: LocalLog,
    private readonly config: ResolvedLogConfig,
    private readonly isClosed: () => boolean,
  ) {
    this.dirMtimeMs = fs.statSync(local.dir).mtimeMs;
  }

  /**
   * Catches the view up, then runs `read`. A file renamed, deleted or cut by the writer between the
   * view's listing and its read (`LogIOError`, `CorruptRecordError`) is the writer's normal work,
   * not an error: the view reloads every segment and tries again; an error that outlasts
   * READ_ATTEMPTS reloads, or the same damage met twice, is real and thrown. With `answered`, a
   * view that looked very recently may read without looking (see RECHECK_MS); a result `answered`
   * rejects, or any error, sends it back for a real look, so only an answer found in the view
   * comes from it.
   */
  read<T>(read: () => T, answered?: (result: T) => boolean): T {
    let lastDamage: string | null = null;
    for (let attempt = 1; ; attempt++) {
      const quick = answered !== undefined && attempt === 1 && this.isRecent();
      try {
        if (!quick) this.refresh();
        const result = read();
        if (!quick || answered(result)) return result;
      } catch (err) {
        if (quick && isSeglogError(err)) {
          // The writer moved a file the view listed: the next look lists the directory again.
          if (isWriterRace(err)) this.dirMtimeMs = -1;
          continue;
        }
        if (this.isClosed() || !isWriterRace(err) || attempt >= READ_ATTEMPTS) throw err;
        if (isCostlyToRetry(err) && !this.writerMovedSinceRefresh()) throw err;
        // The same damage twice, the second time in segments loaded afresh (every batch CRC
        // checked again): the batch is damaged, not caught mid-write.
        const damage = err instanceof CorruptRecordError ? err.message : null;
        if (damage !== null && damage === lastDamage) throw err;
        lastDamage = damage;
        this.dirMtimeMs = -1;
      }
    }
  }

  /**
   * True when the writer renamed, created or deleted a file in the directory, or wrote or cut the
   * active segment, since the view last looked. A batch that inflates past the limit (a
   * decompression bomb), or whose records are damaged once inflated, is read again only then: each
   * attempt costs the inflating in memory again, and bytes torn by a writer almost never decompress
   * at all. Other errors are retried regardless, since a
   * directory's mtime can miss renames made within one clock tick on kernels without fine-grained
   * timestamps.
   */
  private writerMovedSinceRefresh(): boolean {
    try {
      if (fs.statSync(this.local.dir).mtimeMs !== this.dirMtimeMs) return true;
      return this.local.segments.count > 0 && this.local.activeSegment.log.refresh();
    } catch {
      return true; // the next look reports what became of the directory
    }
  }

  /** The view looked at the directory less than RECHECK_MS ago, with no write of this process since. */
  private isRecent(): boolean {
    return this.checkedEpoch === writeEpoch() && performance.now() - this.checkedAt < RECHECK_MS;
  }

  /**
   * New or removed segment files (the directory's mtime moved) are reloaded, and the active
   * segment's end is re-read from its file.
   */
  private refresh(): void {
    if (this.isClosed()) return;
    this.checkedEpoch = writeEpoch();
    this.checkedAt = performance.now();
    const mtime = fs.statSync(this.local.dir).mtimeMs;
    if (mtime !== this.dirMtimeMs) {
      this.dirMtimeMs = mtime;
      this.reloadSegments();
    }
    if (this.local.segments.count === 0) return;
    const active = this.local.activeSegment;
    if (active.log.refresh()) active.invalidate();
    this.local.refreshEndOffset();
  }

  private reloadSegments(): void {
    const dir = this.local.dir;
    const fresh = new LogLoader({
      dir,
      writable: false,
      cleanShutdown: true,
      recoveryPoint: 0,
      logStartOffset: readCheckpoint(path.join(dir, LOG_START_OFFSET_CHECKPOINT), this.local.tp) ?? 0,
      segmentOptions: () => segmentOptionsOf(this.config, false),
    }).load();
    this.local.replaceAll(fresh.segments, fresh.logStartOffset);
  }
}
