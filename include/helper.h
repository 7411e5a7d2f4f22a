/*
 * helper.h - a worker's persistent command in lines mode (owned by
 * src/helper.c; SPEC §10): started once, fed one path per line on its
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
/* The worker ends: the command's stdin is closed, it has its drop's
 * kill_grace to end on its own, then its group is killed. */
void helper_end(void);
/* The command's pid (0: none), for the worker's reaping: its end between
 * two jobs is helper_reap()'s to see. */
pid_t helper_pid(void);
void helper_reap(void);

#endif
