/*
 * harness.c - the integration tests' world: a temporary tree, config and
 * scripts, the real seawatchd started in its own process group, and polling
 * waits with deadlines.  Owns nothing the daemon uses; see harness.h.
 *
 * Setup errors abort the running test through Criterion (h_die), never
 * from a forked child: a child that cannot exec says so on its stderr (the
 * log) and exits 127.
 *
 * $SEAWATCH_KEEP, when set, keeps each test's tree and prints where it is.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <pwd.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define H_RUN_DEADLINE_MS 60000
#define H_MAX_ARGS 64

static void h_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void h_die(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	cr_assert_fail("harness: %s", msg);
	abort(); /* not reached: cr_assert_fail leaves the test */
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* ------------------------------------------------------------------ */
/* Bookkeeping: process groups we started, log offsets at each start.  */

#define H_MAX_PGIDS 64
static pid_t started_pgids[H_MAX_PGIDS];
static int n_started_pgids;

static void remember_pgid(pid_t pgid)
{
	if (n_started_pgids < H_MAX_PGIDS)
		started_pgids[n_started_pgids++] = pgid;
}

/* h_wait_ready looks at the log only past where the latest start found it,
 * so a restarted daemon is not taken as ready on its predecessor's line. */
#define H_MAX_MARKS 8
static struct {
	const struct h_env *e;
	off_t off;
} marks[H_MAX_MARKS];

static void set_mark(const struct h_env *e, off_t off)
{
	int i, free_slot = -1;

	for (i = 0; i < H_MAX_MARKS; i++) {
		if (marks[i].e == e) {
			marks[i].off = off;
			return;
		}
		if (!marks[i].e && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0)
		free_slot = 0;
	marks[free_slot].e = e;
	marks[free_slot].off = off;
}

static off_t get_mark(const struct h_env *e)
{
	for (int i = 0; i < H_MAX_MARKS; i++)
		if (marks[i].e == e)
			return marks[i].off;
	return 0;
}

static void forget_mark(const struct h_env *e)
{
	for (int i = 0; i < H_MAX_MARKS; i++)
		if (marks[i].e == e)
			marks[i].e = NULL;
}

/* ------------------------------------------------------------------ */
/* Files.                                                              */

static void mkdir_or_die(const char *path)
{
	if (mkdir(path, 0755) == -1)
		h_die("mkdir %s: %s", path, strerror(errno));
}

static void set_path(char *dst, const char *root, const char *leaf)
{
	int n = snprintf(dst, H_PATH, "%s/%s", root, leaf);

	if (n < 0 || n >= H_PATH)
		h_die("path too long: %s/%s", root, leaf);
}

void h_setup(struct h_env *e)
{
	memset(e, 0, sizeof *e);
	strcpy(e->root, "/tmp/seawatch-test.XXXXXX");
	if (!mkdtemp(e->root))
		h_die("mkdtemp: %s", strerror(errno));
	/* mkdtemp makes it 0700; scripts run as another user (user=) must
	 * still reach their files. */
	chmod(e->root, 0755);
	set_path(e->drop, e->root, "incoming");
	set_path(e->done, e->root, "done");
	set_path(e->failed, e->root, "failed");
	set_path(e->out, e->root, "out");
	set_path(e->conf, e->root, "seawatch.conf");
	set_path(e->log, e->root, "daemon.log");
	mkdir_or_die(e->drop);
	mkdir_or_die(e->done);
	mkdir_or_die(e->failed);
	mkdir_or_die(e->out);
	e->pid = 0;
}

static int mem_contains(const char *hay, size_t n, const char *needle)
{
	return memmem(hay, n, needle, strlen(needle)) != NULL;
}

/* Read a /proc/PID/FILE (NUL-separated) into BUF; returns the length. */
static size_t read_proc(pid_t pid, const char *file, char *buf, size_t sz)
{
	char path[64];
	size_t len = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return 0;
	while (len < sz && (n = read(fd, buf + len, sz - len)) > 0)
		len += (size_t)n;
	close(fd);
	return len;
}

/* SIGKILL every process whose command line or environment names ROOT
 * (scripts, their grandchildren through SEAWATCH_FILE, daemons started
 * with -c ROOT/...), and the process groups they lead. */
static int kill_strays(const char *root)
{
	static char buf[256 * 1024];
	pid_t self = getpid(), mygrp = getpgrp();
	struct dirent *de;
	int killed = 0;
	DIR *d;

	d = opendir("/proc");
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char *end;
		long v = strtol(de->d_name, &end, 10);
		pid_t p;
		size_t n;
		int hit;

		if (*end || v <= 0)
			continue;
		p = (pid_t)v;
		if (p == self)
			continue;
		n = read_proc(p, "cmdline", buf, sizeof buf);
		hit = mem_contains(buf, n, root);
		if (!hit) {
			n = read_proc(p, "environ", buf, sizeof buf);
			hit = mem_contains(buf, n, root);
		}
		if (!hit)
			continue;
		if (getpgid(p) == p && p != mygrp)
			kill(-p, SIGKILL);
		kill(p, SIGKILL);
		killed++;
	}
	closedir(d);
	return killed;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) == -1 && errno != ENOENT)
		cr_log_warn("teardown: remove %s: %s", path, strerror(errno));
	return 0;
}

