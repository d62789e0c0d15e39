/**
 * `topic.json`, the topic's own metadata in the topic directory:
 *
 *     {"version":1,"name":"sensors","partitions":3}
 *
 * It is the truth about the partition count: partition directories it counts but that are
 * missing are created on open (a crash in `addPartitions` after the write leaves exactly that).
 * Written by write-to-`topic.json.tmp`, fsync, rename over `topic.json`, fsync of the directory,
 * so a crash leaves the old or the new file, never a mix.
 */
import fs from 'node:fs';
import path from 'node:path';
import { InvalidConfigError, LogIOError } from '../errors.js';
import { writeFileAtomically } from '../files/checkpoint.js';

export const TOPIC_METADATA_FILE = 'topic.json';
const VERSION = 1;

export interface TopicMetadata {
  name: string;
  partitions: number;
}

/** The metadata recorded in `dir`, or null when there is no `topic.json`. Throws `InvalidConfigError` for an unreadable one. */
export function readTopicMetadata(dir: string): TopicMetadata | null {
  const file = path.join(dir, TOPIC_METADATA_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new LogIOError(`cannot read ${file}: ${(cause as Error).message}`, { file, cause });
  }
  return parseTopicMetadata(text, file);
}

function parseTopicMetadata(text: string, file: string): TopicMetadata {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = null;
  }
  const { version, name, partitions } = (parsed ?? {}) as Record<string, unknown>;
  // The name becomes directory names: only a legal Kafka topic name (no '/', no '..') is taken.
  if (version !== VERSION || !isTopicName(name) || !isPartitionCount(partitions)) {
    // Refuse rather than guess: a wrong count would send keys to the wrong partitions.
    throw new InvalidConfigError(`${file} is not a valid seglog topic file (expected {"version":1,"name":...,"partitions":N})`, { file });
  }
  return { name, partitions };
}

/** Replaces `topic.json` in `dir` atomically. */
export function writeTopicMetadata(dir: string, metadata: TopicMetadata): void {
  const body = JSON.stringify({ version: VERSION, name: metadata.name, partitions: metadata.partitions }) + '\n';
  writeFileAtomically(path.join(dir, TOPIC_METADATA_FILE), body);
}

/**
 * Most partitions a topic may have. Kafka sets no per-topic limit, but every partition is a
 * directory and a `Log` with open files; a bound keeps a damaged or hostile `topic.json` (or
 * config) from making `Topic.open` create directories for minutes.
 */
export const MAX_PARTITIONS = 10_000;

/** A partition count: an integer in [1, MAX_PARTITIONS]. */
export function isPartitionCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1 && value <= MAX_PARTITIONS;
}

const LEGAL_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** A legal Kafka topic name: 1-249 of a-z, A-Z, 0-9, '.', '_', '-', and not '.' or '..'. */
export function isTopicName(value: unknown): value is string {
  return typeof value === 'string' && LEGAL_NAME.test(value) && value !== '.' && value !== '..';
}

/** Kafka's partition directory name: `<topic>-<partition>`. */
export function partitionDirName(name: string, partition: number): string {
  return `${name}-${partition}`;
}

/** The partition numbers of the `<name>-<p>` directories in `dir`, ascending (none when `dir` is missing). */
export function listPartitionDirs(dir: string, name: string): number[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const prefix = `${name}-`;
  const found: number[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory() || !entry.name.startsWith(prefix)) continue;
    const suffix = entry.name.slice(prefix.length);
    if (/^(0|[1-9]\d{0,8})$/.test(suffix)) found.push(Number(suffix));
  }
  return found.sort((a, b) => a - b);
}
