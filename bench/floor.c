/*
 * floor.c - the lower bound that seawatchd's benchmarks compare against.
 *
 *   floor batch|live IN DONE P CMD OUTDIR
 *
 * For each NAME in IN matching *.sea (dot-files excluded) it runs
 * "CMD IN/NAME OUTDIR" (vfork+execv) with at most P children at once, reaps
 * it, and renames IN/NAME to DONE/NAME.  That is the work any spool processor must
 * do per file, and nothing else: no claim, no spool, no retries, no
 * timeouts, no output capture, no logging, no worker pool, no bound on the
 * queue.  What seawatchd costs above this is the price of its guarantees.
 *
 * batch: one readdir pass; exits when every file is done.
 * live:  raw inotify(7) (IN_CLOSE_WRITE | IN_MOVED_TO) and a signalfd in one
 *        poll() loop; names that arrive while P children run wait in an
 *        unbounded in-memory FIFO; IN_Q_OVERFLOW triggers a rescan.  Files
 *        already in IN at start are taken too.  SIGTERM/SIGINT: start
 *        nothing new, wait for the running children (their inputs still go
 *        to DONE), exit.
 *
 * With FLOOR_SPOOL=DIR (a directory on IN's file system) no command runs:
 * each file is renamed IN/NAME -> DIR/NAME -> DONE/NAME at once.  Those are
 * the two renames a daemon with a private spool cannot do without (the claim
 * and the move to done), and nothing else: the ceiling of any such daemon's
 * rate on that file system, whatever its command costs.
 *
 * A command that fails (non-zero exit, signal, spawn error) is counted, not
 * handled: its input goes to DONE all the same.  One summary line goes to
 * stderr at the end; nothing is printed per file unless something breaks.
 *
 * Exit: 0 all done (failed commands included); 1 a rename failed or the
 * watch broke; 2 usage or start-up error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* One file, from the moment its name is known until it is in DONE. */
struct job {
	struct job *hnext;	/* chain in the table of known names */
	struct job *qnext;	/* FIFO link while queued */
	pid_t pid;
	char path[];		/* "IN/NAME"; NAME starts at name_off */
};

static const char *in_dir, *done_dir, *cmd, *out_dir;
static int in_fd, done_fd, spool_fd = -1;
static size_t name_off;

static struct job **running;	/* max_running slots, NULL when free */
static long max_running, n_running;
static struct job *q_head, *q_tail;

/*
 * Every name queued or running, so that a rescan (start-up, overflow) does
 * not run a file twice.  Chained, doubled when as full as it is wide.
 */
static struct job **table;
static size_t table_size, table_count;

/* live mode blocks the signals it reads from a signalfd; children must not. */
static int unblock_in_child;
static sigset_t no_signals;

static unsigned long n_done, n_failed, n_unmoved;

static const char *name_of(const struct job *j)
{
	return j->path + name_off;
}

static int is_candidate(const char *name)
{
	size_t len = strlen(name);

	return name[0] != '.' && len > 4 && memcmp(name + len - 4, ".sea", 4) == 0;
}

static size_t hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;	/* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return (size_t)h;
}

static struct job **table_link(const char *name)
{
	struct job **l = &table[hash(name) & (table_size - 1)];

	while (*l && strcmp(name_of(*l), name) != 0)
		l = &(*l)->hnext;
	return l;
}

_Noreturn static void die_oom(void)
{
	fputs("floor: out of memory\n", stderr);
	exit(2);
}

static void table_grow(void)
{
	size_t old_size = table_size;
	struct job **old = table;

	table_size = old_size ? old_size * 2 : 1024;
	table = calloc(table_size, sizeof *table);
	if (!table)
		die_oom();
	for (size_t i = 0; i < old_size; i++) {
		for (struct job *j = old[i], *next; j; j = next) {
			struct job **l = &table[hash(name_of(j)) & (table_size - 1)];

			next = j->hnext;
			j->hnext = *l;
			*l = j;
		}
	}
	free(old);
}

static void enqueue(const char *name)
{
	size_t len = strlen(name);
	struct job **l = table_link(name);
	struct job *j;

	if (*l)
		return;
	j = malloc(sizeof *j + name_off + len + 1);
	if (!j)
		die_oom();
	memcpy(j->path, in_dir, name_off - 1);
	j->path[name_off - 1] = '/';
	memcpy(j->path + name_off, name, len + 1);
	j->pid = 0;
	j->hnext = NULL;
	j->qnext = NULL;
	*l = j;
	if (++table_count > table_size)
		table_grow();
	if (q_tail)
		q_tail->qnext = j;
	else
		q_head = j;
	q_tail = j;
}

/* The rename is the last step; the name then leaves the table. */
static void finish(struct job *j)
{
	const char *name = name_of(j);
	struct job **l = table_link(name);
	int from = in_fd;

	/* FLOOR_SPOOL: claimed first, as a daemon with a private spool does. */
	if (spool_fd >= 0 && renameat(in_fd, name, spool_fd, name) == 0)
		from = spool_fd;
	if (renameat(from, name, done_fd, name) == 0) {
		n_done++;
	} else {
		fprintf(stderr, "floor: rename %s to %s/: %s\n", j->path, done_dir,
			strerror(errno));
		n_unmoved++;
	}
	*l = j->hnext;
	table_count--;
	free(j);
}

