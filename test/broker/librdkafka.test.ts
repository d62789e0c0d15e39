/**
 * librdkafka-based clients nobody here wrote, against one seglog broker for the whole file: kcat
 * (Debian package `kcat`) and confluent-kafka for Python (`python3-confluent-kafka`, librdkafka
 * 2.0.2). `.ci/run` installs both when they are missing.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Log, type Broker } from '../../src/index.js';
import { ensureBuilt, seglog } from '../cli/helpers.js';
import { startBroker } from './helpers.js';

const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const SCRIPT = path.join(import.meta.dirname, 'clients', 'confluent.py');
const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;

let dir: string;
let broker: Broker;
let bootstrap: string;
let lines: string[];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-broker-librdkafka-'));
  ({ broker, bootstrap, lines } = await startBroker(dir, { numPartitions: 2 }));
});

afterAll(async () => {
  await broker?.close();
  expect(lines.filter((l) => !l.startsWith('created topic'))).toEqual([]);
  fs.rmSync(dir, { recursive: true, force: true });
});

function run(command: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { timeout: 60_000, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

async function python<T>(...args: (string | number)[]): Promise<T> {
  const r = await run(PYTHON, [SCRIPT, bootstrap, ...args.map(String)]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as T;
}

interface Consumed {
  partition: number;
  offset: number;
  key: string | null;
  value: string;
}

describe('kcat against seglog serve', () => {
  it('produces and consumes keyed records in every codec librdkafka offers', async () => {
    for (const codec of CODECS) {
      const input = Array.from({ length: 12 }, (_, i) => `sensor-${i % 3}:${codec}-${i}`).join('\n') + '\n';
      const produced = await run('kcat', ['-P', '-b', bootstrap, '-t', `kcat-${codec}`, '-K:', '-z', codec, '-X', 'acks=all'], input);
      expect(produced.code, produced.stderr).toBe(0);
      const consumed = await run('kcat', ['-C', '-b', bootstrap, '-t', `kcat-${codec}`, '-e', '-q', '-f', '%p %o %k %s\n']);
      expect(consumed.code, consumed.stderr).toBe(0);
      const records = consumed.stdout.trim().split('\n').map((l) => l.split(' '));
      expect(records).toHaveLength(12);
      for (let k = 0; k < 3; k++) {
        const mine = records.filter((r) => r[2] === `sensor-${k}`);
        expect(mine.map((r) => r[3])).toEqual([0, 1, 2, 3].map((j) => `${codec}-${k + 3 * j}`));
        expect(new Set(mine.map((r) => r[0])).size).toBe(1);
      }
    }
  });

  it('leaves partition directories that pass seglog verify', async () => {
    ensureBuilt();
    for (const codec of CODECS) {
      for (const p of [0, 1]) {
        const r = seglog(['verify', path.join(dir, `kcat-${codec}`, `kcat-${codec}-${p}`)]);
        expect(r.status, r.stdout + r.stderr).toBe(0);
      }
    }
  });
});

describe('confluent-kafka for Python against seglog serve', () => {
  it('produces idempotently in every codec and consumes in a group whose commits Log.consumer sees, and the other way round', async () => {
    for (const codec of CODECS) {
      const produced = await python<{ delivered: number[][]; errors: string[]; left: number }>('produce', `py-${codec}`, codec, 8);
      expect(produced.errors).toEqual([]);
      expect(produced.delivered).toHaveLength(8);
    }
    const consumed = await python<{ records: Consumed[] }>('consume', 'py-zstd', 'py-group', 8);
    expect(consumed.records.map((r) => r.value).sort()).toEqual(Array.from({ length: 8 }, (_, i) => `zstd-${i}`).sort());
    for (let k = 0; k < 4; k++) {
      const mine = consumed.records.filter((r) => r.key === `sensor-${k}`).map((r) => r.value);
      expect(mine).toEqual([`zstd-${k}`, `zstd-${k + 4}`]);
    }
    for (const p of [0, 1]) {
      const end = Math.max(0, ...consumed.records.filter((r) => r.partition === p).map((r) => r.offset + 1));
      const log = Log.open(path.join(dir, 'py-zstd', `py-zstd-${p}`), { readOnly: true });
      try {
        expect(log.consumer('py-group').committed()).toBe(end === 0 ? null : end);
        await log.consumer('seglog-side').commit(Math.min(1, log.endOffset));
      } finally {
        log.close();
      }
      const seen = await python<{ offset: number }>('committed', 'py-zstd', 'seglog-side', p);
      expect(seen.offset).toBe(Math.min(1, end));
    }
    // A member of the seglog-side group starts where the seglog consumer committed.
    const rest = await python<{ records: Consumed[] }>('consume', 'py-zstd', 'seglog-side', 6);
    expect(rest.records.every((r) => r.offset >= 1)).toBe(true);
    expect(rest.records).toHaveLength(6);
  });

  it('rebalances when a second consumer joins and when it leaves, losing nothing and handling nothing twice after a commit', async () => {
    // 30 records in each of the two partitions, values rb-0 .. rb-59.
    for (const p of [0, 1]) {
      const input = Array.from({ length: 30 }, (_, i) => `rb-${p * 30 + i}`).join('\n') + '\n';
      const produced = await run('kcat', ['-P', '-b', bootstrap, '-t', 'py-rebalance', '-p', String(p), '-X', 'acks=all'], input);
      expect(produced.code, produced.stderr).toBe(0);
    }
    interface Handled {
      who: 'a' | 'b';
      partition: number;
      offset: number;
      value: string;
    }
    const members = await python<{ handled: Handled[]; assignments: { a: number[][]; b: number[][] } }>('rebalance', 'py-rebalance', 'py-rebalancers', 60);
    // Every record handled exactly once, by one member or the other.
    expect(members.handled.map((h) => h.value).sort()).toEqual(Array.from({ length: 60 }, (_, i) => `rb-${i}`).sort());
    expect(members.handled.some((h) => h.who === 'b')).toBe(true);
    // a had both partitions, shared them with b while b was a member, and had both again after b left.
    const { a, b } = members.assignments;
    expect(a[0]).toEqual([0, 1]);
    expect(a.length).toBeGreaterThanOrEqual(3);
    expect(a.at(-1)).toEqual([0, 1]);
    expect(b[0]).toHaveLength(1);
    const moved = b[0]![0]!;
    expect(a.some((parts) => parts.length === 1 && !parts.includes(moved))).toBe(true);
    // The partition that moved went on where its last owner committed, both times.
    const onMoved = members.handled.filter((h) => h.partition === moved);
    const firstOfB = onMoved.findIndex((h) => h.who === 'b');
    const lastOfB = onMoved.findLastIndex((h) => h.who === 'b');
    expect(firstOfB).toBeGreaterThan(0);
    expect(lastOfB).toBeLessThan(onMoved.length - 1);
    expect(onMoved.map((h) => h.offset)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(onMoved.slice(firstOfB, lastOfB + 1).every((h) => h.who === 'b')).toBe(true);
    // What the group committed is every partition's end, as a seglog consumer reads it.
    for (const p of [0, 1]) {
      const log = Log.open(path.join(dir, 'py-rebalance', `py-rebalance-${p}`), { readOnly: true });
      try {
        expect(log.consumer('py-rebalancers').committed()).toBe(log.endOffset);
      } finally {
        log.close();
      }
    }
  });

  it('answers offsets for times', async () => {
    const found = await python<{ offsets: number[][] }>('times', 'py-gzip', 1_700_000_000_000 + 4000);
    // Records i=4..7 have timestamps from base+4000 on; each partition's first such offset.
    const logs = [0, 1].map((p) => Log.open(path.join(dir, 'py-gzip', `py-gzip-${p}`), { readOnly: true }));
    try {
      const expected = logs.map((log, p) => [p, log.read(0).find((r) => r.timestamp >= 1_700_000_000_000 + 4000)?.offset ?? -1]);
      expect(found.offsets).toEqual(expected);
      expect(found.offsets.some(([, o]) => o! > 0)).toBe(true);
    } finally {
      for (const log of logs) log.close();
    }
  });

  it('creates a topic with the AdminClient', async () => {
    expect(await python<{ created: boolean }>('create', 'py-made', 5)).toEqual({ created: true });
    expect(fs.existsSync(path.join(dir, 'py-made', 'py-made-4'))).toBe(true);
    const again = await python<{ created: boolean; error: string }>('create', 'py-made', 5);
    expect(again.created).toBe(false);
    expect(again.error).toMatch(/TOPIC_ALREADY_EXISTS|already exists/);
  });
});
