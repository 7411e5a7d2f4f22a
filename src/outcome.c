/*
 * outcome.c - from a worker's result to done/ or failed/ (see outcome.h).
 */
#include "outcome.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "drop.h"
#include "guard.h"
#include "log.h"
#include "retain.h"
#include "spool.h"
#include "stats.h"
#include "sys.h"
#include "trust.h"
#include "tree.h"

#define DELIVER_RETRY_MS 5000  /* a move to done/failed that failed is tried again, */
#define DELIVER_TRIES   3      /* ... after 5 s, 10 s, then the file is set aside */
#define COPY_WAIT_MS    200    /* a move that must wait for a copy to end looks again */

/* Length of the valid UTF-8 sequence at P (of at most LEN bytes) that
 * starts with a byte >= 0x80, or 0 if it is not one. */
static size_t utf8_seq(const unsigned char *p, size_t len)
{
	size_t n = p[0] >= 0xc2 && p[0] <= 0xdf ? 2 : p[0] >= 0xe0 && p[0] <= 0xef ? 3 :
		   p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;

	if (n == 0 || n > len)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* The command's output for a sidecar: control characters (C0, DEL, and
 * C1 -- raw, or encoded in UTF-8 like U+009B, a CSI) and bytes that are
 * not UTF-8 as \xNN; text, lines and tabs kept.  Returns the length. */
static size_t esc_output(char *dst, const char *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)src;
	size_t o = 0, i = 0;

	while (i < len) {
		size_t n = u[i] < 0x80 ? 1 : utf8_seq(u + i, len - i), k;
		int ctl = n == 1 ? (u[i] < 0x20 && u[i] != '\n' && u[i] != '\t') || u[i] == 0x7f :
			  n == 0 || (n == 2 && u[i] == 0xc2 && u[i + 1] < 0xa0);

		if (n == 0)
			n = 1;
		for (k = 0; k < n; k++, i++) {
			if (ctl) {
				dst[o++] = '\\';
				dst[o++] = 'x';
				dst[o++] = hex[u[i] >> 4];
				dst[o++] = hex[u[i] & 15];
			} else {
				dst[o++] = (char)u[i];
			}
		}
	}
	return o;
}

static void sidecar_text(char **out, size_t *outlen, const struct job *j,
			 const char *status, const char *tail, size_t tlen)
{
	char ts[32];
	time_t t = time(NULL);
	struct tm tm;
	size_t sz = 1024 + 4 * NAME_MAX + 4 * tlen;
	char *s = malloc(sz);
	int n;

	*out = NULL;
	*outlen = 0;
	if (!s)
		return;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = snprintf(s, sz, "file=%s\ndrop=%s\nattempts=%d\nstatus=%s\ntime=%s\n"
		     "command=%s\noutput:\n", log_q(j->name), j->drop->cfg->name,
		     j->n, status, ts, log_q(j->drop->cfg->command[0]));
	if (n < 0 || (size_t)n >= sz) {
		free(s);
		return;
	}
	*outlen = (size_t)n + esc_output(s + n, tail, tlen);
	s[*outlen] = '\0';
	*out = s;
}

int outcome_sidecar(struct drop *d, const char *final, const char *text, size_t len)
{
	int top = tdir_fd(&d->failed, sys_now_ms()), fd, r;
	const char *base;

	if ((fd = tree_dir(top, final, 1, &base)) < 0)
		return -1;
	r = spool_sidecar(fd, base, text, len);
	tree_put(fd, top);
	return r;
}

/* The move of job S is done (BASE the name it got in DFD, its directory
 * there; NULL: deleted, as keep_done = 0 without done/ wants): sidecar,
 * log line, and the slot is free. */
