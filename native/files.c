/*
 * The file system calls Node's fs lacks, for seglog's segment and index files:
 *
 * - `fallocate(fd, offset, length) -> errno` (Linux): reserves blocks without changing the file's
 *   length (FALLOC_FL_KEEP_SIZE); 0 on success, else the errno (EOPNOTSUPP on file systems
 *   that cannot). Not exported elsewhere.
 * - `map(fd, length, writable) -> ArrayBuffer`: a shared mapping of the file's first `length`
 *   bytes (read-write, or read-only when `writable` is false), as an external ArrayBuffer whose
 *   memory is the page cache itself.
 * - `unmap(arrayBuffer)`: munmap now and detach the ArrayBuffer (its length becomes 0, so a
 *   stale view throws instead of touching unmapped memory). Without it, the mapping is dropped
 *   when the ArrayBuffer is garbage-collected; seglog always unmaps explicitly, before a file
 *   shrinks (a store past a file's end raises SIGBUS) and at close.
 * - `msync(arrayBuffer, offset, length)`: writes the dirty pages of that range to the device.
 * - `copyTwo(mapping, first, firstPosition, second, secondPosition) -> boolean` (Linux): fills
 *   `first`, then `second`, from a read-only mapping of a file another process may cut; false
 *   when a range lies outside the mapping or past the file's end (see below).
 * - `adviseHugePages(arrayBuffer) -> number`: transparent huge pages for a buffer's fresh memory
 *   (Linux; see below).
 *
 * Failures throw an Error whose `code` is the errno name's number as a string ("ERRNO_12") and
 * whose message carries strerror's text; seglog wraps them in its LogIOError.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "seglog.h"

static void throw_errno(napi_env env, const char *what, int err) {
  char code[32];
  char message[256];
  snprintf(code, sizeof code, "ERRNO_%d", err);
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  napi_throw_error(env, code, message);
}

/* argv[i] as a non-negative integer below 2^53; throws and returns 0 otherwise. */
static int get_index(napi_env env, napi_value value, const char *what, int64_t *out) {
  double d = 0;
  if (napi_get_value_double(env, value, &d) != napi_ok || !(d >= 0 && d <= 9007199254740991.0) || d != (double)(int64_t)d) {
    napi_throw_range_error(env, NULL, what);
    return 0;
  }
  *out = (int64_t)d;
  return 1;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, const char *usage) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, NULL, usage);
    return 0;
  }
  return 1;
}

napi_value seglog_js_fallocate(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int64_t fd, offset, length;
  if (!get_args(env, info, 3, argv, "fallocate(fd, offset, length)")) return NULL;
  if (!get_index(env, argv[0], "fallocate: bad fd", &fd) || !get_index(env, argv[1], "fallocate: bad offset", &offset) ||
      !get_index(env, argv[2], "fallocate: bad length", &length))
    return NULL;
  int err = 0;
#if defined(__linux__)
  if (fallocate((int)fd, FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)length) != 0) err = errno;
#else
  err = EOPNOTSUPP;
#endif
  napi_value result = NULL;
  if (napi_create_int32(env, err, &result) != napi_ok) return NULL;
  return result;
}

/* One mapping: the finalizer and unmap() share it so that a range is unmapped exactly once. */
struct mapping {
  void *addr;
  size_t length;
  int mapped;
};

/*
 * A mapping stays on V8's external-memory count (every ArrayBuffer's length is) even when its
 * owner unmaps it itself: V8 takes the length off by itself when the ArrayBuffer is swept or
 * detached, and Node detaches external buffers in its cleanup hooks at exit before their
 * finalizers run, so a length the addon took off could be given back only after V8 took it off a
 * second time. Node 24 and later (V8's ExternalMemoryAccounter) abort the process when the count
 * would go below zero: every process or worker ending with an index mapped died with SIGTRAP.
 */
static void release_mapping(struct mapping *m) {
  if (m->mapped) munmap(m->addr, m->length);
  m->mapped = 0;
}

static void finalize_mapping(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  struct mapping *m = hint;
  release_mapping(m);
  free(m);
}

