/*
 * drop.c - the set of drops (see drop.h).
 */
#include "drop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "dispatch.h"
#include "fileio.h"
#include "guard.h"
#include "intake.h"
#include "log.h"
#include "loop.h"
#include "pool.h"
#include "noticed.h"
#include "settle.h"
#include "sys.h"
#include "watch.h"

static struct {
	struct drop *list;
	uint32_t next_id;
	uint32_t next_spool;
	int started;       /* past the first opening (start-up) */
} D;

struct drop *drops_first(void)
{
	return D.list;
}

struct drop *drop_by_id(uint32_t id)
{
	struct drop *d;

	for (d = D.list; d; d = d->next)
		if (d->id == id)
			return d;
	return NULL;
}

int drop_usable(const struct drop *d)
{
	return d->open && !d->lost && !d->retiring;
}

static void drop_close(struct drop *d)
{
	int i;

	intake_scan_end(d);
	if (d->open) {
		for (i = 0; i < pool_size(); i++)
			pool_send_spool(i, d->spool_id, -1);
		spool_close(&d->sp);
	}
	tdir_close(&d->done);
	tdir_close(&d->failed);
	d->open = 0;
}

static void resume_held(struct drop *d);
static int save_pause(struct drop *d);

static void drop_destroy(struct drop *d)
{
	struct drop **p;

	for (p = &D.list; *p; p = &(*p)->next)
		if (*p == d) {
			*p = d->next;
			break;
		}
	loop_cancel(&d->claim_retry);
	loop_cancel(&d->poll);
	guard_forget(d);
	for (int i = 0; i < d->nsubdirs; i++)
		free(d->subdirs[i]);
	free(d->subdirs);
	settle_forget(d);
	noticed_forget(d);
	drop_close(d);
	cfgref_put(d->ref);
	free(d);
}

/* Room in the drop's attempts table for every slot (best effort: without
 * it, recording an attempt extends the file). */
static void drop_reserve(struct drop *d, int cap)
{
	if (d->open && spool_reserve(&d->sp, cap) < 0)
		log_warn("event=reserve-failed drop=%s error=%s", d->cfg->name,
			 log_q(strerror(errno)));
}

void drops_reserve(int cap)
{
	for (struct drop *d = D.list; d; d = d->next)
		drop_reserve(d, cap);
}

/* The group of the commands, when they run as another user than the
 * daemon: they must reach {file} in the spool.  -1: the daemon's own. */
static long commands_gid(void)
{
	const struct sw_config *c = core_cfg();

	return c->run_uid >= 0 && c->run_uid != (long)geteuid() ? c->run_gid : -1;
}

