/*
 * dispatch.h - which job goes to which worker (owned by src/dispatch.c):
 * idle workers first, then up to PROTO_AHEAD jobs sent ahead to busy
 * ones, so a short command's successor starts without a round trip; a job
 * waiting behind a slow command while a worker idles is asked back; a job
 * a worker never started is taken back, not counted; a worker that stays
 * silent past its job's timeout is killed.
 *
 * Its state is one seat per worker slot.  It talks to the rest through
 * pool_send/pool_ring/pool_kill/pool_usable (pool.h), attempt_message()
 * (attempt.h) and outcome_result() (outcome.h): tests/unit/test_dispatch.c
 * links its own twins of those and drives it in-process.
 */
#ifndef SW_DISPATCH_H
#define SW_DISPATCH_H

#include <stddef.h>

/* Seats for N worker slots (they never shrink).  0 or -1. */
int dispatch_resize(int n);
/* Worker WI is a fresh process: an empty seat. */
void dispatch_reset(int wi);
/* Hand out queued jobs; ask back what waits while a worker idles. */
void dispatch_run(void);
/* A message from worker WI: a result, or a job given back. */
void dispatch_message(int wi, const void *msg, size_t len);
/* Worker WI is gone: its jobs sent ahead are taken back, the one it ran
 * ends as a worker's death (or, stopping, as interrupted). */
void dispatch_lost(int wi);
/* Stopping: the jobs sent ahead come back. */
void dispatch_stop(void);
/* A drop was paused: its jobs sent ahead (not started) come back, to be
 * held. */
void dispatch_recall_paused(void);
/* The grace is over: every running command is stopped now. */
void dispatch_abort(void);
/* Worker WI holds no job (retire it). */
int dispatch_idle(int wi);
void dispatch_free(void);

#endif
