/*
 * tree.h - paths below a directory, never through a symlink (owned by
 * src/tree.c): a recursive drop's files are named by their path relative
 * to the drop ("device42/x.sea"), and so are they in done/ and failed/.
 *
 * Whoever uploads owns the subdirectories of a drop and can swap one for a
 * symlink at any moment: every path below a drop (or done/, failed/) is
 * opened one component at a time with O_NOFOLLOW, so nothing the daemon
 * does through it leaves the tree it started from.
 */
#ifndef SW_TREE_H
#define SW_TREE_H

#include <dirent.h>
#include <stddef.h>

#include "config.h"

/* The longest relative path taken (its directories and its name); a file
 * deeper in names is skipped with a warning. */
#define TREE_REL_MAX 1024

/* The last component of REL (REL itself at the top).  Pure. */
const char *tree_base(const char *rel);
/* The directories REL is below: its '/'s ("a/b/x.sea": 2).  Pure. */
int tree_depth(const char *rel);
/* 1 if REL is a relative path the daemon could have made: components of
 * 1..NAME_MAX bytes, none "." or "..", no leading, trailing or double '/',
 * shorter than TREE_REL_MAX, at most SW_DEPTH_MAX directories.  Pure. */
int tree_rel_ok(const char *rel);

/*
 * The directory holding REL's last component, below ROOTFD, opened one
 * component at a time without following a symlink (a symlink or a file on
 * the way: ENOTDIR, or ELOOP).  MAKE: create missing directories (mode
 * 0750; for done/ and failed/).  *BASE gets REL's last component.  At the
 * top (no '/' in REL) the result is ROOTFD itself; release it with
 * tree_put().  -1 with errno.
 */
int tree_dir(int rootfd, const char *rel, int make, const char **base);
/* Close FD from tree_dir() unless it is ROOTFD. */
void tree_put(int fd, int rootfd);

/*
 * A listing of a directory and, on request, of its subdirectories (depth
 * first, one open DIR per level).  Each entry's path relative to the root
 * is in rel; dirfd() the directory it is in.
 */
struct tree_walk {
	DIR *dir[SW_DEPTH_MAX + 1];
	size_t len[SW_DEPTH_MAX + 1];  /* of rel's prefix at each level */
	int depth;                     /* of the entry returned last (0: the top) */
	int open;                      /* levels open */
	char rel[TREE_REL_MAX];
};

/* Start listing ROOTFD (from its first entry).  0, or -1 with errno. */
int tree_walk_start(struct tree_walk *w, int rootfd);
/* The next entry ("." and ".." skipped; a name too long for rel skipped),
 * or NULL at the end (the walk is then ended). */
struct dirent *tree_walk_next(struct tree_walk *w);
/* The directory the last entry is in (for fstatat() of its d_name). */
int tree_walk_fd(const struct tree_walk *w);
/* List the last entry (a directory) next, before the rest of its own
 * directory: opened without following a symlink.  0, or -1 with errno. */
int tree_walk_enter(struct tree_walk *w);
/* Stop early (closes what is open).  Safe on an ended walk. */
void tree_walk_end(struct tree_walk *w);

#endif
