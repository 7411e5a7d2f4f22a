/*
 * retain.c - retention of done/ and failed/ (see retain.h).
 *
 * One tracker per directory: its files oldest first (a deque; the listing
 * at start is sorted once, files that arrive later are the newest), their
 * byte total, one timer (the next slice, or the next file's expiry).  In
 * failed/ a sidecar (NAME.error) is counted and deleted with its file.  A
 * file deleted by someone else is dropped from the index when met; files
 * put there by others after the listing are not known until the next
 * start.
 */
#include "retain.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"
#include "drop.h"
#include "log.h"
#include "loop.h"
#include "spool.h"
#include "sys.h"
#include "trust.h"
#include "tree.h"

#define SLICE 512   /* files listed or deleted per turn of the loop */

struct rfile {
	char *name;
	int64_t mtime_ms;   /* Unix time */
	int64_t size;       /* with its sidecar */
};

struct tracker {
	char *path;
	int failed;            /* sidecars go with their files */
	int64_t keep_ms, keep_size;   /* -1: no limit */
	struct tdir dir;
	struct rfile *v;       /* deque: v[(head + i) % cap], oldest first */
	size_t head, n, cap;
	int64_t total;
	int depth;             /* subdirectory levels listed (recursive drops) */
	struct tree_walk *walk;  /* the listing under way, or NULL */
	int64_t walk_ms;       /* when it began (Unix ms) */
	char **late;           /* files placed while it lists: added after it */
	size_t nlate;
	int used;              /* by the config in force (a reload's sweep) */
	unsigned long long deleted, deleted_bytes;  /* in the current pass */
	struct timer t;
	struct tracker *next;
};

static struct tracker *T;

static struct rfile *at(struct tracker *t, size_t i)
{
	return &t->v[(t->head + i) % t->cap];
}

static int push(struct tracker *t, const char *name, int64_t mtime_ms, int64_t size)
{
	char *n;

	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 256;
		struct rfile *v = malloc(cap * sizeof(*v));

		if (!v)
			return -1;
		for (size_t i = 0; i < t->n; i++)
			v[i] = *at(t, i);
		free(t->v);
		t->v = v;
		t->head = 0;
		t->cap = cap;
	}
	if (!(n = strdup(name)))
		return -1;
	*at(t, t->n) = (struct rfile){ n, mtime_ms, size };
	t->n++;
	t->total += size;
	return 0;
}

static void pop(struct tracker *t)
{
	struct rfile *f = at(t, 0);

	t->total -= f->size;
	free(f->name);
	t->head = (t->head + 1) % t->cap;
	t->n--;
}

/* SIZE of NAME (its base name) in DFD with its sidecar (failed/), or -1 if
 * it is no file. */
