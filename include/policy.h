/*
 * policy.h - what an attempt's outcome means (owned by src/policy.c):
 * done, retry after a backoff, or failed.  Pure: no system calls.
 */
#ifndef SW_POLICY_H
#define SW_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"

enum st_kind {
	ST_EXIT = 0,      /* code = exit status */
	ST_SIGNAL,        /* code = signal number */
	ST_TIMEOUT,       /* code = the signal that finally killed it */
	ST_EXEC,          /* code = errno of the failed execve */
	ST_WORKER_DIED,   /* the worker process died while running it */
	ST_CRASHED,       /* the daemon died during the last allowed attempt */
	ST_NOT_REGULAR,   /* not a regular file once claimed */
	ST_ABORTED,       /* stopped by a graceful shutdown: not counted */
	ST_SPAWN,         /* the worker could not start it (fork/pipe); code = errno */
	ST_PROTOCOL,      /* lines: its answer was no verdict (SPEC §10) */
	ST_LOST,          /* lines: the command ended holding the job; code = wait status */
};

enum verdict { V_DONE, V_RETRY, V_FAILED };

/* Outcome of attempt number ATTEMPT (1-based) of a job of drop D. */
enum verdict policy_decide(const struct sw_drop *d, int attempt,
			   enum st_kind kind, int code);

/*
 * Delay before the retry that follows failed attempt ATTEMPT (1-based):
 * backoff * 2^(attempt-1), randomised by up to +/-20% with RND (uniform over
 * 0..UINT32_MAX), and never more than backoff_max.
 */
int64_t policy_backoff_ms(const struct sw_drop *d, int attempt, uint32_t rnd);

/* Why a V_FAILED was not retried: "no_retry" (its exit code is listed),
 * "retries-exhausted", "crashed" (the daemon died in its last attempt). */
const char *policy_fail_reason(const struct sw_drop *d, enum st_kind kind, int code);

/* "exit:3", "signal:SIGKILL", "timeout", "exec:ENOENT", ... into BUF. */
const char *policy_status(enum st_kind kind, int code, char *buf, size_t n);
/* How a process ended, from waitpid()'s WSTATUS, as nginx says it:
 * "exit:N", "signal:SIGSEGV core=dumped", "signal:SIGKILL". */
const char *policy_wait_status(int wstatus, char *buf, size_t n);

#endif
