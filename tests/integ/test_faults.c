/*
 * test_faults.c - fault and load integration tests: the real seawatchd under
 * timeouts, bursts, backlogs, kill -9, crash loops, graceful stops, dying
 * workers, inotify overflow, a vanishing drop directory, descriptor leaks and
 * --once.  Each test builds its own world with the harness (harness.h) and
 * waits on conditions with deadlines; the few short sleeps only give the
 * daemon a chance to do something it must not do.
 *
 * Scripts record their pids in OUT/ *.pid files so that a test can check
 * that they are gone when they should be.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define T_OPTS .init = setup, .fini = teardown, .timeout = 90

static struct h_env env;

/* ------------------------------------------------------------------ */
/* helpers                                                             */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* snprintf into our own rotating buffers: harness functions may use
 * h_fmt's slots internally, so paths we hand them never live there. */
static const char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static const char *fmt(const char *f, ...)
{
	static char bufs[16][H_PATH * 2];
	static unsigned slot;
	char *b = bufs[slot++ % 16];
	va_list ap;

	va_start(ap, f);
	vsnprintf(b, sizeof bufs[0], f, ap);
	va_end(ap);
	return b;
}

/* Write root/NAME: OUT='<out dir>' then BODY.  Returns a stable copy. */
static const char *script(const char *name, const char *body)
{
	static char paths[4][H_PATH * 2];
	static int slot;
	char text[8192];
	char *p = paths[slot++ % 4];

	snprintf(text, sizeof text, "OUT='%s'\n%s", env.out, body);
	snprintf(p, H_PATH * 2, "%s", h_script(&env, name, text));
	return p;
}

/* The usual command list: SCRIPT {file} {name}. */
static const char *cmd_of(const char *script_path)
{
	return fmt("[\"%s\", \"{file}\", \"{name}\"]", script_path);
}

/* In-flight files live somewhere in the spool, ROOT/.seawatch by default
 * (the layout is the daemon's business: d/run.<pid>.<stamp>.<k>/<slot>/NAME
 * today).  Count the
 * regular *.sea files there, at any depth; 0 if it does not exist. */
static int inflight_n;

static int inflight_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	const char *base = path + ftw->base;
	size_t len = strlen(base);

	if (flag == FTW_F && S_ISREG(st->st_mode) && base[0] != '.' &&
	    len > 4 && strcmp(base + len - 4, ".sea") == 0)
		inflight_n++;
	return 0;
}

static int inflight(void)
{
	char dir[H_PATH * 2];

	snprintf(dir, sizeof dir, "%s/.seawatch", env.root);
	inflight_n = 0;
	if (h_exists(dir))
		nftw(dir, inflight_one, 16, FTW_PHYS);
	return inflight_n;
}

/* Files of the drop not yet finished: still in the drop or in flight. */
static int pending(void)
{
	int n = h_count(env.drop, NULL);

	return (n < 0 ? 0 : n) + inflight();
}

static int count_lines_v(const char *file, const char **needles, int nn)
{
	char *text = h_slurp(file);
	int hits = 0;

	if (!text)
		return 0;
	for (char *line = text, *next; line && *line; line = next) {
		int all = 1;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		for (int i = 0; i < nn && all; i++)
			all = strstr(line, needles[i]) != NULL;
		hits += all;
	}
	free(text);
	return hits;
}

/* Number of lines of FILE that contain every needle (NULL-terminated). */
static int count_lines(const char *file, ...) __attribute__((sentinel));
static int count_lines(const char *file, ...)
{
	const char *needles[16];
	int nn = 0;
	va_list ap;

	va_start(ap, file);
	while (nn < 16 && (needles[nn] = va_arg(ap, const char *)) != NULL)
		nn++;
	va_end(ap);
	return count_lines_v(file, needles, nn);
}

/* Poll until the daemon's log has at least N lines containing every
 * needle; the daemon may log an outcome just after moving the file. */
static int wait_log(int n, int ms, ...) __attribute__((sentinel));
static int wait_log(int n, int ms, ...)
{
	const char *needles[16];
	long long end = now_ms() + ms;
	int nn = 0;
	va_list ap;

	va_start(ap, ms);
	while (nn < 16 && (needles[nn] = va_arg(ap, const char *)) != NULL)
		nn++;
	va_end(ap);
	for (;;) {
		if (count_lines_v(env.log, needles, nn) >= n)
			return 1;
		if (now_ms() >= end)
			return 0;
		sleep_ms(10);
	}
}

static int count_substr(const char *s, const char *needle)
{
	int n = 0;

	if (!s)
		return 0;
	for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* Poll until FILE holds at least N occurrences of NEEDLE. */
static int wait_text_count(const char *file, const char *needle, int n, int ms)
{
	long long end = now_ms() + ms;

	for (;;) {
		if (h_count_text(file, needle) >= n)
			return 1;
		if (now_ms() >= end)
			return 0;
		sleep_ms(10);
	}
}

/* Poll until done + failed hold at least N .sea files. */
static int wait_finished(int n, int ms)
{
	long long end = now_ms() + ms;

	for (;;) {
		if (h_count(env.done, ".sea") + h_count(env.failed, ".sea") >= n)
			return 1;
		if (now_ms() >= end)
			return 0;
		sleep_ms(10);
	}
}

/* First integer in FILE, or 0. */
static pid_t read_pid(const char *file)
{
	char *t = h_slurp(file);
	pid_t pid = t ? (pid_t)atol(t) : 0;

	free(t);
	return pid;
}

/* 1 while our child daemon is running; reaps it (and clears env.pid) if
 * it has exited, so that the assertion message can say how. */
static int daemon_running(int *status)
{
	int st;
	pid_t r;

	if (env.pid <= 0)
		return 0;
	r = waitpid(env.pid, &st, WNOHANG);
	if (r == 0)
		return 1;
	if (status)
		*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	env.pid = 0;
	return 0;
}

/* Children of PPID (the daemon's workers), from /proc. */
static int children_of(pid_t ppid, pid_t *out, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL && n < max) {
		char buf[512], *p;
		long pp;
		FILE *f;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		f = fopen(fmt("/proc/%s/stat", de->d_name), "r");
		if (!f)
			continue;
		if (!fgets(buf, sizeof buf, f)) {
			fclose(f);
			continue;
		}
		fclose(f);
		p = strrchr(buf, ')');
		if (p && sscanf(p + 1, " %*c %ld", &pp) == 1 && pp == ppid)
			out[n++] = (pid_t)atol(de->d_name);
	}
	closedir(d);
	return n;
}

