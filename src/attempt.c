/*
 * attempt.c - one attempt of a job as a worker receives it (see
 * attempt.h).
 */
#include "attempt.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "drop.h"
#include "log.h"
#include "proto.h"

#define OUT_LOG_MAX 4096   /* bytes of a job's output that reach the log */

static char env_path[4200], env_home[1100], env_lang[300];

/* The commands' PATH, HOME and LANG: the daemon's own when they run as
 * the daemon; as another user, that user's home and a PATH without root's
 * sbin directories. */
void attempt_setup_env(const struct sw_config *c)
{
	const char *p = getenv("PATH"), *h = getenv("HOME"), *l = getenv("LANG");

	if (c->run_uid >= 0 && c->run_uid != 0) {
		p = "/usr/local/bin:/usr/bin:/bin";
		h = c->run_home;
	}
	snprintf(env_path, sizeof(env_path), "PATH=%s",
		 p && *p ? p : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	snprintf(env_home, sizeof(env_home), "HOME=%s", h && *h ? h : "/");
	snprintf(env_lang, sizeof(env_lang), "LANG=%s", l && *l ? l : "C");
}

/* The per-file environment of exec mode (6 strings) at OFF in BUF. */
static size_t file_env(char *buf, size_t off, const struct job *j, const struct sw_drop *dc,
		       const char *path)
{
	char arg[8192];

	snprintf(arg, sizeof(arg), "SEAWATCH_FILE=%s", path);
	off = proto_put(buf, off, arg);
	/* NAME is the last component; RELPATH the path in the drop
	 * ("device42/x.sea" in a recursive drop). */
	snprintf(arg, sizeof(arg), "SEAWATCH_NAME=%s",
		 strrchr(j->name, '/') ? strrchr(j->name, '/') + 1 : j->name);
	off = proto_put(buf, off, arg);
	snprintf(arg, sizeof(arg), "SEAWATCH_RELPATH=%s", j->name);
	off = proto_put(buf, off, arg);
	snprintf(arg, sizeof(arg), "SEAWATCH_DROP=%s", dc->name);
	off = proto_put(buf, off, arg);
	snprintf(arg, sizeof(arg), "SEAWATCH_ATTEMPT=%d", j->n);
	off = proto_put(buf, off, arg);
	snprintf(arg, sizeof(arg), "SEAWATCH_MAX_ATTEMPTS=%d", dc->retries + 1);
	return proto_put(buf, off, arg);
}

int attempt_message(int s, char *buf, size_t *len)
{
	struct job *j = JOB(s);
	struct drop *d = j->drop;
	const struct sw_drop *dc = d->cfg;
	struct msg_job *m = (struct msg_job *)buf;
	char path[PATH_MAX], arg[8192], label[1200];
	size_t off = offsetof(struct msg_job, data);
	int i;

	if (spool_path(&d->sp, s, j->name, path, sizeof(path)) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memset(m, 0, sizeof(*m));
	m->type = MSG_JOB;
	m->job = (uint32_t)s;
	m->spool = d->spool_id;
	m->slot = (uint32_t)s;
	m->attempt = (uint32_t)j->n;
	m->timeout_ms = dc->timeout_ms;
	m->kill_grace_ms = dc->kill_grace_ms;
	m->out_log_max = OUT_LOG_MAX;
	m->log_level = (uint32_t)log_get_level();
	m->log_target = (uint32_t)core_cfg()->log_target;
	m->argc = (uint32_t)dc->argc;
	for (i = 0; i < dc->argc; i++) {
		if (cnf_expand(dc->command[i], path, j->name, dc->name, j->n, arg,
			       sizeof(arg)) < 0) {
			errno = E2BIG;
			return -1;
		}
		off = proto_put(buf, off, arg);
	}
	off = proto_put(buf, off, env_path);
	off = proto_put(buf, off, env_home);
	off = proto_put(buf, off, env_lang);
	if (dc->protocol == SW_PROTO_LINES) {
		/* One command for every file: what is per file comes on its
		 * stdin (the path, after the label). */
		m->protocol = SW_PROTO_LINES;
		m->max_jobs = (uint32_t)dc->max_jobs;
		snprintf(arg, sizeof(arg), "SEAWATCH_DROP=%s", dc->name);
		off = proto_put(buf, off, arg);
		off = proto_put(buf, off, "SEAWATCH_PROTOCOL=lines");
		m->envc = 5;
	} else {
		off = file_env(buf, off, j, dc, path);
		m->envc = 9;
	}
	snprintf(label, sizeof(label), "drop=%s file=%s attempt=%d", dc->name,
		 log_q(j->name), j->n);
	off = proto_put(buf, off, label);
	if (m->protocol == SW_PROTO_LINES)
		off = proto_put(buf, off, path);
	if (off > PROTO_MAX) {
		log_err("event=command-too-long drop=%s file=%s", dc->name, log_q(j->name));
		errno = E2BIG;
		return -1;
	}
	*len = off;
	return 0;
}
