/* Declarations shared by the addon's C files; the N-API glue is in native/addon.c. */
#ifndef SEGLOG_NATIVE_H
#define SEGLOG_NATIVE_H

#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

/* CRC register state (not inverted) after n bytes at p; only where seglog_has_avx512(). */
uint32_t seglog_crc32c_avx512(uint32_t state, const uint8_t *p, size_t n);
int seglog_has_avx512(void);
/* The same with 256-bit carry-less multiplies; only where seglog_has_avx2_clmul(). */
uint32_t seglog_crc32c_avx2(uint32_t state, const uint8_t *p, size_t n);
int seglog_has_avx2_clmul(void);

/* 'avx512', 'avx2', 'sse42', 'armv8' or 'none': the path seglog_crc32c takes on this CPU. */
const char *seglog_crc32c_hardware(void);
/* Kafka's CRC-32C of n bytes at p (initial value and final xor 0xFFFFFFFF); 0 when hardware is 'none'. */
uint32_t seglog_crc32c(const uint8_t *p, size_t n);

/*
 * Sets exports.crc32c (the best path), exports.crcHardware (its name) and exports.crc32cPaths (one
 * crc32c function per path the CPU has, by name: for tests and benchmarks); 0 on failure.
 */
int seglog_export_crc32c(napi_env env, napi_value exports);

/*
 * Keeps the addon loaded for the life of the process (native/pin.c), once; 0 when it cannot be:
 * then it must start no thread of its own.
 */
int seglog_keep_loaded(void);

/* The JS functions of each file, registered by native/addon.c. */
napi_value seglog_js_fallocate(napi_env env, napi_callback_info info);
napi_value seglog_js_map(napi_env env, napi_callback_info info);
napi_value seglog_js_unmap(napi_env env, napi_callback_info info);
napi_value seglog_js_msync(napi_env env, napi_callback_info info);
napi_value seglog_js_read_two(napi_env env, napi_callback_info info);
napi_value seglog_js_copy_two(napi_env env, napi_callback_info info);
napi_value seglog_js_advise_huge_pages(napi_env env, napi_callback_info info);
napi_value seglog_js_heap_address(napi_env env, napi_callback_info info);
napi_value seglog_js_zstd_bound(napi_env env, napi_callback_info info);
napi_value seglog_js_zstd_compress(napi_env env, napi_callback_info info);
napi_value seglog_js_record_offsets_hold(napi_env env, napi_callback_info info);
/* writeBatches (native/writes.c): writes batches to their files, on the calling thread and a worker. */
napi_value seglog_js_write_batches(napi_env env, napi_callback_info info);
/* startWrites, queueWrite, finishWrites (native/writes.c; Linux only): the same, queued batch by batch as they are made. */
napi_value seglog_js_start_writes(napi_env env, napi_callback_info info);
napi_value seglog_js_queue_write(napi_env env, napi_callback_info info);
napi_value seglog_js_finish_writes(napi_env env, napi_callback_info info);
/* Linux only: ends, at an environment's cleanup, a queued call of its thread that was never finished; 0 on failure. */
int seglog_writes_init(napi_env env);
/* prepareFiles, takeFiles, dropFiles, linkFile (native/prepare.c; Linux only, else nothing); 0 on failure. */
int seglog_export_prepare(napi_env env, napi_value exports);

#endif
