/*
 * `writeBatches(fds, buffers, lengths, positions, results, count) -> threads`: writes
 * `buffers[i]`'s first `lengths[i]` bytes to `fds[i]` at `positions[i]` for i < count (pwrite,
 * looping on short writes and EINTR), and sets `results[i]` to the bytes written (all of them) or
 * to -errno (then some of them may have landed: the caller cuts them back). Returns how many
 * threads did the writes (1 or 2). `fds` is an Int32Array, `lengths`, `positions` and `results`
 * Float64Arrays, `buffers` an array of Uint8Arrays.
 *
 * Why: a topic appends one batch per partition per call, to as many files. The writes are
 * independent, and copying a batch into the page cache is most of an append's cost, so the
 * calling thread and one worker thread share them (as Kafka's request handler threads write
 * different partitions at once). The call is synchronous: it returns when every write has ended,
 * so the JS buffers stay alive and unmoved throughout, and no JS runs meanwhile.
 *
 * The worker is made on the first call that can use it and lives as long as the process. It
 * takes work by claiming the next index from a shared ticket (the caller claims from the same
 * one, so whoever is free writes the next batch) and, once idle, spins for a short while for the
 * next call (a topic appends again within microseconds when it appends at all) before it sleeps
 * on a futex. Everything runs on the caller alone when the CPU set has one CPU, when the worker
 * cannot be made, when another thread of the process (a worker_thread) is using it, for calls
 * too small to gain from a handoff, and for a while after calls in which the worker came late
 * (see MISSES_BEFORE_SKIPPING). `startWrites`, `queueWrite` and `finishWrites` do the same for
 * batches handed over one by one as the caller makes them (Linux).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sched.h>
#include <signal.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "seglog.h"

struct job {
  int fd;
  const uint8_t *data;
  size_t length;
  off_t position;
  double result;
};

static void write_job(struct job *job) {
  size_t done = 0;
  while (done < job->length) {
    ssize_t n = pwrite(job->fd, job->data + done, job->length - done, job->position + (off_t)done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      /* A write of nothing would loop for ever: the file system is out of room for it. */
      job->result = -(double)(n < 0 ? errno : ENOSPC);
      return;
    }
    done += (size_t)n;
  }
  job->result = (double)done;
}

/* The elements of a typed array argument of type `type`; throws and returns NULL otherwise. */
static void *typed(napi_env env, napi_value value, napi_typedarray_type type, size_t count, const char *what) {
  napi_typedarray_type actual;
  size_t length = 0;
  void *data = NULL;
  napi_value buffer;
  size_t offset = 0;
  if (napi_get_typedarray_info(env, value, &actual, &length, &data, &buffer, &offset) != napi_ok || actual != type || length < count) {
    napi_throw_type_error(env, NULL, what);
    return NULL;
  }
  return data;
}

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>

/* Below this many bytes in all, a call is written by the caller alone: waking the worker costs more than it saves. */
#define MIN_PARALLEL_BYTES (8 * 1024)
/* How long an idle worker waits, spinning, for the next call (or the next batch of an open one) before it sleeps (yields). */
#define SPIN_NS 50000
/*
 * How long the worker waits for the next batch of an open call before it leaves the call to the
 * caller: a call whose JS was cut short (a stack overflow) stays open until the thread's next call,
 * and one of a terminated worker_thread until its environment's cleanup; the worker must not spin
 * through either.
 */
#define OPEN_WAIT_NS 1000000
/* How long the caller spins for the worker's last write before it yields the CPU between looks. */
#define CALLER_SPIN_NS 200000
/* Writes one `startWrites` call can queue. */
#define MAX_QUEUED 256
/*
 * A call goes badly when the worker wrote nothing of it, or the caller, out of batches, waited
 * longer than WAIT_MISS_NS for the worker's last one: the other CPUs were busy with other work,
 * so the worker could not run in time, or was preempted in the middle of a write. Bad calls
 * count up, good ones down; at MISSES_BEFORE_SKIPPING the next SKIP_CALLS calls do not ask for
 * the worker. Waking a worker that cannot run costs a system call per call, and waiting for one
 * that was preempted costs more than writing alone.
 */
#define WAIT_MISS_NS 30000
#define MISSES_BEFORE_SKIPPING 8
#define SKIP_CALLS 256