/* SIGKILL the daemon (not its group), after noting its workers; then
 * assert the workers notice and exit within 10 s. */
static void kill9_daemon(void)
{
	pid_t workers[64];
	int nw = children_of(env.pid, workers, 64);
	int rc = h_stop(&env, SIGKILL, 5000);

	cr_assert_eq(rc, 128 + SIGKILL, "daemon did not die of SIGKILL (h_stop %d)", rc);
	for (int i = 0; i < nw; i++)
		cr_assert(h_wait_gone(workers[i], 10000),
			  "worker %d still alive 10 s after the master was SIGKILLed",
			  (int)workers[i]);
}

/* Pids recorded in OUT/ *.pid files (one or more per file). */
static int recorded_pids(pid_t *out, int max)
{
	DIR *d = opendir(env.out);
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL && n < max) {
		size_t len = strlen(de->d_name);
		char *t, *p;

		if (len < 4 || strcmp(de->d_name + len - 4, ".pid") != 0)
			continue;
		t = h_slurp(fmt("%s/%s", env.out, de->d_name));
		for (p = t; p && *p && n < max;) {
			char *end;
			long v = strtol(p, &end, 10);

			if (end == p) {
				p++;
				continue;
			}
			if (v > 1)
				out[n++] = (pid_t)v;
			p = end;
		}
		free(t);
	}
	closedir(d);
	return n;
}

static void setup(void)
{
	h_setup(&env);
}

/* h_teardown kills the daemon's group and every process whose command line
 * or environment names the test's root (scripts and their grandchildren). */
static void teardown(void)
{
	h_teardown(&env);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Assert FILE has exactly N lines, all distinct, each of the form
 * PREFIX%03d.sea with the number below N. */
static void assert_seen_exactly(const char *file, const char *prefix, int n)
{
	char *text = h_slurp(file);
	char **lines = calloc((size_t)n + 1, sizeof *lines);
	int nl = 0;

	cr_assert(text, "%s missing: the command never ran", file);
	cr_assert(lines);
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (nl < n + 1)
			lines[nl] = line;
		nl++;
	}
	cr_assert_eq(nl, n, "command ran %d times for %d files", nl, n);
	qsort(lines, (size_t)n, sizeof *lines, cmp_str);
	for (int i = 0; i < n; i++) {
		int k = -1;

		if (i > 0)
			cr_assert(strcmp(lines[i - 1], lines[i]) != 0,
				  "%s processed twice", lines[i]);
		cr_assert(strncmp(lines[i], prefix, strlen(prefix)) == 0 &&
			  sscanf(lines[i] + strlen(prefix), "%d", &k) == 1 &&
			  k >= 0 && k < n &&
			  strcmp(lines[i], fmt("%s%03d.sea", prefix, k)) == 0,
			  "unexpected name '%s' passed to the command", lines[i]);
	}
	free(lines);
	free(text);
}

static void assert_drop_empty(void)
{
	int in_drop = h_count(env.drop, NULL);
	int in_flight = inflight();

	cr_assert_eq(in_drop, 0, "%d files left in the drop", in_drop);
	cr_assert_eq(in_flight, 0, "%d files left in flight (.seawatch)", in_flight);
}

/* The sidecar of failed/NAME; the daemon may write it just after the move,
 * so wait for it (and for its "output:" line, which precedes the tail). */
static char *sidecar(const char *name)
{
	char path[H_PATH * 2];
	char *s;

	snprintf(path, sizeof path, "%s/%s.error", env.failed, name);
	h_wait_text(path, "output:", 5000);
	s = h_slurp(path);
	cr_assert(s, "no sidecar failed/%s.error", name);
	return s;
}

static void start_ready(void)
{
	cr_assert(h_start(&env, NULL) > 0, "could not start seawatchd");
	cr_assert(h_wait_ready(&env, 15000),
		  "seawatchd not ready within 15 s (see %s)", env.log);
}

/* ------------------------------------------------------------------ */
/* 1. timeouts                                                         */

/* A timeout sends SIGTERM to the command's whole group (the script and a
 * background grandchild), reports status=timeout, and does not wait for
 * kill_grace when the group dies of the SIGTERM. */
Test(faults, timeout_kills_whole_group, T_OPTS)
{
	const char *s = script("slow.sh",
		"trap 'echo TERM > \"$OUT/term\"; exit 143' TERM\n"
		"echo $$ > \"$OUT/sh.pid\"\n"
		"sleep 300 &\n"
		"echo $! > \"$OUT/gc.pid\"\n"
		"wait\n");
	long long t0, t1;
	pid_t sh, gc;
	char *sc;

	h_config_simple(&env, cmd_of(s), "timeout = \"1s\"; kill_grace = \"2s\";", "");
	start_ready();
	h_drop(&env, "a.sea", "x");

	cr_assert(h_wait_text(fmt("%s/gc.pid", env.out), "\n", 15000), "script never started");
	t0 = now_ms();
	sh = read_pid(fmt("%s/sh.pid", env.out));
	gc = read_pid(fmt("%s/gc.pid", env.out));
	cr_assert(sh > 1 && gc > 1);
	cr_assert_eq(getpgid(sh), sh, "command is not the leader of its own process group");
	cr_assert_eq(getpgid(gc), sh, "grandchild is not in the command's process group");
	cr_assert_neq(getpgid(sh), getpgid(env.pid), "command shares the daemon's process group");

	cr_assert(h_wait_count(env.failed, ".sea", 1, 15000), "timed-out file not in failed");
	t1 = now_ms();
	cr_assert(t1 - t0 >= 800, "failed after %lld ms, before the 1 s timeout", t1 - t0);
	cr_assert(t1 - t0 < 3000,
		  "failed only after %lld ms: the daemon waited out kill_grace (2 s) "
		  "although the group died of SIGTERM", t1 - t0);

	cr_assert(h_exists(fmt("%s/term", env.out)),
		  "the script never got SIGTERM (killed outright?)");
	cr_assert(h_wait_gone(sh, 5000), "script pid %d survived the timeout", (int)sh);
	cr_assert(h_wait_gone(gc, 5000), "grandchild pid %d survived the timeout", (int)gc);

	sc = sidecar("a.sea");
	cr_assert(strstr(sc, "status=timeout"), "sidecar lacks status=timeout:\n%s", sc);
	cr_assert(strstr(sc, "attempts=1"), "sidecar lacks attempts=1:\n%s", sc);
	free(sc);
	wait_log(1, 5000, "event=failed", "file=a.sea", NULL);
	cr_assert_eq(count_lines(env.log, "event=failed", "file=a.sea", "status=timeout", NULL), 1,
		     "no single event=failed ... status=timeout line in the log");
	cr_assert_eq(h_count(env.done, NULL), 0);
	assert_drop_empty();
}

