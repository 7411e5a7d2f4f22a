/*
 * intake.c - from a name in a drop to a queued job (see intake.h).
 *
 * Claims stop when the workers have as much as they are about to take
 * (core_room()) or the slot table is full.  A file whose close or move-in
 * comes meanwhile waits by name (noticed.c, at most queue_size of them, in
 * arrival order); beyond that, and whatever a scan must find, stays in the
 * drop directory, and a scan (kept open across refills, so a backlog is
 * read once, not once per file) picks it up as room frees.  Memory is
 * bounded whatever the backlog.
 */
#include "intake.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admit.h"
#include "core.h"
#include "dirlist.h"
#include "guard.h"
#include "log.h"
#include "loop.h"
#include "noticed.h"
#include "outcome.h"
#include "settle.h"
#include "stats.h"
#include "sys.h"
#include "tree.h"

#define SKIP_LOG_MAX    10     /* skip warnings per drop and minute; then counted */
#define CLAIM_RETRY_MS  5000   /* a drop whose claim failed is scanned again */

static int claim_slot(struct drop *d, const char *name)
{
	int s = job_claim(core_jobs(), d, name);

	if (s >= 0)
		drop_job_added(d);
	return s;
}

int intake_matches(const struct drop *d, const char *name)
{
	const char *base = tree_base(name);

	return base[0] != '.' && fnmatch(d->cfg->pattern, base, FNM_PERIOD) == 0;
}

/* The directory of D holding NAME (a path in the drop), never through a
 * symlink an uploader swapped in; *BASE its last component.  Put it back
 * with put_dir().  -1 (gone, or not a directory now). */
static int open_dir(struct drop *d, const char *name, const char **base)
{
	return tree_dir(d->sp.dropfd, name, 0, base);
}

