/*
 * stats.h - the daemon's counters (owned by src/stats.c): one source for
 * the SIGUSR1 line today, and for STATUS=, seawatchctl status and the
 * metrics file to come.  Gauges (queued, running, waiting) are not kept
 * here: they are read from the job table when asked.
 */
#ifndef SW_STATS_H
#define SW_STATS_H

enum sw_stat {
	STAT_CLAIMED, STAT_DONE, STAT_FAILED, STAT_RETRIED, STAT_SKIPPED,
	STAT_RECOVERED, STAT_PARKED, STAT_OVERFLOWS, STAT_WORKER_RESTARTS,
	STAT_N
};

void stats_inc(enum sw_stat s);
/* FN is called after each change (the service manager's STATUS=). */
void stats_on_change(void (*fn)(void));
unsigned long long stats_get(enum sw_stat s);
/* event=counters, with the gauges given. */
void stats_log(int queued, int running, int waiting);

#endif