/* Under `make asan` / `make valgrind`, a report in the daemon's log fails
 * the test even when the daemon was killed rather than left to exit. */
static void check_sanitizers(struct h_env *e)
{
	static const char *const sanitizer_marks[] = {
		"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
	};
	char *text = h_slurp(e->log), *p;
	size_t i;
	int bad = 0;

	if (!text)
		return;
	for (i = 0; i < sizeof(sanitizer_marks) / sizeof(sanitizer_marks[0]); i++)
		if ((p = strstr(text, sanitizer_marks[i]))) {
			cr_log_error("sanitizer report in the daemon log: %.2000s", p);
			bad = 1;
		}
	if (getenv("SEAWATCH_WRAP"))
		for (p = text; (p = strstr(p, "==")); p++) {
			char *q = p + 2;

			while (*q >= '0' && *q <= '9')
				q++;
			if (q > p + 2 && q[0] == '=' && q[1] == '=' && (p == text || p[-1] == '\n')) {
				cr_log_error("valgrind report in the daemon log: %.2000s", p);
				bad = 1;
				break;
			}
		}
	free(text);
	/* An assertion in a fini does not fail a Criterion test; an exit
	 * does fail the run (the binary exits non-zero, and the report is
	 * above).  Keep the tree for a post-mortem. */
	if (bad) {
		fprintf(stderr, "harness: keeping %s for inspection\n", e->root);
		exit(1);
	}
}

void h_teardown(struct h_env *e)
{
	pid_t mygrp = getpgrp();

	if (!e->root[0])
		return;
	if (e->pid > 0) {
		if (e->pid != mygrp)
			kill(-e->pid, SIGKILL);
		kill(e->pid, SIGKILL);
		waitpid(e->pid, NULL, 0);
		e->pid = 0;
	}
	for (int i = 0; i < n_started_pgids; i++)
		if (started_pgids[i] > 0 && started_pgids[i] != mygrp)
			kill(-started_pgids[i], SIGKILL);
	n_started_pgids = 0;
	/* Reap whatever of ours is left, then chase the strays twice (a
	 * forking script may have been caught mid-fork). */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	for (int pass = 0; pass < 3 && kill_strays(e->root) > 0; pass++)
		nap_ms(20);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	forget_mark(e);
	while (e->nmounts > 0)
		if (umount2(e->mounts[--e->nmounts], MNT_DETACH) == -1)
			cr_log_warn("teardown: umount %s: %s", e->mounts[e->nmounts],
				    strerror(errno));
	check_sanitizers(e);
	if (getenv("SEAWATCH_KEEP")) {
		fprintf(stderr, "harness: keeping %s\n", e->root);
	} else {
		nftw(e->root, rm_one, 32, FTW_DEPTH | FTW_PHYS);
		if (h_exists(e->root))
			cr_log_warn("teardown: could not remove %s", e->root);
	}
	e->root[0] = '\0';
}

