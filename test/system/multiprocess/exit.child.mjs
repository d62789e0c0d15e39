// For multiprocess.test.ts: follow streams ended by break, abort and return() must leave nothing
// that keeps the process alive. The logs stay open on purpose (they hold no handle); the
// process must then exit on its own.
import { Log } from '../../../dist/index.js';

const [dir] = process.argv.slice(2);
const writer = Log.open(dir);
const reader = Log.open(dir, { readOnly: true });
for (let i = 0; i < 3; i++) writer.append({ value: `v${i}` });
for await (const r of reader.stream({ follow: true })) if (r.offset === 2) break;
const controller = new AbortController();
const waiting = reader.stream({ follow: true, from: 3, signal: controller.signal }).next();
const waitingOnWriter = writer.stream({ follow: true, from: 3 });
const pending = waitingOnWriter.next();
setTimeout(() => {
  controller.abort();
  void waitingOnWriter.return();
}, 50);
await Promise.all([waiting, pending]);
process.stdout.write('ended\n');