static void put_dir(struct drop *d, int fd)
{
	tree_put(fd, d->sp.dropfd);
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
void intake_skipped(struct drop *d, const char *name, const char *why)
{
	int64_t now = sys_now_ms();

	d->st.skipped++;
	stats_inc(STAT_SKIPPED);
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

/* ---- settle: a file is taken once unchanged for settle_ms ---------------- */

static void sig_of(const struct stat *st, struct settle_sig *sig)
{
	sig->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	sig->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
	sig->size = st->st_size;
	sig->ino = st->st_ino;
}

/* NAME of D waits until AT; if no file more may wait, D is scanned again
 * after settle_ms instead (it stays in the drop). */
static void settle_later(struct drop *d, const char *name, const struct settle_sig *sig,
			 int64_t at)
{
	if (settle_wait(d, name, sig, at) < 0 && !timer_armed(&d->claim_retry))
		drop_claim_later(d, d->cfg->settle_ms);
}

/* A close or a rename-in of NAME: its clock (re)starts.  0 if it is not a
 * regular file (refused as usual). */
static int settle_event(struct drop *d, const char *name)
{
	struct settle_sig sig;
	struct stat st;
	const char *base;
	int fd = open_dir(d, name, &base), r;

	r = fd >= 0 ? fstatat(fd, base, &st, AT_SYMLINK_NOFOLLOW) : -1;
	put_dir(d, fd);
	if (r < 0)
		return 1;   /* gone already */
	if (!S_ISREG(st.st_mode))
		return 0;
	sig_of(&st, &sig);
	settle_later(d, name, &sig, sys_now_ms() + d->cfg->settle_ms);
	return 1;
}

/* A scan met NAME: 1 if it may be claimed now (unchanged for settle_ms by
 * its times, and not open for writing, or not a regular file: refused as
 * usual); else it waits. */
static int settled(struct drop *d, const char *name, unsigned char dtype)
{
	struct settle_sig sig;
	struct stat st;
	int64_t age;
	const char *base;
	int fd, busy;

	if ((dtype != DT_REG && dtype != DT_UNKNOWN) || !intake_matches(d, name))
		return 1;
	if (settle_waiting(d, name))
		return 0;
	if ((fd = open_dir(d, name, &base)) < 0)
		return 0;
	if (fstatat(fd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		put_dir(d, fd);
		return 0;
	}
	if (!S_ISREG(st.st_mode)) {
		put_dir(d, fd);
		return 1;
	}
	sig_of(&st, &sig);
	age = sys_unix_ms() - (sig.mtime_ns > sig.ctime_ns ? sig.mtime_ns : sig.ctime_ns) / 1000000;
	busy = age >= d->cfg->settle_ms && being_written(fd, base);
	put_dir(d, fd);
	if (age >= d->cfg->settle_ms && !busy)
		return 1;
	/* Changed lately (or stamped in the future: a clock set back):
	 * watched from now on. */
	settle_later(d, name, &sig, sys_now_ms() + (age >= 0 && age < d->cfg->settle_ms ?
						     d->cfg->settle_ms - age : d->cfg->settle_ms));
	return 0;
}

static int try_claim(struct drop *d, const char *name, unsigned char dtype, int probe);

/* NAME's deadline came: unchanged since and not open for writing, it is
 * claimed; else its clock restarts. */
static void settle_due(struct drop *d, const char *name, const struct settle_sig *was)
{
	struct settle_sig sig;
	struct stat st;
	const char *base;
	int fd = drop_usable(d) ? open_dir(d, name, &base) : -1, r, busy;

	r = fd >= 0 ? fstatat(fd, base, &st, AT_SYMLINK_NOFOLLOW) : -1;
	if (r == 0)
		sig_of(&st, &sig);
	busy = r == 0 && !memcmp(&sig, was, sizeof(sig)) && being_written(fd, base);
	put_dir(d, fd);
	if (r < 0)
		return;   /* lost (scanned when back) or gone */
	if (memcmp(&sig, was, sizeof(sig)) || busy) {
		settle_later(d, name, &sig, sys_now_ms() + d->cfg->settle_ms);
		return;
	}
	if (d->paused || guard_blocked(d) || core_stopping()) {
		d->dirty = 1;   /* a scan takes it: its times say it settled */
		return;
	}
	if (!core_room() || noticed_count(NULL)) {
		/* Settled and not open for writing: it waits its turn, as it
		 * is now (else a scan takes it). */
		if (noticed_push(d, name, &sig, (unsigned)core_cfg()->queue_size) < 0)
			d->dirty = 1;
		return;
	}
	try_claim(d, name, DT_UNKNOWN, 0);
}

void intake_init(void)
{
	settle_on_due(settle_due);
}

/*
 * Claim NAME of drop D.  DTYPE from readdir, or DT_UNKNOWN.  PROBE: ask
 * whether it is still open for writing -- for what a scan finds or a link
 * brings; a file that raised IN_CLOSE_WRITE or IN_MOVED_TO was just closed
 * or renamed in by its writer.  1 if claimed.  DFD: the directory holding
 * it, BASE its name there.
 */
static int claim_in(struct drop *d, int dfd, const char *base, const char *name,
		    unsigned char dtype, int probe)
{
	struct stat st;
	int s;

	if (dtype != DT_REG) {
		/* Refuse, do not follow: only regular files are processed. */
		if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return 0;
		if (!S_ISREG(st.st_mode)) {
			if (S_ISDIR(st.st_mode))
				log_debug("event=skipped drop=%s file=%s reason=directory",
					  d->cfg->name, log_q(name));
			else
				intake_skipped(d, name, type_name(st.st_mode));
			return 0;
		}
	}
	if (probe && being_written(dfd, base)) {
		log_debug("event=busy drop=%s file=%s reason=open-for-writing",
			  d->cfg->name, log_q(name));
		return 0;
	}
	s = claim_slot(d, name);
	if (s < 0)
		return 0;
	if (spool_claim(&d->sp, dfd, name, s) < 0) {
		if (errno != ENOENT && core_once()) {
			/* A batch run does not wait for space: the file stays
			 * in the drop, and the exit status says so. */
			log_err("event=claim-failed drop=%s file=%s error=%s", d->cfg->name,
				log_q(name), log_q(strerror(errno)));
			core_mark_failed();
		} else if (errno != ENOENT && !timer_armed(&d->claim_retry)) {
			/* A full disk, say: the file stays in the drop, and the
			 * drop is scanned again later, event or not (once a
			 * retry is due, the same trouble is not logged again). */
			log_err("event=claim-failed drop=%s file=%s error=%s retry_ms=%d",
				d->cfg->name, log_q(name), log_q(strerror(errno)),
				CLAIM_RETRY_MS);
			drop_claim_later(d, CLAIM_RETRY_MS);
		}
		core_release(s);
		return 0;
	}
	stats_inc(STAT_CLAIMED);
	log_debug("event=claimed drop=%s file=%s", d->cfg->name, log_q(name));
	admit(s);
	return 1;
}

/* NAME (a path in D) claimed, as claim_in() says. */
static int try_claim(struct drop *d, const char *name, unsigned char dtype, int probe)
{
	const char *base;
	int fd, r;

	if (!intake_matches(d, name))
		return 0;
	if ((fd = open_dir(d, name, &base)) < 0)
		return 0;   /* its directory is gone, or was swapped for a symlink */
	r = claim_in(d, fd, base, name, dtype, probe);
	put_dir(d, fd);
	return r;
}

/* ---- noticed: a close or rename-in that came with no room to claim ----- */

/* NAME of D waits for room by name, as it is now; if it cannot
 * (queue_size files wait already), or cannot be looked at, a scan takes
 * it. */
static void notice(struct drop *d, const char *name)
{
	struct settle_sig sig;
	struct stat st;
	const char *base;
	int fd = open_dir(d, name, &base), r, e;

	r = fd >= 0 ? fstatat(fd, base, &st, AT_SYMLINK_NOFOLLOW) : -1;
	e = errno;
	put_dir(d, fd);
	if (r < 0) {
		if (fd < 0 || e != ENOENT)
			d->dirty = 1;
		return;   /* else gone already */
	}
	sig_of(&st, &sig);
	if (noticed_push(d, name, &sig, (unsigned)core_cfg()->queue_size) < 0)
		d->dirty = 1;
}

/* The file noticed first: claimed if its drop may claim, the file is
 * still what its event saw, and nobody has it open for writing now (its
 * close vouched for it then; a writer may have come back since: an
 * append).  Changed since, or not to be looked at now, a scan decides.  1
 * if one waited. */
static int take_noticed(void)
{
	char name[TREE_REL_MAX];
	struct settle_sig was, sig;
	struct stat st;
	struct drop *d;
	const char *base;
	int fd;

	if (!noticed_pop(&d, name, sizeof(name), &was))
		return 0;
	if (!name[0])
		return 1;
	if (!drop_usable(d) || d->paused || guard_blocked(d) || timer_armed(&d->claim_retry)) {
		d->dirty = 1;   /* a scan takes it when the drop may claim again */
		return 1;
	}
	if ((fd = open_dir(d, name, &base)) < 0) {
		if (errno != ENOENT)
			d->dirty = 1;   /* out of descriptors, say; ENOENT: gone */
		return 1;
	}
	if (fstatat(fd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		sig_of(&st, &sig);
		if (memcmp(&sig, &was, sizeof(sig)))
			d->dirty = 1;
		else
			claim_in(d, fd, base, name, S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN, 1);
	} else if (errno != ENOENT) {
		d->dirty = 1;
	}
	put_dir(d, fd);
	return 1;
}

/* A directory the scan met at REL, DEPTH levels down: entered if D is
 * recursive and it is not too deep (nor a dot-name: the daemon's own, or
 * an uploader's temporary); else said once. */
static void scan_dir(struct drop *d, struct tree_walk *w)
{
	const char *name = tree_base(w->rel);

	if (name[0] == '.')
		return;
	if (!d->cfg->recursive || w->depth + 1 > d->cfg->max_depth) {
		intake_subdir(d, w->rel);
		return;
	}
	if (tree_walk_enter(w) < 0)
		log_warn("event=scan-failed drop=%s dir=%s error=%s", d->cfg->name,
			 log_q(w->rel), log_q(strerror(errno)));
}

/* One step of a drop's scan (its subdirectories too, if it is recursive);
 * 1 if a file was claimed, 0 at the end. */
static int scan_step(struct drop *d)
{
	struct dirent *de;

	if (!d->scan) {
		if (!(d->scan = malloc(sizeof(*d->scan))) || tree_walk_start(d->scan, d->sp.dropfd) < 0) {
			log_err("event=scan-failed drop=%s error=%s", d->cfg->name,
				log_q(strerror(errno)));
			free(d->scan);
			d->scan = NULL;
			d->dirty = 0;  /* the next event or reload tries again */
			return 0;
		}
		d->dirty = 0;
	}
	while (!timer_armed(&d->claim_retry) && (de = tree_walk_next(d->scan))) {
		unsigned char t = de->d_type;
		struct stat st;

		if (t == DT_UNKNOWN && d->cfg->recursive &&
		    fstatat(tree_walk_fd(d->scan), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode))
			t = DT_DIR;
		if (t == DT_DIR) {
			scan_dir(d, d->scan);
			continue;
		}
		/* settled() asked whether it is open for writing already. */
		if ((!d->cfg->settle_ms || settled(d, d->scan->rel, t)) &&
		    try_claim(d, d->scan->rel, t, !d->cfg->settle_ms))
			return 1;
	}
	intake_scan_end(d);
	return 0;
}

void intake_scan_end(struct drop *d)
{
	if (!d->scan)
		return;
	tree_walk_end(d->scan);
	free(d->scan);
	d->scan = NULL;
}

static int max_attempts(const struct drop *d)
{
	return d->cfg->retries + 1;
}

/* One file left by a dead daemon; 1 if one was adopted. */
static int recover_step(struct drop *d)
{
	char name[TREE_REL_MAX], tag = 0;
	int s = core_jobs()->free_head, n, r;

	if (s < 0)
		return 0;
	r = spool_recover_next(&d->sp, s, name, sizeof(name), &n, &tag);
	if (r <= 0)
		return 0;
	s = claim_slot(d, name);
	if (s < 0)
		return 0;
	JOB(s)->n = n;
	stats_inc(STAT_RECOVERED);
	log_info("event=recovered drop=%s file=%s attempts=%d%s", d->cfg->name, log_q(name), n,
		 tag == 'd' ? " verdict=done" : tag == 'f' ? " verdict=failed" : "");
	if (tag) {
		/* Its verdict was recorded; only the move is left to do. */
		struct job *j = JOB(s);

		j->tag = tag;
		j->to_failed = tag == 'f';
		j->resumed = 1;
		snprintf(j->status, sizeof(j->status), "recorded");
		j->reason = "recorded-before-a-restart";
		if (j->to_failed) {
			j->sidecar = spool_marked_sidecar(&d->sp, s, &j->sidecar_len);
			core_mark_failed();
		}
		job_event(core_jobs(), s, JE_VERDICT);
		outcome_deliver(s);
		return 1;
	}
	if (n >= max_attempts(d)) {
		/* It was running its last attempt when the daemon died: a file
		 * that kills the daemon must not loop forever. */
		outcome_finish(s, 1, "crashed", "crashed", 0,
			       "the daemon died during this attempt\n", 36);
		return 1;
	}
	/* Made the daemon's again: it may have died between claim and seal. */
	admit(s);
	return 1;
}

/* One file (or one step) from each drop that has something to recover or
 * a scan to go on with, starting at the drop after the one that started
 * last, so that one drop's backlog does not hold back another's when room
 * comes a file at a time.  1 if anything moved. */
static int scan_pass(void)
{
	static unsigned turn;
	struct drop *d = drops_first();
	unsigned n = 0, i;
	int progress = 0;

	for (; d; d = d->next)
		n++;
	d = drops_first();
	for (i = n ? turn++ % n : 0; i > 0; i--)
		d = d->next;
	for (i = 0; i < n && core_room(); i++, d = d->next ? d->next : drops_first()) {
		if (!drop_usable(d))
			continue;
		if ((!d->sp.rec_done || !d->sp.held_done) && recover_step(d)) {
			progress = 1;
			continue;
		}
		/* Paused: what is in flight is still taken over (and held),
		 * nothing new is claimed. */
		if (d->paused || guard_blocked(d))
			continue;
		if ((d->dirty || d->scan) && scan_step(d))
			progress = 1;
		else if (d->dirty)
			progress = 1;  /* dirtied during the pass: go again */
	}
	return progress;
}

/* Fill free room, at most BUDGET files at a time, so that a big backlog
 * does not keep the first commands waiting (or a result unread) while the
 * queue fills: what was noticed, oldest first, and the drops' recovery and
 * scans, in turns -- so that a list of noticed files kept full by one busy
 * drop does not hold back what only a scan can find (another drop's file
 * that came when the list was full).  Returns 1 if the budget ran out with
 * room left. */
int intake_refill(int budget)
{
	static int scans_next;
	int progress = 1;

	if (core_stopping())
		return 0;
	while (progress && core_room()) {
		if (budget-- <= 0)
			return 1;
		if (!scans_next && take_noticed()) {
			scans_next = 1;
			continue;
		}
		scans_next = 0;
		progress = scan_pass() || take_noticed();
	}
	return 0;
}

#define SUBDIRS_SAID 64

void intake_subdir(struct drop *d, const char *rel)
{
	char **grown;

	if (tree_base(rel)[0] == '.')
		return;   /* the daemon's own, or hidden: not an upload */
	/* REL is a directory: one level below its parents. */
	if (d->cfg->recursive && tree_depth(rel) + 1 <= d->cfg->max_depth)
		return;   /* taken */
	for (int i = 0; i < d->nsubdirs; i++)
		if (!strcmp(d->subdirs[i], rel))
			return;
	if (d->nsubdirs == SUBDIRS_SAID) {
		if (!d->subdirs_more)
			log_warn("event=subdir-ignored drop=%s dir=- note=%s", d->cfg->name,
				 log_q("more subdirectories: not said one by one"));
		d->subdirs_more = 1;
		return;
	}
	grown = realloc(d->subdirs, (size_t)(d->nsubdirs + 1) * sizeof(*grown));
	if (!grown || !(grown[d->nsubdirs] = strdup(rel))) {
		if (grown)
			d->subdirs = grown;
		return;
	}
	d->subdirs = grown;
	d->nsubdirs++;
	log_warn("event=subdir-ignored drop=%s dir=%s note=%s", d->cfg->name, log_q(rel),
		 log_q(d->cfg->recursive ? "deeper than max_depth: its files are not taken" :
		       "files in subdirectories are not taken: this drop is not recursive"));
}

void intake_file(struct drop *d, const char *name, int created)
{
	if (!drop_usable(d) || !intake_matches(d, name))
		return;
	/* Another drop on the directory may watch deeper than this one. */
	if (tree_depth(name) > (d->cfg->recursive ? d->cfg->max_depth : 0))
		return;
	if (d->cfg->settle_ms && settle_event(d, name))
		return;
	if (core_stopping() || d->paused || guard_blocked(d))
		d->dirty = 1;  /* it stays in the drop; a scan finds it */
	else if (!core_room() || noticed_count(NULL))
		notice(d, name);   /* behind what was noticed before it */
	else
		try_claim(d, name, DT_UNKNOWN, created);
}