static void write_all(int fd, const char *buf, size_t len, const char *what)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			h_die("write %s: %s", what, strerror(errno));
		}
		buf += n;
		len -= (size_t)n;
	}
}

void h_write(const char *path, const char *content, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd == -1)
		h_die("open %s: %s", path, strerror(errno));
	write_all(fd, content, strlen(content), path);
	if (fchmod(fd, mode) == -1) /* umask must not change it */
		h_die("chmod %s: %s", path, strerror(errno));
	if (close(fd) == -1)
		h_die("close %s: %s", path, strerror(errno));
}

const char *h_script(struct h_env *e, const char *name, const char *body)
{
	static char bufs[8][H_PATH];
	static int slot;
	char *path = bufs[slot++ % 8];
	char *text;

	set_path(path, e->root, name);
	if (asprintf(&text, "#!/bin/sh\n%s", body) == -1)
		h_die("out of memory");
	h_write(path, text, 0755);
	free(text);
	return path;
}

void h_config(struct h_env *e, const char *fmt, ...)
{
	va_list ap;
	char *text;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n == -1)
		h_die("out of memory");
	h_write(e->conf, text, 0644);
	free(text);
}

/* 1 if TEXT assigns setting NAME ("NAME =" or "NAME :" at a word start). */
static int sets(const char *text, const char *name)
{
	size_t len = strlen(name);
	const char *p = text;

	while (text && (p = strstr(p, name))) {
		const char *q = p + len;
		int word_start = p == text ||
			!(p[-1] == '_' || p[-1] == '-' ||
			  (p[-1] >= 'a' && p[-1] <= 'z') ||
			  (p[-1] >= 'A' && p[-1] <= 'Z') ||
			  (p[-1] >= '0' && p[-1] <= '9'));

		while (*q == ' ' || *q == '\t')
			q++;
		if (word_start && (*q == '=' || *q == ':'))
			return 1;
		p += len;
	}
	return 0;
}

void h_config_simple(struct h_env *e, const char *command_list,
		     const char *extra, const char *global)
{
	static const struct {
		const char *name, *line;
	} top[] = {
		{ "workers", "workers = 2;\n" },
		{ "queue_size", "queue_size = 64;\n" },
		{ "shutdown_grace", "shutdown_grace = \"5s\";\n" },
	}, drop[] = {
		{ "timeout", " timeout = \"10s\";" },
		{ "retries", " retries = 0;" },
		{ "backoff", " backoff = \"100ms\";" },
		{ "backoff_max", " backoff_max = \"1s\";" },
		{ "kill_grace", " kill_grace = \"500ms\";" },
	};
	char tops[256] = "", drops[256] = "";

	if (!extra)
		extra = "";
	if (!global)
		global = "";
	for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
		if (!sets(global, top[i].name))
			strcat(tops, top[i].line);
	for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
		if (!sets(extra, drop[i].name))
			strcat(drops, drop[i].line);
	h_config(e,
		 "%s"
		 "%s\n"
		 "drops = ( { name = \"d\"; path = \"%s\"; done = \"%s\"; failed = \"%s\";\n"
		 "  command = %s;%s\n"
		 "  %s } );\n",
		 tops, global, e->drop, e->done, e->failed,
		 command_list, drops, extra);
}

void h_drop(struct h_env *e, const char *name, const char *content)
{
	/* Not ".tmp-NAME": NAME may already be 255 bytes long. */
	static unsigned seq;
	char tmp[H_PATH * 2], dst[H_PATH * 2];
	int n;

	snprintf(tmp, sizeof tmp, "%s/.tmp-drop.%d.%u", e->root, (int)getpid(), seq++);
	n = snprintf(dst, sizeof dst, "%s/%s", e->drop, name);
	if (n < 0 || (size_t)n >= sizeof dst)
		h_die("h_drop: name too long");
	h_write(tmp, content, 0644);
	if (rename(tmp, dst) == -1)
		h_die("rename %s -> %s: %s", tmp, dst, strerror(errno));
}

