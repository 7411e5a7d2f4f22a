/*
 * proto.h - messages between the master and its workers, one per
 * SOCK_SEQPACKET datagram (so message boundaries are kept); the job
 * message's strings are written and read by src/proto.c.
 */
#ifndef SW_PROTO_H
#define SW_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_MAX     65536   /* largest job message */
#define PROTO_TAIL    2048    /* output tail sent back for the sidecar */

/*
 * MSG_HELLO (worker -> master, a bare header): the worker is up (exec'd,
 * privileges dropped) and can take a job; none is sent to it before.
 *
 * A worker holds the job it runs and up to PROTO_AHEAD jobs sent ahead,
 * which it starts in order as each ends, without waiting for the master.  It
 * writes the attempt into the spool's attempts table itself, right before
 * the command starts, so a job sent ahead but never started is not counted
 * after a crash.  MSG_SPOOL (master -> worker, struct msg_ctl, arg = spool
 * id) carries that table's descriptor (SCM_RIGHTS), or none to forget it.
 * MSG_REVOKE (master -> worker): give back the jobs sent ahead; the answer
 * is one MSG_RETURN (worker -> master, arg = the job) per job, the last sent
 * first, then a MSG_RETURN with arg = PROTO_NONE.  A worker stopped by
 * SIGUSR2 gives its jobs sent ahead back the same way (without the last).
 */
enum { MSG_JOB = 1, MSG_RESULT = 2, MSG_HELLO = 3, MSG_SPOOL = 4, MSG_REVOKE = 5,
       MSG_RETURN = 6 };

#define PROTO_NONE UINT32_MAX
#define PROTO_AHEAD 2         /* jobs a worker may hold besides the one it runs */

struct msg_ctl {
	uint32_t type;
	uint32_t arg;
};

/* master -> worker: run one command.  data holds argc NUL-terminated
 * argv strings, envc environment strings, then the log label; in lines
 * mode (SPEC §10), then the file's path, written to the persistent command
 * (whose argv and environment are the same for every file). */
struct msg_job {
	uint32_t type;
	uint32_t job;           /* echoed back in the result */
	uint32_t spool;         /* whose attempts table ... */
	uint32_t slot;          /* ... gets record SLOT = ATTEMPT at the start */
	uint32_t attempt;
	uint32_t log_target;    /* enum sw_log_target: where its output goes */
	int64_t timeout_ms;
	int64_t kill_grace_ms;
	uint32_t out_log_max;   /* bytes of output to log per job */
	uint32_t log_level;
	uint32_t argc;
	uint32_t envc;
	uint32_t protocol;      /* enum sw_protocol: lines -> a persistent command */
	uint32_t max_jobs;      /* lines: its jobs before a restart (0: no limit) */
	char data[];
};

/* worker -> master: how it ended, and the tail of its output. */
struct msg_result {
	uint32_t type;
	uint32_t job;
	int32_t kind;           /* enum st_kind */
	int32_t code;
	int64_t duration_ms;
	uint32_t tail_len;
	uint32_t pad;
	char tail[PROTO_TAIL];
};

/* Append the string S (and its NUL) to the job message BUF at OFF: the
 * new offset, or PROTO_MAX + 1 once it no longer fits (and from then on). */
size_t proto_put(char *buf, size_t off, const char *s);
/* A job message's strings: ARGV (argc of them, then NULL; at most MAXARG),
 * ENVP (envc, then NULL; at most MAXENV), the log LABEL and, in lines
 * mode, the file's PATH (else NULL), pointing into J, which is LEN bytes
 * long.  0, or -1 if it is malformed. */
int proto_job_decode(const struct msg_job *j, size_t len, char **argv, int maxarg,
		     char **envp, int maxenv, const char **label, const char **path);

#endif
