/*
 * The next segment's files, made ahead of a roll on a thread of their own (Linux; see
 * src/files/prepared-files.ts for why and when). Not on the libuv thread pool: a roll's
 * background flush fills it with fdatasyncs of tens of milliseconds, and work queued behind them
 * was not done by the next roll.
 *
 * - `prepareFiles(dir, lengths, reserve) -> handle`: starts a detached thread that opens one unnamed file per
 *   entry of `lengths` in the directory `dir` (open(O_TMPFILE): no name, so nothing in the
 *   directory changes, and a crash leaves nothing behind), gives each its length (ftruncate), and
 *   reserves `reserve` bytes of blocks at the start of the first one (fallocate KEEP_SIZE: its
 *   length stays 0; best effort).
 * - `takeFiles(handle) -> null | number | { fds, reserved }`: null while the work runs (the caller
 *   then makes its files itself; nothing here waits), the errno when it failed, else the
 *   descriptors, from then on the caller's, and how many bytes were reserved. Once only.
 * - `dropFiles(handle)`: waits for the work to end (it is a few system calls), then closes the
 *   descriptors nobody took. A handle dropped by the garbage collector closes them as well.
 * - `linkFile(fd, path) -> errno`: gives an unnamed file the name `path` (linkat), 0 on success;
 *   EEXIST when the name is taken.
 * - `closeFile(fd) -> errno`: closes a descriptor taken from here, 0 on success. In a
 *   worker_thread, Node's `fs.closeSync` warns about every descriptor its own `fs` did not open
 *   on that thread ("closed but not opened in unmanaged mode"), and these were opened here.
 *
 * The thread reads only its own struct; the main thread reads the results under the mutex once
 * `done` is set, so a roll that finds the work unfinished costs one uncontended lock. The struct
 * is freed by whichever of the thread and the handle's finalizer ends last.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "seglog.h"

#if defined(__linux__) && defined(O_TMPFILE)

#define MAX_FILES 4

struct prepared {
  pthread_mutex_t lock;
  pthread_cond_t ended;
  char *dir;
  int count;
  int64_t lengths[MAX_FILES];
  int64_t reserve;
  /* Results, written by the thread before `done` is set under the lock. */
  int fds[MAX_FILES];
  int64_t reserved;
  int err;
  int done;
  /* Under the lock. */
  int taken;    /* the descriptors were handed out or closed */
  int orphaned; /* the JS handle was collected */
  int refs;     /* the thread and the handle */
};

/* With the lock held, once done: closes the descriptors nobody took. */
static void close_untaken(struct prepared *p) {
  if (p->taken) return;
  p->taken = 1;
  for (int i = 0; i < p->count; i++)
    if (p->fds[i] >= 0) close(p->fds[i]);
}

/* With the lock held: drops one reference; frees (and unlocks) when it was the last. Returns 1 then. */
static int unref_locked(struct prepared *p) {
  if (--p->refs > 0) return 0;
  pthread_mutex_unlock(&p->lock);
  pthread_mutex_destroy(&p->lock);
  pthread_cond_destroy(&p->ended);
  free(p->dir);
  free(p);
  return 1;
}

static void *make_files(void *data) {
  struct prepared *p = data;
  int err = 0;
  int64_t reserved = 0;
  int fds[MAX_FILES];
  for (int i = 0; i < MAX_FILES; i++) fds[i] = -1;
  for (int i = 0; i < p->count && err == 0; i++) {
    fds[i] = open(p->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
    if (fds[i] < 0) err = errno;
    else if (p->lengths[i] > 0 && ftruncate(fds[i], (off_t)p->lengths[i]) != 0) err = errno;
  }
  if (err == 0 && p->reserve > 0 && fallocate(fds[0], FALLOC_FL_KEEP_SIZE, 0, (off_t)p->reserve) == 0) reserved = p->reserve;
  if (err != 0) {
    for (int i = 0; i < p->count; i++)
      if (fds[i] >= 0) close(fds[i]);
    for (int i = 0; i < MAX_FILES; i++) fds[i] = -1;
  }
  pthread_mutex_lock(&p->lock);
  memcpy(p->fds, fds, sizeof fds);
  p->reserved = reserved;
  p->err = err;
  p->done = 1;
  if (p->orphaned) close_untaken(p);
  pthread_cond_broadcast(&p->ended);
  if (!unref_locked(p)) pthread_mutex_unlock(&p->lock);
  return NULL;
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct prepared *p = data;
  pthread_mutex_lock(&p->lock);
  p->orphaned = 1;
  if (p->done) close_untaken(p);
  if (!unref_locked(p)) pthread_mutex_unlock(&p->lock);
}

static struct prepared *handle_of(napi_env env, napi_value value) {
  void *data = NULL;
  if (napi_get_value_external(env, value, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, "not a handle of prepareFiles");
    return NULL;
  }
  return data;
}

static napi_value prepare_files(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) {
    napi_throw_type_error(env, NULL, "prepareFiles(dir, lengths, reserve)");
    return NULL;
  }
  size_t dir_length = 0;
  uint32_t count = 0;
  double reserve = 0;
  if (napi_get_value_string_utf8(env, argv[0], NULL, 0, &dir_length) != napi_ok || napi_get_array_length(env, argv[1], &count) != napi_ok ||
      count == 0 || count > MAX_FILES || napi_get_value_double(env, argv[2], &reserve) != napi_ok || !(reserve >= 0)) {
    napi_throw_type_error(env, NULL, "prepareFiles(dir: string, lengths: number[1..4], reserve: number)");
    return NULL;
  }
  struct prepared *p = calloc(1, sizeof *p);
  char *dir = malloc(dir_length + 1);
  if (p == NULL || dir == NULL) {
    free(p);
    free(dir);
    napi_throw_error(env, NULL, "prepareFiles: out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, argv[0], dir, dir_length + 1, &dir_length);
  p->dir = dir;
  p->count = (int)count;
  p->reserve = (int64_t)reserve;
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    double length = -1;
    if (napi_get_element(env, argv[1], i, &element) != napi_ok || napi_get_value_double(env, element, &length) != napi_ok || !(length >= 0)) {
      free(dir);
      free(p);
      napi_throw_type_error(env, NULL, "prepareFiles: lengths must be non-negative numbers");
      return NULL;
    }
    p->lengths[i] = (int64_t)length;
    p->fds[i] = -1;
  }
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->ended, NULL);
  p->refs = 2;
  napi_value handle;
  if (napi_create_external(env, p, finalize, NULL, &handle) != napi_ok) {
    p->refs = 1;
    pthread_mutex_lock(&p->lock);
    unref_locked(p);
    napi_throw_error(env, NULL, "prepareFiles: cannot create the handle");
    return NULL;
  }
  pthread_attr_t attr;
  pthread_t thread;
  /* A small stack, but never below the platform's minimum (128 KiB on glibc aarch64, where a smaller size is refused). */
  long stack_min = sysconf(_SC_THREAD_STACK_MIN);
  size_t stack = stack_min > 64 * 1024 ? (size_t)stack_min : 64 * 1024;
  int started = seglog_keep_loaded() && pthread_attr_init(&attr) == 0 && pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
                pthread_attr_setstacksize(&attr, stack) == 0 && pthread_create(&thread, &attr, make_files, p) == 0;
  pthread_attr_destroy(&attr);
  if (!started) {
    /* Nothing runs (no thread, or the addon could not be kept loaded): the handle says the files failed (EAGAIN), and its finalizer frees the struct. */
    pthread_mutex_lock(&p->lock);
    p->err = EAGAIN;
    p->done = 1;
    p->refs = 1;
    pthread_mutex_unlock(&p->lock);
  }
  return handle;
}

