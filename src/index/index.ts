export {
  AbstractIndex,
  DEFAULT_MAX_INDEX_SIZE,
  MAX_RELATIVE_OFFSET,
  type IndexMode,
  type IndexOptions,
} from './abstract-index.js';
export { OffsetIndex, type OffsetIndexSanityOptions, type OffsetPosition } from './offset-index.js';
export { NO_TIMESTAMP, TimeIndex, type TimeIndexSanityOptions, type TimestampOffset } from './time-index.js';
