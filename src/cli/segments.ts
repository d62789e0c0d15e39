/** `seglog segments DIR`: one row per segment, totals, and a picture of sizes and time spans. */
import { EXIT_OK, EXIT_PROBLEMS, flag, onePath, parseCommand, type CommandSpec } from './args.js';
import { checkSegment, type Problem, type SegmentSummary } from './check.js';
import {
  Output,
  bar,
  colorWanted,
  humanBytes,
  humanDuration,
  isoTime,
  makeStyle,
  sparkline,
  table,
  timeStrip,
  type Style,
} from './format.js';
import { VanishedFileError, listPartition, partitionState, visitLiveSegments, type PartitionListing, type PartitionState, type SegmentFiles } from './listing.js';
import { cleanerOffset } from './cleaned.js';

export const segmentsSpec: CommandSpec = {
  name: 'segments',
  summary: 'List the segments of a partition directory, with totals and a picture of sizes and time spans.',
  usage: 'seglog segments DIR [--json]',
  description: [
    'One row per segment: base offset, END (exclusive: the offset after its last batch), records,',
    'batches, bytes, first and max timestamp (ISO 8601), offset-index and time-index entries, and',
    'state: active (the last segment), sealed, deleted-pending (renamed .deleted, waiting for its',
    'delayed deletion), plus "needs recovery" when the last writer did not shut down cleanly and',
    '"damaged" when the framing is broken (run verify for CRCs and indexes). Then the totals and',
    'a picture: one bar per segment scaled to the largest, and where its records fall in time, so',
    'a skewed segment or a gap in time or offsets shows at a glance.',
    'A compacted partition (one with a cleaner-offset-checkpoint) also shows, per sealed segment,',
    'whether it is in the clean part (below the cleaner offset) or the dirty part.',
    'With --json: one JSON document { startOffset, endOffset, bytes, segments: [...] }.',
  ],
  options: {},
  examples: [
    'seglog segments data/sensor-data/sensor-data-0',
    'seglog segments /var/lib/kafka/orders-3 --json | jq ".segments[0]"',
  ],
};

export interface SegmentRow {
  baseOffset: number;
  /** Exclusive end: the offset after the last batch (the base offset when empty). */
  endOffset: number;
  lastOffset: number | null;
  records: number;
  batches: number;
  bytes: number;
  firstTimestamp: number;
  maxTimestamp: number;
  firstTime: string | null;
  maxTime: string | null;
  indexEntries: number | null;
  timeIndexEntries: number | null;
  state: 'active' | 'sealed' | 'deleted-pending';
  /** Compacted partitions: 'clean' below the cleaner's offset, 'dirty' from it on; null otherwise. */
  part: 'clean' | 'dirty' | null;
  needsRecovery: boolean;
  damaged: boolean;
  files: { log: string | null; index: string | null; timeIndex: string | null; txnIndex: string | null };
  /** Internal: smallest timestamp seen, for the picture. */
  spanStart: number;
}

export async function segmentsCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(segmentsSpec, argv);
  if (parsed === null) return EXIT_OK;
  const dir = onePath(parsed, 'segments', 'partition directory');
  const json = flag(parsed, 'json');
  const { live, deleted, problems } = rowsOf(listPartition(dir));
  const state = partitionState(dir);
  markRecovery(live, state);
  const cleanEnd = cleanerOffset(dir);
  if (cleanEnd !== null) for (const r of live) r.part = r.endOffset <= cleanEnd && r.state !== 'active' ? 'clean' : 'dirty';

  const first = live[0];
  const last = live[live.length - 1];
  const startOffset = Math.max(state.logStartCheckpoint ?? 0, first?.baseOffset ?? 0);
  const endOffset = last === undefined ? startOffset : last.endOffset;
  const totals = {
    startOffset,
    endOffset,
    bytes: sum(live, (r) => r.bytes),
    records: sum(live, (r) => r.records),
    batches: sum(live, (r) => r.batches),
  };
  const rows = [...live, ...deleted].sort((a, b) => a.baseOffset - b.baseOffset || (a.state === 'deleted-pending' ? -1 : 1));
  const out = new Output();
  if (json) {
    out.json({
      dir,
      ...totals,
      cleanShutdown: state.cleanShutdown,
      recoveryPoint: state.recoveryPoint,
      cleanerOffset: cleanEnd,
      writerLive: state.writerLive,
      writerPid: state.writerPid,
      segments: rows.map(({ spanStart: _, ...r }) => r),
      problems,
    });
  } else {
    const style = makeStyle(colorWanted(process.stdout));
    printHuman(out, dir, rows, totals, state, problems, style);
  }
  await out.drain();
  return problems.length > 0 ? EXIT_PROBLEMS : EXIT_OK;
}

