/* Integration tests: details of the command contract (SPEC §4) not covered
 * elsewhere. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <string.h>

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

TestSuite(contract, .init = setup, .fini = teardown, .timeout = 60);

/* The daemon blocks and ignores signals for itself; none of that may reach
 * a command (an ignored SIGPIPE or SIGINT changes how scripts behave). */
Test(contract, command_starts_with_default_signals)
{
	/* exec, and no command substitution: the shell must not fork and
	 * wait (dash blocks every signal while it waits), so what grep reads
	 * is the mask the command was started with. */
	const char *s = h_script(&env, "sig.sh",
		"exec grep -E '^Sig(Blk|Ign):' /proc/self/status > \"$2/a.sea.sig\"\n");
	char cmd[H_PATH * 3];
	char *got;

	snprintf(cmd, sizeof(cmd), "[\"%s\", \"{file}\", \"%s\"]", s, env.out);
	h_config_simple(&env, cmd, "", "");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	h_drop(&env, "a.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000));
	got = h_slurp(h_fmt("%s/a.sea.sig", env.out));
	cr_assert_not_null(got);
	cr_assert_str_eq(got, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n",
			 "signals blocked or ignored in the command:\n%s", got);
	free(got);
}

/* user = "nobody": workers drop privileges, so commands run as nobody
 * (the daemon is started as root here). */
Test(contract, commands_run_as_the_configured_user)
{
	const char *s;
	char cmd[H_PATH * 3], *got;

	if (geteuid() != 0)
		cr_skip("needs root");
	/* nobody must be able to reach the script and write its answer. */
	cr_assert_eq(chmod(env.root, 0755), 0);
	cr_assert_eq(chmod(env.out, 0777), 0);
	s = h_script(&env, "who.sh", "id -u > \"$2/uid\"\nid -g > \"$2/gid\"\n");
	snprintf(cmd, sizeof(cmd), "[\"%s\", \"{file}\", \"%s\"]", s, env.out);
	h_config_simple(&env, cmd, "", "user = \"nobody\";");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	h_drop(&env, "u.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000), "not processed as nobody");
	got = h_slurp(h_fmt("%s/uid", env.out));
	cr_assert_not_null(got);
	cr_assert_str_eq(got, h_fmt("%ld\n", (long)getpwnam("nobody")->pw_uid));
	free(got);
}

/* Cpus_allowed_list of PID ("0-1", "1", ...), malloc'd, newline cut. */
static char *cpus_of(long pid)
{
	char *st = h_slurp(h_fmt("/proc/%ld/status", pid)), *p, *r = NULL;

	if (st && (p = strstr(st, "Cpus_allowed_list:"))) {
		p += strlen("Cpus_allowed_list:");
		p += strspn(p, " \t");
		r = strndup(p, strcspn(p, "\n"));
	}
	free(st);
	return r;
}

/* The workers (children of the master), up to MAX. */
static int workers_of(pid_t master, long *out, int max)
{
	FILE *f = popen(h_fmt("pgrep -P %ld", (long)master), "r");
	int n = 0;

	while (f && n < max && fscanf(f, "%ld", &out[n]) == 1)
		n++;
	if (f)
		pclose(f);
	return n;
}

static void run_affinity(const char *global, char **w0, char **w1, char **cmd)
{
	const char *s = h_script(&env, "cpus.sh",
		"grep Cpus_allowed_list /proc/$$/status | cut -f2 > \"$2/cpus\"\n");
	long w[4];

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		cr_skip("one CPU: nothing to spread");
	h_config_simple(&env, h_fmt("[\"%s\", \"{file}\", \"%s\"]", s, env.out), "",
			h_fmt("workers = 2;\n%s", global));
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	h_drop(&env, "c.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000), "not processed");
	cr_assert_eq(workers_of(env.pid, w, 4), 2, "expected 2 workers");
	*w0 = cpus_of(w[0]);
	*w1 = cpus_of(w[1]);
	*cmd = h_slurp(h_fmt("%s/cpus", env.out));
	cr_assert(*w0 && *w1 && *cmd);
	(*cmd)[strcspn(*cmd, "\n")] = '\0';
}

/* cpu_affinity "spread" (the default): each worker on a CPU of its own,
 * and the command gets the daemon's whole set back. */
Test(contract, workers_spread_over_cpus_commands_get_them_all)
{
	char *mine = cpus_of((long)getpid()), *w0, *w1, *cmd;

	run_affinity("", &w0, &w1, &cmd);
	cr_assert(!strchr(w0, '-') && !strchr(w0, ','), "worker not on one CPU: %s", w0);
	cr_assert(!strchr(w1, '-') && !strchr(w1, ','), "worker not on one CPU: %s", w1);
	cr_assert_str_neq(w0, w1, "both workers on CPU %s", w0);
	cr_assert_str_eq(cmd, mine, "the command kept a narrowed CPU set: %s (daemon's: %s)",
			 cmd, mine);
	free(mine), free(w0), free(w1), free(cmd);
}

/* cpu_affinity "none": the scheduler places workers; nothing is narrowed. */
Test(contract, cpu_affinity_none_leaves_workers_alone)
{
	char *mine = cpus_of((long)getpid()), *w0, *w1, *cmd;

	run_affinity("cpu_affinity = \"none\";\n", &w0, &w1, &cmd);
	cr_assert_str_eq(w0, mine);
	cr_assert_str_eq(w1, mine);
	cr_assert_str_eq(cmd, mine);
	free(mine), free(w0), free(w1), free(cmd);
}
