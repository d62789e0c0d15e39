/**
 * Produce's request and response, read and written field by field, as Kafka's generated
 * `ProduceRequestData.read` and `ProduceResponseData.write` do, rather than by the generic codec's
 * walk of the schema. A produce is the one request a busy client sends hundreds of times a
 * second, and the broker handles each on caches the client has just filled with its own work
 * (kafkajs encodes the next batch in between): the generic walk touches every field's plan and
 * builds each object one named property at a time, which V8 runs through its megamorphic
 * caches, where this code builds objects of fixed shapes in a few small functions. The bytes are
 * the same as the generic codec's at every served version (tests compare the two); a response
 * with fields the broker never sets (record errors, tagged leader hints) is left to the generic
 * encoder.
 */
import { ProtocolError } from '../../errors.js';
import { LengthKind, Reader } from './reader.js';
import type { ProduceRequest, ProduceResponse, ProducePartitionProduceData, ProduceTopicProduceData } from './messages/produce.js';
import type { EncodeInput } from './schema.js';

/** Produce is flexible (compact lengths, tagged fields) from this version on. */
const FIRST_FLEXIBLE = 9;

/** Reads a Produce request body (v3-v11) from `frame` at `bodyOffset`; throws `ProtocolError` for bad bytes. */
export function decodeProduceRequest(version: number, frame: Buffer, bodyOffset: number): ProduceRequest {
  const flexible = version >= FIRST_FLEXIBLE;
  const r = new Reader(frame, bodyOffset);
  const transactionalId = readString(r, flexible, true, 'transactionalId');
  const acks = r.int16();
  const timeoutMs = r.int32();
  // The fewest bytes a topic takes: its name's length, its partition array's length, its tags.
  const topics = readCount(r, flexible, flexible ? 3 : 6, 'topicData');
  const topicData: ProduceTopicProduceData[] = [];
  for (let i = 0; i < topics; i++) topicData.push(readTopic(r, flexible));
  if (flexible) skipTaggedFields(r);
  if (r.remaining !== 0) r.fail(`${r.remaining} bytes after the Produce v${version} request`);
  return { transactionalId, acks, timeoutMs, topicData };
}

function readTopic(r: Reader, flexible: boolean): ProduceTopicProduceData {
  const name = readString(r, flexible, false, 'name')!;
  // A partition: its index, its records' length, its tags.
  const n = readCount(r, flexible, flexible ? 6 : 8, 'partitionData');
  const partitionData: ProducePartitionProduceData[] = [];
  for (let i = 0; i < n; i++) {
    const index = r.int32();
    const size = r.length(flexible ? LengthKind.Compact : LengthKind.Int32, 1, 'bytes records');
    // Records stay a view into the frame: they are appended before the request's handler returns.
    const records = size < 0 ? null : r.view(size);
    if (flexible) skipTaggedFields(r);
    partitionData.push({ index, records });
  }
  if (flexible) skipTaggedFields(r);
  return { name, partitionData };
}

function readCount(r: Reader, flexible: boolean, minElementBytes: number, name: string): number {
  const n = r.length(flexible ? LengthKind.Compact : LengthKind.Int32, minElementBytes, `array ${name}`);
  if (n < 0) r.fail(`null array ${name} is not nullable`);
  return n;
}

function readString(r: Reader, flexible: boolean, nullable: boolean, name: string): string | null {
  const n = r.length(flexible ? LengthKind.Compact : LengthKind.Int16, 1, `string ${name}`);
  if (n < 0) return nullable ? null : r.fail(`null string ${name} is not nullable`);
  return r.utf8(n);
}

/** A tagged-field section: Produce requests define no tags, so every one is skipped. */
function skipTaggedFields(r: Reader): void {
  const count = r.taggedFieldCount();
  for (let i = 0; i < count; i++) r.skip(r.taggedFieldSize(r.uvarint()));
}

type ResponseInput = EncodeInput<ProduceResponse>;

/**
 * The size prefix, response header and body of a Produce response (v3-v11) in one buffer, or
 * null when the body sets a field this encoder leaves to the generic one: record errors, a
 * current leader or node endpoints (the broker sets none of them).
 */
