/**
 * `npm run bench:compare` (add `-- --quick` for a smoke run): the workloads of issue 6 in one
 * run against the raw-`fs` ceiling, seglog and four peers (better-sqlite3 12, lmdb, classic-level,
 * hypercore 11.37.1; dev dependencies, loaded here only). Prints the table and writes
 * `docs/bench/results.md` (table, machine, method) and `docs/bench/results.svg` (bar chart).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { QUICK, SIZES, cpuFlags, crcPath, markdownTable, printTable, repoRoot, runMain } from './common.js';
import { PEER_PACKAGES, loadPeers } from './peers.js';
import { SeglogStore, type Store } from './stores.js';
import { bestPeer, formatRatio, formatValue, runSuite, speedup, type Row } from './suite.js';

function tableOf(rows: Row[], peerNames: string[]): { headers: string[]; cells: string[][] } {
  const headers = ['workload', 'raw fs ceiling', 'seglog', 'seglog vs ceiling', ...peerNames, 'seglog vs best peer', 'target (issue 6)', 'met'];
  const cells = rows.map((row) => {
    const seglog = row.values.get('seglog');
    const best = bestPeer(row);
    return [
      row.id,
      formatValue(row.unit, row.ceiling),
      formatValue(row.unit, seglog),
      formatRatio(speedup(row, seglog, row.ceiling)),
      ...peerNames.map((n) => formatValue(row.unit, row.values.get(n))),
      best === null ? '-' : `${formatRatio(speedup(row, seglog, best.value))} (${best.name})`,
      row.target?.text ?? '',
      row.target === undefined ? '' : row.target.met ? 'yes' : 'no',
    ];
  });
  return { headers, cells };
}

// ---------------------------------------------------------------------------------------------
// Machine
// ---------------------------------------------------------------------------------------------

interface Machine {
  cpu: string;
  /** The CPU flags that pick the CRC-32C path, and the path appends used. */
  flags: string;
  crc: string;
  cores: number;
  memGiB: number;
  kernel: string;
  fileSystem: string;
  node: string;
  summary: string;
}

function describeMachine(): Machine {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const line = fs
      .readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line !== undefined) cpu = line.split(':')[1]!.trim();
  } catch {
    // not Linux
  }
  const cores = os.cpus().length;
  const memGiB = os.totalmem() / 2 ** 30;
  let fileSystem = 'unknown';
  try {
    const root = repoRoot();
    let best = '';
    for (const line of fs.readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [device, mount, type] = line.split(' ');
      if (mount !== undefined && type !== undefined && (root === mount || root.startsWith(mount.endsWith('/') ? mount : `${mount}/`)) && mount.length > best.length) {
        best = mount;
        fileSystem = `${type} on ${device} (mounted at ${mount})`;
      }
    }
  } catch {
    // not Linux
  }
  const node = process.version;
  const kernel = `${os.type()} ${os.release()}`;
  const crc = crcPath();
  const flags = cpuFlags();
  return { cpu, flags, crc, cores, memGiB, kernel, fileSystem, node, summary: `${cpu}, ${cores} cores, ${memGiB.toFixed(0)} GiB, ${kernel}, Node ${node}; CPU flags: ${flags}; CRC-32C path: ${crc}` };
}

function peerVersions(): string {
  return PEER_PACKAGES.map((name) => {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot(), 'bench', 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
      return `${name} ${pkg.version}`;
    } catch {
      return `${name} ?`;
    }
  }).join(', ');
}

// ---------------------------------------------------------------------------------------------
// results.md
// ---------------------------------------------------------------------------------------------

