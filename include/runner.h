/*
 * runner.h - one command under the command contract (owned by
 * src/runner.c): started (clone with CLONE_VM | CLONE_VFORK, its own
 * process group, its cgroup if any, the commands' credentials, stdin
 * /dev/null, stdout and stderr on one pipe, nothing else open), its output
 * logged line by line up to a bound with its tail kept, and waited for:
 * deadline -> SIGTERM to the group -> SIGKILL after the grace.  The
 * worker's exec mode uses it per job; a persistent command (lines mode)
 * will use the same start and kill.
 */
#ifndef SW_RUNNER_H
#define SW_RUNNER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto.h"

#define RUNNER_LINE_MAX 400   /* a logged output line is cut here */

/* Output of one job: logged line by line up to a bound, and its tail kept
 * for the sidecar.  Nothing grows with what the command writes. */
struct output {
	const char *label;
	uint32_t log_max;
	uint64_t logged, dropped;
	char line[RUNNER_LINE_MAX];
	size_t linelen;
	char tail[PROTO_TAIL];
	size_t tailpos;    /* next write position in the ring */
	int tailfull;
};

struct runner {
	pid_t pid;
	int outfd;         /* the pipe's read end (-1 once at its end) */
	int keepfd;        /* its write end, kept until the command is reaped */
	int64_t t0;        /* when it started (ms) */
	int status;        /* waitpid() status, once reaped */
	struct output out;
};

/* How a wait ended. */
enum run_end { RUN_EXITED, RUN_TIMEOUT, RUN_STOPPED };

/* Signals the worker ignores (a terminal's or a service manager's, sent to
 * the whole group): only the master decides; the command gets them back. */
void runner_ignore_signals(void);
/* The commands' user and group (-1: the worker's own), and the worker's
 * CPU (INDEX-th allowed; -1: none).  0, or -1 (errno). */
int runner_setup(long uid, long gid, long index);
long runner_uid(void);
long runner_gid(void);
/* Start ARGV with ENVP.  0; or an errno > 0 if exec failed (the child was
 * reaped); or -1 (errno) if it could not be started at all. */
int runner_start(struct runner *r, char **argv, char **envp, const char *label,
		 uint32_t log_max);
/*
 * Wait for it, reading its output, up to TIMEOUT_MS, then SIGTERM to its
 * group and SIGKILL (and its cgroup) after GRACE_MS.  SIGFD is the
 * worker's signalfd (SIGCHLD and the master's signals), *CTLFD its socket
 * to the master (watched for a hang-up only; read at every turn: the hook
 * sets it to -1 once the master is gone, or a hung-up socket would wake
 * every poll at once).  For any other signal, and for a hang-up (SIGNO 0),
 * HOOK(SIGNO, ARG) says whether to stop the command now (1), as at a
 * timeout but not one.
 */
enum run_end runner_wait(struct runner *r, int64_t timeout_ms, int64_t grace_ms, int sigfd,
			 const int *ctlfd, int (*hook)(int signo, void *arg), void *arg);
/* Start ARGV with ENVP, its stdin FD0 (-1: /dev/null), stdout FD1, stderr
 * FD2, in its own group, as runner_start() does: 0 with *PID; an errno > 0
 * if exec failed (reaped); -1 (errno) if it could not be started. */
int runner_spawn(pid_t *pid, char **argv, char **envp, int fd0, int fd1, int fd2);
/* An output logged with LABEL, at most LOG_MAX bytes of it. */
void runner_out_init(struct output *o, const char *label, uint32_t log_max);
/* N bytes of it: logged by line, kept in the tail. */
void runner_out_feed(struct output *o, const char *buf, size_t n);
/* Read what FD (non-blocking) holds now into O: 0 at its end, else 1. */
int runner_out_read(struct output *o, int fd);
/* Its last line logged, and what was not (a count). */
void runner_out_end(struct output *o);
/* Its tail, into DST (PROTO_TAIL bytes); the length. */
size_t runner_out_tail(const struct output *o, char *dst);
/* The output's end (what is left in the pipe), and the descriptors. */
void runner_finish(struct runner *r);
/* The tail of its output, into DST (PROTO_TAIL bytes); its length. */
size_t runner_tail(const struct runner *r, char *dst);

#endif
