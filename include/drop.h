/*
 * drop.h - the set of drops (owned by src/drop.c): each drop's spool,
 * its done/ and failed/ held open, its scan cursor, lost and back, the
 * reload's diff (drops kept, added, retired), and what each worker must
 * hold of them (the attempts tables).
 *
 * A struct drop is a record others read (intake and outcome use its
 * config, spool and directories); its fields change here, or through the
 * functions below.
 */
#ifndef SW_DROP_H
#define SW_DROP_H

#include <dirent.h>
#include <stdint.h>

#include "config.h"
#include "spool.h"
#include "stats.h"
#include "timer.h"
#include "trust.h"

struct cfgref;
struct settle_tab;
struct tree_walk;

struct drop {
	uint32_t id;
	struct cfgref *ref;
	const struct sw_drop *cfg;
	struct spool sp;
	int open;          /* sp is usable */
	int lost;          /* the directory went away */
	int reopen;        /* it came back while jobs ran in the old one */
	int retiring;      /* gone from the config; ends with its last job */
	int paused;        /* claims nothing, starts nothing (seawatchctl pause) */
	int opened;        /* opened once: its pause mark was read */
	int disk_low;      /* too little free space: claims nothing (guard.c) */
	int64_t guard_at;  /* its last look at the free space */
	struct timer guard_recheck;  /* while low: look again */
	int njobs;
	struct tree_walk *scan;  /* scan pass in progress (intake.c) */
	uint32_t spool_id; /* names sp's attempts table to the workers */
	int dirty;         /* a scan is needed */
	struct tdir done, failed;  /* held open (trust.h) */
	int64_t skip_window;       /* start of the minute of skip warnings */
	int skip_logged;           /* warnings in it */
	unsigned skip_quiet;       /* skips not warned about in it */
	char **subdirs;            /* subdirectories said to be ignored (too deep) */
	int nsubdirs;
	int subdirs_more;          /* more than those: said once */
	struct timer claim_retry;  /* a claim failed: scanned again then */
	int unwatched;             /* subdirectories the kernel would not watch */
	struct timer poll;         /* ... so the drop is scanned every POLL_MS */
	struct drop_stats st;      /* its counters (the metrics file) */
	struct settle_tab *settle; /* files waiting to settle (settle.c) */
	struct drop *next;
};

/* Open every drop of the config in force (start).  0, or -1 (logged). */
int drops_start(void);
/* The first drop (then ->next), retiring ones included. */
struct drop *drops_first(void);
struct drop *drop_by_id(uint32_t id);
/* The mark in the spool (S/DROP/paused) of a paused drop. */
#define DROP_PAUSED "paused"

/* The drop of that name in the config in force, or NULL. */
struct drop *drop_by_name(const char *name);
/* Stop claiming D's files and starting its jobs (running ones finish;
 * queued ones are held); marked in its spool, so that a restart keeps it
 * paused (a reopen after the drop was lost writes or removes the mark as
 * the flag says).  *SAVED 0 if the mark could not be made (logged).  1 if
 * it was running, 0 if paused already. */
int drop_pause(struct drop *d, int *saved);
/* Claim again; held jobs go back to the queue; the mark removed (*SAVED 0
 * if it could not be).  1 if it was paused. */
int drop_resume(struct drop *d, int *saved);
/* Open, not lost, not retiring: its files may be claimed. */
int drop_usable(const struct drop *d);
/* A job came into / left the drop (a retiring drop ends with its last). */
void drop_job_added(struct drop *d);
void drop_job_released(struct drop *d);
/* A claim failed: scan the drop again after DELAY ms. */
void drop_claim_later(struct drop *d, int64_t delay);
/* The watcher's news.  drop_unwatched: subdirectory REL of D could not be
 * watched (ERR): D is polled; ERR 0: every one is watched again. */
void drop_unwatched(struct drop *d, int err, const char *rel);
void drops_overflow(void);
void drop_lost(struct drop *d);
void drop_back(struct drop *d);
/* Room in every attempts table for CAP slots (best effort). */
void drops_reserve(int cap);
/* Worker WI (just started) gets every open drop's attempts table. */
void drops_send_spools(int wi);
/* Look again for dead daemons' runs and set-aside files. */
void drops_recover_again(void);
/* Every drop scanned, recovered, nothing left to look at (--once). */
int drops_idle(void);
/* Tell the watcher which drops to watch: at start (WATCH_START) or after
 * a reload.  0, or -1 (logged). */
int drops_watch(int start);
/* A reload to NC (whose cfgref REF is current now): keep the drops whose
 * name, directory and spool stay, retire the others, add the new. */
void drops_reload(struct cfgref *ref);
void drops_free(void);

#endif
