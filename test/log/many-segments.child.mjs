// Child of many-segments.test.ts, run under `ulimit -n 256`: opens the log of many one-record
// segments (`write` or `read` only), reads every record, makes random point reads and timestamp
// lookups, appends (writer: each append rolls a new segment), closes, and prints a JSON summary
// with the most descriptors it saw open.
import fs from 'node:fs';
import { Log } from '../../dist/index.js';

const [dir, mode] = process.argv.slice(2);
const T0 = 1_700_000_000_000;
let maxFds = 0;
const countFds = () => {
  maxFds = Math.max(maxFds, fs.readdirSync('/proc/self/fd').length);
};
const fail = (message) => {
  throw new Error(message);
};
const check = (r) => {
  if (r.value.toString() !== `v${r.offset}` || r.timestamp !== T0 + r.offset) fail(`wrong record at ${r.offset}`);
};

const t0 = performance.now();
const times = {};
const lap = (name) => {
  times[name] = Math.round(performance.now() - t0);
};
const log = Log.open(dir, mode === 'read' ? { readOnly: true } : { segmentBytes: 100 });
const start = log.startOffset;
const end = log.endOffset;
lap('open');
let records = 0;
for (let at = start; at < end; ) {
  const batch = log.read(at, { maxRecords: 997 });
  if (batch.length === 0 || batch[0].offset !== at) fail(`read at ${at} returned ${batch[0]?.offset}`);
  for (const r of batch) check(r);
  at += batch.length;
  records += batch.length;
  countFds();
}
lap('scan');
let state = 12345;
for (let i = 0; i < 3000; i++) {
  state = (state * 1103515245 + 12345) % 2 ** 31;
  const offset = start + (state % (end - start));
  const [r] = log.read(offset, { maxRecords: 1 });
  if (r === undefined || r.offset !== offset) fail(`point read at ${offset}`);
  check(r);
  const found = log.offsetForTimestamp(T0 + offset);
  if (found !== offset) fail(`offsetForTimestamp(${T0 + offset}) = ${found}, not ${offset}`);
  if (i % 100 === 0) countFds();
}
lap('points');
const segmentsBefore = log.segments().length;
if (mode !== 'read') {
  for (let i = 0; i < 50; i++) {
    const offset = log.endOffset;
    log.append({ value: `v${offset}`, timestamp: T0 + offset });
  }
  const [r] = log.read(end, { maxRecords: 1 });
  check(r);
}
countFds();
const summary = { records, segments: segmentsBefore, end: log.endOffset, maxFds, times };
log.close();
lap('close');
process.stdout.write(JSON.stringify(summary) + '\n');
