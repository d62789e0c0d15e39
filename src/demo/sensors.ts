#!/usr/bin/env node
/**
 * The quick-start demo: simulated sensor readings keyed by sensor id go into a real partition
 * directory under ./data, in Kafka's format, small segments so several appear; then it seeks by
 * offset and by timestamp and lists the segment files on disk.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Log } from '../index.js';

const DIR = path.resolve(process.argv[2] ?? 'data/sensor-data-0');
const SENSORS = ['sensor-A1', 'sensor-A2', 'sensor-B1', 'sensor-B2', 'sensor-C1'];
const READINGS = 20_000;
const START = Date.parse('2026-11-24T08:00:00Z');
const STEP_MS = 5;

interface Reading {
  sensor_id: string;
  timestamp: number;
  temperature_c: number;
  humidity_pct: number;
}

function reading(i: number): Reading {
  const sensor = SENSORS[i % SENSORS.length]!;
  const phase = i / 500;
  return {
    sensor_id: sensor,
    timestamp: START + i * STEP_MS,
    temperature_c: Math.round((20 + 5 * Math.sin(phase) + (i % 7) / 10) * 10) / 10,
    humidity_pct: Math.round((45 + 10 * Math.cos(phase)) * 10) / 10,
  };
}

function main(): void {
  fs.rmSync(DIR, { recursive: true, force: true });
  const log = Log.open(DIR, { segmentBytes: 256 * 1024, indexIntervalBytes: 4096, clock: () => START });
  const batch = [];
  for (let i = 0; i < READINGS; i++) {
    const r = reading(i);
    batch.push({ key: r.sensor_id, value: JSON.stringify(r), timestamp: r.timestamp, headers: { unit: 'celsius' } });
    if (batch.length === 50) {
      log.append(batch, { compression: i % 1000 < 500 ? 'none' : 'lz4' });
      batch.length = 0;
    }
  }
  if (batch.length > 0) log.append(batch);
  console.log(`wrote ${READINGS} readings from ${SENSORS.length} sensors to ${DIR}`);
  console.log(`offsets [${log.startOffset}, ${log.endOffset}), ${log.size} bytes in ${log.segments().length} segments\n`);

  const offset = 12_345;
  const [byOffset] = log.read(offset, { maxRecords: 1 });
  console.log(`seek by offset ${offset}:`);
  console.log(`  -> offset ${byOffset?.offset} key ${byOffset?.key?.toString()} value ${byOffset?.value?.toString()}`);

  const when = START + 60_000;
  const found = log.offsetForTimestamp(when);
  console.log(`seek by time ${new Date(when).toISOString()}:`);
  if (found !== null) {
    const [r] = log.read(found, { maxRecords: 1 });
    console.log(`  -> offset ${found} at ${new Date(r!.timestamp).toISOString()} value ${r?.value?.toString()}`);
  }
  log.close();

  const reopened = Log.open(DIR, { readOnly: true });
  console.log(`\nreopened read-only: offsets [${reopened.startOffset}, ${reopened.endOffset})`);
  console.log('\nsegment files on disk:');
  for (const name of fs.readdirSync(DIR).sort()) {
    const size = fs.statSync(path.join(DIR, name)).size;
    console.log(`  ${name.padEnd(32)} ${String(size).padStart(8)} bytes`);
  }
  reopened.close();
}

main();
