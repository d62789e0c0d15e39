/** `seglog dump PATH`: the batches (and records) of a partition or a `.log`, or an index's entries. */
import path from 'node:path';
import { CorruptRecordError, isSeglogError } from '../errors.js';
import { readBaseOffset, readLastOffset, readMaxTimestamp } from '../record/batch-layout.js';
import { batchOrderProblem } from '../record/batch-rules.js';
import { decodeRecords } from '../record/batch-reader.js';
import { DEFAULT_CONFIG } from '../log/config.js';
import type { LogRecord } from '../record/types.js';
import {
  EXIT_OK,
  EXIT_PROBLEMS,
  UsageError,
  VALUE_FORMAT_OPTIONS,
  flag,
  formatOption,
  intOption,
  onePath,
  parseCommand,
  timeOption,
  type CommandSpec,
} from './args.js';
import { checkSegment, type Problem } from './check.js';
import { Output, colorWanted, humanBytes, isoTime, makeStyle, type Style } from './format.js';
import { batchJson, batchLine, recordJson, recordLine, viewBatch, type Formats } from './records.js';
import {
  FileWindow,
  baseName,
  offsetEntry,
  readRawIndex,
  scanLog,
  timeEntry,
  type Damage,
} from './scan.js';
import { VanishedFileError, listPartition, resolveTarget, type SegmentFiles } from './listing.js';

export const dumpSpec: CommandSpec = {
  name: 'dump',
  summary: 'Print the batches (and records) of a partition or segment, or the entries of an index file.',
  usage: 'seglog dump PATH [--records] [--from OFFSET | --from-time TIME] [--limit N] [--value-format FMT] [--json]',
  description: [
    'PATH is a partition directory (all its segments, in order) or one file: N.log (its batches),',
    'N.index or N.timeindex (its entries, each checked against the segment\'s .log as Kafka\'s',
    '--verify-index-only does; problems are shown next to the entry).',
    'Per batch: offsets, record count, byte position and size, CRC and whether it is valid, codec,',
    'timestamp type, first and max timestamp, leader epoch, producer id/epoch/sequences, flags.',
    'With --records, each record under its batch: offset, timestamp, key, headers, value.',
    'Damaged bytes are reported where they are and skipped to the next valid batch.',
    'With --json: JSON lines, one object per segment, batch, record or problem ({"type": ...}).',
  ],
  options: {
    records: { type: 'boolean', short: 'r', description: 'print every record too' },
    from: { type: 'string', arg: 'OFFSET', description: 'start at the batch (or record) holding OFFSET' },
    'from-time': { type: 'string', arg: 'TIME', description: 'start at the first record at or after TIME (ISO 8601 or epoch ms)' },
    limit: { type: 'string', short: 'n', arg: 'N', description: 'stop after N batches (N records with --records; N entries for an index)' },
    ...VALUE_FORMAT_OPTIONS,
  },
  examples: [
    'seglog dump data/sensor-data/sensor-data-0 --limit 3',
    'seglog dump data/sensor-data/sensor-data-0 --records --from 4321 --limit 5 --value-format json',
    'seglog dump data/sensor-data/sensor-data-0 --records --from-time 2026-11-24T08:01:00Z -n 2',
    'seglog dump data/sensor-data/sensor-data-0/00000000000000000000.index',
    'seglog dump data/sensor-data/sensor-data-0/00000000000000002060.log --json | jq -c "select(.type==\\"batch\\")"',
  ],
};

interface DumpOptions {
  json: boolean;
  records: boolean;
  from: number | undefined;
  fromTime: number | undefined;
  limit: number;
  formats: Formats;
  style: Style;
  out: Output;
}

export async function dumpCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(dumpSpec, argv);
  if (parsed === null) return EXIT_OK;
  const target = onePath(parsed, 'dump', 'path (a partition directory or a segment file)');
  const from = intOption(parsed, 'from', 'dump');
  const fromTime = timeOption(parsed, 'from-time', 'dump');
  if (from !== undefined && fromTime !== undefined) throw new UsageError('--from and --from-time cannot be combined', 'dump');
  const json = flag(parsed, 'json');
  const options: DumpOptions = {
    json,
    records: flag(parsed, 'records'),
    from,
    fromTime,
    limit: intOption(parsed, 'limit', 'dump') ?? Infinity,
    formats: { key: formatOption(parsed, 'key-format', 'dump'), value: formatOption(parsed, 'value-format', 'dump') },
    style: makeStyle(!json && colorWanted(process.stdout)),
    out: new Output(),
  };
  const resolved = resolveTarget(target);
  let problems: number;
  if (resolved.kind === 'dir') {
    problems = dumpDirectory(resolved.listing.dir, options);
  } else if (resolved.type === 'log') {
    problems = dumpSegments([resolved.segment], options);
  } else {
    problems = dumpIndex(resolved.file, resolved.type, resolved.segment, resolved.active, options);
  }
  await options.out.drain();
  return problems > 0 ? EXIT_PROBLEMS : EXIT_OK;
}