/*
 * vfork + execv: cheaper than both of the obvious ways.  fork copies the
 * page tables and the child then takes copy-on-write faults until it
 * execs; glibc's posix_spawn avoids that (it is clone(CLONE_VM |
 * CLONE_VFORK)) but its child then queries and resets every signal's
 * disposition, ~120 rt_sigaction calls per file.  Here the child makes at
 * most one system call before execve: stdin is already /dev/null (set once
 * in main), and floor installs no signal handler that could run in the
 * shared memory.
 *
 * Measured on 2 vCPUs, 3000 files, batch P=1: CPU of floor and its
 * children per file, medians of 5 (the /bin/sh column comes from two
 * sessions, fork against posix_spawn and then posix_spawn against vfork):
 *                    static no-op command    "#!/bin/sh exit 0"
 *   fork+execv               -                    799 us
 *   posix_spawn            168 us                 717 / 864 us
 *   vfork+execv            120 us                 755 us
 * Wall-clock rates: with /bin/sh posix_spawn beat fork 1176 to 1079
 * files/s and vfork was level with posix_spawn; with the no-op, vfork made
 * 4540 files/s against posix_spawn's 4040.
 *
 * seawatchd's worker starts commands the same way (clone(CLONE_VM |
 * CLONE_VFORK), no signal loop; bench/notes.md), so the floor must not
 * be costlier than that.
 */
static pid_t spawn(char **argv)
{
	pid_t pid = vfork();

	if (pid == 0) {
		if (unblock_in_child)
			sigprocmask(SIG_SETMASK, &no_signals, NULL);
		execv(cmd, argv);
		_exit(127);
	}
	return pid;
}

static void start(struct job *j)
{
	char *argv[] = { (char *)cmd, j->path, (char *)out_dir, NULL };

	if (spool_fd >= 0) {   /* the renames alone */
		finish(j);
		return;
	}
	/* In a function of its own, so no local here lives across vfork. */
	j->pid = spawn(argv);
	if (j->pid < 0) {
		fprintf(stderr, "floor: spawn %s %s: %s\n", cmd, j->path, strerror(errno));
		n_failed++;
		finish(j);
		return;
	}
	for (long i = 0; i < max_running; i++) {
		if (!running[i]) {
			running[i] = j;
			break;
		}
	}
	n_running++;
}

static void fill(void)
{
	while (n_running < max_running && q_head) {
		struct job *j = q_head;

		q_head = j->qnext;
		if (!q_head)
			q_tail = NULL;
		start(j);
	}
}

static void reaped(pid_t pid, int status)
{
	for (long i = 0; i < max_running; i++) {
		struct job *j = running[i];

		if (j && j->pid == pid) {
			running[i] = NULL;
			n_running--;
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				n_failed++;
			finish(j);
			return;
		}
	}
}

static int scan(void)
{
	DIR *d = opendir(in_dir);
	struct dirent *e;

	if (!d) {
		fprintf(stderr, "floor: %s: %s\n", in_dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_type != DT_DIR && is_candidate(e->d_name))
			enqueue(e->d_name);
	}
	closedir(d);
	return 0;
}

static int run_batch(void)
{
	if (scan() < 0)
		return 2;
	fill();
	while (n_running > 0) {
		int status;
		pid_t pid = waitpid(-1, &status, 0);

		if (pid < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "floor: waitpid: %s\n", strerror(errno));
			return 2;
		}
		reaped(pid, status);
		fill();
	}
	return 0;
}

/*
 * Read every pending event (up to EAGAIN), so that a rescan asked for by an
 * overflow comes after all the events queued before it.  Returns -1 when
 * the watch is gone.
 */
static int read_events(int ifd, int *rescan)
{
	char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		ssize_t n = read(ifd, buf, sizeof buf);

		if (n < 0) {
			if (errno == EAGAIN)
				return 0;
			if (errno == EINTR)
				continue;
			fprintf(stderr, "floor: read inotify: %s\n", strerror(errno));
			return -1;
		}
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (ev->mask & IN_Q_OVERFLOW) {
				*rescan = 1;
			} else if (ev->mask & (IN_IGNORED | IN_UNMOUNT)) {
				fprintf(stderr, "floor: %s: watch lost\n", in_dir);
				return -1;
			} else if (ev->len && !(ev->mask & IN_ISDIR) && is_candidate(ev->name)) {
				enqueue(ev->name);
			}
			p += sizeof *ev + ev->len;
		}
	}
}

