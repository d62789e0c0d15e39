/**
 * Scans across many segments: `readBatches` returns exactly the segment files' bytes (whole
 * batches, up to the budget, across segment ends), `read` and `stream` every record once, and a
 * returned buffer or record value stays unchanged by later reads (each call's memory is its own).
 * A writer's scan maps no segment file (a mapping is for point reads).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Log } from '../../src/index.js';
import { nativeAddon } from '../../src/files/native.js';
import { tmpDir } from '../support/tmp.js';

/** A log of many small segments with batches of 1-12 records of varied sizes; returns its directory. */
function smallSegments(): string {
  const dir = path.join(tmpDir(), 'scan-0');
  const log = Log.open(dir, { segmentBytes: 16 * 1024, retentionMs: -1 });
  for (let i = 0; i < 300; i++) {
    const count = 1 + (i % 12);
    log.append(Array.from({ length: count }, (_, j) => ({ key: `k${j}`, value: Buffer.alloc((i * 37 + j * 11) % 700, 97 + (j % 26)), timestamp: 1000 + i })));
  }
  log.close();
  return dir;
}

/** The concatenated `.log` files, oldest first: what a scan of every batch must return. */
function fileBytes(dir: string): Buffer {
  const logs = fs.readdirSync(dir).filter((f) => f.endsWith('.log')).sort();
  return Buffer.concat(logs.map((f) => fs.readFileSync(path.join(dir, f))));
}

describe('scans across segments', () => {
  for (const readOnly of [false, true]) {
    it(`readBatches gives back every byte of every segment in order, within each budget (${readOnly ? 'read-only' : 'writer'})`, () => {
      const dir = smallSegments();
      const expected = fileBytes(dir);
      const log = Log.open(dir, { readOnly, segmentBytes: 16 * 1024, retentionMs: -1 });
      expect(log.segments().length).toBeGreaterThan(10);
      for (const maxBytes of [1, 3000, 16 * 1024, 40_000, 1 << 20]) {
        const parts: Buffer[] = [];
        for (let next = 0; next < log.endOffset; ) {
          const bytes = log.readBatches(next, { maxBytes });
          let at = 0;
          let batches = 0;
          while (at < bytes.length) {
            next = Number(bytes.readBigInt64BE(at)) + bytes.readInt32BE(at + 23) + 1;
            at += 12 + bytes.readInt32BE(at + 8);
            batches++;
          }
          expect(at).toBe(bytes.length);
          if (batches > 1) expect(bytes.length).toBeLessThanOrEqual(maxBytes);
          parts.push(bytes);
        }
        expect(Buffer.concat(parts).equals(expected), `maxBytes ${maxBytes}`).toBe(true);
      }
      log.close();
    });
  }

  it('read and stream give every record once, and what a call returned does not change with later calls', async () => {
    const dir = smallSegments();
    const log = Log.open(dir, { segmentBytes: 16 * 1024, retentionMs: -1 });
    const first = log.read(0, { maxBytes: 64 * 1024 });
    const firstBatches = log.readBatches(0, { maxBytes: 64 * 1024 });
    const values = first.map((r) => Buffer.from(r.value!));
    const batchCopy = Buffer.from(firstBatches);
    let count = 0;
    for (let next = 0; next < log.endOffset; ) {
      const got = log.read(next, { maxBytes: 64 * 1024 });
      expect(got[0]!.offset).toBe(next);
      got.forEach((r, i) => expect(r.offset).toBe(next + i));
      next += got.length;
      count += got.length;
      log.readBatches(next === log.endOffset ? 0 : next, { maxBytes: 64 * 1024 });
    }
    expect(count).toBe(log.endOffset);
    first.forEach((r, i) => expect(r.value!.equals(values[i]!)).toBe(true));
    expect(firstBatches.equals(batchCopy)).toBe(true);
    let streamed = 0;
    for await (const r of log.stream({ maxBytes: 5000 })) expect(r.offset).toBe(streamed++);
    expect(streamed).toBe(log.endOffset);
    log.close();
  });

  it("a writer's scans map no segment file, from its open on; a point read then maps the one it reads", async () => {
    const dir = smallSegments();
    const addon = nativeAddon();
    const map = addon === null ? null : vi.spyOn(addon, 'map');
    const log = Log.open(dir, { segmentBytes: 16 * 1024, retentionMs: -1 });
    let records = 0;
    for (let next = 0; next < log.endOffset; ) {
      const got = log.read(next);
      records += got.length;
      next = got.at(-1)!.offset + 1;
    }
    for (let next = 0; next < log.endOffset; ) next = lastOffsetIn(log.readBatches(next, { maxBytes: 40_000 })) + 1;
    for await (const r of log.stream()) records -= r.offset >= 0 ? 1 : 0;
    expect(records).toBe(0);
    // Index files are mapped writable; a `.log` is mapped read-only.
    const logMappings = (): number => map?.mock.calls.filter((call) => call[2] === false).length ?? 0;
    expect(logMappings()).toBe(0);
    const middle = Math.floor(log.endOffset / 2);
    expect(log.read(middle, { maxRecords: 1 })[0]!.offset).toBe(middle);
    if (map !== null) expect(logMappings()).toBe(1);
    log.close();
  });

  it("a writer's walks map no segment file: recovery of every segment, a compaction, an open's walk", async () => {
    const dir = smallSegments();
    // What a crash leaves: no clean-shutdown mark, the recovery point at the start.
    fs.rmSync(path.join(dir, '.kafka_cleanshutdown'));
    fs.writeFileSync(path.join(dir, 'recovery-point-offset-checkpoint'), '0\n1\nscan 0 0\n');
    const addon = nativeAddon();
    const map = addon === null ? null : vi.spyOn(addon, 'map');
    const logMappings = (): number => map?.mock.calls.filter((call) => call[2] === false).length ?? 0;
    const log = Log.open(dir, { segmentBytes: 16 * 1024, retentionMs: -1, cleanupPolicy: 'compact' });
    expect(log.recovery.cleanShutdown).toBe(false);
    expect(log.recovery.segmentsRecovered).toBeGreaterThan(10);
    const result = await log.compact();
    expect(result.segmentsCleaned).toBeGreaterThan(1);
    expect(result.recordsRemoved).toBeGreaterThan(0);
    expect(logMappings()).toBe(0);
    log.close();
    // And the next open, which walks the active segment when it has no record of the last close.
    fs.rmSync(path.join(dir, '.seglog-active-segment'), { force: true });
    const reopened = Log.open(dir, { segmentBytes: 16 * 1024, retentionMs: -1, cleanupPolicy: 'compact' });
    expect(reopened.endOffset).toBeGreaterThan(0);
    expect(logMappings()).toBe(0);
    reopened.close();
  });
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** The last offset of the last batch in `bytes` (whole batches). */
function lastOffsetIn(bytes: Buffer): number {
  let last = -1;
  for (let at = 0; at < bytes.length; at += 12 + bytes.readInt32BE(at + 8)) last = Number(bytes.readBigInt64BE(at)) + bytes.readInt32BE(at + 23);
  return last;
}