function resultsMarkdown(rows: Row[], stores: Store[], m: Machine, headers: string[], cells: string[][], elapsed: number): string {
  const date = new Date().toISOString().slice(0, 10);
  const command = QUICK ? 'npm run bench:compare -- --quick' : 'npm run bench:compare';
  const mib = (n: number): string => `${(n / 2 ** 20).toFixed(0)} MiB`;
  const missed = rows.filter((r) => r.target !== undefined && !r.target.met);
  const lines = [
    '# seglog benchmark results',
    '',
    QUICK ? '> **Smoke run (`--quick`)**: small data and short runs; these numbers are not representative. Run `npm run bench:compare` for the real figures.\n' : '',
    `Produced by \`${command}\` on ${date} (${(elapsed / 60).toFixed(1)} min). Every figure is the median of ${SIZES.runs} runs${rows.some((r) => r.unit === 'ms') ? ` (${Math.max(SIZES.runs, 7)} for the opens)` : ''}, all systems measured in the same process, interleaved run by run, on the same data. For the big-log rows each store is open only while it is measured (so no other store's compaction or writeback runs beside it), and dirty pages are written back (\`sync\`, untimed) after the build and before every open (clean or after a crash), whose syncs would otherwise wait behind other data. Latency rows are measured system by system after a warm-up run.`,
    '',
    '## Machine',
    '',
    `- CPU: ${m.cpu}, ${m.cores} cores; ${m.memGiB.toFixed(0)} GiB RAM`,
    `- CPU flags: \`${m.flags}\`; seglog's CRC-32C path: ${m.crc} (the append rows depend on it: without AVX-512 the CRC takes the SSE4.2 or AVX2 path)`,
    `- ${m.kernel}; data on ${m.fileSystem}, in \`<repo>/.bench-tmp-<pid>\` (removed afterwards)`,
    `- Node ${m.node}; peers: ${peerVersions()}`,
    '',
    '## What is fsynced',
    '',
    '- Only the **durable append** row waits for the disk: seglog `await flush()` (fdatasync, group commit), the raw ceiling `fs.fdatasync` (same group commit), better-sqlite3 `synchronous=FULL`, lmdb default sync, classic-level `sync: true`.',
    '- Every other row runs on the OS page cache: seglog appends without `flush()` (its `close()`, which syncs, is outside the timed loop), the raw ceiling never syncs, better-sqlite3 uses WAL with `synchronous=NORMAL` (no sync per commit), lmdb `noSync: true`, classic-level `sync: false`, hypercore never syncs. Reads run with the data in the page cache (it was just written; the machine has the RAM for it).',
    '',
    '## Results',
    '',
    'Ratios are speeds: `seglog vs X` > 1 means seglog is faster (more throughput, or lower latency) than X. "best peer" is the fastest of the four peers on that row. `n/a`: the workload does not apply to that store.',
    '',
    markdownTable(headers, cells),
    '',
    '![Speed relative to the raw-fs ceiling](results.svg)',
    '',
    missed.length === 0 ? 'seglog meets every target of issue 6 in this run.' : `Targets of issue 6 missed in this run: ${missed.map((r) => `${r.id} (${formatValue(r.unit, r.values.get('seglog'))}; target ${r.target!.text})`).join('; ')}.`,
    '',
    '## Workloads and their ceilings',
    '',
    `Records: 16-byte keys (\`key-000000000042\`), values of 100 B or 1 KiB (word text from a 512-word vocabulary, so lz4 finds matches), timestamps increasing by 1 ms per record, no headers. "Payload" is key + value bytes.`,
    '',
    `- **append** (one record per call: ${SIZES.singleRecords} records per run; batches of 100: ${mib(SIZES.appendBytes)} of payload per run; fresh store each run, open and close not timed). 1 KiB rows in payload MB/s, 100 B rows in records/s. *Ceiling*: the exact batches seglog wrote in that run, read back from its segment files, written again with one \`fs.writeSync\` per batch to a fresh file (same bytes, same chunking, no encoding, no index). Peers: one call (or one transaction/batch) per record or per 100 records, with their time index kept up to date.`,
    `- **read p50 / p99**: \`log.read(offset, { maxRecords: 1 })\` at uniformly random offsets of the big log (tinybench, ${SIZES.latencyMs} ms per run after warm-up; the median of the runs' p50 and of their p99). *Ceiling*: a perfect in-memory index (every record's file, position, length), then one \`fs.readSync\` of exactly that record's bytes from seglog's segment file; nothing decoded. Peers: a point get by offset, decoded into {offset, timestamp, key, value}.`,
    `- **offsetForTimestamp p50 / p99**: \`log.offsetForTimestamp(t)\` at random times within the log. *Ceiling*: binary search of an in-memory array of every record's timestamp, then one \`fs.readSync\` of the record found. Peers: sqlite \`WHERE timestamp >= ? ORDER BY timestamp LIMIT 1\` on the index, lmdb \`getRange({ start: t, limit: 1 })\` on the time db, classic-level an iterator from the time key, hypercore a bisection with \`get()\`.`,
    `- **big log**: ${mib(SIZES.readLogBytes)} of payload (1 KiB values) in batches of ${SIZES.readBatch}; seglog \`segmentBytes\` = ${mib(SIZES.readSegmentBytes)}, so it has many segments. Built once per store before the read rows.`,
    `- **scan**: every record from the start, decoded (seglog \`read(next, { maxBytes: 1 MiB })\` in a loop); GB/s of payload. *Ceiling*: \`fs.readSync\` of the same segment files in 1 MiB chunks, no decoding; its rate is the same payload over its time.`,
    '- **append 1 KiB x100 fresh**: the same appends, but each batch of 100 records is built just before its call (key and value in new buffers, so in the CPU cache, as a producer has what it just made), and only the `append` calls are timed. In the other append rows the records are prepared up front, 64 MiB of them, and are cold in memory by the time each is appended: seglog gathers them with a copy the raw writer, given contiguous bytes, never makes. *Ceiling*: the batches seglog wrote, each copied into one reused buffer (untimed) and written with one `fs.writeSync`. seglog only.',
    '- **open (clean, big)** / **open (clean, N segs)**: `Log.open` after `close()`, in ms. *Ceiling*: the least a segmented store must do: `readdirSync` of the directory plus open and `fstat` of the newest `.log`. Peers (big log only): opening their database (sqlite: connection + pragmas + statements; lmdb: env + two dbs; classic-level: `open()`; hypercore: `ready()`).',
    '- **open after crash**: the cleanly closed big log is made to look crashed by deleting `.kafka_cleanshutdown` and `recovery-point-offset-checkpoint`, so `Log.open` must validate every batch (framing, CRC-32C, offsets) of every segment and rebuild every index: the worst case (a real crash only recovers from the last checkpointed recovery point). GB/s of log validated. *Ceiling*: `fs.readSync` of every byte of the segment files, 1 MiB at a time. seglog only: the peers recover from bounded journals (WAL, LevelDB log), so their crash-open is not the same work.',
    `- **durable append**: ${SIZES.producers} concurrent producers, each in a loop appending one ${SIZES.durableValueBytes} B record and awaiting its durability, ${SIZES.durableMs} ms per run; records/s. *Ceiling*: the same group commit over raw fs: \`fs.writeSync\` of the exact one-record batch seglog writes, then await a shared \`fs.fdatasync\` (a caller arriving while a sync is in flight waits for the next one).`,
    '',
    '## Store setups',
    '',
    ...stores.map((s) => `- **${s.name}**: ${s.setup}. Durable: ${s.durableSetup}.`),
    '',
    'Note: the peers keep their own format; only seglog writes Kafka record batches (v2, CRC-32C) and Kafka indexes, and validates a batch\'s CRC on every read.',
    '',
  ];
  return lines.filter((l, i) => !(l === '' && lines[i - 1] === '')).join('\n');
}