static napi_value take_files(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_value result = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return NULL;
  struct prepared *p = handle_of(env, argv[0]);
  if (p == NULL) return NULL;
  pthread_mutex_lock(&p->lock);
  int ready = p->done && !p->taken;
  if (ready) p->taken = 1;
  pthread_mutex_unlock(&p->lock);
  if (!ready) {
    napi_get_null(env, &result);
    return result;
  }
  if (p->err != 0) {
    napi_create_int32(env, p->err, &result);
    return result;
  }
  napi_value fds, value;
  napi_create_object(env, &result);
  napi_create_array_with_length(env, (size_t)p->count, &fds);
  for (int i = 0; i < p->count; i++) {
    napi_create_int32(env, p->fds[i], &value);
    napi_set_element(env, fds, (uint32_t)i, value);
  }
  napi_set_named_property(env, result, "fds", fds);
  napi_create_double(env, (double)p->reserved, &value);
  napi_set_named_property(env, result, "reserved", value);
  return result;
}

static napi_value drop_files(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return NULL;
  struct prepared *p = handle_of(env, argv[0]);
  if (p == NULL) return NULL;
  pthread_mutex_lock(&p->lock);
  while (!p->done) pthread_cond_wait(&p->ended, &p->lock);
  close_untaken(p);
  pthread_mutex_unlock(&p->lock);
  return NULL;
}

static napi_value link_file(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  double fd = -1;
  char path[4096];
  size_t length = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 || napi_get_value_double(env, argv[0], &fd) != napi_ok ||
      !(fd >= 0 && fd < 2147483647.0) || napi_get_value_string_utf8(env, argv[1], path, sizeof path, &length) != napi_ok ||
      length >= sizeof path - 1) {
    napi_throw_type_error(env, NULL, "linkFile(fd, path)");
    return NULL;
  }
  int err = 0;
  /* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH on most kernels; the /proc link needs /proc. */
  if (linkat((int)fd, "", AT_FDCWD, path, AT_EMPTY_PATH) != 0) {
    err = errno;
    if (err != EEXIST) {
      char proc[64];
      snprintf(proc, sizeof proc, "/proc/self/fd/%d", (int)fd);
      err = linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0 ? 0 : errno;
    }
  }
  napi_value result = NULL;
  napi_create_int32(env, err, &result);
  return result;
}

static napi_value close_file(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "closeFile(fd)");
    return NULL;
  }
  /* Linux frees the descriptor even when close reports an error (EINTR included): never retried. */
  int err = close(fd) == 0 ? 0 : errno;
  napi_value result = NULL;
  napi_create_int32(env, err, &result);
  return result;
}

int seglog_export_prepare(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    napi_callback fn;
  } functions[] = {{"prepareFiles", prepare_files}, {"takeFiles", take_files}, {"dropFiles", drop_files}, {"linkFile", link_file}, {"closeFile", close_file}};
  for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
    napi_value value;
    if (napi_create_function(env, functions[i].name, NAPI_AUTO_LENGTH, functions[i].fn, NULL, &value) != napi_ok ||
        napi_set_named_property(env, exports, functions[i].name, value) != napi_ok)
      return 0;
  }
  return 1;
}

#else

int seglog_export_prepare(napi_env env, napi_value exports) {
  (void)env;
  (void)exports;
  return 1;
}

#endif
