/*
 * CRC-32C (Castagnoli) with 256-bit carry-less multiplies, for x86-64 CPUs that have VPCLMULQDQ
 * and AVX2 but not AVX-512 (AMD Zen 3, Intel Alder Lake and later client cores): native/crc32c.c
 * takes it after the AVX-512 path and before the CRC32 instruction on three streams.
 *
 * Why it exists: the three-stream CRC32 loop gives 8 bytes a cycle; folding with two 128-bit
 * lanes per multiply, on eight registers (256 bytes per step, sixteen independent lanes), keeps
 * the multiplier busy every cycle and roughly doubles that (`bench/crc32c.ts` races the paths).
 *
 * How: the folding of native/crc32c_avx512.c (read its comment for the algebra), with the same
 * constants: sixteen 128-bit lanes cover 256 consecutive bytes, each lane folded forward over
 * 2048 bits onto the lane at the same place of the next 256 bytes; then the sixteen lanes are
 * folded into one, in order, over 128 bits each, 16-byte blocks follow, and the CRC32 instruction
 * reduces the lane and takes the tail. The tests compare every length and alignment with the
 * table-driven JS implementation.
 */
#include <stddef.h>
#include <stdint.h>

#include "seglog.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX2_TARGET __attribute__((target("avx2,vpclmulqdq,pclmul,sse4.2")))

/* {x^(D+63) mod P, x^(D-1) mod P}, reflected into 64 bits (native/constants.mjs), D = 2048 and 128. */
#define K2048_LO 0xe9a5d8be00000000ULL
#define K2048_HI 0x1426a81500000000ULL
#define K128_LO 0x3743f7bd00000000ULL
#define K128_HI 0x3171d43000000000ULL

#define REGISTERS 8
#define STEP (32 * REGISTERS)

AVX2_TARGET static uint32_t crc_bytes(uint32_t crc, const uint8_t *p, size_t n) {
  uint64_t c = crc;
  while (n >= 8) {
    uint64_t v;
    __builtin_memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = (uint32_t)c;
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}

/* x folded forward (constants k, the same pair in both lanes) and xored with `next`. */
AVX2_TARGET static inline __m256i fold256(__m256i x, __m256i k, __m256i next) {
  __m256i lo = _mm256_clmulepi64_epi128(x, k, 0x00);
  __m256i hi = _mm256_clmulepi64_epi128(x, k, 0x11);
  return _mm256_xor_si256(_mm256_xor_si256(lo, hi), next);
}

AVX2_TARGET static inline __m128i fold128(__m128i x, __m128i k, __m128i next) {
  __m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
  __m128i hi = _mm_clmulepi64_si128(x, k, 0x11);
  return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

/* Running CRC state (not inverted) over n >= STEP bytes. */
AVX2_TARGET static uint32_t crc_fold(uint32_t crc, const uint8_t *p, size_t n) {
  __m256i x[REGISTERS];
  for (int i = 0; i < REGISTERS; i++) x[i] = _mm256_loadu_si256((const __m256i *)(p + 32 * i));
  /* The state joins the message at its first four bytes. */
  x[0] = _mm256_xor_si256(x[0], _mm256_zextsi128_si256(_mm_cvtsi32_si128((int)crc)));
  p += STEP;
  n -= STEP;
  const __m256i k2048 = _mm256_broadcastsi128_si256(_mm_set_epi64x((long long)K2048_HI, (long long)K2048_LO));
  while (n >= STEP) {
    for (int i = 0; i < REGISTERS; i++) x[i] = fold256(x[i], k2048, _mm256_loadu_si256((const __m256i *)(p + 32 * i)));
    p += STEP;
    n -= STEP;
  }
  /* The sixteen lanes, in message order, into one; then 16 bytes at a time. */
  const __m128i k128 = _mm_set_epi64x((long long)K128_HI, (long long)K128_LO);
  __m128i a = _mm256_castsi256_si128(x[0]);
  a = fold128(a, k128, _mm256_extracti128_si256(x[0], 1));
  for (int i = 1; i < REGISTERS; i++) {
    a = fold128(a, k128, _mm256_castsi256_si128(x[i]));
    a = fold128(a, k128, _mm256_extracti128_si256(x[i], 1));
  }
  while (n >= 16) {
    a = fold128(a, k128, _mm_loadu_si128((const __m128i *)p));
    p += 16;
    n -= 16;
  }
  /* The lane is now the whole message so far, as 16 bytes that follow a zero state. */
  uint64_t c = _mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(a));
  c = _mm_crc32_u64(c, (uint64_t)_mm_extract_epi64(a, 1));
  return crc_bytes((uint32_t)c, p, n);
}

AVX2_TARGET uint32_t seglog_crc32c_avx2(uint32_t state, const uint8_t *p, size_t n) {
  return n >= STEP ? crc_fold(state, p, n) : crc_bytes(state, p, n);
}

int seglog_has_avx2_clmul(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("vpclmulqdq") && __builtin_cpu_supports("pclmul") &&
         __builtin_cpu_supports("sse4.2");
}
#else
int seglog_has_avx2_clmul(void) { return 0; }
#endif
