/*
 * Checks the addon's CRC-32C against a bitwise reference, without Node: built by .ci/run with a
 * cross compiler for arm64 and run under qemu-user, so the ARMv8 CRC path, which no machine here
 * can run natively, is exercised (every length to 1100 bytes, and the three-stream block edges).
 */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
const char *seglog_crc32c_hardware(void);
uint32_t seglog_crc32c(const uint8_t *p, size_t n);
static uint32_t ref(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) { c ^= p[i]; for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1))); }
  return ~c;
}
int main(void) {
  static uint8_t buf[200000];
  uint32_t s = 1;
  for (size_t i = 0; i < sizeof buf; i++) { s = s * 1103515245u + 12345u; buf[i] = (uint8_t)(s >> 16); }
  printf("hardware %s, check %08x\n", seglog_crc32c_hardware(), seglog_crc32c((const uint8_t *)"123456789", 9));
  size_t lens[] = {0, 1, 7, 8, 9, 255, 256, 767, 768, 769, 1000, 24575, 24576, 24577, 24576 + 773, 65549, 199990};
  int bad = 0, n = 0;
  for (size_t i = 0; i < sizeof lens / sizeof *lens; i++)
    for (size_t st = 0; st < 9; st++) { n++; if (seglog_crc32c(buf + st, lens[i]) != ref(buf + st, lens[i])) { bad++; printf("bad len %zu start %zu\n", lens[i], st); } }
  for (size_t len = 0; len <= 1100; len++) { n++; if (seglog_crc32c(buf + 3, len) != ref(buf + 3, len)) { bad++; printf("bad len %zu\n", len); } }
  printf("%d of %d cases differ from the bitwise reference\n", bad, n);
  return bad != 0;
}
