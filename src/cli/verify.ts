/** `seglog verify DIR`: checks every batch and every index entry of a partition directory. */
import fs from 'node:fs';
import path from 'node:path';
import { EXIT_OK, EXIT_PROBLEMS, InputError, flag, intOption, onePath, parseCommand, type CommandSpec } from './args.js';
import { checkSegment, type Problem, type SegmentSummary } from './check.js';
import { checkNoDuplicateKeys, cleanerOffset } from './cleaned.js';
import { Output, colorWanted, humanBytes, makeStyle, throughput, type Style } from './format.js';
import { partitionState, resolveTarget, sleep, visitLiveSegments, type PartitionListing, type SegmentFiles } from './listing.js';
import { Progress } from './progress.js';

export const verifySpec: CommandSpec = {
  name: 'verify',
  summary: 'Check every batch and index entry of a partition directory (or one segment).',
  usage: 'seglog verify DIR|FILE.log [--index-only] [--deep] [--max-problems N] [--json]',
  description: [
    'Checks, reading only:',
    '  - every batch: framing (size, magic), CRC-32C, codec, record count; torn or zero-filled tails;',
    '  - offsets increase from batch to batch, within and across segments;',
    '  - every offset-index entry (O, P): a batch starts at byte P and ends at offset O;',
    '  - every time-index entry (T, O): O ends a batch whose max timestamp is T, T is the largest',
    '    timestamp up to O, timestamps strictly increase; no entry points past the log;',
    '  - indexes of segments that are no longer active are trimmed (no zero-filled tail);',
    '  - in a compacted partition, offsets may have gaps, and no key appears twice in a segment of',
    '    the clean part (below the offset in cleaner-offset-checkpoint).',
    'Each problem names its file and byte position. Safe next to a live writer.',
    'With --json: one JSON document { ok, errors, warnings, problems: [...], segments: [...], totals }.',
    'A progress bar goes to stderr when it is a terminal and the directory is large.',
  ],
  options: {
    'index-only': { type: 'boolean', description: "skip CRCs: check framing, offsets and indexes only (like kafka-dump-log --verify-index-only)" },
    deep: { type: 'boolean', description: 'also decode every record (record framing, offsets, timestamps; decompresses)' },
    'max-problems': { type: 'string', arg: 'N', description: 'list at most N problems (default 1000; 0 = all); all are counted' },
  },
  examples: [
    'seglog verify data/sensor-data/sensor-data-0',
    'seglog verify data/sensor-data/sensor-data-0 --json | jq .problems',
    'seglog verify /var/lib/kafka/orders-3 --index-only',
    'seglog verify data/sensor-data/sensor-data-0/00000000000000002060.log --deep',
  ],
};

export interface VerifyReport {
  dir: string;
  ok: boolean;
  errors: number;
  warnings: number;
  problems: Problem[];
  problemsNotListed: number;
  segments: (SegmentSummary & { active: boolean })[];
  totals: { segments: number; batches: number; records: number; bytes: number; indexEntries: number; timeIndexEntries: number };
  /** Segments waiting for deletion (`.deleted`), not checked. */
  deletedSegments: number;
  elapsedMs: number;
  bytesPerSecond: number;
}

const LARGE_DIRECTORY_BYTES = 64 << 20;

