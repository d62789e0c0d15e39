import { ApiKey, SUPPORTED_VERSIONS } from '../protocol/index.js';
import type { Handler } from './context.js';

/** ApiVersions: every API this broker serves with its version range (unserved versions are the server's job). */
export const apiVersions: Handler<typeof ApiKey.ApiVersions> = () => ({
  errorCode: 0,
  apiKeys: [...SUPPORTED_VERSIONS].map(([apiKey, range]) => ({ apiKey, minVersion: range.min, maxVersion: range.max })),
  throttleTimeMs: 0,
});
