/*
 * outcome.h - from a worker's result to done/ or failed/ (owned by
 * src/outcome.c): retry or verdict, the sidecar, the move (never
 * overwriting; across file systems by a copy beside the loop, recorded so
 * a crash neither runs the file again nor leaves a twin), moves that fail
 * (tried again, then set aside in held/), and the outcome log line.
 */
#ifndef SW_OUTCOME_H
#define SW_OUTCOME_H

#include <stddef.h>
#include <stdint.h>

#include "copy.h"
#include "policy.h"

struct drop;

/* Job S (JS_RUNNING) ended its attempt: KIND and CODE as policy.h, its
 * duration and the tail of its output. */
void outcome_result(int s, enum st_kind kind, int code, int64_t dur, const char *tail,
		    size_t tlen);
/* Job S has its verdict: to failed/ (TO_FAILED, and REASON why it was not
 * retried, a static string) or done/, with STATUS and, to failed/, TAIL in
 * its sidecar. */
void outcome_finish(int s, int to_failed, const char *status, const char *reason,
		    int64_t dur, const char *tail, size_t tlen);
/* Job S (JS_DELIVERING) is moved now. */
void outcome_deliver(int s);
/* The copy of job S (JS_MOVING) to done/ or failed/ ended (ERR 0: made). */
void outcome_copied(int s, int err);

/* Write the sidecar of FINAL (a path in D's failed/) beside it, its
 * directories made first as needed, never through a symlink.  0 or -1. */
int outcome_sidecar(struct drop *d, const char *final, const char *text, size_t len);

#endif
