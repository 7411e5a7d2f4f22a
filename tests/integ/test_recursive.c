/*
 * test_recursive.c - issue 12, item 1: recursive drops.  Files in
 * subdirectories at any depth up to max_depth are taken and keep their path
 * in done/ and failed/ ({relpath} says it to the command); a subdirectory
 * is watched at once and scanned after, so nothing made in it meanwhile is
 * missed; subdirectories come, go, come back and move; nothing planted as a
 * symlink is followed; a crash keeps the path; when no more subdirectories
 * can be watched, the drop is scanned instead.
 */
#define _XOPEN_SOURCE 700
#include <criterion/criterion.h>
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

TestSuite(recursive, .init = setup, .fini = teardown, .timeout = 120);

static int tree_n;
static const char *tree_suffix;

static int tree_one(const char *p, const struct stat *st, int type, struct FTW *f)
{
	size_t l = strlen(p), sl = strlen(tree_suffix);

	(void)st;
	(void)f;
	if (type == FTW_F && l >= sl && !strcmp(p + l - sl, tree_suffix))
		tree_n++;
	return 0;
}

/* Files ending in SUFFIX in DIR and below. */
static int count_tree(const char *dir, const char *suffix)
{
	tree_n = 0;
	tree_suffix = suffix;
	nftw(dir, tree_one, 16, FTW_PHYS);
	return tree_n;
}

static int wait_tree(const char *dir, const char *suffix, int n, int ms)
{
	for (int t = 0; t < ms; t += 50) {
		if (count_tree(dir, suffix) >= n)
			return 1;
		usleep(50000);
	}
	return count_tree(dir, suffix) >= n;
}

/* The command appends "{relpath} $SEAWATCH_NAME $SEAWATCH_RELPATH" to
 * out/got. */
static const char *teller(void)
{
	return h_fmt("[\"%s\", \"{relpath}\", \"%s\"]",
		     h_script(&env, "tell.sh", "echo \"$1 $SEAWATCH_NAME $SEAWATCH_RELPATH\" >> \"$2/got\"\n"),
		     env.out);
}

/* Files at the top, one and three levels down -- there at start and made
 * later -- are taken and keep their paths in done/; the command is told the
 * path; a file deeper than max_depth stays, said once. */
