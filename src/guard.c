/*
 * guard.c - the disk guard (see guard.h).
 */
#include "guard.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "core.h"
#include "drop.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "retain.h"
#include "spool.h"
#include "sys.h"

/* Free space under FD's file system below the limit (with 10% more when
 * RISING: the way back up)?  *AVAIL and *LIMIT say the figures. */
static int low(int fd, int rising, int64_t *avail, int64_t *limit)
{
	const struct sw_config *c = core_cfg();
	struct statvfs v;

	if (fd < 0 || fstatvfs(fd, &v) < 0)
		return 0;   /* not known: not a reason to stop */
	/* f_bavail: what an unprivileged writer (the commands) may still use. */
	*avail = (int64_t)v.f_bavail * (int64_t)v.f_frsize;
	*limit = c->min_free_bp ? (int64_t)v.f_blocks * (int64_t)v.f_frsize / 10000 * c->min_free_bp
				: c->min_free_bytes;
	if (rising)
		*limit += *limit / 10;
	return *avail < *limit;
}

static void recheck(void *arg)
{
	struct drop *d = arg;

	d->guard_at = 0;
	guard_blocked(d);
}

static void ok_again(struct drop *d)
{
	d->disk_low = 0;
	d->dirty = 1;   /* what waited in the drop is taken now */
	loop_cancel(&d->guard_recheck);
	log_info("event=disk-ok drop=%s action=claims-resumed", d->cfg->name);
	/* What was set aside for want of space goes on. */
	if (d->open)
		spool_unpark_again(&d->sp);
	metrics_changed();
}

int guard_blocked(struct drop *d)
{
	const struct sw_config *c = core_cfg();
	const struct { int fd; const char *what; } fs[] = {
		{ d->sp.dropfd, "drop" }, { d->sp.seafd, "spool" },
		{ d->done.fd, "done" }, { d->failed.fd, "failed" },
	};
	int64_t now = sys_now_ms(), avail = 0, limit = 0;
	const char *what = NULL;

	if (!c->min_free_bytes && !c->min_free_bp) {
		if (d->disk_low)
			ok_again(d);   /* a reload turned the guard off */
		return 0;
	}
	if (!d->open || (d->guard_at && now - d->guard_at < 1000))
		return d->disk_low;
	d->guard_at = now;
	for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]) && !what; i++)
		if (low(fs[i].fd, d->disk_low, &avail, &limit))
			what = fs[i].what;
	if (what && !d->disk_low) {
		d->disk_low = 1;
		log_warn("event=disk-low drop=%s dir=%s free_bytes=%lld limit_bytes=%lld "
			 "action=claims-stopped", d->cfg->name, what, (long long)avail,
			 (long long)limit);
		retain_kick(d);
		metrics_changed();
	} else if (!what && d->disk_low) {
		ok_again(d);
	}
	if (d->disk_low && !timer_armed(&d->guard_recheck)) {
		timer_init(&d->guard_recheck, recheck, d);
		loop_arm(&d->guard_recheck, now + GUARD_RECHECK_MS);
	}
	return d->disk_low;
}

int guard_room(int destfd, int srcfd)
{
	const struct sw_config *c = core_cfg();
	int64_t avail = 0, limit = 0;
	struct stat st;

	if ((!c->min_free_bytes && !c->min_free_bp) || fstat(srcfd, &st) < 0)
		return 1;
	low(destfd, 0, &avail, &limit);
	if (!avail && !limit)
		return 1;   /* not known */
	/* Blocks, not the size: holes are not copied (copy.c). */
	return avail - (int64_t)st.st_blocks * 512 >= limit;
}

void guard_forget(struct drop *d)
{
	loop_cancel(&d->guard_recheck);
}
