/*
 * wtree.h - the watches on a recursive drop's subdirectories (owned by
 * src/wtree.c; used by the watcher thread alone, see watch.c).
 *
 * They are kernel watches on the library's inotify descriptor, not the
 * library's: libinotifytools keeps a record per watch that it never frees
 * when the kernel drops the watch (a directory deleted) and cannot remove
 * then, so a gateway whose devices come and go would leak one a directory.
 * Its event loop reads them like its own.  Each watch is known by its
 * descriptor, with the drop directory it is under (ROOT, '/'-ended, as the
 * watcher keys drops) and its path there; adding the watch of a directory
 * watched already (moved within the drop) keeps its descriptor and takes
 * the new path.
 */
#ifndef SW_WTREE_H
#define SW_WTREE_H

#include <stddef.h>

struct wsub {
	int wd;
	char *root;   /* the drop's path, '/'-ended */
	char *rel;    /* the directory's path in it: "a/b" */
	int depth;    /* levels below the drop: 1 for "a" */
};

/* Find the library's inotify descriptor (after inotifytools_initialize()).
 * 0, or -1: no subdirectory can be watched (no /proc). */
int wtree_init(void);
/* Watch directory REL of ROOT (DEPTH levels down; "" and 0: the drop
 * itself, which is not watched here) and every directory below it down to
 * MAX_DEPTH, each watched before it is listed, so that nothing made in it
 * meanwhile goes unseen.  Returns the number of directories that could not
 * be watched (the first one's path in *FAILED, its errno in *ERR); deeper
 * directories are not watched (the master says so when it scans). */
int wtree_add(const char *root, const char *rel, int depth, int max_depth,
	      char *failed, size_t failedsz, int *err);
/* The subdirectory watched by WD, or NULL. */
const struct wsub *wtree_by_wd(int wd);
/* WD moved (IN_MOVE_SELF): if its path no longer names it, it and what is
 * below it are no longer watched. */
void wtree_moved(int wd);
/* The kernel dropped WD (IN_IGNORED: deleted, unmounted). */
void wtree_ignored(int wd);
/* Unwatch the subdirectories of every ROOT for which DEPTH(ROOT) is 0 (no
 * recursive drop there now). */
void wtree_prune(int (*depth)(const char *root));
/* Unwatch everything under ROOT (lost, no longer recursive). */
void wtree_forget(const char *root);
/* Unwatch everything. */
void wtree_free(void);

/* The drops' side (struct wtarget: wtarget.h). */
struct wtarget;
struct inotify_event;
/* The deepest max_depth of the recursive drops on PATH; 0: none. */
int wtree_depth(const char *path);
/* Watch the subdirectories of T (recursive, watched): at start, back, after
 * a reload or an overflow, and while some could not be; W_POLL says when
 * some cannot be, and when all are again. */
void wtree_walk(struct wtarget *t);
/* A subdirectory REL came into the drop at ROOT, DEPTH levels down: watched
 * with what is in it, then W_TREE to each recursive drop there (a rescan
 * finds what was made in it before its watch); too deep, W_SUBDIR. */
void wtree_came(const char *root, const char *rel, int depth);
/* EV on a subdirectory's watch: 1 if it was one (handled: its files are
 * news for the recursive drops there). */
int wtree_event(const struct inotify_event *ev);

#endif
