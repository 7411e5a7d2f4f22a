/*
 * stats.c - the daemon's counters (see stats.h).
 */
#include "stats.h"

#include "log.h"
#include "sys.h"

#include <stdio.h>

const double stats_dur_bounds[STATS_DUR_BUCKETS] = {
	0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300
};

static unsigned long long counters[STAT_N];
static void (*changed)(void);

void stats_inc(enum sw_stat s)
{
	counters[s]++;
	if (changed)
		changed();
}

void stats_outcome(struct drop_stats *ds, int failed, int64_t dur_ms)
{
	double s = (double)dur_ms / 1000.0;
	int b = 0;

	if (failed) {
		ds->failed++;
		return;
	}
	ds->done++;
	ds->last_done = (double)sys_unix_ms() / 1000.0;
	while (b < STATS_DUR_BUCKETS && s > stats_dur_bounds[b])
		b++;
	ds->dur[b]++;
	ds->dur_sum += s;
}

void stats_failure(struct drop_stats *ds, const char *final, const char *status,
		   const char *reason)
{
	snprintf(ds->last_fail, sizeof(ds->last_fail), "%s", final);
	snprintf(ds->last_fail_status, sizeof(ds->last_fail_status), "%s", status);
	snprintf(ds->last_fail_reason, sizeof(ds->last_fail_reason), "%s", reason ? reason : "");
	ds->last_fail_time = (double)sys_unix_ms() / 1000.0;
}

void stats_on_change(void (*fn)(void))
{
	changed = fn;
}

unsigned long long stats_get(enum sw_stat s)
{
	return counters[s];
}

void stats_log(int queued, int running, int waiting)
{
	log_info("event=counters claimed=%llu done=%llu failed=%llu retried=%llu "
		 "skipped=%llu recovered=%llu set_aside=%llu overflows=%llu worker_restarts=%llu "
		 "queued=%d running=%d waiting=%d", counters[STAT_CLAIMED], counters[STAT_DONE],
		 counters[STAT_FAILED], counters[STAT_RETRIED], counters[STAT_SKIPPED],
		 counters[STAT_RECOVERED], counters[STAT_PARKED], counters[STAT_OVERFLOWS],
		 counters[STAT_WORKER_RESTARTS], queued, running, waiting);
}
