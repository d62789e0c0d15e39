#!/usr/bin/env node
/**
 * The quick-start demo: simulated sensor readings keyed by sensor id go into a topic of three
 * partitions under ./data (each partition a real Kafka-format partition directory, small
 * segments so several appear). It shows that each sensor's readings stay in one partition in
 * order, seeks by offset and by timestamp, and lists the segment files on disk.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Log, Topic, type TopicRecordInput } from '../index.js';

const DIR = path.resolve(process.argv[2] ?? 'data/sensor-data');
const SENSORS = ['sensor-A1', 'sensor-A2', 'sensor-B1', 'sensor-B2', 'sensor-C1', 'sensor-C2'];
const READINGS = 30_000;
const START = Date.parse('2026-11-24T08:00:00Z');
const STEP_MS = 5;

function reading(i: number): { sensor_id: string; timestamp: number; temperature_c: number; humidity_pct: number } {
  const phase = i / 500;
  return {
    sensor_id: SENSORS[i % SENSORS.length]!,
    timestamp: START + i * STEP_MS,
    temperature_c: Math.round((20 + 5 * Math.sin(phase) + (i % 7) / 10) * 10) / 10,
    humidity_pct: Math.round((45 + 10 * Math.cos(phase)) * 10) / 10,
  };
}

function write(topic: Topic): void {
  let batch: TopicRecordInput[] = [];
  for (let i = 0; i < READINGS; i++) {
    const r = reading(i);
    batch.push({ key: r.sensor_id, value: JSON.stringify(r), timestamp: r.timestamp, headers: { unit: 'celsius' } });
    if (batch.length === 60) {
      topic.append(batch);
      batch = [];
    }
  }
  if (batch.length > 0) topic.append(batch);
}

/** Every sensor's readings sit in exactly one partition, in timestamp order. */
function showPartitioning(topic: Topic): void {
  console.log('where each sensor went (Kafka murmur2 partitioner):');
  for (const sensor of SENSORS) {
    const seenIn: number[] = [];
    let inOrder = true;
    for (let p = 0; p < topic.partitions; p++) {
      const log = topic.partition(p);
      const mine = log.read(log.startOffset, { maxBytes: 64 << 20 }).filter((r) => r.key?.toString() === sensor);
      if (mine.length > 0) seenIn.push(p);
      for (let i = 1; i < mine.length; i++) if (mine[i]!.timestamp < mine[i - 1]!.timestamp) inOrder = false;
    }
    console.log(`  ${sensor}: partition ${seenIn.join(', ')}${inOrder ? ', in order' : ', OUT OF ORDER'}`);
  }
}

function showSeeks(topic: Topic): void {
  const log = topic.partition(0);
  const offset = Math.floor(log.endOffset / 2);
  const [r] = log.read(offset, { maxRecords: 1 });
  console.log(`\nseek partition 0 to offset ${offset}:\n  -> ${r?.key?.toString()} ${r?.value?.toString()}`);
  const when = START + 60_000;
  const offsets = topic.offsetsForTimestamp(when);
  console.log(`seek every partition to ${new Date(when).toISOString()}: offsets ${JSON.stringify(offsets)}`);
  const found = offsets[0];
  if (found !== null && found !== undefined) {
    const [first] = log.read(found, { maxRecords: 1 });
    console.log(`  -> partition 0 offset ${found} at ${new Date(first!.timestamp).toISOString()}: ${first!.value!.toString()}`);
  }
}

function showFiles(dir: string): void {
  console.log(`\nfiles of ${path.relative(process.cwd(), dir)}:`);
  for (const name of fs.readdirSync(dir).sort()) {
    console.log(`  ${name.padEnd(34)} ${String(fs.statSync(path.join(dir, name)).size).padStart(8)} bytes`);
  }
}

function main(): void {
  fs.rmSync(DIR, { recursive: true, force: true });
  const topic = Topic.open(DIR, { name: 'sensor-data', partitions: 3, segmentBytes: 256 * 1024 });
  write(topic);
  const ends = topic.endOffsets();
  console.log(`wrote ${READINGS} readings from ${SENSORS.length} sensors to ${DIR}`);
  console.log(`partition end offsets: ${JSON.stringify(ends)}\n`);
  showPartitioning(topic);
  showSeeks(topic);
  topic.close();

  const partitionDir = path.join(DIR, 'sensor-data-0');
  const reopened = Log.open(partitionDir, { readOnly: true });
  console.log(`\nreopened ${path.basename(partitionDir)} read-only: offsets [${reopened.startOffset}, ${reopened.endOffset}) in ${reopened.segments().length} segments`);
  reopened.close();
  showFiles(partitionDir);
}

main();
