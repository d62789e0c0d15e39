/**
 * `seglog serve` as a user runs it: one "listening on" line, read-only readers and `seglog tail -f`
 * working next to it, and a clean close on SIGTERM (exit 0, clean-shutdown marks written).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Log } from '../../src/index.js';
import { CLI, ensureBuilt, seglog } from '../cli/helpers.js';
import { kafkaClient, waitFor } from './helpers.js';

describe('seglog serve DIR', () => {
  it('serves clients next to read-only readers and tail -f, and closes cleanly on SIGTERM', async () => {
    ensureBuilt();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-broker-cli-'));
    const server = spawn(process.execPath, [CLI, 'serve', dir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let tail: ReturnType<typeof spawn> | null = null;
    try {
      let out = '';
      server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      const line = await waitFor(() => (out.includes('\n') ? out.split('\n')[0] : null), 30_000, 'the listening line');
      expect(line).toMatch(/^listening on 127\.0\.0\.1:\d+$/);
      const bootstrap = line.slice('listening on '.length);
      const producer = kafkaClient(bootstrap).producer();
      await producer.connect();
      await producer.send({ topic: 'sensors', messages: [{ key: 'a', value: 'first' }] });

      const partition = path.join(dir, 'sensors', 'sensors-0');
      let followed = '';
      tail = spawn(process.execPath, [CLI, 'tail', partition, '-f', '-n', '1', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      tail.stdout!.on('data', (d: Buffer) => (followed += d.toString()));
      await waitFor(() => followed.includes('first'), 20_000, 'tail to print the first record');
      await producer.send({ topic: 'sensors', messages: [{ key: 'b', value: 'second' }] });
      await waitFor(() => followed.includes('second'), 20_000, 'tail -f to print the new record');
      await producer.disconnect();

      const reader = Log.open(partition, { readOnly: true });
      expect(reader.read(0).map((r) => r.value!.toString())).toEqual(['first', 'second']);
      reader.close();
      const listed = seglog(['segments', partition]);
      expect(listed.status).toBe(0);

      server.kill('SIGTERM');
      const code = await new Promise<number | null>((r) => server.once('exit', (c) => r(c)));
      expect(code).toBe(0);
      expect(fs.existsSync(path.join(partition, '.kafka_cleanshutdown'))).toBe(true);
    } finally {
      tail?.kill('SIGKILL');
      server.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
