/*
 * stats.h - the daemon's counters (owned by src/stats.c): one source for
 * the SIGUSR1 line today, and for STATUS=, seawatchctl status and the
 * metrics file to come.  Gauges (queued, running, waiting) are not kept
 * here: they are read from the job table when asked.
 */
#ifndef SW_STATS_H
#define SW_STATS_H

#include <stdint.h>

enum sw_stat {
	STAT_CLAIMED, STAT_DONE, STAT_FAILED, STAT_RETRIED, STAT_SKIPPED,
	STAT_RECOVERED, STAT_PARKED, STAT_OVERFLOWS, STAT_WORKER_RESTARTS,
	STAT_N
};

/* A drop's own counters since it was opened (the metrics file's). */
#define STATS_DUR_BUCKETS 10
extern const double stats_dur_bounds[STATS_DUR_BUCKETS];   /* seconds */
struct drop_stats {
	unsigned long long done, failed, retried, skipped;
	double last_done;        /* Unix time of the last file done, 0: none */
	unsigned long long dur[STATS_DUR_BUCKETS + 1];   /* per bucket; the last: +Inf */
	double dur_sum;          /* seconds */
	/* The last file that went to failed/ (its name there), or "". */
	char last_fail[256];
	char last_fail_status[64];
	char last_fail_reason[32];
	double last_fail_time;   /* Unix time, 0: none */
};
/* A file of the drop ended (FAILED or done) after DUR_MS of its last
 * attempt. */
void stats_outcome(struct drop_stats *ds, int failed, int64_t dur_ms);
/* That failed file is now FINAL in failed/, after STATUS (the last
 * attempt's) for REASON (or NULL). */
void stats_failure(struct drop_stats *ds, const char *final, const char *status,
		   const char *reason);

void stats_inc(enum sw_stat s);
/* FN is called after each change (the service manager's STATUS=). */
void stats_on_change(void (*fn)(void));
unsigned long long stats_get(enum sw_stat s);
/* event=counters, with the gauges given. */
void stats_log(int queued, int running, int waiting);

#endif
