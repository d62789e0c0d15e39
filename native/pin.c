/*
 * Keeping the addon loaded for the threads it starts: the write worker (native/writes.c) and the
 * threads that make a segment's files ahead of its roll (native/prepare.c). Node unloads an
 * addon that only a worker_thread loaded when that thread ends; a thread of ours still running,
 * returning or waking then runs unmapped code and takes the process with it (a worker_thread
 * terminated mid-call, or soon after a roll).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>

#include "seglog.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int pinned;

static void pin(void) {
  Dl_info info;
  pinned = dladdr((void *)seglog_keep_loaded, &info) != 0 && info.dli_fname != NULL &&
           dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE) != NULL;
}

int seglog_keep_loaded(void) {
  pthread_once(&once, pin);
  return pinned;
}