/* ------------------------------------------------------------------ */
/* Processes.                                                          */

static const char *daemon_path(void)
{
	static char path[PATH_MAX];
	const char *p;

	if (path[0])
		return path;
	p = getenv("SEAWATCHD");
	if (!p || !*p)
		p = "build/seawatchd";
	if (p[0] == '/' || !strchr(p, '/')) {
		snprintf(path, sizeof path, "%s", p);
	} else {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof cwd))
			h_die("getcwd: %s", strerror(errno));
		if (snprintf(path, sizeof path, "%s/%s", cwd, p) >= (int)sizeof path)
			h_die("SEAWATCHD path too long");
	}
	if (strchr(path, '/') && access(path, X_OK) == -1) {
		char why[PATH_MAX + 64];

		snprintf(why, sizeof why, "%s", path);
		path[0] = '\0';
		h_die("seawatchd not runnable at %s (%s): build it or set SEAWATCHD",
		      why, strerror(errno));
	}
	return path;
}

/* argv = [$SEAWATCH_WRAP words...] seawatchd [-c CONF] ARGS...; the
 * strings live in WRAPBUF and the caller's varargs. */
static void build_argv(char **argv, char *wrapbuf, size_t wrapsz,
		       const char *conf, va_list ap)
{
	const char *wrap = getenv("SEAWATCH_WRAP");
	const char *a;
	int n = 0;

	if (wrap && *wrap) {
		snprintf(wrapbuf, wrapsz, "%s", wrap);
		for (char *tok = strtok(wrapbuf, " \t"); tok && n < H_MAX_ARGS - 8;
		     tok = strtok(NULL, " \t"))
			argv[n++] = tok;
	}
	argv[n++] = (char *)daemon_path();
	if (conf) {
		argv[n++] = (char *)"-c";
		argv[n++] = (char *)conf;
	}
	while ((a = va_arg(ap, const char *))) {
		if (n >= H_MAX_ARGS - 1)
			h_die("too many arguments");
		argv[n++] = (char *)a;
	}
	argv[n] = NULL;
}

/* In the child: own process group, clean signals, stdin /dev/null,
 * stdout+stderr to OUTFD, nothing else open, exec.  Never returns. */
static void child_exec(char **argv, int outfd) __attribute__((noreturn));

static void child_exec(char **argv, int outfd)
{
	sigset_t none;
	int nullfd;

	setpgid(0, 0);
	/* A test killed by its timeout never reaches h_teardown: take the
	 * daemon down with it rather than leave it running. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	nullfd = open("/dev/null", O_RDONLY);
	if (nullfd == -1 || dup2(nullfd, 0) == -1 || dup2(outfd, 1) == -1 ||
	    dup2(outfd, 2) == -1)
		_exit(127);
	if (close_range(3, ~0U, 0) == -1) {
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
	}
	execvp(argv[0], argv);
	dprintf(2, "harness: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

pid_t h_start(struct h_env *e, ...)
{
	char *argv[H_MAX_ARGS];
	char wrapbuf[1024];
	struct stat st;
	va_list ap;
	pid_t pid;
	int logfd;

	va_start(ap, e);
	build_argv(argv, wrapbuf, sizeof wrapbuf, e->conf, ap);
	va_end(ap);
	logfd = open(e->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logfd == -1)
		h_die("open %s: %s", e->log, strerror(errno));
	set_mark(e, fstat(logfd, &st) == 0 ? st.st_size : 0);
	fflush(NULL);
	pid = fork();
	if (pid == -1)
		h_die("fork: %s", strerror(errno));
	if (pid == 0)
		child_exec(argv, logfd);
	setpgid(pid, pid); /* either side may win the race; both agree */
	close(logfd);
	remember_pgid(pid);
	e->pid = pid;
	return pid;
}

