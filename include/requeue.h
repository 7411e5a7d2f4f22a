/*
 * requeue.h - failed files back into processing (owned by src/requeue.c;
 * seawatchctl requeue): a file of a drop's failed/ is put back into the
 * drop, where it is claimed as if just uploaded (a fresh attempt count),
 * and its .error sidecar goes, so that a second failure gets a sidecar of
 * its own, never a numbered one beside a stale one.
 */
#ifndef SW_REQUEUE_H
#define SW_REQUEUE_H

#include <stddef.h>

#include "drop.h"

/* NAME of D's failed/ back into D.  0 (*FINAL its name in the drop: a
 * collision name if one of that name waits there), or -1 with *WHY (a
 * static text). */
int requeue_one(struct drop *d, const char *name, char *final, size_t finalsz,
		const char **why);

/* What requeue_all() did. */
struct requeue_result {
	unsigned moved, refused;
	unsigned newer;         /* put in failed/ after the start: left */
	char first_name[256];   /* the first refused file, and why */
	const char *first_why;
};
/* Every file of D's failed/ that matches its pattern, a slice per turn of
 * the loop (10,000 failed files must not stall it); DONE(ARG, result) at
 * the end.  Files that fail again meanwhile are not taken twice.  0, or
 * -1 (*WHY): one runs already, or failed/ cannot be listed. */
int requeue_all(struct drop *d, void (*done)(void *arg, const struct requeue_result *r),
		void *arg, const char **why);
/* The caller of a requeue_all() under way is gone: no DONE for it. */
void requeue_forget(void *arg);
void requeue_free(void);

#endif