static int drop_open(struct drop *d)
{
	int i, n;

	if (spool_open(&d->sp, d->cfg->path, d->cfg->spool, d->cfg->name, commands_gid()) < 0) {
		log_err("event=spool-error drop=%s path=%s spool=%s error=%s%s",
			log_q(d->cfg->name), log_q(d->cfg->path), log_q(d->cfg->spool),
			log_q(strerror(errno)), errno == EPERM ?
			" reason=not-the-daemons(owner,mode,or-type)" : errno == EXDEV ?
			" reason=not-on-the-drops-mount" : "");
		return -1;
	}
	if ((d->cfg->done && tdir_open(&d->done, d->cfg->done) < 0) ||
	    tdir_open(&d->failed, d->cfg->failed) < 0) {
		log_err("event=dir-error drop=%s path=%s error=%s", log_q(d->cfg->name),
			log_q(d->cfg->done && d->done.fd < 0 ? d->cfg->done : d->cfg->failed),
			log_q(strerror(errno)));
		spool_close(&d->sp);
		tdir_close(&d->done);
		tdir_close(&d->failed);
		return -1;
	}
	spool_migrate_legacy(&d->sp);
	/* What a daemon killed mid-copy or mid-sidecar left. */
	n = spool_sweep_tmp(d->done.fd, !D.started) + spool_sweep_tmp(d->failed.fd, !D.started);
	if (n)
		log_info("event=temporaries-removed drop=%s count=%d", d->cfg->name, n);
	d->open = 1;
	if (!d->opened) {
		/* Paused before a restart (or a power cut mid-maintenance):
		 * it stays paused, and says so. */
		if (faccessat(d->sp.seafd, DROP_PAUSED, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
			d->paused = 1;
			log_warn("event=paused drop=%s since=before-start note=%s", d->cfg->name,
				 log_q("seawatchctl resume to take its files again"));
		}
	} else {
		/* Reopened (it was lost): what was asked meanwhile holds. */
		save_pause(d);
	}
	d->opened = 1;
	d->dirty = 1;
	d->spool_id = ++D.next_spool;
	drop_reserve(d, core_jobs()->cap);
	for (i = 0; i < pool_size(); i++)
		pool_send_spool(i, d->spool_id, d->sp.attfd);
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

static void claim_due(void *arg)
{
	struct drop *d = arg;

	d->dirty = 1;
}

/* Subdirectories the kernel would not watch: the drop is scanned every
 * POLL_MS instead (their files wait that long at most). */
#define POLL_MS 5000

static void poll_due(void *arg)
{
	struct drop *d = arg;

	d->dirty = 1;
	loop_arm(&d->poll, sys_now_ms() + POLL_MS);
}

void drop_unwatched(struct drop *d, int err, const char *rel)
{
	if (err && !d->unwatched) {
		log_warn("event=watch-limit drop=%s dir=%s error=%s action=poll poll_ms=%d note=%s",
			 d->cfg->name, log_q(rel), log_q(strerror(err)), POLL_MS,
			 log_q(err == ENOSPC ? "fs.inotify.max_user_watches reached: raise it "
			       "(sysctl), or fewer subdirectories" :
			       "subdirectories not watched: scanned instead"));
		loop_arm(&d->poll, sys_now_ms() + POLL_MS);
	} else if (!err && d->unwatched) {
		log_info("event=watch-ok drop=%s note=%s", d->cfg->name,
			 log_q("every subdirectory is watched again"));
		loop_cancel(&d->poll);
	}
	d->unwatched = err != 0;
	d->dirty = 1;
}

static struct drop *drop_new(struct cfgref *ref, const struct sw_drop *dc)
{
	struct drop *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->id = ++D.next_id;
	d->done.fd = d->failed.fd = -1;
	d->ref = ref;
	ref->refs++;
	d->cfg = dc;
	timer_init(&d->claim_retry, claim_due, d);
	timer_init(&d->poll, poll_due, d);
	timer_init(&d->guard_recheck, NULL, NULL);
	d->next = D.list;
	D.list = d;
	return d;
}

int drops_start(void)
{
	const struct sw_config *c = core_cfg();
	struct drop *d;

	for (int i = c->n_drops - 1; i >= 0; i--) {
		d = drop_new(core_ref(), &c->drops[i]);
		if (!d || drop_open(d) < 0)
			return -1;
	}
	D.started = 1;
	return 0;
}

void drop_job_added(struct drop *d)
{
	d->njobs++;
}

void drop_job_released(struct drop *d)
{
	if (--d->njobs == 0 && d->retiring)
		drop_destroy(d);
	else if (d->njobs == 0 && d->reopen)
		drop_reopen(d);
}

void drop_claim_later(struct drop *d, int64_t delay)
{
	loop_arm(&d->claim_retry, sys_now_ms() + delay);
}

void drops_overflow(void)
{
	for (struct drop *d = D.list; d; d = d->next)
		d->dirty = 1;
}

void drop_lost(struct drop *d)
{
	log_err("event=drop-lost drop=%s path=%s", d->cfg->name, log_q(d->cfg->path));
	d->lost = 1;
	intake_scan_end(d);
	/* Its files are looked at again when it is back. */
	settle_forget(d);
}

void drop_back(struct drop *d)
{
	if (d->njobs == 0)
		drop_reopen(d);
	else
		d->reopen = 1;  /* when its last job ends */
}

void drops_send_spools(int wi)
{
	for (struct drop *d = D.list; d; d = d->next)
		if (d->open)
			pool_send_spool(wi, d->spool_id, d->sp.attfd);
}

void drops_recover_again(void)
{
	for (struct drop *d = D.list; d; d = d->next)
		if (drop_usable(d)) {
			/* Another daemon on the same drop may have died since. */
			spool_recover_again(&d->sp);
			/* Space may have been freed for what was set aside (when
			 * the guard says so, at once). */
			if (!guard_blocked(d))
				spool_unpark_again(&d->sp);
		}
}

int drops_idle(void)
{
	if (noticed_count(NULL))
		return 0;
	for (struct drop *d = D.list; d; d = d->next)
		if (drop_usable(d) && (d->dirty || d->scan || !d->sp.rec_done ||
				       !d->sp.held_done || settle_count(d)))
			return 0;
	return 1;
}

/* The drops to watch (not the retiring ones), malloc'd; *N their number. */
static struct watch_target *watch_targets(int *n)
{
	struct watch_target *t;
	struct drop *d;
	int k = 0;

	for (d = D.list; d; d = d->next)
		k++;
	t = calloc((size_t)(k ? k : 1), sizeof(*t));
	*n = 0;
	for (d = D.list; t && d; d = d->next)
		if (!d->retiring) {
			t[*n].id = d->id;
			t[*n].path = d->cfg->path;
			t[*n].recursive = d->cfg->recursive;
			t[*n].max_depth = d->cfg->max_depth;
			(*n)++;
		}
	return t;
}

int drops_watch(int start)
{
	int n, bad = -1, rc;
	struct watch_target *t = watch_targets(&n);

	if (!t) {
		log_err("event=watch-failed path=- error=%s", log_q(strerror(ENOMEM)));
		return -1;
	}
	rc = start ? watch_start(t, n, &bad) : watch_set(t, n);
	if (rc < 0)
		log_err("event=watch-failed path=%s error=%s",
			bad >= 0 ? log_q(t[bad].path) : "-", log_q(strerror(errno)));
	free(t);
	return rc;
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

void drops_reload(struct cfgref *ref)
{
	const struct sw_config *nc = ref->cfg;
	struct drop *d, *next;
	int i;

	/* Keep the drops whose name and directory stay; retire the others. */
	for (d = D.list; d; d = next) {
		next = d->next;
		if (d->retiring)
			continue;
		for (i = 0; i < nc->n_drops; i++)
			if (!strcmp(nc->drops[i].name, d->cfg->name) &&
			    !strcmp(nc->drops[i].path, d->cfg->path) &&
			    !strcmp(nc->drops[i].spool, d->cfg->spool))
				break;
		if (i < nc->n_drops) {
			cfgref_put(d->ref);
			d->ref = ref;
			ref->refs++;
			d->cfg = &nc->drops[i];
			/* Its pattern, depth or settle may have changed: what
			 * waited by name is found again by a scan, under the
			 * new rules. */
			noticed_forget(d);
			d->dirty = 1;
			if (d->cfg->done)
				reopen_dir(&d->done, d->cfg->done);
			else
				tdir_close(&d->done);   /* keep_done = 0 now */
			reopen_dir(&d->failed, d->cfg->failed);
			/* An operator who freed space reloads: what was set
			 * aside is tried again now. */
			if (drop_usable(d))
				spool_unpark_again(&d->sp);
		} else {
			log_info("event=drop-removed drop=%s", d->cfg->name);
			/* Its jobs must end for it to go: none stays held
			 * (its pause mark stays in the spool, should it come
			 * back). */
			if (d->paused)
				resume_held(d);
			d->paused = 0;
			d->retiring = 1;
			if (d->njobs == 0)
				drop_destroy(d);
		}
	}
	for (i = 0; i < nc->n_drops; i++) {
		for (d = D.list; d; d = d->next)
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
}

struct drop *drop_by_name(const char *name)
{
	for (struct drop *d = D.list; d; d = d->next)
		if (!d->retiring && !strcmp(d->cfg->name, name))
			return d;
	return NULL;
}

/* The mark in the spool says what d->paused says (it keeps a pause across
 * a restart).  1 if it does. */
static int save_pause(struct drop *d)
{
	const char *err = "the drop is not open";

	if (d->open) {
		if (d->paused ? fio_write_new(d->sp.seafd, DROP_PAUSED, "", 0,
					      SPOOL_FILE_MODE) == 0 || errno == EEXIST :
				unlinkat(d->sp.seafd, DROP_PAUSED, 0) == 0 || errno == ENOENT)
			return 1;
		err = strerror(errno);
	}
	log_err("event=%s drop=%s error=%s note=%s", d->paused ? "pause-not-saved" :
		"resume-not-saved", d->cfg->name, log_q(err),
		log_q(d->paused ? "it runs again after a restart" :
		      "it is paused again after a restart"));
	return 0;
}

int drop_pause(struct drop *d, int *saved)
{
	*saved = 1;
	if (d->paused)
		return 0;
	d->paused = 1;
	*saved = save_pause(d);
	log_info("event=paused drop=%s", d->cfg->name);
	dispatch_recall_paused();
	return 1;
}

/* The jobs of D held while it was paused go back to the queue, in slot
 * order (resume is rare: one pass over the slots). */
static void resume_held(struct drop *d)
{
	struct jobs *jt = core_jobs();

	for (int s = 0; s < jt->cap && jobs_in(jt, JS_HELD) > 0; s++)
		if (job_at(jt, s)->state == JS_HELD && job_at(jt, s)->drop == d)
			core_enqueue(s, JE_RESUME);
}

int drop_resume(struct drop *d, int *saved)
{
	*saved = 1;
	if (!d->paused)
		return 0;
	d->paused = 0;
	*saved = save_pause(d);
	d->dirty = 1;   /* what arrived meanwhile waits in the drop */
	resume_held(d);
	log_info("event=resumed drop=%s", d->cfg->name);
	return 1;
}

void drops_free(void)
{
	while (D.list)
		drop_destroy(D.list);
}