static void delivered(int s, int dfd, const char *base)
{
	struct job *j = JOB(s);
	struct drop *d = j->drop;
	char to[PATH_MAX + TREE_REL_MAX + 2], rel[TREE_REL_MAX + NAME_MAX + 1];
	const char *final = NULL;

	if (base) {
		/* Its path in done/ or failed/: the one it had in the drop,
		 * with the name it got. */
		snprintf(rel, sizeof(rel), "%.*s%s", (int)(tree_base(j->name) - j->name), j->name,
			 base);
		final = rel;
	}
	if (j->to_failed && j->sidecar && final &&
	    spool_sidecar(dfd, base, j->sidecar, j->sidecar_len) < 0)
		log_err("event=sidecar-failed drop=%s file=%s error=%s", d->cfg->name,
			log_q(final), log_q(strerror(errno)));
	if (final && strcmp(final, j->name))
		log_info("event=renamed drop=%s file=%s as=%s dir=%s", d->cfg->name,
			 log_q(j->name), log_q(final), j->to_failed ? "failed" : "done");
	stats_outcome(&d->st, j->to_failed, j->dur);
	if (j->to_failed)
		stats_failure(&d->st, final, j->status, j->reason);
	if (final)
		retain_added(d, j->to_failed, final, dfd, base);
	if (j->to_failed)
		stats_inc(STAT_FAILED);
	else
		stats_inc(STAT_DONE);
	/* The outcome line comes once the file (and its sidecar) are in
	 * place, so whoever reacts to it finds them: it says where. */
	if (final)
		snprintf(to, sizeof(to), "%s/%s", j->to_failed ? d->cfg->failed :
			 d->cfg->done ? d->cfg->done : "(done, since removed)", final);
	else
		snprintf(to, sizeof(to), "-");   /* deleted (keep_done = 0, no done/) */
	if (j->to_failed)
		log_warn("event=failed drop=%s file=%s attempt=%d status=%s reason=%s to=%s "
			 "duration_ms=%lld", d->cfg->name, log_q(j->name), j->n, j->status,
			 j->reason ? j->reason : "-", log_q(to), (long long)j->dur);
	else
		log_info("event=done drop=%s file=%s attempt=%d status=%s to=%s duration_ms=%lld",
			 d->cfg->name, log_q(j->name), j->n, j->status, log_q(to),
			 (long long)j->dur);
	core_release(s);
}

/*
 * The move of job S failed with ERR: the file stays in flight, its verdict
 * recorded on disk (after a crash it is moved, not run again).  It is
 * tried again after 5 s, then 10 s; after that -- or at once for a lack of
 * space, which waiting seconds rarely cures -- it is set aside (parked) in
 * the spool, where it costs no slot, and tried again with the dead runs
 * (every RECOVER_EVERY_MS, and at each start).
 */
static void move_failed(int s, int err)
{
	struct job *j = JOB(s);
	struct drop *d = j->drop;
	/* done may be gone from the config since (keep_done = 0, reloaded). */
	const char *dest = j->to_failed ? d->cfg->failed : d->cfg->done ? d->cfg->done : "-";
	int space = err == ENOSPC || err == EDQUOT || err == EFBIG;

	if (spool_gone(&d->sp, s, j->name)) {
		/* Its directory was deleted under us: nothing to move. */
		log_err("event=lost drop=%s file=%s reason=removed-from-spool",
			d->cfg->name, log_q(j->name));
		core_release(s);
		return;
	}
	j->move_tries++;
	if (!j->tag && spool_mark(&d->sp, s, j->n, j->to_failed ? 'f' : 'd',
				  j->sidecar, j->sidecar_len) == 0)
		j->tag = j->to_failed ? 'f' : 'd';
	if ((space || j->move_tries >= DELIVER_TRIES) && j->tag &&
	    spool_park(&d->sp, s, j->n, j->tag) == 0) {
		/* Out of space with the guard on: its disk-low line said it
		 * once; not one line per file. */
		if (space && guard_blocked(d))
			log_debug("event=move-failed drop=%s file=%s to=%s error=%s "
				  "action=set-aside", d->cfg->name, log_q(j->name), log_q(dest),
				  log_q(strerror(err)));
		else
			log_err("event=move-failed drop=%s file=%s to=%s error=%s "
				"action=set-aside retry_ms=%d", d->cfg->name, log_q(j->name),
				log_q(dest), log_q(strerror(err)), (int)core_recover_every());
		stats_inc(STAT_PARKED);
		if (core_once())
			core_mark_failed();
		core_release(s);
		return;
	}
	{
		/* 5 s, 10 s, ... (the file could not even be set aside: the
		 * verdict could not be recorded, say), at most 5 min. */
		int64_t delay = (int64_t)DELIVER_RETRY_MS << (j->move_tries < 7 ? j->move_tries - 1 : 6);

		if (delay > 300000)
			delay = 300000;
		log_err("event=move-failed drop=%s file=%s to=%s error=%s retry_ms=%lld",
			d->cfg->name, log_q(j->name), log_q(dest), log_q(strerror(err)),
			(long long)delay);
		core_wait(s, JE_MOVE_WAIT, delay);
	}
}

/* Move job S's file across file systems: the copy is made beside the loop
 * (copy.c), on_copied() places it.  0, or -1 with errno. */