// ---------------------------------------------------------------------------------------------
// Batches

/** Where dumping starts: the first segment to read, the position in it, and what to skip until. */
interface Start {
  segment: number;
  position: number;
}

/**
 * A directory's batches. When a writer deleted or swapped away a segment after the listing (the
 * file is gone when its turn comes), the directory is listed again and the dump goes on after the
 * last batch it read, as a reader would: nothing twice, nothing the log still holds skipped.
 */
function dumpDirectory(dir: string, o: DumpOptions): number {
  const progress: DumpProgress = { printed: 0, problems: 0, previousLastOffset: -1 };
  // Listings in a row that got nowhere: nothing new printed, and the file that vanished belonged
  // to no later segment than the last one that did (retention deleting ahead of the dump is
  // progress: the dump goes on from the segments left).
  let fruitless = 0;
  let vanishedBase = -1;
  for (;;) {
    const listing = listPartition(dir);
    const printedBefore = progress.printed;
    // After a vanished file: go on after the last batch read once something was printed (an
    // offset seek); before that, seek again where asked.
    const resume = progress.printed > 0 ? { ...o, from: progress.previousLastOffset + 1, fromTime: undefined } : o;
    try {
      return dumpSegments(listing.segments, resume, progress);
    } catch (err) {
      if (!(err instanceof VanishedFileError)) throw err;
      const moved = progress.printed > printedBefore || err.baseOffset > vanishedBase;
      vanishedBase = Math.max(vanishedBase, err.baseOffset);
      fruitless = moved ? 0 : fruitless + 1;
      if (fruitless >= DUMP_LISTING_ATTEMPTS) throw err;
    }
  }
}

/** Listings in a row that print nothing new, their files vanishing under the dump, before the error stands. */
const DUMP_LISTING_ATTEMPTS = 5;

/** How far a dump got: records (or batches) printed, problems found, the last offset of the last batch read (-1: none). */
interface DumpProgress {
  printed: number;
  problems: number;
  previousLastOffset: number;
}

function dumpSegments(segments: SegmentFiles[], o: DumpOptions, p: DumpProgress = { printed: 0, problems: 0, previousLastOffset: -1 }): number {
  const start = o.from !== undefined ? startAtOffset(segments, o.from) : o.fromTime !== undefined ? startAtTime(segments, o.fromTime) : { segment: 0, position: 0 };
  let seeking = o.from !== undefined || o.fromTime !== undefined;
  const records: LogRecord[] = [];
  for (let s = start.segment; s < segments.length && p.printed < o.limit; s++) {
    const seg = segments[s]!;
    const file = seg.log!;
    const win = FileWindow.open(file);
    try {
      if (o.json) o.out.json({ type: 'segment', file, baseOffset: seg.baseOffset, bytes: win.size });
      else o.out.line(o.style.bold(`── ${file}  ${o.style.dim(`base offset ${seg.baseOffset}, ${humanBytes(win.size)}`)}`));
      scanLog(
        win,
        {
          batch: (buf, at, position, size) => {
            if (seeking && !reachesStart(buf, at, o)) return true;
            // Offsets must increase from batch to batch, across segments too.
            const order = batchOrderProblem(readBaseOffset(buf, at), readLastOffset(buf, at), p.previousLastOffset);
            p.previousLastOffset = readLastOffset(buf, at);
            const view = viewBatch(buf, at, position, size);
            if (!view.crcValid || view.header === null) p.problems++;
            if (order !== null) p.problems += reportProblem(o, file, position, 'offset-order', order);
            if (!o.records) {
              p.printed++;
              seeking = false;
              if (o.json) o.out.json(batchJson(view, file));
              else o.out.line(batchLine(view, o.style));
              return p.printed < o.limit;
            }
            records.length = 0;
            const error = decodeInto(buf, at, position, file, records);
            // Seeking: print the batch only if one of its records is at or after the start.
            const shown = seeking ? records.filter((r) => recordReachesStart(r, o)) : records;
            const firstShown = shown[0];
            if (seeking && firstShown === undefined && error === null) return true;
            if (seeking && firstShown !== undefined) {
              const i = records.indexOf(firstShown);
              records.splice(0, i);
            }
            seeking = false;
            if (o.json) o.out.json(batchJson(view, file));
            else o.out.line(batchLine(view, o.style));
            const control = view.header?.isControl === true;
            for (const r of records) {
              if (p.printed >= o.limit) break;
              p.printed++;
              if (o.json) o.out.json(recordJson(r, o.formats, control));
              else o.out.line(`  ${recordLine(r, o.formats, control, o.style)}`);
            }
            if (error !== null) {
              p.problems++;
              if (o.json) o.out.json({ type: 'problem', file, position, kind: 'bad-records', message: error });
              else o.out.line(`  ${o.style.red(`✗ ${error}`)}`);
            }
            return p.printed < o.limit;
          },
          damage: (d: Damage) => {
            p.problems++;
            if (o.json) o.out.json({ type: 'problem', file, position: d.position, kind: d.kind, message: d.message });
            else o.out.line(o.style.red(`✗ ${file} at byte ${d.position}: ${d.message}`));
          },
        },
        s === start.segment ? start.position : 0,
      );
    } finally {
      win.close();
    }
  }
  return p.problems;
}

