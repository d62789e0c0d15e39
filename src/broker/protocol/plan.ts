import { inRange, type ApiSchema, type FieldSpec } from './schema.js';

/** Value kinds, resolved once per field so the codec switches on a small integer. */
export const Kind = {
  Bool: 0,
  Int8: 1,
  Int16: 2,
  Uint16: 3,
  Int32: 4,
  Int64: 5,
  Float64: 6,
  String: 7,
  Bytes: 8,
  Records: 9,
  Uuid: 10,
  Struct: 11,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

const PRIMITIVE_KINDS: Readonly<Record<string, Kind>> = {
  bool: Kind.Bool,
  int8: Kind.Int8,
  int16: Kind.Int16,
  uint16: Kind.Uint16,
  int32: Kind.Int32,
  int64: Kind.Int64,
  float64: Kind.Float64,
  string: Kind.String,
  bytes: Kind.Bytes,
  records: Kind.Records,
  uuid: Kind.Uuid,
};

/** One field as it is encoded at one version: everything the codec asks is answered here. */
export interface FieldPlan {
  readonly name: string;
  readonly kind: Kind;
  readonly array: boolean;
  readonly nullable: boolean;
  /** Compact lengths (uvarint n + 1) rather than int16/int32 ones. */
  readonly compact: boolean;
  /** The tag in the struct's tagged-field section, or -1 for a field written in place. */
  readonly tag: number;
  readonly struct: StructPlan | null;
  /** The schema default of a scalar field (arrays and structs build theirs on demand). */
  readonly defaultValue: unknown;
  /** The fewest bytes one element can take, to reject array lengths the frame cannot hold. */
  readonly minElementBytes: number;
}

/** A struct (a message body or a nested struct) at one version. */
export interface StructPlan {
  /** Fields written in place, in schema order. */
  readonly fields: readonly FieldPlan[];
  /** Tagged fields in ascending tag order, as they are written. */
  readonly tagged: readonly FieldPlan[];
  readonly byTag: ReadonlyMap<number, FieldPlan>;
  /** Flexible versions end every struct with a tagged-field section. */
  readonly flexible: boolean;
  readonly minBytes: number;
}

export function compileStruct(specs: readonly FieldSpec[], version: number, flexible: boolean): StructPlan {
  const fields: FieldPlan[] = [];
  const tagged: FieldPlan[] = [];
  for (const spec of specs) {
    if (!inRange(spec.versions, version)) continue;
    const plan = compileField(spec, version, flexible);
    (plan.tag >= 0 ? tagged : fields).push(plan);
  }
  tagged.sort((a, b) => a.tag - b.tag);
  let minBytes = flexible ? 1 : 0;
  for (const f of fields) minBytes += fieldMinBytes(f);
  return { fields, tagged, byTag: new Map(tagged.map((f) => [f.tag, f])), flexible, minBytes };
}

function compileField(spec: FieldSpec, version: number, flexible: boolean): FieldPlan {
  const array = spec.type.startsWith('[]');
  const element = array ? spec.type.slice(2) : spec.type;
  const struct = spec.fields === undefined ? null : compileStruct(spec.fields, version, flexible);
  const kind = struct !== null ? Kind.Struct : PRIMITIVE_KINDS[element];
  if (kind === undefined) throw new Error(`schema field ${spec.name}: unknown type ${spec.type}`);
  const compact = flexible && (spec.flexibleVersions === undefined || inRange(spec.flexibleVersions, version));
  const tag = flexible && inRange(spec.taggedVersions, version) ? spec.tag! : -1;
  const nullable = inRange(spec.nullableVersions, version);
  const partial = { kind, compact, struct };
  return {
    name: spec.name,
    kind,
    array,
    nullable,
    compact,
    tag,
    struct,
    defaultValue: scalarDefault(kind, spec.default),
    minElementBytes: Math.max(1, array ? valueMinBytes(partial) : 1),
  };
}

function scalarDefault(kind: Kind, given: FieldSpec['default']): unknown {
  if (given !== undefined) return given;
  switch (kind) {
    case Kind.Bool:
      return false;
    case Kind.Int64:
      return 0n;
    case Kind.String:
      return '';
    case Kind.Records:
      return null;
    case Kind.Bytes:
    case Kind.Uuid:
    case Kind.Struct:
      return undefined;
    default:
      return 0;
  }
}

function valueMinBytes(f: Pick<FieldPlan, 'kind' | 'compact' | 'struct'>): number {
  switch (f.kind) {
    case Kind.Bool:
    case Kind.Int8:
      return 1;
    case Kind.Int16:
    case Kind.Uint16:
      return 2;
    case Kind.Int32:
      return 4;
    case Kind.Int64:
    case Kind.Float64:
      return 8;
    case Kind.Uuid:
      return 16;
    case Kind.String:
      return f.compact ? 1 : 2;
    case Kind.Bytes:
    case Kind.Records:
      return f.compact ? 1 : 4;
    default:
      return f.struct!.minBytes;
  }
}

function fieldMinBytes(f: FieldPlan): number {
  if (f.array) return f.compact ? 1 : 4;
  return valueMinBytes(f);
}

/** The request and response plans of every version of one API, compiled on first use. */
export class ApiPlans {
  private readonly requests = new Map<number, StructPlan>();
  private readonly responses = new Map<number, StructPlan>();
  /** The first flexible version (past the newest when none is): asked of every request's header. */
  private readonly firstFlexible: number;

  constructor(readonly schema: ApiSchema) {
    // Kafka writes flexibleVersions as "N+" or "none".
    let v = 0;
    while (v <= schema.maxVersion && !inRange(schema.flexibleVersions, v)) v++;
    this.firstFlexible = v <= schema.maxVersion ? v : Infinity;
  }

  /** Versions above the served range keep the newest one's rule (flexible versions only grow). */
  isFlexible(version: number): boolean {
    return version >= this.firstFlexible;
  }

  request(version: number): StructPlan {
    return this.plan(this.requests, this.schema.request, version);
  }

  response(version: number): StructPlan {
    return this.plan(this.responses, this.schema.response, version);
  }

  private plan(cache: Map<number, StructPlan>, specs: readonly FieldSpec[], version: number): StructPlan {
    let plan = cache.get(version);
    if (plan === undefined) {
      plan = compileStruct(specs, version, this.isFlexible(version));
      cache.set(version, plan);
    }
    return plan;
  }
}