Test(recursive, files_at_any_depth_keep_their_path)
{
	char *got;

	h_write(h_fmt("%s/top.sea", env.drop), "x", 0644);
	cr_assert_eq(system(h_fmt("mkdir -p %s/dev1 %s/a/b/c/d", env.drop, env.drop)), 0);
	h_write(h_fmt("%s/dev1/one.sea", env.drop), "x", 0644);
	h_write(h_fmt("%s/a/b/c/three.sea", env.drop), "x", 0644);
	h_write(h_fmt("%s/a/b/c/d/four.sea", env.drop), "x", 0644);
	h_config_simple(&env, teller(), "recursive = true; max_depth = 3;", "");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	cr_assert(wait_tree(env.done, ".sea", 3, 10000), "%d done", count_tree(env.done, ".sea"));
	cr_assert(h_exists(h_fmt("%s/top.sea", env.done)));
	cr_assert(h_exists(h_fmt("%s/dev1/one.sea", env.done)));
	cr_assert(h_exists(h_fmt("%s/a/b/c/three.sea", env.done)));
	/* Made later, live. */
	cr_assert_eq(system(h_fmt("mkdir -p %s/dev2/x && echo y > %s/dev2/x/live.sea", env.drop,
				  env.drop)), 0);
	cr_assert(wait_tree(env.done, ".sea", 4, 10000));
	cr_assert(h_exists(h_fmt("%s/dev2/x/live.sea", env.done)));
	cr_assert(h_wait_text(env.log, "event=subdir-ignored drop=d dir=a/b/c/d", 5000));
	cr_assert(h_exists(h_fmt("%s/a/b/c/d/four.sea", env.drop)), "too deep, yet taken");
	got = h_slurp(h_fmt("%s/got", env.out));
	cr_assert(got && strstr(got, "dev1/one.sea one.sea dev1/one.sea\n") &&
		  strstr(got, "a/b/c/three.sea three.sea a/b/c/three.sea\n") &&
		  strstr(got, "top.sea top.sea top.sea\n"), "the command got:\n%s", got);
	free(got);
	kill(env.pid, SIGHUP);   /* rescanned: the deep one is not said again */
	cr_assert(h_wait_text(env.log, "event=reloaded", 5000));
	h_drop(&env, "after.sea", "x");
	cr_assert(wait_tree(env.done, ".sea", 5, 10000));
	cr_assert_eq(h_count_text(env.log, "event=subdir-ignored"), 1);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* `mkdir -p a/b && echo x > a/b/f.sea` in one breath, 100 times: the
 * watches come too late for some of them, the scan after each watch finds
 * those.  Each file once. */
Test(recursive, a_tree_made_in_one_breath_is_never_missed)
{
	const char *w = h_script(&env, "burst.sh",
		"i=0; while [ $i -lt 100 ]; do\n"
		"  mkdir -p \"$1/r$i/a/b\" && echo x > \"$1/r$i/a/b/f.sea\"; i=$((i + 1))\n"
		"done\n");

	h_config_simple(&env, "[\"/bin/true\"]", "recursive = true;", "");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	cr_assert_eq(system(h_fmt("%s %s", w, env.drop)), 0);
	cr_assert(wait_tree(env.done, "f.sea", 100, 20000), "%d of 100 done",
		  count_tree(env.done, "f.sea"));
	usleep(500000);
	cr_assert_eq(count_tree(env.done, ".sea"), 100, "a file taken twice");
	cr_assert_eq(count_tree(env.drop, ".sea"), 0);
	for (int i = 0; i < 100; i += 33)
		cr_assert(h_exists(h_fmt("%s/r%d/a/b/f.sea", env.done, i)));
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* A subdirectory removed and made again, one renamed within the drop, and
 * one moved out of it: the first two are watched (under their new path),
 * the third no longer. */
Test(recursive, subdirectories_come_go_and_move)
{
	h_config_simple(&env, "[\"/bin/true\"]", "recursive = true;", "");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	cr_assert_eq(system(h_fmt("mkdir %s/dev && echo x > %s/dev/1.sea", env.drop, env.drop)), 0);
	cr_assert(wait_tree(env.done, ".sea", 1, 10000));
	cr_assert_eq(system(h_fmt("rm -r %s/dev && mkdir %s/dev && echo x > %s/dev/2.sea",
				  env.drop, env.drop, env.drop)), 0);
	cr_assert(wait_tree(env.done, ".sea", 2, 10000));
	/* Renamed within the drop: its files are named by the new path. */
	cr_assert_eq(system(h_fmt("mkdir -p %s/old/sub && sleep 0.3 && mv %s/old %s/new && "
				  "sleep 0.3 && echo x > %s/new/sub/3.sea",
				  env.drop, env.drop, env.drop, env.drop)), 0);
	cr_assert(wait_tree(env.done, ".sea", 3, 10000));
	cr_assert(h_exists(h_fmt("%s/new/sub/3.sea", env.done)), "not under its new path");
	/* Moved out of the drop: what is written there stays there. */
	cr_assert_eq(system(h_fmt("mkdir %s/gone && sleep 0.3 && mv %s/gone %s/gone && "
				  "sleep 0.3 && echo x > %s/gone/4.sea",
				  env.drop, env.drop, env.out, env.out)), 0);
	usleep(1000000);
	cr_assert(h_exists(h_fmt("%s/gone/4.sea", env.out)), "a file outside the drop was taken");
	cr_assert_eq(count_tree(env.done, ".sea"), 3);
	cr_assert_eq(h_count_text(env.log, "level=error"), 0);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* A symlink an uploader plants -- to a directory outside, in the drop; or
 * in done/, where a file's directory would go -- is never followed: the
 * file outside stays, nothing is written outside. */
Test(recursive, a_planted_symlink_is_never_followed)
{
	cr_assert_eq(system(h_fmt("mkdir -p %s/secret %s/elsewhere && echo s > %s/secret/s.sea && "
				  "ln -s %s/secret %s/link && ln -s %s/elsewhere %s/dev",
				  env.out, env.out, env.out, env.out, env.drop, env.out, env.done)), 0);
	h_config_simple(&env, "[\"/bin/true\"]", "recursive = true;", "");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	cr_assert_eq(system(h_fmt("mkdir %s/dev && echo x > %s/dev/x.sea && echo y > %s/y.sea",
				  env.drop, env.drop, env.drop)), 0);
	cr_assert(wait_tree(env.done, "y.sea", 1, 10000));
	/* dev/x.sea cannot go where done/dev leads: it waits, set aside. */
	cr_assert(h_wait_text(env.log, "event=move-failed drop=d file=dev/x.sea", 10000));
	cr_assert(h_exists(h_fmt("%s/secret/s.sea", env.out)), "a file through a symlink was taken");
	cr_assert_eq(count_tree(h_fmt("%s/elsewhere", env.out), ""), 0,
		     "written through a symlink in done/");
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* A failure keeps the path too, with its sidecar beside it. */
Test(recursive, failed_keeps_the_path_and_the_sidecar)
{
	h_config_simple(&env, "[\"/bin/false\"]", "recursive = true; retries = 0;", "");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	cr_assert_eq(system(h_fmt("mkdir -p %s/dev/q && echo x > %s/dev/q/bad.sea", env.drop,
				  env.drop)), 0);
	cr_assert(wait_tree(env.failed, ".error", 1, 10000));
	cr_assert(h_exists(h_fmt("%s/dev/q/bad.sea", env.failed)));
	cr_assert(h_exists(h_fmt("%s/dev/q/bad.sea.error", env.failed)));
	cr_assert(h_wait_text(env.log, h_fmt("to=%s/dev/q/bad.sea", env.failed), 1000));
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* kill -9 while a file of a subdirectory runs: the next start runs it again
 * and puts it under its path, not at the top. */
Test(recursive, a_crash_keeps_the_path)
{
	const char *cmd = h_script(&env, "slow.sh", "touch \"$2/started\"; sleep 2\n");

	h_config_simple(&env, h_fmt("[\"%s\", \"{file}\", \"%s\"]", cmd, env.out),
			"recursive = true; retries = 1;", "");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	cr_assert_eq(system(h_fmt("mkdir -p %s/dev7 && echo x > %s/dev7/k.sea", env.drop, env.drop)), 0);
	for (int t = 0; t < 100 && !h_exists(h_fmt("%s/started", env.out)); t++)
		usleep(50000);
	cr_assert(h_exists(h_fmt("%s/started", env.out)));
	h_stop(&env, SIGKILL, 5000);
	cr_assert(h_wait_none_left(&env, 10000));
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	cr_assert(wait_tree(env.done, ".sea", 1, 15000), "%s", h_slurp(env.log));
	cr_assert(h_exists(h_fmt("%s/dev7/k.sea", env.done)), "not under its path");
	cr_assert(h_wait_text(env.log, "event=recovered drop=d file=dev7/k.sea", 1000));
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* No more watches ($SEAWATCH_SUBWATCH_MAX=2 here, as a full
 * fs.inotify.max_user_watches would): said once, and the drop is scanned
 * every few seconds, so the files of the unwatched subdirectories are still
 * taken; once watches free up (subdirectories removed), said again. */
Test(recursive, no_more_watches_falls_back_to_scanning)
{
	h_config_simple(&env, "[\"/bin/true\"]", "recursive = true;", "");
	setenv("SEAWATCH_SUBWATCH_MAX", "2", 1);
	h_start(&env, NULL);
	unsetenv("SEAWATCH_SUBWATCH_MAX");
	cr_assert(h_wait_ready(&env, 10000));
	cr_assert_eq(system(h_fmt("mkdir %s/w1 %s/w2 %s/u3 %s/u4", env.drop, env.drop, env.drop,
				  env.drop)), 0);
	cr_assert(h_wait_text(env.log, "event=watch-limit drop=d", 5000));
	usleep(300000);
	for (int i = 1; i <= 4; i++)
		h_write(h_fmt("%s/%s%d/f.sea", env.drop, i <= 2 ? "w" : "u", i), "x", 0644);
	cr_assert(wait_tree(env.done, ".sea", 4, 15000), "%d of 4", count_tree(env.done, ".sea"));
	cr_assert_eq(h_count_text(env.log, "event=watch-limit"), 1);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* Retention reaches into the subdirectories of done/. */
Test(recursive, retention_reaches_the_subdirectories)
{
	h_config_simple(&env, "[\"/bin/true\"]", "recursive = true; keep_done = \"1s\";", "");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	cr_assert_eq(system(h_fmt("mkdir -p %s/dev/x && echo x > %s/dev/x/r.sea", env.drop, env.drop)), 0);
	cr_assert(h_wait_text(env.log, "event=done drop=d file=dev/x/r.sea", 10000));
	cr_assert(h_wait_text(env.log, "event=retention ", 10000));
	cr_assert_eq(count_tree(env.done, ".sea"), 0);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
	/* Known from the listing at start too. */
	cr_assert_eq(system(h_fmt("mkdir -p %s/old/y && echo x > %s/old/y/o.sea && "
				  "touch -d '2 days ago' %s/old/y/o.sea", env.done, env.done, env.done)), 0);
	h_start(&env, NULL);
	cr_assert(h_wait_text(env.log, "event=retention-indexed", 10000));
	for (int t = 0; t < 100 && count_tree(env.done, ".sea"); t++)
		usleep(50000);
	cr_assert_eq(count_tree(env.done, ".sea"), 0, "an old file below done/ was kept");
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* A subdirectory moved from one recursive drop into another is the second
 * one's from then on (review: its watch kept the first drop's name). */
Test(recursive, a_subdirectory_moved_to_another_drop_follows)
{
	char in2[H_PATH + 8];

	snprintf(in2, sizeof(in2), "%s/in2", env.root);
	cr_assert_eq(mkdir(in2, 0755), 0);
	h_config(&env, "workers = 1;\n"
		 "defaults = { done = \"%s\"; failed = \"%s\"; recursive = true; retries = 0; };\n"
		 "drops = ( { name = \"a\"; path = \"%s\"; command = [ \"/bin/true\" ]; },\n"
		 "          { name = \"b\"; path = \"%s\"; command = [ \"/bin/true\" ];\n"
		 "            spool = \"%s/sp2\"; } );\n",
		 env.done, env.failed, env.drop, in2, env.root);
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	cr_assert_eq(system(h_fmt("mkdir -p %s/x/y && sleep 0.3 && mv %s/x %s/x && sleep 0.3 && "
				  "echo 1 > %s/x/f1.sea && echo 2 > %s/x/y/f2.sea",
				  env.drop, env.drop, in2, in2, in2)), 0);
	cr_assert(wait_tree(env.done, ".sea", 2, 10000), "%d of 2", count_tree(env.done, ".sea"));
	cr_assert(h_wait_text(env.log, "event=done drop=b file=x/y/f2.sea", 2000));
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* Inotify ids of the directories DIR's daemon PID watches: 1 if the inode
 * of PATH is among them. */
static int watched(pid_t pid, const char *path)
{
	struct stat st;
	char *cmd;
	int rc;

	if (stat(path, &st) < 0)
		return 0;
	cmd = (char *)h_fmt("grep -h '^inotify wd:' /proc/%d/fdinfo/* 2>/dev/null | "
			    "grep -qi ' ino:%lx '", (int)pid, (unsigned long)st.st_ino);
	rc = system(cmd);
	return rc == 0;
}

/* A subdirectory swapped for a symlink while the watcher is behind (the
 * daemon stopped): the event for what was made in it is not followed
 * through the symlink -- no directory outside the drop is watched. */
Test(recursive, a_symlink_swapped_in_is_not_watched_through)
{
	h_config_simple(&env, "[\"/bin/true\"]", "recursive = true;", "");
	cr_assert_eq(system(h_fmt("mkdir -p %s/outside/usr/deep", env.out)), 0);
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	cr_assert_eq(mkdir(h_fmt("%s/g1", env.drop), 0755), 0);
	usleep(300000);
	cr_assert(watched(env.pid, h_fmt("%s/g1", env.drop)), "a subdirectory is not watched");
	kill(env.pid, SIGSTOP);
	cr_assert_eq(system(h_fmt("mkdir %s/g1/usr && mv %s/g1 %s/h1 && ln -s %s/outside %s/g1",
				  env.drop, env.drop, env.drop, env.out, env.drop)), 0);
	kill(env.pid, SIGCONT);
	usleep(500000);
	cr_assert(!watched(env.pid, h_fmt("%s/outside/usr", env.out)),
		  "a directory outside the drop is watched");
	cr_assert(!watched(env.pid, h_fmt("%s/outside/usr/deep", env.out)));
	cr_assert(watched(env.pid, h_fmt("%s/h1/usr", env.drop)), "the moved one is not");
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}
