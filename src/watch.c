/*
 * watch.c - one thread owns libinotifytools (see watch.h).
 *
 * The thread blocks in inotifytools_next_events() without a timeout: an
 * idle daemon must not wake the CPU (gateways run on small power
 * budgets).  What used to need a look once a second is an event now:
 *  - the master wakes the thread (a new target set, the stop) by writing a
 *    byte to a pipe the thread watches (/proc/self/fd/N: a write raises
 *    IN_MODIFY on it), which no signal race can lose;
 *  - a drop deleted while the master holds descriptors on it raises
 *    nothing on itself, but its parent says IN_DELETE (or IN_MOVED_FROM)
 *    for its name, and IN_CREATE (IN_MOVED_TO) when it is back: each
 *    drop's parent is watched too.
 * Where a parent or a drop cannot be watched (gone, say) the thread
 * looks again every DEGRADED_S seconds, and every SAFETY_S seconds anyway
 * (what no event says: a parent replaced, a directory above it moved);
 * without the wake-up pipe, every second, as before.  IN_Q_OVERFLOW
 * arrives as an event with wd == -1: the master answers it with a rescan.
 * Messages are written at their length, each below PIPE_BUF, so they are
 * atomic; if the master is busy, the thread blocks on the pipe and the
 * kernel queue absorbs the rest (and, beyond that, overflows into a
 * rescan: nothing is lost).
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <inotifytools/inotifytools.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "watch.h"
#include "wtarget.h"
#include "wtree.h"

/* IN_DONT_FOLLOW: a drop replaced by a symlink (its parent may be an
 * uploader's) is not watched through it; it stays lost. */
#define WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE_SELF | \
		    IN_MOVE_SELF | IN_UNMOUNT | IN_ONLYDIR | IN_DONT_FOLLOW)
/* A drop's parent: its entries coming and going. */
#define PARENT_MASK (IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF | \
		     IN_MOVE_SELF | IN_UNMOUNT | IN_ONLYDIR)
#define DEGRADED_S 30
#define SAFETY_S 60


static pthread_t thread;
static int started;
static volatile sig_atomic_t stop_requested;
static int pipefd[2] = { -1, -1 };
static int kickfd[2] = { -1, -1 };   /* the master wakes the thread */
static int kick_wd = -1;
static struct wtarget *targets;  /* owned by the thread once started */
static int ntargets;

struct wtarget *watch_targets_now(int *n)
{
	*n = ntargets;
	return targets;
}

/* A new target set from the master, applied by the thread. */
static pthread_mutex_t pend_lock = PTHREAD_MUTEX_INITIALIZER;
static struct wtarget *pending;
static int npending = -1;

/* Reading side (master): a buffer so partial reads cannot split a message. */
static char rbuf[sizeof(struct watch_msg) * 32];
static size_t rlen, rpos;

#define MSG_HEAD offsetof(struct watch_msg, name)
_Static_assert(sizeof(struct watch_msg) <= PIPE_BUF, "a message must be written at once");

void watch_send(enum watch_type type, uint32_t id, const char *name, size_t len,
		int created)
{
	struct watch_msg m;

	if (len >= sizeof(m.name))
		return;   /* a path too long to take: its files are skipped by scans too */
	memset(&m, 0, MSG_HEAD);
	m.type = (uint16_t)type;
	m.id = id;
	m.created = (uint32_t)created;
	m.len = (uint16_t)len;
	if (len)
		memcpy(m.name, name, len);
	/* Only what is used: most names are short. */
	while (write(pipefd[1], &m, MSG_HEAD + len) < 0 && errno == EINTR && !stop_requested)
		;
}

static void free_targets(struct wtarget *t, int n);

static struct wtarget *copy_targets(const struct watch_target *t, int n)
{
	struct wtarget *c = calloc((size_t)(n ? n : 1), sizeof(*c));
	int i;

