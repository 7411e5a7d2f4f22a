/*
 * test_cgroup.c - issue 8, item 7: a command's descendant that leaves its
 * process group (setsid) used to survive the timeout, the end of its job
 * and the daemon's stop.  With a cgroup v2 subtree (given with --cgroup,
 * or the daemon's own when delegated to it as systemd's Delegate=yes
 * does) each worker's commands run in a cgroup that is killed whole.
 * These tests use the machine's real cgroup v2 hierarchy.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static struct h_env env;
static char mnt[H_PATH / 2]; /* where cgroup2 is mounted */
static char base[H_PATH];   /* mnt/seawatch-test.PID: the tests' subtree */
static int moved;           /* this process was moved into a cgroup */

/* Kill and remove the cgroup PATH and everything under it. */
static void cg_rm(const char *path)
{
	char p[H_PATH * 2];
	DIR *d = opendir(path);
	struct dirent *e;
	int fd;

	if (!d)
		return;
	snprintf(p, sizeof(p), "%s/cgroup.kill", path);
	fd = open(p, O_WRONLY);
	if (fd >= 0) {
		cr_assert_eq(write(fd, "1", 1), 1);
		close(fd);
	}
	while ((e = readdir(d)))
		if (e->d_type == DT_DIR && e->d_name[0] != '.') {
			snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
			cg_rm(p);
		}
	closedir(d);
	for (int i = 0; i < 200 && rmdir(path) < 0 && errno == EBUSY; i++)
		usleep(10000);
}

static void setup(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096];

	h_setup(&env);
	mnt[0] = '\0';
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, " - cgroup2 ") &&
		    sscanf(line, "%*s %*s %*s %*s %255s", mnt) == 1)
			break;
	if (f)
		fclose(f);
	cr_assert(mnt[0], "no cgroup v2 file system is mounted on this machine");
	snprintf(base, sizeof(base), "%s/seawatch-test.%ld", mnt, (long)getpid());
	cr_assert_eq(mkdir(base, 0755), 0, "mkdir %s: %s", base, strerror(errno));
	moved = 0;
}

static void teardown(void)
{
	h_teardown(&env);
	if (moved) {
		/* Back to the root, so that our subtree can go. */
		char p[H_PATH + 32];
		FILE *f;

		snprintf(p, sizeof(p), "%s/cgroup.procs", mnt);
		f = fopen(p, "w");
		if (f) {
			fprintf(f, "0\n");
			fclose(f);
		}
	}
	cg_rm(base);
}

TestSuite(cgroup, .init = setup, .fini = teardown, .timeout = 120);

/* A command that starts a process in a session of its own (setsid: out
 * of the process group the daemon kills), waits until that one has
 * written its pid to out/esc.pid, then runs TAIL. */
static const char *escaping_script(const char *tail)
{
	return h_script(&env, "escape.sh", h_fmt(
		"setsid sh -c 'echo $$ > \"$1\"; exec sleep 300' sh \"$2/esc.pid\" "
		"</dev/null >/dev/null 2>&1 &\n"
		"while [ ! -s \"$2/esc.pid\" ]; do sleep 0.05; done\n"
		"%s\n", tail));
}

static void config(const char *script, const char *extra)
{
	h_config_simple(&env, h_fmt("[\"%s\", \"{file}\", \"%s\"]", script, env.out),
			h_fmt("retries = 0; %s", extra), "shutdown_grace = \"1s\";");
}

/* The escaped process's pid, once it has written it. */
static pid_t escapee(void)
{
	const char *p = h_fmt("%s/esc.pid", env.out);
	char *s;
	pid_t pid;

	for (int i = 0; i < 200 && !h_exists(p); i++)
		usleep(50000);
	s = h_slurp(p);
	cr_assert(s && atol(s) > 1, "the command did not start its escapee");
	pid = (pid_t)atol(s);
	free(s);
	return pid;
}

