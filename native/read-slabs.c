/*
 * readSlab() -> ArrayBuffer | null: memory for seglog's bulk reads (src/files/read-memory.ts) that
 * is used again once no JavaScript object holds it, instead of fresh memory for every read.
 *
 * A scan reads the file into memory the caller keeps: record keys and values are views of it, so
 * no read may write where an earlier one's views still look. Fresh memory costs the kernel a page
 * fault and a zeroing pass per page, more than its copy from the page cache, and as external
 * memory it drives V8's garbage collections. Each slab here is an 8 MiB anonymous mapping lent as
 * an external ArrayBuffer, with a weak reference to that ArrayBuffer: every view of it holds the
 * ArrayBuffer, so once the reference reads empty (the collector freed the ArrayBuffer and thereby
 * every view) the memory is unreferenced and is lent again under a new ArrayBuffer, its pages
 * already present. The weak reference is cleared by the collection itself; a finalizer would
 * only run after the current JavaScript job, and a synchronous scan never ends its job.
 *
 * Only a transfer escapes this (ArrayBuffer.prototype.transfer, a transfer list): it moves the
 * memory to another ArrayBuffer while the one lent can be collected. read-memory.ts marks each
 * slab untransferable, and docs/API.md says not to transfer a record field's buffer.
 *
 * A pool per Node-API environment (main thread, each worker) holds at most MAX_SLABS slabs; when
 * every one is lent, readSlab returns null and the caller allocates as before. The mappings are
 * kept for the environment's life and unmapped at its teardown. Linux (and other systems with
 * mmap): slabs are advised for transparent huge pages, so a first use faults 2 MiB at a time.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "seglog.h"

#define SLAB_BYTES ((size_t)8 << 20)
#define HUGE_PAGE_BYTES ((size_t)2 << 20)
#define MAX_SLABS 8

struct slab {
  void *addr;
  /* Weak reference to the ArrayBuffer the slab is lent as; NULL while never lent. */
  napi_ref lent;
};

struct slab_pool {
  struct slab slabs[MAX_SLABS];
  int count;
};

static void release_pool(void *data) {
  struct slab_pool *pool = data;
  for (int i = 0; i < pool->count; i++) munmap(pool->slabs[i].addr, SLAB_BYTES);
  free(pool);
}

/* A fresh SLAB_BYTES mapping aligned to a huge page, or NULL. */
static void *map_slab(void) {
  size_t length = SLAB_BYTES + HUGE_PAGE_BYTES;
  uint8_t *raw = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return NULL;
  uintptr_t start = ((uintptr_t)raw + HUGE_PAGE_BYTES - 1) & ~(uintptr_t)(HUGE_PAGE_BYTES - 1);
  uint8_t *aligned = (uint8_t *)start;
  if (aligned > raw) munmap(raw, (size_t)(aligned - raw));
  uint8_t *end = aligned + SLAB_BYTES;
  if (raw + length > end) munmap(end, (size_t)(raw + length - end));
#if defined(MADV_HUGEPAGE)
  madvise(aligned, SLAB_BYTES, MADV_HUGEPAGE);
#endif
  return aligned;
}

/* Lends `slab` as a new ArrayBuffer in *result; 0 on failure (nothing is then lent). */
static int lend(napi_env env, struct slab *slab, napi_value *result) {
  napi_value buffer = NULL;
  napi_ref ref = NULL;
  /* No finalizer: the pool owns the memory, and a finalizer would run long after a reuse. */
  if (napi_create_external_arraybuffer(env, slab->addr, SLAB_BYTES, NULL, NULL, &buffer) != napi_ok) return 0;
  if (napi_create_reference(env, buffer, 0, &ref) != napi_ok) return 0;
  if (slab->lent != NULL) napi_delete_reference(env, slab->lent);
  slab->lent = ref;
  *result = buffer;
  return 1;
}

/* True when `slab` is lent to no live ArrayBuffer. */
static int is_free(napi_env env, struct slab *slab) {
  if (slab->lent == NULL) return 1;
  napi_value value = NULL;
  return napi_get_reference_value(env, slab->lent, &value) == napi_ok && value == NULL;
}

static napi_value read_slab(napi_env env, napi_callback_info info) {
  struct slab_pool *pool = NULL;
  napi_value result = NULL;
  if (napi_get_cb_info(env, info, NULL, NULL, NULL, (void **)&pool) != napi_ok) return NULL;
  for (int i = 0; i < pool->count; i++) {
    if (is_free(env, &pool->slabs[i]) && lend(env, &pool->slabs[i], &result)) return result;
  }
  if (pool->count < MAX_SLABS) {
    void *addr = map_slab();
    if (addr != NULL) {
      struct slab *slab = &pool->slabs[pool->count];
      slab->addr = addr;
      slab->lent = NULL;
      if (lend(env, slab, &result)) {
        pool->count++;
        return result;
      }
      munmap(addr, SLAB_BYTES);
    }
  }
  napi_get_null(env, &result);
  return result;
}

int seglog_export_read_slab(napi_env env, napi_value exports) {
  struct slab_pool *pool = calloc(1, sizeof *pool);
  if (pool == NULL) return 0;
  napi_value fn = NULL;
  if (napi_create_function(env, "readSlab", NAPI_AUTO_LENGTH, read_slab, pool, &fn) != napi_ok) {
    free(pool);
    return 0;
  }
  /* Once the hook is set it owns the pool, whatever happens next. */
  if (napi_add_env_cleanup_hook(env, release_pool, pool) != napi_ok) {
    free(pool);
    return 0;
  }
  return napi_set_named_property(env, exports, "readSlab", fn) == napi_ok;
}
