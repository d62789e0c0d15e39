// Child of fuzz.test.ts: runs both openers on each mutated partition directory and prints one
// JSON line per case. A call that never returns leaves a 'start' line without its result, and
// the parent, which kills this process at its deadline, names that case.
import fs from 'node:fs';

const [distIndex, casesFile] = process.argv.slice(2);
const seglog = await import(distIndex);
const cases = JSON.parse(fs.readFileSync(casesFile, 'utf8'));

const MAX_STEPS = 100_000;

/** Peak RSS of this program (VmHWM); getrusage's would include the parent's resident set at the fork. */
function peakRssKb() {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
  } catch {
    return process.resourceUsage().maxRSS;
  }
}

function out(line) {
  fs.writeSync(1, JSON.stringify(line) + '\n');
}

async function runCase(dir) {
  const problems = [];
  let maxCallMs = 0;
  let slowest = '';
  /** Runs one call; a non-seglog error is a problem, a seglog error is an allowed outcome. */
  async function call(name, fn) {
    const started = performance.now();
    try {
      return { value: await fn() };
    } catch (err) {
      if (!seglog.isSeglogError(err)) problems.push(`${name}: raw ${err?.stack ?? err}`);
      return { error: err };
    } finally {
      const ms = performance.now() - started;
      if (ms > maxCallMs) {
        maxCallMs = ms;
        slowest = name;
      }
    }
  }
  function increasing(name, offsets, floor) {
    let previous = floor - 1;
    for (const o of offsets) {
      if (!(o > previous)) {
        problems.push(`${name}: offset ${o} after ${previous}`);
        return;
      }
      previous = o;
    }
  }
  /** Reads from start to end in steps; returns the offsets. */
  function walk(name, log) {
    const offsets = [];
    let next = log.startOffset;
    const end = log.endOffset;
    if (next > end) problems.push(`${name}: startOffset ${next} > endOffset ${end}`);
    for (let steps = 0; next < end && steps < MAX_STEPS; steps++) {
      const records = log.read(next, { maxBytes: 4096 * (1 + (steps % 3)) });
      if (records.length === 0) break;
      if (records[0].offset < next) problems.push(`${name}: read(${next}) began at ${records[0].offset}`);
      for (const r of records) offsets.push(r.offset);
      next = records[records.length - 1].offset + 1;
    }
    increasing(name, offsets, 0);
    if (offsets.length > 0 && offsets[offsets.length - 1] >= end) problems.push(`${name}: offset ${offsets[offsets.length - 1]} at or past endOffset ${end}`);
    return offsets;
  }

  // Read-only opener: open, read everything, stream everything.
  const ro = await call('readOnly open', () => seglog.Log.open(dir, { readOnly: true }));
  if (ro.value !== undefined) {
    const log = ro.value;
    const walked = [];
    await call('readOnly read walk', () => walked.push(...walk('readOnly read', log)));
    const streamed = [];
    await call('readOnly stream', async () => {
      for await (const r of log.stream({ maxBytes: 4096 })) {
        streamed.push(r.offset);
        if (streamed.length >= MAX_STEPS) break;
      }
    });
    increasing('readOnly stream', streamed, 0);
    await call('readOnly offsetForTimestamp', () => log.offsetForTimestamp(1_700_000_000_000));
    await call('readOnly readBatches', () => log.readBatches(log.startOffset));
    await call('readOnly close', () => log.close());
  }

  // Writer: recover, read everything, append, read it back, reopen.
  const w = await call('writer open', () => seglog.Log.open(dir));
  let appended = null;
  if (w.value !== undefined) {
    const log = w.value;
    const end = log.endOffset;
    const walked = (await call('writer read walk', () => walk('writer read', log))).value ?? [];
    const result = await call('writer append', () => log.append({ key: 'fuzz', value: 'after recovery' }));
    if (result.value !== undefined) {
      appended = result.value.baseOffset;
      if (appended !== end) problems.push(`writer append: offset ${appended}, endOffset was ${end}`);
      if (walked.length > 0 && appended <= walked[walked.length - 1]) problems.push(`writer append: offset ${appended} not fresh (read up to ${walked[walked.length - 1]})`);
      const back = await call('writer read back', () => log.read(appended, { maxRecords: 1 }));
      if (back.value?.[0]?.offset !== appended || back.value?.[0]?.value?.toString() !== 'after recovery') {
        problems.push(`writer read back: got ${JSON.stringify(back.value?.[0]?.offset)} ${back.error ?? ''}`);
      }
    } else {
      problems.push(`writer append failed after a successful open: ${result.error}`);
    }
    await call('writer close', () => log.close());
    if (appended !== null) {
      const again = await call('writer reopen', () => seglog.Log.open(dir));
      if (again.value !== undefined) {
        if (again.value.endOffset !== appended + 1) problems.push(`writer reopen: endOffset ${again.value.endOffset}, expected ${appended + 1}`);
        await call('writer reclose', () => again.value.close());
      } else {
        problems.push(`writer reopen failed: ${again.error}`);
      }
    }
  }
  return { problems, maxCallMs: Math.round(maxCallMs), slowest, writerOpened: w.value !== undefined, appended };
}

for (const [i, dir] of cases.entries()) {
  out({ case: i, phase: 'start' });
  const result = await runCase(dir);
  out({ case: i, phase: 'done', ...result, maxRssKb: peakRssKb() });
}
