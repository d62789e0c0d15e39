/*
 * CRC-32C (Castagnoli) for seglog's record-batch checksums: picks, per call, the fastest path the
 * running CPU has, and exposes it to JS as `crc32c(buffer, start, end) -> uint32` (initial value
 * and final xor 0xFFFFFFFF, as Kafka computes it).
 *
 * - x86-64 with AVX-512 and VPCLMULQDQ: carry-less folding (native/crc32c_avx512.c).
 * - x86-64 with AVX2 and VPCLMULQDQ, no AVX-512: the same folding on 256-bit registers
 *   (native/crc32c_avx2.c) from AVX2_MIN_BYTES up, the three streams below it.
 * - x86-64 with SSE4.2: the CRC32 instruction on three streams.
 * - arm64 with the ARMv8 CRC extension: its CRC32CX instruction on three streams.
 * - otherwise 'none': seglog computes the CRC in JS and does not call this.
 *
 * Why three streams: the CRC32 instruction takes 3 cycles to give its result and accepts a new
 * one every cycle, so one dependent chain uses a third of it. Three independent chains over three
 * consecutive blocks run at full rate (8 bytes a cycle); the blocks' CRCs are then joined: for
 * blocks A and B, crc(s, A B) = crc(s, A) * x^(8|B|) + crc(0, B) mod P, and the multiplication
 * by the constant x^(8|B|) mod P is four lookups in tables built once (each entry the product of
 * the constant with one byte value at one of the four byte positions; the product is linear).
 * Long blocks (8 KiB) make the join's cost vanish; short ones (256 B) serve inputs under 24 KiB.
 *
 * The register values here use zlib's bit-reflected representation: bit 31 is the coefficient
 * of x^0 and P is 0x82F63B78.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "seglog.h"

#define POLY 0x82f63b78u
#define LONG_BLOCK 8192
#define SHORT_BLOCK 256
/* Under this the 256-bit folding's final reduction (sixteen dependent folds) costs more than it saves. */
#define AVX2_MIN_BYTES 1024

/* a * b mod P (bilinear: each set bit of a adds b times that power of x). */
static uint32_t mul_mod(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t bit = 1u << 31; bit != 0; bit >>= 1) {
    if (a & bit) product ^= b;
    b = (b & 1) ? (b >> 1) ^ POLY : b >> 1;
  }
  return product;
}

/* x^(8 n) mod P by square and multiply. */
static uint32_t x_pow_bytes(size_t n) {
  uint32_t result = 1u << 31; /* x^0 */
  uint32_t power = 1u << 23;  /* x^8 */
  for (; n > 0; n >>= 1) {
    if (n & 1) result = mul_mod(result, power);
    power = mul_mod(power, power);
  }
  return result;
}

/* shift[k][v] = (v << 8k) * x^(8 |block|) mod P. */
typedef uint32_t shift_table[4][256];
static shift_table long_shift;
static shift_table short_shift;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void fill_table(shift_table table, size_t block) {
  uint32_t constant = x_pow_bytes(block);
  for (int k = 0; k < 4; k++) {
    for (uint32_t v = 0; v < 256; v++) table[k][v] = mul_mod(constant, v << (8 * k));
  }
}

static void fill_tables(void) {
  fill_table(long_shift, LONG_BLOCK);
  fill_table(short_shift, SHORT_BLOCK);
}

/* crc * x^(8 |block|) mod P for the block size of `table`. */
static inline uint32_t shift(const shift_table table, uint32_t crc) {
  return table[0][crc & 0xff] ^ table[1][(crc >> 8) & 0xff] ^ table[2][(crc >> 16) & 0xff] ^ table[3][crc >> 24];
}

static inline uint64_t load64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

/*
 * The three-stream loop for one CPU's instruction: CRC64(state, 8 bytes) and CRC8(state, byte).
 * Defined once per instruction set because each body must be compiled for its own target.
 */
#define DEFINE_STREAMS(name, TARGET, CRC64, CRC8)                                             \
  TARGET static uint32_t name##_blocks(uint32_t crc, const uint8_t **pp, size_t *np, size_t block, \
                                       const shift_table table) {                           \
    const uint8_t *p = *pp;                                                                  \
    size_t n = *np;                                                                          \
    while (n >= 3 * block) {                                                                 \
      uint64_t c0 = crc, c1 = 0, c2 = 0;                                                     \
      for (const uint8_t *end = p + block; p < end; p += 8) {                                \
        c0 = CRC64(c0, load64(p));                                                           \
        c1 = CRC64(c1, load64(p + block));                                                   \
        c2 = CRC64(c2, load64(p + 2 * block));                                               \
      }                                                                                      \
      crc = shift(table, shift(table, (uint32_t)c0) ^ (uint32_t)c1) ^ (uint32_t)c2;          \
      p += 2 * block;                                                                        \
      n -= 3 * block;                                                                        \
    }                                                                                        \
    *pp = p;                                                                                 \
    *np = n;                                                                                 \
    return crc;                                                                              \
  }                                                                                          \
  TARGET static uint32_t name(uint32_t crc, const uint8_t *p, size_t n) {                    \
    crc = name##_blocks(crc, &p, &n, LONG_BLOCK, long_shift);                                \
    crc = name##_blocks(crc, &p, &n, SHORT_BLOCK, short_shift);                              \
    uint64_t c = crc;                                                                        \
    for (; n >= 8; p += 8, n -= 8) c = CRC64(c, load64(p));                                  \
    crc = (uint32_t)c;                                                                       \
    while (n-- > 0) crc = CRC8(crc, *p++);                                                   \
    return crc;                                                                              \
  }

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SEGLOG_STREAMS 1
#define SSE42_TARGET __attribute__((target("sse4.2")))
DEFINE_STREAMS(crc_streams, SSE42_TARGET, _mm_crc32_u64, _mm_crc32_u8)

