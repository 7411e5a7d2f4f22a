/*
 * master.c - the one loop: it polls the watcher pipe, the workers' sockets
 * and a signalfd, with a timeout set by the nearest CLOCK_MONOTONIC
 * deadline (a retry, a worker respawn, the end of the shutdown grace).
 *
 * A job occupies a slot from the moment its file is claimed until it is in
 * done/ or failed/.  Claims stop when the queue holds queue_size jobs or the
 * slot table is full, so memory is bounded whatever the backlog: the rest
 * stays in the drop directory, and a scan (kept open across refills, so a
 * backlog is read once, not once per file) picks it up as room frees.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/close_range.h>

#include "cgroup.h"
#include "copy.h"
#include "job.h"
#include "log.h"
#include "master.h"
#include "policy.h"
#include "proto.h"
#include "queue.h"
#include "spool.h"
#include "trust.h"
#include "watch.h"
#include "worker.h"

#define RESPAWN_MIN_MS  1000   /* a worker is restarted at most once a second */
#define DELIVER_RETRY_MS 5000  /* a move to done/failed that failed is tried again, */
#define DELIVER_TRIES   3      /* ... after 5 s, 10 s, then the file is set aside */
#define SEAL_RETRY_MS   5000   /* a private copy that failed is tried again */
#define SKIP_LOG_MAX    10     /* skip warnings per drop and minute; then counted */
#define ANSWER_SLACK_MS 5000   /* past timeout + kill_grace, a silent worker is killed */
#define COPIES_MAX      8      /* copies under way at once (each holds descriptors) */
#define COPY_WAIT_MS    200    /* a job that must wait for one to end looks again */
#define CLAIM_RETRY_MS  5000   /* a drop whose claim failed is scanned again */
#define OUT_LOG_MAX     4096   /* bytes of a job's output that reach the log */
#define RECOVER_EVERY_MS 30000 /* how often to look for dead daemons' runs (and what
				* was set aside); $SEAWATCH_RECOVER_MS for tests */
#define REFILL_BATCH    4      /* files claimed between two looks at the rest */
#define WATCH_BATCH     8      /* watcher messages read between two looks */

struct cfgref {
	struct sw_config *cfg;
	int refs;
};

struct drop {
	uint32_t id;
	struct cfgref *ref;
	const struct sw_drop *cfg;
	struct spool sp;
	int open;          /* sp is usable */
	int lost;          /* the directory went away */
	int reopen;        /* it came back while jobs ran in the old one */
	int retiring;      /* gone from the config; ends with its last job */
	int njobs;
	DIR *scan;         /* scan pass in progress */
	uint32_t spool_id; /* names sp's attempts table to the workers */
	int dirty;         /* a scan is needed */
	struct tdir done, failed;  /* held open (trust.h) */
	int64_t skip_window;       /* start of the minute of skip warnings */
	int skip_logged;           /* warnings in it */
	unsigned skip_quiet;       /* skips not warned about in it */
	int64_t claim_retry_at;    /* a claim failed: scan again then (0: none due) */
	struct drop *next;
};

struct worker {
	pid_t pid;
	int fd;            /* -1 when not running */
	int job;           /* slot it runs (or starts next), -1 when idle */
	int ahead[PROTO_AHEAD]; /* slots sent ahead, started in this order */
	int nahead;
	int revoking;      /* asked for those back; not all answered yet */
	int ready;         /* said hello: jobs may be sent */
	int64_t spawned;
	int64_t respawn_at;
	int64_t answer_by; /* the latest its current job's result may come, or 0 */
	int wstatus;       /* from waitpid(), once reaped */
	int reaped;
	int untold;        /* lost: 1 died, 2 never came up; said once reaped */
	int64_t respawn_in;
};

static struct {
	struct cfgref *cur;
	struct master_opts opts;
	struct drop *drops;
	uint32_t next_id;
	struct jobs jt;    /* the slots and their states (job.c) */
	struct timers tq;  /* the jobs' deadlines (timer.c) */
	struct queue q;
	uint32_t next_spool;
	uint32_t copy_gen;
	struct worker *w;
	int nw;
	int sigfd;
	int exefd;         /* our own binary, to start workers from */
	char exepath[PATH_MAX];
	int stopping, aborting;
	int ready;            /* past start-up */
	int start_failures;   /* workers in a row that died before hello */
	int start_failed;     /* --once gave up on them: exit 3 */
	int64_t stop_deadline;
	int64_t next_recover;  /* look again for runs of daemons that died */
	int64_t recover_every;
	int any_failed;
	uint64_t rng;
	char env_path[4200], env_home[1100], env_lang[300];
	struct {
		unsigned long long claimed, done, failed, retried, skipped,
			overflows, worker_restarts, recovered, parked;
	} c;
} M;

#define JOB(s) job_at(&M.jt, (s))

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t rnd32(void)
{
	/* xorshift64*: only for retry jitter. */
	M.rng ^= M.rng >> 12;
	M.rng ^= M.rng << 25;
	M.rng ^= M.rng >> 27;
	return (uint32_t)((M.rng * 2685821657736338717ULL) >> 32);
}

static const struct sw_config *cfg(void)
{
	return M.cur->cfg;
}

static void unref(struct cfgref *r)
{
	if (r && --r->refs == 0) {
		cnf_free(r->cfg);
		free(r);
	}
}

/* ---- slots ---------------------------------------------------------- */

/* A move the job table forbids: a bug, said loudly (and fatal in debug
 * builds, where the tests run under the sanitizers). */
static void job_bug(const struct job *j, enum job_event ev)
{
	log_err("event=bug reason=illegal-transition slot=%d state=%s on=%s file=%s", j->slot,
		job_state_name(j->state), job_event_name(ev), j->name ? log_q(j->name) : "-");
}

static void drop_reserve(struct drop *d);

static int grow_jobs(int cap)
{
	struct drop *d;

	if (cap <= M.jt.cap)
		return 0;
	if (jobs_grow(&M.jt, cap) < 0 || M.jt.cap < cap)
		return -1;
	if (M.q.items ? queue_resize(&M.q, cap) < 0 : queue_init(&M.q, cap) < 0)
		return -1;
	/* Every slot may wait at once: arming a job's timer never allocates. */
	if (timers_reserve(&M.tq, cap + 64) < 0)
		return -1;
	for (d = M.drops; d; d = d->next)
		drop_reserve(d);
	return 0;
}

static int capacity(void)
{
	return 2 * cfg()->queue_size + cfg()->workers;
}

/* Room to claim one more file? */
static int room(void)
{
	return queue_len(&M.q) + jobs_in(&M.jt, JS_AHEAD) < cfg()->queue_size &&
	       jobs_total(&M.jt) < capacity() && M.jt.free_head >= 0;
}

static int slot_alloc(struct drop *d, const char *name)
{
	int s = job_claim(&M.jt, d, name);

	if (s >= 0)
		d->njobs++;
	return s;
}

static void drop_destroy(struct drop *d);
static void drop_reopen(struct drop *d);

/* The job is over (moved, set aside, refused, lost): its slot is free. */
static void slot_free(int s)
{
	struct drop *d = JOB(s)->drop;

	job_event(&M.jt, s, JE_RELEASE);
	if (--d->njobs == 0 && d->retiring)
		drop_destroy(d);
	else if (d->njobs == 0 && d->reopen)
		drop_reopen(d);
}

/* ---- drops ---------------------------------------------------------- */

/* Give worker WI the drop's attempts table (or, with GIVE 0, make it
 * forget it).  A worker that misses it fails that drop's attempts with
 * status=spawn:EBADF rather than run them uncounted. */
static void send_spool(int wi, const struct drop *d, int give)
{
	struct msg_ctl m = { MSG_SPOOL, d->spool_id };
	struct iovec iov = { &m, sizeof(m) };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} c;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (M.w[wi].fd < 0)
		return;
	if (give) {
		memset(&c, 0, sizeof(c));
		mh.msg_control = c.buf;
		mh.msg_controllen = sizeof(c.buf);
		c.h.cmsg_level = SOL_SOCKET;
		c.h.cmsg_type = SCM_RIGHTS;
		c.h.cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(&c.h), &d->sp.attfd, sizeof(int));
	}
	if (sendmsg(M.w[wi].fd, &mh, MSG_NOSIGNAL) < 0)
		log_debug("event=spool-send-failed worker=%d error=%s", wi,
			  log_q(strerror(errno)));
}

static void drop_close(struct drop *d)
{
	int i;

	if (d->scan)
		closedir(d->scan);
	d->scan = NULL;
	if (d->open) {
		for (i = 0; i < M.nw; i++)
			send_spool(i, d, 0);
		spool_close(&d->sp);
	}
	tdir_close(&d->done);
	tdir_close(&d->failed);
	d->open = 0;
}

static void drop_destroy(struct drop *d)
{
	struct drop **p;

	for (p = &M.drops; *p; p = &(*p)->next)
		if (*p == d) {
			*p = d->next;
			break;
		}
	drop_close(d);
	unref(d->ref);
	free(d);
}

