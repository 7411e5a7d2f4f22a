/*
 * Integration tests: the failure paths a review found (each was confirmed
 * against an earlier build): an attempt that cannot be set up, a move that
 * fails and a restart before it succeeds, a drop replaced while a job runs,
 * a SIGTERM that reaches the workers, a worker killed under its command,
 * two drops on one directory, a hard link, a drop added under traffic.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
	/* A test that made done/ immutable may have stopped half-way. */
	if (env.root[0] && system(h_fmt("chattr -i '%s' 2>/dev/null", env.done)) != 0)
		cr_log_info("chattr -i failed (fine if never set)");
	h_teardown(&env);
}

TestSuite(robust, .init = setup, .fini = teardown, .timeout = 90);

static void nap(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int spooled;

static int count_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)p;
	(void)f;
	if (flag == FTW_F && S_ISREG(st->st_mode) && strstr(p, "/run.") &&
	    !strstr(p, "/lock") && !strstr(p, "/attempts") && !strstr(p, "/.sidecar"))
		spooled++;
	return 0;
}

/* Files held in flight in the spool (by default ROOT/.seawatch, beside the
 * drop; not the lock files nor the attempts tables). */
static int in_flight(const char *root)
{
	spooled = 0;
	nftw(h_fmt("%s/.seawatch", root), count_one, 16, FTW_PHYS);
	return spooled;
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

static pid_t first_worker(pid_t master)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;

	while (d && (de = readdir(d)) && !found) {
		char p[300], buf[512];
		FILE *f;
		int ppid = -1;
		size_t n;

		snprintf(p, sizeof(p), "/proc/%s/stat", de->d_name);
		if (!(f = fopen(p, "r")))
			continue;
		if (fgets(buf, sizeof(buf), f) && strrchr(buf, ')'))
			sscanf(strrchr(buf, ')') + 2, "%*c %d", &ppid);
		fclose(f);
		if (ppid != master)
			continue;
		snprintf(p, sizeof(p), "/proc/%s/cmdline", de->d_name);
		if (!(f = fopen(p, "r")))
			continue;
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		if (h_is_worker_cmdline(buf, n))
			found = (pid_t)atoi(de->d_name);
	}
	if (d)
		closedir(d);
	return found;
}

static pid_t read_pid(const char *path)
{
	char *s = h_slurp(path);
	pid_t p = s ? (pid_t)atoi(s) : 0;

	free(s);
	return p;
}

/* An argv that cannot be built (here: too long once expanded) fails the
 * file with the reason, and the slot is emptied: later files, one of them
 * with the same name, are neither stranded nor overwritten. */
Test(robust, attempt_that_cannot_start_fails_the_file)
{
	char big[4000], list[H_PATH * 3 + 4100];
	const char *s = h_script(&env, "ok.sh", "exit 0\n");
	int i;
	char *side;

	for (i = 0; i + 6 < (int)sizeof(big); i += 6)
		memcpy(big + i, "{name}", 6);
	big[i] = '\0';
	snprintf(list, sizeof(list), "[\"%s\", \"%s\"]", s, big);
	h_config_simple(&env, list, "", "");
	start();
	h_drop(&env, "a-rather-long-name-to-expand.sea", "1");
	cr_assert(h_wait_count(env.failed, ".sea", 1, 10000), "first file not failed");
	h_drop(&env, "a-rather-long-name-to-expand.sea", "2");
	cr_assert(h_wait_count(env.failed, ".sea", 2, 10000), "same-named second file not failed");
	cr_assert(h_wait_text(env.log, "status=setup-failed", 5000));
	cr_assert_eq(in_flight(env.root), 0, "files stranded in the spool");
	side = h_slurp(h_fmt("%s/a-rather-long-name-to-expand.sea.error", env.failed));
	cr_assert_not_null(side);
	cr_assert(strstr(side, "could not start an attempt") != NULL, "%s", side);
	free(side);
	{
		char *a = h_slurp(h_fmt("%s/a-rather-long-name-to-expand.sea", env.failed));
		char *b = h_slurp(h_fmt("%s/a-rather-long-name-to-expand.1.sea", env.failed));

		cr_assert(a && b && strcmp(a, b), "both files kept, neither overwritten");
		free(a);
		free(b);
	}
}

/* The command succeeded but done/ refused the move (immutable); the daemon
 * is stopped before the move succeeds.  The next start moves the file to
 * done: it neither runs it again nor fails it as "crashed". */
Test(robust, verdict_survives_a_restart_while_the_move_waits)
{
	const char *s = h_script(&env, "count.sh", "echo run >> \"$2/runs\"\nexit 0\n");
	char *runs;

	h_config_simple(&env, cmd(s), "", "");
	start();
	/* After start: the config check rightly refuses a done/ it cannot
	 * write to. */
	if (system(h_fmt("chattr +i '%s' 2>/dev/null", env.done)) != 0)
		cr_skip("chattr +i not supported here");
	h_drop(&env, "v.sea", "v");
	cr_assert(h_wait_text(env.log, "event=move-failed", 10000), "move did not fail");
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
	cr_assert_eq(system(h_fmt("chattr -i '%s'", env.done)), 0);
	start();
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000), "not moved to done after restart");
	cr_assert(h_wait_text(env.log, "verdict=done", 5000));
	cr_assert_eq(h_count(env.failed, NULL), 0, "sent to failed");
	runs = h_slurp(h_fmt("%s/runs", env.out));
	cr_assert_not_null(runs);
	cr_assert_str_eq(runs, "run\n", "the command ran again");
	free(runs);
}

