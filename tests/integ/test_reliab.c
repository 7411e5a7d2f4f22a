/*
 * test_reliab.c - the faults of issue 8 that stranded, duplicated or
 * wrongly failed files: each test reproduces one on the daemon before the
 * fix (checked once) and passes after.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/file.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static struct h_env env;

static void setup(void)
{
	h_setup(&env);
}

static void teardown(void)
{
	h_teardown(&env);
}

TestSuite(reliab, .init = setup, .fini = teardown, .timeout = 120);

static void nap(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static const char *cmd(const char *script)
{
	static char buf[H_PATH * 3];

	snprintf(buf, sizeof(buf), "[\"%s\", \"{file}\", \"%s\"]", script, env.out);
	return buf;
}

static void start(void)
{
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000), "daemon not ready");
}

/* Item 6: a FIFO put in place of the config blocked the daemon in fopen()
 * on SIGHUP, with the loop stalled: files stopped flowing, and SIGTERM
 * went unheard.  Now the reload fails at once and nothing else waits. */
Test(reliab, reload_of_a_fifo_config_stalls_nothing)
{
	const char *s = h_script(&env, "ok.sh", "exit 0\n");

	h_config_simple(&env, cmd(s), "", "");
	start();
	cr_assert_eq(unlink(env.conf), 0);
	cr_assert_eq(mkfifo(env.conf, 0644), 0);
	kill(env.pid, SIGHUP);
	cr_assert(h_wait_text(env.log, "not a regular file", 5000), "the reload hung");
	h_drop(&env, "a.sea", "a");
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000), "the loop is stalled");
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* Item 1: a claim that failed for want of space (the slot directory could
 * not be made) was never tried again: the file stayed in the drop until
 * some unrelated rescan.  Now the drop is scanned again after 5 s. */
Test(reliab, a_claim_that_failed_is_tried_again)
{
	const char *s = h_script(&env, "ok.sh", "exit 0\n");
	char fs[H_PATH + 8], drop[H_PATH * 2], fill[H_PATH * 3];
	int i, n = 0;

	snprintf(fs, sizeof(fs), "%s/fs", env.root);
	if (geteuid() != 0)
		cr_skip("needs root (mount)");
	/* The drop and its spool on a file system with few inodes. */
	h_tmpfs(&env, fs, "size=16m,nr_inodes=40,mode=0755");
	snprintf(drop, sizeof(drop), "%s/in", fs);
	cr_assert_eq(mkdir(drop, 0755), 0);
	cr_assert_eq(mkdir(h_fmt("%s/stage", fs), 0755), 0);
	h_write(h_fmt("%s/stage/late.sea", fs), "late", 0644);
	snprintf(env.drop, sizeof(env.drop), "%.*s", (int)sizeof(env.drop) - 1, drop);
	h_config_simple(&env, cmd(s), "", "");
	start();
	/* Every inode taken: the claim's slot directory cannot be made. */
	snprintf(fill, sizeof(fill), "%s/stage/fill", fs);
	for (i = 0; i < 100; i++) {
		int fd = open(h_fmt("%s%d", fill, i), O_WRONLY | O_CREAT, 0644);

		if (fd < 0)
			break;
		close(fd);
		n++;
	}
	cr_assert_eq(errno, ENOSPC, "the file system did not fill up (%d files)", n);
	cr_assert_eq(rename(h_fmt("%s/stage/late.sea", fs), h_fmt("%s/late.sea", drop)), 0);
	cr_assert(h_wait_text(env.log, "event=claim-failed", 10000), "the claim did not fail");
	while (n > 0)
		unlink(h_fmt("%s%d", fill, --n));
	cr_assert(h_wait_count(env.done, "late.sea", 1, 15000),
		  "the file waits in the drop for an unrelated event");
	nap(10);
}

/* Names of the .sea files in the spool (ROOT/.seawatch), one per line,
 * into spooled[]. */
static char spooled[4096];

static int spooled_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	const char *base = p + f->base;
	size_t len = strlen(base);

	if (flag == FTW_F && S_ISREG(st->st_mode) && len > 4 && !strcmp(base + len - 4, ".sea") &&
	    strlen(spooled) + len + 2 < sizeof(spooled)) {
		strcat(spooled, base);
		strcat(spooled, "\n");
	}
	return 0;
}

