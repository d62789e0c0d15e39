import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CorruptRecordError, Log } from '../../../src/index.js';
import { compress, isCompressionSupported } from '../../../src/record/compression.js';
import type { CompressionType } from '../../../src/record/types.js';
import { CLI, ensureBuilt } from '../../cli/helpers.js';
import { rawBatch } from '../../record/helpers.js';
import { logFiles, partitionDir, runChild } from './helpers.js';

/**
 * Decompression bombs: a small batch whose records section inflates far past maxDecompressedBytes
 * (16 MiB by default) is a CorruptRecordError found while inflating, so reading it costs about
 * the cap in memory, not what the batch would inflate to. Memory is the child process's peak RSS
 * (getrusage), measured around the one call.
 */

const BOMB_BYTES = 160 * 1024 * 1024;
/**
 * Peak RSS growth allowed for one call: the 16 MiB cap, its copies, and garbage the collector has
 * not yet reclaimed (measured: 0.1-34 MB on Node 20 and 26; a read-only view that read the bomb
 * again on every retry took 80-123 MB).
 */
const GROWTH_LIMIT_KB = 64 * 1024;
const CODEC_IDS: Record<string, number> = { gzip: 1, snappy: 2, lz4: 3, zstd: 4 };

/** A log of one normal record (offset 0) and, at offset 1, a batch of `records` that compresses to `compressed`. */
function logWithBatch(codec: CompressionType, section: Buffer, recordCount: number, dir = partitionDir()): string {
  return logWithPayload(codec, compress(codec, section), recordCount, dir);
}

function logWithPayload(codec: CompressionType, payload: Buffer, recordCount: number, dir = partitionDir()): string {
  const log = Log.open(dir);
  log.append({ value: 'before the bomb' });
  log.close();
  const batch = rawBatch(payload, { baseOffset: 1, attributes: CODEC_IDS[codec]!, recordCount });
  fs.appendFileSync(logFiles(dir)[0]!, batch);
  return dir;
}

/**
 * A zstd frame of BOMB_BYTES zeros that does not declare its size (no Frame_Content_Size, a
 * 128 KiB window): RLE blocks of 128 KiB, 4 bytes each, so only the running total can stop it.
 */
function undeclaredZstdZeros(): Buffer {
  const BLOCK = 128 * 1024;
  const blocks = BOMB_BYTES / BLOCK;
  const frame = Buffer.alloc(6 + blocks * 4);
  frame.writeUInt32LE(0xfd2fb528, 0);
  frame[4] = 0x00; // no content size, not single-segment, no dictionary, no checksum
  frame[5] = 7 << 3; // window 2^(10+7) = 128 KiB
  for (let i = 0; i < blocks; i++) {
    const last = i === blocks - 1 ? 1 : 0;
    frame.writeUIntLE((BLOCK << 3) | (1 << 1) | last, 6 + i * 4, 3); // an RLE block of BLOCK bytes
    frame[6 + i * 4 + 3] = 0; // the byte repeated
  }
  return frame;
}

type BombName = CompressionType | 'zstd, size undeclared';

/** The bomb `name`, in a directory of its own that lives for the whole describe block. */
function zeros(name: BombName): string {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-hostile-bomb-')), 'orders-0');
  if (name === 'zstd, size undeclared') return logWithPayload('zstd', undeclaredZstdZeros(), 1000, dir);
  return logWithBatch(name, Buffer.alloc(BOMB_BYTES), 1000, dir);
}

/** 2 million 8-byte records (one batch, a few tens of KiB compressed): 16.4 MB inflated. */
function tinyRecords(): Buffer {
  const n = 2_000_000;
  const out = Buffer.alloc(n * 8);
  for (let i = 0, p = 0; i < n; i++, p += 8) {
    // length 7 | attributes | timestamp delta 0 | offset delta (varint, 3 bytes for i < 2^20 ... kept at 0x00 here) ...
    out[p] = 14; // zigzag(7)
    out[p + 1] = 0;
    out[p + 2] = 0;
    // offset delta i as a 2-byte zigzag varint (i < 8192) or capped; the cap trips before the records matter
    out[p + 3] = 0x80 | ((i << 1) & 0x7f);
    out[p + 4] = ((i << 1) >> 7) & 0x7f;
    out[p + 5] = 1; // key length -1 (null)
    out[p + 6] = 1; // value length -1 (null)
    out[p + 7] = 0; // no headers
  }
  return out;
}

function childRead(dir: string, call: string): { code: string; growthKb: number; records: number } {
  const r = runChild(
    `const log = seglog.Log.open(process.argv[1], { readOnly: true });
     const before = peakRssKb();
     let code = 'none', records = 0;
     try { const out = ${call}; records = out.length; } catch (err) { code = seglog.isSeglogError(err) ? err.code : 'RAW ' + err; }
     const growthKb = peakRssKb() - before;
     console.log(JSON.stringify({ code, growthKb, records }));`,
    120_000,
    [dir],
  );
  expect(r.timedOut).toBe(false);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as { code: string; growthKb: number; records: number };
}

