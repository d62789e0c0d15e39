/** Bytes as the caller may give them: strings are encoded as UTF-8; null means absent. */
export type BytesInput = Buffer | Uint8Array | string | null;

/** A record header as the caller gives it. */
export interface HeaderInput {
  key: string;
  value: BytesInput;
}

/** One record to append. Every field is optional; an empty object is a record with null key and value. */
export interface RecordInput {
  key?: BytesInput | undefined;
  value?: BytesInput | undefined;
  /** Milliseconds since the epoch; a non-negative safe integer. Defaults to the log's clock. */
  timestamp?: number | undefined;
  /** An array of headers (duplicates allowed, order kept) or a plain object (its own key order). */
  headers?: readonly HeaderInput[] | Readonly<Record<string, BytesInput>> | undefined;
}

/** A record header as read back. */
export interface Header {
  key: string;
  value: Buffer | null;
}

/** A record as read back from the log. */
export interface LogRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Header[];
}

/** Kafka's compression codecs; the id is what the low 3 bits of a batch's attributes hold. */
export type CompressionType = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

/** Kafka's `message.timestamp.type`. */
export type TimestampType = 'CreateTime' | 'LogAppendTime';
