import { describe, expect, test } from 'vitest';
import {
  decodeRequest,
  decodeRequestHeader,
  decodeResponse,
  encodeRequest,
  encodeResponse,
} from '../../../src/broker/protocol/index.js';
import { frameOf, prng, sampleMessage, servedVersions } from './helpers.js';

// Every API at every served version: a request and a response with a non-default value in every
// field present at that version (tagged fields too), once with nullables null and once not.
describe.each(servedVersions().map(({ schema, version }) => ({ name: `${schema.name} v${version}`, schema, version })))(
  '$name',
  ({ schema, version }) => {
    for (const nulls of [false, true]) {
      test(`request round trip (nullables ${nulls ? 'null' : 'set'})`, () => {
        const rnd = prng(schema.apiKey * 1000 + version * 10 + (nulls ? 1 : 0));
        const body = sampleMessage(schema.request, version, rnd, { nulls, maxArray: 3 });
        const frame = frameOf(encodeRequest(schema.apiKey, version, 4242, 'client-é', body));
        const header = decodeRequestHeader(frame);
        expect(header).toMatchObject({ apiKey: schema.apiKey, apiVersion: version, correlationId: 4242, clientId: 'client-é' });
        expect(decodeRequest(schema.apiKey, version, frame, header.bodyOffset)).toEqual(body);
      });

      test(`response round trip (nullables ${nulls ? 'null' : 'set'})`, () => {
        const rnd = prng(schema.apiKey * 1000 + version * 10 + 5 + (nulls ? 1 : 0));
        const body = sampleMessage(schema.response, version, rnd, { nulls, maxArray: 3 });
        const decoded = decodeResponse(schema.apiKey, version, frameOf(encodeResponse(schema.apiKey, version, -7, body)));
        expect(decoded).toEqual({ correlationId: -7, body });
      });
    }
  },
);