/* A command that ignores SIGTERM (and whose grandchild inherits that) is
 * SIGKILLed after kill_grace; the whole group goes. */
Test(faults, timeout_sigkill_after_grace, T_OPTS)
{
	const char *s = script("stubborn.sh",
		"trap '' TERM\n"
		"echo $$ > \"$OUT/sh.pid\"\n"
		"sleep 300 &\n"
		"echo $! > \"$OUT/gc.pid\"\n"
		"sleep 300\n");
	long long t0, t1;
	pid_t sh, gc;
	char *sc;

	h_config_simple(&env, cmd_of(s), "timeout = \"1s\"; kill_grace = \"1s\";", "");
	start_ready();
	h_drop(&env, "a.sea", "x");

	cr_assert(h_wait_text(fmt("%s/gc.pid", env.out), "\n", 15000), "script never started");
	t0 = now_ms();
	sh = read_pid(fmt("%s/sh.pid", env.out));
	gc = read_pid(fmt("%s/gc.pid", env.out));
	cr_assert(sh > 1 && gc > 1);

	cr_assert(h_wait_count(env.failed, ".sea", 1, 15000), "timed-out file not in failed");
	t1 = now_ms();
	cr_assert(t1 - t0 >= 1700,
		  "failed after %lld ms: timeout 1 s + kill_grace 1 s was not honoured", t1 - t0);
	cr_assert(h_wait_gone(sh, 5000), "TERM-ignoring script pid %d survived", (int)sh);
	cr_assert(h_wait_gone(gc, 5000), "TERM-ignoring grandchild pid %d survived", (int)gc);

	sc = sidecar("a.sea");
	cr_assert(strstr(sc, "status=timeout"), "sidecar lacks status=timeout:\n%s", sc);
	free(sc);
	cr_assert(daemon_running(NULL), "daemon died");
}

/* ------------------------------------------------------------------ */
/* 2-3. load                                                           */

/* A burst far larger than the queue: nothing lost, nothing twice. */
Test(faults, burst_through_tiny_queue, T_OPTS)
{
	const char *s = script("seen.sh", "echo \"$2\" >> \"$OUT/seen\"\n");

	h_config_simple(&env, cmd_of(s), "", "queue_size = 2; workers = 2;");
	start_ready();
	for (int i = 0; i < 300; i++)
		h_drop(&env, fmt("f%03d.sea", i), "x");

	cr_assert(h_wait_count(env.done, ".sea", 300, 60000),
		  "only %d of 300 files in done after 60 s (failed %d, pending %d)",
		  h_count(env.done, ".sea"), h_count(env.failed, NULL), pending());
	sleep_ms(300); /* let a duplicate show up, if there is one */
	cr_assert_eq(h_count(env.done, NULL), 300, "done holds %d files", h_count(env.done, NULL));
	cr_assert_eq(h_count(env.failed, NULL), 0, "failed holds %d files", h_count(env.failed, NULL));
	for (int i = 0; i < 300; i++)
		cr_assert(h_exists(fmt("%s/f%03d.sea", env.done, i)), "f%03d.sea not in done", i);
	assert_drop_empty();
	assert_seen_exactly(fmt("%s/seen", env.out), "f", 300);
	wait_log(300, 5000, "event=done", NULL);
	cr_assert_eq(count_lines(env.log, "event=done", NULL), 300, "%d event=done lines for 300 files",
		     count_lines(env.log, "event=done", NULL));
	cr_assert(daemon_running(NULL), "daemon died");
}

/* Wait (75 s at most) until all N files the seen.sh command logs are done,
 * each once, none failed, the drop empty; the most files claimed into the
 * spool at once seen on the way (sampled every 5 ms). */
static int backlog_done(int n)
{
	int max_claimed = 0;
	long long end = now_ms() + 75000;

	while (h_count(env.done, ".sea") < n && now_ms() < end) {
		int c = inflight();

		if (c > max_claimed)
			max_claimed = c;
		sleep_ms(5);
	}
	cr_assert_eq(h_count(env.done, ".sea"), n,
		     "only %d of %d files done after 75 s (failed %d, pending %d)",
		     h_count(env.done, ".sea"), n, h_count(env.failed, NULL), pending());
	cr_assert_eq(h_count(env.failed, NULL), 0);
	assert_drop_empty();
	cr_assert_eq(h_count_text(fmt("%s/seen", env.out), "\n"), n,
		     "command ran %d times for %d files",
		     h_count_text(fmt("%s/seen", env.out), "\n"), n);
	return max_claimed;
}

/* A backlog of 2000 files before start with a queue of 8: all done, and
 * the queue bound holds (at most queue_size + workers files claimed). */
