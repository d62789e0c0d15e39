/*
 * recordOffsetsHold(buffer, start, end, count, lastOffsetDelta) -> boolean: the record walk that
 * recovery adds to the CRC for uncompressed batches (src/record/batch-reader.ts,
 * checkRecordOffsets), done in C because in JS it cost several times the CRC on batches of small
 * records. True when the `count` records in buffer[start, end) fill it exactly, each record's
 * length varint, attributes byte, timestamp delta (skipped by its continuation bits, at most 10
 * bytes, inside the record) and offset delta varint (inside the record) decoding as
 * src/record/varint.ts decodes them, with offset deltas strictly increasing within
 * [0, lastOffsetDelta] (src/record/batch-rules.ts, recordDeltaProblem). False means "not shown":
 * the JS walk then says what is wrong, so this only ever accepts what it accepts.
 */
#include "seglog.h"

/* readVarint of src/record/varint.ts: at most 5 bytes, none at or past `end`; 0 when it throws. */
static int read_varint(const uint8_t *buf, size_t *pos, size_t end, int32_t *value) {
  uint32_t v = 0;
  size_t p = *pos;
  for (int shift = 0;; shift += 7) {
    if (p >= end) return 0;
    uint8_t b = buf[p++];
    if (shift == 28) {
      if (b >= 0x80) return 0;
      v |= (uint32_t)b << 28;
      break;
    }
    v |= (uint32_t)(b & 0x7f) << shift;
    if (b < 0x80) break;
  }
  *pos = p;
  *value = (int32_t)((v >> 1) ^ (0u - (v & 1)));
  return 1;
}

static int record_offsets_hold(const uint8_t *buf, size_t start, size_t end, int64_t count, int64_t last_offset_delta) {
  size_t p = start;
  int64_t previous = -1;
  for (int64_t i = 0; i < count; i++) {
    int32_t length;
    if (!read_varint(buf, &p, end, &length)) return 0;
    if (length < 0 || (size_t)length > end - p) return 0;
    size_t record_end = p + (size_t)length;
    /* The attributes byte, then the timestamp delta's continuation bytes. */
    size_t q = p + 1;
    size_t limit = record_end < q + 10 ? record_end : q + 10;
    while (q < limit && buf[q] >= 0x80) q++;
    if (q >= limit) return 0;
    q++;
    int32_t delta;
    if (!read_varint(buf, &q, record_end, &delta)) return 0;
    if (delta <= previous || delta > last_offset_delta) return 0;
    previous = delta;
    p = record_end;
  }
  return p == end;
}

napi_value seglog_js_record_offsets_hold(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5) {
    napi_throw_type_error(env, NULL, "recordOffsetsHold(buffer, start, end, count, lastOffsetDelta)");
    return NULL;
  }
  napi_typedarray_type type;
  size_t length = 0;
  void *bytes = NULL;
  if (napi_get_typedarray_info(env, argv[0], &type, &length, &bytes, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "recordOffsetsHold: buffer must be a Uint8Array");
    return NULL;
  }
  double start = 0, end = 0, count = 0, last = 0;
  if (napi_get_value_double(env, argv[1], &start) != napi_ok || napi_get_value_double(env, argv[2], &end) != napi_ok ||
      napi_get_value_double(env, argv[3], &count) != napi_ok || napi_get_value_double(env, argv[4], &last) != napi_ok) {
    napi_throw_type_error(env, NULL, "recordOffsetsHold: arguments must be numbers");
    return NULL;
  }
  /* Integers with 0 <= start <= end <= length, and int32 count and last offset delta (NaN fails every comparison). */
  if (!(start >= 0 && end >= start && end <= (double)length && start == (double)(size_t)start && end == (double)(size_t)end &&
        count >= -2147483648.0 && count <= 2147483647.0 && count == (double)(int64_t)count && last >= -2147483648.0 &&
        last <= 2147483647.0 && last == (double)(int64_t)last)) {
    napi_throw_range_error(env, NULL, "recordOffsetsHold: start and end must be integers with 0 <= start <= end <= length, count and lastOffsetDelta int32");
    return NULL;
  }
  int hold = record_offsets_hold((const uint8_t *)bytes, (size_t)start, (size_t)end, (int64_t)count, (int64_t)last);
  napi_value result = NULL;
  if (napi_get_boolean(env, hold, &result) != napi_ok) return NULL;
  return result;
}