napi_value seglog_js_map(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int64_t fd, length;
  bool writable = true;
  if (!get_args(env, info, 3, argv, "map(fd, length, writable)")) return NULL;
  if (napi_get_value_bool(env, argv[2], &writable) != napi_ok) {
    napi_throw_type_error(env, NULL, "map: writable must be a boolean");
    return NULL;
  }
  if (!get_index(env, argv[0], "map: bad fd", &fd) || !get_index(env, argv[1], "map: bad length", &length)) return NULL;
  if (length == 0) {
    napi_throw_range_error(env, NULL, "map: length must be positive");
    return NULL;
  }
  struct mapping *m = calloc(1, sizeof *m);
  if (m == NULL) {
    throw_errno(env, "map", ENOMEM);
    return NULL;
  }
  void *addr = mmap(NULL, (size_t)length, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, (int)fd, 0);
  if (addr == MAP_FAILED) {
    int err = errno;
    free(m);
    throw_errno(env, "mmap", err);
    return NULL;
  }
  m->addr = addr;
  m->length = (size_t)length;
  m->mapped = 1;
  napi_value buffer = NULL;
  if (napi_create_external_arraybuffer(env, addr, (size_t)length, finalize_mapping, m, &buffer) != napi_ok) {
    /* e.g. a runtime that forbids external buffers: seglog then uses positional reads and writes. */
    release_mapping(m);
    free(m);
    napi_throw_error(env, NULL, "map: this runtime refuses external ArrayBuffers");
    return NULL;
  }
  /* The ArrayBuffer carries its mapping record, for unmap(); the finalizer above owns it. */
  if (napi_wrap(env, buffer, m, NULL, NULL, NULL) != napi_ok) {
    napi_throw_error(env, NULL, "map: cannot attach the mapping to its ArrayBuffer");
    return NULL;
  }
  return buffer;
}

/* The mapping record of `value`, or NULL (with nothing thrown) when it has none any more. */
static struct mapping *mapping_of(napi_env env, napi_value value) {
  void *m = NULL;
  if (napi_unwrap(env, value, &m) != napi_ok) return NULL;
  return m;
}

napi_value seglog_js_unmap(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv, "unmap(arrayBuffer)")) return NULL;
  struct mapping *m = mapping_of(env, argv[0]);
  if (m == NULL) return NULL; /* unmapped already, or never a mapping: nothing to do */
  void *ignored = NULL;
  napi_remove_wrap(env, argv[0], &ignored);
  release_mapping(m);
  /* After this the finalizer may run at any time and free m: m is not touched again. */
  if (napi_detach_arraybuffer(env, argv[0]) != napi_ok) {
    napi_throw_error(env, NULL, "unmap: cannot detach the ArrayBuffer");
  }
  return NULL;
}

napi_value seglog_js_msync(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int64_t offset, length;
  if (!get_args(env, info, 3, argv, "msync(arrayBuffer, offset, length)")) return NULL;
  if (!get_index(env, argv[1], "msync: bad offset", &offset) || !get_index(env, argv[2], "msync: bad length", &length)) return NULL;
  struct mapping *m = mapping_of(env, argv[0]);
  if (m == NULL || !m->mapped) {
    napi_throw_error(env, NULL, "msync: not a live mapping");
    return NULL;
  }
  if ((uint64_t)offset > m->length || (uint64_t)length > m->length - (uint64_t)offset) {
    napi_throw_range_error(env, NULL, "msync: range outside the mapping");
    return NULL;
  }
  /* msync wants a page-aligned start; the mapping itself starts on a page. */
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t start = (size_t)offset - (size_t)offset % page;
  size_t end = (size_t)offset + (size_t)length;
  if (end > start && msync((char *)m->addr + start, end - start, MS_SYNC) != 0) {
    throw_errno(env, "msync", errno);
  }
  return NULL;
}

/* The bytes of a Uint8Array (a Buffer) argument; throws and returns 0 otherwise. */
static int get_bytes(napi_env env, napi_value value, const char *what, uint8_t **data, size_t *length) {
  napi_typedarray_type type;
  void *base = NULL;
  napi_value buffer;
  size_t offset = 0;
  if (napi_get_typedarray_info(env, value, &type, length, &base, &buffer, &offset) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, what);
    return 0;
  }
  *data = base;
  return 1;
}

/* An ArrayBuffer argument's memory; throws a TypeError saying `what` and returns 0 when it is not one. */
static int get_arraybuffer(napi_env env, napi_value value, const char *what, void **data, size_t *length) {
  if (napi_get_arraybuffer_info(env, value, data, length) == napi_ok) return 1;
  napi_throw_type_error(env, NULL, what);
  return 0;
}

/* The memory of a function's one argument, an ArrayBuffer (`usage` and `what` name it in the TypeError); 0 after a throw. */
static int only_arraybuffer(napi_env env, napi_callback_info info, const char *usage, const char *what, void **data, size_t *length) {
  napi_value argv[1];
  return get_args(env, info, 1, argv, usage) && get_arraybuffer(env, argv[0], what, data, length);
}

