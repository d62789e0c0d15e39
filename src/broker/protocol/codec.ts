import { ProtocolError } from '../../errors.js';
import { Kind, type FieldPlan, type StructPlan } from './plan.js';
import { LengthKind, type Reader } from './reader.js';
import { Writer } from './writer.js';

/** Bytes fields up to this size are copied into the block; larger ones are sent as slices. */
const COPY_BYTES_LIMIT = 4096;
const EMPTY = Buffer.alloc(0);

type Obj = Record<string, unknown>;

// ---- decoding ----

export function readStruct(r: Reader, plan: StructPlan): Obj {
  const o: Obj = {};
  const fields = plan.fields;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    o[f.name] = readField(r, f);
  }
  if (plan.flexible) readTaggedFields(r, plan, o);
  return o;
}

function readField(r: Reader, f: FieldPlan): unknown {
  if (!f.array) return readValue(r, f, f.nullable);
  const n = r.length(f.compact ? LengthKind.Compact : LengthKind.Int32, f.minElementBytes, `array ${f.name}`);
  if (n < 0) return f.nullable ? null : r.fail(`null array ${f.name} is not nullable`);
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) out.push(readValue(r, f, false));
  return out;
}

function readValue(r: Reader, f: FieldPlan, nullable: boolean): unknown {
  switch (f.kind) {
    case Kind.Int32:
      return r.int32();
    case Kind.Int16:
      return r.int16();
    case Kind.Int64:
      return r.int64();
    case Kind.String: {
      const n = r.length(f.compact ? LengthKind.Compact : LengthKind.Int16, 1, `string ${f.name}`);
      if (n < 0) return nullable ? null : r.fail(`null string ${f.name} is not nullable`);
      return r.utf8(n);
    }
    case Kind.Struct:
      return readStruct(r, f.struct!);
    case Kind.Int8:
      return r.int8();
    case Kind.Bool:
      return r.bool();
    case Kind.Uint16:
      return r.uint16();
    case Kind.Float64:
      return r.float64();
    case Kind.Uuid:
      return r.copy(16);
    case Kind.Bytes:
    case Kind.Records: {
      const n = r.length(f.compact ? LengthKind.Compact : LengthKind.Int32, 1, `bytes ${f.name}`);
      if (n < 0) return nullable ? null : r.fail(`null bytes ${f.name} is not nullable`);
      // Records stay a view into the frame (the hot path of produce); other bytes are kept
      // by handlers (group metadata), so they are copied out of a frame that may be reused.
      return f.kind === Kind.Records ? r.view(n) : r.copy(n);
    }
  }
}

function readTaggedFields(r: Reader, plan: StructPlan, o: Obj): void {
  for (const f of plan.tagged) o[f.name] = defaultOf(f);
  const count = r.taggedFieldCount();
  for (let i = 0; i < count; i++) {
    const tag = r.uvarint();
    const size = r.taggedFieldSize(tag);
    const f = plan.byTag.get(tag);
    if (f === undefined) {
      r.skip(size);
      continue;
    }
    const end = r.pos + size;
    const outerEnd = r.end;
    // Bound the field to its declared size, so a field cannot read into its neighbours.
    r.end = end;
    try {
      o[f.name] = readField(r, f);
      if (r.pos !== end) r.fail(`tagged field ${tag} is ${size} bytes but its value took ${size - (end - r.pos)}`);
    } finally {
      r.end = outerEnd;
    }
  }
}

/** A fresh default value for a field the message left out (tagged fields on decode). */
export function defaultOf(f: FieldPlan): unknown {
  if (f.array) return f.defaultValue === null ? null : [];
  switch (f.kind) {
    case Kind.Struct:
      return defaultStruct(f.struct!);
    case Kind.Uuid:
      return Buffer.alloc(16);
    case Kind.Bytes:
      return f.defaultValue === null ? null : EMPTY;
    default:
      return f.defaultValue;
  }
}

function defaultStruct(plan: StructPlan): Obj {
  const o: Obj = {};
  for (const f of plan.fields) o[f.name] = defaultOf(f);
  for (const f of plan.tagged) o[f.name] = defaultOf(f);
  return o;
}

// ---- encoding ----

export function writeStruct(w: Writer, plan: StructPlan, o: Obj | undefined): void {
  const fields = plan.fields;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    writeField(w, f, o === undefined ? undefined : o[f.name]);
  }
  if (plan.flexible) writeTaggedFields(w, plan, o);
}

function writeField(w: Writer, f: FieldPlan, v: unknown): void {
  if (v === undefined) v = defaultOf(f);
  if (!f.array) return writeValue(w, f, v, f.nullable);
  if (v === null) {
    if (!f.nullable) throw new ProtocolError(`array ${f.name} is not nullable at this version`);
    if (f.compact) w.uvarint(0);
    else w.int32(-1);
    return;
  }
  if (!Array.isArray(v)) throw new ProtocolError(`field ${f.name} must be an array`);
  if (f.compact) w.uvarint(v.length + 1);
  else w.int32(v.length);
  for (let i = 0; i < v.length; i++) writeValue(w, f, v[i], false);
}