/** Prints one problem (as `verify` names it); returns 1, the count to add. */
function reportProblem(o: DumpOptions, file: string, position: number, kind: string, message: string): number {
  if (o.json) o.out.json({ type: 'problem', file, position, kind, message });
  else o.out.line(o.style.red(`✗ ${file} at byte ${position}: ${message}`));
  return 1;
}

/** Batch-level test for the seek: the batch holds the start offset, or reaches the start time. */
function reachesStart(buf: Buffer, at: number, o: DumpOptions): boolean {
  if (o.from !== undefined) return readLastOffset(buf, at) >= o.from;
  return readMaxTimestamp(buf, at) >= o.fromTime!;
}

function recordReachesStart(r: LogRecord, o: DumpOptions): boolean {
  return o.from !== undefined ? r.offset >= o.from : r.timestamp >= o.fromTime!;
}

/** Decodes the batch's records into `out`; returns an error message, or null. */
function decodeInto(buf: Buffer, at: number, position: number, file: string, out: LogRecord[]): string | null {
  try {
    decodeRecords(buf, at, out, -Infinity, Number.MAX_SAFE_INTEGER, { file: baseName(file), position, maxDecompressedBytes: DEFAULT_CONFIG.maxDecompressedBytes });
    return null;
  } catch (err) {
    if (err instanceof CorruptRecordError) return err.message;
    if (isSeglogError(err)) return `records not shown: ${(err as Error).message}`;
    throw err;
  }
}

/** The segment holding `offset` and the position its offset index gives (0 when it has none or it looks wrong). */
function startAtOffset(segments: SegmentFiles[], offset: number): Start {
  let segment = 0;
  segments.forEach((s, i) => {
    if (s.baseOffset <= offset) segment = i;
  });
  const seg = segments[segment];
  if (seg === undefined) return { segment: 0, position: 0 };
  return { segment, position: indexedPosition(seg, offset) };
}

/** Offset index lookup: the position of the last entry with offset <= target, checked against the log. */
function indexedPosition(seg: SegmentFiles, target: number): number {
  const index = readRawIndex(seg.index, 8);
  if (index === null || seg.log === null) return 0;
  let best = { offset: -1, position: 0 };
  for (let n = 0; n < index.entries; n++) {
    const e = offsetEntry(index, seg.baseOffset, n);
    if (e.offset > target) break;
    best = e;
  }
  if (best.offset < 0) return 0;
  // Trust the entry only if a batch ending at its offset starts there.
  const win = FileWindow.open(seg.log, 4096);
  try {
    if (best.position < 0 || best.position + 61 > win.size) return 0;
    const at = win.at(best.position, 61);
    return at >= 0 && readLastOffset(win.buf, at) === best.offset ? best.position : 0;
  } finally {
    win.close();
  }
}

/**
 * Kafka's time lookup: the first segment whose largest timestamp reaches `timestamp`, then in it the
 * time index entry at or below it, and that entry's offset through the offset index.
 */