/* Room in the drop's attempts table for every slot (best effort: without
 * it, recording an attempt extends the file). */
static void drop_reserve(struct drop *d)
{
	if (d->open && spool_reserve(&d->sp, M.jt.cap) < 0)
		log_warn("event=reserve-failed drop=%s error=%s", d->cfg->name,
			 log_q(strerror(errno)));
}

/* The group of the commands, when they run as another user than the
 * daemon: they must reach {file} in the spool.  -1: the daemon's own. */
static long commands_gid(void)
{
	const struct sw_config *c = cfg();

	return c->run_uid >= 0 && c->run_uid != (long)geteuid() ? c->run_gid : -1;
}

static int drop_open(struct drop *d)
{
	int i;

	if (spool_open(&d->sp, d->cfg->path, d->cfg->spool, d->cfg->name, commands_gid()) < 0) {
		log_err("event=spool-error drop=%s path=%s spool=%s error=%s%s",
			log_q(d->cfg->name), log_q(d->cfg->path), log_q(d->cfg->spool),
			log_q(strerror(errno)), errno == EPERM ?
			" reason=not-the-daemons(owner,mode,or-type)" : errno == EXDEV ?
			" reason=not-on-the-drops-mount" : "");
		return -1;
	}
	if (tdir_open(&d->done, d->cfg->done) < 0 || tdir_open(&d->failed, d->cfg->failed) < 0) {
		log_err("event=dir-error drop=%s path=%s error=%s", log_q(d->cfg->name),
			log_q(d->done.fd < 0 ? d->cfg->done : d->cfg->failed),
			log_q(strerror(errno)));
		spool_close(&d->sp);
		tdir_close(&d->done);
		tdir_close(&d->failed);
		return -1;
	}
	spool_migrate_legacy(&d->sp);
	{
		/* What a daemon killed mid-copy or mid-sidecar left. */
		int n = spool_sweep_tmp(d->done.fd, !M.ready) +
			spool_sweep_tmp(d->failed.fd, !M.ready);

		if (n)
			log_info("event=temporaries-removed drop=%s count=%d", d->cfg->name, n);
	}
	d->open = 1;
	d->dirty = 1;
	d->spool_id = ++M.next_spool;
	drop_reserve(d);
	for (i = 0; i < M.nw; i++)
		send_spool(i, d, 1);
	return 0;
}

/* The drop's directory is back (or was replaced): a fresh spool in it.
 * Only once its last job in the old one is finished. */
static void drop_reopen(struct drop *d)
{
	d->reopen = 0;
	drop_close(d);
	if (drop_open(d) < 0) {
		d->lost = 1;
		return;
	}
	d->lost = 0;
	log_info("event=drop-back drop=%s path=%s", d->cfg->name, log_q(d->cfg->path));
}

static struct drop *drop_new(struct cfgref *ref, const struct sw_drop *dc)
{
	struct drop *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->id = ++M.next_id;
	d->done.fd = d->failed.fd = -1;
	d->ref = ref;
	ref->refs++;
	d->cfg = dc;
	d->next = M.drops;
	M.drops = d;
	return d;
}

static struct drop *drop_by_id(uint32_t id)
{
	struct drop *d;

	for (d = M.drops; d; d = d->next)
		if (d->id == id)
			return d;
	return NULL;
}

static int drop_usable(const struct drop *d)
{
	return d->open && !d->lost && !d->retiring;
}

/* ---- finishing a job ------------------------------------------------ */

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

static void deliver(int s);

/* The move of job S is done (FINAL its name there): sidecar, log line,
 * and the slot is free. */
static void delivered(int s, const char *final)
{
	struct job *j = JOB(s);
	struct drop *d = j->drop;

	if (j->to_failed && j->sidecar &&
	    spool_sidecar(tdir_fd(&d->failed, now_ms()), final, j->sidecar, j->sidecar_len) < 0)
		log_err("event=sidecar-failed drop=%s file=%s error=%s", d->cfg->name,
			log_q(final), log_q(strerror(errno)));
	if (strcmp(final, j->name))
		log_info("event=renamed drop=%s file=%s as=%s dir=%s", d->cfg->name,
			 log_q(j->name), log_q(final), j->to_failed ? "failed" : "done");
	if (j->to_failed)
		M.c.failed++;
	else
		M.c.done++;
	/* The outcome line comes once the file (and its sidecar) are in
	 * place, so whoever reacts to it finds them. */
	log_msg(j->to_failed ? SW_LOG_WARNING : SW_LOG_INFO,
		"event=%s drop=%s file=%s attempt=%d status=%s duration_ms=%lld",
		j->to_failed ? "failed" : "done", d->cfg->name, log_q(j->name), j->n,
		j->status, (long long)j->dur);
	slot_free(s);
}

static void job_due(void *arg);

/* Job J waits DELAY ms (EV: JE_SEAL_WAIT, JE_RETRY or JE_MOVE_WAIT); then
 * job_due().  The heap has room for every slot (grow_jobs). */
static void set_due(struct job *j, enum job_event ev, int64_t delay)
{
	job_event(&M.jt, j->slot, ev);
	j->due.fn = job_due;
	j->due.arg = j;
	timers_arm(&M.tq, &j->due, now_ms() + delay);
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
	const char *dest = j->to_failed ? d->cfg->failed : d->cfg->done;
	int space = err == ENOSPC || err == EDQUOT || err == EFBIG;

	if (spool_gone(&d->sp, s, j->name)) {
		/* Its directory was deleted under us: nothing to move. */
		log_err("event=lost drop=%s file=%s reason=removed-from-spool",
			d->cfg->name, log_q(j->name));
		slot_free(s);
		return;
	}
	j->move_tries++;
	if (!j->tag && spool_mark(&d->sp, s, j->n, j->to_failed ? 'f' : 'd',
				  j->sidecar, j->sidecar_len) == 0)
		j->tag = j->to_failed ? 'f' : 'd';
	if ((space || j->move_tries >= DELIVER_TRIES) && j->tag &&
	    spool_park(&d->sp, s, j->n, j->tag) == 0) {
		log_err("event=move-failed drop=%s file=%s to=%s error=%s action=set-aside "
			"retry_ms=%d", d->cfg->name, log_q(j->name), log_q(dest),
			log_q(strerror(err)), (int)M.recover_every);
		M.c.parked++;
		if (M.opts.once)
			M.any_failed = 1;
		slot_free(s);
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
		set_due(j, JE_MOVE_WAIT, delay);
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
	snprintf(p, sizeof(p), "%d/%s", s, j->name);
	r.src = openat(d->sp.workfd, p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (r.src < 0)
		return -1;
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
	r.gen = j->gen = ++M.copy_gen;
	r.dirfd = j->destfd;
	r.gid = d->sp.gid;
	if (copy_submit(&r) < 0) {
		int saved = errno;

		close(j->destfd);
		j->destfd = -1;
		errno = saved;
		return -1;
	}
	job_event(&M.jt, s, JE_MOVE_COPY);
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
				delivered(s, cand);
			else
				move_failed(s, errno);
			return 1;
		}
		unlinkat(destfd, tmp, 0);   /* half made */
		return 0;
	}
	/* Placed already?  Under its name or a collision name of it. */
	for (n = 0; ino && spool_alt_name(j->name, n, cand, sizeof(cand)) == 0; n++) {
		if (fstatat(destfd, cand, &st, AT_SYMLINK_NOFOLLOW) < 0)
			break;
		if (st.st_ino == ino) {
			spool_moved(&d->sp, s, j->name);
			delivered(s, cand);
			return 1;
		}
	}
	return 0;
}

/* Move the job's file to done/ or failed/ (never overwriting); on failure
 * keep the job and try again later (a full disk must not lose the file). */
static void deliver(int s)
{
	struct job *j = JOB(s);
	struct drop *d = j->drop;
	int destfd = tdir_fd(j->to_failed ? &d->failed : &d->done, now_ms());
	char final[NAME_MAX + 1];

	if (j->resumed) {
		j->resumed = 0;
		if (resume_move(s, destfd))
			return;
	}

	if (spool_deliver(&d->sp, s, j->n, j->tag, j->name, destfd, final, sizeof(final)) == 0) {
		delivered(s, final);
		return;
	}
	if (errno == EXDEV) {
		/* The copy may take long, and a stop does not wait for it:
		 * the verdict is recorded first, so that the next start moves
		 * the file instead of running it again. */
		if (!j->tag && spool_mark(&d->sp, s, j->n, j->to_failed ? 'f' : 'd',
					  j->sidecar, j->sidecar_len) == 0)
			j->tag = j->to_failed ? 'f' : 'd';
		if (jobs_copies(&M.jt) >= COPIES_MAX) {
			/* Each copy holds descriptors: a burst waits its turn. */
			set_due(j, JE_MOVE_WAIT, COPY_WAIT_MS);
			return;
		}
		if (move_by_copy(s, destfd) == 0)
			return;
	}
	move_failed(s, errno);
}