Test(faults, backlog_at_start, T_OPTS)
{
	const char *s = script("seen.sh", "echo \"$2\" >> \"$OUT/seen\"\n");
	int max_claimed;

	h_config_simple(&env, cmd_of(s), "", "queue_size = 8; workers = 2;");
	for (int i = 0; i < 2000; i++)
		h_drop(&env, fmt("b%04d.sea", i), "x");
	start_ready();
	max_claimed = backlog_done(2000);
	cr_assert(max_claimed <= 8 + 2,
		  "%d files claimed into .seawatch at once with queue_size 8 + 2 workers: "
		  "the queue is not bounded", max_claimed);
}

/* Slot directories made in the spool's run directories (numeric names):
 * one per slot a claim ever used. */
static int slot_dirs_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	const char *base = path + ftw->base;

	if (flag == FTW_D && ftw->level == 3 && S_ISDIR(st->st_mode) &&
	    base[strspn(base, "0123456789")] == '\0')
		inflight_n++;
	return 0;
}

static int slot_dirs(void)
{
	inflight_n = 0;
	nftw(fmt("%s/.seawatch", env.root), slot_dirs_one, 16, FTW_PHYS);
	return inflight_n;
}

/* A backlog, at start and in a burst, with the default queue_size (1024):
 * the daemon claims only what its workers are about to take -- with 2
 * workers, 2 running + 2 x (PROTO_AHEAD 2 + 2) not started -- and leaves
 * the rest in the drop, so its spool never makes more than that many slot
 * directories (each a new inode: claiming a backlog whole made ~queue_size
 * of them, at up to 1 ms each on an ext4 after deletions). */
Test(faults, a_backlog_waits_in_the_drop_not_the_spool, T_OPTS)
{
	const char *s = script("seen.sh", "echo \"$2\" >> \"$OUT/seen\"\n");
	int max_claimed;

	h_config_simple(&env, cmd_of(s), "", "workers = 2;");
	for (int i = 0; i < 600; i++)
		h_drop(&env, fmt("b%04d.sea", i), "x");
	start_ready();
	for (int i = 0; i < 600; i++)
		h_drop(&env, fmt("c%04d.sea", i), "x");
	max_claimed = backlog_done(1200);
	cr_assert(max_claimed <= 2 + 8, "%d files claimed at once by 2 workers", max_claimed);
	cr_assert(slot_dirs() <= 2 + 8, "%d slot directories made in the spool for 2 workers",
		  slot_dirs());
}

/* One worker, a slow command, 50 files renamed in faster than it runs them,
 * named so that the directory lists them in another order: they run in the
 * order they came.  The worker takes 4 ahead; the rest (fewer than the
 * harness's queue_size, 64) wait by name in arrival order, not for a scan
 * (which goes in the directory's order). */
Test(faults, a_burst_is_taken_in_the_order_it_came, T_OPTS)
{
	const char *s = script("seen.sh", "echo \"$2\" >> \"$OUT/seen\"\nsleep 0.01\n");
	char want[50 * 16] = "", *got;

	h_config_simple(&env, cmd_of(s), "", "workers = 1;");
	start_ready();
	sleep_ms(300);   /* the start's scan of the empty drop is over */
	for (int i = 0; i < 50; i++) {
		const char *name = fmt("f%02d-%d.sea", (i * 37) % 50, i);

		h_drop(&env, name, "x");
		strcat(want, name);
		strcat(want, "\n");
	}
	backlog_done(50);
	got = h_slurp(fmt("%s/seen", env.out));
	cr_assert_not_null(got);
	cr_assert_str_eq(got, want, "not run in the order the files came:\n%s", got);
	free(got);
}

/* One worker, a slow command, 20 files renamed in; file 18 (waiting by
 * name: only a few are claimed ahead) has its times changed while it
 * waits.  It is no longer what its event saw, so it is not claimed on the
 * event's word -- but it is not forgotten either: a scan takes it. */
Test(faults, a_file_changed_while_it_waits_is_still_taken, T_OPTS)
{
	const char *s = script("seen.sh", "echo \"$2\" >> \"$OUT/seen\"\nsleep 0.05\n");
	struct timespec ts[2] = { { 1000000000, 0 }, { 1000000000, 0 } };

	h_config_simple(&env, cmd_of(s), "", "workers = 1;");
	start_ready();
	sleep_ms(300);   /* the start's scan of the empty drop is over */
	for (int i = 0; i < 20; i++)
		h_drop(&env, fmt("c%02d.sea", i), "x");
	cr_assert_eq(utimensat(AT_FDCWD, fmt("%s/c18.sea", env.drop), ts, 0), 0);
	cr_assert(!h_exists(fmt("%s/c18.sea", env.done)), "c18 was done before it was touched");
	backlog_done(20);
}

/* The same, but file 18 is opened again for appending while it waits, and
 * nothing written yet (its times unchanged): it is not claimed while that
 * writer holds it, and what the command reads, once the writer closed it,
 * is the whole file.  (Taken on its close's word, it was claimed under
 * the writer, copied, and the appended bytes never processed.) */
Test(faults, a_file_reopened_for_writing_while_it_waits_is_not_taken, T_OPTS)
{
	const char *s = script("size.sh", "echo \"$2 $(wc -c < \"$1\")\" >> \"$OUT/seen\"\n"
				      "sleep 0.05\n");
	char *seen;
	int fd;

	h_config_simple(&env, cmd_of(s), "", "workers = 1;");
	start_ready();
	sleep_ms(300);
	for (int i = 0; i < 20; i++)
		h_drop(&env, fmt("c%02d.sea", i), "x");
	fd = open(fmt("%s/c18.sea", env.drop), O_WRONLY | O_APPEND);
	cr_assert_geq(fd, 0, "c18 was claimed before it could be opened again");
	cr_assert(h_wait_count(env.done, ".sea", 19, 15000), "the others not done");
	sleep_ms(300);
	cr_assert(!h_exists(fmt("%s/c18.sea", env.done)), "taken while open for writing");
	cr_assert_eq(write(fd, "more", 4), 4);
	close(fd);
	cr_assert(h_wait_count(env.done, ".sea", 20, 15000), "c18 not done after its close");
	seen = h_slurp(fmt("%s/seen", env.out));
	cr_assert_not_null(seen);
	cr_assert(strstr(seen, "c18.sea 5\n"), "c18 was not read whole (x + more):\n%s", seen);
	free(seen);
}

