/*
 * Integration tests: jobs sent ahead.  A busy worker is handed its next
 * job before the one it runs ends (no round trip between two commands).
 * Such a job must never wait behind a slow command while another worker
 * idles, must not be counted as an attempt if it never started (after a
 * kill -9 of the daemon, a worker's death, a graceful stop), and must not
 * start once a stop has begun.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

TestSuite(ahead, .init = setup, .fini = teardown, .timeout = 90);

/* slow*.sea sleeps SLOW seconds, mid*.sea 0.3 s, the rest nothing; every
 * start is appended to OUT/runs. */
static const char *script(const char *slow)
{
	return h_script(&env, "job.sh", h_fmt(
		"echo \"$(basename \"$1\")\" >> \"$2/runs\"\n"
		"case \"$(basename \"$1\")\" in\n"
		"slow*) exec sleep %s;;\n"
		"mid*) exec sleep 0.3;;\n"
		"esac\nexit 0\n", slow));
}

static void config(const char *slow, const char *global)
{
	h_config_simple(&env, h_fmt("[\"%s\", \"{file}\", \"%s\"]", script(slow), env.out),
			"", h_fmt("log_level = \"debug\";\n%s", global));
}

static void start(void)
{
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000), "daemon not ready");
}

static int runs_of(const char *name)
{
	return h_count_text(h_fmt("%s/runs", env.out), h_fmt("%s\n", name));
}

/* Wait until the log says NAME was sent ahead (to whichever worker runs
 * the slow command): the situation under test really arose. */
static void assert_sent_ahead(const char *name)
{
	for (int t = 0; t < 1000; t++) {
		for (int w = 0; w < 2; w++)
			if (h_count_text(env.log, h_fmt("event=start drop=d file=%s attempt=1 "
							"worker=%d ahead=1", name, w)))
				return;
		usleep(10 * 1000);
	}
	cr_assert_fail("%s was never sent ahead: the test did not test anything", name);
}

/* A daemon (config SLOW, GLOBAL) running slow.sea. */
static void slow_running(const char *slow, const char *global)
{
	config(slow, global);
	start();
	h_drop(&env, "slow.sea", "s");
	cr_assert(h_wait_text(h_fmt("%s/runs", env.out), "slow.sea", 10000), "slow not started");
}

/* The same, with b.sea sent ahead to the worker that runs slow.sea. */
static void b_behind_slow(const char *slow, const char *global)
{
	slow_running(slow, global);
	h_drop(&env, "b.sea", "b");
	assert_sent_ahead("b.sea");
}

/* On a failed wait, the daemon's log goes to stderr (it is gone after the
 * test). */
static int wait_done(int n, int ms)
{
	if (h_wait_count(env.done, ".sea", n, ms))
		return 1;
	fprintf(stderr, "---- daemon log ----\n%s\n----\n", h_slurp(env.log));
	return 0;
}

static int in_flight_n;

static int in_flight_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	if (flag == FTW_F && S_ISREG(st->st_mode) && p[f->base] != '.' &&
	    strstr(p, "/run.") && strcmp(p + f->base, "lock") && strcmp(p + f->base, "attempts"))
		in_flight_n++;
	return 0;
}

static int in_flight(void)
{
	in_flight_n = 0;
	nftw(h_fmt("%s/.seawatch", env.root), in_flight_one, 16, FTW_PHYS);
	return in_flight_n;
}

static pid_t worker_of(pid_t master)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;

	while (d && (de = readdir(d)) && !found) {
		char *stat = h_slurp(h_fmt("/proc/%s/stat", de->d_name));
		char *p = stat ? strrchr(stat, ')') : NULL;
		long ppid = -1;

		if (p && sscanf(p + 1, " %*c %ld", &ppid) == 1 && ppid == master)
			found = (pid_t)atoi(de->d_name);
		free(stat);
	}
	if (d)
		closedir(d);
	return found;
}

/* Two workers; a slow command on worker 0; a job sent ahead to it.  When
 * worker 1 goes idle, that job is asked back and runs there at once,
 * instead of waiting 30 s for the slow command. */
