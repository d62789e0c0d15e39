// Writer process for reader-beside-writer.test.ts: for `ms` milliseconds, appends records whose
// value and timestamp name their offset (`v<offset>`, T0 + offset), and in between rolls,
// truncates, deletes records before an offset and runs retention, over tiny segments, so that a
// reader in another process sees files created, trimmed, renamed, cut and deleted all the time.
// Prints a JSON summary of what it did.
import { Log } from '../../dist/index.js';

const [dir, msText] = process.argv.slice(2);
const T0 = 1_700_000_000_000;
const log = Log.open(dir, {
  segmentBytes: 4096,
  retentionBytes: 64 * 1024,
  fileDeleteDelayMs: 0,
  retentionCheckIntervalMs: 0,
  indexIntervalBytes: 256,
});
const until = Date.now() + Number(msText);
const done = { appends: 0, rolls: 0, truncations: 0, deletions: 0, retention: 0 };
let step = 0;
while (Date.now() < until) {
  const end = log.endOffset;
  const n = 1 + Math.floor(Math.random() * 20);
  const batch = [];
  for (let i = 0; i < n; i++) batch.push({ key: `k${end + i}`, value: `v${end + i}`, timestamp: T0 + end + i });
  log.append(batch);
  done.appends++;
  step++;
  const dice = Math.random();
  if (dice < 0.03) {
    log.roll();
    done.rolls++;
  } else if (dice < 0.06) {
    const to = Math.max(log.startOffset, log.endOffset - 1 - Math.floor(Math.random() * 120));
    log.truncateTo(to);
    done.truncations++;
  } else if (dice < 0.07) {
    log.deleteRecordsBefore(Math.max(log.startOffset, log.endOffset - 800));
    done.deletions++;
  } else if (dice < 0.09) {
    log.applyRetention();
    done.retention++;
  }
  if (step % 25 === 0) await new Promise((resolve) => setImmediate(resolve));
}
const summary = { ...done, start: log.startOffset, end: log.endOffset, segments: log.segments().length };
log.close();
process.stdout.write(JSON.stringify(summary) + '\n');
