#!/usr/bin/env node
/**
 * The cleaner the crash test kills: `node compact-child.mjs <partition dir> <clock ms>`.
 * Opens the compacted log from the compiled package (dist/) with a fixed clock, prints `ready`,
 * then runs one compaction pass, prints `pass <ms>`, and waits to be killed.
 */
import { Log } from '../../dist/index.js';

const [dir, clock] = process.argv.slice(2);
const now = Number(clock);
const log = Log.open(dir, { cleanupPolicy: 'compact', segmentBytes: 4096, cleanerBackoffMs: 0, retentionCheckIntervalMs: 0, fileDeleteDelayMs: 0, clock: () => now });
process.stdout.write('ready\n');
const result = await log.compact();
process.stdout.write(`pass ${Math.round(result.durationMs)}\n`);
// Stay alive (holding the log open, as a live writer would) until killed.
setInterval(() => undefined, 1000);