static struct {
  pthread_mutex_t busy; /* held by the one caller using the worker, from opening a call to closing it */
  pthread_once_t once;
  int started;
  /* The caller's, while it holds `busy`: the jobs of the open call and its generation. */
  struct job *jobs;
  uint32_t current;
  /*
   * The thread whose startWrites call is open, 0 when none is. Other threads read it too (a
   * startWrites of theirs looks for a call of its own left open), so thread and flag are one word.
   */
  _Atomic uintptr_t queued_by;
  _Atomic uint32_t count; /* jobs published so far (the caller writes a job before it counts it) */
  _Atomic int open;       /* more jobs may come */
  /* High 32 bits: the call's generation; low 32: the next index to claim. */
  _Atomic uint64_t ticket;
  _Atomic uint32_t generation; /* the futex word: the latest call's generation */
  _Atomic uint32_t done;       /* jobs of the current call ended */
  _Atomic int sleeping;
  /* Bad calls less good ones lately, and calls still to make without the worker (see MISSES_BEFORE_SKIPPING). */
  _Atomic uint32_t misses;
  _Atomic uint32_t skip;
} pool = {.busy = PTHREAD_MUTEX_INITIALIZER, .once = PTHREAD_ONCE_INIT};

static struct job queue[MAX_QUEUED];

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/*
 * Claims and writes jobs of call `generation` until none is left and the call is closed (the
 * worker also leaves when the call is closed: the caller then takes what is left); returns how
 * many it wrote.
 */
static uint32_t run_jobs(uint32_t generation) {
  uint32_t wrote = 0;
  uint64_t waiting_since = 0;
  uint64_t ticket = atomic_load(&pool.ticket);
  for (;;) {
    if ((uint32_t)(ticket >> 32) != generation) return wrote;
    if ((uint32_t)ticket >= atomic_load(&pool.count)) {
      if (!atomic_load(&pool.open)) return wrote;
      /* The caller is making the call's next batch. */
      if (waiting_since == 0) waiting_since = now_ns();
      uint64_t waited = now_ns() - waiting_since;
      if (waited < SPIN_NS) cpu_relax();
      else if (waited < OPEN_WAIT_NS) sched_yield();
      else return wrote;
      ticket = atomic_load(&pool.ticket);
      continue;
    }
    if (!atomic_compare_exchange_weak(&pool.ticket, &ticket, ticket + 1)) continue;
    write_job(&pool.jobs[(uint32_t)ticket]);
    atomic_fetch_add(&pool.done, 1);
    wrote++;
    waiting_since = 0;
  }
}

