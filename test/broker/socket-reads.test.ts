/**
 * How the broker reads its connections (src/broker/socket-reads.ts): on the Node versions seglog
 * supports, an accepted connection is read in place into the server's one shared buffer; with
 * SEGLOG_BROKER_READS=stream it is read through Node's 'data' events. On both paths, produces of
 * every size (from a few bytes to more than one read) sent by several connections at once, many
 * in flight on each, arrive whole: the shared buffer mixes nothing between connections.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Log, type Broker } from '../../src/index.js';
import { ApiKey } from '../../src/broker/protocol/index.js';
import type { ReadPath } from '../../src/broker/socket-reads.js';
import { encodeBatch } from '../../src/record/batch-builder.js';
import { prng } from '../support/prng.js';
import { RawClient, startBroker } from './helpers.js';

const dirs: string[] = [];

afterEach(() => {
  delete process.env['SEGLOG_BROKER_READS'];
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function readPaths(broker: Broker): ReadPath[] {
  return (broker as unknown as { server: { readPaths: ReadPath[] } }).server.readPaths;
}

/** A batch of `count` records whose values carry the connection, the request and the record. */
function batch(connection: number, request: number, count: number, valueBytes: number): { records: Buffer; values: string[] } {
  const values = Array.from({ length: count }, (_, i) => `${connection}/${request}/${i}/`.padEnd(valueBytes, String.fromCharCode(97 + ((connection + request + i) % 26))));
  const records = Buffer.from(encodeBatch(values.map((value) => ({ key: `c${connection}`, value })), 0, { compression: 'none', timestampType: 'CreateTime', now: Date.now(), partitionLeaderEpoch: -1 }).buffer);
  return { records, values };
}

async function produceFromConnections(reads: ReadPath): Promise<void> {
  if (reads === 'stream') process.env['SEGLOG_BROKER_READS'] = 'stream';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-broker-reads-'));
  dirs.push(dir);
  const { broker, bootstrap } = await startBroker(dir, { topicConfig: { maxMessageBytes: 8 << 20 } });
  const random = prng(reads === 'stream' ? 7 : 11);
  const clients = await Promise.all([0, 1, 2].map(() => RawClient.connect(bootstrap)));
  // Every connection is accepted before any request is produced: the paths are known now.
  await clients[0]!.request(ApiKey.Metadata, 4, { topics: [{ name: 'reads' }], allowAutoTopicCreation: true });
  expect(readPaths(broker)).toEqual([reads, reads, reads]);
  const expected = new Map<string, string[]>();
  const answers = clients.map((client, c) => {
    const sent: Promise<unknown>[] = [];
    for (let r = 0; r < 12; r++) {
      // From one tiny record to about 1.5 MiB, more than one read of the shared buffer.
      const count = r % 4 === 0 ? 1 + Math.floor(random() * 1500) : 1 + Math.floor(random() * 20);
      const { records, values } = batch(c, r, count, 1 + Math.floor(random() * 1024));
      expected.set(`${c}/${r}`, values);
      sent.push(
        client.request(ApiKey.Produce, 9, { transactionalId: null, acks: 1, timeoutMs: 1000, topicData: [{ name: 'reads', partitionData: [{ index: 0, records }] }] }).then((response) => {
          expect(response.responses[0]!.partitionResponses[0]!.errorCode).toBe(0);
        }),
      );
    }
    return Promise.all(sent);
  });
  await Promise.all(answers);
  for (const client of clients) client.close();
  await broker.close();

  const log = Log.open(path.join(dir, 'reads', 'reads-0'), { readOnly: true });
  const got = new Map<string, string[]>();
  for (let offset = 0; offset < log.endOffset; ) {
    for (const record of log.read(offset, { maxBytes: 16 << 20 })) {
      const value = record.value!.toString();
      const key = value.split('/', 2).join('/');
      got.set(key, [...(got.get(key) ?? []), value]);
      offset = record.offset + 1;
    }
  }
  log.close();
  // Compared by keys and counts first: a difference in the values themselves prints megabytes.
  expect([...got].map(([k, v]) => `${k}:${v.length}`).sort()).toEqual([...expected].map(([k, v]) => `${k}:${v.length}`).sort());
  expect(got).toEqual(expected);
}

describe('broker socket reads', () => {
  it('reads connections in place into the shared buffer, produces from several connections arriving whole', async () => {
    await produceFromConnections('in-place');
  });

  it('reads through Node streams when told to, with the same result', async () => {
    await produceFromConnections('stream');
  });
});