export async function verifyCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(verifySpec, argv);
  if (parsed === null) return EXIT_OK;
  const target = onePath(parsed, 'verify', 'partition directory');
  const json = flag(parsed, 'json');
  const how: How = {
    json,
    maxProblems: intOption(parsed, 'max-problems', 'verify') ?? 1000,
    crc: !flag(parsed, 'index-only'),
    deep: flag(parsed, 'deep'),
    out: new Output(),
    style: makeStyle(!json && colorWanted(process.stdout)),
  };
  const resolved = resolveTarget(target);
  let report: VerifyReport;
  if (resolved.kind === 'dir') {
    const l = resolved.listing;
    // A live writer's .cleaned and .swap files are its cleaner's pass in progress, not leftovers;
    // an index without its .log may be a segment it is renaming or deleting one file at a time.
    const state = partitionState(l.dir);
    const live = state.writerLive;
    const leftovers = live ? [] : l.leftovers;
    const orphans = live ? stillOrphans(l.orphans) : l.orphans;
    const untrimmedFrom = state.cleanShutdown ? Infinity : recoveredFrom(l, state.recoveryPoint);
    report = verifyScope({ dir: l.dir, listing: l, orphans, leftovers, deleted: l.deleted.length, untrimmedFrom }, how);
  } else {
    if (resolved.segment.log === null) throw new InputError(`${target}: its segment has no .log file to check it against`);
    const listing = { dir: path.dirname(target), segments: [resolved.segment], deleted: [], orphans: [], leftovers: [] };
    report = verifyScope({ dir: listing.dir, listing, orphans: [], leftovers: [], deleted: 0, single: resolved.active }, how);
  }
  if (json) how.out.json(report);
  else printSummary(how.out, report, how.style);
  await how.out.drain();
  return report.ok ? EXIT_OK : EXIT_PROBLEMS;
}

/** What `verify` was asked to do, and where it prints. */
interface How {
  json: boolean;
  maxProblems: number;
  crc: boolean;
  deep: boolean;
  out: Output;
  style: Style;
}

/**
 * What `verify` checks: a directory's segments as listed (and listed again where a live writer
 * deletes or swaps them, see `visitLiveSegments`), or one named segment (`single`: whether it is
 * the active one).
 */
interface Scope {
  dir: string;
  listing: PartitionListing;
  orphans: string[];
  leftovers: string[];
  deleted: number;
  single?: boolean;
  /**
   * Segments from this base offset on may have preallocated indexes: without a clean shutdown they
   * are the ones the next open recovers (rebuilding their indexes), and a live writer's roll
   * leaves the indexes it seals to its background flush to trim (docs/DURABILITY.md).
   */
  untrimmedFrom?: number;
}

/** Base offset of the segment holding `recoveryPoint` (the first one the next open recovers); 0 without one. */
function recoveredFrom(listing: PartitionListing, recoveryPoint: number | null): number {
  let from = 0;
  for (const seg of listing.segments) if (recoveryPoint !== null && seg.baseOffset <= recoveryPoint) from = seg.baseOffset;
  return from;
}

function verifyScope(scope: Scope, how: How): VerifyReport {
  const { listing, dir } = scope;
  const { out, style, json, maxProblems } = how;
  const totalBytes = listing.segments.reduce((sum, seg) => sum + fileSize(seg), 0);
  const progress = Progress.maybe(process.stderr, totalBytes, LARGE_DIRECTORY_BYTES);
  const report: VerifyReport = {
    dir,
    ok: true,
    errors: 0,
    warnings: 0,
    problems: [],
    problemsNotListed: 0,
    segments: [],
    totals: { segments: 0, batches: 0, records: 0, bytes: 0, indexEntries: 0, timeIndexEntries: 0 },
    deletedSegments: scope.deleted,
    elapsedMs: 0,
    bytesPerSecond: 0,
  };
  const sink = (p: Problem): void => {
    if (p.severity === 'error') report.errors++;
    else report.warnings++;
    if (maxProblems !== 0 && report.problems.length >= maxProblems) {
      report.problemsNotListed++;
      return;
    }
    report.problems.push(p);
    if (!json) {
      progress?.clear();
      out.line(problemLine(p, style));
      out.flush();
    }
  };
  if (!json) {
    const n = listing.segments.length;
    const what = scope.single !== undefined ? path.basename(listing.segments[0]!.log!) : `${n} segment${n === 1 ? '' : 's'}`;
    out.line(style.bold(`Verifying ${dir}: ${what}, ${humanBytes(totalBytes)} of log`));
    out.flush();
  }
  for (const file of scope.orphans) sink({ severity: 'warning', kind: 'orphan-index', file, position: null, message: 'index file without a .log; the next open deletes it' });
  for (const file of scope.leftovers) sink({ severity: 'warning', kind: 'leftover-file', file, position: null, message: 'left by an interrupted segment rewrite; the next open finishes or removes it' });

  const started = performance.now();
  const cleanEnd = cleanerOffset(dir);
  let previousLastOffset: number | null = null;
  const check = (seg: SegmentFiles, active: boolean, problems: (p: Problem) => void): SegmentSummary => {
    progress?.file(path.basename(seg.log!));
    const preallocated = active || seg.baseOffset >= (scope.untrimmedFrom ?? Infinity);
    const summary = checkSegment(
      seg,
      { active, indexesMayBePreallocated: preallocated, previousLastOffset, crc: how.crc, indexes: true, deep: how.deep, onBytes: (n) => progress?.add(n) },
      problems,
    );
    if (cleanEnd !== null && !active && summary.lastOffset !== null && summary.lastOffset < cleanEnd) checkNoDuplicateKeys(seg, problems);
    return summary;
  };
  const keep = (_: SegmentFiles, active: boolean, summary: SegmentSummary): void => {
    if (summary.lastOffset !== null) previousLastOffset = summary.lastOffset;
    report.segments.push({ ...summary, active });
    addTotals(report.totals, summary);
  };
  try {
    const single = scope.single;
    if (single === undefined) visitLiveSegments(listing, check, keep, sink);
    else keep(listing.segments[0]!, single, check(listing.segments[0]!, single, sink));
  } finally {
    progress?.done();
  }
  report.elapsedMs = Math.round((performance.now() - started) * 1000) / 1000;
  report.bytesPerSecond = report.elapsedMs > 0 ? Math.round(report.totals.bytes / (report.elapsedMs / 1000)) : 0;
  report.ok = report.errors === 0;
  return report;
}

