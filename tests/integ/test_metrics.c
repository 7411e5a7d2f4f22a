/*
 * test_metrics.c - issue 11, item 6: the Prometheus text file.  Its
 * counters match what happened, `promtool check metrics` accepts it, it is
 * replaced whole (no temporary named *.prom), readable by node_exporter,
 * and written once more at stop.
 */
#include <criterion/criterion.h>
#include <dirent.h>
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

TestSuite(metrics, .init = setup, .fini = teardown, .timeout = 60);

Test(metrics, the_file_says_what_happened_and_promtool_accepts_it)
{
	const char *s = h_script(&env, "cmd.sh", "case \"$1\" in *bad*) exit 65;; esac\nexit 0\n");
	const char *dir = h_fmt("%s/metrics", env.root);
	char prom[H_PATH + 32], cmd[H_PATH * 3];
	struct stat st;
	DIR *d;
	struct dirent *de;

	cr_assert_eq(mkdir(dir, 0755), 0);
	snprintf(prom, sizeof(prom), "%s/seawatch.prom", dir);
	h_config_simple(&env, h_fmt("[\"%s\", \"{file}\"]", s), "no_retry = [ 65 ];",
			h_fmt("metrics_file = \"%s\"; metrics_interval = \"1s\";", prom));
	/* Before the start: a symlink raises no event the daemon takes, only
	 * a scan (the one at start) sees it. */
	cr_assert_eq(symlink("/etc/passwd", h_fmt("%s/link.sea", env.drop)), 0);
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	h_drop(&env, "a.sea", "x");
	h_drop(&env, "b.sea", "x");
	h_drop(&env, "bad.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 2, 10000));
	cr_assert(h_wait_count(env.failed, ".sea", 1, 10000));
	cr_assert(h_wait_text(prom, "seawatch_files_total{drop=\"d\",outcome=\"done\"} 2", 5000),
		  "the file does not count 2 done");
	cr_assert(h_wait_text(prom, "seawatch_files_total{drop=\"d\",outcome=\"failed\"} 1", 3000));
	cr_assert(h_wait_text(prom, "seawatch_files_total{drop=\"d\",outcome=\"skipped\"} 1", 3000));
	cr_assert(h_wait_text(prom, "seawatch_job_duration_seconds_count{drop=\"d\"} 2", 3000));
	cr_assert(h_wait_text(prom, "seawatch_drop_up{drop=\"d\"} 1", 100));
	cr_assert(h_wait_text(prom, "seawatch_build_info{version=", 100));
	cr_assert(h_wait_text(prom, "seawatch_workers{state=\"idle\"}", 100));
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s > %s/promtool.out 2>&1", prom, env.out);
	cr_assert_eq(system(cmd), 0, "promtool check metrics:\n%s",
		     h_slurp(h_fmt("%s/promtool.out", env.out)));
	cr_assert_eq(stat(prom, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0644, "mode %o: node_exporter cannot read it",
		     (unsigned)(st.st_mode & 0777));
	d = opendir(dir);
	cr_assert_not_null(d);
	while ((de = readdir(d)))
		if (strstr(de->d_name, ".prom") && strcmp(de->d_name, "seawatch.prom"))
			cr_assert_fail("a stray *.prom-like file: %s", de->d_name);
	closedir(d);
	/* At stop: written once more (a file claimed in the last second is
	 * counted). */
	h_drop(&env, "c.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 3, 10000));
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
	cr_assert(h_wait_text(prom, "seawatch_files_total{drop=\"d\",outcome=\"done\"} 3", 100),
		  "the last figures were not written at stop");
}
