// Kafka's ApiVersions API (key 18) as data: every field of ApiVersionsRequest.json and
// ApiVersionsResponse.json in apache/kafka clients/src/main/resources/common/message/ at branch 3.9
// (commit c821449f). Versions 0-4 are served; flexible from 3+.
import type { ApiSchema } from '../schema.js';

export const API_VERSIONS: ApiSchema = {
  name: 'ApiVersions',
  apiKey: 18,
  minVersion: 0,
  maxVersion: 4,
  flexibleVersions: '3+',
  request: [
    { name: 'clientSoftwareName', type: 'string', versions: '3+' },
    { name: 'clientSoftwareVersion', type: 'string', versions: '3+' },
  ],
  response: [
    { name: 'errorCode', type: 'int16', versions: '0+' },
    {
      name: 'apiKeys', type: '[]ApiVersion', versions: '0+',
      fields: [
        { name: 'apiKey', type: 'int16', versions: '0+' },
        { name: 'minVersion', type: 'int16', versions: '0+' },
        { name: 'maxVersion', type: 'int16', versions: '0+' },
      ],
    },
    { name: 'throttleTimeMs', type: 'int32', versions: '1+' },
    {
      name: 'supportedFeatures', type: '[]SupportedFeatureKey', versions: '3+', taggedVersions: '3+', tag: 0,
      fields: [
        { name: 'name', type: 'string', versions: '3+' },
        { name: 'minVersion', type: 'int16', versions: '3+' },
        { name: 'maxVersion', type: 'int16', versions: '3+' },
      ],
    },
    { name: 'finalizedFeaturesEpoch', type: 'int64', versions: '3+', taggedVersions: '3+', tag: 1, default: -1n },
    {
      name: 'finalizedFeatures', type: '[]FinalizedFeatureKey', versions: '3+', taggedVersions: '3+', tag: 2,
      fields: [
        { name: 'name', type: 'string', versions: '3+' },
        { name: 'maxVersionLevel', type: 'int16', versions: '3+' },
        { name: 'minVersionLevel', type: 'int16', versions: '3+' },
      ],
    },
    { name: 'zkMigrationReady', type: 'bool', versions: '3+', taggedVersions: '3+', tag: 3, default: false },
  ],
};

export interface ApiVersionsResponse {
  errorCode: number;
  apiKeys: ApiVersionsApiVersion[];
  throttleTimeMs?: number;
  supportedFeatures?: ApiVersionsSupportedFeatureKey[];
  finalizedFeaturesEpoch?: bigint;
  finalizedFeatures?: ApiVersionsFinalizedFeatureKey[];
  zkMigrationReady?: boolean;
}

export interface ApiVersionsFinalizedFeatureKey {
  name: string;
  maxVersionLevel: number;
  minVersionLevel: number;
}

export interface ApiVersionsSupportedFeatureKey {
  name: string;
  minVersion: number;
  maxVersion: number;
}

export interface ApiVersionsApiVersion {
  apiKey: number;
  minVersion: number;
  maxVersion: number;
}

export interface ApiVersionsRequest {
  clientSoftwareName?: string;
  clientSoftwareVersion?: string;
}
