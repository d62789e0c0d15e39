import fs from 'node:fs';
import path from 'node:path';
import { LogIOError } from '../errors.js';
import { BatchCursor } from '../segment/batch-cursor.js';
import {
  CLEANED_SUFFIX,
  DELETED_SUFFIX,
  SWAP_SUFFIX,
  TMP_SUFFIX,
  isIndexFile,
  isLogFile,
  logFile,
  offsetFromFileName,
} from '../segment/file-names.js';
import { LogSegment, type SegmentOptions } from '../segment/log-segment.js';
import { LogSegments } from './log-segments.js';

/** One thing the loader repaired or removed, for the recovery report. */
export interface RecoveryAction {
  file: string;
  action: 'deleted-leftover' | 'completed-swap' | 'deleted-orphan-index' | 'rebuilt-indexes' | 'truncated' | 'deleted-after-corruption' | 'deleted-below-start';
  detail?: string;
}

/** What `Log.open` found and did. */
export interface RecoveryReport {
  /** False when the last writer did not close the log (a crash): segments past the recovery point were checked. */
  cleanShutdown: boolean;
  /** Segments whose batches were validated and whose indexes were rebuilt. */
  segmentsRecovered: number;
  /** Bytes of invalid or torn data cut from the end of the log. */
  truncatedBytes: number;
  actions: RecoveryAction[];
}

export interface LoadParams {
  dir: string;
  writable: boolean;
  cleanShutdown: boolean;
  recoveryPoint: number;
  logStartOffset: number;
  segmentOptions: (baseOffset: number) => SegmentOptions;
}

export interface LoadedLog {
  segments: LogSegments;
  logStartOffset: number;
  recoveryPoint: number;
  report: RecoveryReport;
}

/**
 * Opens a partition directory: finishes or removes what interrupted operations left
 * (`.deleted`, `.cleaned`, `.swap`, `.tmp`, index files without a `.log`), opens every segment,
 * and after an unclean shutdown recovers every segment from the recovery point on, cutting the
 * log at the first invalid byte and deleting any segment after it. Kafka's LogLoader.
 * A read-only load changes nothing on disk and recovers nothing.
 */
export class LogLoader {
  private readonly report: RecoveryReport;
  private readonly cursor: BatchCursor | null = null;

  constructor(private readonly params: LoadParams) {
    this.report = { cleanShutdown: params.cleanShutdown, segmentsRecovered: 0, truncatedBytes: 0, actions: [] };
  }

  load(): LoadedLog {
    const { params } = this;
    let names = listDirectory(params.dir);
    if (params.writable) names = this.removeLeftovers(names);
    const segments = this.openSegments(names);
    if (params.writable && !params.cleanShutdown) this.recoverFrom(segments, params.recoveryPoint);
    let logStartOffset = params.logStartOffset;
    const first = segments.firstSegment;
    if (first !== undefined) logStartOffset = Math.max(logStartOffset, first.baseOffset);
    if (params.writable) logStartOffset = this.dropIfAllBelowStart(segments, logStartOffset);
    if (segments.count === 0 && params.writable) {
      segments.add(LogSegment.create(params.dir, logStartOffset, params.segmentOptions(logStartOffset)));
    }
    const recoveryPoint = params.cleanShutdown ? this.endOffsetOf(segments, logStartOffset) : Math.min(params.recoveryPoint, this.endOffsetOf(segments, logStartOffset));
    return { segments, logStartOffset, recoveryPoint, report: this.report };
  }

  private endOffsetOf(segments: LogSegments, fallback: number): number {
    if (segments.count === 0) return fallback;
    return segments.activeSegment.readNextOffset(this.batchCursor(segments.activeSegment));
  }

  private batchCursor(segment: LogSegment): BatchCursor {
    return new BatchCursor(segment.log);
  }

  private removeLeftovers(names: string[]): string[] {
    const dir = this.params.dir;
    const cleaned = names.filter((n) => n.endsWith(CLEANED_SUFFIX));
    const minCleaned = Math.min(...cleaned.map(offsetFromFileName).filter((o) => !Number.isNaN(o)));
    for (const name of names) {
      const leftover =
        name.endsWith(DELETED_SUFFIX) ||
        name.endsWith(CLEANED_SUFFIX) ||
        name.endsWith(TMP_SUFFIX) ||
        (name.endsWith(SWAP_SUFFIX) && offsetFromFileName(name) >= minCleaned);
      if (leftover) this.remove(path.join(dir, name), 'deleted-leftover');
    }
    names = listDirectory(dir);
    this.completeSwaps(names.filter((n) => n.endsWith(SWAP_SUFFIX)));
    names = listDirectory(dir);
    const logs = new Set(names.filter(isLogFile).map(offsetFromFileName));
    for (const name of names) {
      if (isIndexFile(name) && !logs.has(offsetFromFileName(name))) this.remove(path.join(dir, name), 'deleted-orphan-index');
    }
    return listDirectory(dir);
  }