/* ------------------------------------------------------------------ */
/* 4-5. the daemon dies                                                */

/* kill -9 of the master mid-job: workers kill their command groups and
 * exit; after a restart every file ends in exactly one of done/failed. */
Test(faults, kill9_mid_job_then_restart, T_OPTS)
{
	const char *s = script("job.sh",
		"echo $$ > \"$OUT/$2.pid\"\n"
		"if [ -e \"$OUT/slow\" ]; then sleep 30 & else sleep 1 & fi\n"
		"echo $! > \"$OUT/$2.gc.pid\"\n"
		"touch \"$OUT/$2.started\"\n"
		"wait\n"
		"echo \"$2\" >> \"$OUT/seen\"\n");
	pid_t pids[64];
	int np, nfailed, ndone;

	/* Before the kill the jobs sleep 30 s, so that one a worker leaves
	 * behind is still there to be seen; after the restart, 1 s. */
	h_write(fmt("%s/slow", env.out), "", 0644);
	h_config_simple(&env, cmd_of(s), "retries = 0;", "");
	start_ready();
	for (int i = 0; i < 10; i++)
		h_drop(&env, fmt("k%02d.sea", i), "x");
	cr_assert(h_wait_count(env.out, ".started", 1, 15000), "no job started");

	kill9_daemon();
	np = recorded_pids(pids, 64);
	cr_assert(np >= 2, "the started job recorded no pids");
	for (int i = 0; i < np; i++)
		cr_assert(h_wait_gone(pids[i], 5000),
			  "command process %d survived the master's SIGKILL by 5 s",
			  (int)pids[i]);

	cr_assert_eq(unlink(fmt("%s/slow", env.out)), 0);
	start_ready();
	cr_assert(wait_finished(10, 30000),
		  "after restart only %d done + %d failed of 10 (pending %d)",
		  h_count(env.done, ".sea"), h_count(env.failed, ".sea"), pending());
	sleep_ms(300);
	ndone = h_count(env.done, ".sea");
	nfailed = h_count(env.failed, ".sea");
	cr_assert_eq(ndone + nfailed, 10, "%d done + %d failed for 10 files", ndone, nfailed);
	for (int i = 0; i < 10; i++) {
		char name[32];
		int d, f;

		snprintf(name, sizeof name, "k%02d.sea", i);
		d = h_exists(fmt("%s/%s", env.done, name));
		f = h_exists(fmt("%s/%s", env.failed, name));
		cr_assert(d + f == 1, "%s: in done %d, in failed %d", name, d, f);
		if (f) {
			char *sc = sidecar(name);

			/* retries = 0: an attempt cut short by the crash was the last */
			cr_assert(strstr(sc, "status=crashed"),
				  "%s failed without status=crashed:\n%s", name, sc);
			free(sc);
		}
	}
	cr_assert(nfailed >= 1,
		  "no file failed as crashed, yet one was running (retries = 0) when the "
		  "daemon was killed");
	cr_assert(nfailed <= 2, "%d files failed, more than the 2 that could be in flight", nfailed);
	assert_drop_empty();
	cr_assert(daemon_running(NULL), "daemon died");
}

/* A file whose processing "kills the daemon" each time: after retries + 1
 * crashed starts the next start fails it with status=crashed, unrun. */
Test(faults, crash_loop_is_bounded, T_OPTS)
{
	const char *s = script("crash.sh",
		"echo $$ >> \"$OUT/run.pid\"\n"
		"echo \"run $SEAWATCH_ATTEMPT\" >> \"$OUT/runs\"\n"
		"exec sleep 30\n");
	const char *runs = fmt("%s/runs", env.out);
	char runs_path[H_PATH * 2];
	char *sc;

	snprintf(runs_path, sizeof runs_path, "%s", runs);
	h_config_simple(&env, cmd_of(s), "retries = 1;", "");
	h_drop(&env, "c.sea", "x");

	for (int start = 1; start <= 2; start++) {
		pid_t pids[8];
		int np;

		start_ready();
		cr_assert(wait_text_count(runs_path, "run", start, 15000),
			  "start %d: the command did not run (runs has %d lines)",
			  start, h_count_text(runs_path, "run"));
		kill9_daemon();
		np = recorded_pids(pids, 8);
		for (int i = 0; i < np; i++)
			cr_assert(h_wait_gone(pids[i], 5000),
				  "start %d: command %d survived the master's death", start, (int)pids[i]);
	}

	start_ready();
	cr_assert(h_wait_count(env.failed, ".sea", 1, 15000),
		  "third start did not fail the crash-looping file (runs: %d)",
		  h_count_text(runs_path, "run"));
	sleep_ms(500);
	cr_assert_eq(h_count_text(runs_path, "run"), 2,
		     "command ran %d times, expected retries + 1 = 2",
		     h_count_text(runs_path, "run"));
	cr_assert_eq(h_count_text(runs_path, "run 1\n"), 1, "first run was not attempt 1");
	cr_assert_eq(h_count_text(runs_path, "run 2\n"), 1,
		     "second run was not attempt 2: the attempt count did not survive the restart");
	sc = sidecar("c.sea");
	cr_assert(strstr(sc, "status=crashed"), "sidecar lacks status=crashed:\n%s", sc);
	cr_assert(strstr(sc, "attempts=2"), "sidecar lacks attempts=2:\n%s", sc);
	free(sc);
	wait_log(1, 5000, "event=failed", "file=c.sea", NULL);
	cr_assert_eq(count_lines(env.log, "event=failed", "file=c.sea", "status=crashed", NULL), 1,
		     "no event=failed ... status=crashed line");
	cr_assert_eq(h_count(env.done, NULL), 0);
	assert_drop_empty();
	cr_assert(daemon_running(NULL), "daemon died on the third start");
}

/* ------------------------------------------------------------------ */
/* 6. graceful stop                                                    */

