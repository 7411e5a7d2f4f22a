/*
 * wtarget.h - the watcher thread's drops (owned by src/watch.c; the
 * subdirectory watches of src/wtree.c read them and send the master their
 * news through watch.c).  The watcher thread's alone.
 */
#ifndef SW_WTARGET_H
#define SW_WTARGET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "watch.h"

struct wtarget {
	uint32_t id;
	char *path;     /* with a trailing '/', as the library keys it */
	int wd;         /* -1 when not watched */
	dev_t dev;      /* the directory watched, to notice a replacement */
	ino_t ino;
	int lost;       /* was watched once: say W_BACK when it returns */
	char *parent;   /* its parent, with a trailing '/', or NULL (the root) */
	const char *base; /* its name in the parent (in path, '/'-ended) */
	int pwd;        /* the parent's watch, -1 when not watched */
	int recursive;  /* its subdirectories are watched (wtree.c) ... */
	int max_depth;  /* ... down to this depth */
	int subfail;    /* some could not be: the master polls (W_POLL) */
};

/* The thread's drops now (*N of them). */
struct wtarget *watch_targets_now(int *n);
/* A message to the master (NAME of LEN bytes; see struct watch_msg). */
void watch_send(enum watch_type type, uint32_t id, const char *name, size_t len, int created);
/* NAME (a path below ROOT, '/'-ended) was created as what must be passed
 * on at once: a hard link, or not a regular file (refused with a log line). */
int watch_created_special(const char *root, const char *name);

#endif
