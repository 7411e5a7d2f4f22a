/*
 * wtree.c - the watches on a recursive drop's subdirectories (see wtree.h).
 */
#include "wtree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tree.h"

/* Arrivals, and the directory itself moved or deleted (IN_IGNORED always
 * comes).  No IN_MOVED_FROM: every claim would raise one. */
#define SUB_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MOVE_SELF | IN_DELETE_SELF | \
		  IN_ONLYDIR)
#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

static int ifd = -1;
static struct wsub *subs;
static int nsubs, capsubs;
/* Tests: $SEAWATCH_SUBWATCH_MAX watches at most, as if the kernel's limit
 * (fs.inotify.max_user_watches, shared by all of root's processes, so not
 * one a test may lower) were reached. */
static int max_subs = -1;

int wtree_init(void)
{
	DIR *d;
	struct dirent *e;
	int found = -1, n = 0;

	if (ifd >= 0)
		return 0;
	if (getenv("SEAWATCH_SUBWATCH_MAX"))
		max_subs = atoi(getenv("SEAWATCH_SUBWATCH_MAX"));
	if (!(d = opendir("/proc/self/fd")))
		return -1;
	while ((e = readdir(d))) {
		char link[64];
		ssize_t l;

		if (e->d_name[0] == '.')
			continue;
		l = readlinkat(dirfd(d), e->d_name, link, sizeof(link) - 1);
		if (l <= 0)
			continue;
		link[l] = '\0';
		if (!strcmp(link, "anon_inode:inotify")) {
			found = atoi(e->d_name);
			n++;
		}
	}
	closedir(d);
	/* The daemon makes no inotify descriptor of its own: one, or we
	 * cannot tell which. */
	if (n != 1)
		return -1;
	ifd = found;
	return 0;
}

static int find(int wd)
{
	for (int i = 0; i < nsubs; i++)
		if (subs[i].wd == wd)
			return i;
	return -1;
}

const struct wsub *wtree_by_wd(int wd)
{
	int i = wd >= 0 ? find(wd) : -1;

	return i >= 0 ? &subs[i] : NULL;
}

static void drop_at(int i, int rm)
{
	if (rm)
		inotify_rm_watch(ifd, subs[i].wd);
	free(subs[i].root);
	free(subs[i].rel);
	subs[i] = subs[--nsubs];
}

/* Record WD as REL of ROOT (a new entry, or the one it had: moved). */
static int record(int wd, const char *root, const char *rel, int depth)
{
	int i = find(wd);
	char *r = strdup(rel), *o;

	if (!r)
		return -1;
	if (i >= 0) {
		/* Moved: within its drop, or into another recursive drop
		 * (its directories below are walked again, and follow). */
		if (strcmp(subs[i].root, root)) {
			if (!(o = strdup(root))) {
				free(r);
				return -1;
			}
			free(subs[i].root);
			subs[i].root = o;
		}
		free(subs[i].rel);
		subs[i].rel = r;
		subs[i].depth = depth;
		return 0;
	}
	if (nsubs == capsubs) {
		int cap = capsubs ? 2 * capsubs : 16;
		struct wsub *v = realloc(subs, (size_t)cap * sizeof(*v));

		if (!v) {
			free(r);
			return -1;
		}
		subs = v;
		capsubs = cap;
	}
	if (!(o = strdup(root))) {
		free(r);
		return -1;
	}
	subs[nsubs++] = (struct wsub){ wd, o, r, depth };
	return 0;
}

/* The watch of REL in ROOT, or -1. */
static int path_wd(const char *root, const char *rel)
{
	for (int i = 0; i < nsubs; i++)
		if (!strcmp(subs[i].rel, rel) && !strcmp(subs[i].root, root))
			return subs[i].wd;
	return -1;
}

static void fail(int *nfail, char *failed, size_t failedsz, int *err, const char *rel)
{
	if ((*nfail)++ == 0) {
		*err = errno;
		snprintf(failed, failedsz, "%s", rel);
	}
}

/* Watch directory FD (REL of ROOT, DEPTH down) and what is below it; FD
 * is taken.  Everything is reached by descriptor, one name at a time with
 * O_NOFOLLOW, and watched through /proc/self/fd: a symlink swapped in on
 * the way is never followed (the path given to inotify_add_watch() would
 * be, in its every component but the last). */
