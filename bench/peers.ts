/**
 * The peer stores of `npm run bench:compare`, each behind the `Store` interface of stores.ts:
 * better-sqlite3 12, lmdb (lmdb-js), classic-level and hypercore 11.37.1. They are a package of
 * their own (bench/package.json, installed on first use by `npm run bench:compare`), so seglog's
 * `npm ci` never installs them; only compare.ts loads this module, with a dynamic import of each,
 * so neither `npm run bench` nor the type check needs them (the few calls used are typed below).
 *
 * Every store keeps what seglog keeps for a record: offset, key, value and timestamp, plus a way
 * to find the first offset at or after a time. The key-value stores hold a record as one value
 * (`encodeFrame`: timestamp, key length, key, value) under its offset, and reads decode it back
 * into an object, as `Log.read` does.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { now, record, repoRoot, secondsSince, type Rec } from './common.js';
import { decodeFrame, encodeFrame, type AppendWorkload, type Reader, type Store } from './stores.js';

/** The peers live in bench/node_modules (bench/package.json), resolved from there. */
export function peerRequire(): NodeJS.Require {
  return createRequire(path.join(repoRoot(), 'bench', 'package.json'));
}

async function load<T>(name: string): Promise<T> {
  return (await import(pathToFileURL(peerRequire().resolve(name)).href)) as T;
}

/** Runs `producers` loops of `step` (each one durable append) for `ms`; returns records/s. */
async function producersFor(producers: number, ms: number, step: (p: number, i: number) => Promise<void> | void): Promise<number> {
  let count = 0;
  const start = now();
  // A deadline read from the clock, not a timer: a store whose calls are synchronous would never
  // let a timer fire.
  const end = start + BigInt(Math.round(ms * 1e6));
  await Promise.all(
    Array.from({ length: producers }, async (_, p) => {
      for (let i = 0; now() < end; i++) {
        await step(p, i);
        count++;
      }
    }),
  );
  return count / secondsSince(start);
}

// ---------------------------------------------------------------------------------------------
// better-sqlite3
// ---------------------------------------------------------------------------------------------

interface SqliteStatement {
  run(...params: unknown[]): unknown;
  get(...params: unknown[]): unknown;
  iterate(...params: unknown[]): IterableIterator<unknown>;
  pluck(toggle?: boolean): SqliteStatement;
  raw(toggle?: boolean): SqliteStatement;
}
interface SqliteDatabase {
  pragma(source: string): unknown;
  exec(source: string): void;
  prepare(source: string): SqliteStatement;
  transaction<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void;
  close(): void;
}
type SqliteConstructor = new (file: string) => SqliteDatabase;

class SqliteStore implements Store {
  readonly name = 'better-sqlite3';
  readonly setup =
    'better-sqlite3 12: WAL, synchronous=NORMAL; table ("offset" INTEGER PRIMARY KEY, key BLOB, value BLOB, timestamp INTEGER) + index on timestamp; a batch = one transaction';
  readonly durableSetup = 'synchronous=FULL (WAL): every commit fsyncs the WAL; calls are synchronous, so producers take turns (no group commit)';

  constructor(private readonly Database: SqliteConstructor) {}