/* 1 once PID no longer runs: gone, or a zombie waiting to be reaped. */
static int proc_dead(pid_t pid)
{
	char buf[512], *rp;
	size_t n;

	if (kill(pid, 0) == -1 && errno == ESRCH)
		return 1;
	n = read_proc(pid, "stat", buf, sizeof buf - 1);
	if (n == 0)
		return 1;
	buf[n] = '\0';
	rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

/* Contents of PATH from OFF on; *LEN its length.  NULL if unreadable. */
static char *slurp_from(const char *path, off_t off, size_t *len)
{
	size_t cap = 8192, n = 0;
	char *buf;
	ssize_t r;
	int fd;

	/* O_NONBLOCK: a FIFO under PATH must not hang the test. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1)
		return NULL;
	if (off > 0 && lseek(fd, off, SEEK_SET) == -1) {
		close(fd);
		return NULL;
	}
	buf = malloc(cap);
	if (!buf)
		h_die("out of memory");
	for (;;) {
		if (n + 1 >= cap) {
			char *nb = realloc(buf, cap *= 2);

			if (!nb)
				h_die("out of memory");
			buf = nb;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static int file_has_from(const char *file, off_t off, const char *needle)
{
	size_t len;
	char *buf = slurp_from(file, off, &len);
	int hit = buf && mem_contains(buf, len, needle);

	free(buf);
	return hit;
}

int h_wait_ready(struct h_env *e, int ms)
{
	int64_t end = now_ms() + ms;
	off_t off = get_mark(e);

	for (;;) {
		if (file_has_from(e->log, off, "event=ready"))
			return 1;
		if (e->pid > 0 && proc_dead(e->pid))
			return file_has_from(e->log, off, "event=ready");
		if (now_ms() >= end)
			return 0;
		nap_ms(10);
	}
}

static int decode_status(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

int h_wait_pid(pid_t pid, int ms)
{
	int64_t end = now_ms() + ms;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return decode_status(st);
		if (r == -1 && errno != EINTR)
			return -1;
		if (now_ms() >= end)
			return -1;
		nap_ms(10);
	}
}

/* Run ARGV to completion (deadline H_RUN_DEADLINE_MS); its status, and
 * its output in *OUT if OUT. */
static int run_argv(struct h_env *e, char **argv, char **out)
{
	char tmp[H_PATH * 2];
	pid_t pid;
	int fd, st;

	snprintf(tmp, sizeof tmp, "%s/.run-out.XXXXXX", e->root);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd == -1)
		h_die("mkstemp %s: %s", tmp, strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid == -1)
		h_die("fork: %s", strerror(errno));
	if (pid == 0)
		child_exec(argv, fd);
	setpgid(pid, pid);
	close(fd);
	remember_pgid(pid);
	st = h_wait_pid(pid, H_RUN_DEADLINE_MS);
	if (st == -1) {
		char *text;

		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		text = slurp_from(tmp, 0, NULL);
		h_die("h_run: %s did not exit within %d ms; output:\n%s",
		      argv[0], H_RUN_DEADLINE_MS, text ? text : "(none)");
	}
	if (out)
		*out = slurp_from(tmp, 0, NULL);
	unlink(tmp);
	return st;
}

int h_run(struct h_env *e, char **out, ...)
{
	char *argv[H_MAX_ARGS];
	char wrapbuf[1024];
	va_list ap;

	va_start(ap, out);
	build_argv(argv, wrapbuf, sizeof wrapbuf, NULL, ap);
	va_end(ap);
	return run_argv(e, argv, out);
}

int h_one_runs_two_wait(struct h_env *e, const char *global)
{
	const char *s = h_script(e, "wait.sh", "while [ ! -e \"$2/go\" ]; do sleep 0.02; done\n");

	h_config_simple(e, h_fmt("[\"%s\", \"{file}\", \"%s\"]", s, e->out), "",
			h_fmt("workers = 1;\n%s", global));
	h_start(e, "-v", NULL);
	if (!h_wait_ready(e, 10000))
		return 0;
	h_drop(e, "a.sea", "x");
	h_drop(e, "b.sea", "x");
	h_drop(e, "c.sea", "x");
	for (int i = 0; i < 250 && h_count_text(e->log, "event=start drop=d") < 3; i++)
		nap_ms(20);
	return h_count_text(e->log, "event=start drop=d") == 3;
}

const char *h_ctl_path(void)
{
	static char path[PATH_MAX];
	const char *p = getenv("SEAWATCHCTL");

	if (p && *p)
		return p;
	snprintf(path, sizeof path, "%s", daemon_path());
	if (strrchr(path, '/'))
		snprintf(strrchr(path, '/') + 1, sizeof path - (size_t)(strrchr(path, '/') + 1 - path),
			 "seawatchctl");
	else
		snprintf(path, sizeof path, "seawatchctl");
	return path;
}

const char *h_sock(const struct h_env *e)
{
	return h_fmt("%s/run/control.sock", e->root);
}

int h_ctl(struct h_env *e, char **out, ...)
{
	char *argv[H_MAX_ARGS];
	const char *a;
	va_list ap;
	int n = 0;

	argv[n++] = (char *)h_ctl_path();
	argv[n++] = (char *)"-s";
	argv[n++] = (char *)h_sock(e);
	va_start(ap, out);
	while ((a = va_arg(ap, const char *))) {
		if (n >= H_MAX_ARGS - 1)
			h_die("too many arguments");
		argv[n++] = (char *)a;
	}
	va_end(ap);
	argv[n] = NULL;
	return run_argv(e, argv, out);
}

int h_stop(struct h_env *e, int sig, int ms)
{
	pid_t pid = e->pid;
	int st;

	if (pid <= 0)
		return -1;
	kill(pid, sig);
	st = h_wait_pid(pid, ms);
	if (st == -1) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	e->pid = 0;
	return st;
}

/* ------------------------------------------------------------------ */
/* Looking.                                                            */

int h_count(const char *dir, const char *suffix)
{
	size_t slen = suffix ? strlen(suffix) : 0;
	struct dirent *de;
	int n = 0;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		struct stat st;
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (suffix && (len < slen || strcmp(de->d_name + len - slen, suffix)))
			continue;
		n++;
	}
	closedir(d);
	return n;
}