/* SIGTERM while a short job runs: it finishes within shutdown_grace, the
 * daemon exits 0 promptly, and the queued job is not started. */
Test(faults, sigterm_lets_running_job_finish, T_OPTS)
{
	const char *s = script("short.sh",
		"touch \"$OUT/$2.started\"\n"
		"sleep 1\n"
		"echo \"$2\" >> \"$OUT/seen\"\n");
	const char *first, *second;
	long long t0, dt;
	int rc;

	h_config_simple(&env, cmd_of(s), "", "workers = 1;");
	start_ready();
	h_drop(&env, "a.sea", "x");
	h_drop(&env, "b.sea", "x");
	cr_assert(h_wait_count(env.out, ".started", 1, 15000), "no job started");
	first = h_exists(fmt("%s/a.sea.started", env.out)) ? "a.sea" : "b.sea";
	second = first[0] == 'a' ? "b.sea" : "a.sea";

	t0 = now_ms();
	rc = h_stop(&env, SIGTERM, 10000);
	dt = now_ms() - t0;
	cr_assert_eq(rc, 0, "graceful stop exited %d (-1: still running after 10 s)", rc);
	cr_assert(dt < 4500, "graceful stop took %lld ms for a 1 s job (shutdown_grace 5 s)", dt);
	cr_assert(h_exists(fmt("%s/%s", env.done, first)),
		  "%s, running at SIGTERM and finishing within grace, is not in done", first);
	cr_assert(!h_exists(fmt("%s/%s.started", env.out, second)),
		  "%s was started after SIGTERM", second);
	cr_assert(!h_exists(fmt("%s/%s", env.done, second)) &&
		  !h_exists(fmt("%s/%s", env.failed, second)),
		  "%s, never started, was moved out", second);
	cr_assert_eq(pending(), 1, "the queued file is not left for the next start (pending %d)",
		     pending());
	cr_assert_eq(count_lines(env.log, "event=stopped", NULL), 1, "no event=stopped");
}

/* SIGTERM with a job that outlives shutdown_grace: killed, exit 0, file
 * left in flight; the next start runs it as attempt 1. */
Test(faults, sigterm_kills_long_job_and_leaves_file, T_OPTS)
{
	const char *s = script("long.sh",
		"echo $$ > \"$OUT/$2.pid\"\n"
		"exec sleep 60\n");
	const char *fast;
	long long t0, dt;
	pid_t pid;
	int rc;

	h_config_simple(&env, cmd_of(s), "", "shutdown_grace = \"500ms\";");
	start_ready();
	h_drop(&env, "a.sea", "x");
	cr_assert(h_wait_text(fmt("%s/a.sea.pid", env.out), "\n", 15000), "job never started");
	pid = read_pid(fmt("%s/a.sea.pid", env.out));

	t0 = now_ms();
	rc = h_stop(&env, SIGTERM, 10000);
	dt = now_ms() - t0;
	cr_assert_eq(rc, 0, "graceful stop exited %d (-1: still running after 10 s)", rc);
	cr_assert(dt < 5000, "stop took %lld ms with shutdown_grace 500ms", dt);
	cr_assert(h_wait_gone(pid, 3000), "the long job (pid %d) survived the stop", (int)pid);
	cr_assert_eq(h_count(env.done, NULL), 0, "interrupted file moved to done");
	cr_assert_eq(h_count(env.failed, NULL), 0, "interrupted file moved to failed");
	cr_assert_eq(pending(), 1, "interrupted file not left for the next start (pending %d)",
		     pending());
	cr_assert_eq(count_lines(env.log, "event=failed", NULL), 0);
	cr_assert_eq(count_lines(env.log, "event=retry", NULL), 0);
	cr_assert_eq(count_lines(env.log, "event=stopped", NULL), 1, "no event=stopped");

	fast = script("fast.sh", "echo \"$SEAWATCH_ATTEMPT\" > \"$OUT/$2.attempt\"\n");
	h_config_simple(&env, cmd_of(fast), "", "");
	start_ready();
	cr_assert(h_wait_count(env.done, ".sea", 1, 15000),
		  "file not done after restart (failed %d: was the interrupted attempt counted?)",
		  h_count(env.failed, ".sea"));
	wait_log(1, 5000, "event=done", "file=a.sea", NULL);
	cr_assert_eq(count_lines(env.log, "event=done", "file=a.sea", "attempt=1 ", NULL), 1,
		     "no event=done ... attempt=1: the interrupted attempt was counted");
	cr_assert(h_wait_text(fmt("%s/a.sea.attempt", env.out), "1\n", 1000),
		  "SEAWATCH_ATTEMPT was not 1 after the interrupted attempt");
	assert_drop_empty();
}

/* ------------------------------------------------------------------ */
/* 7. a worker dies                                                    */