static int64_t size_in(struct tracker *t, int dfd, const char *name, int64_t *mtime_ms)
{
	struct stat st;
	int64_t size;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return -1;
	size = st.st_size;
	/* Its ctime: when it was put there (a rename sets it; its mtime is
	 * the upload's, however long it waited before). */
	if (mtime_ms)
		*mtime_ms = (int64_t)st.st_ctim.tv_sec * 1000 + st.st_ctim.tv_nsec / 1000000;
	if (t->failed) {
		char side[NAME_MAX + 1];

		spool_sidecar_name(name, side);
		if (fstatat(dfd, side, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
			size += st.st_size;
	}
	return size;
}

/* The same for NAME, a path in the tracker's directory. */
static int64_t size_of(struct tracker *t, int top, const char *name, int64_t *mtime_ms)
{
	const char *base;
	int fd = tree_dir(top, name, 0, &base);
	int64_t size;

	if (fd < 0)
		return -1;
	size = size_in(t, fd, base, mtime_ms);
	tree_put(fd, top);
	return size;
}

/* Delete NAME (a path in the tracker's directory) and its sidecar. */
static int delete(struct tracker *t, int top, const char *name)
{
	const char *base;
	int fd = tree_dir(top, name, 0, &base), r;

	if (fd < 0)
		return -1;
	r = unlinkat(fd, base, 0);
	if ((r == 0 || errno == ENOENT) && t->failed) {
		char side[NAME_MAX + 1];
		int e = errno;

		spool_sidecar_name(base, side);
		unlinkat(fd, side, 0);
		errno = e;
	}
	tree_put(fd, top);
	return r;
}

static int by_mtime(const void *a, const void *b)
{
	const struct rfile *x = a, *y = b;

	return x->mtime_ms < y->mtime_ms ? -1 : x->mtime_ms > y->mtime_ms;
}

static void step(void *arg);

/* The next thing to do: a slice now, the oldest file's expiry, or nothing. */
static void schedule(struct tracker *t, int now)
{
	if (now)
		loop_arm(&t->t, sys_now_ms());
	else if (t->n && t->keep_ms >= 0)
		loop_arm(&t->t, sys_now_ms() + (at(t, 0)->mtime_ms + t->keep_ms - sys_unix_ms()) + 1);
	else
		loop_cancel(&t->t);
}

static void step(void *arg)
{
	struct tracker *t = arg;
	int dfd = tdir_fd(&t->dir, sys_now_ms()), n = 0;
	int64_t now = sys_unix_ms();

	if (t->walk) {
		struct dirent *e;

		while (n++ < SLICE && (e = tree_walk_next(t->walk))) {
			int64_t mt, size;
			struct stat st;

			if (e->d_name[0] == '.' || (t->failed && spool_is_sidecar(e->d_name)))
				continue;
			if (e->d_type == DT_DIR || (e->d_type == DT_UNKNOWN && t->depth &&
			    fstatat(tree_walk_fd(t->walk), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISDIR(st.st_mode))) {
				/* A recursive drop's files keep their paths (their
				 * emptied directories stay: a device's is used
				 * again). */
				if (t->walk->depth < t->depth)
					tree_walk_enter(t->walk);
				continue;
			}
			if ((size = size_in(t, tree_walk_fd(t->walk), e->d_name, &mt)) >= 0 &&
			    push(t, t->walk->rel, mt, size) < 0)
				break;   /* out of memory: what is known is kept */
		}
		if (n > SLICE) {
			schedule(t, 1);
			return;
		}
		tree_walk_end(t->walk);
		free(t->walk);
		t->walk = NULL;
		/* One sort, in place: nothing was popped, so the deque runs
		 * from 0. */
		if (t->n)
			qsort(t->v, t->n, sizeof(*t->v), by_mtime);
		/* Then what arrived meanwhile (the newest): once, whether the
		 * listing met it or not (if it did, it is among the entries
		 * stamped since the listing began: the end of the sorted
		 * deque). */
		for (size_t i = 0; i < t->nlate; i++) {
			int64_t size;
			int met = 0;

			for (size_t k = t->n; k-- > 0 && !met && at(t, k)->mtime_ms >= t->walk_ms;)
				met = !strcmp(at(t, k)->name, t->late[i]);
			if (!met && (size = size_of(t, dfd, t->late[i], NULL)) >= 0)
				push(t, t->late[i], sys_unix_ms(), size);
			free(t->late[i]);
		}
		free(t->late);
		t->late = NULL;
		t->nlate = 0;
		log_info("event=retention-indexed dir=%s files=%zu bytes=%lld", log_q(t->path), t->n,
			 (long long)t->total);
	}
	for (n = 0; n < SLICE && t->n; n++) {
		struct rfile *f = at(t, 0);

		if (!(t->keep_size >= 0 && t->total > t->keep_size) &&
		    !(t->keep_ms >= 0 && f->mtime_ms + t->keep_ms <= now))
			break;
		if (delete(t, dfd, f->name) == 0 || errno == ENOENT) {
			t->deleted++;
			t->deleted_bytes += (unsigned long long)f->size;
			log_debug("event=retention-deleted dir=%s file=%s", log_q(t->path),
				  log_q(f->name));
		} else {
			log_err("event=retention-failed dir=%s file=%s error=%s", log_q(t->path),
				log_q(f->name), log_q(strerror(errno)));
		}
		pop(t);
	}
	if (n == SLICE) {
		schedule(t, 1);   /* more to delete: at the next turn */
		return;
	}
	if (t->deleted)
		log_info("event=retention dir=%s deleted=%llu bytes=%llu kept=%zu kept_bytes=%lld",
			 log_q(t->path), t->deleted, t->deleted_bytes, t->n, (long long)t->total);
	t->deleted = t->deleted_bytes = 0;
	schedule(t, 0);
}

static struct tracker *find(const char *path)
{
	for (struct tracker *t = T; t && path; t = t->next)
		if (!strcmp(t->path, path))
			return t;
	return NULL;
}

static void tracker_free(struct tracker *t)
{
	loop_cancel(&t->t);
	if (t->walk)
		tree_walk_end(t->walk);
	free(t->walk);
	for (size_t i = 0; i < t->nlate; i++)
		free(t->late[i]);
	free(t->late);
	while (t->n)
		pop(t);
	free(t->v);
	tdir_close(&t->dir);
	free(t->path);
	free(t);
}

/* PATH gets retention KEEP_MS / KEEP_SIZE (a tracker made, or kept), its
 * files DEPTH levels down too. */
static void want(const char *path, int failed, int64_t keep_ms, int64_t keep_size, int depth)
{
	struct tracker *t = find(path);

	if (!path || (keep_ms < 0 && keep_size < 0))
		return;
	if (t) {
		/* Deeper (a drop made recursive): known from the next start. */
		if (depth > t->depth)
			t->depth = depth;
		t->used = 1;
		if (t->keep_ms != keep_ms || t->keep_size != keep_size) {
			t->keep_ms = keep_ms;
			t->keep_size = keep_size;
			if (!t->walk)
				schedule(t, 1);
		}
		return;
	}
	if (!(t = calloc(1, sizeof(*t))) || !(t->path = strdup(path)) ||
	    tdir_open(&t->dir, path) < 0 || !(t->walk = malloc(sizeof(*t->walk))) ||
	    tree_walk_start(t->walk, t->dir.fd) < 0) {
		log_err("event=retention-failed dir=%s error=%s", log_q(path), log_q(strerror(errno)));
		if (t) {
			free(t->walk);
			tdir_close(&t->dir);
			free(t->path);
			free(t);
		}
		return;
	}
	t->depth = depth;
	t->failed = failed;
	t->walk_ms = sys_unix_ms() - 1000;   /* ctimes are a tick coarse */
	t->keep_ms = keep_ms;
	t->keep_size = keep_size;
	t->used = 1;
	timer_init(&t->t, step, t);
	t->next = T;
	T = t;
	schedule(t, 1);
}

void retain_configure(void)
{
	const struct sw_config *c = core_cfg();
	struct tracker **p;

	for (struct tracker *t = T; t; t = t->next)
		t->used = 0;
	for (int i = 0; i < c->n_drops; i++) {
		const struct sw_drop *d = &c->drops[i];

		int depth = d->recursive ? d->max_depth : 0;

		want(d->done, 0, d->keep_done_ms, d->keep_done_size, depth);
		want(d->failed, 1, d->keep_failed_ms, d->keep_failed_size, depth);
	}
	for (p = &T; *p;) {
		struct tracker *t = *p;

		if (t->used) {
			p = &t->next;
			continue;
		}
		*p = t->next;
		tracker_free(t);
	}
}

void retain_added(struct drop *d, int to_failed, const char *final, int dfd, const char *base)
{
	struct tracker *t = find(to_failed ? d->cfg->failed : d->cfg->done);
	int64_t size;

	if (!t)
		return;
	if (t->walk) {
		/* Still listing: it may meet the file or not; it is added
		 * once the listing ends (best effort: out of memory, it is
		 * known at the next start). */
		char **late = realloc(t->late, (t->nlate + 1) * sizeof(*late));

		if (late && (late[t->nlate] = strdup(final)))
			t->nlate++;
		if (late)
			t->late = late;
		return;
	}
	if ((size = size_in(t, dfd, base, NULL)) < 0)
		return;
	if (push(t, final, sys_unix_ms(), size) < 0)
		return;
	if ((t->keep_size >= 0 && t->total > t->keep_size) || t->keep_ms == 0)
		schedule(t, 1);
	else if (t->n == 1)
		schedule(t, 0);
}

void retain_kick(struct drop *d)
{
	struct tracker *t;

	if ((t = find(d->cfg->done)) && !t->walk)
		schedule(t, 1);
	if ((t = find(d->cfg->failed)) && !t->walk)
		schedule(t, 1);
}

void retain_free(void)
{
	while (T) {
		struct tracker *t = T;

		T = t->next;
		tracker_free(t);
	}
}