static void finish(int s, int to_failed, const char *status, int64_t dur,
		   const char *tail, size_t tlen)
{
	struct job *j = JOB(s);

	job_event(&M.jt, s, JE_VERDICT);
	j->to_failed = to_failed;
	snprintf(j->status, sizeof(j->status), "%s", status);
	j->dur = dur;
	if (to_failed) {
		sidecar_text(&j->sidecar, &j->sidecar_len, j, status, tail, tlen);
		M.any_failed = 1;
	}
	deliver(s);
}

/* Into the queue, by EV (JE_ADMIT, JE_COPIED, JE_DUE). */
static void enqueue(int s, enum job_event ev)
{
	job_event(&M.jt, s, ev);
	queue_push(&M.q, s);   /* the ring holds every slot: cannot be full */
}

/* ---- claiming ------------------------------------------------------- */

static int matches(const struct drop *d, const char *name)
{
	return name[0] != '.' && fnmatch(d->cfg->pattern, name, FNM_PERIOD) == 0;
}

static const char *type_name(mode_t m)
{
	return S_ISLNK(m) ? "symlink" : S_ISFIFO(m) ? "fifo" : S_ISSOCK(m) ? "socket" :
	       S_ISCHR(m) ? "char-device" : S_ISBLK(m) ? "block-device" :
	       S_ISDIR(m) ? "directory" : "not-regular";
}

/*
 * 1 if someone has NAME open for writing.  The kernel refuses a read lease
 * on a file that is open for writing anywhere, which is exactly the
 * question: a scan must not take a file a device is still writing (its
 * IN_CLOSE_WRITE brings it back).  Where leases are not available (not the
 * owner and no CAP_LEASE, or a filesystem without them) we cannot tell.
 */
static int being_written(int dirfd, const char *name)
{
	struct stat st;
	int fd, busy = 0;

	/* Never open what is not a file (readdir's d_type may be stale): a
	 * device node may act on being opened. */
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return 0;
	fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	/* The lease, if we got one, goes with the close. */
	if (fcntl(fd, F_SETLEASE, F_RDLCK) < 0)
		busy = errno == EAGAIN;
	close(fd);
	return busy;
}

/* A skip warning, at most SKIP_LOG_MAX a minute per drop: a flood of
 * symlinks must not flood the log at every rescan.  The rest are counted,
 * and the count logged when the next minute's first skip comes. */
static void skip_warn(struct drop *d, const char *name, const char *why)
{
	int64_t now = now_ms();

	M.c.skipped++;
	if (now - d->skip_window >= 60000) {
		if (d->skip_quiet)
			log_warn("event=skipped-unlogged drop=%s count=%u", d->cfg->name,
				 d->skip_quiet);
		d->skip_window = now;
		d->skip_logged = 0;
		d->skip_quiet = 0;
	}
	if (d->skip_logged++ < SKIP_LOG_MAX)
		log_warn("event=skipped drop=%s file=%s reason=%s", d->cfg->name, log_q(name),
			 why);
	else
		d->skip_quiet++;
}

/* Its private copy is made beside the loop; on_copied() goes on.  FD: the
 * claimed file, read-only (taken).  0, or -1 (FD closed). */
static int seal_copy(int s, int fd)
{
	struct job *j = JOB(s);
	struct drop *d = j->drop;
	struct copy_req r;

	memset(&r, 0, sizeof(r));
	spool_copy_name(s, r.name, sizeof(r.name));
	unlinkat(d->sp.workfd, r.name, 0);   /* left by a crash */
	r.id = (uint32_t)s;
	r.gen = j->gen = ++M.copy_gen;
	r.src = fd;
	r.dirfd = d->sp.workfd;
	r.gid = d->sp.gid;
	if (copy_submit(&r) < 0)
		return -1;
	job_event(&M.jt, s, JE_COPY);
	return 0;
}

/* A hard link where anyone may link any file: not taken.  Its data stays
 * under its other name; failed/ gets a sidecar saying why. */
static void refuse_link(int s, int links)
{
	struct job *j = JOB(s);
	struct drop *d = j->drop;
	char ts[32], *text = NULL;
	time_t t = time(NULL);
	struct tm tm;
	int n;

	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* The link goes first, the sidecar and the log line last: whoever
	 * reacts to them finds the drop's file gone. */
	spool_discard(&d->sp, s, j->name);
	n = asprintf(&text, "file=%s\ndrop=%s\nattempts=0\nstatus=refused:hard-link\n"
		     "time=%s\nwhy: it has %d hard links and fs.protected_hardlinks is off, so "
		     "another name of it could be any file of the system; it was not taken (its "
		     "data stays under its other names)\n", log_q(j->name), d->cfg->name, ts,
		     links);
	if (n < 0 || spool_sidecar(tdir_fd(&d->failed, now_ms()), j->name, text, (size_t)n) < 0)
		log_err("event=sidecar-failed drop=%s file=%s error=%s", d->cfg->name,
			log_q(j->name), log_q(strerror(errno)));
	free(text);
	log_warn("event=refused drop=%s file=%s reason=hard-link links=%d", d->cfg->name,
		 log_q(j->name), links);
	M.c.failed++;
	M.any_failed = 1;
	slot_free(s);
}

/*
 * A file has just come into slot S (claimed, or adopted from a dead run):
 * make it the daemon's (spool_seal), then queue it -- or, if others may
 * still write it, queue its private copy once made.
 */
static void admit(int s)
{
	struct job *j = JOB(s);
	struct drop *d = j->drop;
	int fd, links;

	switch (spool_seal(&d->sp, s, j->name, &fd, &links)) {
	case SEAL_OK:
		enqueue(s, JE_ADMIT);
		return;
	case SEAL_COPY:
		if (jobs_copies(&M.jt) >= COPIES_MAX) {
			/* Each copy holds descriptors: a burst waits its turn. */
			close(fd);
			set_due(j, JE_SEAL_WAIT, COPY_WAIT_MS);
			return;
		}
		log_debug("event=copying drop=%s file=%s links=%d", d->cfg->name,
			  log_q(j->name), links);
		if (seal_copy(s, fd) < 0) {
			log_err("event=copy-failed drop=%s file=%s error=%s retry_ms=%d",
				d->cfg->name, log_q(j->name), log_q(strerror(errno)),
				SEAL_RETRY_MS);
			set_due(j, JE_SEAL_WAIT, SEAL_RETRY_MS);
		}
		return;
	case SEAL_LINKED:
		refuse_link(s, links);
		return;
	case SEAL_ERROR:
		/* Not a verdict on the file (out of descriptors, say): it
		 * stays in the spool and is looked at again. */
		log_err("event=seal-failed drop=%s file=%s error=%s retry_ms=%d", d->cfg->name,
			log_q(j->name), log_q(strerror(errno)), SEAL_RETRY_MS);
		set_due(j, JE_SEAL_WAIT, SEAL_RETRY_MS);
		return;
	case SEAL_NOT_REGULAR:
		/* Swapped for something else (a symlink, say) between the
		 * check and the claim: nothing to process, nothing to keep. */
		skip_warn(d, j->name, "changed-during-claim");
		if (spool_discard(&d->sp, s, j->name) < 0)
			log_err("event=discard-failed drop=%s file=%s error=%s", d->cfg->name,
				log_q(j->name), log_q(strerror(errno)));
		slot_free(s);
		return;
	}
}

/* A copy is done: a private copy is queued, a copy to done/ or failed/ is
 * put in place. */
static void on_copied(const struct copy_done *c)
{
	struct job *j;
	struct drop *d;
	char final[NAME_MAX + 1];
	int s = (int)c->id, err = c->err;

	if (s < 0 || s >= M.jt.cap)
		return;
	j = JOB(s);
	d = j->drop;
	if (j->gen != c->gen || (j->state != JS_COPYING && j->state != JS_MOVING))
		return;
	if (j->state == JS_COPYING) {
		if (!err && spool_sealed(&d->sp, s, j->name) == 0) {
			enqueue(s, JE_COPIED);
			return;
		}
		log_err("event=copy-failed drop=%s file=%s error=%s retry_ms=%d", d->cfg->name,
			log_q(j->name), log_q(strerror(err ? err : errno)), SEAL_RETRY_MS);
		set_due(j, JE_SEAL_WAIT, SEAL_RETRY_MS);
		return;
	}
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
		close(j->destfd);
		j->destfd = -1;
		delivered(s, final);
		return;
	}
	if (!err)
		err = errno;
	close(j->destfd);
	j->destfd = -1;
	move_failed(s, err);   /* from JS_MOVING */
}

/*
 * Claim NAME of drop D.  DTYPE from readdir, or DT_UNKNOWN.  PROBE: ask
 * whether it is still open for writing -- for what a scan finds or a link
 * brings; a file that raised IN_CLOSE_WRITE or IN_MOVED_TO was just closed
 * or renamed in by its writer.  1 if claimed.
 */