Test(faults, worker_death_is_a_failed_attempt, T_OPTS)
{
	const char *s = script("killer.sh",
		"case \"$2\" in\n"
		"kill*) echo \"$PPID\" >> \"$OUT/killed\"; kill -9 \"$PPID\"; exit 3;;\n"
		"esac\n"
		"echo \"$2\" >> \"$OUT/seen\"\n");
	const char *killed = fmt("%s/killed", env.out);
	char killed_path[H_PATH * 2];
	char *sc;
	int st = -1;

	snprintf(killed_path, sizeof killed_path, "%s", killed);
	h_config_simple(&env, cmd_of(s), "retries = 1;", "");
	start_ready();
	h_drop(&env, "kill.sea", "x");

	cr_assert(h_wait_count(env.failed, ".sea", 1, 30000),
		  "worker-killing file not in failed after 30 s (kills: %d, daemon running %d)",
		  h_count_text(killed_path, "\n"), daemon_running(NULL));
	cr_assert(daemon_running(&st), "the daemon died (status %d) when its worker was killed", st);
	cr_assert_eq(h_count_text(killed_path, "\n"), 2,
		     "the file ran %d times, expected 2 (retries = 1)", h_count_text(killed_path, "\n"));
	wait_log(1, 5000, "event=failed", "file=kill.sea", NULL);
	cr_assert_eq(count_lines(env.log, "event=retry", "file=kill.sea", "status=worker-died", NULL), 1,
		     "no event=retry ... status=worker-died line");
	cr_assert_eq(count_lines(env.log, "event=failed", "file=kill.sea", "status=worker-died", NULL), 1,
		     "no event=failed ... status=worker-died line");
	/* How each of the two workers ended, as waitpid() told (issue 9):
	 * the second is reaped on its SIGCHLD, which may come after the
	 * file is in failed/ (it did under valgrind). */
	wait_log(2, 5000, "event=worker-died", "how=signal:SIGKILL", NULL);
	cr_assert_eq(count_lines(env.log, "event=worker-died", "how=signal:SIGKILL", NULL), 2,
		     "no event=worker-died ... how=signal:SIGKILL line per killed worker");
	sc = sidecar("kill.sea");
	cr_assert(strstr(sc, "status=worker-died"), "sidecar lacks status=worker-died:\n%s", sc);
	cr_assert(strstr(sc, "attempts=2"), "sidecar lacks attempts=2:\n%s", sc);
	free(sc);

	h_drop(&env, "ok.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 1, 15000),
		  "after two worker deaths a normal file is not processed");
	cr_assert(h_exists(fmt("%s/ok.sea", env.done)));
	cr_assert(daemon_running(&st), "daemon died (status %d)", st);
	assert_drop_empty();
}

/* ------------------------------------------------------------------ */
/* 8. inotify queue overflow                                           */

#define MQE "/proc/sys/fs/inotify/max_queued_events"
static char saved_mqe[32];

/* h_write would fchmod, which /proc/sys refuses. */
static int write_sysctl(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, value, strlen(value));
	close(fd);
	return n == (ssize_t)strlen(value) ? 0 : -1;
}

/* Held from saving the limit until restoring it, so that two runs of this
 * test (two checkouts, two sessions) never save each other's 16. */
#define MQE_LOCK "/tmp/seawatch-faults-mqe.lock"
static int mqe_lock = -1;

static void restore_mqe(void)
{
	if (saved_mqe[0] && write_sysctl(MQE, saved_mqe) == 0)
		saved_mqe[0] = '\0';
	if (mqe_lock >= 0 && !saved_mqe[0]) {
		close(mqe_lock); /* releases the flock */
		mqe_lock = -1;
	}
}

static void ovf_setup(void)
{
	setup();
}

static void ovf_teardown(void)
{
	restore_mqe();
	teardown();
}

