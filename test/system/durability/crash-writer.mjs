#!/usr/bin/env node
/**
 * The writer the crash test kills: `node crash-writer.mjs <partition dir> <flush|flushSync>`.
 *
 * Opens the log from the compiled package (dist/), prints `ready <endOffset> <cleanShutdown>`,
 * then appends the deterministic batches of records.mjs from the end offset on, forever. After
 * every `await log.flush()` (or `flushSync()`) it prints `ack <from> <to> <sha1>`: the offsets
 * [from, to) appended before that flush call are durable, and the SHA-1 of their records. Pipes
 * are synchronous on Linux, so a line is in the parent's pipe once written. Sometimes two flushes
 * overlap (group commit), each acknowledging its own range when it resolves.
 */
import { Log } from '../../../dist/index.js';
import { batchAt, checksum } from './records.mjs';

const [dir, mode = 'flush'] = process.argv.slice(2);
const log = Log.open(dir, {
  segmentBytes: 1024 * 1024,
  segmentIndexBytes: 64 * 1024,
  indexIntervalBytes: 4096,
  maxMessageBytes: 4 * 1024 * 1024,
});
const out = (line) => process.stdout.write(line + '\n');
out(`ready ${log.endOffset} ${log.recovery.cleanShutdown}`);

/** Appends 1 to 3 batches; returns the records appended, with their offsets. */
function appendSome() {
  const appended = [];
  const n = 1 + Math.floor(Math.random() * 3);
  for (let i = 0; i < n; i++) {
    const base = log.endOffset;
    const records = batchAt(base);
    const result = log.append(records);
    if (result.baseOffset !== base || result.lastOffset !== base + records.length - 1) {
      throw new Error(`append at ${base} returned ${JSON.stringify(result)}`);
    }
    records.forEach((r, j) => appended.push({ offset: base + j, ...r }));
  }
  return appended;
}

function ack(records) {
  out(`ack ${records[0].offset} ${records[records.length - 1].offset + 1} ${checksum(records)}`);
}

for (;;) {
  const first = appendSome();
  if (mode === 'flushSync') {
    log.flushSync();
    ack(first);
    await new Promise((resolve) => setImmediate(resolve));
    continue;
  }
  const p1 = log.flush();
  if (Math.random() < 0.3) {
    const second = appendSome();
    const p2 = log.flush();
    await p1;
    ack(first);
    await p2;
    ack(second);
  } else {
    await p1;
    ack(first);
  }
}