	if (!c)
		return NULL;
	for (i = 0; i < n; i++) {
		size_t l = strlen(t[i].path);

		c[i].id = t[i].id;
		c[i].wd = -1;
		c[i].recursive = t[i].recursive;
		c[i].max_depth = t[i].max_depth;
		c[i].path = malloc(l + 2);
		if (!c[i].path) {
			while (i--)
				free(c[i].path);
			free(c);
			return NULL;
		}
		memcpy(c[i].path, t[i].path, l);
		if (l == 0 || t[i].path[l - 1] != '/')
			c[i].path[l++] = '/';
		c[i].path[l] = '\0';
		c[i].pwd = -1;
		c[i].base = "";
		if (l > 1) {
			/* "/a/b/": parent "/a/", base "b/" (compared up to the '/'). */
			size_t k = l - 1;

			while (k > 0 && c[i].path[k - 1] != '/')
				k--;
			c[i].base = c[i].path + k;
			c[i].parent = strndup(c[i].path, k);
			if (!c[i].parent) {
				free_targets(c, i + 1);
				return NULL;
			}
		}
	}
	return c;
}

static void free_targets(struct wtarget *t, int n)
{
	int i;

	for (i = 0; t && i < n; i++) {
		free(t[i].path);
		free(t[i].parent);
	}
	free(t);
}

static void retry_unwatched(void);
static int add_parent(struct wtarget *t);

/* The mask PATH is watched with: a drop's, a parent's, or both (one
 * inode has one watch; adding it again replaces its mask). */
static int mask_for(const char *path)
{
	int m = 0;

	for (int i = 0; i < ntargets; i++) {
		if (!strcmp(targets[i].path, path))
			m |= WATCH_MASK;
		if (targets[i].parent && !strcmp(targets[i].parent, path))
			m |= PARENT_MASK;
	}
	/* Both roles: a symlink in the drop's place is still not followed. */
	return m & WATCH_MASK ? m : m & ~IN_DONT_FOLLOW;
}

/* Watch T's parent, if it is not.  0, or -1 (looked at again later). */
/* Roles the watch WD plays for the current targets: 1 a drop's, 2 a
 * parent's. */
static int roles_of(int wd)
{
	int r = 0;

	for (int i = 0; wd >= 0 && i < ntargets; i++)
		r |= (targets[i].wd == wd) | (targets[i].pwd == wd) << 1;
	return r;
}

/* The watch of PATH, for role ROLE (1 a drop, 2 a parent); -1 with errno.
 * A watch that plays the role already is shared as it is: libinotifytools
 * keeps one record per watch, and adding a watched path again leaks its
 * new record -- so that happens only when the role is new to the path (a
 * drop whose parent is another drop), to widen its mask. */
static int watch_path(const char *path, int role)
{
	int wd = inotifytools_wd_from_filename(path);

	if (wd >= 0 && (roles_of(wd) & role))
		return wd;
	if (!inotifytools_watch_file(path, mask_for(path))) {
		errno = inotifytools_error();
		return -1;
	}
	return inotifytools_wd_from_filename(path);
}

static int add_parent(struct wtarget *t)
{
	if (t->pwd >= 0)
		return 0;
	if (!t->parent || (t->pwd = watch_path(t->parent, 2)) < 0)
		return -1;
	for (int i = 0; i < ntargets; i++)
		if (targets[i].parent && !strcmp(targets[i].parent, t->parent))
			targets[i].pwd = t->pwd;
	return 0;
}

static int add_watch(struct wtarget *t)
{
	struct stat st;

	if ((t->wd = watch_path(t->path, 1)) < 0)
		return -1;
	if (lstat(t->path, &st) == 0) {
		t->dev = st.st_dev;
		t->ino = st.st_ino;
	}
	return 0;
}

static void lose(struct wtarget *t)
{
	if (t->wd >= 0 && !t->lost)
		watch_send(W_LOST, t->id, NULL, 0, 0);
	if (t->recursive)
		wtree_forget(t->path);
	t->wd = -1;
	t->lost = 1;
}