/* Item 3: the drop renamed away while its files were queued: their {file}
 * was built from the drop's path, which no longer led to them, and good
 * files ran out of retries into failed/.  {file} is now in the spool,
 * outside the drop: renaming the drop changes nothing for them -- every
 * file claimed when the drop went (more than the 2 running) ends in done/.
 * The files not claimed yet (4 per worker are) go with the directory,
 * untouched: every file is in done/ or in the renamed directory, none
 * failed. */
Test(reliab, queued_files_of_a_lost_drop_do_not_fail)
{
	const char *s = h_script(&env, "read.sh", "cat \"$1\" > /dev/null || exit 2\nsleep 0.05\n");
	char away[H_PATH * 2];
	int i, done = 0, left = 0, claimed = 0;

	h_config_simple(&env, cmd(s), "retries = 1; backoff = \"100ms\";", "");
	start();
	for (i = 0; i < 60; i++)
		h_drop(&env, h_fmt("g%02d.sea", i), "good");
	nap(300);
	spooled[0] = '\0';
	nftw(h_fmt("%s/.seawatch", env.root), spooled_one, 16, FTW_PHYS);
	snprintf(away, sizeof(away), "%s/incoming.gone", env.root);
	cr_assert_eq(rename(env.drop, away), 0);
	for (i = 0; i < 300 && done + left != 60; i++) {
		nap(100);
		done = h_count(env.done, ".sea");
		left = h_count(away, ".sea");
	}
	cr_assert_eq(done + left, 60, "%d done, %d left in the renamed drop, %d failed", done,
		     left, h_count(env.failed, ".sea"));
	for (char *n = spooled, *nl; (nl = strchr(n, '\n')); n = nl + 1) {
		*nl = '\0';
		claimed++;
		cr_assert(h_exists(h_fmt("%s/%s", env.done, n)), "%s, claimed, not done", n);
	}
	cr_assert_gt(claimed, 2, "only %d claimed when the drop went: nothing queued", claimed);
	nap(500);
	cr_assert_eq(h_count(env.done, ".sea") + h_count(away, ".sea"), 60);
	cr_assert_eq(h_count(env.failed, NULL), 0);
}

/* Item 2: "runs of a dead second daemon are adopted every 30 s" never
 * found anything: the listing shared its offset with the start-up pass,
 * left at the end.  Two daemons on one drop, the first killed for good
 * with files in flight: the second adopts them on its next look
 * ($SEAWATCH_RECOVER_MS shortens the 30 s for the test). */
Test(reliab, a_dead_second_daemons_files_are_adopted)
{
	const char *slow = h_script(&env, "slow.sh", "exec sleep 60\n");
	const char *fast = h_script(&env, "fast.sh", "exit 0\n");
	char confb[H_PATH * 2];
	pid_t a;
	int i;

	/* A retry left for the two that were running when it died. */
	h_config_simple(&env, cmd(fast), "retries = 1;", "");
	snprintf(confb, sizeof(confb), "%s/b.conf", env.root);
	cr_assert_eq(rename(env.conf, confb), 0);
	h_config_simple(&env, cmd(slow), "retries = 1;", "");
	start();
	a = env.pid;
	for (i = 0; i < 6; i++)
		h_drop(&env, h_fmt("f%d.sea", i), "f");
	cr_assert(h_wait_text(env.log, "event=ready", 1000));
	nap(500);
	cr_assert_eq(h_count(env.drop, NULL), 0, "the first daemon did not claim them all");
	/* The second daemon starts while the first lives: nothing to adopt. */
	setenv("SEAWATCH_RECOVER_MS", "500", 1);
	snprintf(env.conf, sizeof(env.conf), "%.*s", (int)sizeof(env.conf) - 1, confb);
	env.pid = 0;
	start();
	unsetenv("SEAWATCH_RECOVER_MS");
	kill(a, SIGKILL);
	cr_assert(h_wait_gone(a, 5000));
	waitpid(a, NULL, 0);
	cr_assert(h_wait_count(env.done, ".sea", 6, 15000),
		  "%d of 6 adopted from the dead daemon", h_count(env.done, ".sea"));
}

