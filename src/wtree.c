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
#include "wtarget.h"

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

/* The watch of directory FD, through /proc/self/fd: the directory itself,
 * not what a path to it would lead to now.  The descriptor, or -1. */
static int watch_dirfd(int fd)
{
	char p[64];

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	return inotify_add_watch(ifd, p, SUB_MASK);
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
		int wd;

		if (max_subs >= 0 && nsubs >= max_subs && path_wd(root, rel) < 0) {
			errno = ENOSPC;
			wd = -1;
		} else {
			/* Watched first, listed after: what is made in it
			 * meanwhile raises an event. */
			wd = watch_dirfd(fd);
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
	/* The directory holding "REL/." is REL itself (never TOP: there is
	 * a '/'). */
	snprintf(dot, sizeof(dot), "%s/.", rel);
	fd = tree_dir(top, dot, 0, &base);
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
		nwd = watch_dirfd(fd);
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

/* ---- the drops' side: which drops a subdirectory is news for ---- */

/* The deepest max_depth of the recursive drops on PATH; 0: none. */
int wtree_depth(const char *path)
{
	int m = 0, n;
	struct wtarget *t = watch_targets_now(&n);

	for (int i = 0; i < n; i++)
		if (t[i].recursive && t[i].max_depth > m && !strcmp(t[i].path, path))
			m = t[i].max_depth;
	return m;
}

/* T's subdirectories could (N = 0) or could not all (N > 0, the first
 * FAILED with ERR) be watched: the master polls while some cannot. */
static void say_subfail(struct wtarget *t, int n, const char *failed, int err)
{
	if (n && !t->subfail)
		watch_send(W_POLL, t->id, failed, strlen(failed), err ? err : EIO);
	else if (!n && t->subfail)
		watch_send(W_POLL, t->id, NULL, 0, 0);
	t->subfail = n > 0;
}

/* Watch the subdirectories of T (recursive, watched): at start, back, after
 * a reload or an overflow, and while some could not be. */
void wtree_walk(struct wtarget *t)
{
	char failed[TREE_REL_MAX];
	int err = 0, n;

	if (!t->recursive || t->wd < 0)
		return;
	failed[0] = '\0';
	n = wtree_add(t->path, "", 0, wtree_depth(t->path), failed, sizeof(failed), &err);
	say_subfail(t, n, failed, err);
}

/* A subdirectory REL came into the drop at ROOT, DEPTH levels down: watched
 * with what is in it, then each recursive drop there rescans (what was
 * made in it before its watch is found so); too deep, the drops say so. */
void wtree_came(const char *root, const char *rel, int depth)
{
	char failed[TREE_REL_MAX];
	int maxd = wtree_depth(root), err = 0, n = 0, nt;
	struct wtarget *ts = watch_targets_now(&nt);

	failed[0] = '\0';
	if (depth <= maxd)
		n = wtree_add(root, rel, depth, maxd, failed, sizeof(failed), &err);
	for (int i = 0; i < nt; i++) {
		struct wtarget *t = &ts[i];

		if (!t->recursive || strcmp(t->path, root))
			continue;
		if (depth > maxd) {
			watch_send(W_FILE, t->id, rel, strlen(rel), W_SUBDIR);
			continue;
		}
		if (n)
			say_subfail(t, n, failed, err);
		watch_send(W_TREE, t->id, NULL, 0, 0);
	}
}

/* EV on a subdirectory's watch: 1 if it was one (handled). */
int wtree_event(const struct inotify_event *ev)
{
	const struct wsub *w = wtree_by_wd(ev->wd);
	char rel[TREE_REL_MAX];
	struct wtarget *ts;
	int nt;

	if (!w)
		return 0;
	if (ev->mask & IN_IGNORED) {
		wtree_ignored(ev->wd);   /* deleted: the kernel dropped it */
		return 1;
	}
	if (ev->mask & IN_MOVE_SELF) {
		wtree_moved(ev->wd);
		return 1;
	}
	if (!ev->len || !(ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE)) ||
	    snprintf(rel, sizeof(rel), "%s/%s", w->rel, ev->name) >= (int)sizeof(rel))
		return 1;
	if (ev->mask & IN_ISDIR) {
		if (ev->name[0] != '.')
			wtree_came(w->root, rel, w->depth + 1);
		return 1;
	}
	/* As in a drop: taken at its close or move, links and specials at
	 * their creation. */
	if ((ev->mask & IN_CREATE) && !watch_created_special(w->root, rel))
		return 1;
	ts = watch_targets_now(&nt);
	for (int i = 0; i < nt; i++)
		if (ts[i].recursive && !strcmp(ts[i].path, w->root))
			watch_send(W_FILE, ts[i].id, rel, strlen(rel), (ev->mask & IN_CREATE) != 0);
	return 1;
}