/* Reads exactly `length` bytes at `position`, or fewer only at the end of the file; -1 with errno set on failure. */
static ssize_t pread_full(int fd, uint8_t *into, size_t length, off_t position) {
  size_t done = 0;
  while (done < length) {
    ssize_t n = pread(fd, into + done, length - done, position + (off_t)done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    done += (size_t)n;
  }
  return (ssize_t)done;
}

#if defined(__linux__)
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>

/*
 * Copies out of a read-only mapping of a file that a writer in another process may cut at any
 * moment: touching a page past the file's new end raises SIGBUS. While a guarded copy runs, the
 * thread's `guard_jump` is set, and the handler jumps out of the copy, which then reports failure.
 * Any other SIGBUS goes to the disposition there was before (by default the process dies, as it
 * would have without seglog). The copy is a plain memcpy, which holds no lock to leave behind.
 */
/* initial-exec: the handler reads it without a call that could allocate (general-dynamic TLS may). */
static __thread sigjmp_buf *guard_jump __attribute__((tls_model("initial-exec")));
static struct sigaction previous_bus;
static pthread_once_t bus_handler_once = PTHREAD_ONCE_INIT;
static int bus_handler_installed;

static void on_bus(int sig, siginfo_t *info, void *context) {
  sigjmp_buf *jump = guard_jump;
  if (jump != NULL) {
    guard_jump = NULL;
    siglongjmp(*jump, 1);
  }
  if (previous_bus.sa_flags & SA_SIGINFO) {
    previous_bus.sa_sigaction(sig, info, context);
  } else if (previous_bus.sa_handler != SIG_DFL && previous_bus.sa_handler != SIG_IGN) {
    previous_bus.sa_handler(sig);
  } else {
    /* The old disposition back: the faulting access runs again and gets it. A SIGBUS sent by
       kill() (si_code <= 0) has no access to repeat, so it is raised again (SA_NODEFER lets it in). */
    sigaction(SIGBUS, &previous_bus, NULL);
    if (info != NULL && info->si_code <= 0) raise(sig);
  }
}

static void install_bus_handler(void) {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_sigaction = on_bus;
  sigemptyset(&action.sa_mask);
  /* SA_NODEFER: the jump out of the handler must not leave SIGBUS blocked in this thread. */
  action.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
  bus_handler_installed = sigaction(SIGBUS, &action, &previous_bus) == 0;
}

/* memcpy out of a mapping: 1, or 0 when a page of `from` lay past the file's end (SIGBUS). */
__attribute__((noinline)) static int guarded_copy(uint8_t *into, const uint8_t *from, size_t length) {
  sigjmp_buf jump;
  /* Touches this thread's guard_jump outside the handler first (its TLS block then exists). */
  guard_jump = NULL;
  if (sigsetjmp(jump, 0) != 0) return 0;
  guard_jump = &jump;
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  memcpy(into, from, length);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  guard_jump = NULL;
  return 1;
}

/*
 * `copyTwo(mapping, first, firstPosition, second, secondPosition) -> boolean`: fills `first` from
 * the mapped file at `firstPosition`, then `second` at `secondPosition`, in that order (a fence
 * between: the second copy sees the file no earlier than the first did). False when either range
 * lies outside the mapping (a detached one has length 0) or a page of it past the file's end.
 * A read-only point read takes a record and then its batch's header this way (src/log/log-reader.ts).
 */
napi_value seglog_js_copy_two(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int64_t first_position, second_position;
  uint8_t *first, *second;
  size_t first_length, second_length;
  void *map = NULL;
  size_t map_length = 0;
  if (!get_args(env, info, 5, argv, "copyTwo(mapping, first, firstPosition, second, secondPosition)")) return NULL;
  if (!get_arraybuffer(env, argv[0], "copyTwo: mapping is not an ArrayBuffer", &map, &map_length)) return NULL;
  if (!get_bytes(env, argv[1], "copyTwo: first is not a Uint8Array", &first, &first_length) ||
      !get_index(env, argv[2], "copyTwo: bad position", &first_position) ||
      !get_bytes(env, argv[3], "copyTwo: second is not a Uint8Array", &second, &second_length) ||
      !get_index(env, argv[4], "copyTwo: bad position", &second_position))
    return NULL;
  pthread_once(&bus_handler_once, install_bus_handler);
  int ok = bus_handler_installed && map != NULL && (uint64_t)first_position <= map_length && first_length <= map_length - (uint64_t)first_position &&
           (uint64_t)second_position <= map_length && second_length <= map_length - (uint64_t)second_position &&
           guarded_copy(first, (const uint8_t *)map + first_position, first_length);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  ok = ok && guarded_copy(second, (const uint8_t *)map + second_position, second_length);
  napi_value result = NULL;
  if (napi_get_boolean(env, ok, &result) != napi_ok) return NULL;
  return result;
}
#endif

/*
 * heapAddress(arrayBuffer) -> number: the address of the buffer's memory when it lies in the
 * heap that brk grows (below the program break: where glibc's main arena places what it does not
 * map apart), else -1. See src/files/read-memory.ts for why the reads' memory wants to know.
 */
napi_value seglog_js_heap_address(napi_env env, napi_callback_info info) {
  void *data = NULL;
  size_t length = 0;
  if (!only_arraybuffer(env, info, "heapAddress(arrayBuffer)", "heapAddress: not an ArrayBuffer", &data, &length)) return NULL;
  double result_value = -1;
#if defined(__linux__)
  uintptr_t brk_now = (uintptr_t)sbrk(0);
  if (data != NULL && length > 0 && brk_now != (uintptr_t)-1 && (uintptr_t)data + length <= brk_now) result_value = (double)(uintptr_t)data;
#endif
  napi_value result = NULL;
  if (napi_create_double(env, result_value, &result) != napi_ok) return NULL;
  return result;
}

/*
 * `readTwo(fd, first, firstPosition, second, secondPosition) -> boolean`: fills `first` from the
 * file at `firstPosition`, then `second` at `secondPosition` (in that order), in one call from
 * JS; false when the file ended before either was full. A read-only point read takes a record and
 * then its batch's header this way (src/log/log-reader.ts).
 */
napi_value seglog_js_read_two(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int64_t fd, first_position, second_position;
  uint8_t *first, *second;
  size_t first_length, second_length;
  if (!get_args(env, info, 5, argv, "readTwo(fd, first, firstPosition, second, secondPosition)")) return NULL;
  if (!get_index(env, argv[0], "readTwo: bad fd", &fd) || !get_bytes(env, argv[1], "readTwo: first is not a Uint8Array", &first, &first_length) ||
      !get_index(env, argv[2], "readTwo: bad position", &first_position) ||
      !get_bytes(env, argv[3], "readTwo: second is not a Uint8Array", &second, &second_length) ||
      !get_index(env, argv[4], "readTwo: bad position", &second_position))
    return NULL;
  ssize_t a = pread_full((int)fd, first, first_length, (off_t)first_position);
  ssize_t b = a < 0 || (size_t)a < first_length ? 0 : pread_full((int)fd, second, second_length, (off_t)second_position);
  if (a < 0 || b < 0) {
    throw_errno(env, "pread", errno);
    return NULL;
  }
  napi_value result = NULL;
  if (napi_get_boolean(env, (size_t)a == first_length && (size_t)b == second_length, &result) != napi_ok) return NULL;
  return result;
}

/*
 * adviseHugePages(arrayBuffer) -> number: on Linux, asks for transparent huge pages
 * (madvise MADV_HUGEPAGE) on the 2 MiB-aligned pages that lie wholly inside the buffer's memory,
 * which should not have been touched yet. A read into fresh memory otherwise faults in and zeroes
 * one 4 KiB page at a time, which costs more than the copy. Returns the buffer's address modulo
 * 4096 (so that the caller can place a read where the kernel's copy runs fastest), or -1 when
 * nothing was advised (no such page inside, advice refused, or not Linux).
 */
napi_value seglog_js_advise_huge_pages(napi_env env, napi_callback_info info) {
  void *data = NULL;
  size_t length = 0;
  if (!only_arraybuffer(env, info, "adviseHugePages(arrayBuffer)", "adviseHugePages: not an ArrayBuffer", &data, &length)) return NULL;
  uintptr_t start = (uintptr_t)data;
  int32_t result_value = -1;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const uintptr_t huge = (uintptr_t)2 << 20;
  uintptr_t from = (start + huge - 1) & ~(huge - 1);
  uintptr_t to = (start + length) & ~(huge - 1);
  if (to > from && madvise((void *)from, to - from, MADV_HUGEPAGE) == 0) result_value = (int32_t)(start & 4095);
#endif
  napi_value result = NULL;
  if (napi_create_int32(env, result_value, &result) != napi_ok) return NULL;
  return result;
}
