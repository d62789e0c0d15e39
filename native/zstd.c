/*
 * zstd compression for Node.js versions whose zlib has none (before 22.15): the system's
 * libzstd.so.1, opened with dlopen on first use, so the addon neither links nor ships zstd and
 * builds without its headers. Reading needs none of this (seglog decodes zstd in JS there).
 *
 * `zstdCompress(src, dst, level) -> bytes written`, where dst holds at least
 * `zstdCompressBound(src.length)` bytes; the frame records its content size. Throws when
 * libzstd.so.1 is not on this system (seglog then says that zstd writing needs Node >= 22.15).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "seglog.h"

typedef size_t (*compress_fn)(void *dst, size_t dst_capacity, const void *src, size_t src_size, int level);
typedef size_t (*bound_fn)(size_t src_size);
typedef unsigned (*is_error_fn)(size_t code);
typedef const char *(*error_name_fn)(size_t code);

static struct {
  compress_fn compress;
  bound_fn bound;
  is_error_fn is_error;
  error_name_fn error_name;
} zstd;
static pthread_once_t zstd_once = PTHREAD_ONCE_INIT;

static void open_zstd(void) {
  void *lib = dlopen("libzstd.so.1", RTLD_NOW | RTLD_LOCAL);
#if defined(__APPLE__)
  if (lib == NULL) lib = dlopen("libzstd.1.dylib", RTLD_NOW | RTLD_LOCAL);
#endif
  if (lib == NULL) return;
  compress_fn compress = (compress_fn)dlsym(lib, "ZSTD_compress");
  bound_fn bound = (bound_fn)dlsym(lib, "ZSTD_compressBound");
  is_error_fn is_error = (is_error_fn)dlsym(lib, "ZSTD_isError");
  error_name_fn error_name = (error_name_fn)dlsym(lib, "ZSTD_getErrorName");
  if (compress == NULL || bound == NULL || is_error == NULL || error_name == NULL) return;
  zstd.bound = bound;
  zstd.is_error = is_error;
  zstd.error_name = error_name;
  zstd.compress = compress; /* last: its presence means all four are there */
}

static int have_zstd(napi_env env) {
  pthread_once(&zstd_once, open_zstd);
  if (zstd.compress != NULL) return 1;
  napi_throw_error(env, "SEGLOG_NO_LIBZSTD", "zstd: libzstd.so.1 is not installed on this system");
  return 0;
}

napi_value seglog_js_zstd_bound(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  double size = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_double(env, argv[0], &size) != napi_ok || !(size >= 0 && size < 4294967296.0)) {
    napi_throw_range_error(env, NULL, "zstdCompressBound(size): size must be a number in [0, 2^32)");
    return NULL;
  }
  if (!have_zstd(env)) return NULL;
  napi_value result = NULL;
  napi_create_double(env, (double)zstd.bound((size_t)size), &result);
  return result;
}

napi_value seglog_js_zstd_compress(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) {
    napi_throw_type_error(env, NULL, "zstdCompress(src, dst, level)");
    return NULL;
  }
  napi_typedarray_type src_type, dst_type;
  size_t src_len = 0, dst_len = 0;
  void *src = NULL, *dst = NULL;
  int32_t level = 0;
  if (napi_get_typedarray_info(env, argv[0], &src_type, &src_len, &src, NULL, NULL) != napi_ok || src_type != napi_uint8_array ||
      napi_get_typedarray_info(env, argv[1], &dst_type, &dst_len, &dst, NULL, NULL) != napi_ok || dst_type != napi_uint8_array ||
      napi_get_value_int32(env, argv[2], &level) != napi_ok) {
    napi_throw_type_error(env, NULL, "zstdCompress(src: Uint8Array, dst: Uint8Array, level: number)");
    return NULL;
  }
  if (!have_zstd(env)) return NULL;
  size_t written = zstd.compress(dst, dst_len, src, src_len, level);
  if (zstd.is_error(written)) {
    char message[160];
    snprintf(message, sizeof message, "zstd: %s", zstd.error_name(written));
    napi_throw_error(env, NULL, message);
    return NULL;
  }
  napi_value result = NULL;
  napi_create_double(env, (double)written, &result);
  return result;
}
