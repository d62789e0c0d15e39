/** `seglog tail DIR [-n N] [-f]`: the last records, then (with -f) new ones as a writer appends them. */
import { Log } from '../log/log.js';
import type { LogRecord } from '../record/types.js';
import {
  EXIT_OK,
  VALUE_FORMAT_OPTIONS,
  flag,
  formatOption,
  intOption,
  onePath,
  parseCommand,
  type CommandSpec,
} from './args.js';
import { Output, colorWanted, makeStyle } from './format.js';
import { recordJson, recordLine, type Formats } from './records.js';
import { listPartition } from './listing.js';

export const tailSpec: CommandSpec = {
  name: 'tail',
  summary: 'Print the last records of a partition; with -f, follow new appends by a live writer.',
  usage: 'seglog tail DIR [-n N] [-f] [--value-format FMT] [--json]',
  description: [
    'Prints the last N records (default 10), oldest first. With -f it then waits for new records',
    'appended by a writer in another process and prints them as they arrive, until Ctrl-C.',
    'Opens the directory read-only: no lock is taken, the writer is not disturbed.',
    'With --json: JSON lines, one record per line.',
  ],
  options: {
    lines: { type: 'string', short: 'n', arg: 'N', description: 'how many of the last records to print first (default 10)' },
    follow: { type: 'boolean', short: 'f', description: 'keep printing records as they are appended' },
    ...VALUE_FORMAT_OPTIONS,
  },
  examples: [
    'seglog tail data/sensor-data/sensor-data-0',
    'seglog tail data/sensor-data/sensor-data-0 -n 3 --value-format json',
    'seglog tail data/sensor-data/sensor-data-0 -f -n 0 --json | jq -c .value',
  ],
};

export async function tailCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(tailSpec, argv);
  if (parsed === null) return EXIT_OK;
  const dir = onePath(parsed, 'tail', 'partition directory');
  const count = intOption(parsed, 'lines', 'tail') ?? 10;
  const follow = flag(parsed, 'follow');
  const json = flag(parsed, 'json');
  const formats: Formats = { key: formatOption(parsed, 'key-format', 'tail'), value: formatOption(parsed, 'value-format', 'tail') };
  listPartition(dir); // a clear error for a missing or non-partition directory
  const style = makeStyle(!json && colorWanted(process.stdout));
  const out = new Output();
  const print = (r: LogRecord): void => {
    if (json) out.json(recordJson(r, formats, false));
    else out.line(recordLine(r, formats, false, style));
  };

  const log = Log.open(dir, { readOnly: true });
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const end = log.endOffset;
    for (const r of await lastRecords(log, count, end)) print(r);
    out.flush();
    if (!follow) return EXIT_OK;
    for await (const r of log.stream({ from: end, follow: true, signal: controller.signal })) {
      print(r);
      out.flush();
    }
    return EXIT_OK;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    log.close();
    await out.drain();
  }
}

/**
 * The last `count` records before `end`. Offsets can have gaps (compaction, control batches), so
 * it reads back from further and further until it has enough or reaches the start.
 */
async function lastRecords(log: Log, count: number, end: number): Promise<LogRecord[]> {
  if (count === 0) return [];
  const start = log.startOffset;
  for (let back = count; ; back *= 4) {
    const from = Math.max(start, end - back);
    const records: LogRecord[] = [];
    for await (const r of log.stream({ from })) {
      if (r.offset >= end) break;
      records.push(r);
    }
    if (records.length >= count || from === start) return records.slice(-count);
  }
}