function writeValue(w: Writer, f: FieldPlan, v: unknown, nullable: boolean): void {
  switch (f.kind) {
    case Kind.Int32:
      return w.int32(num(f, v));
    case Kind.Int16:
      return w.int16(num(f, v));
    case Kind.Int64:
      if (typeof v !== 'bigint') throw new ProtocolError(`field ${f.name} must be a bigint`);
      return w.int64(v);
    case Kind.String:
      return writeString(w, f, v as string | null, nullable);
    case Kind.Struct:
      if (typeof v !== 'object' || v === null) throw new ProtocolError(`field ${f.name} must be an object`);
      return writeStruct(w, f.struct!, v as Obj);
    case Kind.Int8:
      return w.int8(num(f, v));
    case Kind.Bool:
      if (typeof v !== 'boolean') throw new ProtocolError(`field ${f.name} must be a boolean`);
      return w.bool(v);
    case Kind.Uint16:
      return w.uint16(num(f, v));
    case Kind.Float64:
      return w.float64(num(f, v));
    case Kind.Uuid:
      if (!Buffer.isBuffer(v) || v.length !== 16) throw new ProtocolError(`uuid ${f.name} must be a 16-byte Buffer`);
      return w.bytes(v);
    case Kind.Bytes:
    case Kind.Records:
      return writeBytes(w, f, v as Buffer | readonly Buffer[] | null, nullable);
  }
}

/** A number field's value; Buffer's writers check the range, but would coerce strings and null. */
function num(f: FieldPlan, v: unknown): number {
  if (typeof v !== 'number') throw new ProtocolError(`field ${f.name} must be a number`);
  return v;
}

function writeString(w: Writer, f: FieldPlan, v: string | null, nullable: boolean): void {
  if (v === null) {
    if (!nullable) throw new ProtocolError(`string ${f.name} is not nullable at this version`);
    if (f.compact) w.uvarint(0);
    else w.int16(-1);
    return;
  }
  if (typeof v !== 'string') throw new ProtocolError(`field ${f.name} must be a string`);
  const n = Buffer.byteLength(v, 'utf8');
  if (f.compact) w.uvarint(n + 1);
  else if (n > 0x7fff) throw new ProtocolError(`string ${f.name} of ${n} bytes is over 32767`);
  else w.int16(n);
  w.utf8(v, n);
}

function writeBytes(w: Writer, f: FieldPlan, v: Buffer | readonly Buffer[] | null, nullable: boolean): void {
  if (v === null) {
    if (!nullable) throw new ProtocolError(`bytes ${f.name} is not nullable at this version`);
    if (f.compact) w.uvarint(0);
    else w.int32(-1);
    return;
  }
  const single = Buffer.isBuffer(v);
  if (!single && !Array.isArray(v)) throw new ProtocolError(`field ${f.name} must be a Buffer or a list of Buffers`);
  let n = 0;
  if (single) n = v.length;
  else for (const s of v as readonly Buffer[]) n += s.length;
  if (f.compact) w.uvarint(n + 1);
  else w.int32(n);
  if (single && f.kind === Kind.Bytes && n <= COPY_BYTES_LIMIT) w.bytes(v);
  else w.slices(single ? [v] : (v as readonly Buffer[]));
}

function writeTaggedFields(w: Writer, plan: StructPlan, o: Obj | undefined): void {
  const tagged = plan.tagged;
  if (tagged.length === 0 || o === undefined) return w.uvarint(0);
  let count = 0;
  for (const f of tagged) if (!isDefault(f, o[f.name])) count++;
  w.uvarint(count);
  if (count === 0) return;
  for (const f of tagged) {
    const v = o[f.name];
    if (isDefault(f, v)) continue;
    const sub = new Writer(64);
    writeField(sub, f, v);
    const bytes = sub.concat();
    w.uvarint(f.tag);
    w.uvarint(bytes.length);
    w.bytes(bytes);
  }
}

/** Kafka writes a tagged field only when it differs from its default. */
function isDefault(f: FieldPlan, v: unknown): boolean {
  if (v === undefined) return true;
  if (f.array) return f.defaultValue === null ? v === null : Array.isArray(v) && v.length === 0;
  switch (f.kind) {
    case Kind.Struct: {
      if (v === null || typeof v !== 'object') return false;
      const o = v as Obj;
      const plan = f.struct!;
      return plan.fields.every((g) => isDefault(g, o[g.name])) && plan.tagged.every((g) => isDefault(g, o[g.name]));
    }
    case Kind.Uuid:
      return Buffer.isBuffer(v) && v.length === 16 && v.every((b) => b === 0);
    case Kind.Bytes:
      if (f.defaultValue === null) return v === null;
      return Buffer.isBuffer(v) && v.length === 0;
    default:
      return v === f.defaultValue;
  }
}
