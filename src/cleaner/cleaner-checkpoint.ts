import path from 'node:path';
import { readCheckpoint, topicPartitionOf, writeCheckpoint } from '../files/checkpoint.js';

/**
 * Kafka's `cleaner-offset-checkpoint`: the first offset the cleaner has not cleaned yet (the
 * first dirty offset), in the offset-checkpoint text format (`0`, the entry count, then
 * `topic partition offset`). Kafka keeps one per log directory with a line per partition; seglog
 * keeps it inside the partition directory with the one entry, as it does its other checkpoints,
 * so that a partition directory moved or opened alone carries its cleaner position with it and
 * no two processes ever write the same file.
 */
export const CLEANER_OFFSET_CHECKPOINT = 'cleaner-offset-checkpoint';

export class CleanerCheckpoint {
  private readonly file: string;

  constructor(private readonly dir: string) {
    this.file = path.join(dir, CLEANER_OFFSET_CHECKPOINT);
  }

  /** The checkpointed first dirty offset, or null when there is none (never cleaned). */
  read(): number | null {
    return readCheckpoint(this.file, topicPartitionOf(this.dir));
  }

  /** Writes `offset` atomically (temp file, fsync, rename, directory fsync). */
  write(offset: number): void {
    writeCheckpoint(this.file, topicPartitionOf(this.dir), offset);
  }
}
