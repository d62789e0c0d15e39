/**
 * Group commit: any number of concurrent `flush()` callers share one round of fdatasync calls.
 *
 * A round covers everything appended before it started. A caller that arrives while a round is
 * in flight joins the next round (its appends may have come after the in-flight round began),
 * and one next round serves every caller that arrived meanwhile. So with N producers each
 * awaiting its own flush, the disk sees about two syncs per round trip, not N.
 */
export interface FlushTarget {
  /** The offset every round makes durable: everything below it. */
  currentEndOffset(): number;
  /** Syncs everything below `endOffset` off the main thread. */
  syncAsync(endOffset: number): Promise<void>;
  /** True once the log is closed: its `close()` already synced everything. */
  isClosed(): boolean;
}

interface Round {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function newRound(): Round {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export class GroupCommit {
  private inFlight: Round | null = null;
  private next: Round | null = null;
  /** Everything below this offset is known durable. */
  private durableEnd: number;
  /** Bumped by `truncateTo`: a round started before a truncation proves nothing about the new bytes. */
  private epoch = 0;
  private started = 0;
  private finished = 0;

  constructor(
    private readonly target: FlushTarget,
    durableEnd: number,
  ) {
    this.durableEnd = durableEnd;
  }

  /** Resolves once everything appended before the call is durable. */
  flush(): Promise<void> {
    if (this.inFlight === null) {
      if (this.target.currentEndOffset() <= this.durableEnd) return Promise.resolve();
      return this.start(newRound());
    }
    if (this.next === null) this.next = newRound();
    return this.next.promise;
  }

  /** Records a synchronous sync done elsewhere (flushSync, roll, close). */
  markDurable(endOffset: number): void {
    if (endOffset > this.durableEnd) this.durableEnd = endOffset;
  }

  get durableEndOffset(): number {
    return this.durableEnd;
  }

  /**
   * Rounds started and finished so far. Rounds run one at a time, so the round in flight when
   * `started > finished` has ended once `finished` reaches that `started`: what a caller needs to
   * know before closing descriptors such a round may still use (the segment deleter does).
   */
  get rounds(): { started: number; finished: number } {
    return { started: this.started, finished: this.finished };
  }

  /** How many truncations happened so far; a round compares it before and after its syncs. */
  get truncations(): number {
    return this.epoch;
  }

  /**
   * The log was truncated to `endOffset` (`truncateTo`, which synced what it kept): nothing at or
   * past it is durable any more, and a round in flight, which synced the old bytes, must not mark
   * the new ones durable when it ends.
   */
  truncateTo(endOffset: number): void {
    if (endOffset < this.durableEnd) this.durableEnd = endOffset;
    this.epoch++;
  }

  private start(round: Round): Promise<void> {
    this.inFlight = round;
    this.started++;
    const end = this.target.currentEndOffset();
    const epoch = this.epoch;
    this.target.syncAsync(end).then(
      () => this.finish(round, null, epoch === this.epoch ? end : -1),
      (err: unknown) => this.finish(round, err, epoch === this.epoch ? end : -1),
    );
    return round.promise;
  }

  private finish(round: Round, err: unknown, end: number): void {
    this.inFlight = null;
    this.finished++;
    // After close() every byte was synced in place, so a failed async sync of a closed file is moot.
    if (err === null || this.target.isClosed()) {
      this.markDurable(end);
      round.resolve();
    } else {
      round.reject(err);
    }
    const next = this.next;
    this.next = null;
    if (next !== null) {
      if (this.target.isClosed() || this.target.currentEndOffset() <= this.durableEnd) next.resolve();
      else void this.start(next);
    }
  }
}