  private openDb(dir: string, synchronous: 'NORMAL' | 'FULL'): SqliteDatabase {
    const db = new this.Database(path.join(dir, 'log.db'));
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous}`);
    db.exec(
      'CREATE TABLE IF NOT EXISTS log ("offset" INTEGER PRIMARY KEY, key BLOB, value BLOB, timestamp INTEGER NOT NULL);' +
        'CREATE INDEX IF NOT EXISTS log_timestamp ON log (timestamp);',
    );
    return db;
  }

  async append(dir: string, w: AppendWorkload, input: readonly Rec[][]): Promise<number | null> {
    if (w.compression !== 'none') return null;
    const db = this.openDb(dir, 'NORMAL');
    try {
      const insert = db.prepare('INSERT INTO log ("offset", key, value, timestamp) VALUES (?, ?, ?, ?)');
      const many = db.transaction((batch: readonly Rec[], base: number) => {
        for (let i = 0; i < batch.length; i++) {
          const r = batch[i]!;
          insert.run(base + i, r.key, r.value, r.timestamp);
        }
      });
      let offset = 0;
      const start = now();
      if (w.batch === 1) {
        for (let i = 0; i < input.length; i++) {
          const r = input[i]![0]!;
          insert.run(offset++, r.key, r.value, r.timestamp);
        }
      } else {
        for (let i = 0; i < input.length; i++) {
          many(input[i]!, offset);
          offset += input[i]!.length;
        }
      }
      return secondsSince(start);
    } finally {
      db.close();
    }
  }

  async build(dir: string, input: () => Iterable<Rec[]>): Promise<Reader> {
    let db = this.openDb(dir, 'NORMAL');
    const insert = db.prepare('INSERT INTO log ("offset", key, value, timestamp) VALUES (?, ?, ?, ?)');
    const many = db.transaction((batch: readonly Rec[], base: number) => {
      for (let i = 0; i < batch.length; i++) insert.run(base + i, batch[i]!.key, batch[i]!.value, batch[i]!.timestamp);
    });
    let offset = 0;
    for (const batch of input()) {
      many(batch, offset);
      offset += batch.length;
    }
    let get!: SqliteStatement;
    let byTime!: SqliteStatement;
    let all!: SqliteStatement;
    const prepare = (): void => {
      get = db.prepare('SELECT "offset", key, value, timestamp FROM log WHERE "offset" = ?');
      byTime = db.prepare('SELECT "offset" FROM log WHERE timestamp >= ? ORDER BY timestamp LIMIT 1').pluck();
      all = db.prepare('SELECT "offset", key, value, timestamp FROM log ORDER BY "offset"');
    };
    prepare();
    return {
      get: (o) => get.get(o),
      offsetForTimestamp: (ts) => (byTime.get(ts) as number | undefined) ?? null,
      scan: async () => {
        let records = 0;
        let payload = 0;
        for (const row of all.iterate() as IterableIterator<{ key: Buffer; value: Buffer }>) {
          records++;
          payload += row.key.length + row.value.length;
        }
        return { records, payload };
      },
      close: async () => db.close(),
      open: async () => {
        db = this.openDb(dir, 'NORMAL');
        prepare();
      },
    };
  }

  async durable(dir: string, producers: number, ms: number, valueBytes: number): Promise<number> {
    const db = this.openDb(dir, 'FULL');
    try {
      const insert = db.prepare('INSERT INTO log ("offset", key, value, timestamp) VALUES (?, ?, ?, ?)');
      let offset = 0;
      return await producersFor(producers, ms, async (p, i) => {
        const r = record(i * producers + p, valueBytes);
        insert.run(offset++, r.key, r.value, r.timestamp);
        // The commit above was synchronous and durable; yield so the other producers get a turn.
        await Promise.resolve();
      });
    } finally {
      db.close();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// lmdb (lmdb-js)
// ---------------------------------------------------------------------------------------------

interface LmdbDatabase {
  get(key: unknown): unknown;
  put(key: unknown, value: unknown): Promise<boolean>;
  putSync(key: unknown, value: unknown): void;
  getRange(options?: object): Iterable<{ key: unknown; value: unknown }>;
  transactionSync<T>(action: () => T): T;
  openDB(options: object): LmdbDatabase;
  close(): Promise<void>;
}
interface LmdbModule {
  open(options: object): LmdbDatabase;
}

class LmdbStore implements Store {
  readonly name = 'lmdb';
  readonly setup =
    'lmdb-js: db "records" (keyEncoding uint32 = offset, binary frame values) + db "time" (timestamp -> offset); noSync (page cache); a batch = one transactionSync of putSync; lz4 rows: compression: true (lmdb-js lz4)';
  readonly durableSetup = 'default sync: concurrent async put() calls share one transaction and one sync (lmdb-js batching); each producer awaits its put';

  constructor(private readonly lmdb: LmdbModule) {}

  private openEnv(dir: string, options: { noSync: boolean; compression: boolean }): { env: LmdbDatabase; records: LmdbDatabase; time: LmdbDatabase } {
    const env = this.lmdb.open({ path: dir, maxDbs: 4, noSync: options.noSync });
    const records = env.openDB({ name: 'records', keyEncoding: 'uint32', encoding: 'binary', compression: options.compression });
    const time = env.openDB({ name: 'time' });
    return { env, records, time };
  }

  async append(dir: string, w: AppendWorkload, input: readonly Rec[][]): Promise<number> {
    const { env, records, time } = this.openEnv(dir, { noSync: true, compression: w.compression === 'lz4' });
    try {
      let offset = 0;
      const start = now();
      for (let i = 0; i < input.length; i++) {
        const batch = input[i]!;
        env.transactionSync(() => {
          for (let j = 0; j < batch.length; j++) {
            const r = batch[j]!;
            records.putSync(offset, encodeFrame(r));
            time.putSync(r.timestamp, offset);
            offset++;
          }
        });
      }
      return secondsSince(start);
    } finally {
      await env.close();
    }
  }

  async build(dir: string, input: () => Iterable<Rec[]>): Promise<Reader> {
    let db = this.openEnv(dir, { noSync: true, compression: false });
    let offset = 0;
    for (const batch of input()) {
      db.env.transactionSync(() => {
        for (const r of batch) {
          db.records.putSync(offset, encodeFrame(r));
          db.time.putSync(r.timestamp, offset);
          offset++;
        }
      });
    }
    return {
      get: (o) => decodeFrame(o, db.records.get(o) as Buffer),
      offsetForTimestamp: (ts) => {
        for (const { value } of db.time.getRange({ start: ts, limit: 1 })) return value;
        return null;
      },
      scan: async () => {
        let records = 0;
        let payload = 0;
        for (const { key, value } of db.records.getRange({})) {
          const r = decodeFrame(key as number, value as Buffer);
          records++;
          payload += r.key.length + r.value.length;
        }
        return { records, payload };
      },
      close: async () => db.env.close(),
      open: async () => {
        db = this.openEnv(dir, { noSync: true, compression: false });
      },
    };
  }

  async durable(dir: string, producers: number, ms: number, valueBytes: number): Promise<number> {
    const { env, records, time } = this.openEnv(dir, { noSync: false, compression: false });
    try {
      let offset = 0;
      return await producersFor(producers, ms, async (p, i) => {
        const r = record(i * producers + p, valueBytes);
        const o = offset++;
        const done = records.put(o, encodeFrame(r));
        void time.put(r.timestamp, o);
        await done;
      });
    } finally {
      await env.close();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// classic-level
// ---------------------------------------------------------------------------------------------

interface LevelIterator {
  nextv(size: number): Promise<[Buffer, Buffer][]>;
  close(): Promise<void>;
}
interface LevelDb {
  open(): Promise<void>;
  close(): Promise<void>;
  batch(ops: { type: 'put'; key: Buffer; value: Buffer }[], options?: { sync?: boolean }): Promise<void>;
  getSync(key: Buffer): Buffer | undefined;
  iterator(options: object): LevelIterator;
  values(options: object): { all(): Promise<Buffer[]> };
}
type LevelConstructor = new (location: string, options: object) => LevelDb;

/** Keys: the offset as 8 big-endian bytes; time keys: 0xff then the timestamp as 8 big-endian bytes. */
function offsetKey(o: number): Buffer {
  const k = Buffer.allocUnsafe(8);
  k.writeBigUInt64BE(BigInt(o));
  return k;
}
const TIME_PREFIX = 0xff;
function timeKey(ts: number): Buffer {
  const k = Buffer.allocUnsafe(9);
  k[0] = TIME_PREFIX;
  k.writeBigUInt64BE(BigInt(ts), 1);
  return k;
}
const TIME_END = Buffer.from([TIME_PREFIX + 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

class LevelStore implements Store {
  readonly name = 'classic-level';
  readonly setup =
    'classic-level (LevelDB): keys = offset as 8 big-endian bytes -> frame, plus 0xff+timestamp -> offset key, written in one batch(); compression off (on, i.e. Snappy, for the lz4 rows); getSync for point reads';
  readonly durableSetup = 'batch(..., { sync: true }) per record; LevelDB merges concurrent writers into one log write + sync';

  constructor(private readonly ClassicLevel: LevelConstructor) {}

  private async openDb(dir: string, compression: boolean): Promise<LevelDb> {
    const db = new this.ClassicLevel(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer', compression });
    await db.open();
    return db;
  }

  private static ops(batch: readonly Rec[], base: number): { type: 'put'; key: Buffer; value: Buffer }[] {
    const ops: { type: 'put'; key: Buffer; value: Buffer }[] = new Array(batch.length * 2);
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i]!;
      const key = offsetKey(base + i);
      ops[2 * i] = { type: 'put', key, value: encodeFrame(r) };
      ops[2 * i + 1] = { type: 'put', key: timeKey(r.timestamp), value: key };
    }
    return ops;
  }

  async append(dir: string, w: AppendWorkload, input: readonly Rec[][]): Promise<number> {
    const db = await this.openDb(dir, w.compression !== 'none');
    try {
      let offset = 0;
      const start = now();
      for (let i = 0; i < input.length; i++) {
        await db.batch(LevelStore.ops(input[i]!, offset));
        offset += input[i]!.length;
      }
      return secondsSince(start);
    } finally {
      await db.close();
    }
  }

  async build(dir: string, input: () => Iterable<Rec[]>): Promise<Reader> {
    let db = await this.openDb(dir, false);
    let offset = 0;
    for (const batch of input()) {
      await db.batch(LevelStore.ops(batch, offset));
      offset += batch.length;
    }
    return {
      get: (o) => decodeFrame(o, db.getSync(offsetKey(o))!),
      offsetForTimestamp: async (ts) => {
        const found = await db.values({ gte: timeKey(ts), lt: TIME_END, limit: 1 }).all();
        return found.length === 0 ? null : Number(found[0]!.readBigUInt64BE(0));
      },
      scan: async () => {
        let records = 0;
        let payload = 0;
        const it = db.iterator({ lt: Buffer.from([TIME_PREFIX]) });
        try {
          for (;;) {
            const entries = await it.nextv(1000);
            if (entries.length === 0) break;
            for (const [key, value] of entries) {
              const r = decodeFrame(Number(key.readBigUInt64BE(0)), value);
              records++;
              payload += r.key.length + r.value.length;
            }
          }
        } finally {
          await it.close();
        }
        return { records, payload };
      },
      close: async () => db.close(),
      open: async () => {
        db = await this.openDb(dir, false);
      },
    };
  }

  async durable(dir: string, producers: number, ms: number, valueBytes: number): Promise<number> {
    const db = await this.openDb(dir, false);
    try {
      let offset = 0;
      return await producersFor(producers, ms, async (p, i) => {
        await db.batch(LevelStore.ops([record(i * producers + p, valueBytes)], offset++), { sync: true });
      });
    } finally {
      await db.close();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// hypercore 11.37.1
// ---------------------------------------------------------------------------------------------

interface HypercoreInstance {
  ready(): Promise<void>;
  append(blocks: Buffer | Buffer[]): Promise<{ length: number }>;
  get(index: number): Promise<Buffer | null>;
  createReadStream(options?: object): AsyncIterable<Buffer>;
  close(): Promise<void>;
  readonly length: number;
}
type HypercoreConstructor = new (storage: string) => HypercoreInstance;

class HypercoreStore implements Store {
  readonly name = 'hypercore';
  readonly setup =
    'hypercore 11.37.1 (RocksDB storage): block = frame, index = offset; append(array) per batch; time lookup = binary search with get() (no secondary index); no codec';
  readonly durableSetup = 'n/a: append() resolves when written to RocksDB without fsync; hypercore has no durable-append acknowledgement';

  constructor(private readonly Hypercore: HypercoreConstructor) {}

  private async openCore(dir: string): Promise<HypercoreInstance> {
    const core = new this.Hypercore(dir);
    await core.ready();
    return core;
  }

  async append(dir: string, w: AppendWorkload, input: readonly Rec[][]): Promise<number | null> {
    if (w.compression !== 'none') return null;
    const core = await this.openCore(dir);
    try {
      const start = now();
      if (w.batch === 1) {
        for (let i = 0; i < input.length; i++) await core.append(encodeFrame(input[i]![0]!));
      } else {
        for (let i = 0; i < input.length; i++) await core.append(input[i]!.map(encodeFrame));
      }
      return secondsSince(start);
    } finally {
      await core.close();
    }
  }

  async build(dir: string, input: () => Iterable<Rec[]>): Promise<Reader> {
    let core = await this.openCore(dir);
    for (const batch of input()) await core.append(batch.map(encodeFrame));
    return {
      get: async (o) => decodeFrame(o, (await core.get(o))!),
      offsetForTimestamp: async (ts) => {
        // Timestamps increase with the index here, so a bisection finds the first at or after ts.
        let lo = 0;
        let hi = core.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          const block = (await core.get(mid))!;
          if (block.readDoubleBE(0) < ts) lo = mid + 1;
          else hi = mid;
        }
        return lo < core.length ? lo : null;
      },
      scan: async () => {
        let records = 0;
        let payload = 0;
        for await (const block of core.createReadStream()) {
          const r = decodeFrame(records, block);
          records++;
          payload += r.key.length + r.value.length;
        }
        return { records, payload };
      },
      close: async () => core.close(),
      open: async () => {
        core = await this.openCore(dir);
      },
    };
  }

  async durable(): Promise<null> {
    return null;
  }
}

/** Loads the four peers (fails with a clear message when a dev dependency is missing). */
export async function loadPeers(): Promise<Store[]> {
  try {
    const sqlite = await load<{ default: SqliteConstructor }>('better-sqlite3');
    const lmdb = await load<LmdbModule>('lmdb');
    const level = await load<{ ClassicLevel: LevelConstructor }>('classic-level');
    const hypercore = await load<{ default: HypercoreConstructor }>('hypercore');
    return [new SqliteStore(sqlite.default), new LmdbStore(lmdb), new LevelStore(level.ClassicLevel), new HypercoreStore(hypercore.default)];
  } catch (err) {
    throw new Error(
      `bench:compare needs the peer stores in bench/node_modules: npm ci --prefix bench (${(err as Error).message})`,
    );
  }
}

/** Versions of the peers, read from their package.json files. */
export const PEER_PACKAGES = ['better-sqlite3', 'lmdb', 'classic-level', 'hypercore'];

