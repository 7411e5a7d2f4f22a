/*
 * stats.c - the daemon's counters (see stats.h).
 */
#include "stats.h"

#include "log.h"

#include <time.h>

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
	{
		/* The vDSO's clock: no system call. */
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ds->last_done = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	}
	while (b < STATS_DUR_BUCKETS && s > stats_dur_bounds[b])
		b++;
	ds->dur[b]++;
	ds->dur_sum += s;
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