/* mv drop drop.old; mkdir drop while a job runs: once that job is done the
 * new directory is used. */
Test(robust, drop_replaced_while_a_job_runs)
{
	const char *s = h_script(&env, "slow.sh",
		"case \"$(basename \"$1\")\" in first.sea) sleep 2;; esac\nexit 0\n");

	h_config_simple(&env, cmd(s), "", "");
	start();
	h_drop(&env, "first.sea", "1");
	nap(500);
	cr_assert_eq(rename(env.drop, h_fmt("%s/old-incoming", env.root)), 0);
	cr_assert_eq(mkdir(env.drop, 0755), 0);
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000), "the running job did not finish");
	h_drop(&env, "second.sea", "2");
	cr_assert(h_wait_count(env.done, ".sea", 2, 15000),
		  "a file in the replacement directory was never processed");
	cr_assert(h_exists(h_fmt("%s/second.sea", env.done)));
}

/* A service manager may SIGTERM the whole process group: workers leave the
 * decision to the master, which lets the running job finish in its grace. */
Test(robust, sigterm_to_the_group_keeps_the_grace)
{
	const char *s = h_script(&env, "slow.sh", "touch \"$2/started\"\nsleep 1\nexit 0\n");
	int rc;

	h_config_simple(&env, cmd(s), "", "");
	start();
	h_drop(&env, "g.sea", "g");
	for (int i = 0; i < 500 && !h_exists(h_fmt("%s/started", env.out)); i++)
		nap(20);
	cr_assert(h_exists(h_fmt("%s/started", env.out)), "the job never started");
	kill(-env.pid, SIGTERM);
	/* Signal 0: wait without a second SIGTERM (which skips the grace). */
	rc = h_stop(&env, 0, 10000);
	cr_assert_eq(rc, 0, "exit status %d", rc);
	cr_assert(h_exists(h_fmt("%s/g.sea", env.done)), "the running job was cut short");
}

/* SIGTERM sent to a worker directly changes nothing. */
Test(robust, sigterm_to_a_worker_is_ignored)
{
	const char *s = h_script(&env, "slow.sh", "touch \"$2/started\"\nsleep 1\nexit 0\n");
	pid_t w;

	h_config_simple(&env, cmd(s), "", "workers = 1;");
	start();
	h_drop(&env, "t.sea", "t");
	for (int i = 0; i < 500 && !h_exists(h_fmt("%s/started", env.out)); i++)
		nap(20);
	cr_assert(h_exists(h_fmt("%s/started", env.out)), "the job never started");
	w = first_worker(env.pid);
	cr_assert(w > 0);
	kill(w, SIGTERM);
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000), "job lost after a SIGTERM to its worker");
	cr_assert(h_wait_text(env.log, "event=done drop=d file=t.sea attempt=1", 5000));
	cr_assert(h_alive(w), "the worker exited on SIGTERM");
}

/* A worker killed under its command takes the command with it: no copy of
 * it keeps running while the retry runs the same file. */
Test(robust, killed_worker_takes_its_command)
{
	const char *s = h_script(&env, "long.sh", "echo $$ > \"$2/pid\"\nexec sleep 60\n");
	pid_t w, c;

	h_config_simple(&env, cmd(s), "timeout = \"60s\";", "workers = 1;");
	start();
	h_drop(&env, "k.sea", "k");
	cr_assert(h_wait_text(h_fmt("%s/pid", env.out), "\n", 10000));
	c = read_pid(h_fmt("%s/pid", env.out));
	w = first_worker(env.pid);
	cr_assert(c > 0 && w > 0);
	kill(w, SIGKILL);
	cr_assert(h_wait_gone(c, 5000), "command %d survived its worker", (int)c);
}

/* Two drops on one directory with different patterns: both get live
 * events. */
Test(robust, two_drops_on_one_directory)
{
	const char *s = h_script(&env, "ok.sh", "exit 0\n");
	char list[H_PATH * 3];

	snprintf(list, sizeof(list), "%s", cmd(s));
	h_config(&env,
		 "workers = 2;\n"
		 "drops = (\n"
		 "  { name = \"sea\"; path = \"%s\"; done = \"%s\"; failed = \"%s\"; command = %s; },\n"
		 "  { name = \"log\"; path = \"%s\"; pattern = \"*.log\"; done = \"%s\"; failed = \"%s\";"
		 " command = %s; }\n"
		 ");\n", env.drop, env.done, env.failed, list, env.drop, env.done, env.failed, list);
	start();
	h_drop(&env, "one.sea", "1");
	h_drop(&env, "two.log", "2");
	cr_assert(h_wait_count(env.done, NULL, 2, 10000), "only %d of 2 processed",
		  h_count(env.done, NULL));
	cr_assert(h_exists(h_fmt("%s/two.log", env.done)));
}