static void *worker(void *arg) {
  (void)arg;
  /* Made before the first call's generation (1) is published, so it takes part in that call too. */
  uint32_t seen = 0;
  for (;;) {
    uint64_t start = now_ns();
    uint32_t generation;
    while ((generation = atomic_load(&pool.generation)) == seen) {
      if (now_ns() - start < SPIN_NS) {
        cpu_relax();
        continue;
      }
      atomic_store(&pool.sleeping, 1);
      if (atomic_load(&pool.generation) == seen) syscall(SYS_futex, &pool.generation, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
      atomic_store(&pool.sleeping, 0);
      start = now_ns();
    }
    seen = generation;
    run_jobs(generation);
  }
  return NULL;
}

static void start_worker(void) {
  cpu_set_t cpus;
  if (sched_getaffinity(0, sizeof cpus, &cpus) != 0 || CPU_COUNT(&cpus) < 2 || !seglog_keep_loaded()) return;
  /* A small stack, but never below the platform's minimum (128 KiB on glibc aarch64, where a smaller size is refused). */
  long stack_min = sysconf(_SC_THREAD_STACK_MIN);
  size_t stack = stack_min > 64 * 1024 ? (size_t)stack_min : 64 * 1024;
  /* Signals stay with the threads that expect them: the worker is made with all of them blocked. */
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  pthread_attr_t attr;
  pthread_t thread;
  pool.started = pthread_attr_init(&attr) == 0 && pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
                 pthread_attr_setstacksize(&attr, stack) == 0 && pthread_create(&thread, &attr, worker, NULL) == 0;
  pthread_attr_destroy(&attr);
  /* Named, so that it can be told apart (top -H, /proc/<pid>/task). */
  if (pool.started) pthread_setname_np(thread, "seglog-writes");
  pthread_sigmask(SIG_SETMASK, &previous, NULL);
}

/* Takes the worker for a call whose jobs will be at `jobs` (published with `publish`); 0 when it is not to be had. */
static int open_call(struct job *jobs) {
  pthread_once(&pool.once, start_worker);
  if (atomic_load_explicit(&pool.skip, memory_order_relaxed) > 0) {
    atomic_fetch_sub_explicit(&pool.skip, 1, memory_order_relaxed);
    return 0;
  }
  if (!pool.started || pthread_mutex_trylock(&pool.busy) != 0) return 0;
  uint32_t generation = atomic_load(&pool.generation) + 1;
  pool.jobs = jobs;
  pool.current = generation;
  atomic_store(&pool.count, 0);
  atomic_store(&pool.done, 0);
  atomic_store(&pool.open, 1);
  atomic_store(&pool.ticket, (uint64_t)generation << 32);
  atomic_store(&pool.generation, generation);
  if (atomic_load(&pool.sleeping)) syscall(SYS_futex, &pool.generation, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
  return 1;
}

/* Ends the open call of `count` jobs: writes what the worker has not taken, waits for the rest. Returns the threads used. */
static int close_call(uint32_t count) {
  atomic_store(&pool.count, count);
  atomic_store(&pool.open, 0);
  uint32_t mine = run_jobs(pool.current);
  uint64_t start = now_ns(), waited = 0;
  while (atomic_load(&pool.done) < count) {
    waited = now_ns() - start;
    if (waited < CALLER_SPIN_NS) cpu_relax();
    else sched_yield();
  }
  atomic_store(&pool.queued_by, 0);
  uint32_t misses = atomic_load(&pool.misses);
  if (mine == count || waited > WAIT_MISS_NS) misses++;
  else if (misses > 0) misses--;
  if (misses >= MISSES_BEFORE_SKIPPING) {
    misses = 0;
    atomic_store(&pool.skip, SKIP_CALLS);
  }
  atomic_store(&pool.misses, misses);
  pthread_mutex_unlock(&pool.busy);
  return mine < count ? 2 : 1;
}

/* Writes every job, sharing them with the worker when it is free; returns the number of threads used. */
static int write_all(struct job *jobs, uint32_t count, uint64_t total) {
  if (count < 2 || total < MIN_PARALLEL_BYTES || !open_call(jobs)) {
    for (uint32_t i = 0; i < count; i++) write_job(&jobs[i]);
    return 1;
  }
  return close_call(count);
}

static int owns_queued_call(void) {
  return atomic_load(&pool.queued_by) == (uintptr_t)pthread_self();
}

/*
 * Ends a queued call whose finishWrites never came (its JS was cut short), on the thread that
 * started it: the writes not taken yet are dropped, as their batches will never be completed,
 * and the one the worker is doing is waited for, since its buffer is about to be freed or reused.
 */
static void drop_left_call(void) {
  if (!owns_queued_call()) return;
  uint32_t count = atomic_load(&pool.count);
  atomic_store(&pool.open, 0);
  uint64_t ticket = atomic_load(&pool.ticket);
  while ((uint32_t)ticket < count && !atomic_compare_exchange_weak(&pool.ticket, &ticket, (ticket & 0xffffffff00000000u) | count)) {
  }
  if ((uint32_t)ticket < count) atomic_fetch_add(&pool.done, count - (uint32_t)ticket);
  while (atomic_load(&pool.done) < count) sched_yield();
  atomic_store(&pool.queued_by, 0);
  pthread_mutex_unlock(&pool.busy);
}

/* A worker_thread terminated between startWrites and finishWrites ends here, before its buffers go. */
static void drop_left_call_at_cleanup(void *arg) {
  (void)arg;
  drop_left_call();
}

int seglog_writes_init(napi_env env) {
  /* Each initialization its own argument: a second one in the same environment must not repeat a hook (Node aborts on that). */
  static _Atomic uintptr_t inits;
  return napi_add_env_cleanup_hook(env, drop_left_call_at_cleanup, (void *)(atomic_fetch_add(&inits, 1) + 1)) == napi_ok;
}

/*
 * `startWrites() -> boolean`: takes the worker for a call whose writes are queued one by one
 * (`queueWrite`) as their batches are made, so that the worker writes the first while the caller
 * makes the next; `finishWrites` ends it. False when the worker is not to be had (one CPU, in use
 * by another thread of the process, or not made): the caller then writes with `writeBatches`.
 * The caller must call `finishWrites` before it returns to the event loop, and keep the queued
 * buffers alive and unchanged until then.
 */
napi_value seglog_js_start_writes(napi_env env, napi_callback_info info) {
  (void)info;
  drop_left_call();
  int taken = open_call(queue);
  if (taken) atomic_store(&pool.queued_by, (uintptr_t)pthread_self());
  napi_value result;
  if (napi_get_boolean(env, taken, &result) != napi_ok) return NULL;
  return result;
}

/* `queueWrite(fd, buffer, length, position) -> boolean`: adds a write to the started call; false when the queue is full. */
napi_value seglog_js_queue_write(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t fd = -1;
  double length = -1, position = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_value_double(env, argv[2], &length) != napi_ok || napi_get_value_double(env, argv[3], &position) != napi_ok || fd < 0 ||
      !(length >= 0) || !(position >= 0)) {
    napi_throw_type_error(env, NULL, "queueWrite(fd, buffer, length, position)");
    return NULL;
  }
  if (!owns_queued_call()) {
    napi_throw_error(env, NULL, "queueWrite: no call started by startWrites on this thread");
    return NULL;
  }
  uint32_t n = atomic_load(&pool.count);
  int queued = n < MAX_QUEUED;
  if (queued) {
    void *data = typed(env, argv[1], napi_uint8_array, (size_t)length, "queueWrite: buffer must be a Uint8Array of at least length bytes");
    if (data == NULL) return NULL;
    queue[n] = (struct job){.fd = fd, .data = data, .length = (size_t)length, .position = (off_t)position};
    atomic_store(&pool.count, n + 1);
  }
  napi_value result;
  if (napi_get_boolean(env, queued, &result) != napi_ok) return NULL;
  return result;
}

/* `finishWrites(results) -> threads`: ends the started call; `results[i]` (a Float64Array) gets write i's bytes or -errno. */
napi_value seglog_js_finish_writes(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) {
    napi_throw_type_error(env, NULL, "finishWrites(results)");
    return NULL;
  }
  if (!owns_queued_call()) {
    napi_throw_error(env, NULL, "finishWrites: no call started by startWrites on this thread");
    return NULL;
  }
  uint32_t count = atomic_load(&pool.count);
  int threads = close_call(count);
  double *results = typed(env, argv[0], napi_float64_array, count, "finishWrites: results must be a Float64Array of one entry per queued write");
  if (results == NULL) return NULL;
  for (uint32_t i = 0; i < count; i++) results[i] = queue[i].result;
  napi_value result;
  if (napi_create_int32(env, threads, &result) != napi_ok) return NULL;
  return result;
}
#endif

