/** How `dump` and `tail` show batches and records, as text lines or JSON objects. */
import {
  ATTRIBUTES_OFFSET,
  CRC_COVERAGE_START,
  parseBatchHeader,
  type BatchHeader,
} from '../record/batch-layout.js';
import { crc32c } from '../record/crc32c.js';
import type { LogRecord } from '../record/types.js';
import { bytesJson, bytesText, isoTime, type BytesFormat, type Style } from './format.js';

export interface Formats {
  key: BytesFormat;
  value: BytesFormat;
}

/** A batch header as `dump` shows it. */
export interface BatchView {
  header: BatchHeader | null;
  position: number;
  size: number;
  crcValid: boolean;
  computedCrc: number;
  /** Codec id when it is not one Kafka defines (the header could not be decoded). */
  codecId: number;
}

export function viewBatch(buf: Buffer, at: number, position: number, size: number): BatchView {
  const computedCrc = crc32c(buf, at + CRC_COVERAGE_START, at + size);
  let header: BatchHeader | null = null;
  try {
    header = parseBatchHeader(buf, at);
  } catch {
    header = null;
  }
  const stored = buf.readUInt32BE(at + 17);
  return { header, position, size, crcValid: stored === computedCrc, computedCrc, codecId: buf[at + ATTRIBUTES_OFFSET + 1]! & 7 };
}

function lastSequence(h: BatchHeader): number {
  if (h.baseSequence < 0) return -1;
  const s = h.baseSequence + h.lastOffsetDelta;
  return s > 0x7fffffff ? s - 0x80000000 : s;
}

export function batchJson(v: BatchView, file: string): Record<string, unknown> {
  const h = v.header;
  const base: Record<string, unknown> = { type: 'batch', file, position: v.position, size: v.size, crcValid: v.crcValid };
  if (h === null) return { ...base, error: `unknown compression codec id ${v.codecId}` };
  return {
    ...base,
    baseOffset: h.baseOffset,
    lastOffset: h.lastOffset,
    count: h.recordCount,
    crc: h.crc,
    ...(v.crcValid ? {} : { computedCrc: v.computedCrc }),
    magic: h.magic,
    partitionLeaderEpoch: h.partitionLeaderEpoch,
    compression: h.compression,
    timestampType: h.timestampType,
    baseTimestamp: h.baseTimestamp,
    maxTimestamp: h.maxTimestamp,
    ...(h.hasDeleteHorizon ? { deleteHorizonMs: h.baseTimestamp } : {}),
    producerId: h.producerId,
    producerEpoch: h.producerEpoch,
    baseSequence: h.baseSequence,
    lastSequence: lastSequence(h),
    isTransactional: h.isTransactional,
    isControl: h.isControl,
  };
}

export function batchLine(v: BatchView, style: Style): string {
  const h = v.header;
  const l = style.dim;
  const crc = v.crcValid ? style.green('valid') : style.red(`INVALID (computed ${v.computedCrc})`);
  if (h === null) {
    return `${l('batch at position')} ${v.position} ${l('size')} ${v.size} ${style.red(`unknown compression codec id ${v.codecId}`)} ${l('crc')} ${crc}`;
  }
  const parts = [
    `${l('batch')} ${style.bold(`${h.baseOffset}..${h.lastOffset}`)}`,
    `${l('count')} ${h.recordCount}`,
    `${l('position')} ${v.position}`,
    `${l('size')} ${v.size}`,
    `${l('crc')} ${h.crc} ${crc}`,
    `${l('codec')} ${h.compression}`,
  ];
  const firstTs = h.timestampType === 'LogAppendTime' || h.hasDeleteHorizon ? -1 : h.baseTimestamp;
  parts.push(
    `${h.timestampType}${firstTs >= 0 ? ` ${l('first')} ${isoTime(firstTs)}` : ''} ${l('max')} ${isoTime(h.maxTimestamp)}`,
  );
  parts.push(`${l('leaderEpoch')} ${h.partitionLeaderEpoch}`);
  if (h.producerId >= 0) {
    const seq = h.baseSequence < 0 ? 'none' : `${h.baseSequence}..${lastSequence(h)}`;
    parts.push(`${l('producer')} ${h.producerId} ${l('epoch')} ${h.producerEpoch} ${l('seq')} ${seq}`);
  } else {
    parts.push(`${l('producer')} none`);
  }
  if (h.isTransactional) parts.push(style.yellow('transactional'));
  if (h.isControl) parts.push(style.yellow('control'));
  if (h.hasDeleteHorizon) parts.push(`${l('deleteHorizon')} ${isoTime(h.baseTimestamp)}`);
  return parts.join('  ');
}

// ---------------------------------------------------------------------------------------------
// Records

const CONTROL_TYPES = ['ABORT', 'COMMIT', 'LEADER_CHANGE', 'SNAPSHOT_HEADER', 'SNAPSHOT_FOOTER', 'KRAFT_VERSION', 'KRAFT_VOTERS'];

/** What a control record's key and value say, or null when they cannot be read. */
export function controlInfo(record: LogRecord): Record<string, unknown> | null {
  const key = record.key;
  if (key === null || key.length < 4) return null;
  const code = key.readInt16BE(2);
  const info: Record<string, unknown> = { controlType: CONTROL_TYPES[code] ?? `UNKNOWN(${code})` };
  if ((code === 0 || code === 1) && record.value !== null && record.value.length >= 6) {
    info['coordinatorEpoch'] = record.value.readInt32BE(2);
  }
  return info;
}

export function recordJson(r: LogRecord, formats: Formats, control: boolean, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = { type: 'record', ...extra, offset: r.offset, timestamp: r.timestamp, time: r.timestamp >= 0 ? isoTime(r.timestamp) : null };
  if (control) {
    const info = controlInfo(r);
    if (info !== null) Object.assign(out, info);
  }
  bytesJson(out, 'key', r.key, formats.key);
  bytesJson(out, 'value', r.value, formats.value);
  out['headers'] = r.headers.map((h) => {
    const o: Record<string, unknown> = { key: h.key };
    bytesJson(o, 'value', h.value, formats.key);
    return o;
  });
  return out;
}

export function recordLine(r: LogRecord, formats: Formats, control: boolean, style: Style): string {
  const l = style.dim;
  const parts = [`${l('offset')} ${style.bold(String(r.offset))}`, isoTime(r.timestamp)];
  if (control) {
    const info = controlInfo(r);
    if (info !== null) {
      parts.push(`${l('control')} ${style.yellow(String(info['controlType']))}`);
      if (info['coordinatorEpoch'] !== undefined) parts.push(`${l('coordinatorEpoch')} ${String(info['coordinatorEpoch'])}`);
      return parts.join('  ');
    }
  }
  if (r.key !== null) parts.push(`${l('key')} ${style.cyan(bytesText(r.key, formats.key, style))}`);
  if (r.headers.length > 0) {
    parts.push(`${l('headers')} ${r.headers.map((h) => `${h.key}=${bytesText(h.value, formats.key, style)}`).join(', ')}`);
  }
  parts.push(`${l('value')} ${bytesText(r.value, formats.value, style)}`);
  return parts.join('  ');
}
