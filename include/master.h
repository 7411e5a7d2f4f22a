/*
 * master.h - the event loop (owned by src/master.c): watcher messages,
 * worker results, retry timers and signals, in one thread.
 */
#ifndef SW_MASTER_H
#define SW_MASTER_H

#include "config.h"

struct master_opts {
	int once;          /* --once: process what is there, then exit */
	int verbose;       /* -v: debug level, whatever the config says */
	const char *cgroup; /* --cgroup: a cgroup v2 directory for commands */
};

/* Begin a graceful stop (as SIGTERM does); a second call ends the grace. */
void master_stop(void);

/* Load the config file again (SIGHUP, seawatchctl reload): a valid one
 * takes effect for new jobs.  0, or -1 with the old config kept and, if
 * WHY, the problems in *WHY (malloc'd, one per line, as --check-config
 * prints them). */
int master_reload(char **why);

/* Takes ownership of CFG.  Returns the process exit status (SPEC §2). */
int master_run(struct sw_config *cfg, const struct master_opts *opts);

#endif