static int try_claim(struct drop *d, const char *name, unsigned char dtype, int probe)
{
	struct stat st;
	int s;

	if (!matches(d, name))
		return 0;
	if (dtype != DT_REG) {
		/* Refuse, do not follow: only regular files are processed. */
		if (fstatat(d->sp.dropfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return 0;
		if (!S_ISREG(st.st_mode)) {
			if (S_ISDIR(st.st_mode))
				log_debug("event=skipped drop=%s file=%s reason=directory",
					  d->cfg->name, log_q(name));
			else
				skip_warn(d, name, type_name(st.st_mode));
			return 0;
		}
	}
	if (probe && being_written(d->sp.dropfd, name)) {
		log_debug("event=busy drop=%s file=%s reason=open-for-writing",
			  d->cfg->name, log_q(name));
		return 0;
	}
	s = slot_alloc(d, name);
	if (s < 0)
		return 0;
	if (spool_claim(&d->sp, name, s) < 0) {
		if (errno != ENOENT && M.opts.once) {
			/* A batch run does not wait for space: the file stays
			 * in the drop, and the exit status says so. */
			log_err("event=claim-failed drop=%s file=%s error=%s", d->cfg->name,
				log_q(name), log_q(strerror(errno)));
			M.any_failed = 1;
		} else if (errno != ENOENT && !d->claim_retry_at) {
			/* A full disk, say: the file stays in the drop, and the
			 * drop is scanned again later, event or not (once a
			 * retry is due, the same trouble is not logged again). */
			log_err("event=claim-failed drop=%s file=%s error=%s retry_ms=%d",
				d->cfg->name, log_q(name), log_q(strerror(errno)),
				CLAIM_RETRY_MS);
			d->claim_retry_at = now_ms() + CLAIM_RETRY_MS;
		}
		slot_free(s);
		return 0;
	}
	M.c.claimed++;
	log_debug("event=claimed drop=%s file=%s", d->cfg->name, log_q(name));
	admit(s);
	return 1;
}

/* One step of a drop's scan; 1 if a file was claimed, 0 at the end. */
static int scan_step(struct drop *d)
{
	struct dirent *de;

	if (!d->scan) {
		int fd = openat(d->sp.dropfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0 || !(d->scan = fdopendir(fd))) {
			log_err("event=scan-failed drop=%s error=%s", d->cfg->name,
				log_q(strerror(errno)));
			if (fd >= 0)
				close(fd);
			d->dirty = 0;  /* the next event or reload tries again */
			return 0;
		}
		d->dirty = 0;
	}
	while ((de = readdir(d->scan)) && !d->claim_retry_at)
		if (try_claim(d, de->d_name, de->d_type, 1))
			return 1;
	closedir(d->scan);
	d->scan = NULL;
	return 0;
}

static int max_attempts(const struct drop *d)
{
	return d->cfg->retries + 1;
}

/* One file left by a dead daemon; 1 if one was adopted. */
static int recover_step(struct drop *d)
{
	char name[NAME_MAX + 1], tag = 0;
	int s = M.jt.free_head, n, r;

	if (s < 0)
		return 0;
	r = spool_recover_next(&d->sp, s, name, sizeof(name), &n, &tag);
	if (r <= 0)
		return 0;
	s = slot_alloc(d, name);
	if (s < 0)
		return 0;
	JOB(s)->n = n;
	M.c.recovered++;
	log_info("event=recovered drop=%s file=%s attempts=%d%s", d->cfg->name, log_q(name), n,
		 tag == 'd' ? " verdict=done" : tag == 'f' ? " verdict=failed" : "");
	if (tag) {
		/* Its verdict was recorded; only the move is left to do. */
		struct job *j = JOB(s);

		j->tag = tag;
		j->to_failed = tag == 'f';
		j->resumed = 1;
		snprintf(j->status, sizeof(j->status), "recorded");
		if (j->to_failed) {
			j->sidecar = spool_marked_sidecar(&d->sp, s, &j->sidecar_len);
			M.any_failed = 1;
		}
		job_event(&M.jt, s, JE_VERDICT);
		deliver(s);
		return 1;
	}
	if (n >= max_attempts(d)) {
		/* It was running its last attempt when the daemon died: a file
		 * that kills the daemon must not loop forever. */
		finish(s, 1, "crashed", 0, "the daemon died during this attempt\n", 36);
		return 1;
	}
	/* Made the daemon's again: it may have died between claim and seal. */
	admit(s);
	return 1;
}

/* Fill free room from recovery, then from scans, drop by drop, at most
 * BUDGET files at a time, so that a big backlog does not keep the first
 * commands waiting (or a result unread) while the queue fills.  Returns 1
 * if the budget ran out with room left. */
static int refill(int budget)
{
	int progress = 1;

	if (M.stopping)
		return 0;
	while (progress && room()) {
		struct drop *d;

		if (budget-- <= 0)
			return 1;
		progress = 0;
		for (d = M.drops; d && room(); d = d->next) {
			if (!drop_usable(d))
				continue;
			if ((!d->sp.rec_done || !d->sp.held_done) && recover_step(d)) {
				progress = 1;
				continue;
			}
			if ((d->dirty || d->scan) && scan_step(d))
				progress = 1;
			else if (d->dirty)
				progress = 1;  /* dirtied during the pass: go again */
		}
	}
	return 0;
}

/* ---- workers -------------------------------------------------------- */

static void worker_spawn(int i)
{
	struct worker *w = &M.w[i];
	char uid[16] = "-1", gid[16] = "-1", idx[16], cg[PATH_MAX];
	char *argv[] = { "seawatchd", "--worker", uid, gid, idx, cg, NULL };
	extern char **environ;
	sigset_t none;
	int sv[2];
	pid_t pid;

	/* Looked up when the config was loaded (it refuses an unknown user
	 * or group: never fall back to running commands as root). */
	snprintf(uid, sizeof(uid), "%ld", cfg()->run_uid);
	snprintf(gid, sizeof(gid), "%ld", cfg()->run_gid);
	/* Its CPU, round robin (-1: let the scheduler place it). */
	snprintf(idx, sizeof(idx), "%d", cfg()->cpu_affinity == SW_AFFINITY_SPREAD ? i : -1);
	w->spawned = now_ms();
	w->respawn_at = 0;
	if (cg_worker_path(i, cg, sizeof(cg)) < 0)
		goto fail;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		goto fail;
	sigemptyset(&none);
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		goto fail;
	}
	if (pid == 0) {
		/* The master has a second thread: only async-signal-safe
		 * calls until exec.  Nothing else the master holds (the
		 * inotify descriptor included) may reach the worker. */
		if (sv[1] == WORKER_FD)
			fcntl(WORKER_FD, F_SETFD, 0);
		else if (dup2(sv[1], WORKER_FD) < 0)
			_exit(127);
		if (close_range(WORKER_FD + 1, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
			int fd;

			for (fd = WORKER_FD + 1; fd < 4096; fd++)
				if (fd != M.exefd)
					close(fd);
		}
		sigprocmask(SIG_SETMASK, &none, NULL);
		fexecve(M.exefd, argv, environ);
		/* valgrind refuses execveat(): its path, read at start. */
		execve(M.exepath, argv, environ);
		_exit(127);
	}
	close(sv[1]);
	w->pid = pid;
	w->reaped = 0;
	w->untold = 0;
	w->fd = sv[0];
	w->job = -1;
	w->nahead = 0;
	w->revoking = 0;
	w->ready = 0;
	{
		struct drop *d;

		for (d = M.drops; d; d = d->next)
			if (d->open)
				send_spool(i, d, 1);
	}
	log_debug("event=worker-started worker=%d pid=%ld", i, (long)pid);
	return;
fail:
	log_err("event=worker-spawn-failed worker=%d error=%s", i, log_q(strerror(errno)));
	w->respawn_at = now_ms() + RESPAWN_MIN_MS;
}

/* Workers beyond the configured count (after a reload) leave once idle:
 * closing their socket makes them exit. */
static void retire_extra_workers(void)
{
	int i;

	for (i = cfg()->workers; i < M.nw; i++)
		if (M.w[i].fd >= 0 && M.w[i].job < 0 && M.w[i].nahead == 0) {
			close(M.w[i].fd);
			M.w[i].fd = -1;
			log_debug("event=worker-retired worker=%d pid=%ld", i, (long)M.w[i].pid);
		}
}

static void set_workers(int n)
{
	int i, old = M.nw;

	for (i = 0; i < n && i < old; i++)
		if (M.w[i].fd < 0 && M.w[i].respawn_at == 0)
			worker_spawn(i);  /* retired by an earlier reload */
	retire_extra_workers();

	if (n > M.nw) {
		struct worker *w = realloc(M.w, (size_t)n * sizeof(*w));

		if (!w)
			return;
		M.w = w;
		for (i = old; i < n; i++) {
			memset(&w[i], 0, sizeof(w[i]));
			w[i].fd = -1;
			w[i].job = -1;
			w[i].nahead = 0;
		}
		M.nw = n;
		for (i = old; i < n; i++)
			worker_spawn(i);
	}
}

static void on_result(int wi, const struct msg_result *r, size_t len);
static void begin_stop(void);
static void dispatch(void);
static void take_back(int wi, int s);

/* The line that says how a worker ended (as nginx says it: "exited on
 * signal 9"), once its socket has closed and its exit status is known,
 * whichever comes last. */
static void tell_death(int i)
{
	struct worker *w = &M.w[i];
	char how[64];

	if (!w->untold || !w->reaped)
		return;
	policy_wait_status(w->wstatus, how, sizeof(how));
	if (w->untold == 2)
		log_err("event=worker-start-failed worker=%d pid=%ld how=%s failures=%d", i,
			(long)w->pid, how, M.start_failures);
	else
		log_warn("event=worker-died worker=%d pid=%ld how=%s respawn_in_ms=%lld", i,
			 (long)w->pid, how, (long long)w->respawn_in);
	w->untold = 0;
}

/* The worker's socket closed: it died (or exited). */
static void worker_lost(int i)
{
	struct worker *w = &M.w[i];

	close(w->fd);
	w->fd = -1;
	/* Its commands die with it (PR_SET_PDEATHSIG); what they left
	 * running outside their process group, here. */
	cg_worker_lost(i);
	if (!w->reaped && waitpid(w->pid, &w->wstatus, WNOHANG) == w->pid)
		w->reaped = 1;
	if (!w->ready && !M.stopping && i < cfg()->workers) {
		/* It never came up (exec failed, privileges could not be
		 * dropped...): no job was at stake, files wait in flight. */
		M.start_failures++;
		w->untold = 2;
		tell_death(i);
		if (M.opts.once && M.start_failures >= 5) {
			log_err("event=giving-up reason=workers-cannot-start");
			M.start_failed = 1;
			begin_stop();
		}
	}
	/* The jobs sent ahead never started: the worker runs them in order,
	 * and the result of the one before would have come first. */
	while (w->nahead > 0)
		take_back(i, w->ahead[w->nahead - 1]);
	w->revoking = 0;
	if (w->job >= 0) {
		struct msg_result r;

		memset(&r, 0, sizeof(r));
		r.job = (uint32_t)w->job;
		r.kind = M.stopping ? ST_ABORTED : ST_WORKER_DIED;
		on_result(i, &r, offsetof(struct msg_result, tail));
	}
	if (M.stopping || i >= cfg()->workers)
		return;
	M.c.worker_restarts++;
	w->respawn_at = w->spawned + RESPAWN_MIN_MS;
	if (w->respawn_at < now_ms())
		w->respawn_at = now_ms();
	w->respawn_in = w->respawn_at - now_ms();
	if (w->ready) {
		w->untold = 1;
		tell_death(i);
	}
}

/* Worker PID was reaped with WSTATUS: if its socket closed already, its
 * end is said now. */
static void worker_reaped(pid_t pid, int wstatus)
{
	for (int i = 0; i < M.nw; i++)
		if (M.w[i].pid == pid && !M.w[i].reaped) {
			M.w[i].wstatus = wstatus;
			M.w[i].reaped = 1;
			tell_death(i);
			return;
		}
}

/* ---- dispatching ---------------------------------------------------- */

static size_t put(char *buf, size_t off, const char *s)
{
	size_t l = strlen(s) + 1;

	if (off + l > PROTO_MAX)
		return PROTO_MAX + 1;
	memcpy(buf + off, s, l);
	return off + l;
}

/*
 * Worker WI has just started its current job (or will, within GRACE ms):
 * its result must come by the job's timeout and kill_grace, and a little
 * more.  A worker that stays silent past that -- stopped by a command that
 * shares its credentials (kill -STOP $PPID), say -- is killed: the master
 * does not trust the worker to enforce the timeout.
 */
static void expect_result(int wi, int64_t grace)
{
	struct worker *w = &M.w[wi];
	const struct sw_drop *dc;

	if (w->job < 0) {
		w->answer_by = 0;
		return;
	}
	dc = JOB(w->job)->drop->cfg;
	w->answer_by = now_ms() + (grace >= 0 ? grace : dc->timeout_ms) + dc->kill_grace_ms +
		       ANSWER_SLACK_MS;
}

static int start_attempt(int s, int wi)
{
	static char buf[PROTO_MAX];
	struct job *j = JOB(s);
	struct drop *d = j->drop;
	const struct sw_drop *dc = d->cfg;
	struct msg_job *m = (struct msg_job *)buf;
	char path[PATH_MAX], arg[8192], num[16], label[1200];
	size_t off = offsetof(struct msg_job, data);
	int i;

	/* The worker records the attempt in the table as it starts it. */
	j->n++;
	if (spool_path(&d->sp, s, j->name, path, sizeof(path)) < 0) {
		j->n--;
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
	m->argc = (uint32_t)dc->argc;
	for (i = 0; i < dc->argc; i++) {
		if (cnf_expand(dc->command[i], path, j->name, dc->name, j->n, arg,
			       sizeof(arg)) < 0) {
			j->n--;
			errno = E2BIG;
			return -1;
		}
		off = put(buf, off, arg);
	}
	off = put(buf, off, M.env_path);
	off = put(buf, off, M.env_home);
	off = put(buf, off, M.env_lang);
	snprintf(arg, sizeof(arg), "SEAWATCH_FILE=%s", path);
	off = put(buf, off, arg);
	snprintf(arg, sizeof(arg), "SEAWATCH_NAME=%s", j->name);
	off = put(buf, off, arg);
	snprintf(arg, sizeof(arg), "SEAWATCH_DROP=%s", dc->name);
	off = put(buf, off, arg);
	snprintf(num, sizeof(num), "%d", j->n);
	snprintf(arg, sizeof(arg), "SEAWATCH_ATTEMPT=%s", num);
	off = put(buf, off, arg);
	snprintf(arg, sizeof(arg), "SEAWATCH_MAX_ATTEMPTS=%d", max_attempts(d));
	off = put(buf, off, arg);
	m->envc = 8;
	snprintf(label, sizeof(label), "drop=%s file=%s attempt=%d", dc->name,
		 log_q(j->name), j->n);
	off = put(buf, off, label);
	if (off > PROTO_MAX) {
		log_err("event=command-too-long drop=%s file=%s", dc->name, log_q(j->name));
		j->n--;
		errno = E2BIG;
		return -1;
	}
	if (send(M.w[wi].fd, buf, off, MSG_NOSIGNAL) < 0) {
		/* The worker is gone; its EOF will be seen.  Undo. */
		j->n--;
		return 1;
	}
	job_event(&M.jt, s, M.w[wi].job < 0 ? JE_START : JE_SEND_AHEAD);
	j->worker = wi;
	if (M.w[wi].job < 0) {
		M.w[wi].job = s;
		expect_result(wi, -1);
		log_debug("event=start drop=%s file=%s attempt=%d worker=%d", dc->name,
			  log_q(j->name), j->n, wi);
	} else {
		M.w[wi].ahead[M.w[wi].nahead++] = s;
		log_debug("event=start drop=%s file=%s attempt=%d worker=%d ahead=%d",
			  dc->name, log_q(j->name), j->n, wi, M.w[wi].nahead);
	}
	return 0;
}

/* Worker WI can take a job as its LEVEL-th: 0 is the one it runs (it is
 * idle), 1.. PROTO_AHEAD the ones sent ahead. */
static int can_take(int wi, int level)
{
	const struct worker *w = &M.w[wi];

	if (w->fd < 0 || !w->ready || wi >= cfg()->workers)
		return 0;
	if (level == 0)
		return w->job < 0;
	return w->job >= 0 && w->nahead == level - 1 && !w->revoking;
}

/* A job the worker never started is back (revoked, or its worker died
 * before it came to it): not an attempt.  Next in line, or in flight for
 * the next start if we are stopping. */
static void take_back(int wi, int s)
{
	struct worker *w = &M.w[wi];
	struct job *j = JOB(s);
	int k;

	if (w->job == s && w->nahead == 0) {
		/* Promoted when the result before it came, but the worker
		 * read a revoke before it started it. */
		w->job = -1;
	} else {
		for (k = 0; k < w->nahead && w->ahead[k] != s; k++)
			;
		if (k == w->nahead)
			return;   /* not one of its jobs sent ahead */
		memmove(&w->ahead[k], &w->ahead[k + 1],
			(size_t)(w->nahead - k - 1) * sizeof(int));
		w->nahead--;
	}
	j->n--;
	j->worker = -1;
	if (M.stopping) {
		job_event(&M.jt, s, JE_PARK);   /* in flight for the next start */
		return;
	}
	job_event(&M.jt, s, JE_TAKE_BACK);
	queue_push_front(&M.q, s);
}

/* Ask worker WI for the jobs sent ahead to it, if it holds any and was not
 * asked already.  1 if asked. */
static int ask_back(int wi)
{
	struct worker *w = &M.w[wi];
	struct msg_ctl m = { MSG_REVOKE, 0 };

	if (w->fd < 0 || w->nahead == 0 || w->revoking ||
	    send(w->fd, &m, sizeof(m), MSG_NOSIGNAL) < 0)
		return 0;
	/* A busy worker reads its socket between jobs: ring. */
	kill(w->pid, SIGURG);
	w->revoking = 1;
	return 1;
}

/*
 * Hand out queued jobs: to idle workers first, then one ahead to each busy
 * worker, so that a short command's successor starts without a round trip
 * through this loop.  When the queue is empty and a worker is idle while
 * another holds a job it has not started (behind a slow command, say), that
 * one is asked back: a job never waits behind another while a worker idles.
 */
static void dispatch(void)
{
	int level, wi, idle = 0;

	if (M.stopping)
		return;
	/* Level by level: every idle worker first, then one ahead to each
	 * busy one, then a second. */
	for (level = 0; level <= PROTO_AHEAD; level++)
		for (wi = 0; wi < M.nw && queue_len(&M.q) > 0; wi++) {
			int s, r;

			if (!can_take(wi, level))
				continue;
			queue_pop(&M.q, &s);
			r = start_attempt(s, wi);
			if (r > 0) {
				/* That worker is gone: the next one. */
				queue_push_front(&M.q, s);
			} else if (r < 0) {
				/* The attempt could not be set up (argv too
				 * long): the file goes to failed/ with the
				 * reason, and its slot is emptied. */
				char why[160];
				int n = snprintf(why, sizeof(why),
						 "could not start an attempt: %s\n",
						 strerror(errno));

				finish(s, 1, "setup-failed", 0, why, (size_t)n);
			}
		}
	if (queue_len(&M.q) > 0 || jobs_in(&M.jt, JS_AHEAD) == 0)
		return;
	for (wi = 0; wi < M.nw; wi++)
		if (can_take(wi, 0))
			idle++;
	for (wi = 0; wi < M.nw && idle > 0; wi++)
		idle -= ask_back(wi);
}

static void on_result(int wi, const struct msg_result *r, size_t len)
{
	char status[64];
	struct job *j;
	struct drop *d;
	int s = (int)r->job;
	size_t tlen = len > offsetof(struct msg_result, tail) ?
		      len - offsetof(struct msg_result, tail) : 0;
	enum st_kind kind = (enum st_kind)r->kind;
	enum verdict v;

	if (s < 0 || s >= M.jt.cap || M.w[wi].job != s)
		return;
	/* The first job sent ahead is the one it runs now. */
	M.w[wi].job = -1;
	if (M.w[wi].nahead > 0) {
		struct worker *w = &M.w[wi];

		w->job = w->ahead[0];
		memmove(&w->ahead[0], &w->ahead[1], (size_t)(w->nahead - 1) * sizeof(int));
		w->nahead--;
		job_event(&M.jt, w->job, JE_PROMOTE);
	}
	expect_result(wi, -1);
	if (wi >= cfg()->workers)
		retire_extra_workers();
	/* The worker's next job first, the bookkeeping of this one after:
	 * the worker does not wait for our renames and log lines. */
	dispatch();
	j = JOB(s);
	d = j->drop;
	if (tlen > r->tail_len)
		tlen = r->tail_len;
	/* Aborted without a stop: someone else signalled the worker; the
	 * attempt counts like a worker's death. */
	if (kind == ST_ABORTED && !M.stopping)
		kind = ST_WORKER_DIED;
	if (kind == ST_ABORTED) {
		/* Stopped by a shutdown: the attempt does not count, and the
		 * file stays in flight for the next start. */
		spool_set_attempts(&d->sp, s, j->n - 1);
		log_info("event=interrupted drop=%s file=%s attempt=%d", d->cfg->name,
			 log_q(j->name), j->n);
		j->n--;
		job_event(&M.jt, s, JE_PARK);   /* the slot keeps the file */
		return;
	}
	policy_status(kind, r->code, status, sizeof(status));
	v = policy_decide(d->cfg, j->n, kind, r->code);
	if (v == V_RETRY && !M.stopping) {
		int64_t delay = policy_backoff_ms(d->cfg, j->n, rnd32());

		M.c.retried++;
		log_info("event=retry drop=%s file=%s attempt=%d status=%s duration_ms=%lld "
			 "delay_ms=%lld", d->cfg->name, log_q(j->name), j->n, status,
			 (long long)r->duration_ms, (long long)delay);
		set_due(j, JE_RETRY, delay);
		return;
	}
	if (v == V_RETRY) {
		/* Stopping: leave it in flight; the next start retries it. */
		log_info("event=retry-deferred drop=%s file=%s attempt=%d status=%s",
			 d->cfg->name, log_q(j->name), j->n, status);
		job_event(&M.jt, s, JE_PARK);
		return;
	}
	finish(s, v != V_DONE, status, r->duration_ms, r->tail, tlen);
}

static void read_worker(int i)
{
	static struct msg_result r;
	ssize_t n = recv(M.w[i].fd, &r, sizeof(r), MSG_DONTWAIT);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		worker_lost(i);
		return;
	}
	if (n >= (ssize_t)sizeof(uint32_t) && r.type == MSG_HELLO) {
		M.w[i].ready = 1;
		M.start_failures = 0;
	} else if (n >= (ssize_t)sizeof(struct msg_ctl) && r.type == MSG_RETURN) {
		uint32_t s = ((struct msg_ctl *)&r)->arg;

		if (s == PROTO_NONE) {
			M.w[i].revoking = 0;   /* all it had is back */
		} else if (s < (uint32_t)M.jt.cap) {
			take_back(i, (int)s);
		}
		dispatch();
	} else if (n >= (ssize_t)offsetof(struct msg_result, tail) && r.type == MSG_RESULT) {
		on_result(i, &r, (size_t)n);
	}
}

/* ---- timers --------------------------------------------------------- */

/* A job's wait is over (set_due): a retry is queued, a private copy tried
 * again, a move tried again.  Stopping, a job that would run stays in
 * flight instead. */
static void job_due(void *arg)
{
	struct job *j = arg;
	int s = j->slot;

	switch (j->state) {
	case JS_SEAL_WAIT:
	case JS_RETRY_WAIT:
		if (M.stopping)
			job_event(&M.jt, s, JE_PARK);
		else if (j->state == JS_RETRY_WAIT)
			enqueue(s, JE_DUE);
		else if (job_event(&M.jt, s, JE_DUE) == 0)
			admit(s);
		break;
	case JS_DELIVER_WAIT:
		if (job_event(&M.jt, s, JE_DUE) == 0)
			deliver(s);
		break;
	default:
		break;
	}
}

static void run_timers(void)
{
	int64_t now = now_ms();
	struct drop *d;
	int i;

	timers_run(&M.tq, now);
	for (i = 0; i < M.nw && !M.stopping; i++)
		if (M.w[i].fd < 0 && i < cfg()->workers && now >= M.w[i].respawn_at)
			worker_spawn(i);
	for (d = M.drops; d; d = d->next)
		if (d->claim_retry_at && now >= d->claim_retry_at) {
			d->claim_retry_at = 0;
			d->dirty = 1;
		}
	for (i = 0; i < M.nw; i++) {
		struct worker *w = &M.w[i];

		if (w->fd < 0 || w->job < 0 || !w->answer_by || now < w->answer_by)
			continue;
		log_err("event=worker-unresponsive worker=%d pid=%ld drop=%s file=%s action=kill",
			i, (long)w->pid, JOB(w->job)->drop->cfg->name,
			log_q(JOB(w->job)->name));
		kill(w->pid, SIGKILL);   /* its socket's end is its death: worker_lost() */
		w->answer_by = 0;
	}
	if (!M.opts.once && now >= M.next_recover) {
		/* Another daemon on the same drop may have died since. */
		for (d = M.drops; d; d = d->next)
			if (drop_usable(d)) {
				spool_recover_again(&d->sp);
				/* Space may have been freed for what was set aside. */
				spool_unpark_again(&d->sp);
			}
		M.next_recover = now + M.recover_every;
	}
}

static int poll_timeout(void)
{
	int64_t now = now_ms(), next = INT64_MAX;
	struct drop *d;
	int i;

	next = timers_next(&M.tq);
	for (i = 0; i < M.nw && !M.stopping; i++)
		if (M.w[i].fd < 0 && i < cfg()->workers && M.w[i].respawn_at < next)
			next = M.w[i].respawn_at;
	for (i = 0; i < M.nw; i++)
		if (M.w[i].fd >= 0 && M.w[i].job >= 0 && M.w[i].answer_by &&
		    M.w[i].answer_by < next)
			next = M.w[i].answer_by;
	for (d = M.drops; d; d = d->next)
		if (d->claim_retry_at && d->claim_retry_at < next)
			next = d->claim_retry_at;
	if (M.stopping && !M.aborting && M.stop_deadline < next)
		next = M.stop_deadline;
	if (!M.opts.once && !M.stopping && M.next_recover < next)
		next = M.next_recover;
	if (next == INT64_MAX)
		return -1;
	if (next <= now)
		return 0;
	return next - now > 60000 ? 60000 : (int)(next - now);
}

/* ---- signals, reload ------------------------------------------------ */

static void log_counters(void)
{
	log_info("event=counters claimed=%llu done=%llu failed=%llu retried=%llu "
		 "skipped=%llu recovered=%llu set_aside=%llu overflows=%llu worker_restarts=%llu "
		 "queued=%d running=%d waiting=%d", M.c.claimed, M.c.done, M.c.failed,
		 M.c.retried, M.c.skipped, M.c.recovered, M.c.parked, M.c.overflows,
		 M.c.worker_restarts, queue_len(&M.q), jobs_running(&M.jt), jobs_waiting(&M.jt));
}

/* The drops to watch (not the retiring ones), malloc'd; *N their number. */
static struct watch_target *watch_targets(int *n)
{
	struct watch_target *t;
	struct drop *d;
	int k = 0;

	for (d = M.drops; d; d = d->next)
		k++;
	t = calloc((size_t)(k ? k : 1), sizeof(*t));
	*n = 0;
	for (d = M.drops; t && d; d = d->next)
		if (!d->retiring) {
			t[*n].id = d->id;
			t[*n].path = d->cfg->path;
			(*n)++;
		}
	return t;
}

static void publish_watches(void)
{
	int n;
	struct watch_target *t = watch_targets(&n);

	if (!t || watch_set(t, n) < 0)
		log_err("event=watch-failed path=- error=%s", log_q(strerror(ENOMEM)));
	free(t);
}

/* The commands' PATH, HOME and LANG: the daemon's own when they run as
 * the daemon; as another user, that user's home and a PATH without root's
 * sbin directories. */
static void setup_env(const struct sw_config *c)
{
	const char *p = getenv("PATH"), *h = getenv("HOME"), *l = getenv("LANG");

	if (c->run_uid >= 0 && c->run_uid != 0) {
		p = "/usr/local/bin:/usr/bin:/bin";
		h = c->run_home;
	}
	snprintf(M.env_path, sizeof(M.env_path), "PATH=%s",
		 p && *p ? p : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	snprintf(M.env_home, sizeof(M.env_home), "HOME=%s", h && *h ? h : "/");
	snprintf(M.env_lang, sizeof(M.env_lang), "LANG=%s", l && *l ? l : "C");
}

/* The config's warnings (paths others could change), one line each. */
static void log_config_warnings(const struct sw_config *c)
{
	char *copy = c->warnings ? strdup(c->warnings) : NULL, *line, *save = NULL;

	if (!copy)
		return;
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		log_warn("event=config-warning text=%s", log_q(line));
	free(copy);
}

/* done/ or failed/ set to another PATH by a reload: held anew (the old
 * one stays if the new one cannot be opened). */
static void reopen_dir(struct tdir *t, const char *path)
{
	struct tdir n;

	if (t->path && !strcmp(t->path, path))
		return;
	if (tdir_open(&n, path) < 0) {
		log_err("event=dir-error path=%s error=%s keeping=%s", log_q(path),
			log_q(strerror(errno)), log_q(t->path ? t->path : "-"));
		tdir_close(&n);
		return;
	}
	tdir_close(t);
	*t = n;
}

static void reload(void)
{
	char *errs = NULL, *line, *save = NULL;
	struct sw_config *nc = cnf_load(cfg()->file, &errs);
	struct cfgref *ref, *old = M.cur;
	struct drop *d, *next;
	int i;

	if (!nc) {
		for (line = strtok_r(errs, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			log_err("event=reload-failed error=%s", log_q(line));
		log_err("event=reload-failed file=%s keeping=old-config", log_q(cfg()->file));
		free(errs);
		return;
	}
	if (nc->run_uid != cfg()->run_uid || nc->run_gid != cfg()->run_gid) {
		/* Running workers, spools made for the commands' group: a new
		 * user or group takes a restart. */
		log_err("event=reload-failed error=%s", log_q("user or group changed: restart the "
							      "daemon to apply it"));
		log_err("event=reload-failed file=%s keeping=old-config", log_q(cfg()->file));
		cnf_free(nc);
		return;
	}
	ref = calloc(1, sizeof(*ref));
	if (!ref || grow_jobs(2 * nc->queue_size + nc->workers) < 0) {
		log_err("event=reload-failed error=out-of-memory");
		free(ref);
		cnf_free(nc);
		return;
	}
	ref->cfg = nc;
	ref->refs = 1;
	M.cur = ref;
	log_open(nc->log_target, M.opts.verbose ? SW_LOG_DEBUG : nc->log_level, NULL);
	setup_env(nc);
	log_config_warnings(nc);
	/* Keep the drops whose name and directory stay; retire the others. */
	for (d = M.drops; d; d = next) {
		next = d->next;
		if (d->retiring)
			continue;
		for (i = 0; i < nc->n_drops; i++)
			if (!strcmp(nc->drops[i].name, d->cfg->name) &&
			    !strcmp(nc->drops[i].path, d->cfg->path) &&
			    !strcmp(nc->drops[i].spool, d->cfg->spool))
				break;
		if (i < nc->n_drops) {
			unref(d->ref);
			d->ref = ref;
			ref->refs++;
			d->cfg = &nc->drops[i];
			d->dirty = 1;
			reopen_dir(&d->done, d->cfg->done);
			reopen_dir(&d->failed, d->cfg->failed);
			/* An operator who freed space reloads: what was set
			 * aside is tried again now. */
			if (drop_usable(d))
				spool_unpark_again(&d->sp);
		} else {
			log_info("event=drop-removed drop=%s", d->cfg->name);
			d->retiring = 1;
			if (d->njobs == 0)
				drop_destroy(d);
		}
	}
	for (i = 0; i < nc->n_drops; i++) {
		for (d = M.drops; d; d = d->next)
			if (!d->retiring && d->cfg == &nc->drops[i])
				break;
		if (d)
			continue;
		d = drop_new(ref, &nc->drops[i]);
		if (d) {
			log_info("event=drop-added drop=%s path=%s", nc->drops[i].name,
				 log_q(nc->drops[i].path));
			d->lost = drop_open(d) < 0;
		}
	}
	set_workers(nc->workers);
	unref(old);
	if (!M.opts.once)
		publish_watches();
	log_info("event=reloaded file=%s drops=%d workers=%d", log_q(nc->file),
		 nc->n_drops, nc->workers);
}

static void begin_stop(void)
{
	if (M.stopping) {
		M.stop_deadline = now_ms();  /* a second signal: no more grace */
		return;
	}
	M.stopping = 1;
	M.stop_deadline = now_ms() + cfg()->shutdown_grace_ms;
	/* Jobs sent ahead do not start: they come back, and stay in flight
	 * for the next start. */
	for (int i = 0; i < M.nw; i++)
		ask_back(i);
	log_info("event=stopping running=%d grace_ms=%lld", jobs_running(&M.jt),
		 (long long)cfg()->shutdown_grace_ms);
}

static void on_signals(void)
{
	struct signalfd_siginfo si;

	while (read(M.sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			begin_stop();
			break;
		case SIGHUP:
			if (!M.stopping)
				reload();
			break;
		case SIGUSR1:
			log_counters();
			break;
		case SIGCHLD: {
			int st;
			pid_t pid;

			while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
				worker_reaped(pid, st);
			break;
		}
		}
	}
}

/* At most WATCH_BATCH messages (a claim costs a rename; results must not
 * wait behind a burst of arrivals).  1 if there may be more. */
static int on_watch(void)
{
	struct watch_msg m;
	struct drop *d;
	int budget = WATCH_BATCH;

	while (budget-- > 0 && watch_next(&m) > 0) {
		switch (m.type) {
		case W_FILE:
			d = drop_by_id(m.id);
			if (!d || !drop_usable(d) || !matches(d, m.name))
				break;
			if (!room() || M.stopping)
				d->dirty = 1;  /* it stays in the drop; a scan finds it */
			else
				try_claim(d, m.name, DT_UNKNOWN, m.created != 0);
			break;
		case W_OVERFLOW:
			M.c.overflows++;
			log_warn("event=overflow action=rescan");
			for (d = M.drops; d; d = d->next)
				d->dirty = 1;
			break;
		case W_LOST:
			d = drop_by_id(m.id);
			if (!d)
				break;
			log_err("event=drop-lost drop=%s path=%s", d->cfg->name,
				log_q(d->cfg->path));
			d->lost = 1;
			if (d->scan)
				closedir(d->scan);
			d->scan = NULL;
			break;
		case W_BACK:
			d = drop_by_id(m.id);
			if (!d)
				break;
			if (d->njobs == 0)
				drop_reopen(d);
			else
				d->reopen = 1;  /* when its last job ends */
			break;
		}
	}
	return budget < 0;
}

static int once_idle(void)
{
	struct drop *d;

	if (jobs_total(&M.jt) > 0)
		return 0;
	for (d = M.drops; d; d = d->next)
		if (drop_usable(d) && (d->dirty || d->scan || !d->sp.rec_done ||
				       !d->sp.held_done))
			return 0;
	return 1;
}

/* ---- start and stop ------------------------------------------------- */

/*
 * The worker binary, held open: workers start from this very file even if
 * a package upgrade replaces it on disk meanwhile.  The small static
 * seawatch-worker beside this binary (the build tree) or in LIBEXECDIR;
 * failing that, this binary in its --worker mode.
 */
static int find_worker(void)
{
	char self[PATH_MAX], *slash;
	const char *cands[2];
	int i, n = (int)readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return -1;
	self[n] = '\0';
	slash = strrchr(self, '/');
	snprintf(M.exepath, sizeof(M.exepath), "%.*s/seawatch-worker",
		 slash ? (int)(slash - self) : 1, slash ? self : ".");
	cands[0] = M.exepath;
	cands[1] = LIBEXECDIR "/seawatch/seawatch-worker";
	for (i = 0; i < 2; i++) {
		M.exefd = open(cands[i], O_RDONLY | O_CLOEXEC);
		if (M.exefd >= 0) {
			if (i)
				snprintf(M.exepath, sizeof(M.exepath), "%s", cands[i]);
			log_debug("event=worker-binary path=%s", log_q(M.exepath));
			return 0;
		}
	}
	M.exefd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	snprintf(M.exepath, sizeof(M.exepath), "%s", self);
	log_debug("event=worker-binary path=%s mode=--worker", log_q(M.exepath));
	return M.exefd < 0 ? -1 : 0;
}

static void shutdown_workers(void)
{
	int64_t until = now_ms() + 3000;
	int i, alive;

	for (i = 0; i < M.nw; i++)
		if (M.w[i].fd >= 0) {
			close(M.w[i].fd);   /* EOF: the worker exits */
			M.w[i].fd = -1;
		}
	do {
		alive = 0;
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		for (i = 0; i < M.nw; i++)
			if (M.w[i].pid > 0 && kill(M.w[i].pid, 0) == 0 &&
			    waitpid(M.w[i].pid, NULL, WNOHANG) == 0)
				alive = 1;
		if (alive) {
			/* Woken by their SIGCHLD (blocked, so it waits in
			 * the signalfd), not by a timer. */
			struct pollfd pf = { .fd = M.sigfd, .events = POLLIN };
			struct signalfd_siginfo ssi[8];

			if (poll(&pf, 1, 10) > 0 && read(M.sigfd, ssi, sizeof(ssi)) < 0)
				continue;   /* taken already: reap and look again */
		}
	} while (alive && now_ms() < until);
	for (i = 0; i < M.nw; i++)
		if (M.w[i].pid > 0 && waitpid(M.w[i].pid, NULL, WNOHANG) == 0) {
			kill(M.w[i].pid, SIGKILL);
			waitpid(M.w[i].pid, NULL, 0);
		}
}

/* Room for the descriptors of many drops (seven each): the soft limit
 * raised to the hard one. */
static void more_descriptors(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int master_run(struct sw_config *c, const struct master_opts *opts)
{
	struct watch_target *t = NULL;
	struct pollfd *pf = NULL;
	struct drop *d;
	sigset_t set;
	int i, n = 0, bad, rc = 0, npf = 0, more = 0, watch_more = 0;

	memset(&M, 0, sizeof(M));
	M.opts = *opts;
	M.jt.free_head = -1;
	M.jt.bug = job_bug;
#ifdef SW_DEBUG
	M.jt.abort_on_bug = 1;
#endif
	{
		const char *e = getenv("SEAWATCH_RECOVER_MS");
		long v = e ? strtol(e, NULL, 10) : 0;

		M.recover_every = v >= 100 && v <= 3600000 ? v : RECOVER_EVERY_MS;
	}
	M.next_recover = now_ms() + M.recover_every;
	M.rng = (uint64_t)now_ms() * 6364136223846793005ULL ^ (uint64_t)getpid();
	M.cur = calloc(1, sizeof(*M.cur));
	if (!M.cur)
		return 3;
	M.cur->cfg = c;
	M.cur->refs = 1;
	if (find_worker() < 0) {
		log_err("event=start-failed error=%s", log_q(strerror(errno)));
		return 3;
	}
	setup_env(c);
	log_config_warnings(c);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGCHLD);
	/* Blocked before the watcher thread exists, so it inherits the mask
	 * and every signal reaches the signalfd. */
	sigprocmask(SIG_BLOCK, &set, NULL);
	M.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (M.sigfd < 0 || grow_jobs(capacity()) < 0) {
		log_err("event=start-failed error=%s", log_q(strerror(errno)));
		return 3;
	}
	more_descriptors();
	{
		const char *why = "";
		int on = cg_setup(opts->cgroup, &why);

		if (on < 0) {
			log_err("event=start-failed cgroup=%s error=%s", log_q(opts->cgroup),
				log_q(why));
			return 3;
		}
		if (on)
			log_info("event=cgroups path=%s", log_q(cg_dir()));
		else
			log_info("event=cgroups-off reason=%s note=%s", why,
				 log_q("commands that leave their process group are not killed; "
				       "see --cgroup"));
	}
	/* The inotify descriptor before the drops' own: libinotifytools waits
	 * on it with select(), which cannot go past descriptor 1023. */
	if (!opts->once && watch_init() < 0) {
		log_err("event=watch-failed path=- error=%s", log_q(strerror(errno)));
		return 3;
	}
	for (i = c->n_drops - 1; i >= 0; i--) {
		d = drop_new(M.cur, &c->drops[i]);
		if (!d || drop_open(d) < 0) {
			rc = 3;
			goto out;
		}
	}
	if (!opts->once) {
		t = watch_targets(&n);
		if (!t || watch_start(t, n, &bad) < 0) {
			log_err("event=watch-failed path=%s error=%s",
				t && bad >= 0 ? log_q(t[bad].path) : "-", log_q(strerror(errno)));
			free(t);
			rc = 3;
			goto out;
		}
		free(t);
	}
	set_workers(c->workers);
	M.ready = 1;
	log_info("event=ready mode=%s drops=%d workers=%d queue_size=%d version=%s",
		 opts->once ? "once" : "watch", c->n_drops, c->workers, c->queue_size,
		 SW_VERSION);

	for (;;) {
		int nfds = 0, base;

		/* Idle workers get what is queued before the queue is topped
		 * up: a claim costs a rename, and they need not wait for 16. */
		dispatch();
		more = refill(REFILL_BATCH);
		dispatch();
		if (M.stopping && jobs_running(&M.jt) == 0)
			break;
		if (opts->once && once_idle())
			break;
		if (M.stopping && !M.aborting && now_ms() >= M.stop_deadline) {
			M.aborting = 1;
			log_info("event=grace-expired running=%d", jobs_running(&M.jt));
			/* Workers ignore SIGTERM (a service manager may send
			 * it to the whole group): SIGUSR2 is the master's. */
			for (i = 0; i < M.nw; i++)
				if (M.w[i].fd >= 0 && M.w[i].job >= 0) {
					kill(M.w[i].pid, SIGUSR2);
					expect_result(i, 0);
				}
		}
		if (M.nw + 3 > npf) {
			struct pollfd *grown = realloc(pf, (size_t)(M.nw + 3) * sizeof(*pf));

			if (!grown)
				break;
			pf = grown;
			npf = M.nw + 3;
		}
		pf[nfds++] = (struct pollfd){ .fd = M.sigfd, .events = POLLIN };
		pf[nfds++] = (struct pollfd){ .fd = opts->once ? -1 : watch_fd(), .events = POLLIN };
		pf[nfds++] = (struct pollfd){ .fd = copy_fd(), .events = POLLIN };
		base = nfds;
		for (i = 0; i < M.nw; i++)
			pf[nfds++] = (struct pollfd){ .fd = M.w[i].fd, .events = POLLIN };
		if (poll(pf, (nfds_t)nfds, more || watch_more ? 0 : poll_timeout()) < 0 &&
		    errno != EINTR) {
			log_err("event=poll-failed error=%s", log_q(strerror(errno)));
			rc = 3;
			break;
		}
		if (pf[0].revents)
			on_signals();
		/* Results before new files: a worker waits for its next job.
		 * A reload above may have grown M.w: only what was polled, and
		 * only if the descriptor is still the one polled. */
		for (i = 0; i < nfds - base; i++)
			if (pf[base + i].revents && M.w[i].fd >= 0 && M.w[i].fd == pf[base + i].fd)
				read_worker(i);
		if (pf[2].revents) {
			struct copy_done cd;

			while (copy_next(&cd))
				on_copied(&cd);
		}
		if (pf[1].revents || watch_more)
			watch_more = on_watch();
		run_timers();
	}
	free(pf);
	if (M.stopping)
		log_counters();
	if (M.start_failed)
		rc = 3;
	else if (opts->once && rc == 0)
		rc = M.any_failed ? 1 : 0;
out:
	shutdown_workers();
	cg_teardown();
	if (!opts->once)
		watch_stop();
	/* Copies under way are dropped (their temporaries removed): their
	 * files stay in flight for the next start. */
	copy_stop();
	while (M.drops)
		drop_destroy(M.drops);
	for (i = 0; i < M.jt.cap; i++) {
		struct job *j = JOB(i);

		if (j->state == JS_MOVING && j->destfd >= 0) {
			/* Made or not, never placed: the next start moves it. */
			unlinkat(j->destfd, j->tmp, 0);
			close(j->destfd);
		}
	}
	jobs_free(&M.jt);
	timers_free(&M.tq);
	free(M.w);
	queue_free(&M.q);
	unref(M.cur);
	close(M.sigfd);
	close(M.exefd);
	log_info("event=stopped status=%d", rc);
	return rc;
}