int h_wait_count(const char *dir, const char *suffix, int n, int ms)
{
	int64_t end = now_ms() + ms;

	for (;;) {
		if (h_count(dir, suffix) >= n)
			return 1;
		if (now_ms() >= end)
			return 0;
		nap_ms(10);
	}
}

int h_wait_text(const char *file, const char *needle, int ms)
{
	int64_t end = now_ms() + ms;

	for (;;) {
		if (file_has_from(file, 0, needle))
			return 1;
		if (now_ms() >= end)
			return 0;
		nap_ms(10);
	}
}

int h_count_text(const char *file, const char *needle)
{
	size_t len, nlen = strlen(needle);
	char *buf = slurp_from(file, 0, &len);
	const char *p, *end;
	int n = 0;

	if (!buf || nlen == 0) {
		free(buf);
		return 0;
	}
	p = buf;
	end = buf + len;
	while ((p = memmem(p, (size_t)(end - p), needle, nlen))) {
		n++;
		p += nlen;
	}
	free(buf);
	return n;
}

char *h_slurp(const char *path)
{
	return slurp_from(path, 0, NULL);
}

int h_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

int h_alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

int h_wait_gone(pid_t pid, int ms)
{
	int64_t end = now_ms() + ms;

	for (;;) {
		if (proc_dead(pid))
			return 1;
		if (now_ms() >= end)
			return 0;
		nap_ms(10);
	}
}

const char *h_fmt(const char *fmt, ...)
{
	static char bufs[8][H_PATH * 2];
	static int slot;
	char *buf = bufs[slot++ % 8];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, H_PATH * 2, fmt, ap);
	va_end(ap);
	return buf;
}

/* ------------------------------------------------------------------ */
/* The attacker.                                                       */

#define H_UPLOADER "sw-upload"