function cli(args: string[]): { status: number | null; stdout: string; maxRssKb: number } {
  ensureBuilt();
  const r = spawnSync(process.execPath, ['-r', path.join(import.meta.dirname, 'max-rss.cjs'), CLI, ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 1 << 28,
    env: { ...process.env, NO_COLOR: '1' },
  });
  const m = /MAX_RSS_KB=(\d+)/.exec(r.stderr);
  return { status: r.status, stdout: r.stdout, maxRssKb: Number(m?.[1] ?? Infinity) };
}

const codecs = (['gzip', 'lz4', 'snappy', 'zstd'] as const).filter((c) => isCompressionSupported(c));
const bombs: BombName[] = [...codecs, 'zstd, size undeclared'];

describe.each(bombs)('a %s batch that inflates to 160 MiB of zeros', (codec) => {
  let dir = '';
  beforeAll(() => {
    dir = zeros(codec);
  });
  afterAll(() => {
    fs.rmSync(path.dirname(dir), { recursive: true, force: true });
  });

  it('is a CorruptRecordError for read, read(maxRecords: 1) and readBatches-then-read, at bounded memory', () => {
    for (const call of ['log.read(1)', 'log.read(1, { maxRecords: 1 })', 'log.read(0, { maxBytes: 1 << 30 })']) {
      const result = childRead(dir, call);
      if (call.startsWith('log.read(0')) {
        // The record before the bomb comes back; the read that starts at the bomb throws.
        expect(result).toMatchObject({ code: 'none', records: 1 });
      } else {
        expect(result.code).toBe('SEGLOG_CORRUPT_RECORD');
      }
      expect(result.growthKb).toBeLessThan(GROWTH_LIMIT_KB);
    }
  });

  it('ends a stream with CorruptRecordError after the record before it', async () => {
    const log = Log.open(dir, { readOnly: true });
    const seen: number[] = [];
    let thrown: unknown;
    try {
      for await (const r of log.stream({ maxBytes: 4096 })) seen.push(r.offset);
    } catch (err) {
      thrown = err;
    }
    log.close();
    expect(seen).toEqual([0]);
    expect(thrown).toBeInstanceOf(CorruptRecordError);
    expect((thrown as Error).message).toMatch(/inflates past|could not be decompressed/);
  });

  it('costs `seglog dump --records` and `seglog verify --deep` bounded memory, and both report it', () => {
    for (const args of [['dump', dir, '--records'], ['verify', dir, '--deep']]) {
      const r = cli(args);
      expect(r.status).not.toBe(0);
      expect(r.stdout).toMatch(/inflates past/);
      expect(r.maxRssKb).toBeLessThan(GROWTH_LIMIT_KB + 120 * 1024);
    }
  });
});

describe('a batch of 2 million tiny records (a few KiB compressed)', () => {
  it('is refused past the cap instead of returning millions of records', () => {
    const dir = logWithBatch('gzip', tinyRecords(), 2_000_000);
    const result = childRead(dir, 'log.read(1, { maxBytes: 1 << 30 })');
    expect(result.code).toBe('SEGLOG_CORRUPT_RECORD');
    expect(result.growthKb).toBeLessThan(GROWTH_LIMIT_KB);
  });

  it('is read when maxDecompressedBytes allows it (the cap is the config)', () => {
    const dir = logWithBatch('gzip', Buffer.alloc(1 << 20), 1);
    const log = Log.open(dir, { readOnly: true, maxDecompressedBytes: 1 << 19 });
    expect(() => log.read(1)).toThrow(/inflates past the limit of 524288 bytes/);
    log.close();
    const roomy = Log.open(dir, { readOnly: true, maxDecompressedBytes: 2 << 20 });
    // Inflates within the cap, then fails as records (the section is zeros): a different error.
    expect(() => roomy.read(1)).toThrow(CorruptRecordError);
    expect(() => roomy.read(1)).not.toThrow(/inflates past/);
    roomy.close();
  });

  it('is inflated once by a read-only read when its records are damaged and the writer has not moved', () => {
    // Zeros inflate within the cap and fail as records: a second attempt would meet the same damage.
    const dir = logWithBatch('gzip', Buffer.alloc(1 << 20), 1);
    const log = Log.open(dir, { readOnly: true });
    const inflates = vi.spyOn(zlib, 'gunzipSync');
    try {
      expect(() => log.read(1)).toThrow(CorruptRecordError);
      expect(inflates).toHaveBeenCalledTimes(1);
    } finally {
      inflates.mockRestore();
      log.close();
    }
  });
});
