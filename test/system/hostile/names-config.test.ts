import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, InvalidArgumentError, InvalidConfigError, Log, Topic, isSeglogError } from '../../../src/index.js';
import { tmpDir } from '../../support/tmp.js';
import { closedLog, partitionDir } from './helpers.js';

describe('consumer names', () => {
  it.each(['a\uD800', 'a\uDC00', '\uDBFFz'])('refuses a name with a lone surrogate (%j), and other consumers keep working', async (name) => {
    const dir = closedLog(partitionDir(), 4);
    const log = Log.open(dir);
    await log.consumer('alpha').commit(3);
    expect(() => log.consumer(name)).toThrow(InvalidArgumentError);
    expect(log.consumer('alpha').committed()).toBe(3);
    log.close();
  });

  it('accepts a name with a surrogate pair (a well-formed astral character)', async () => {
    const log = Log.open(closedLog(partitionDir(), 2));
    await log.consumer('a\uD83D\uDE00').commit(1);
    expect(log.consumer('a\uD83D\uDE00').committed()).toBe(1);
    expect(log.consumer('alpha').committed()).toBeNull();
    log.close();
  });
});

describe('partition directory names that are not Kafka topic names', () => {
  it.each(['my orders-0', 'tab\there-0', 'new\nline-0', 'per%cent-0'])('reads back the checkpoints it writes (%j)', (name) => {
    const dir = closedLog(partitionDir(name), 10, 2);
    const log = Log.open(dir);
    log.deleteRecordsBefore(11);
    expect(log.startOffset).toBe(11);
    log.close();
    const reopened = Log.open(dir);
    expect(reopened.recovery.cleanShutdown).toBe(true);
    expect(reopened.startOffset).toBe(11);
    expect(() => reopened.read(8)).toThrow(expect.objectContaining({ code: 'SEGLOG_OFFSET_OUT_OF_RANGE' }));
    reopened.close();
    // The recovery point is read back as well: without the clean-shutdown mark, recovery starts from it.
    const again = Log.open(dir);
    again.append({ value: 'x' });
    again.close();
    fs.rmSync(path.join(dir, '.kafka_cleanshutdown'));
    const crashed = Log.open(dir);
    expect(crashed.recovery.cleanShutdown).toBe(false);
    expect(crashed.recovery.recoveryPoint).toBe(21);
    expect(crashed.startOffset).toBe(11);
    crashed.close();
  });
});

describe('topic.json and partition counts', () => {
  function topicWith(json: unknown): string {
    const dir = path.join(tmpDir('seglog-hostile-topic-'), 'orders');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'topic.json'), JSON.stringify(json));
    return dir;
  }

  it.each([1_000_000, 2 ** 53 - 1, 10_001])('refuses a topic.json claiming %d partitions without creating a directory', (partitions) => {
    const dir = topicWith({ version: 1, name: 'orders', partitions });
    const started = Date.now();
    expect(() => Topic.open(dir)).toThrow(InvalidConfigError);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory())).toEqual([]);
  });

  it.each([2 ** 53 - 1, 1_000_000])('refuses partitions: %d in the config with InvalidConfigError', (partitions) => {
    const dir = path.join(tmpDir('seglog-hostile-topic-'), 'orders');
    expect(() => Topic.open(dir, { partitions })).toThrow(InvalidConfigError);
  });

  it('refuses a topic.json whose name would lead outside the topic directory', () => {
    const dir = topicWith({ version: 1, name: '../escaped', partitions: 1 });
    expect(() => Topic.open(dir)).toThrow(InvalidConfigError);
    expect(fs.existsSync(path.join(dir, '..', 'escaped-0'))).toBe(false);
  });

  it('refuses addPartitions past the bound with InvalidArgumentError', () => {
    const dir = path.join(tmpDir('seglog-hostile-topic-'), 'orders');
    const topic = Topic.open(dir, { partitions: 1 });
    expect(() => topic.addPartitions(2 ** 53 - 2)).toThrow(InvalidArgumentError);
    expect(topic.partitions).toBe(1);
    topic.close();
  });
});

describe('config objects', () => {
  it.each([
    ['__proto__ from JSON.parse', () => JSON.parse('{"__proto__": {"segmentBytes": 4096}}') as object],
    ['hasOwnProperty', () => ({ hasOwnProperty: 1 })],
    ['constructor', () => ({ constructor: 1 })],
    ['toString', () => ({ toString: 'x' })],
    ['valueOf', () => ({ valueOf: () => 1 })],
  ])('refuses the key %s with InvalidConfigError', (_name, make) => {
    const dir = partitionDir();
    let thrown: unknown;
    try {
      Log.open(dir, make() as never).close();
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(InvalidConfigError);
    expect(isSeglogError(thrown)).toBe(true);
    expect(() => Topic.open(path.join(tmpDir('seglog-hostile-topic-'), 't'), { partitions: 1, ...(make() as object) } as never)).toThrow(InvalidConfigError);
  });

  it('derives maxDecompressedBytes from maxMessageBytes unless it is set, and validates it', () => {
    expect(DEFAULT_CONFIG.maxDecompressedBytes).toBe(16 * DEFAULT_CONFIG.maxMessageBytes);
    expect(() => Log.open(partitionDir(), { maxDecompressedBytes: 0 })).toThrow(InvalidConfigError);
    expect(() => Log.open(partitionDir(), { maxDecompressedBytes: 2 ** 31 })).toThrow(InvalidConfigError);
    const log = Log.open(partitionDir(), { maxDecompressedBytes: 1 << 20 });
    log.close();
  });
});
