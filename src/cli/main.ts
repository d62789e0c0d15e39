#!/usr/bin/env node
/**
 * The `seglog` command: inspect, dump, verify and follow partition directories on disk, seglog's
 * and Kafka's alike. Everything it does is read-only, except `serve`, a Kafka broker over a directory of topics.
 */
import fs from 'node:fs';
import { isSeglogError } from '../errors.js';
import { CliError, EXIT_PROBLEMS, EXIT_USAGE, UsageError } from './args.js';
import { dumpCommand, dumpSpec } from './dump.js';
import { serveCommand, serveSpec } from './serve.js';
import { segmentsCommand, segmentsSpec } from './segments.js';
import { tailCommand, tailSpec } from './tail.js';
import { verifyCommand, verifySpec } from './verify.js';

const COMMANDS = {
  segments: { spec: segmentsSpec, run: segmentsCommand },
  dump: { spec: dumpSpec, run: dumpCommand },
  verify: { spec: verifySpec, run: verifyCommand },
  tail: { spec: tailSpec, run: tailCommand },
  serve: { spec: serveSpec, run: serveCommand },
} as const;

type CommandName = keyof typeof COMMANDS;

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = [
    'Usage: seglog <command> [options]',
    '',
    "Inspect partition directories in Apache Kafka's on-disk format, written by seglog or by Kafka.",
    'Read-only and safe next to a live writer (serve is the exception: it is the writer).',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.spec.summary}`),
    '',
    "Run 'seglog <command> --help' for a command's options and examples. Every command takes --json.",
    '',
    'Examples:',
    '  seglog segments data/sensor-data/sensor-data-0',
    '  seglog dump data/sensor-data/sensor-data-0 --records --from 4321 --limit 5',
    '  seglog verify data/sensor-data/sensor-data-0',
    '  seglog tail data/sensor-data/sensor-data-0 -f',
    '  seglog serve data --port 9092',
    '',
  ];
  return lines.join('\n');
}

function version(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    process.stderr.write(usage());
    return EXIT_USAGE;
  }
  if (first === '--help' || first === '-h') {
    process.stdout.write(usage());
    return 0;
  }
  if (first === '--version' || first === '-V') {
    process.stdout.write(`seglog ${version()}\n`);
    return 0;
  }
  if (first === 'help') {
    const topic = rest[0];
    if (topic === undefined) {
      process.stdout.write(usage());
      return 0;
    }
    if (!(topic in COMMANDS)) throw new UsageError(`unknown command '${topic}'`);
    return COMMANDS[topic as CommandName].run(['--help']);
  }
  if (!(first in COMMANDS)) {
    const hint = first.startsWith('-') ? `expected a command before ${first}` : `unknown command '${first}'`;
    throw new UsageError(`${hint} (commands: ${Object.keys(COMMANDS).join(', ')})`);
  }
  return COMMANDS[first as CommandName].run(rest);
}

function fail(err: unknown): number {
  const command = process.argv[2] !== undefined && process.argv[2] in COMMANDS ? `seglog ${process.argv[2]}` : 'seglog';
  if (err instanceof CliError) {
    process.stderr.write(`${command}: ${err.message}\n`);
    if (err.hint !== undefined) process.stderr.write(`${err.hint}\n`);
    return err.exitCode;
  }
  if (isSeglogError(err)) {
    // Damage or I/O trouble met through the library (e.g. `tail` reading a corrupt batch).
    process.stderr.write(`${command}: ${err.message}\n`);
    return EXIT_PROBLEMS;
  }
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.code === 'string' && typeof e.syscall === 'string') {
    process.stderr.write(`${command}: ${e.path ?? ''}${e.path === undefined ? '' : ': '}${e.code} (${e.syscall})\n`);
    return EXIT_PROBLEMS;
  }
  process.stderr.write(`${command}: internal error: ${e instanceof Error ? e.message : String(err)}\n`);
  if (process.env['SEGLOG_DEBUG'] !== undefined && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  else process.stderr.write('(this is a bug in seglog; SEGLOG_DEBUG=1 shows the stack trace)\n');
  return 70;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.exitCode = fail(err);
  },
);
