// Worker process for multiprocess.test.ts: a consumer that processes each record (appends its
// offset to a file, synchronously), and commits after every 10th. With `pauseAt` >= 0 it stops
// right after processing that offset, before committing it, says `paused` and waits to be
// killed; with `delayMs` it sleeps that long per record (to be killed at a random moment).
import fs from 'node:fs';
import { Log } from '../../../dist/index.js';

const [dir, processedFile, pauseAtText, delayText] = process.argv.slice(2);
const pauseAt = Number(pauseAtText);
const delayMs = Number(delayText ?? 0);
const log = Log.open(dir, { readOnly: true });
const consumer = log.consumer('worker');
let next = consumer.position();
fs.appendFileSync(processedFile, `start ${next}\n`);
for await (const r of consumer.stream()) {
  next = r.offset + 1;
  fs.appendFileSync(processedFile, `${r.offset}\n`);
  if (r.offset === pauseAt) {
    process.stdout.write('paused\n');
    setInterval(() => {}, 1000);
    await new Promise(() => {});
  }
  if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
  if ((r.offset + 1) % 10 === 0) await consumer.commit(r.offset + 1);
}
await consumer.commit(next);
log.close();
process.stdout.write('done\n');
