/**
 * `seglog serve --flush-on-ack` SIGKILLed while kafkajs producers send with acks=all: after a
 * restart (which recovers the logs) every acknowledged record is there exactly once, and the
 * partitions pass `seglog verify`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Topic } from '../../src/index.js';
import { CLI, ensureBuilt, seglog } from '../cli/helpers.js';
import { kafkaClient, waitFor } from './helpers.js';

function serve(dir: string): Promise<{ child: ChildProcess; bootstrap: string }> {
  const child = spawn(process.execPath, [CLI, 'serve', dir, '--port', '0', '--partitions', '3', '--flush-on-ack', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0]!;
      if (out.includes('\n')) resolve({ child, bootstrap: `127.0.0.1:${(JSON.parse(line) as { listening: { port: number } }).listening.port}` });
    });
    child.once('exit', (code) => reject(new Error(`seglog serve exited with ${code}`)));
  });
}

describe('seglog serve --flush-on-ack, killed while producing', () => {
  it('keeps every acknowledged record exactly once', async () => {
    ensureBuilt();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-broker-crash-'));
    try {
      const { child, bootstrap } = await serve(dir);
      const kafka = kafkaClient(bootstrap, { retry: { retries: 0 } });
      const acked = new Set<string>();
      let stop = false;
      const producers = await Promise.all(
        [0, 1, 2].map(async (w) => {
          const producer = kafka.producer({ allowAutoTopicCreation: true, retry: { retries: 0 } });
          await producer.connect();
          return { producer, w };
        }),
      );
      const loops = producers.map(async ({ producer, w }) => {
        for (let i = 0; !stop; i++) {
          const values = [0, 1, 2, 3].map((j) => `${w}-${i}-${j}`);
          try {
            await producer.send({ topic: 'crash', acks: -1, messages: values.map((value, j) => ({ key: `key-${j}`, value })) });
          } catch {
            return;
          }
          for (const v of values) acked.add(v);
        }
      });
      await waitFor(() => acked.size >= 400, 60_000, '400 acknowledged records');
      child.kill('SIGKILL');
      stop = true;
      await Promise.all(loops);
      await Promise.all(producers.map(({ producer }) => producer.disconnect().catch(() => undefined)));
      await new Promise((r) => (child.exitCode === null && child.signalCode === null ? child.once('exit', r) : r(null)));

      const topic = Topic.open(path.join(dir, 'crash'));
      const seen = new Map<string, number>();
      try {
        for (let p = 0; p < topic.partitions; p++) {
          for (const r of topic.partition(p).read(0, { maxBytes: 1 << 30 })) {
            const v = r.value!.toString();
            seen.set(v, (seen.get(v) ?? 0) + 1);
          }
        }
      } finally {
        topic.close();
      }
      for (const v of acked) expect(seen.get(v), v).toBe(1);
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      for (let p = 0; p < 3; p++) {
        const verified = seglog(['verify', path.join(dir, 'crash', `crash-${p}`)]);
        expect(verified.status, verified.stdout + verified.stderr).toBe(0);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
