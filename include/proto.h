/*
 * proto.h - messages between the master and its workers, one per
 * SOCK_SEQPACKET datagram (so message boundaries are kept).
 */
#ifndef SW_PROTO_H
#define SW_PROTO_H

#include <stdint.h>

#define PROTO_MAX     65536   /* largest job message */
#define PROTO_TAIL    2048    /* output tail sent back for the sidecar */

/* MSG_HELLO (worker -> master, a bare header): the worker is up (exec'd,
 * privileges dropped) and can take a job; none is sent to it before. */
enum { MSG_JOB = 1, MSG_RESULT = 2, MSG_HELLO = 3 };

/* master -> worker: run one command.  data holds argc NUL-terminated
 * argv strings, envc environment strings, then the log label. */
struct msg_job {
	uint32_t type;
	uint32_t job;           /* echoed back in the result */
	int64_t timeout_ms;
	int64_t kill_grace_ms;
	uint32_t out_log_max;   /* bytes of output to log per job */
	uint32_t log_level;
	uint32_t argc;
	uint32_t envc;
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

#endif