void h_uploader(uid_t *uid, gid_t *gid)
{
	struct passwd *pw = getpwnam(H_UPLOADER);

	if (!pw) {
		if (geteuid() != 0)
			cr_skip("needs root (to create the uploader user)");
		/* Two test processes may race to create it: whoever loses
		 * finds it made. */
		if (system("useradd --system --no-create-home --home-dir /nonexistent "
			   "--shell /usr/sbin/nologin " H_UPLOADER " >/dev/null 2>&1") != 0)
			nap_ms(200);
		pw = getpwnam(H_UPLOADER);
		if (!pw)
			h_die("cannot create the user %s", H_UPLOADER);
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
}

static pid_t as_spawn(struct h_env *e, uid_t uid, gid_t gid, const char *script)
{
	char *envp[8];
	pid_t pid;

	if (asprintf(&envp[0], "R=%s", e->root) < 0 || asprintf(&envp[1], "D=%s", e->drop) < 0 ||
	    asprintf(&envp[2], "DONE=%s", e->done) < 0 ||
	    asprintf(&envp[3], "FAILED=%s", e->failed) < 0 ||
	    asprintf(&envp[4], "O=%s", e->out) < 0)
		h_die("out of memory");
	envp[5] = (char *)"PATH=/usr/local/bin:/usr/bin:/bin";
	envp[6] = (char *)"LANG=C";
	envp[7] = NULL;
	fflush(NULL);
	pid = fork();
	if (pid == -1)
		h_die("fork: %s", strerror(errno));
	if (pid == 0) {
		char *argv[] = { (char *)"sh", (char *)"-c", (char *)script, NULL };
		sigset_t none;

		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (setgroups(0, NULL) == -1 || setgid(gid) == -1 || setuid(uid) == -1) {
			dprintf(2, "harness: cannot become %ld: %s\n", (long)uid, strerror(errno));
			_exit(126);
		}
		if (chdir("/") == -1)
			_exit(126);
		execve("/bin/sh", argv, envp);
		_exit(127);
	}
	setpgid(pid, pid);
	remember_pgid(pid);
	for (int i = 0; i < 5; i++)
		free(envp[i]);
	return pid;
}

int h_as(struct h_env *e, uid_t uid, gid_t gid, const char *script)
{
	pid_t pid = as_spawn(e, uid, gid, script);
	int st = h_wait_pid(pid, 30000);

	if (st == -1) {
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
		h_die("h_as: %s did not end within 30 s", script);
	}
	return st;
}

int h_is_worker_cmdline(const char *cl, size_t len)
{
	size_t first = strnlen(cl, len);

	return (len > first + 1 && !strcmp(cl + first + 1, "--worker")) ||
	       !strncmp(cl, "seawatch-worker: ", 17);
}

pid_t h_as_bg(struct h_env *e, uid_t uid, gid_t gid, const char *script)
{
	return as_spawn(e, uid, gid, script);
}

void h_tmpfs(struct h_env *e, const char *path, const char *opts)
{
	if (e->nmounts >= 4)
		h_die("too many mounts");
	if (mkdir(path, 0755) == -1 && errno != EEXIST)
		h_die("mkdir %s: %s", path, strerror(errno));
	if (mount("tmpfs", path, "tmpfs", MS_NODEV, opts) == -1) {
		if (errno == EPERM)
			cr_skip("cannot mount a tmpfs here (%s)", strerror(errno));
		h_die("mount tmpfs on %s: %s", path, strerror(errno));
	}
	snprintf(e->mounts[e->nmounts++], H_PATH, "%s", path);
}

int h_wait_none_left(struct h_env *e, int ms)
{
	static char buf[64 * 1024];
	int64_t end = now_ms() + ms;

	for (;;) {
		DIR *d = opendir("/proc");
		struct dirent *de;
		int left = 0;

		while (d && (de = readdir(d))) {
			char *endp;
			long v = strtol(de->d_name, &endp, 10);
			size_t n;

			if (*endp || v <= 0 || (pid_t)v == getpid() || proc_dead((pid_t)v))
				continue;
			n = read_proc((pid_t)v, "cmdline", buf, sizeof buf);
			if (mem_contains(buf, n, e->root))
				left++;
		}
		if (d)
			closedir(d);
		if (!left)
			return 1;
		if (now_ms() >= end)
			return 0;
		nap_ms(10);
	}
}
