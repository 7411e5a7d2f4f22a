/*
 * test_status.c - issue 11: what an operator sees.  Item 8: each worker
 * shows in ps what it runs ("seawatch-worker: DROP/NAME", or idle).
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

TestSuite(status, .init = setup, .fini = teardown, .timeout = 60);

/* The command line of the daemon's only child (its worker), NULs as
 * spaces, trailing blanks cut; "" if none yet. */
static const char *worker_title(void)
{
	static char buf[512];
	char path[64], *kids;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", (long)env.pid, (long)env.pid);
	kids = h_slurp(path);
	buf[0] = '\0';
	if (!kids || atol(kids) <= 0) {
		free(kids);
		return buf;
	}
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", atol(kids));
	free(kids);
	f = fopen(path, "r");
	if (!f)
		return buf;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = '\0';
	return buf;
}

static int wait_title(const char *want, int ms)
{
	for (int i = 0; i < ms / 20; i++) {
		if (!strcmp(worker_title(), want))
			return 1;
		usleep(20000);
	}
	return 0;
}

Test(status, ps_shows_what_each_worker_runs)
{
	const char *s = h_script(&env, "wait.sh",
		"while [ ! -e \"$2/go\" ]; do sleep 0.02; done\n");

	h_config_simple(&env, h_fmt("[\"%s\", \"{file}\", \"%s\"]", s, env.out), "",
			"workers = 1;");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	cr_assert(wait_title("seawatch-worker: idle", 5000), "an idle worker shows '%s'",
		  worker_title());
	h_drop(&env, "a.sea", "x");
	cr_assert(wait_title("seawatch-worker: d/a.sea", 5000), "a busy worker shows '%s'",
		  worker_title());
	h_write(h_fmt("%s/go", env.out), "", 0644);
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000));
	cr_assert(wait_title("seawatch-worker: idle", 5000), "after its job it shows '%s'",
		  worker_title());
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* Item 7: "running" means a command is running.  One worker, three files:
 * one runs, two are sent ahead to it -- queued, not running (the old
 * counters said running=3 with one worker). */
Test(status, running_means_a_command_is_running)
{
	/* All three handed to the one worker: one started, two sent ahead. */
	cr_assert(h_one_runs_two_wait(&env, ""), "not one started and two sent ahead");
	kill(env.pid, SIGUSR1);
	cr_assert(h_wait_text(env.log, "event=counters", 5000));
	cr_assert(h_wait_text(env.log, "queued=2 running=1 waiting=0", 100),
		  "the counters do not say 1 running, 2 queued");
	h_write(h_fmt("%s/go", env.out), "", 0644);
	cr_assert(h_wait_count(env.done, ".sea", 3, 10000));
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}