export function encodeProduceResponse(version: number, correlationId: number, body: ResponseInput): Buffer[] | null {
  const flexible = version >= FIRST_FLEXIBLE;
  const size = responseSize(version, flexible, body);
  if (size < 0) return null;
  const out = Buffer.allocUnsafe(size);
  let pos = out.writeInt32BE(size - 4, 0);
  pos = out.writeInt32BE(correlationId, pos);
  if (flexible) out[pos++] = 0; // header tags
  const topics = body.responses ?? [];
  pos = writeCount(out, pos, flexible, topics.length);
  for (const topic of topics) {
    pos = writeString(out, pos, flexible, topic.name ?? '');
    const partitions = topic.partitionResponses ?? [];
    pos = writeCount(out, pos, flexible, partitions.length);
    for (const p of partitions) {
      pos = out.writeInt32BE(int(p.index ?? 0, 'index'), pos);
      pos = out.writeInt16BE(int(p.errorCode ?? 0, 'errorCode'), pos);
      pos = out.writeBigInt64BE(big(p.baseOffset ?? 0n, 'baseOffset'), pos);
      pos = out.writeBigInt64BE(big(p.logAppendTimeMs ?? -1n, 'logAppendTimeMs'), pos);
      if (version >= 5) pos = out.writeBigInt64BE(big(p.logStartOffset ?? -1n, 'logStartOffset'), pos);
      if (version >= 8) {
        pos = writeCount(out, pos, flexible, 0); // record errors (none, or not on this path)
        pos = writeNullableString(out, pos, flexible, p.errorMessage ?? null);
      }
      if (flexible) out[pos++] = 0; // partition tags: no current leader
    }
    if (flexible) out[pos++] = 0;
  }
  pos = out.writeInt32BE(int(body.throttleTimeMs ?? 0, 'throttleTimeMs'), pos);
  if (flexible) out[pos++] = 0; // body tags: no node endpoints
  return [out];
}

/** The response's bytes with its size prefix, or -1 when a field needs the generic encoder. */
function responseSize(version: number, flexible: boolean, body: ResponseInput): number {
  if (body.nodeEndpoints !== undefined && body.nodeEndpoints.length > 0) return -1;
  const topics = body.responses ?? [];
  let size = 4 + 4 + (flexible ? 1 : 0) + countSize(flexible, topics.length) + 4 + (flexible ? 1 : 0);
  for (const topic of topics) {
    const partitions = topic.partitionResponses ?? [];
    size += stringSize(flexible, topic.name ?? '') + countSize(flexible, partitions.length) + (flexible ? 1 : 0);
    for (const p of partitions) {
      if ((p.recordErrors !== undefined && p.recordErrors.length > 0) || p.currentLeader !== undefined) return -1;
      size += 4 + 2 + 8 + 8 + (version >= 5 ? 8 : 0) + (flexible ? 1 : 0);
      if (version >= 8) size += countSize(flexible, 0) + (p.errorMessage == null ? (flexible ? 1 : 2) : stringSize(flexible, p.errorMessage));
    }
  }
  return size;
}

function countSize(flexible: boolean, n: number): number {
  return flexible ? uvarintSize(n + 1) : 4;
}

function stringSize(flexible: boolean, s: string): number {
  if (typeof s !== 'string') throw new ProtocolError('a Produce response string must be a string');
  const n = Buffer.byteLength(s, 'utf8');
  if (!flexible && n > 0x7fff) throw new ProtocolError(`string of ${n} bytes is over 32767`);
  return (flexible ? uvarintSize(n + 1) : 2) + n;
}

function uvarintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function writeUvarint(out: Buffer, pos: number, v: number): number {
  while (v >= 0x80) {
    out[pos++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  out[pos++] = v;
  return pos;
}

function writeCount(out: Buffer, pos: number, flexible: boolean, n: number): number {
  return flexible ? writeUvarint(out, pos, n + 1) : out.writeInt32BE(n, pos);
}

function writeString(out: Buffer, pos: number, flexible: boolean, s: string): number {
  const n = Buffer.byteLength(s, 'utf8');
  pos = flexible ? writeUvarint(out, pos, n + 1) : out.writeInt16BE(n, pos);
  return pos + out.write(s, pos, n, 'utf8');
}

function writeNullableString(out: Buffer, pos: number, flexible: boolean, s: string | null): number {
  if (s !== null) return writeString(out, pos, flexible, s);
  return flexible ? writeUvarint(out, pos, 0) : out.writeInt16BE(-1, pos);
}

/** A number field's value; Buffer's writers check the range, but would coerce strings and null. */
function int(v: unknown, name: string): number {
  if (typeof v !== 'number') throw new ProtocolError(`field ${name} must be a number`);
  return v;
}

function big(v: unknown, name: string): bigint {
  if (typeof v !== 'bigint') throw new ProtocolError(`field ${name} must be a bigint`);
  return v;
}