/* link(2) into the drop raises no close or move event. */
Test(robust, hard_link_is_noticed)
{
	const char *s = h_script(&env, "ok.sh", "exit 0\n");
	const char *staged = h_fmt("%s/staged.sea", env.root);

	h_config_simple(&env, cmd(s), "", "");
	start();
	h_write(staged, "linked\n", 0644);
	cr_assert_eq(link(staged, h_fmt("%s/linked.sea", env.drop)), 0);
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000), "hard-linked file not processed");
}

/* A drop added by reload is watched within seconds even while another drop
 * never stops receiving files. */
Test(robust, drop_added_under_steady_traffic)
{
	const char *s = h_script(&env, "ok.sh", "exit 0\n");
	const char *b = h_fmt("%s/b-in", env.root);
	char bs[H_PATH * 2], list[H_PATH * 3];
	int i;

	snprintf(bs, sizeof(bs), "%s", b);
	snprintf(list, sizeof(list), "%s", cmd(s));
	cr_assert_eq(mkdir(bs, 0755), 0);
	h_config_simple(&env, list, "", "");
	start();
	h_config(&env,
		 "drops = (\n"
		 "  { name = \"d\"; path = \"%s\"; done = \"%s\"; failed = \"%s\"; command = %s; },\n"
		 "  { name = \"b\"; path = \"%s\"; done = \"%s\"; failed = \"%s\"; command = %s; }\n"
		 ");\n", env.drop, env.done, env.failed, list, bs, env.done, env.failed, list);
	kill(env.pid, SIGHUP);
	cr_assert(h_wait_text(env.log, "event=reloaded", 10000));
	for (i = 0; i < 40; i++) {   /* 4 s of traffic on drop d */
		h_drop(&env, h_fmt("t%02d.sea", i), "t");
		if (i == 20) {
			h_write(h_fmt("%s/.b", bs), "b", 0644);
			cr_assert_eq(rename(h_fmt("%s/.b", bs), h_fmt("%s/b.sea", bs)), 0);
		}
		nap(100);
		if (i >= 30 && h_exists(h_fmt("%s/b.sea", env.done)))
			break;
	}
	cr_assert(h_wait_count(env.done, "b.sea", 1, 3000) &&
		  h_exists(h_fmt("%s/b.sea", env.done)),
		  "the new drop's file waited for traffic on the other drop to stop");
}

/* One worker, queue_size 8, drop d (first in the config) fed a file every
 * 5 ms, faster than its command: the list of files waiting for room stays
 * full of d's, and d's overflow is left to scans.  Drop b's file, come
 * then, is found by b's scan within a few files, not after d's backlog.
 * (Scans that always began with the first drop, or a full list always
 * served before any scan, kept b's file behind all of d's.) */
Test(robust, a_busy_drop_does_not_hold_back_another)
{
	const char *s = h_script(&env, "slow.sh", "sleep 0.02\n");
	const char *b = h_fmt("%s/b-in", env.root);
	char bs[H_PATH * 2], list[H_PATH * 3];
	int i, at_b = -1, d_done = -1;

	snprintf(bs, sizeof(bs), "%s", b);
	snprintf(list, sizeof(list), "%s", cmd(s));
	cr_assert_eq(mkdir(bs, 0755), 0);
	h_config(&env,
		 "workers = 1;\nqueue_size = 8;\n"
		 "drops = (\n"
		 "  { name = \"d\"; path = \"%s\"; done = \"%s\"; failed = \"%s\"; command = %s; },\n"
		 "  { name = \"b\"; path = \"%s\"; done = \"%s\"; failed = \"%s\"; command = %s; }\n"
		 ");\n", env.drop, env.done, env.failed, list, bs, env.done, env.failed, list);
	start();
	for (i = 0; i < 200; i++) {
		h_drop(&env, h_fmt("t%03d.sea", i), "t");
		if (i == 100) {
			at_b = h_count(env.done, ".sea");
			h_write(h_fmt("%s/.b", bs), "b", 0644);
			cr_assert_eq(rename(h_fmt("%s/.b", bs), h_fmt("%s/b.sea", bs)), 0);
		}
		if (d_done < 0 && h_exists(h_fmt("%s/b.sea", env.done)))
			d_done = h_count(env.done, ".sea") - 1;
		nap(5);
	}
	for (i = 0; i < 1500 && d_done < 0; i++) {
		if (h_exists(h_fmt("%s/b.sea", env.done)))
			d_done = h_count(env.done, ".sea") - 1;
		nap(10);
	}
	cr_assert_geq(d_done, 0, "b's file not done after 15 s");
	cr_assert_lt(d_done - at_b, 20, "b's file came when %d of d's were done, and was done "
		     "after %d of d's", at_b, d_done);
}
