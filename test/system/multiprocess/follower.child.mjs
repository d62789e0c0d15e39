// Follower process for multiprocess.test.ts: a consumer of a read-only view that follows the
// log, commits every 50 records (holding back retention with retainUncommitted), stops at `END`
// and prints every record it saw as JSON.
import { Log } from '../../../dist/index.js';

const [dir, name] = process.argv.slice(2);
const log = Log.open(dir, { readOnly: true });
const consumer = log.consumer(name, { retainUncommitted: true });
const seen = [];
for await (const r of consumer.stream({ follow: true, maxBytes: 512 })) {
  const value = r.value.toString();
  if (value === 'END') {
    await consumer.commit(r.offset + 1);
    break;
  }
  seen.push([r.offset, value]);
  if (r.offset % 50 === 49) await consumer.commit(r.offset + 1);
}
log.close();
process.stdout.write(JSON.stringify(seen) + '\n');
