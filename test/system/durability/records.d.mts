export declare const BASE_TIMESTAMP: number;
export declare function mix(x: number): number;
export declare function batchSizeAt(baseOffset: number): number;
export interface ExpectedRecord {
  key: Buffer | null;
  value: Buffer;
  timestamp: number;
  headers: { key: string; value: Buffer }[];
}
export declare function recordAt(offset: number): ExpectedRecord;
export declare function batchAt(baseOffset: number): ExpectedRecord[];
export declare function checksum(records: { offset: number; timestamp: number; key: Buffer | null; value: Buffer | null }[]): string;