/* Every target on watch WD is lost; REMOVE: the kernel watch is still
 * there (the directory moved away) and must go, once. */
static void lose_wd(int wd, int remove)
{
	int i;

	if (remove) {
		inotifytools_remove_watch_by_wd(wd);
		/* It was someone's parent too: that one is watched anew. */
		for (i = 0; i < ntargets; i++)
			if (targets[i].pwd == wd)
				targets[i].pwd = -1;
	}
	for (i = 0; i < ntargets; i++)
		if (targets[i].wd == wd)
			lose(&targets[i]);
}

/*
 * The kernel says IN_DELETE_SELF only when the directory's inode goes away,
 * and the master holds descriptors on every drop (its spool), so a deleted
 * drop stays silent.  When its parent says something of its name (and at
 * most once a second under traffic), check that each path still names the
 * directory we watch; if not, drop the watch and look for it again.
 */
static void check_paths(int force)
{
	static struct timespec last;
	struct timespec now;
	struct stat st;
	int i;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec == last.tv_sec && !force)
		return;
	last = now;
	/* Also under steady traffic (the library's timeout never fires then):
	 * look again for directories not watched (gone, or newly set), and
	 * subdirectories that could not be (watches freed since?). */
	retry_unwatched();
	for (i = 0; i < ntargets; i++)
		if (targets[i].subfail && (force || now.tv_sec % DEGRADED_S == 0))
			wtree_walk(&targets[i]);
	for (i = 0; i < ntargets; i++) {
		struct wtarget *t = &targets[i];

		if (t->wd < 0)
			continue;
		if (lstat(t->path, &st) == 0 && st.st_dev == t->dev && st.st_ino == t->ino)
			continue;
		lose_wd(t->wd, 1);
	}
	/* ... and what was lost just now may be there again already. */
	retry_unwatched();
}

/* Thread: adopt a new target set, keeping the watches that stay. */
static void apply_pending(void)
{
	struct wtarget *n;
	int nn, i, j;

	pthread_mutex_lock(&pend_lock);
	n = pending;
	nn = npending;
	pending = NULL;
	npending = -1;
	pthread_mutex_unlock(&pend_lock);
	if (nn < 0)
		return;
	for (i = 0; i < ntargets; i++) {
		int keep = 0;

		for (j = 0; j < nn; j++) {
			if (!strcmp(targets[i].path, n[j].path) && n[j].wd < 0) {
				n[j].wd = targets[i].wd;
				n[j].lost = targets[i].lost;
				n[j].subfail = targets[i].subfail;  /* so "watched again" is said */
				n[j].dev = targets[i].dev;
				n[j].ino = targets[i].ino;
				keep = 1;
				break;
			}
		}
		/* A parent watched already stays theirs (no second record). */
		for (j = 0; j < nn; j++)
			if (targets[i].pwd >= 0 && targets[i].parent && n[j].parent &&
			    !strcmp(targets[i].parent, n[j].parent))
				n[j].pwd = targets[i].pwd;
		for (j = 0; !keep && j < nn; j++)
			if (n[j].wd == targets[i].wd || n[j].pwd == targets[i].wd)
				keep = 1;   /* another drop on that directory, or a parent, stays */
		if (!keep && targets[i].wd >= 0)
			inotifytools_remove_watch_by_wd(targets[i].wd);
	}
	for (j = 0; j < nn; j++)
		if (n[j].wd < 0)
			n[j].lost = 1;  /* new: announce it once watched */
	{
		struct wtarget *old = targets;
		int nold = ntargets;

		targets = n;
		ntargets = nn;
		for (j = 0; j < nn; j++)
			add_parent(&n[j]);
		/* Parents no longer anyone's (nor a drop's): unwatched. */
		for (i = 0; i < nold; i++) {
			int used = old[i].pwd < 0;

			for (j = 0; j < nn && !used; j++)
				used = n[j].wd == old[i].pwd || n[j].pwd == old[i].pwd;
			for (j = 0; j < i && !used; j++)
				used = old[j].pwd == old[i].pwd;   /* removed already */
			if (!used)
				inotifytools_remove_watch_by_wd(old[i].pwd);
		}
		free_targets(old, nold);
	}
	/* The new drops are watched now (and said: W_BACK), not at a tick. */
	retry_unwatched();
	/* Subdirectories: of drops no longer recursive unwatched, of drops
	 * made recursive watched (a walk of what is watched already adds
	 * nothing). */
	wtree_prune(wtree_depth);
	for (j = 0; j < ntargets; j++)
		wtree_walk(&targets[j]);
}