function addTotals(t: VerifyReport['totals'], summary: SegmentSummary): void {
  t.segments++;
  t.batches += summary.batches;
  t.records += summary.records;
  t.bytes += summary.bytes;
  t.indexEntries += summary.indexEntries ?? 0;
  t.timeIndexEntries += summary.timeIndexEntries ?? 0;
}

/** The index files of `orphans` still there and still without a `.log` beside them, a moment after the listing. */
function stillOrphans(orphans: string[]): string[] {
  if (orphans.length === 0) return orphans;
  sleep(10);
  return orphans.filter((file) => fs.existsSync(file) && !fs.existsSync(file.replace(/\.[a-z]+$/, '.log')));
}

function fileSize(seg: SegmentFiles): number {
  return seg.logSize ?? 0;
}

function problemLine(p: Problem, style: Style): string {
  const mark = p.severity === 'error' ? style.red('✗') : style.yellow('!');
  const where = p.position === null ? p.file : `${p.file} at byte ${p.position}`;
  return `${mark} ${style.bold(where)}: ${p.message} ${style.dim(`[${p.kind}]`)}`;
}

function printSummary(out: Output, r: VerifyReport, style: Style): void {
  const t = r.totals;
  out.line(
    `Checked ${t.segments} segment${t.segments === 1 ? '' : 's'}: ${t.batches} batches, ${t.records} records, ` +
      `${humanBytes(t.bytes)} of log; ${t.indexEntries} offset-index and ${t.timeIndexEntries} time-index entries` +
      style.dim(` (${(r.elapsedMs / 1000).toFixed(2)} s, ${throughput(t.bytes, r.elapsedMs)})`),
  );
  if (r.deletedSegments > 0) out.line(style.dim(`${r.deletedSegments} segment(s) pending deletion (.deleted) not checked`));
  if (r.problemsNotListed > 0) out.line(style.yellow(`${r.problemsNotListed} more problems not listed (--max-problems 0 lists all)`));
  const damagedSegments = r.segments.filter((s) => s.errors > 0).length;
  if (r.errors === 0) {
    const warn = r.warnings > 0 ? ` (${r.warnings} warning${r.warnings === 1 ? '' : 's'})` : '';
    out.line(style.green(`✓ OK: no problems${warn}`));
  } else {
    const warn = r.warnings > 0 ? ` and ${r.warnings} warning${r.warnings === 1 ? '' : 's'}` : '';
    out.line(style.red(`✗ ${r.errors} problem${r.errors === 1 ? '' : 's'}${warn} in ${damagedSegments} of ${t.segments} segments`));
  }
}
