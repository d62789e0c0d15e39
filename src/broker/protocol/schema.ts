/**
 * Kafka's message schemas as data. Each API file under `messages/` mirrors the request and
 * response JSON in Kafka's `clients/src/main/resources/common/message/`: field names (in
 * lowerCamelCase), types, version ranges, nullable and tagged versions, defaults and nested
 * fields. One generic codec (`codec.ts`) walks them, as Kafka's generated code would (Produce,
 * the hot request, also has a codec of its own: `produce-codec.ts`).
 */

/**
 * A version range as Kafka writes it: `"3+"`, `"0-7"`, `"5"` or `"none"`.
 */
export type VersionRange = string;

/** A field's value type: a primitive, a struct name (with `fields`), or `[]` + either for arrays. */
export type FieldType = string;

export interface FieldSpec {
  readonly name: string;
  readonly type: FieldType;
  readonly versions: VersionRange;
  readonly nullableVersions?: VersionRange;
  readonly taggedVersions?: VersionRange;
  readonly tag?: number;
  /** `'none'` keeps a field in the classic encoding in flexible versions (the header's client id). */
  readonly flexibleVersions?: VersionRange;
  /** The value a missing field takes; otherwise 0, false, '', empty, or the all-zero uuid. */
  readonly default?: number | bigint | boolean | string | null;
  /** The fields of a struct or of an array of structs. */
  readonly fields?: readonly FieldSpec[];
}

export interface ApiSchema {
  readonly name: string;
  readonly apiKey: number;
  /** The lowest version this broker serves (not necessarily the lowest Kafka knows). */
  readonly minVersion: number;
  /** The newest version Kafka 3.9 serves. */
  readonly maxVersion: number;
  readonly flexibleVersions: VersionRange;
  readonly request: readonly FieldSpec[];
  readonly response: readonly FieldSpec[];
}

/**
 * A records field: decoding gives a view into the frame (or null); encoding also takes a list of
 * slices, sent as they are (a fetch response sends stored batches without copying them).
 */
export type Records = Buffer | readonly Buffer[] | null;

/** Whether `version` lies in `range`. */
export function inRange(range: VersionRange | undefined, version: number): boolean {
  if (range === undefined || range === 'none') return false;
  if (range.endsWith('+')) return version >= Number(range.slice(0, -1));
  const dash = range.indexOf('-');
  if (dash < 0) return version === Number(range);
  return version >= Number(range.slice(0, dash)) && version <= Number(range.slice(dash + 1));
}

/**
 * What an encoder accepts: any field may be left out and takes its default; a bytes or records
 * field may be a list of slices, written one after the other without being joined.
 */
export type EncodeInput<T> = T extends Buffer
  ? T | readonly Buffer[]
  : T extends bigint | number | string | boolean | null | undefined
    ? T
    : T extends readonly (infer E)[]
      ? readonly EncodeInput<E>[]
      : T extends object
        ? { [K in keyof T]?: EncodeInput<T[K]> }
        : T;
