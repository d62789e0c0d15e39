/*
 * seglog's Node-API addon: CRC-32C (native/crc32c.c), recovery's record walk (native/records.c), the file calls Node's fs lacks
 * (native/files.c, native/prepare.c, native/writes.c) and zstd compression where zlib has none (native/zstd.c). Node-API is ABI-stable, so one build per platform serves every Node.js
 * version; it ships prebuilt in the package (prebuilds/<platform>-<arch>/) and seglog works
 * without it (src/files/native.ts loads it and decides).
 *
 * Exports: prepareFiles, takeFiles, dropFiles and linkFile on Linux (native/prepare.c), crc32c, crcHardware ('avx512' | 'avx2' | 'sse42' | 'armv8' | 'none'), crc32cPaths, map, unmap, msync, readTwo,
 * adviseHugePages, heapAddress, zstdCompressBound and zstdCompress (native/zstd.c), recordOffsetsHold (native/records.c), writeBatches (native/writes.c), fallocate,
 * copyTwo, startWrites, queueWrite and finishWrites on Linux, and retainFreedMemory with glibc. Nothing is exported when a call fails: JS then treats the addon as absent.
 */
#include <string.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "seglog.h"

#if defined(__GLIBC__)
/*
 * retainFreedMemory() -> boolean: for a process that is a server (`seglog serve`), keeps freed
 * heap memory instead of handing it back to the kernel at once. Node allocates a fresh 64 KiB
 * buffer for every socket read it does not read in place, and a Fetch reads each partition's
 * records (up to the client's per-partition limit, often several MB) into a buffer of its own;
 * with glibc's defaults the heap top is trimmed and re-grown, and allocations past the mmap
 * threshold get fresh mappings, so the kernel's copy of every byte first faults in and zeroes a
 * new page. Keeping up to 64 MiB free, and serving allocations up to 32 MiB (glibc's own ceiling
 * for its adaptive threshold) from the heap, makes them reuse warm pages.
 */
static napi_value retain_freed_memory(napi_env env, napi_callback_info info) {
  (void)info;
  int ok = mallopt(M_TRIM_THRESHOLD, 64 << 20) == 1 && mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1;
  napi_value result;
  napi_get_boolean(env, ok, &result);
  return result;
}
#endif

static int export_function(napi_env env, napi_value exports, const char *name, napi_callback fn) {
  napi_value value;
  return napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &value) == napi_ok &&
         napi_set_named_property(env, exports, name, value) == napi_ok;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_value result;
  if (napi_create_object(env, &result) != napi_ok) return exports;
  if (!seglog_export_crc32c(env, result)) return exports;
  if (!export_function(env, result, "map", seglog_js_map) ||
      !export_function(env, result, "unmap", seglog_js_unmap) || !export_function(env, result, "msync", seglog_js_msync) ||
      !export_function(env, result, "readTwo", seglog_js_read_two) ||
      !export_function(env, result, "adviseHugePages", seglog_js_advise_huge_pages) ||
      !export_function(env, result, "heapAddress", seglog_js_heap_address) ||
      !export_function(env, result, "zstdCompressBound", seglog_js_zstd_bound) ||
      !export_function(env, result, "zstdCompress", seglog_js_zstd_compress) ||
      !export_function(env, result, "recordOffsetsHold", seglog_js_record_offsets_hold) ||
      !export_function(env, result, "writeBatches", seglog_js_write_batches) || !seglog_export_prepare(env, result))
    return exports;
#if defined(__linux__)
  if (!export_function(env, result, "fallocate", seglog_js_fallocate) || !export_function(env, result, "copyTwo", seglog_js_copy_two) ||
      !export_function(env, result, "startWrites", seglog_js_start_writes) || !export_function(env, result, "queueWrite", seglog_js_queue_write) ||
      !export_function(env, result, "finishWrites", seglog_js_finish_writes) || !seglog_writes_init(env))
    return exports;
#endif
#if defined(__GLIBC__)
  if (!export_function(env, result, "retainFreedMemory", retain_freed_memory)) return exports;
#endif
  return result;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
