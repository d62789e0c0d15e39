import type { TopicRecordInput } from './types.js';

/**
 * What one `Topic.append` call decides before it writes: each record's partition and its index
 * in that partition's batch, the records grouped per partition, and the sticky partition's share.
 *
 * A topic keeps one plan and reuses its arrays from call to call (`reset`), so a call allocates
 * nothing here once the arrays have grown to its size: at a few hundred calls a second of 100
 * records, fresh typed arrays and group arrays per call were a visible part of a topic append's
 * own cost (allocation, and the garbage collections it brought on).
 */
export class AppendPlan {
  /** The records of each partition, in input order; only the partitions in `touched` are filled. */
  readonly groups: TopicRecordInput[][] = [];
  /** Partitions with records in this call, in the order they were first chosen (then sorted). */
  readonly touched: number[] = [];
  /** Per input record: its partition, and its index in that partition's batch. */
  partitions = new Int32Array(256);
  positions = new Int32Array(256);
  /** Per partition: the base offset its batch got. */
  readonly baseOffsets: number[] = [];
  /** The sticky partition this call used (-1: none), and the keyless bytes sent to it. */
  stickyPartition = -1;
  stickyBytes = 0;

  /** Empties the plan for a call of `count` records over `partitions` partitions. */
  reset(partitions: number, count: number): void {
    while (this.groups.length < partitions) this.groups.push([]);
    if (this.partitions.length < count) {
      const size = Math.max(count, this.partitions.length * 2);
      this.partitions = new Int32Array(size);
      this.positions = new Int32Array(size);
    }
    this.touched.length = 0;
    this.stickyPartition = -1;
    this.stickyBytes = 0;
  }

  /** Puts record `index` into partition `partition`'s batch. */
  add(index: number, partition: number, record: TopicRecordInput): void {
    const group = this.groups[partition]!;
    if (group.length === 0) this.touched.push(partition);
    this.partitions[index] = partition;
    this.positions[index] = group.length;
    group.push(record);
  }

  /** Drops the references to the call's records (the arrays stay for the next call). */
  clear(): void {
    for (const p of this.touched) this.groups[p]!.length = 0;
    this.touched.length = 0;
  }
}