static int add_at(int fd, const char *root, const char *rel, int depth, int max_depth,
		  char *failed, size_t failedsz, int *err)
{
	int nfail = 0;
	DIR *d;
	struct dirent *e;

	if (depth > 0) {
		char p[64];
		int wd;

		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		if (max_subs >= 0 && nsubs >= max_subs && path_wd(root, rel) < 0) {
			errno = ENOSPC;
			wd = -1;
		} else {
			/* Watched first, listed after: what is made in it
			 * meanwhile raises an event. */
			wd = inotify_add_watch(ifd, p, SUB_MASK);
		}
		if (wd < 0 || record(wd, root, rel, depth) < 0) {
			if (wd >= 0 && find(wd) < 0)
				inotify_rm_watch(ifd, wd);   /* no memory to know it by */
			fail(&nfail, failed, failedsz, err, rel);
			close(fd);
			return nfail;
		}
	}
	if (depth >= max_depth || !(d = fdopendir(fd))) {
		close(fd);
		return nfail;
	}
	while ((e = readdir(d))) {
		char sub[TREE_REL_MAX];
		struct stat st;
		int cfd;

		if (e->d_name[0] == '.')
			continue;   /* ".", "..", hidden: not an upload */
		if (e->d_type != DT_DIR && (e->d_type != DT_UNKNOWN ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode)))
			continue;
		if (snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", e->d_name) >=
		    (int)sizeof(sub))
			continue;   /* too long a path: the scan skips its files */
		cfd = openat(dirfd(d), e->d_name, DIR_FLAGS);
		if (cfd < 0)
			continue;   /* gone, or not a directory now */
		nfail += add_at(cfd, root, sub, depth + 1, max_depth, failed, failedsz, err);
	}
	closedir(d);
	return nfail;
}

/* Directory REL of ROOT (the drop's path: the admin's), opened one name at
 * a time without following a symlink.  -1 with errno. */
static int open_rel(const char *root, const char *rel)
{
	int top = open(root, DIR_FLAGS), fd;
	char dot[TREE_REL_MAX + 2];
	const char *base;

	if (top < 0 || !*rel)
		return top;
	/* The directory holding "REL/." is REL itself. */
	snprintf(dot, sizeof(dot), "%s/.", rel);
	fd = tree_dir(top, dot, 0, &base);
	if (fd == top)
		return fd;
	close(top);
	return fd;
}

int wtree_add(const char *root, const char *rel, int depth, int max_depth,
	      char *failed, size_t failedsz, int *err)
{
	int nfail = 0, fd;

	if (depth > 0 && ifd < 0) {
		errno = ENOSYS;
		fail(&nfail, failed, failedsz, err, rel);
		return nfail;
	}
	if ((fd = open_rel(root, rel)) < 0)
		return 0;   /* gone, or not a directory now: its parent says so */
	return add_at(fd, root, rel, depth, max_depth, failed, failedsz, err);
}

/* Forget the entries of ROOT whose path is REL or below it. */
static void forget_below(const char *root, const char *rel)
{
	size_t l = strlen(rel);

	for (int i = 0; i < nsubs;) {
		if (!strcmp(subs[i].root, root) && !strncmp(subs[i].rel, rel, l) &&
		    (subs[i].rel[l] == '\0' || subs[i].rel[l] == '/'))
			drop_at(i, 1);
		else
			i++;
	}
}

void wtree_moved(int wd)
{
	char root[PATH_MAX], rel[TREE_REL_MAX];
	int i = find(wd), depth, nwd, fd;

	if (i < 0)
		return;
	snprintf(root, sizeof(root), "%s", subs[i].root);
	snprintf(rel, sizeof(rel), "%s", subs[i].rel);
	depth = subs[i].depth;
	/* Does its path still lead to it (its new place in the drop was
	 * announced first, and taken as its path)?  The kernel's answer: the
	 * descriptor an add of that path gets. */
	nwd = -1;
	if ((fd = open_rel(root, rel)) >= 0) {
		char p[64];

		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		nwd = inotify_add_watch(ifd, p, SUB_MASK);
		close(fd);
	}
	if (nwd == wd)
		return;
	if (nwd >= 0) {
		/* Another directory took its place: watched as that path
		 * (what was below the old one is not below it). */
		forget_below(root, rel);
		if (record(nwd, root, rel, depth) < 0)
			inotify_rm_watch(ifd, nwd);
		return;
	}
	/* Moved out of the drop: unwatched, with what is below it. */
	forget_below(root, rel);
}

void wtree_ignored(int wd)
{
	int i = find(wd);

	if (i >= 0)
		drop_at(i, 0);
}

void wtree_forget(const char *root)
{
	for (int i = 0; i < nsubs;) {
		if (!strcmp(subs[i].root, root))
			drop_at(i, 1);
		else
			i++;
	}
}

void wtree_prune(int (*depth)(const char *root))
{
	for (int i = 0; i < nsubs;) {
		if (!depth(subs[i].root))
			drop_at(i, 1);
		else
			i++;
	}
}

void wtree_free(void)
{
	while (nsubs)
		drop_at(nsubs - 1, 0);   /* the descriptor is closed with the library */
	free(subs);
	subs = NULL;
	capsubs = 0;
	ifd = -1;
}
