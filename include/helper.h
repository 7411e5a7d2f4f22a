/*
 * helper.h - a worker's persistent commands in lines mode (owned by
 * src/helper.c; SPEC §10): one per drop the worker serves in lines mode
 * (workers serve every drop), started once, fed one path per line on its
 * stdin, its verdict read from its stdout, its stderr logged as a job's
 * output; restarted (throttled) when it dies, hangs, talks nonsense, has
 * served max_jobs or its command changed.  Squid calls such commands
 * helpers.
 */
#ifndef SW_HELPER_H
#define SW_HELPER_H

#include <stdint.h>
#include <sys/types.h>

#include "policy.h"
#include "proto.h"
#include "runner.h"

/* The outcome of one job. */
struct helper_res {
	enum st_kind kind;
	int code;
	int64_t dur;
	int reap;     /* a SIGCHLD was read meanwhile: the worker's reap() is due */
};

/*
 * Run job J (lines mode) on the worker's command: ARGV and ENVP (the same
 * for every file of a drop; a change restarts the command), PATH written
 * to it, the verdict read back.  OUT (ready, with the job's label) gets
 * its stderr and its message.  SIGFD, CTLFD and HOOK as for runner_wait():
 * a stop ends the job as ST_ABORTED (the command is stopped).
 */
void helper_job(const struct msg_job *j, char **argv, char **envp, const char *path,
		struct output *out, int sigfd, const int *ctlfd,
		int (*hook)(int signo, void *arg), struct helper_res *res);
/* The drop whose spool id is SPOOL is gone (the master forgot its spool):
 * its command is let go at the next helper_tidy() (between jobs). */
void helper_forget(uint32_t spool);
void helper_tidy(void);
/* The worker ends: each command's stdin is closed, it has its drop's
 * kill_grace (at most 2 s: the master's stop waits 3 s for its workers) to
 * end on its own, then its group is killed. */
void helper_end(void);
/* For the worker's reaping: 1 if PID is one of its persistent commands,
 * whose end (between two jobs) is helper_reap()'s to see. */
int helper_owns(pid_t pid);
void helper_reap(pid_t pid);

#endif
