/*
 * watch.h - the libinotifytools side (owned by src/watch.c).
 *
 * libinotifytools is not thread-safe, hides its descriptor and blocks in
 * whole seconds, so one thread owns it and turns kernel events into
 * fixed-size messages on a pipe that the master polls.  The master never
 * waits on the library.
 */
#ifndef SW_WATCH_H
#define SW_WATCH_H

#include <stdint.h>

#include "tree.h"

enum watch_type {
	W_FILE = 1,   /* a file was closed after writing or moved in: name */
	W_OVERFLOW,   /* the kernel queue overflowed: rescan every drop */
	W_LOST,       /* the drop directory went away (deleted, moved, unmounted) */
	W_BACK,       /* the drop directory is watched (again): rescan it */
	W_TREE,       /* a subdirectory came (and is watched, with what is in
		       * it): rescan the drop */
	W_POLL,       /* created = errno: a subdirectory (name) could not be
		       * watched, the drop must be rescanned now and then;
		       * created = 0: every one is watched again */
};

/* watch_msg.created for a subdirectory. */
#define W_SUBDIR 2

struct watch_msg {
	uint16_t type;
	uint16_t len;     /* of name, without NUL */
	uint32_t id;      /* drop id given to watch_set() */
	uint32_t created; /* W_FILE from IN_CREATE (a link or a special file),
			   * not from a close or a move; W_SUBDIR: a
			   * subdirectory not taken came (its path) */
	char name[TREE_REL_MAX];  /* a path in the drop: only len bytes are
				   * sent, so a message stays below PIPE_BUF */
};

struct watch_target {
	uint32_t id;
	const char *path;
	int recursive;    /* its subdirectories are watched too ... */
	int max_depth;    /* ... this many levels down */
};

/* Initialise the library (its inotify descriptor: made before the many
 * descriptors of the drops, since the library select()s on it, which stops
 * at 1023) and the pipe.  0 or -1.  watch_start() calls it if need be. */
int watch_init(void);
/* Initialise the library and watch TARGETS now; -1 (errno set, *BAD = the
 * index that failed) if one cannot be watched.  Then start the thread. */
int watch_start(const struct watch_target *targets, int n, int *bad);
/* Replace the set of watched directories (on reload).  The watcher applies
 * it within a second and sends W_BACK for each newly watched one. */
int watch_set(const struct watch_target *targets, int n);
/* The descriptor to poll for messages (non-blocking). */
int watch_fd(void);
/* Read the next message; 1, or 0 when none is ready now, -1 on error. */
int watch_next(struct watch_msg *m);
/* Stop the thread and release the library. */
void watch_stop(void);

#endif