napi_value seglog_js_write_batches(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  uint32_t count = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 6 || napi_get_value_uint32(env, argv[5], &count) != napi_ok) {
    napi_throw_type_error(env, NULL, "writeBatches(fds, buffers, lengths, positions, results, count)");
    return NULL;
  }
  const int32_t *fds = typed(env, argv[0], napi_int32_array, count, "writeBatches: fds must be an Int32Array of count entries");
  const double *lengths = fds == NULL ? NULL : typed(env, argv[2], napi_float64_array, count, "writeBatches: lengths must be a Float64Array of count entries");
  const double *positions = lengths == NULL ? NULL : typed(env, argv[3], napi_float64_array, count, "writeBatches: positions must be a Float64Array of count entries");
  double *results = positions == NULL ? NULL : typed(env, argv[4], napi_float64_array, count, "writeBatches: results must be a Float64Array of count entries");
  if (results == NULL) return NULL;
  struct job stack_jobs[16];
  struct job *jobs = count <= 16 ? stack_jobs : malloc(sizeof *jobs * count);
  if (jobs == NULL) {
    napi_throw_error(env, NULL, "writeBatches: out of memory");
    return NULL;
  }
  uint64_t total = 0;
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    uint8_t *data = NULL;
    if (!(lengths[i] >= 0 && lengths[i] <= (double)SIZE_MAX) || !(positions[i] >= 0) || fds[i] < 0 || napi_get_element(env, argv[1], i, &element) != napi_ok ||
        (data = typed(env, element, napi_uint8_array, (size_t)lengths[i], "writeBatches: buffers[i] must be a Uint8Array of at least lengths[i] bytes")) == NULL) {
      bool pending = false;
      if (napi_is_exception_pending(env, &pending) == napi_ok && !pending) napi_throw_range_error(env, NULL, "writeBatches: bad fd, length or position");
      if (jobs != stack_jobs) free(jobs);
      return NULL;
    }
    jobs[i].fd = fds[i];
    jobs[i].data = data;
    jobs[i].length = (size_t)lengths[i];
    jobs[i].position = (off_t)positions[i];
    total += jobs[i].length;
  }
#if defined(__linux__)
  int threads = write_all(jobs, count, total);
#else
  (void)total;
  int threads = 1;
  for (uint32_t i = 0; i < count; i++) write_job(&jobs[i]);
#endif
  for (uint32_t i = 0; i < count; i++) results[i] = jobs[i].result;
  if (jobs != stack_jobs) free(jobs);
  napi_value result;
  if (napi_create_int32(env, threads, &result) != napi_ok) return NULL;
  return result;
}