/** A row per segment of `listing`, and the errors found on the way. */
function rowsOf(listing: PartitionListing): { live: SegmentRow[]; deleted: SegmentRow[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const sink = (p: Problem): void => {
    if (p.severity === 'error') problems.push(p);
  };
  const live: SegmentRow[] = [];
  const check = (seg: SegmentFiles, active: boolean, problems: (p: Problem) => void): SegmentSummary => checkSegment(seg, light(active), problems);
  visitLiveSegments(listing, check, (seg, active, summary) => live.push(toRow(seg, summary, active ? 'active' : 'sealed')), sink);
  const deleted: SegmentRow[] = [];
  for (const seg of listing.deleted) {
    try {
      deleted.push(toRow(seg, checkSegment(seg, light(false), sink), 'deleted-pending'));
    } catch (err) {
      // Its delay passed while the others were read: the writer removed it, as it should.
      if (!(err instanceof VanishedFileError)) throw err;
    }
  }
  return { live, deleted, problems };
}

function light(active: boolean): Parameters<typeof checkSegment>[1] {
  return { active, previousLastOffset: null, crc: false, indexes: false, deep: false };
}

function toRow(seg: SegmentFiles, s: SegmentSummary, state: SegmentRow['state']): SegmentRow {
  const spanCandidates = [s.firstTimestamp, s.minTimestamp].filter((t) => t >= 0);
  return {
    baseOffset: seg.baseOffset,
    endOffset: s.lastOffset === null ? seg.baseOffset : s.lastOffset + 1,
    lastOffset: s.lastOffset,
    records: s.records,
    batches: s.batches,
    bytes: s.bytes,
    firstTimestamp: s.firstTimestamp,
    maxTimestamp: s.maxTimestamp,
    firstTime: s.firstTimestamp >= 0 ? isoTime(s.firstTimestamp) : null,
    maxTime: s.maxTimestamp >= 0 ? isoTime(s.maxTimestamp) : null,
    indexEntries: s.indexEntries,
    timeIndexEntries: s.timeIndexEntries,
    state,
    part: null,
    needsRecovery: false,
    damaged: s.errors > 0,
    files: { log: seg.log, index: seg.index, timeIndex: seg.timeIndex, txnIndex: seg.txnIndex },
    spanStart: spanCandidates.length > 0 ? Math.min(...spanCandidates) : -1,
  };
}

/**
 * Without a clean-shutdown mark and with no live writer holding the lock, the next open recovers
 * every segment from the one holding the recovery point on (all of them without a checkpoint).
 */
function markRecovery(rows: SegmentRow[], state: PartitionState): void {
  if (state.cleanShutdown || state.writerLive) return;
  const point = state.recoveryPoint ?? 0;
  let from = 0;
  rows.forEach((r, i) => {
    if (r.baseOffset <= point) from = i;
  });
  for (let i = from; i < rows.length; i++) rows[i]!.needsRecovery = true;
}

function sum<T>(items: T[], f: (t: T) => number): number {
  return items.reduce((n, t) => n + f(t), 0);
}

function stateText(r: SegmentRow, style: Style): string {
  const parts: string[] = [r.state === 'deleted-pending' ? style.dim(r.state) : r.state === 'active' ? style.cyan(r.state) : r.state];
  if (r.part !== null) parts.push(r.part === 'clean' ? style.green('clean') : style.yellow('dirty'));
  if (r.needsRecovery) parts.push(style.yellow('needs recovery'));
  if (r.damaged) parts.push(style.red('damaged'));
  return parts.join(', ');
}

function printHuman(
  out: Output,
  dir: string,
  rows: SegmentRow[],
  totals: { startOffset: number; endOffset: number; bytes: number; records: number; batches: number },
  state: PartitionState,
  problems: Problem[],
  style: Style,
): void {
  const liveCount = rows.filter((r) => r.state !== 'deleted-pending').length;
  const writer = state.writerPid !== null ? ` (pid ${state.writerPid})` : '';
  const shutdown = state.writerLive ? style.cyan(`open by a live writer${writer}`) : state.cleanShutdown ? 'closed cleanly' : style.yellow('not closed cleanly: the next open recovers');
  out.line(`${style.bold(dir)}  ${style.dim('·')}  ${shutdown}`);
  out.line();
  const cells = rows.map((r) => {
    const dim = r.state === 'deleted-pending' ? style.dim : (s: string): string => s;
    return [
      dim(String(r.baseOffset)),
      dim(String(r.endOffset)),
      dim(String(r.records)),
      dim(String(r.batches)),
      dim(humanBytes(r.bytes)),
      dim(r.firstTime ?? '-'),
      dim(r.maxTime ?? '-'),
      r.indexEntries === null ? style.dim('none') : String(r.indexEntries),
      r.timeIndexEntries === null ? style.dim('none') : String(r.timeIndexEntries),
      stateText(r, style),
    ];
  });
  const columns = [
    { header: 'BASE', align: 'right' as const },
    { header: 'END', align: 'right' as const },
    { header: 'RECORDS', align: 'right' as const },
    { header: 'BATCHES', align: 'right' as const },
    { header: 'SIZE', align: 'right' as const },
    { header: 'FIRST TIMESTAMP' },
    { header: 'MAX TIMESTAMP' },
    { header: 'INDEX', align: 'right' as const },
    { header: 'TIMEINDEX', align: 'right' as const },
    { header: 'STATE' },
  ];
  for (const line of table(columns, cells, style)) out.line(line);
  out.line();
  out.line(
    `${style.bold('Total')}: start offset ${totals.startOffset}, end offset ${totals.endOffset}, ` +
      `${humanBytes(totals.bytes)} (${totals.bytes} bytes) in ${liveCount} segment${liveCount === 1 ? '' : 's'}, ` +
      `${totals.records} records in ${totals.batches} batches`,
  );
  const pending = rows.filter((r) => r.state === 'deleted-pending');
  if (pending.length > 0) out.line(style.dim(`plus ${pending.length} segment(s) pending deletion, ${humanBytes(sum(pending, (r) => r.bytes))}`));
  for (const p of problems) out.line(style.red(`✗ ${p.file} at byte ${p.position}: ${p.message}`));
  if (problems.length > 0) out.line(style.dim(`(run 'seglog verify ${dir}' for CRCs and index checks)`));
  out.line();
  picture(out, rows, style);
}

/** The size bars and time strips, one row per segment; a sparkline when there are many segments. */
function picture(out: Output, rows: SegmentRow[], style: Style): void {
  const width = Math.max(60, Math.min(160, process.stdout.columns ?? 100));
  const withTime = rows.filter((r) => r.spanStart >= 0 && r.maxTimestamp >= 0);
  const axisStart = withTime.length > 0 ? Math.min(...withTime.map((r) => r.spanStart)) : -1;
  const axisEnd = withTime.length > 0 ? Math.max(...withTime.map((r) => r.maxTimestamp)) : -1;
  const largest = Math.max(1, ...rows.map((r) => r.bytes));
  const axis =
    axisStart >= 0
      ? `${isoTime(axisStart)} → ${isoTime(axisEnd)} (${humanDuration(axisEnd - axisStart)})`
      : 'no timestamps';

  if (rows.length > 40) {
    const cols = width - 8;
    const live = rows.filter((r) => r.state !== 'deleted-pending');
    out.line(style.dim(`sizes, one column per segment, oldest first (largest ${humanBytes(largest)}):`));
    for (let i = 0; i < live.length; i += cols) out.line(`  ${sparkline(live.slice(i, i + cols).map((r) => r.bytes), largest)}`);
    out.line(style.dim(`time covered, ${axis}:`));
    const cells = new Array<boolean>(cols).fill(false);
    for (const r of withTime) {
      const strip = timeStrip(r.spanStart, r.maxTimestamp, axisStart, axisEnd, cols);
      for (let i = 0; i < cols; i++) if (strip[i] !== ' ') cells[i] = true;
    }
    out.line(`  ${cells.map((c) => (c ? '█' : style.dim('·'))).join('')}`);
    return;
  }

  const label = Math.max(4, ...rows.map((r) => String(r.baseOffset).length));
  const sizeText = Math.max(...rows.map((r) => humanBytes(r.bytes).length));
  const free = width - label - sizeText - 6;
  const sizeWidth = Math.max(10, Math.floor(free * 0.4));
  const timeWidth = Math.max(10, free - sizeWidth);
  out.line(
    style.dim(`${''.padStart(label)}  ${`size (bar = ${humanBytes(largest)})`.padEnd(sizeWidth + sizeText + 1)}  time ${axis}`),
  );
  let previousEnd: number | null = null;
  for (const r of rows) {
    const deleted = r.state === 'deleted-pending';
    if (!deleted && previousEnd !== null && r.baseOffset > previousEnd) {
      out.line(style.yellow(`${''.padStart(label)}  ┄ offsets ${previousEnd}..${r.baseOffset - 1} are in no segment`));
    }
    const sizeBar = bar(r.bytes / largest, sizeWidth).padEnd(sizeWidth);
    const strip = r.spanStart >= 0 ? timeStrip(r.spanStart, r.maxTimestamp, axisStart, axisEnd, timeWidth) : ' '.repeat(timeWidth);
    const paint = deleted ? style.dim : r.damaged ? style.red : r.state === 'active' ? style.cyan : (s: string): string => s;
    out.line(
      `${String(r.baseOffset).padStart(label)}  ${paint(sizeBar)} ${humanBytes(r.bytes).padStart(sizeText)}  ${style.dim('▕')}${paint(strip)}${style.dim('▏')}`,
    );
    if (!deleted) previousEnd = r.endOffset;
  }
}