// ---------------------------------------------------------------------------------------------
// results.svg: horizontal bars, log scale, speed relative to the ceiling
// ---------------------------------------------------------------------------------------------

const COLORS: Record<string, string> = {
  seglog: '#d62728',
  'better-sqlite3': '#1f77b4',
  lmdb: '#2ca02c',
  'classic-level': '#9467bd',
  hypercore: '#8c564b',
};

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function chartSvg(rows: Row[], systems: string[], m: Machine): string {
  const ratios = rows.map((row) => systems.map((name) => speedup(row, row.values.get(name), row.ceiling)));
  const finite = ratios.flat().filter((r) => Number.isFinite(r) && r > 0);
  const minDecade = Math.floor(Math.log10(Math.min(...finite, 0.1)));
  const maxDecade = Math.max(1, Math.ceil(Math.log10(Math.max(...finite, 1))));
  const width = 1000;
  const labelWidth = 250;
  const x0 = labelWidth + 10;
  const x1 = width - 70;
  const barHeight = 8;
  const barGap = 2;
  const groupGap = 12;
  const top = 78;
  const groupHeight = systems.length * (barHeight + barGap) + groupGap;
  const height = top + rows.length * groupHeight + 40;
  const xOf = (ratio: number): number => x0 + ((Math.log10(ratio) - minDecade) / (maxDecade - minDecade)) * (x1 - x0);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="10" y="20" font-size="15" font-weight="bold">seglog and its peers, speed relative to raw fs on the same bytes (log scale; 1 = the ceiling)</text>`);
  out.push(`<text x="10" y="38" fill="#555">${escapeXml(`${QUICK ? 'SMOKE RUN (--quick), not representative. ' : ''}${m.cpu}, ${m.cores} cores (${m.flags}; CRC ${m.crc}), Node ${m.node}. Longer bar = faster. Page cache except "durable append".`)}</text>`);
  // legend
  let lx = 10;
  for (const name of systems) {
    out.push(`<rect x="${lx}" y="50" width="12" height="10" fill="${COLORS[name] ?? '#777'}"/>`);
    out.push(`<text x="${lx + 16}" y="59">${escapeXml(name)}</text>`);
    lx += 24 + name.length * 7;
  }
  // grid
  for (let d = minDecade; d <= maxDecade; d++) {
    const x = xOf(10 ** d);
    const label = d >= 0 ? `${10 ** d}` : `1/${10 ** -d}`;
    out.push(`<line x1="${x.toFixed(1)}" y1="${top - 8}" x2="${x.toFixed(1)}" y2="${height - 30}" stroke="${d === 0 ? '#000' : '#ddd'}" stroke-width="${d === 0 ? 1.5 : 1}"${d === 0 ? ' stroke-dasharray="4 3"' : ''}/>`);
    out.push(`<text x="${x.toFixed(1)}" y="${height - 15}" text-anchor="middle" fill="#333">${label}</text>`);
  }
  out.push(`<text x="${xOf(1).toFixed(1)}" y="${top - 12}" text-anchor="middle" fill="#000">raw fs ceiling</text>`);
  rows.forEach((row, g) => {
    const gy = top + g * groupHeight;
    out.push(`<text x="${labelWidth}" y="${gy + (systems.length * (barHeight + barGap)) / 2 + 4}" text-anchor="end">${escapeXml(row.id)}</text>`);
    systems.forEach((name, i) => {
      const y = gy + i * (barHeight + barGap);
      const ratio = ratios[g]![i]!;
      if (!Number.isFinite(ratio) || ratio <= 0) {
        out.push(`<text x="${x0 + 4}" y="${y + barHeight - 1}" font-size="8" fill="#999">${escapeXml(name)}: n/a</text>`);
        return;
      }
      const x = xOf(ratio);
      out.push(`<rect x="${x0}" y="${y}" width="${Math.max(1, x - x0).toFixed(1)}" height="${barHeight}" fill="${COLORS[name] ?? '#777'}"><title>${escapeXml(`${name}: ${formatValue(row.unit, row.values.get(name))} (${formatRatio(ratio)} of ceiling)`)}</title></rect>`);
      out.push(`<text x="${(x + 3).toFixed(1)}" y="${y + barHeight - 1}" font-size="8" fill="#333">${escapeXml(formatRatio(ratio))}</text>`);
    });
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

// Last, so every constant above is initialised before the run starts.
await runMain(async () => {
  const started = Date.now();
  const peers = await loadPeers();
  const stores: Store[] = [new SeglogStore(SIZES.readSegmentBytes), ...peers];
  const machine = describeMachine();
  console.log(`seglog bench:compare${QUICK ? ' (--quick)' : ''}: ${machine.summary}; ${SIZES.runs} runs per figure (median)`);
  const rows = await runSuite({ stores, log: (line) => console.log(line) });
  const peerNames = peers.map((p) => p.name);
  const { headers, cells } = tableOf(rows, peerNames);
  console.log('');
  printTable(headers, cells);
  console.log('\nRatios are speed relative to the other figure: > 1 means seglog is faster (or has more throughput).');

  const outDir = path.join(repoRoot(), 'docs', 'bench');
  fs.mkdirSync(outDir, { recursive: true });
  const elapsed = (Date.now() - started) / 1000;
  fs.writeFileSync(path.join(outDir, 'results.md'), resultsMarkdown(rows, stores, machine, headers, cells, elapsed));
  fs.writeFileSync(path.join(outDir, 'results.svg'), chartSvg(rows, ['seglog', ...peerNames], machine));
  console.log(`wrote docs/bench/results.md and docs/bench/results.svg; done in ${elapsed.toFixed(0)} s`);
});
