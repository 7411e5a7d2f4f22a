/*
 * stats.c - the daemon's counters (see stats.h).
 */
#include "stats.h"

#include "log.h"

static unsigned long long counters[STAT_N];
static void (*changed)(void);

void stats_inc(enum sw_stat s)
{
	counters[s]++;
	if (changed)
		changed();
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
