/**
 * Argument parsing (node:util parseArgs), help texts, and the errors that end the command with a
 * one-line message instead of a stack trace.
 *
 * Exit codes: 0 success; 1 the command ran but found damage or problems (verify's "not clean");
 * 2 it could not run: bad usage, a missing path, a file or directory that is not a segment.
 */
import { parseArgs } from 'node:util';
import { BYTES_FORMATS, type BytesFormat } from './format.js';

export const EXIT_OK = 0;
export const EXIT_PROBLEMS = 1;
export const EXIT_USAGE = 2;

/** An error the user can fix: printed as one line, never with a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_USAGE,
    /** Printed on a second line, e.g. "See 'seglog dump --help'." */
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** Wrong options or arguments. */
export class UsageError extends CliError {
  constructor(message: string, command?: string) {
    super(message, EXIT_USAGE, `See 'seglog ${command === undefined ? '' : command + ' '}--help'.`);
  }
}

/** A path that does not exist or is not what the command needs. */
export class InputError extends CliError {
  constructor(message: string) {
    super(message, EXIT_USAGE);
  }
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Placeholder shown in help, e.g. 'N'. */
  arg?: string;
  description: string;
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  description: string[];
  options: Record<string, OptionSpec>;
  examples: string[];
}

/** Options every command has. */
const COMMON: Record<string, OptionSpec> = {
  json: { type: 'boolean', description: 'machine-readable output (see above)' },
  help: { type: 'boolean', short: 'h', description: 'this help' },
};

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Parses `argv` for `spec`; null when `--help` was asked for (the help is then printed). */
export function parseCommand(spec: CommandSpec, argv: string[]): Parsed | null {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, o] of Object.entries({ ...spec.options, ...COMMON })) {
    options[name] = o.short === undefined ? { type: o.type } : { type: o.type, short: o.short };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(parseArgsMessage(err), spec.name);
  }
  if (parsed.values['help'] === true) {
    process.stdout.write(helpText(spec));
    return null;
  }
  return { values: parsed.values as Parsed['values'], positionals: parsed.positionals };
}

/** parseArgs' messages are long and mention internals; keep the part the user needs. */
function parseArgsMessage(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const message = e.message ?? String(err);
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const m = /Unknown option '([^']+)'/.exec(message);
    return `unknown option ${m?.[1] ?? ''}`.trim();
  }
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const m = /Option '([^']+)'/.exec(message);
    if (message.includes('argument missing')) return `option ${m?.[1] ?? ''} needs a value`;
    if (message.includes('does not take an argument')) return `option ${m?.[1] ?? ''} takes no value`;
  }
  return message.split('\n')[0]!.replace(/\. To specify.*$/, '');
}

export function helpText(spec: CommandSpec): string {
  const lines = [`Usage: ${spec.usage}`, '', spec.summary, ''];
  if (spec.description.length > 0) lines.push(...spec.description, '');
  lines.push('Options:');
  const all = { ...spec.options, ...COMMON };
  const labels = Object.entries(all).map(([name, o]) => {
    const short = o.short === undefined ? '    ' : `-${o.short}, `;
    return `${short}--${name}${o.arg === undefined ? '' : ' ' + o.arg}`;
  });
  const width = Math.max(...labels.map((l) => l.length));
  Object.values(all).forEach((o, i) => lines.push(`  ${labels[i]!.padEnd(width)}  ${o.description}`));
  lines.push('', 'Examples:');
  for (const e of spec.examples) lines.push(`  ${e}`);
  lines.push(
    '',
    'Exit status: 0 success; 1 damage or problems found; 2 bad usage, or a path that is missing or not a segment.',
    '',
  );
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Values

/** Exactly one positional argument. */
export function onePath(parsed: Parsed, command: string, what: string): string {
  if (parsed.positionals.length === 0) throw new UsageError(`missing ${what}`, command);
  if (parsed.positionals.length > 1) {
    throw new UsageError(`expected one ${what}, got ${parsed.positionals.length}: ${parsed.positionals.join(' ')}`, command);
  }
  return parsed.positionals[0]!;
}

/** A non-negative safe integer option, or undefined when absent. */
export function intOption(parsed: Parsed, name: string, command: string, min = 0): number | undefined {
  const raw = parsed.values[name];
  if (raw === undefined) return undefined;
  const text = String(raw).trim();
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`--${name} must be an integer >= ${min}, got '${String(raw)}'`, command);
  }
  return n;
}

/** A time option: ISO 8601 (e.g. 2026-11-24T08:00:00Z) or milliseconds since the epoch. */
export function timeOption(parsed: Parsed, name: string, command: string): number | undefined {
  const raw = parsed.values[name];
  if (raw === undefined) return undefined;
  const text = String(raw).trim();
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new UsageError(
      `--${name} must be an ISO 8601 time (e.g. 2026-11-24T08:00:00Z) or epoch milliseconds, got '${text}'`,
      command,
    );
  }
  return ms;
}

export function formatOption(parsed: Parsed, name: string, command: string): BytesFormat {
  const raw = parsed.values[name];
  if (raw === undefined) return 'auto';
  if (!(BYTES_FORMATS as readonly string[]).includes(String(raw))) {
    throw new UsageError(`--${name} must be one of ${BYTES_FORMATS.join(', ')}; got '${String(raw)}'`, command);
  }
  return raw as BytesFormat;
}

export function flag(parsed: Parsed, name: string): boolean {
  return parsed.values[name] === true;
}

/** Shared option texts. */
export const VALUE_FORMAT_OPTIONS: Record<string, OptionSpec> = {
  'value-format': {
    type: 'string',
    arg: 'FMT',
    description: 'how to show values: auto (text if printable UTF-8, else hex), utf8, json, hex, base64',
  },
  'key-format': { type: 'string', arg: 'FMT', description: 'the same for keys and header values (default auto)' },
};