static void retry_unwatched(void)
{
	int i;

	for (i = 0; i < ntargets; i++) {
		add_parent(&targets[i]);
		if (targets[i].wd >= 0 || add_watch(&targets[i]) < 0)
			continue;
		wtree_walk(&targets[i]);   /* before the master's rescan */
		if (targets[i].lost)
			watch_send(W_BACK, targets[i].id, NULL, 0, 0);
		targets[i].lost = 0;
	}
}

static struct wtarget *by_wd(int wd)
{
	int i;

	for (i = 0; i < ntargets; i++)
		if (targets[i].wd == wd)
			return &targets[i];
	return NULL;
}

/* How long the thread may sleep: for ever, unless a parent cannot be
 * watched (then DEGRADED_S) or the master cannot wake it (then 1 s). */
static long wait_s(void)
{
	if (kick_wd < 0)
		return 1;
	for (int i = 0; i < ntargets; i++)
		if (targets[i].pwd < 0 || targets[i].wd < 0 || targets[i].subfail)
			return DEGRADED_S;
	/* The net under the events: a parent replaced, a directory above it
	 * moved, a file system mounted over it, a watch the kernel refused
	 * -- no event says those; a look once a minute does (with the
	 * master's own minute, twice a minute in all). */
	return SAFETY_S;
}

/* EV on a drop's parent: about a drop's name (1: look at the paths now), or
 * the parent itself gone (its drops' parents are watched anew). */
static int parent_event(const struct inotify_event *ev)
{
	int hit = 0;

	for (int i = 0; i < ntargets; i++) {
		struct wtarget *t = &targets[i];
		size_t bl = strlen(t->base);

		if (t->pwd != ev->wd)
			continue;
		if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT | IN_IGNORED)) {
			/* Moved away, it is still watched under its old name:
			 * that watch goes (once, for all its drops). */
			if ((ev->mask & IN_MOVE_SELF) && !hit)
				inotifytools_remove_watch_by_wd(t->pwd);
			t->pwd = -1;
			hit = 1;
		} else if (ev->len && bl > 1 && !strncmp(ev->name, t->base, bl - 1) &&
			   ev->name[bl - 1] == '\0') {
			hit = 1;
		}
	}
	if (hit)
		retry_unwatched();
	return hit;
}

static void on_wake(int sig)
{
	(void)sig;  /* only to interrupt select(): stop_requested says why */
}

int watch_created_special(const char *root, const char *name)
{
	char p[PATH_MAX];
	struct stat st;

	if (tree_base(name)[0] == '.' ||
	    snprintf(p, sizeof(p), "%s%s", root, name) >= (int)sizeof(p) ||
	    lstat(p, &st) < 0)
		return 0;
	/* A hard link (link(2), cp -l) only raises IN_CREATE too, and its
	 * content is complete: pass it on.  A newly created file has one link
	 * and is taken on its close. */
	if (S_ISREG(st.st_mode))
		return st.st_nlink > 1;
	return !S_ISDIR(st.st_mode);
}

