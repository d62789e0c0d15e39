/**
 * A count of the changes this process has made to log files: appends, truncations, renames,
 * deletions, checkpoint writes. A read-only opener in the same process compares it with the count
 * it saw at its last look at the directory, so it sees a writer of this process at once, while a
 * writer in another process is looked for at most every few milliseconds (see `ReadOnlyView.read` in src/log/read-only-view.ts).
 */
let epoch = 0;

/** Called after every change to a log's files. */
export function noteWrite(): void {
  epoch++;
}

export function writeEpoch(): number {
  return epoch;
}