/* Run the next h_start()ed daemon under PREFIX (instead of $SEAWATCH_WRAP,
 * restored after). */
static void start_wrapped(const char *prefix)
{
	char *old = getenv("SEAWATCH_WRAP") ? strdup(getenv("SEAWATCH_WRAP")) : NULL;

	setenv("SEAWATCH_WRAP", prefix, 1);
	h_start(&env, NULL);
	if (old)
		setenv("SEAWATCH_WRAP", old, 1);
	else
		unsetenv("SEAWATCH_WRAP");
	free(old);
	cr_assert(h_wait_ready(&env, 20000), "daemon not ready");
}

static int locks_held;

static int lock_held(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	int fd;

	(void)st;
	if (flag == FTW_F && !strcmp(p + f->base, "lock") &&
	    (fd = open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) >= 0) {
		if (flock(fd, LOCK_EX | LOCK_NB) < 0)
			locks_held++;
		close(fd);
	}
	return 0;
}

/* Poll until no run's lock (in the spool beside the drop, or in one inside
 * it, as 0.1 kept it) is held: a killed daemon is really gone. */
static int wait_locks_free(int ms)
{
	int i;

	for (i = 0; i < ms / 10; i++) {
		locks_held = 0;
		nftw(h_fmt("%s/.seawatch", env.root), lock_held, 16, FTW_PHYS);
		nftw(h_fmt("%s/.seawatch", env.drop), lock_held, 16, FTW_PHYS);
		if (!locks_held)
			return 1;
		nap(10);
	}
	return 0;
}

/* The first child process of PARENT, or 0. */
static pid_t child_of(pid_t parent)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;

	while (d && !found && (de = readdir(d))) {
		char p[300], buf[512];
		FILE *f;
		int ppid = -1;

		snprintf(p, sizeof(p), "/proc/%s/stat", de->d_name);
		if (!(f = fopen(p, "r")))
			continue;
		if (fgets(buf, sizeof(buf), f) && strrchr(buf, ')'))
			sscanf(strrchr(buf, ')') + 2, "%*c %d", &ppid);
		fclose(f);
		if (ppid == parent)
			found = (pid_t)atoi(de->d_name);
	}
	if (d)
		closedir(d);
	return found;
}

/* Any entry of DIR whose name starts with PREFIX (dot files included). */
static int has_entry(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int hit = 0;

	while (d && (de = readdir(d)))
		if (!strncmp(de->d_name, prefix, strlen(prefix)))
			hit = 1;
	if (d)
		closedir(d);
	return hit;
}

/* Item 4a: killed after its copy was placed in done/ but before the
 * original went, the daemon ran the file again at the next start, and
 * done/ held x.sea and x.1.sea.  (strace delays the master's unlinks by
 * 3 s: the window is hit every time.) */
Test(reliab, a_crash_after_a_copy_is_placed_makes_no_twin)
{
	const char *s = h_script(&env, "count.sh", "echo run >> \"$2/runs\"\n");
	char *runs;
	pid_t daemon;

	if (access("/usr/bin/strace", X_OK) != 0)
		cr_skip("no strace (make deps installs it)");
	h_tmpfs(&env, env.done, "size=64m,mode=0755");
	h_config_simple(&env, cmd(s), "retries = 1;", "");
	start_wrapped("strace -qq -o /dev/null -e trace=unlinkat "
		      "-e inject=unlinkat:delay_enter=3000000");
	h_drop(&env, "x.sea", "x");
	cr_assert(h_wait_count(env.done, "x.sea", 1, 30000), "never placed");
	/* The daemon first: held by strace at its unlink's entry, it dies
	 * without making it (strace's own death would let it go on). */
	cr_assert_gt(daemon = child_of(env.pid), 0);
	kill(daemon, SIGKILL);
	kill(-env.pid, SIGKILL);
	h_wait_pid(env.pid, 5000);
	env.pid = 0;
	/* The daemon (strace's child) gone too: its run's lock is free. */
	cr_assert(h_wait_none_left(&env, 5000));
	cr_assert(wait_locks_free(5000), "a run's lock is still held");
	cr_assert_eq(h_run(&env, NULL, "-c", env.conf, "--once", NULL), 0);
	cr_assert_eq(h_count(env.done, NULL), 1, "done/ holds %d files", h_count(env.done, NULL));
	cr_assert_eq(h_count(env.failed, NULL), 0, "a twin went to failed/");
	runs = h_slurp(h_fmt("%s/runs", env.out));
	cr_assert(runs && !strcmp(runs, "run\n"), "the command ran again: %s", runs);
	free(runs);
}

