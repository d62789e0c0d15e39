// A reader in another process, for readers.test.ts: for `ms` milliseconds it reads the whole
// compacted log over and over, through a fresh read-only open each time and through two
// long-lived read-only Logs (one of them with a single open file), and checks every read against the writer's deterministic data
// (offset o holds key `key-<o % keys>`, value `v<o>`): each key's latest record below the end
// the read saw must be there. Prints {"reads":N,"problems":[...]} and exits.
import { Log } from '../../dist/index.js';

const [dir, keysArg, msArg] = process.argv.slice(2);
const keys = Number(keysArg);
const until = Date.now() + Number(msArg);
const problems = [];
let reads = 0;

/**
 * Reads from the start to the end, the end looked up again before every read: a writer may append
 * and compact meanwhile, and a record older than the end first seen may be superseded by then.
 * The end returned is the last one seen, up to which every key's latest record must be there.
 */
function readAll(log) {
  const out = new Map();
  let next = log.startOffset;
  let end = log.endOffset;
  while (next < end) {
    const got = log.read(next, { maxBytes: 700 });
    if (got.length === 0) {
      problems.push(`read(${next}) returned nothing below the end ${end}`);
      break;
    }
    for (const r of got) {
      if (r.offset < next) problems.push(`read(${next}) returned offset ${r.offset}: duplicated or out of order`);
      out.set(r.offset, r.value.toString());
      next = r.offset + 1;
    }
    next = got[got.length - 1].offset + 1;
    end = log.endOffset;
  }
  return { end: Math.min(end, next), out };
}

function check(how, { end, out }) {
  reads++;
  for (let k = 0; k < keys && end > 0; k++) {
    const latest = end - 1 - ((end - 1 - k) % keys + keys) % keys;
    if (latest < 0) continue;
    if (out.get(latest) !== `v${latest}`) problems.push(`${how}: end ${end}, key-${k}'s latest record ${latest} is ${out.get(latest) ?? 'missing'}`);
  }
}

/** The other read APIs of the long-lived view: they must not throw either. */
function otherReads(log) {
  const segments = log.segments();
  if (segments.length === 0 || segments[segments.length - 1].endOffset < log.startOffset) problems.push('segments(): no active segment');
  if (log.readBatches(log.startOffset).length === 0 && log.startOffset < log.endOffset) problems.push('readBatches(start) returned nothing');
  if (log.offsetForTimestamp(0) === null && log.startOffset < log.endOffset) problems.push('offsetForTimestamp(0) returned null');
}

/** A stream from the start to the end it saw, as `readAll` does, checking the order. */
async function streamAll(log) {
  const out = new Map();
  let last = -1;
  for await (const r of log.stream()) {
    if (r.offset <= last) problems.push(`stream: offset ${r.offset} after ${last}`);
    last = r.offset;
    out.set(r.offset, r.value.toString());
  }
  return { end: last + 1, out };
}

const live = Log.open(dir, { readOnly: true });
// One open file at a time: every other segment is opened again by the name it was listed under,
// which a swap or a deletion may have given to another file or to none.
const few = Log.open(dir, { readOnly: true, maxOpenSegments: 1 });
while (Date.now() < until && problems.length < 20) {
  try {
    const fresh = Log.open(dir, { readOnly: true });
    try {
      check('fresh open', readAll(fresh));
    } finally {
      fresh.close();
    }
    check('long-lived view', readAll(live));
    otherReads(live);
    check('view with one open file', readAll(few));
    otherReads(few);
    check('stream', await streamAll(live));
  } catch (err) {
    problems.push(`error: ${err.stack}`);
  }
}
live.close();
few.close();
process.stdout.write(JSON.stringify({ reads, problems }) + '\n');