static void *watch_main(void *arg)
{
	sigset_t wake;

	(void)arg;
	/* The master blocks every signal before starting us; SIGUSR2 alone is
	 * let through here, so that watch_stop() can break our select(). */
	sigemptyset(&wake);
	sigaddset(&wake, SIGUSR2);
	pthread_sigmask(SIG_UNBLOCK, &wake, NULL);
	while (!stop_requested) {
		struct inotify_event *ev;
		struct wtarget *t;

		ev = inotifytools_next_events(wait_s(), 1);
		if (stop_requested)
			break;

		apply_pending();
		if (!ev) {
			/* Woken by the timeout (degraded) or a signal. */
			check_paths(1);
			retry_unwatched();
			continue;
		}
		if (ev->wd == kick_wd && kick_wd >= 0) {
			char drain[64];

			while (read(kickfd[0], drain, sizeof(drain)) > 0)
				;
			continue;
		}
		if (ev->mask & IN_Q_OVERFLOW) {
			/* Subdirectories made meanwhile are watched before
			 * the master rescans. */
			for (int i = 0; i < ntargets; i++)
				wtree_walk(&targets[i]);
			watch_send(W_OVERFLOW, 0, NULL, 0, 0);
			/* A parent's news may be among what was lost. */
			check_paths(1);
			continue;
		}
		check_paths(parent_event(ev));
		if (wtree_event(ev))
			continue;
		t = by_wd(ev->wd);
		if (!t)
			continue;
		if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT | IN_IGNORED)) {
			/* A moved directory is still watched under its old
			 * name: drop that watch and look for the path again. */
			lose_wd(t->wd, (ev->mask & IN_MOVE_SELF) && !(ev->mask & IN_IGNORED));
			continue;
		}
		/* Only arrivals: a drop that is another drop's parent also hears
		 * of deletions and moves out (its parent role). */
		if (!ev->len || !(ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE)))
			continue;
		if (ev->mask & IN_ISDIR) {
			/* A subdirectory: watched for a recursive drop; for
			 * another, its files are not taken (said once). */
			if (wtree_depth(t->path) && ev->name[0] != '.')
				wtree_came(t->path, ev->name, 1);
			for (int i = 0; i < ntargets; i++)
				if (targets[i].wd == ev->wd && !targets[i].recursive)
					watch_send(W_FILE, targets[i].id, ev->name,
						 strnlen(ev->name, ev->len), W_SUBDIR);
			continue;
		}
		/* A regular file is taken when it is closed or moved in, never
		 * on creation.  Symlinks, FIFOs, sockets and device nodes only
		 * ever raise IN_CREATE: pass those on, to be refused with a
		 * log line. */
		if ((ev->mask & IN_CREATE) && !watch_created_special(t->path, ev->name))
			continue;
		/* Several drops may share a directory (other patterns): each
		 * gets the name, and the master matches it. */
		for (int i = 0; i < ntargets; i++)
			if (targets[i].wd == ev->wd)
				watch_send(W_FILE, targets[i].id, ev->name, strnlen(ev->name, ev->len),
					 (ev->mask & IN_CREATE) != 0);
	}
	return NULL;
}

