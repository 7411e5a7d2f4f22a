/*
 * metrics.c - the Prometheus text file (see metrics.h).
 */
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"
#include "drop.h"
#include "fileio.h"
#include "log.h"
#include "loop.h"
#include "pool.h"
#include "sbuf.h"
#include "stats.h"
#include "sys.h"

static struct {
	char path[PATH_MAX];   /* "" when off */
	int64_t every;
	int64_t written_at;
	int dirty;
	int failed_said;       /* a failure is logged once until it works */
	struct timer due;
} X = { .due = { .pos = -1 } };   /* not armed, before metrics_configure() */

static void head(struct sbuf *b, const char *name, const char *type, const char *help)
{
	sbuf_put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render(struct sbuf *b)
{
	struct sw_gauges g;
	struct drop *d;
	int usable = 0;

	core_gauges(&g);
	for (int i = 0; i < pool_size(); i++)
		usable += pool_usable(i);
	head(b, "seawatch_build_info", "gauge", "seawatchd's version.");
	sbuf_put(b, "seawatch_build_info{version=\"%s\"} 1\n", SW_VERSION);
	head(b, "seawatch_files_total", "counter", "Files by outcome since the drop was opened.");
	for (d = drops_first(); d; d = d->next) {
		static const char *const what[] = { "done", "failed", "retried", "skipped" };
		const unsigned long long n[] = { d->st.done, d->st.failed, d->st.retried,
						 d->st.skipped };

		for (int k = 0; k < 4; k++)
			sbuf_put(b, "seawatch_files_total{drop=\"%s\",outcome=\"%s\"} %llu\n",
			    d->cfg->name, what[k], n[k]);
	}
	head(b, "seawatch_queued_files", "gauge", "Files waiting for a worker.");
	for (d = drops_first(); d; d = d->next) {
		struct sw_gauges dg;

		core_drop_gauges(d, &dg);
		sbuf_put(b, "seawatch_queued_files{drop=\"%s\"} %d\n", d->cfg->name, dg.queued);
	}
	head(b, "seawatch_running_jobs", "gauge", "Commands running.");
	for (d = drops_first(); d; d = d->next) {
		struct sw_gauges dg;

		core_drop_gauges(d, &dg);
		sbuf_put(b, "seawatch_running_jobs{drop=\"%s\"} %d\n", d->cfg->name, dg.running);
	}
	head(b, "seawatch_job_duration_seconds", "histogram",
	     "How long the last attempt of each file done took.");
	for (d = drops_first(); d; d = d->next) {
		unsigned long long cum = 0;

		for (int k = 0; k <= STATS_DUR_BUCKETS; k++) {
			cum += d->st.dur[k];
			if (k < STATS_DUR_BUCKETS)
				sbuf_put(b, "seawatch_job_duration_seconds_bucket{drop=\"%s\",le=\"%g\"} %llu\n",
				    d->cfg->name, stats_dur_bounds[k], cum);
			else
				sbuf_put(b, "seawatch_job_duration_seconds_bucket{drop=\"%s\",le=\"+Inf\"} %llu\n",
				    d->cfg->name, cum);
		}
		sbuf_put(b, "seawatch_job_duration_seconds_sum{drop=\"%s\"} %.3f\n", d->cfg->name,
		    d->st.dur_sum);
		sbuf_put(b, "seawatch_job_duration_seconds_count{drop=\"%s\"} %llu\n", d->cfg->name, cum);
	}
	head(b, "seawatch_last_done_timestamp_seconds", "gauge",
	     "When the last file of the drop was done (0: none yet).");
	for (d = drops_first(); d; d = d->next)
		sbuf_put(b, "seawatch_last_done_timestamp_seconds{drop=\"%s\"} %.3f\n", d->cfg->name,
		    d->st.last_done);
	head(b, "seawatch_drop_up", "gauge", "1 if the drop is watched and its files claimed.");
	for (d = drops_first(); d; d = d->next)
		sbuf_put(b, "seawatch_drop_up{drop=\"%s\"} %d\n", d->cfg->name, drop_usable(d));
	head(b, "seawatch_drop_paused", "gauge", "1 if the drop is paused (seawatchctl pause).");
	for (d = drops_first(); d; d = d->next)
		sbuf_put(b, "seawatch_drop_paused{drop=\"%s\"} %d\n", d->cfg->name, d->paused);
	head(b, "seawatch_drop_disk_low", "gauge",
	     "1 if the drop stopped claiming for want of free space (min_free).");
	for (d = drops_first(); d; d = d->next)
		sbuf_put(b, "seawatch_drop_disk_low{drop=\"%s\"} %d\n", d->cfg->name, d->disk_low);
	head(b, "seawatch_workers", "gauge", "Worker processes by state.");
	sbuf_put(b, "seawatch_workers{state=\"busy\"} %d\n", g.running);
	sbuf_put(b, "seawatch_workers{state=\"idle\"} %d\n", usable > g.running ? usable - g.running : 0);
}

static void write_now(void)
{
	struct sbuf b = { 0 };
	char dir[PATH_MAX], tmp[NAME_MAX + 1];
	const char *name;
	int dfd, rc;

	if (!X.path[0])
		return;
	render(&b);
	snprintf(dir, sizeof(dir), "%s", X.path);
	*strrchr(dir, '/') = '\0';
	name = strrchr(X.path, '/') + 1;
	/* Not *.prom: the collector never reads a half-written file. */
	snprintf(tmp, sizeof(tmp), ".%.200s.tmp", name);
	dfd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rc = b.oom || dfd < 0 ? -1 :
	     fio_replace(dfd, tmp, name, b.p ? b.p : "", b.len, 0644);
	/* For node_exporter's user to read, whatever the daemon's umask. */
	if (rc == 0 && fchmodat(dfd, name, 0644, 0) < 0)
		rc = -1;
	if (rc < 0 && !X.failed_said) {
		log_err("event=metrics-failed path=%s error=%s", log_q(X.path),
			log_q(strerror(b.oom ? ENOMEM : errno)));
		X.failed_said = 1;
	} else if (rc == 0) {
		X.failed_said = 0;
	}
	if (dfd >= 0)
		close(dfd);
	sbuf_free(&b);
	X.dirty = 0;
	X.written_at = sys_now_ms();
}

static void due(void *arg)
{
	(void)arg;
	if (X.dirty)
		write_now();
}

void metrics_configure(void)
{
	const struct sw_config *c = core_cfg();

	/* Its callback, once (re-initialising an armed timer would break
	 * the heap). */
	X.due.fn = due;
	snprintf(X.path, sizeof(X.path), "%s", c->metrics_file ? c->metrics_file : "");
	X.every = c->metrics_interval_ms;
	X.dirty = 1;
	if (X.path[0])
		loop_arm(&X.due, sys_now_ms());
	else
		loop_cancel(&X.due);
}

void metrics_changed(void)
{
	if (!X.path[0])
		return;
	X.dirty = 1;
	if (!timer_armed(&X.due))
		loop_arm(&X.due, X.written_at + X.every);
}

void metrics_flush(void)
{
	if (X.path[0])
		write_now();
}

void metrics_free(void)
{
	loop_cancel(&X.due);
	X.path[0] = '\0';
}