  /**
   * A `.swap` file holds a finished rewrite of the segment with its base offset. Any old segment
   * file whose base offset lies in the range the swapped segments cover is replaced.
   */
  private completeSwaps(swaps: string[]): void {
    if (swaps.length === 0) return;
    const dir = this.params.dir;
    const swapLogs = swaps.filter((n) => n.endsWith(`.log${SWAP_SUFFIX}`));
    const bases = swapLogs.map(offsetFromFileName);
    const min = Math.min(...bases);
    const maxBase = Math.max(...bases);
    for (const name of listDirectory(dir)) {
      const o = offsetFromFileName(name);
      if (name.endsWith(SWAP_SUFFIX) || Number.isNaN(o)) continue;
      if (o >= min && o <= maxBase && (isLogFile(name) || isIndexFile(name))) this.remove(path.join(dir, name), 'deleted-leftover', 'replaced by .swap');
    }
    for (const name of swaps) {
      const target = path.join(dir, name.slice(0, -SWAP_SUFFIX.length));
      fs.renameSync(path.join(dir, name), target);
      this.report.actions.push({ file: target, action: 'completed-swap' });
    }
  }

  private openSegments(names: string[]): LogSegments {
    const segments = new LogSegments();
    const bases = names.filter(isLogFile).map(offsetFromFileName).sort((a, b) => a - b);
    for (const base of bases) {
      const segment = LogSegment.open(this.params.dir, base, this.params.segmentOptions(base));
      if (this.params.writable && !segment.indexFilesExist()) this.recoverSegment(segment, 'index files missing');
      segments.add(segment);
    }
    return segments;
  }

  private recoverFrom(segments: LogSegments, recoveryPoint: number): void {
    const list = segments.values();
    const startIndex = Math.max(0, segments.floorIndex(recoveryPoint));
    for (let i = startIndex; i < list.length; i++) {
      const truncated = this.recoverSegment(list[i]!, 'unclean shutdown');
      if (truncated > 0) {
        for (const later of list.slice(i + 1)) this.deleteSegment(segments, later, 'deleted-after-corruption');
        return;
      }
    }
  }

  private recoverSegment(segment: LogSegment, why: string): number {
    const result = segment.recover(this.batchCursor(segment));
    this.report.segmentsRecovered++;
    this.report.actions.push({ file: segment.log.file, action: 'rebuilt-indexes', detail: why });
    if (result.truncatedBytes > 0) {
      this.report.truncatedBytes += result.truncatedBytes;
      this.report.actions.push({
        file: segment.log.file,
        action: 'truncated',
        detail: `cut ${result.truncatedBytes} bytes: ${result.reason ?? 'invalid data'}`,
      });
    }
    return result.truncatedBytes;
  }

  /** Kafka: when the whole log ends below the checkpointed start offset, nothing in it is kept. */
  private dropIfAllBelowStart(segments: LogSegments, logStartOffset: number): number {
    if (segments.count === 0) return logStartOffset;
    const end = this.endOffsetOf(segments, logStartOffset);
    if (end >= logStartOffset) return logStartOffset;
    for (const segment of segments.values()) this.deleteSegment(segments, segment, 'deleted-below-start');
    return logStartOffset;
  }

  private deleteSegment(segments: LogSegments, segment: LogSegment, action: RecoveryAction['action']): void {
    const files = [segment.log.file, ...siblingIndexFiles(segment)];
    segment.closeHandlers();
    for (const file of files) fs.rmSync(file, { force: true });
    segments.remove(segment.baseOffset);
    this.report.actions.push({ file: logFile(this.params.dir, segment.baseOffset), action });
  }

  private remove(file: string, action: RecoveryAction['action'], detail?: string): void {
    fs.rmSync(file, { force: true, recursive: false });
    this.report.actions.push(detail === undefined ? { file, action } : { file, action, detail });
  }
}

function siblingIndexFiles(segment: LogSegment): string[] {
  const base = segment.log.file.slice(0, -'.log'.length);
  return [`${base}.index`, `${base}.timeindex`, `${base}.txnindex`];
}

function listDirectory(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch (cause) {
    throw new LogIOError(`cannot list partition directory ${dir}: ${(cause as Error).message}`, { file: dir, cause });
  }
}
