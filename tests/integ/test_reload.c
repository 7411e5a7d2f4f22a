/*
 * Integration tests: files still being written, and what a reload changes
 * (workers, drops) while the daemon runs.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
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
	h_teardown(&env);
}

TestSuite(reload, .init = setup, .fini = teardown, .timeout = 60);

static void nap(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Worker processes of the daemon PID: its children whose argv[1] is
 * "--worker", or that show their title "seawatch-worker: ..." over it
 * (read from /proc). */
static int count_workers(pid_t pid)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	cr_assert_not_null(d);
	while ((de = readdir(d))) {
		char path[300], buf[512];
		FILE *f;
		int ppid = -1;
		size_t len;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f)) {
			char *p = strrchr(buf, ')');

			if (p)
				sscanf(p + 2, "%*c %d", &ppid);
		}
		fclose(f);
		if (ppid != pid)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[len] = '\0';
		if (h_is_worker_cmdline(buf, len))
			n++;
	}
	closedir(d);
	return n;
}

static int wait_workers(pid_t pid, int want, int ms)
{
	for (int t = 0; t < ms; t += 20) {
		if (count_workers(pid) == want)
			return 1;
		nap(20);
	}
	return count_workers(pid) == want;
}

static const char *copy_cmd(void)
{
	static char buf[H_PATH * 3];
	const char *s = h_script(&env, "copy.sh", "cp \"$1\" \"$2/\"\n");

	snprintf(buf, sizeof(buf), "[\"%s\", \"{file}\", \"%s\"]", s, env.out);
	return buf;
}

/* A file a writer still holds open is not taken by a scan, even though a
 * scan sees it; its close brings it in, whole. */
Test(reload, file_open_for_writing_waits_for_its_close)
{
	const char *path = h_fmt("%s/slow.sea", env.drop);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, "first half\n", 11), 11);
	/* Present at start: the start-up scan sees it. */
	h_config_simple(&env, copy_cmd(), "", "");
	h_start(&env, "-v", NULL);
	cr_assert(h_wait_ready(&env, 10000));
	cr_assert(h_wait_text(env.log, "event=busy drop=d file=slow.sea", 10000),
		  "the scan did not notice the open file");
	/* And a reload's rescan leaves it alone too. */
	kill(env.pid, SIGHUP);
	cr_assert(h_wait_text(env.log, "event=reloaded", 10000));
	nap(300);
	cr_assert(h_exists(path), "taken while still open for writing");
	cr_assert_eq(h_count(env.done, NULL), 0);
	cr_assert_eq(write(fd, "second half\n", 12), 12);
	close(fd);
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000), "not processed after its close");
	{
		char *got = h_slurp(h_fmt("%s/slow.sea", env.out));

		cr_assert_not_null(got);
		cr_assert_str_eq(got, "first half\nsecond half\n", "processed before complete");
		free(got);
	}
}

Test(reload, workers_grow_and_shrink)
{
	h_config_simple(&env, copy_cmd(), "", "workers = 2;");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	cr_assert(wait_workers(env.pid, 2, 5000), "expected 2 workers, have %d",
		  count_workers(env.pid));
	h_config_simple(&env, copy_cmd(), "", "workers = 4;");
	kill(env.pid, SIGHUP);
	cr_assert(h_wait_text(env.log, "event=reloaded", 10000));
	cr_assert(wait_workers(env.pid, 4, 5000), "expected 4 workers, have %d",
		  count_workers(env.pid));
	h_config_simple(&env, copy_cmd(), "", "workers = 1;");
	kill(env.pid, SIGHUP);
	cr_assert(wait_workers(env.pid, 1, 5000), "expected 1 worker, have %d",
		  count_workers(env.pid));
	/* Still working, with the one that is left. */
	h_drop(&env, "after.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000));
	cr_assert(h_alive(env.pid));
}

Test(reload, drops_added_and_removed)
{
	const char *drop2 = h_fmt("%s/second", env.root);
	char drop2s[H_PATH * 2], cmd[H_PATH * 3];

	snprintf(drop2s, sizeof(drop2s), "%s", drop2);
	cr_assert_eq(mkdir(drop2s, 0755), 0);
	snprintf(cmd, sizeof(cmd), "%s", copy_cmd());
	h_config_simple(&env, cmd, "", "");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	/* A file already waiting in the new drop, and one dropped after. */
	h_write(h_fmt("%s/waiting.sea", drop2s), "w", 0644);
	h_config(&env,
		 "workers = 2;\n"
		 "drops = (\n"
		 "  { name = \"d\"; path = \"%s\"; done = \"%s\"; failed = \"%s\"; command = %s; },\n"
		 "  { name = \"e\"; path = \"%s\"; done = \"%s\"; failed = \"%s\"; command = %s; }\n"
		 ");\n",
		 env.drop, env.done, env.failed, cmd, drop2s, env.done, env.failed, cmd);
	kill(env.pid, SIGHUP);
	cr_assert(h_wait_text(env.log, "event=drop-added drop=e", 10000));
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000), "file waiting in the new drop not taken");
	cr_assert(h_exists(h_fmt("%s/waiting.sea", env.done)));
	h_write(h_fmt("%s/.t", drop2s), "n", 0644);
	cr_assert_eq(rename(h_fmt("%s/.t", drop2s), h_fmt("%s/new.sea", drop2s)), 0);
	cr_assert(h_wait_count(env.done, ".sea", 2, 10000), "new drop not watched after reload");
	/* Remove drop d again: its files are no longer taken. */
	h_config(&env,
		 "drops = ( { name = \"e\"; path = \"%s\"; done = \"%s\"; failed = \"%s\"; command = %s; } );\n",
		 drop2s, env.done, env.failed, cmd);
	kill(env.pid, SIGHUP);
	cr_assert(h_wait_text(env.log, "event=drop-removed drop=d", 10000));
	nap(1500);  /* the watcher applies a new set within a second */
	h_drop(&env, "ignored.sea", "i");
	nap(500);
	cr_assert(h_exists(h_fmt("%s/ignored.sea", env.drop)), "a removed drop is still processed");
	cr_assert_eq(h_count(env.done, ".sea"), 2);
}