static int run_live(void)
{
	sigset_t mask;
	int sfd, ifd, stopping = 0, rc = 0;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	unblock_in_child = 1;
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (sfd < 0 || ifd < 0) {
		fprintf(stderr, "floor: signalfd/inotify_init1: %s\n", strerror(errno));
		return 2;
	}
	if (inotify_add_watch(ifd, in_dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR) < 0) {
		fprintf(stderr, "floor: watch %s: %s\n", in_dir, strerror(errno));
		return 2;
	}
	/* After the watch, so nothing falls between; the table drops doubles. */
	if (scan() < 0)
		return 2;
	fill();

	while (!stopping || n_running > 0) {
		struct pollfd pfd[2] = {
			{ .fd = stopping ? -1 : ifd, .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
		};

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "floor: poll: %s\n", strerror(errno));
			return 2;
		}
		/*
		 * Events before reaping: a name that a rescan found and whose
		 * event is still queued is then still in the table, so it is
		 * not run a second time.
		 */
		if (pfd[0].revents) {
			int rescan = 0;

			if (read_events(ifd, &rescan) < 0) {
				stopping = 1;
				rc = 1;
			} else if (rescan && scan() < 0) {
				stopping = 1;
				rc = 1;
			}
		}
		if (pfd[1].revents) {
			struct signalfd_siginfo si[16];
			ssize_t n;
			int status;
			pid_t pid;

			while ((n = read(sfd, si, sizeof si)) > 0) {
				for (size_t i = 0; i < (size_t)n / sizeof si[0]; i++) {
					if (si[i].ssi_signo != SIGCHLD)
						stopping = 1;
				}
			}
			/* SIGCHLDs merge: reap until no child is left to reap. */
			while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
				reaped(pid, status);
		}
		if (!stopping)
			fill();
	}
	close(ifd);
	close(sfd);
	return rc;
}

static int open_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		fprintf(stderr, "floor: %s: %s\n", path, strerror(errno));
	return fd;
}

static int usage(void)
{
	fputs("usage: floor batch|live IN DONE P CMD OUTDIR\n"
	      "  runs \"CMD IN/NAME OUTDIR\" for each IN/*.sea, at most P at once,\n"
	      "  then renames IN/NAME to DONE/NAME\n", stderr);
	return 2;
}

int main(int argc, char **argv)
{
	char *end;
	int null_fd, rc, live;
	size_t in_len;

	if (argc != 7)
		return usage();
	if (strcmp(argv[1], "batch") == 0)
		live = 0;
	else if (strcmp(argv[1], "live") == 0)
		live = 1;
	else
		return usage();
	in_dir = argv[2];
	done_dir = argv[3];
	cmd = argv[5];
	out_dir = argv[6];
	errno = 0;
	max_running = strtol(argv[4], &end, 10);
	if (errno || *end || end == argv[4] || max_running < 1 || max_running > 65536)
		return usage();

	in_len = strlen(in_dir);
	while (in_len > 1 && in_dir[in_len - 1] == '/')
		in_len--;
	name_off = in_len + 1;

	/* Once here rather than once per child: floor never reads stdin. */
	null_fd = open("/dev/null", O_RDONLY);
	if (null_fd < 0 || (null_fd != STDIN_FILENO && dup2(null_fd, STDIN_FILENO) < 0)) {
		fprintf(stderr, "floor: /dev/null: %s\n", strerror(errno));
		return 2;
	}
	if (null_fd != STDIN_FILENO)
		close(null_fd);
	in_fd = open_dir(in_dir);
	done_fd = open_dir(done_dir);
	if (in_fd < 0 || done_fd < 0)
		return 2;
	if (getenv("FLOOR_SPOOL") && (spool_fd = open_dir(getenv("FLOOR_SPOOL"))) < 0)
		return 2;
	if (access(cmd, X_OK) < 0) {
		fprintf(stderr, "floor: %s: %s\n", cmd, strerror(errno));
		return 2;
	}
	running = calloc((size_t)max_running, sizeof *running);
	if (!running)
		die_oom();
	table_grow();
	sigemptyset(&no_signals);

	rc = live ? run_live() : run_batch();

	fprintf(stderr, "floor: %lu done, %lu failed, %lu not moved\n",
		n_done, n_failed, n_unmoved);
	if (rc == 0 && n_unmoved)
		rc = 1;
	for (struct job *j = q_head, *next; j; j = next) {
		next = j->qnext;
		free(j);
	}
	free(table);
	free(running);
	close(in_fd);
	close(done_fd);
	if (spool_fd >= 0)
		close(spool_fd);
	return rc;
}