/* Item 4b: killed in the middle of a copy to done/, the daemon left its
 * temporary there for good. */
Test(reliab, a_crash_during_a_copy_leaves_no_temporary)
{
	const char *s = h_script(&env, "ok.sh", "exit 0\n");
	int i;

	h_tmpfs(&env, env.done, "size=1g,mode=0755");
	h_config_simple(&env, cmd(s), "retries = 1;", "");
	start();
	cr_assert_eq(system(h_fmt("dd if=/dev/zero of='%s/.big' bs=1M count=600 2>/dev/null && "
				  "mv '%s/.big' '%s/big.sea'", env.root, env.root, env.drop)), 0);
	for (i = 0; i < 2000 && !has_entry(env.done, ".seawatch-copy"); i++)
		nap(5);
	cr_assert(has_entry(env.done, ".seawatch-copy"), "no copy under way seen");
	kill(-env.pid, SIGKILL);
	h_wait_pid(env.pid, 5000);
	env.pid = 0;
	cr_assert(h_wait_none_left(&env, 5000));
	cr_assert(wait_locks_free(5000), "a run's lock is still held");
	cr_assert_eq(h_run(&env, NULL, "-c", env.conf, "--once", NULL), 0);
	cr_assert_eq(h_count(env.done, NULL), 1);
	cr_assert_not(has_entry(env.done, ".seawatch-copy"), "a temporary was left in done/");
}

/* A config of N drops "dK" on R/dropK (made here), all running SCRIPT. */
static void many_drops(const char *script, int n)
{
	FILE *f = fopen(env.conf, "w");
	int i;

	cr_assert_not_null(f);
	fprintf(f, "workers = 2;\nshutdown_grace = \"5s\";\ndrops = (\n");
	for (i = 0; i < n; i++) {
		const char *dir = h_fmt("%s/drop%d", env.root, i);

		if (mkdir(dir, 0755) < 0)
			cr_assert_eq(errno, EEXIST);
		fprintf(f, "  { name = \"d%d\"; path = \"%s\"; done = \"%s\"; failed = \"%s\";"
			" command = %s; }%s\n", i, dir, env.done, env.failed, cmd(script),
			i + 1 < n ? "," : "");
	}
	fprintf(f, ");\n");
	cr_assert_eq(fclose(f), 0);
}

/* Drop NAME into drop K. */
static void drop_into(int k, const char *name)
{
	const char *tmp = h_fmt("%s/.t-%s", env.root, name);

	h_write(tmp, "x", 0644);
	cr_assert_eq(rename(tmp, h_fmt("%s/drop%d/%s", env.root, k, name)), 0);
}

/* Item 5: with about 200 drops the daemon aborted at start: it opened its
 * drops' descriptors before libinotifytools made its own, which landed past
 * 1023, where the library's select() cannot go; and a reload to more than
 * 256 drops left some unwatched, silently.  300 drops, then a reload from
 * one drop to 300. */
