/*
 * requeue.c - failed files back into processing (see requeue.h).
 *
 * The file is renamed from failed/ into the drop (never over a file
 * there: a collision name instead), then its sidecar is removed; the drop
 * is marked for a scan, which claims it like any new file (a paused drop
 * keeps it waiting).  failed/ and the drop are held open: no path an
 * uploader could change is followed, and NAME must be a plain name.
 */
#include "requeue.h"
#include "dirlist.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "intake.h"
#include "log.h"
#include "loop.h"
#include "spool.h"
#include "sys.h"

#define SLICE 256   /* files per turn of the loop */

static struct {
	DIR *dir;               /* failed/ being listed, NULL when idle */
	uint32_t drop_id;
	struct timespec since;  /* files put in failed/ after it are new failures */
	void (*done)(void *, const struct requeue_result *);
	void *arg;
	struct requeue_result r;
	struct timer next;
} R;

int requeue_one(struct drop *d, const char *name, char *final, size_t finalsz,
		const char **why)
{
	char side[NAME_MAX + 1];
	struct stat st;
	int ffd;

	if (!name[0] || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..") ||
	    strlen(name) > NAME_MAX) {
		*why = "not a file name";
		return -1;
	}
	if (!intake_matches(d, name)) {
		*why = "does not match the drop's pattern (it would never be taken)";
		return -1;
	}
	if (!drop_usable(d)) {
		*why = "the drop is not usable now (lost, or being removed)";
		return -1;
	}
	ffd = tdir_fd(&d->failed, sys_now_ms());
	if (fstatat(ffd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		*why = errno == ENOENT ? "no such file in failed/" : "cannot be looked at";
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		*why = "not a regular file";
		return -1;
	}
	if (spool_place(ffd, name, d->sp.dropfd, name, final, finalsz) < 0) {
		*why = errno == EXDEV ? "failed/ is on another file system than the drop: "
					"move it by hand" : strerror(errno);
		return -1;
	}
	if (!intake_matches(d, final)) {
		/* One of that name waits in the drop, and the collision name
		 * (x.tar.1.gz for *.tar.gz) is not the drop's: it would never
		 * be taken.  Back to failed/, as it was. */
		char back[NAME_MAX + 1];

		if (spool_place(d->sp.dropfd, final, ffd, name, back, sizeof(back)) < 0)
			log_err("event=requeue-stranded drop=%s file=%s in=drop error=%s",
				d->cfg->name, log_q(final), log_q(strerror(errno)));
		*why = "one of that name waits in the drop, and a collision name would not "
		       "match the pattern: try again once it is taken";
		return -1;
	}
	spool_sidecar_name(name, side);
	if (unlinkat(ffd, side, 0) < 0 && errno != ENOENT)
		log_err("event=sidecar-not-removed drop=%s file=%s error=%s", d->cfg->name,
			log_q(side), log_q(strerror(errno)));
	d->dirty = 1;
	log_info("event=requeued drop=%s file=%s as=%s", d->cfg->name, log_q(name),
		 log_q(final));
	return 0;
}

static void finish(void)
{
	closedir(R.dir);
	R.dir = NULL;
	loop_cancel(&R.next);
	if (R.done)
		R.done(R.arg, &R.r);
	R.done = NULL;
}

static void refused(const char *name, const char *why)
{
	if (R.r.refused++ == 0) {
		snprintf(R.r.first_name, sizeof(R.r.first_name), "%s", name);
		R.r.first_why = why;
	}
}

/* A slice of the listing. */
static void slice(void *arg)
{
	struct drop *d = drop_by_id(R.drop_id);
	struct dirent *de;
	char final[NAME_MAX + 1];
	const char *why;
	struct stat st;
	int n = 0;

	(void)arg;
	if (!d || d->retiring) {
		refused("-", "the drop was removed meanwhile");
		finish();
		return;
	}
	while (n < SLICE && (de = readdir(R.dir))) {
		/* Sidecars stay (they go with their file), whatever the
		 * pattern. */
		if (de->d_name[0] == '.' || !intake_matches(d, de->d_name) ||
		    spool_is_sidecar(de->d_name))
			continue;
		n++;
		/* Failed again since the start: not taken a second time. */
		if (fstatat(dirfd(R.dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (st.st_ctim.tv_sec > R.since.tv_sec ||
		    (st.st_ctim.tv_sec == R.since.tv_sec && st.st_ctim.tv_nsec > R.since.tv_nsec)) {
			R.r.newer++;
			continue;
		}
		if (requeue_one(d, de->d_name, final, sizeof(final), &why) == 0)
			R.r.moved++;
		else
			refused(de->d_name, why);
	}
	if (n < SLICE) {
		finish();
		return;
	}
	loop_arm(&R.next, sys_now_ms());
}

int requeue_all(struct drop *d, void (*done)(void *arg, const struct requeue_result *r),
		void *arg, const char **why)
{
	if (R.dir) {
		*why = "a requeue --all is under way: try again when it ends";
		return -1;
	}
	if (!drop_usable(d)) {
		*why = "the drop is not usable now (lost, or being removed)";
		return -1;
	}
	if (!(R.dir = dir_list(tdir_fd(&d->failed, sys_now_ms())))) {
		*why = "failed/ cannot be listed";
		return -1;
	}
	/* The clock the kernel stamps ctimes with (a tick coarse): a file
	 * put in failed/ after this has a later ctime. */
	clock_gettime(CLOCK_REALTIME_COARSE, &R.since);
	R.drop_id = d->id;
	R.done = done;
	R.arg = arg;
	R.r = (struct requeue_result){ 0 };
	timer_init(&R.next, slice, NULL);
	loop_arm(&R.next, sys_now_ms());
	return 0;
}

void requeue_forget(void *arg)
{
	if (R.dir && R.arg == arg)
		R.done = NULL;
}

void requeue_free(void)
{
	if (R.dir) {
		R.done = NULL;
		finish();
	}
}