function startAtTime(segments: SegmentFiles[], timestamp: number): Start {
  for (let s = 0; s < segments.length; s++) {
    const seg = segments[s]!;
    const index = readRawIndex(seg.timeIndex, 12);
    const active = s === segments.length - 1;
    if (index === null || index.entries === 0) return { segment: s, position: 0 };
    const last = timeEntry(index, seg.baseOffset, index.entries - 1);
    // A closed segment's last entry carries its largest timestamp; skip segments that end before.
    if (!active && last.timestamp < timestamp) continue;
    let offset = -1;
    for (let n = 0; n < index.entries; n++) {
      const e = timeEntry(index, seg.baseOffset, n);
      if (e.timestamp > timestamp) break;
      offset = e.offset;
    }
    return { segment: s, position: offset < 0 ? 0 : indexedPosition(seg, offset) };
  }
  return { segment: segments.length, position: 0 };
}

// ---------------------------------------------------------------------------------------------
// Index files

function dumpIndex(file: string, type: 'index' | 'timeindex', seg: SegmentFiles, active: boolean, o: DumpOptions): number {
  const entrySize = type === 'index' ? 8 : 12;
  const index = readRawIndex(file, entrySize)!;
  const { style, out } = o;
  // Check the entries against the log, as verify does, keeping this file's problems.
  const byEntry = new Map<number, Problem[]>();
  const general: Problem[] = [];
  const checked = seg.log !== null;
  if (checked) {
    const segForCheck = type === 'index' ? { ...seg, index: file } : { ...seg, timeIndex: file };
    checkSegment(segForCheck, { active, previousLastOffset: null, crc: false, indexes: true, deep: false }, (p) => {
      if (p.file !== file) return;
      if (p.entry !== undefined) byEntry.set(p.entry, [...(byEntry.get(p.entry) ?? []), p]);
      else general.push(p);
    });
  }
  const name = type === 'index' ? 'offset index' : 'time index';
  if (o.json) {
    out.json({ type: 'index', file, indexType: type, baseOffset: seg.baseOffset, entries: index.entries, zeroSlots: index.zeroSlots, bytes: index.length, checkedAgainst: seg.log });
  } else {
    const against = checked ? `checked against ${baseName(seg.log!)}` : style.yellow('no .log beside it: entries not checked');
    const zeros = index.zeroSlots > 0 ? `, then ${index.zeroSlots} zero-filled slots` : '';
    out.line(style.bold(`── ${file}  `) + style.dim(`${name} of segment ${seg.baseOffset}: ${index.entries} entries${zeros}; ${against}`));
  }
  let printed = 0;
  for (let n = 0; n < index.entries && printed < o.limit; n++) {
    const problems = byEntry.get(n) ?? [];
    if (type === 'index') {
      const e = offsetEntry(index, seg.baseOffset, n);
      if (o.from !== undefined && e.offset < o.from) continue;
      printed++;
      if (o.json) out.json({ type: 'indexEntry', entry: n, indexPosition: n * 8, offset: e.offset, position: e.position, ok: problems.length === 0, problems: problems.map((p) => p.message) });
      else out.line(`${style.dim('offset')} ${e.offset}  ${style.dim('position')} ${e.position}${marks(problems, checked, style)}`);
    } else {
      const e = timeEntry(index, seg.baseOffset, n);
      if (o.from !== undefined && e.offset < o.from) continue;
      if (o.fromTime !== undefined && e.timestamp < o.fromTime) continue;
      printed++;
      if (o.json) out.json({ type: 'timeIndexEntry', entry: n, indexPosition: n * 12, timestamp: e.timestamp, time: isoTime(e.timestamp), offset: e.offset, ok: problems.length === 0, problems: problems.map((p) => p.message) });
      else out.line(`${style.dim('timestamp')} ${e.timestamp} ${style.dim(isoTime(e.timestamp))}  ${style.dim('offset')} ${e.offset}${marks(problems, checked, style)}`);
    }
  }
  for (const p of general) {
    if (o.json) out.json({ type: 'problem', file: p.file, position: p.position, kind: p.kind, message: p.message, severity: p.severity });
    else out.line(style.red(`✗ ${path.basename(p.file)} at byte ${p.position}: ${p.message}`));
  }
  const total = general.filter((p) => p.severity === 'error').length + [...byEntry.values()].reduce((n, ps) => n + ps.length, 0);
  if (!o.json && checked) out.line(total === 0 ? style.green(`✓ every entry agrees with ${baseName(seg.log!)}`) : style.red(`✗ ${total} problem${total === 1 ? '' : 's'}`));
  return total;
}

function marks(problems: Problem[], checked: boolean, style: Style): string {
  if (!checked) return '';
  if (problems.length === 0) return '';
  return '  ' + problems.map((p) => style.red(`✗ ${p.message}`)).join('; ');
}
