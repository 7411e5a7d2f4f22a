/*
 * intake.h - from a name in a drop to a queued job (owned by
 * src/intake.c): the pattern, what is refused (not a regular file), the
 * open-for-writing probe, settling, the files waiting by name, the claim
 * into the spool, the scan cursor, and adopting dead daemons' files.
 * Taking a claimed file over is admit.c's.
 */
#ifndef SW_INTAKE_H
#define SW_INTAKE_H

#include "drop.h"

/* Set up (settle's deadlines come here).  Once, at start. */
void intake_init(void);
/* Claim what waited by name, and from recovery and scans, in turns, at
 * most BUDGET files; 1 if the budget ran out with room left (call again
 * soon). */
int intake_refill(int budget);
/* NAME is one of D's files (its pattern; never a dot-name). */
int intake_matches(const struct drop *d, const char *name);
/* A subdirectory REL (its path in the drop) whose files are not taken: D
 * is not recursive, or REL is deeper than max_depth.  Said once per path
 * (at most SUBDIRS_SAID paths a drop). */
void intake_subdir(struct drop *d, const char *rel);
/* End D's scan pass, if one is under way. */
void intake_scan_end(struct drop *d);
/* The watcher saw NAME (its path in the drop) in D (CREATED: a link,
 * probed first). */
void intake_file(struct drop *d, const char *name, int created);
/* NAME of D is not taken (WHY): a warning, at most SKIP_LOG_MAX a minute
 * per drop, the rest counted. */
void intake_skipped(struct drop *d, const char *name, const char *why);

#endif