static int move_by_copy(int s, int destfd)
{
	struct job *j = JOB(s);
	struct drop *d = j->drop;
	struct copy_req r;
	char p[NAME_MAX + 32];

	memset(&r, 0, sizeof(r));
	snprintf(p, sizeof(p), "%d/%s", s, tree_base(j->name));
	r.src = openat(d->sp.workfd, p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (r.src < 0)
		return -1;
	if (!guard_room(destfd, r.src)) {
		/* The copy would take the destination below min_free: as if
		 * it were full (set aside, said once), not filled to the brim. */
		close(r.src);
		errno = ENOSPC;
		return -1;
	}
	j->destfd = fcntl(destfd, F_DUPFD_CLOEXEC, 0);
	if (j->destfd < 0) {
		close(r.src);
		return -1;
	}
	spool_tmp_name(j->tmp, sizeof(j->tmp));
	snprintf(r.name, sizeof(r.name), "%s", j->tmp);
	/* Its temporary name first: after a crash, the next start removes a
	 * half-made copy instead of leaving it in done/ for good. */
	if (spool_move_record(&d->sp, s, j->tmp, 0) < 0) {
		close(r.src);
		close(j->destfd);
		j->destfd = -1;
		return -1;
	}
	r.id = (uint32_t)s;
	r.gen = j->gen = core_copy_gen();
	r.dirfd = j->destfd;
	r.gid = d->sp.gid;
	if (copy_submit(&r) < 0) {
		int saved = errno;

		close(j->destfd);
		j->destfd = -1;
		errno = saved;
		return -1;
	}
	job_event(core_jobs(), s, JE_MOVE_COPY);
	return 0;
}

/*
 * A file adopted with a verdict may have been in the middle of a move by
 * copy when its daemon died (spool_move_record): a half-made copy is
 * removed, a complete one placed, and one placed already is not made
 * again.  1 if that settled it (delivered, or left to retry), 0 if the
 * move is to be made as usual.
 */
static int resume_move(int s, int destfd)
{
	struct job *j = JOB(s);
	struct drop *d = j->drop;
	unsigned long long ino = 0;
	char tmp[48], cand[NAME_MAX + 1];
	struct stat st;
	int n;

	if (!spool_move_recorded(&d->sp, s, tmp, sizeof(tmp), &ino))
		return 0;
	if (fstatat(destfd, tmp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
		if (ino && st.st_ino == ino) {
			if (spool_deliver_copied(&d->sp, s, tmp, j->name, destfd, cand,
						 sizeof(cand)) == 0)
				delivered(s, destfd, cand);
			else
				move_failed(s, errno);
			return 1;
		}
		unlinkat(destfd, tmp, 0);   /* half made */
		return 0;
	}
	/* Placed already?  Under its name or a collision name of it. */
	for (n = 0; ino && spool_alt_name(tree_base(j->name), n, cand, sizeof(cand)) == 0; n++) {
		if (fstatat(destfd, cand, &st, AT_SYMLINK_NOFOLLOW) < 0)
			break;
		if (st.st_ino == ino) {
			spool_moved(&d->sp, s, j->name);
			delivered(s, destfd, cand);
			return 1;
		}
	}
	return 0;
}

/* Move the job's file to done/ or failed/ (never overwriting); on failure
 * keep the job and try again later (a full disk must not lose the file). */
void outcome_deliver(int s)
{
	struct job *j = JOB(s);
	struct drop *d = j->drop;
	int top, destfd, e;
	const char *base;
	char final[NAME_MAX + 1];

	if (!j->to_failed && !d->cfg->done) {
		/* keep_done = 0 and no done/: done is deleted. */
		spool_moved(&d->sp, s, j->name);
		delivered(s, -1, NULL);
		return;
	}
	top = tdir_fd(j->to_failed ? &d->failed : &d->done, sys_now_ms());
	/* A file of a subdirectory keeps its path: its directories are made
	 * as needed, never through a symlink (ELOOP: set aside, as any move
	 * that keeps failing). */
	if ((destfd = tree_dir(top, j->name, 1, &base)) < 0 && base != j->name) {
		move_failed(s, errno);
		return;
	}

	if (j->resumed) {
		j->resumed = 0;
		if (resume_move(s, destfd)) {
			tree_put(destfd, top);
			return;
		}
	}

	if (spool_deliver(&d->sp, s, j->n, j->tag, j->name, destfd, final, sizeof(final)) == 0) {
		delivered(s, destfd, final);
		tree_put(destfd, top);
		return;
	}
	if (errno == EXDEV) {
		/* The copy may take long, and a stop does not wait for it:
		 * the verdict is recorded first, so that the next start moves
		 * the file instead of running it again. */
		if (!j->tag && spool_mark(&d->sp, s, j->n, j->to_failed ? 'f' : 'd',
					  j->sidecar, j->sidecar_len) == 0)
			j->tag = j->to_failed ? 'f' : 'd';
		if (jobs_copies(core_jobs()) >= COPIES_MAX) {
			/* Each copy holds descriptors: a burst waits its turn. */
			tree_put(destfd, top);
			core_wait(s, JE_MOVE_WAIT, COPY_WAIT_MS);
			return;
		}
		if (move_by_copy(s, destfd) == 0) {
			tree_put(destfd, top);
			return;
		}
	}
	e = errno;
	tree_put(destfd, top);
	move_failed(s, e);
}

void outcome_finish(int s, int to_failed, const char *status, const char *reason, int64_t dur,
		   const char *tail, size_t tlen)
{
	struct job *j = JOB(s);

	job_event(core_jobs(), s, JE_VERDICT);
	j->to_failed = to_failed;
	j->reason = reason;
	snprintf(j->status, sizeof(j->status), "%s", status);
	j->dur = dur;
	if (to_failed) {
		sidecar_text(&j->sidecar, &j->sidecar_len, j, status, tail, tlen);
		core_mark_failed();
	}
	outcome_deliver(s);
}

void outcome_result(int s, enum st_kind kind, int code, int64_t dur, const char *tail,
		    size_t tlen)
{
	struct job *j = JOB(s);
	struct drop *d = j->drop;
	char status[64];
	enum verdict v;

	/* Aborted without a stop: someone else signalled the worker; the
	 * attempt counts like a worker's death. */
	if (kind == ST_ABORTED && !core_stopping())
		kind = ST_WORKER_DIED;
	if (kind == ST_ABORTED) {
		/* Stopped by a shutdown: the attempt does not count, and the
		 * file stays in flight for the next start. */
		spool_set_attempts(&d->sp, s, j->n - 1);
		log_info("event=interrupted drop=%s file=%s attempt=%d", d->cfg->name,
			 log_q(j->name), j->n);
		j->n--;
		job_event(core_jobs(), s, JE_PARK);   /* the slot keeps the file */
		return;
	}
	policy_status(kind, code, status, sizeof(status));
	v = policy_decide(d->cfg, j->n, kind, code);
	if (v == V_RETRY && !core_stopping()) {
		int64_t delay = policy_backoff_ms(d->cfg, j->n, core_rand());

		d->st.retried++;
		stats_inc(STAT_RETRIED);
		log_info("event=retry drop=%s file=%s attempt=%d status=%s duration_ms=%lld "
			 "delay_ms=%lld", d->cfg->name, log_q(j->name), j->n, status,
			 (long long)dur, (long long)delay);
		core_wait(s, JE_RETRY, delay);
		return;
	}
	if (v == V_RETRY) {
		/* Stopping: leave it in flight; the next start retries it. */
		log_info("event=retry-deferred drop=%s file=%s attempt=%d status=%s",
			 d->cfg->name, log_q(j->name), j->n, status);
		job_event(core_jobs(), s, JE_PARK);
		return;
	}
	outcome_finish(s, v != V_DONE, status,
		       v == V_DONE ? NULL : policy_fail_reason(d->cfg, kind, code), dur, tail, tlen);
}

void outcome_copied(int s, int err)
{
	struct job *j = JOB(s);
	struct drop *d = j->drop;
	char final[NAME_MAX + 1];

	if (!err) {
		struct stat st;

		/* Complete: its inode recorded before it is placed, so that a
		 * crash before the original goes is not a second copy. */
		if (fstatat(j->destfd, j->tmp, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    spool_move_record(&d->sp, s, j->tmp, (unsigned long long)st.st_ino) < 0)
			err = errno;
	}
	if (!err && spool_deliver_copied(&d->sp, s, j->tmp, j->name, j->destfd, final,
					 sizeof(final)) == 0) {
		delivered(s, j->destfd, final);
		close(j->destfd);
		j->destfd = -1;
		return;
	}
	if (!err)
		err = errno;
	close(j->destfd);
	j->destfd = -1;
	move_failed(s, err);   /* from JS_MOVING */
}

