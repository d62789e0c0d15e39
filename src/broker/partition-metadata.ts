/**
 * `partition.metadata`, Kafka's file naming the topic id in every partition directory (Kafka's
 * `PartitionMetadataFile`): two lines, no trailing newline,
 *
 *     version: 0
 *     topic_id: v9meXjI1RVKB-NSvF0GXDA
 *
 * The id is 16 bytes written as URL-safe base64 without padding (Kafka's `Uuid.toString`).
 * Fetch 13+ and Metadata 10+ name topics by this id.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomically } from '../files/checkpoint.js';

export const PARTITION_METADATA_FILE = 'partition.metadata';
const VERSION = 0;

/** The topic id in `partitionDir`, or null when the file is missing or not one Kafka would read. */
export function readTopicId(partitionDir: string): Buffer | null {
  let text: string;
  try {
    text = fs.readFileSync(path.join(partitionDir, PARTITION_METADATA_FILE), 'utf8');
  } catch {
    return null;
  }
  const match = /^version:\s+(\d+)\ntopic_id:\s+([A-Za-z0-9_-]{22})\s*$/.exec(text);
  if (match === null || Number(match[1]) !== VERSION) return null;
  const id = Buffer.from(match[2]!, 'base64url');
  return id.length === 16 ? id : null;
}

/** Writes `partition.metadata` with `topicId` into `partitionDir` (atomically). */
export function writeTopicId(partitionDir: string, topicId: Buffer): void {
  writeFileAtomically(path.join(partitionDir, PARTITION_METADATA_FILE), `version: ${VERSION}\ntopic_id: ${formatTopicId(topicId)}`);
}

export function formatTopicId(topicId: Buffer): string {
  return topicId.toString('base64url');
}

/** A random topic id as Kafka makes them: never all zeros (the null id) and never printed with a leading '-'. */
export function newTopicId(): Buffer {
  for (;;) {
    const id = crypto.randomBytes(16);
    if (id.some((b) => b !== 0) && !formatTopicId(id).startsWith('-')) return id;
  }
}