Test(faults, inotify_overflow_loses_nothing,
     .init = ovf_setup, .fini = ovf_teardown, .timeout = 90)
{
	const char *s = script("seen.sh", "echo \"$2\" >> \"$OUT/seen\"\n");
	char *cur;

	if (geteuid() != 0)
		cr_skip_test("needs root to lower " MQE);
	mqe_lock = open(MQE_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	cr_assert(mqe_lock >= 0 && flock(mqe_lock, LOCK_EX) == 0,
		  "cannot lock " MQE_LOCK ": %s", strerror(errno));
	cur = h_slurp(MQE);
	if (!cur)
		cr_skip_test("cannot read " MQE);
	if (atol(cur) < 1024) {
		/* a run killed in the window left its 16: the kernel default */
		cr_log_warn(MQE " is %ld; restoring 16384 afterwards", atol(cur));
		snprintf(saved_mqe, sizeof saved_mqe, "16384\n");
	} else {
		snprintf(saved_mqe, sizeof saved_mqe, "%s", cur);
	}
	free(cur);
	/* rewriting the current value proves we may change it */
	if (write_sysctl(MQE, saved_mqe) != 0) {
		saved_mqe[0] = '\0';
		cr_skip_test("cannot write " MQE ": %s", strerror(errno));
	}

	h_config_simple(&env, cmd_of(s), "", "");
	cr_assert_eq(write_sysctl(MQE, "16\n"), 0, "cannot set " MQE ": %s", strerror(errno));
	start_ready();
	restore_mqe(); /* the daemon's inotify instance keeps its limit of 16 */

	/* Stop the daemon so that nothing reads its inotify queue while 500
	 * files arrive: the kernel must overflow the 16-event queue. */
	cr_assert_eq(kill(env.pid, SIGSTOP), 0);
	for (int i = 0; i < 500; i++)
		h_drop(&env, fmt("o%03d.sea", i), "x");
	cr_assert_eq(kill(env.pid, SIGCONT), 0);

	cr_assert(h_wait_count(env.done, ".sea", 500, 60000),
		  "only %d of 500 files done after an overflow (failed %d, pending %d, "
		  "overflow logged %d)", h_count(env.done, ".sea"), h_count(env.failed, NULL),
		  pending(), count_lines(env.log, "event=overflow", NULL));
	cr_assert(count_lines(env.log, "event=overflow", NULL) >= 1,
		  "no event=overflow logged although the 16-event queue must have overflowed");
	sleep_ms(300);
	cr_assert_eq(h_count(env.done, NULL), 500);
	cr_assert_eq(h_count(env.failed, NULL), 0);
	assert_drop_empty();
	assert_seen_exactly(fmt("%s/seen", env.out), "o", 500);
	cr_assert(daemon_running(NULL), "daemon died");
}

/* ------------------------------------------------------------------ */
/* 9. the drop directory goes away and comes back                      */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

Test(faults, drop_dir_lost_and_back, T_OPTS)
{
	const char *s = script("seen.sh", "echo \"$2\" >> \"$OUT/seen\"\n");
	int st = -1;

	h_config_simple(&env, cmd_of(s), "", "");
	start_ready();
	cr_assert_eq(nftw(env.drop, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0,
		     "could not remove %s: %s", env.drop, strerror(errno));
	cr_assert(h_wait_text(env.log, "event=drop-lost", 10000), "no event=drop-lost");
	cr_assert(daemon_running(&st), "daemon exited (status %d) when its drop vanished", st);

	cr_assert_eq(mkdir(env.drop, 0755), 0);
	cr_assert(h_wait_text(env.log, "event=drop-back", 10000),
		  "no event=drop-back within 10 s of re-creating the drop");
	h_drop(&env, "back.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 1, 15000),
		  "a file dropped into the re-created drop is not processed");
	cr_assert(h_exists(fmt("%s/back.sea", env.done)));
	cr_assert(daemon_running(&st), "daemon exited (status %d)", st);
}

/* ------------------------------------------------------------------ */
/* 10. no descriptor reaches a command                                 */

/* Lines "... N -> TARGET" of an `ls -l /proc/X/fd` listing that are not
 * 0-2 and not the listing's own descriptors; appended to BAD. */
static void fd_leaks(const char *listing, const char *self_out, char *bad, size_t badsz)
{
	char *text = h_slurp(listing);

	cr_assert(text, "%s missing", listing);
	for (char *line = text, *next; line && *line; line = next) {
		char *arrow, *sp, *target;
		int fd;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		arrow = strstr(line, " -> ");
		if (!arrow)
			continue;
		*arrow = '\0';
		target = arrow + 4;
		sp = strrchr(line, ' ');
		if (!sp)
			continue;
		fd = atoi(sp + 1);
		if (fd <= 2)
			continue;
		if (self_out && strcmp(target, self_out) == 0)
			continue;
		/* ls's own handle on the directory it lists */
		if (strncmp(target, "/proc/", 6) == 0 &&
		    strlen(target) > 3 && strcmp(target + strlen(target) - 3, "/fd") == 0)
			continue;
		snprintf(bad + strlen(bad), badsz - strlen(bad), " %d->%s", fd, target);
	}
	free(text);
}

Test(faults, no_fd_leaks_into_commands, T_OPTS)
{
	const char *s = script("fds.sh",
		"ls -l /proc/self/fd/ > \"$OUT/self.txt\"\n"
		"ls -l /proc/$$/fd/ > \"$OUT/shell.txt\"\n"
		"echo ok > \"$OUT/fds.done\"\n");
	char self_txt[H_PATH * 2], shell_txt[H_PATH * 2], bad[4096] = "";

	snprintf(self_txt, sizeof self_txt, "%s/self.txt", env.out);
	snprintf(shell_txt, sizeof shell_txt, "%s/shell.txt", env.out);
	h_config_simple(&env, cmd_of(s), "", "");
	start_ready();
	h_drop(&env, "a.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 1, 15000), "fd-listing job not done");
	cr_assert(h_exists(fmt("%s/fds.done", env.out)));

	cr_assert_eq(h_count_text(self_txt, "inotify"), 0, "an inotify fd reached the command");
	cr_assert_eq(h_count_text(shell_txt, "inotify"), 0, "an inotify fd reached the command");
	cr_assert(h_count_text(self_txt, " 0 -> /dev/null") == 1, "stdin is not /dev/null");

	/* What a child of the command inherits: only 0-2 (and ls's own). */
	fd_leaks(self_txt, self_txt, bad, sizeof bad);
	cr_assert(bad[0] == '\0', "descriptors inherited from seawatchd:%s", bad);
}

/* ------------------------------------------------------------------ */
/* 11. --once                                                          */

Test(faults, once_with_failures, T_OPTS)
{
	const char *s = script("once.sh",
		"echo \"$2\" >> \"$OUT/runs\"\n"
		"case \"$2\" in bad*) echo \"oops $2 attempt $SEAWATCH_ATTEMPT\" >&2; exit 3;; esac\n"
		"exit 0\n");
	const char *runs;
	char runs_path[H_PATH * 2];
	char *out = NULL;
	long long t0, dt;
	int rc;

	h_config_simple(&env, cmd_of(s), "retries = 1;", "");
	for (int i = 0; i < 45; i++)
		h_drop(&env, fmt("g%02d.sea", i), "x");
	for (int i = 0; i < 5; i++)
		h_drop(&env, fmt("bad%d.sea", i), "x");
	runs = fmt("%s/runs", env.out);
	snprintf(runs_path, sizeof runs_path, "%s", runs);

	t0 = now_ms();
	rc = h_run(&env, &out, "-c", env.conf, "--once", NULL);
	dt = now_ms() - t0;
	cr_assert_eq(rc, 1, "--once with failures exited %d, expected 1; output:\n%s",
		     rc, out ? out : "");
	cr_assert(dt < 30000, "--once took %lld ms for 50 files", dt);
	cr_assert_eq(h_count(env.done, ".sea"), 45, "done holds %d", h_count(env.done, ".sea"));
	cr_assert_eq(h_count(env.failed, ".sea"), 5, "failed holds %d", h_count(env.failed, ".sea"));
	cr_assert_eq(h_count(env.failed, ".error"), 5, "%d sidecars", h_count(env.failed, ".error"));
	assert_drop_empty();
	for (int i = 0; i < 5; i++) {
		char name[32];

		snprintf(name, sizeof name, "bad%d.sea", i);
		char *sc = sidecar(name);

		cr_assert(strstr(sc, "status=exit:3"), "%s sidecar lacks status=exit:3:\n%s", name, sc);
		cr_assert(strstr(sc, "attempts=2"), "%s sidecar lacks attempts=2 (retries in --once):\n%s",
			  name, sc);
		cr_assert(strstr(sc, "output:"), "%s sidecar lacks output:\n%s", name, sc);
		cr_assert(strstr(sc, fmt("oops %s attempt 2", name)),
			  "%s sidecar lacks the last attempt's output tail:\n%s", name, sc);
		free(sc);
		cr_assert_eq(h_count_text(runs_path, fmt("%s\n", name)), 2,
			     "%s ran %d times", name, h_count_text(runs_path, fmt("%s\n", name)));
	}
	cr_assert_eq(h_count_text(runs_path, "\n"), 45 + 10, "%d runs, expected 55",
		     h_count_text(runs_path, "\n"));
	cr_assert_eq(count_substr(out, "event=failed"), 5, "output:\n%s", out ? out : "");
	free(out);
}
