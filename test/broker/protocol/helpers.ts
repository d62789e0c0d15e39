import { inRange, type ApiSchema, type FieldSpec } from '../../../src/broker/protocol/schema.js';
import { API_VERSIONS } from '../../../src/broker/protocol/messages/api-versions.js';
import { CREATE_TOPICS } from '../../../src/broker/protocol/messages/create-topics.js';
import { DELETE_RECORDS } from '../../../src/broker/protocol/messages/delete-records.js';
import { FETCH } from '../../../src/broker/protocol/messages/fetch.js';
import { FIND_COORDINATOR } from '../../../src/broker/protocol/messages/find-coordinator.js';
import { HEARTBEAT } from '../../../src/broker/protocol/messages/heartbeat.js';
import { INIT_PRODUCER_ID } from '../../../src/broker/protocol/messages/init-producer-id.js';
import { JOIN_GROUP } from '../../../src/broker/protocol/messages/join-group.js';
import { LEAVE_GROUP } from '../../../src/broker/protocol/messages/leave-group.js';
import { LIST_OFFSETS } from '../../../src/broker/protocol/messages/list-offsets.js';
import { METADATA } from '../../../src/broker/protocol/messages/metadata.js';
import { OFFSET_COMMIT } from '../../../src/broker/protocol/messages/offset-commit.js';
import { OFFSET_FETCH } from '../../../src/broker/protocol/messages/offset-fetch.js';
import { PRODUCE } from '../../../src/broker/protocol/messages/produce.js';
import { SYNC_GROUP } from '../../../src/broker/protocol/messages/sync-group.js';

export const ALL_SCHEMAS: readonly ApiSchema[] = [
  PRODUCE,
  FETCH,
  LIST_OFFSETS,
  METADATA,
  OFFSET_COMMIT,
  OFFSET_FETCH,
  FIND_COORDINATOR,
  JOIN_GROUP,
  HEARTBEAT,
  LEAVE_GROUP,
  SYNC_GROUP,
  API_VERSIONS,
  CREATE_TOPICS,
  DELETE_RECORDS,
  INIT_PRODUCER_ID,
];

/** Every (schema, version) this broker serves. */
export function servedVersions(): { schema: ApiSchema; version: number }[] {
  const out: { schema: ApiSchema; version: number }[] = [];
  for (const schema of ALL_SCHEMAS) {
    for (let v = schema.minVersion; v <= schema.maxVersion; v++) out.push({ schema, version: v });
  }
  return out;
}

export { prng } from '../../support/prng.js';

export interface ValueOptions {
  /** Nullable fields take null (true) or a non-null value (false). */
  nulls: boolean;
  /** Array lengths (1..maxArray). */
  maxArray: number;
}

/**
 * A message with a non-default value in every field present at `version` (tagged ones included),
 * built from the schema alone, for round trips. Values avoid each field's default so a field the
 * codec drops or defaults shows up as a difference.
 */
export function sampleMessage(
  fields: readonly FieldSpec[],
  version: number,
  rnd: () => number,
  opts: ValueOptions,
): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const f of fields) {
    if (!inRange(f.versions, version)) continue;
    o[f.name] = sampleField(f, version, rnd, opts);
  }
  return o;
}

function sampleField(f: FieldSpec, version: number, rnd: () => number, opts: ValueOptions): unknown {
  const nullable = inRange(f.nullableVersions, version);
  if (nullable && opts.nulls && f.default === null) return null;
  if (nullable && opts.nulls && f.type.startsWith('[]')) return null;
  if (nullable && opts.nulls && f.type === 'records') return null;
  if (f.type.startsWith('[]')) {
    const n = 1 + Math.floor(rnd() * opts.maxArray);
    const element = { ...f, type: f.type.slice(2), nullableVersions: undefined };
    return Array.from({ length: n }, () => sampleField(element, version, rnd, opts));
  }
  if (f.fields !== undefined) return sampleMessage(f.fields, version, rnd, opts);
  return samplePrimitive(f, rnd);
}

function samplePrimitive(f: FieldSpec, rnd: () => number): unknown {
  const int = (bits: number) => {
    const span = 2 ** bits;
    let v = Math.floor(rnd() * span) - span / 2;
    if (v === f.default || v === 0) v = 7;
    return v;
  };
  switch (f.type) {
    case 'bool':
      return f.default !== true;
    case 'int8':
      return int(8);
    case 'int16':
      return int(16);
    case 'uint16':
      return 1 + Math.floor(rnd() * 65534);
    case 'int32':
      return int(32);
    case 'int64': {
      const v = BigInt.asIntN(64, (BigInt(Math.floor(rnd() * 2 ** 32)) << 32n) | BigInt(Math.floor(rnd() * 2 ** 32)));
      return v === 0n || v === f.default ? 123456789012345n : v;
    }
    case 'float64':
      return rnd() * 1e6 - 5e5;
    case 'string':
      return `${f.name}-é${Math.floor(rnd() * 1000)}`;
    case 'uuid':
      return Buffer.from(Array.from({ length: 16 }, () => 1 + Math.floor(rnd() * 255)));
    case 'bytes':
    case 'records':
      return Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 40) }, () => Math.floor(rnd() * 256)));
    default:
      throw new Error(`no sample for ${f.type}`);
  }
}

/** The bytes of a list of chunks, with the 4-byte size prefix checked and removed. */
export function frameOf(chunks: Buffer[]): Buffer {
  const all = Buffer.concat(chunks);
  if (all.readInt32BE(0) !== all.length - 4) throw new Error(`size prefix ${all.readInt32BE(0)} for ${all.length - 4} bytes`);
  return all.subarray(4);
}