/* Our daemon's directory under BASE: none left once it stopped. */
static int daemon_dirs(void)
{
	DIR *d = opendir(base);
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "seawatchd.", 10))
			n++;
	closedir(d);
	return n;
}

static void start_in(const char *dir)
{
	h_start(&env, "--cgroup", dir, NULL);
	cr_assert(h_wait_ready(&env, 10000), "daemon not ready");
}

Test(cgroup, an_escaped_process_dies_on_timeout)
{
	pid_t esc;

	config(escaping_script("sleep 300"), "timeout = \"1s\"; kill_grace = \"1s\";");
	start_in(base);
	cr_assert(h_wait_text(env.log, "event=cgroups path=", 100));
	h_drop(&env, "a.sea", "x");
	esc = escapee();
	cr_assert(h_wait_count(env.failed, ".sea", 1, 15000), "the file did not fail");
	cr_assert(h_wait_gone(esc, 5000), "the escaped process %ld survived the timeout",
		  (long)esc);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

Test(cgroup, an_escaped_process_dies_with_its_job)
{
	pid_t esc;

	config(escaping_script("exit 0"), "");
	start_in(base);
	h_drop(&env, "a.sea", "x");
	esc = escapee();
	cr_assert(h_wait_count(env.done, ".sea", 1, 15000), "the file is not done");
	cr_assert(h_wait_gone(esc, 5000), "the escaped process %ld outlived its job",
		  (long)esc);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

Test(cgroup, an_escaped_process_dies_at_stop)
{
	pid_t esc;

	config(escaping_script("sleep 300"), "timeout = \"1h\"; kill_grace = \"1s\";");
	start_in(base);
	h_drop(&env, "a.sea", "x");
	esc = escapee();
	cr_assert_eq(daemon_dirs(), 1);
	cr_assert_eq(h_stop(&env, SIGTERM, 15000), 0);
	cr_assert(h_wait_gone(esc, 5000), "the escaped process %ld survived the stop",
		  (long)esc);
	cr_assert_eq(daemon_dirs(), 0, "the daemon's cgroups were not removed");
	/* Stopped mid-run: the file waits for the next start. */
	cr_assert_eq(h_count(env.failed, ".sea"), 0);
}

/* kill -9 of the master: workers and commands die (parent-death signals),
 * an escaped process cannot be reached by anyone until the next start,
 * which kills it and removes the dead daemon's cgroups.  A second daemon
 * on the same subtree, alive, keeps its own. */
Test(cgroup, the_next_start_kills_what_a_dead_daemon_left)
{
	struct h_env other;
	pid_t esc, esc2;

	config(escaping_script("sleep 300"), "timeout = \"1h\";");
	start_in(base);
	h_drop(&env, "a.sea", "x");
	esc = escapee();
	cr_assert_eq(h_stop(&env, SIGKILL, 10000), 128 + SIGKILL);
	usleep(300000);
	cr_assert(h_alive(esc), "the escapee died with the daemon: nothing to test");
	cr_assert_eq(daemon_dirs(), 1);

	/* A live daemon on the same subtree, started meanwhile. */
	h_setup(&other);
	h_config_simple(&other, h_fmt("[\"%s\", \"{file}\", \"%s\"]",
				      escaping_script("sleep 300"), other.out),
			"timeout = \"1h\";", "");
	h_start(&other, "--cgroup", base, NULL);
	cr_assert(h_wait_ready(&other, 10000));
	cr_assert(h_wait_gone(esc, 5000), "a dead daemon's escapee survived the next start");
	h_drop(&other, "b.sea", "x");
	{
		const char *p = h_fmt("%s/esc.pid", other.out);
		char *s;

		for (int i = 0; i < 200 && !h_exists(p); i++)
			usleep(50000);
		s = h_slurp(p);
		cr_assert(s && atol(s) > 1);
		esc2 = (pid_t)atol(s);
		free(s);
	}
	cr_assert_eq(daemon_dirs(), 1, "the dead daemon's cgroups are still there");

	/* And this one, started now, leaves the live one alone. */
	unlink(h_fmt("%s/esc.pid", env.out));
	start_in(base);
	usleep(300000);
	cr_assert(h_alive(esc2), "a daemon killed another live daemon's command");
	cr_assert_eq(daemon_dirs(), 2);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
	cr_assert_eq(h_stop(&other, SIGTERM, 10000), 0);
	cr_assert(h_wait_gone(esc2, 5000));
	h_teardown(&other);
}

/* Under systemd with Delegate=yes the daemon's own cgroup carries the
 * trusted.delegate mark: used without any option. */
Test(cgroup, a_delegated_cgroup_is_used_without_the_option)
{
	const char *svc = h_fmt("%s/svc", base);
	pid_t esc;
	FILE *f;

	cr_assert_eq(mkdir(svc, 0755), 0);
	cr_assert_eq(setxattr(svc, "trusted.delegate", "1", 1, 0), 0, "%s", strerror(errno));
	f = fopen(h_fmt("%s/cgroup.procs", svc), "w");
	cr_assert_not_null(f);
	fprintf(f, "0\n");
	cr_assert_eq(fclose(f), 0);
	moved = 1;
	config(escaping_script("exit 0"), "");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	cr_assert(h_wait_text(env.log, h_fmt("event=cgroups path=%s/seawatchd.", svc), 100));
	h_drop(&env, "a.sea", "x");
	esc = escapee();
	cr_assert(h_wait_count(env.done, ".sea", 1, 15000));
	cr_assert(h_wait_gone(esc, 5000), "the escaped process outlived its job");
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* Not delegated: said at start, and commands run as before. */
Test(cgroup, without_a_subtree_it_says_so)
{
	config("/bin/true", "");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	cr_assert(h_wait_text(env.log, "event=cgroups-off reason=", 100));
	h_drop(&env, "a.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 1, 15000));
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

Test(cgroup, a_given_directory_that_is_no_cgroup_is_refused)
{
	char *out = NULL;

	config("/bin/true", "");
	cr_assert_eq(h_run(&env, &out, "-c", env.conf, "--cgroup", env.root, NULL), 3);
	cr_assert(out && strstr(out, "cgroup") && strstr(out, "not a directory of a cgroup v2"),
		  "%s", out);
	free(out);
}

/* Review of issue 13: an exec-mode job in a worker that also holds a
 * persistent command (lines mode) does not kill that command with the
 * worker's cgroup when it ends. */
Test(cgroup, an_exec_job_leaves_a_persistent_command_alone)
{
	const char *lines = h_script(&env, "lines.sh",
		"echo $$ >> \"$1/pids\"\nwhile IFS= read -r f; do echo 0; done\n");

	h_config(&env, "workers = 1;\n"
		 "defaults = { done = \"%s\"; failed = \"%s\"; retries = 0; };\n"
		 "drops = ( { name = \"l\"; path = \"%s\"; command = [ \"%s\", \"%s\" ];\n"
		 "            protocol = \"lines\"; pattern = \"*.lin\"; },\n"
		 "          { name = \"e\"; path = \"%s\"; command = [ \"/bin/true\" ]; } );\n",
		 env.done, env.failed, env.drop, lines, env.out, env.drop);
	start_in(base);
	cr_assert(h_wait_text(env.log, "event=cgroups path=", 100));
	h_drop(&env, "1.lin", "x");
	cr_assert(h_wait_count(env.done, ".lin", 1, 10000));
	h_drop(&env, "2.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000));
	h_drop(&env, "3.lin", "x");
	cr_assert(h_wait_count(env.done, ".lin", 2, 10000));
	cr_assert_eq(h_count_text(env.log, "event=command-started"), 1,
		     "the persistent command was killed by the exec job's end");
	cr_assert_eq(h_count_text(env.log, "event=command-ended"), 0);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}