static int has_streams(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
}
#define STREAMS_NAME "sse42"

#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
/* Compile-guarded: built and checked with a cross compiler, run under emulation, not on hardware here. */
#include <arm_acle.h>
#define SEGLOG_STREAMS 1
#if defined(__clang__)
#define ARM_CRC_TARGET __attribute__((target("crc")))
#else
#define ARM_CRC_TARGET __attribute__((target("+crc")))
#endif
DEFINE_STREAMS(crc_streams, ARM_CRC_TARGET, __crc32cd, __crc32cb)

#if defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
static int has_streams(void) { return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0; }
#elif defined(__APPLE__)
static int has_streams(void) { return 1; } /* every Apple arm64 CPU has it */
#else
static int has_streams(void) { return 0; }
#endif
#define STREAMS_NAME "armv8"
#endif

/* The paths, by preference; the first the CPU has is seglog_crc32c's. */
enum crc_path { PATH_AVX512, PATH_AVX2, PATH_STREAMS, PATH_COUNT };

static int has_path(int path) {
  switch (path) {
    case PATH_AVX512: return seglog_has_avx512();
    case PATH_AVX2: return seglog_has_avx2_clmul();
#ifdef SEGLOG_STREAMS
    case PATH_STREAMS: return has_streams();
#endif
    default: return 0;
  }
}

static const char *path_name(int path) {
  switch (path) {
    case PATH_AVX512: return "avx512";
    case PATH_AVX2: return "avx2";
#ifdef SEGLOG_STREAMS
    case PATH_STREAMS: return STREAMS_NAME;
#endif
    default: return "none";
  }
}

static int best_path(void) {
  for (int path = 0; path < PATH_COUNT; path++) {
    if (has_path(path)) return path;
  }
  return PATH_COUNT;
}

const char *seglog_crc32c_hardware(void) { return path_name(best_path()); }

/* Kafka's CRC-32C on one path; the caller has checked has_path(path). */
static uint32_t crc_on(int path, const uint8_t *p, size_t n) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (path == PATH_AVX512) return ~seglog_crc32c_avx512(0xffffffffu, p, n);
  if (path == PATH_AVX2 && n >= AVX2_MIN_BYTES) return ~seglog_crc32c_avx2(0xffffffffu, p, n);
#endif
#ifdef SEGLOG_STREAMS
  pthread_once(&tables_once, fill_tables);
  return ~crc_streams(0xffffffffu, p, n);
#else
  (void)path;
  (void)p;
  (void)n;
  return 0;
#endif
}

uint32_t seglog_crc32c(const uint8_t *p, size_t n) {
  int path = best_path();
  return path == PATH_COUNT ? 0 : crc_on(path, p, n);
}

/* crc32c(buffer, start, end) on the path in the callback's data (a path the CPU has). */
static napi_value js_crc32c_on(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, &data) != napi_ok || argc < 3) {
    napi_throw_type_error(env, NULL, "crc32c(buffer, start, end)");
    return NULL;
  }
  int path = (int)(intptr_t)data;
  napi_typedarray_type type;
  size_t length = 0;
  void *bytes = NULL;
  if (napi_get_typedarray_info(env, argv[0], &type, &length, &bytes, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "crc32c: buffer must be a Uint8Array");
    return NULL;
  }
  double start = 0;
  double end = 0;
  if (napi_get_value_double(env, argv[1], &start) != napi_ok || napi_get_value_double(env, argv[2], &end) != napi_ok) {
    napi_throw_type_error(env, NULL, "crc32c: start and end must be numbers");
    return NULL;
  }
  /* Integers with 0 <= start <= end <= length (NaN fails every comparison). */
  if (!(start >= 0 && end >= start && end <= (double)length && start == (double)(size_t)start && end == (double)(size_t)end)) {
    napi_throw_range_error(env, NULL, "crc32c: start and end must be integers with 0 <= start <= end <= length");
    return NULL;
  }
  if (path == PATH_COUNT) {
    napi_throw_error(env, NULL, "crc32c: this CPU has no CRC-32C instructions the addon uses");
    return NULL;
  }
  uint32_t crc = crc_on(path, (const uint8_t *)bytes + (size_t)start, (size_t)end - (size_t)start);
  napi_value result = NULL;
  if (napi_create_uint32(env, crc, &result) != napi_ok) return NULL;
  return result;
}

static int make_crc_function(napi_env env, int path, napi_value *fn) {
  return napi_create_function(env, "crc32c", NAPI_AUTO_LENGTH, js_crc32c_on, (void *)(intptr_t)path, fn) == napi_ok;
}

int seglog_export_crc32c(napi_env env, napi_value exports) {
  napi_value best;
  napi_value hardware;
  napi_value paths;
  if (!make_crc_function(env, best_path(), &best) || napi_set_named_property(env, exports, "crc32c", best) != napi_ok ||
      napi_create_string_utf8(env, seglog_crc32c_hardware(), NAPI_AUTO_LENGTH, &hardware) != napi_ok ||
      napi_set_named_property(env, exports, "crcHardware", hardware) != napi_ok || napi_create_object(env, &paths) != napi_ok)
    return 0;
  for (int path = 0; path < PATH_COUNT; path++) {
    napi_value fn;
    if (!has_path(path)) continue;
    if (!make_crc_function(env, path, &fn) || napi_set_named_property(env, paths, path_name(path), fn) != napi_ok) return 0;
  }
  return napi_set_named_property(env, exports, "crc32cPaths", paths) == napi_ok;
}
