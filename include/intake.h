/*
 * intake.h - from a name in a drop to a queued job (owned by
 * src/intake.c): the pattern, what is refused (not a regular file, hard
 * links where anyone may link anything), the open-for-writing probe, the
 * claim into the spool, taking the file over (seal) or making its private
 * copy, the scan cursor, and adopting dead daemons' files.
 */
#ifndef SW_INTAKE_H
#define SW_INTAKE_H

#include "drop.h"

/* Set up (settle's deadlines come here).  Once, at start. */
void intake_init(void);
/* Claim from recovery, then from scans, at most BUDGET files; 1 if the
 * budget ran out with room left (call again soon). */
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
/* Take job S (JS_NEW) over: into the queue, or its private copy first. */
void intake_admit(int s);
/* The private copy of job S (JS_COPYING) ended (ERR 0: made). */
void intake_copied(int s, int err);

#endif