Test(ahead, job_behind_a_slow_command_moves_to_an_idle_worker)
{
	slow_running("30", "");
	h_drop(&env, "mid.sea", "m");      /* keeps worker 1 busy 0.3 s */
	h_drop(&env, "quick.sea", "q");    /* goes ahead, behind slow */
	assert_sent_ahead("quick.sea");
	cr_assert(h_wait_count(env.done, ".sea", 2, 5000),
		  "quick.sea waited behind the slow command while a worker was idle");
	cr_assert(h_exists(h_fmt("%s/quick.sea", env.done)));
	cr_assert(h_exists(h_fmt("%s/mid.sea", env.done)));
	cr_assert(h_wait_text(env.log, "event=done drop=d file=quick.sea attempt=1 ", 5000),
		  "a job given back must not count as an attempt");
	cr_assert_eq(runs_of("quick.sea"), 1, "quick.sea ran %d times", runs_of("quick.sea"));
	cr_assert_eq(h_stop(&env, SIGTERM, 20000), 0);
}

/* kill -9 of the daemon while a job waits ahead of a running one: after
 * the restart the running one was on its last attempt (status=crashed),
 * the one sent ahead never started and is processed normally. */
Test(ahead, job_sent_ahead_is_not_counted_after_a_crash)
{
	b_behind_slow("30", "workers = 1;\n");
	cr_assert_eq(h_stop(&env, SIGKILL, 5000), 128 + SIGKILL);
	usleep(300 * 1000);   /* the worker follows (PR_SET_PDEATHSIG) */
	cr_assert_eq(runs_of("b.sea"), 0, "b.sea started");
	config("0", "workers = 1;\n");
	start();
	cr_assert(h_wait_count(env.failed, ".sea", 1, 10000), "slow.sea not failed");
	cr_assert(wait_done(1, 20000), "b.sea not done");
	cr_assert(h_exists(h_fmt("%s/slow.sea", env.failed)));
	cr_assert(h_exists(h_fmt("%s/b.sea", env.done)),
		  "the job sent ahead was charged an attempt it never started");
	cr_assert(h_wait_text(env.log, "event=failed drop=d file=slow.sea attempt=1 status=crashed",
			      5000));
	cr_assert(h_wait_text(env.log, "event=done drop=d file=b.sea attempt=1 ", 5000));
	cr_assert_eq(runs_of("b.sea"), 1);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* The worker dies under its command with a job waiting ahead: the command's
 * file fails (retries = 0: status=worker-died), the job sent ahead runs on
 * the new worker as its first attempt. */
Test(ahead, job_sent_ahead_survives_its_workers_death)
{
	pid_t w;

	b_behind_slow("30", "workers = 1;\n");
	w = worker_of(env.pid);
	cr_assert(w > 0, "no worker found");
	cr_assert_eq(kill(w, SIGKILL), 0);
	cr_assert(h_wait_count(env.failed, ".sea", 1, 10000), "slow.sea not failed");
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000), "b.sea not done");
	cr_assert(h_exists(h_fmt("%s/b.sea", env.done)));
	cr_assert(h_wait_text(env.log, "event=failed drop=d file=slow.sea attempt=1 status=worker-died",
			      5000));
	cr_assert(h_wait_text(env.log, "event=done drop=d file=b.sea attempt=1 ", 5000));
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* A graceful stop lets the running command finish but starts nothing new,
 * not even a job already sent ahead: that one stays in flight and is
 * processed, as its first attempt, at the next start. */
Test(ahead, stop_does_not_start_a_job_sent_ahead)
{
	b_behind_slow("2", "workers = 1;\nshutdown_grace = \"20s\";\n");
	cr_assert_eq(h_stop(&env, SIGTERM, 20000), 0);
	cr_assert(h_exists(h_fmt("%s/slow.sea", env.done)), "the running command did not finish");
	cr_assert_eq(runs_of("b.sea"), 0, "b.sea started after the stop began");
	cr_assert_eq(h_count(env.done, ".sea") + h_count(env.failed, ".sea"), 1);
	cr_assert_eq(in_flight(), 1, "b.sea is not in flight");
	start();
	cr_assert(h_wait_count(env.done, ".sea", 2, 10000), "b.sea not done after the restart");
	cr_assert(h_wait_text(env.log, "event=done drop=d file=b.sea attempt=1 ", 5000));
	cr_assert_eq(runs_of("b.sea"), 1);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}
