/**
 * Merges several async iterators into one, for `topic.stream`. Each source has at most one
 * `next()` outstanding, so the order within a source is kept and nothing is read ahead of the
 * consumer beyond one step per source. When several sources have a value ready, they take turns
 * (the race starts after the source served last), so one busy partition cannot starve the others.
 */

interface Step<T> {
  index: number;
  result: IteratorResult<T>;
}

/**
 * Yields the values of all `sources` until every one is done. Whenever the merged iterator
 * ends (all done, an error, or the consumer stopping early), `stop` is aborted: the sources are
 * expected to end on it, so a `follow` source waiting for appends does not stay parked.
 */
export async function* mergeIterators<T>(sources: readonly AsyncIterator<T>[], stop: AbortController): AsyncGenerator<T, void, undefined> {
  const pending: (Promise<Step<T>> | null)[] = sources.map((source, index) => pull(source, index));
  const done = sources.map(() => false);
  let live = sources.length;
  let turn = 0;
  try {
    while (live > 0) {
      const { index, result } = await Promise.race(inTurn(pending, turn));
      pending[index] = null;
      turn = index + 1;
      if (result.done === true) {
        done[index] = true;
        live--;
        continue;
      }
      yield result.value;
      pending[index] = pull(sources[index]!, index);
    }
  } finally {
    stop.abort();
    // A source suspended at a yield (no next() outstanding) is told to finish; those with a
    // next() outstanding finish on the abort.
    for (let i = 0; i < sources.length; i++) {
      if (!done[i] && pending[i] === null) sources[i]!.return?.()?.catch(() => undefined);
      pending[i]?.catch(() => undefined);
    }
  }
}

function pull<T>(source: AsyncIterator<T>, index: number): Promise<Step<T>> {
  return source.next().then((result) => ({ index, result }));
}

/** The outstanding steps, starting at `turn` and wrapping around. */
function inTurn<T>(pending: readonly (Promise<Step<T>> | null)[], turn: number): Promise<Step<T>>[] {
  const order: Promise<Step<T>>[] = [];
  const n = pending.length;
  for (let k = 0; k < n; k++) {
    const step = pending[(turn + k) % n];
    if (step !== null && step !== undefined) order.push(step);
  }
  return order;
}