int watch_init(void)
{
	if (pipefd[0] >= 0)
		return 0;
	if (!inotifytools_initialize()) {
		errno = inotifytools_error();
		return -1;
	}
	/* Without it (no /proc), subdirectories cannot be watched: the
	 * master hears W_POLL for each recursive drop, and polls. */
	wtree_init();
	if (pipe2(pipefd, O_CLOEXEC) < 0 || pipe2(kickfd, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	return 0;
}

/* The thread's wake-up: a byte on the pipe it watches (a full pipe means
 * one is pending already). */
static void kick(void)
{
	if (kickfd[1] >= 0 && write(kickfd[1], "k", 1) < 0 && errno != EAGAIN)
		return;   /* then the thread wakes on its own timeout */
}

int watch_start(const struct watch_target *t, int n, int *bad)
{
	int i, e;

	*bad = -1;
	if (watch_init() < 0)
		return -1;
	targets = copy_targets(t, n);
	if (!targets)
		return -1;
	ntargets = n;
	for (i = 0; i < n; i++) {
		if (add_watch(&targets[i]) < 0) {
			*bad = i;
			return -1;
		}
	}
	for (i = 0; i < n; i++) {
		add_parent(&targets[i]);
		wtree_walk(&targets[i]);
	}
	{
		char p[64];

		snprintf(p, sizeof(p), "/proc/self/fd/%d", kickfd[0]);
		kick_wd = inotifytools_watch_file(p, IN_MODIFY) ?
			  inotifytools_wd_from_filename(p) : -1;
		if (kick_wd < 0)
			log_warn("event=watch-polling path=%s note=%s", log_q(p),
				 log_q("cannot watch its own wake-up pipe (no /proc?): the "
				       "watcher wakes every second"));
	}
	{
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_wake;  /* no SA_RESTART: select() returns EINTR */
		sigemptyset(&sa.sa_mask);
		sigaction(SIGUSR2, &sa, NULL);
	}
	stop_requested = 0;
	e = pthread_create(&thread, NULL, watch_main, NULL);
	if (e) {
		errno = e;
		return -1;
	}
	started = 1;
	return 0;
}

int watch_set(const struct watch_target *t, int n)
{
	struct wtarget *c = copy_targets(t, n);

	if (!c)
		return -1;
	pthread_mutex_lock(&pend_lock);
	free_targets(pending, npending);
	pending = c;
	npending = n;
	pthread_mutex_unlock(&pend_lock);
	kick();
	return 0;
}

int watch_fd(void)
{
	return pipefd[0];
}

int watch_next(struct watch_msg *m)
{
	for (;;) {
		ssize_t r;

		if (rlen - rpos >= MSG_HEAD) {
			size_t len;

			memcpy(m, rbuf + rpos, MSG_HEAD);
			len = m->len;
			if (len >= sizeof(m->name))
				return -1;   /* not what the thread writes */
			if (rlen - rpos >= MSG_HEAD + len) {
				memcpy(m->name, rbuf + rpos + MSG_HEAD, len);
				m->name[len] = '\0';
				rpos += MSG_HEAD + len;
				return 1;
			}
		}
		/* Room for the rest: what is left moves to the front (once
		 * per buffer, not once per message). */
		if (rpos) {
			memmove(rbuf, rbuf + rpos, rlen - rpos);
			rlen -= rpos;
			rpos = 0;
		}
		r = read(pipefd[0], rbuf + rlen, sizeof(rbuf) - rlen);
		if (r > 0) {
			rlen += (size_t)r;
			continue;
		}
		if (r == 0)
			return -1;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN ? 0 : -1;
	}
}

void watch_stop(void)
{
	if (started) {
		/* The thread blocks in select() inside the library (or on a
		 * full pipe): a signal breaks it out; if it lands just before
		 * the select(), the one-second timeout does. */
		stop_requested = 1;
		kick();
		pthread_kill(thread, SIGUSR2);
		if (pipefd[0] >= 0) {
			char drain[4096];

			while (read(pipefd[0], drain, sizeof(drain)) > 0)
				;
		}
		pthread_join(thread, NULL);
		started = 0;
	}
	inotifytools_cleanup();
	free_targets(targets, ntargets);
	targets = NULL;
	ntargets = 0;
	pthread_mutex_lock(&pend_lock);
	free_targets(pending, npending);
	pending = NULL;
	npending = -1;
	pthread_mutex_unlock(&pend_lock);
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	pipefd[0] = pipefd[1] = -1;
	for (int i = 0; i < 2; i++)
		if (kickfd[i] >= 0)
			close(kickfd[i]);
	kickfd[0] = kickfd[1] = -1;
	kick_wd = -1;
	rlen = rpos = 0;
	wtree_free();
}