Test(reliab, three_hundred_drops)
{
	const char *s = h_script(&env, "ok.sh", "exit 0\n");
	char *out = NULL;

	many_drops(s, 300);
	start();
	drop_into(299, "last.sea");
	drop_into(0, "first.sea");
	cr_assert(h_wait_count(env.done, ".sea", 2, 15000), "%d of 2 done",
		  h_count(env.done, ".sea"));
	cr_assert_eq(h_stop(&env, SIGTERM, 15000), 0);
	many_drops(s, 1);
	start();
	many_drops(s, 300);
	kill(env.pid, SIGHUP);
	cr_assert(h_wait_text(env.log, "event=reloaded", 15000));
	drop_into(299, "later.sea");
	cr_assert(h_wait_count(env.done, ".sea", 3, 15000), "a drop added by a reload is not "
		  "watched");
	/* Past the limit: said, not done silently. */
	many_drops(s, 1025);
	cr_assert_eq(h_run(&env, &out, "-c", env.conf, "--check-config", NULL), 2);
	cr_assert(out && strstr(out, "at most 1024 drops"), "%s", out);
	free(out);
}

/* Item 4, the rest: a daemon killed while it wrote a sidecar (or a copy
 * it had not yet recorded) left a .seawatch-copy.PID.K temporary in
 * failed/ (done/) for good.  The next start removes those of processes
 * that no longer run, and leaves those of a live one (a second daemon
 * sharing the directory may be writing it). */
Test(reliab, a_dead_daemons_temporaries_are_swept)
{
	const char *s = h_script(&env, "ok.sh", "exit 0\n");
	pid_t dead = fork();
	char live_name[64], dead_name[64];

	cr_assert_geq(dead, 0);
	if (dead == 0)
		_exit(0);
	cr_assert_eq(waitpid(dead, NULL, 0), dead);
	snprintf(dead_name, sizeof(dead_name), ".seawatch-copy.%ld.3", (long)dead);
	snprintf(live_name, sizeof(live_name), ".seawatch-copy.%ld.0", (long)getpid());
	h_write(h_fmt("%s/%s", env.failed, dead_name), "half a sidecar", 0640);
	h_write(h_fmt("%s/%s", env.done, dead_name), "half a copy", 0640);
	h_write(h_fmt("%s/%s", env.done, live_name), "a copy under way", 0640);
	h_config_simple(&env, cmd(s), "", "");
	start();
	cr_assert(h_wait_text(env.log, "event=temporaries-removed drop=d count=2", 100));
	cr_assert_not(h_exists(h_fmt("%s/%s", env.failed, dead_name)), "failed/ keeps it");
	cr_assert_not(h_exists(h_fmt("%s/%s", env.done, dead_name)), "done/ keeps it");
	cr_assert(h_exists(h_fmt("%s/%s", env.done, live_name)), "a live one's was removed");
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* When the master dies, a worker stops its command (SIGTERM, then SIGKILL
 * after kill_grace) and exits -- without spinning: its hung-up socket to
 * the master must leave its poll set (the first split of the worker kept
 * it, and every poll returned at once for the whole grace). */
Test(reliab, a_worker_whose_master_died_does_not_spin)
{
	const char *s = h_script(&env, "stubborn.sh", "trap '' TERM\necho $$ > \"$2/cmd.pid\"\n"
				 "while :; do sleep 1; done\n");
	char path[64], *kids, *stat;
	long worker, ticks = 0;

	h_config_simple(&env, cmd(s), "kill_grace = \"4s\";", "workers = 1;");
	start();
	h_drop(&env, "a.sea", "x");
	cr_assert(h_wait_text(h_fmt("%s/cmd.pid", env.out), "\n", 10000));
	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", (long)env.pid, (long)env.pid);
	kids = h_slurp(path);
	cr_assert(kids && atol(kids) > 0);
	worker = atol(kids);
	free(kids);
	cr_assert_eq(h_stop(&env, SIGKILL, 5000), 128 + SIGKILL);
	nap(2000);   /* inside the grace: the command ignores SIGTERM */
	stat = h_slurp(h_fmt("/proc/%ld/stat", worker));
	cr_assert_not_null(stat, "the worker is gone already");
	{
		/* utime and stime: fields 14 and 15, after the ")" of comm */
		char *p = strrchr(stat, ')');
		long ut = 0, st = 0;

		cr_assert(p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld",
				      &ut, &st) == 2);
		ticks = ut + st;
	}
	free(stat);
	cr_assert_lt(ticks, 50, "the worker burned %ld ticks in 2 s after its master died", ticks);
	cr_assert(h_wait_gone((pid_t)worker, 10000), "the worker did not exit after the grace");
}
