/**
 * `npm run bench` (add `-- --quick` for a smoke run): seglog's workloads of issue 6, each
 * printed next to the raw-`fs` ceiling measured in the same run on the same bytes, and next to
 * the target. No peer store is loaded; `npm run bench:compare` adds them.
 *
 * Sizes: SEGLOG_BENCH_BYTES (big log, default 1 GiB; 48 MiB with --quick), and the other
 * SEGLOG_BENCH_* knobs listed in bench/common.ts. SEGLOG_BENCH_ONLY=append|read|open|durable runs
 * one group of workloads; SEGLOG_BENCH_VERBOSE=1 prints every run of the append workloads. Data
 * lives in <repo>/.bench-tmp-<pid>, removed at exit.
 */
import { QUICK, SIZES, machineLine, printTable, runMain } from './common.js';
import { SeglogStore } from './stores.js';
import { formatRatio, formatValue, runSuite, speedup } from './suite.js';

await runMain(async () => {
  const started = Date.now();
  console.log(`seglog bench${QUICK ? ' (--quick)' : ''}: ${machineLine()}; ${SIZES.runs} runs per figure (median)`);
  const rows = await runSuite({
    stores: [new SeglogStore(SIZES.readSegmentBytes)],
    log: (line) => console.log(line),
  });
  console.log('');
  printTable(
    ['workload', 'ceiling', 'seglog', 'seglog/ceiling', 'target', 'met'],
    rows.map((row) => [
      row.id,
      formatValue(row.unit, row.ceiling),
      formatValue(row.unit, row.values.get('seglog')),
      formatRatio(speedup(row, row.values.get('seglog'), row.ceiling)),
      row.target?.text ?? '',
      row.target === undefined ? '' : row.target.met ? 'yes' : 'NO',
    ]),
  );
  console.log('\nseglog/ceiling is speed relative to raw fs on the same bytes: > 1 faster, < 1 slower.');
  console.log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
});
