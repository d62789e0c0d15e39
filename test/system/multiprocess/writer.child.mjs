// Writer process for multiprocess.test.ts: appends `count` records (value `v<i>`, offset i) in
// batches of 1 to 5 with short pauses, over tiny segments, running retention passes when the
// log has them; then appends `END` and prints a JSON summary.
import { Log } from '../../../dist/index.js';

const [dir, countText] = process.argv.slice(2);
const count = Number(countText);
const log = Log.open(dir, { segmentBytes: 2048, retentionBytes: 8192, fileDeleteDelayMs: 0, retentionCheckIntervalMs: 0 });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let i = log.endOffset;
let deleted = 0;
let passes = 0;
const canRetain = typeof log.applyRetention === 'function';
while (i < count) {
  const n = Math.min(count - i, 1 + Math.floor(Math.random() * 5));
  const batch = [];
  for (let j = 0; j < n; j++, i++) batch.push({ key: `k${i}`, value: `v${i}` });
  log.append(batch);
  if (Math.random() < 0.3) await sleep(Math.floor(Math.random() * 3));
  if (canRetain && i % 300 < n) {
    const result = log.applyRetention();
    deleted += typeof result === 'number' ? result : Object.values(result).reduce((a, b) => a + b, 0);
    passes++;
  }
}
log.append({ value: 'END' });
const summary = { end: log.endOffset, startOffset: log.startOffset, segments: log.segments().length, rolled: log.segments().at(-1).baseOffset > 0, retention: canRetain, passes, deleted };
log.close();
process.stdout.write(JSON.stringify(summary) + '\n');
