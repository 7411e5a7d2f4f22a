/*
 * test_gateway.c - issue 12: what gateways need.  Item 2: settle -- a file
 * is taken only once closed (or renamed in) and left unchanged for that
 * long; a writer that reopens it restarts the clock; a full table of
 * waiting files falls back to a rescan, losing nothing.  Item 5: an idle
 * daemon sleeps.
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

TestSuite(gateway, .init = setup, .fini = teardown, .timeout = 90);

/* The command appends the file's content, then a newline, to out/got. */
static const char *catter(void)
{
	return h_fmt("[\"%s\", \"{file}\", \"%s\"]",
		     h_script(&env, "cat.sh", "cat \"$1\" >> \"$2/got\"; echo >> \"$2/got\"\n"),
		     env.out);
}

/* Item 2: an FTP-style writer closes the file, reopens it twice to append:
 * with settle the file is taken once, whole. */
Test(gateway, settle_waits_for_a_writer_that_reopens)
{
	const char *w = h_script(&env, "writer.sh",
		"printf part1 > \"$1/x.sea\"; sleep 0.4\n"
		"printf part2 >> \"$1/x.sea\"; sleep 0.4\n"
		"printf part3 >> \"$1/x.sea\"\n");
	char *got;

	h_config_simple(&env, catter(), "settle = \"1s\";", "");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	cr_assert_eq(system(h_fmt("%s %s", w, env.drop)), 0);
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000));
	usleep(1500000);   /* a second file, had the first close been taken */
	cr_assert_eq(h_count(env.done, NULL), 1, "the file was taken more than once");
	got = h_slurp(h_fmt("%s/got", env.out));
	cr_assert(got && !strcmp(got, "part1part2part3\n"), "the command got: %s", got);
	free(got);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* Item 2: a file renamed in is not taken before it settled; then it is. */
Test(gateway, a_file_is_not_taken_before_it_settled)
{
	char *out = NULL;

	h_config_simple(&env, catter(), "settle = \"2s\";",
			h_fmt("control_socket = \"%s\";", h_sock(&env)));
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	h_drop(&env, "a.sea", "x");
	usleep(1000000);
	cr_assert(h_exists(h_fmt("%s/a.sea", env.drop)), "taken before it settled");
	cr_assert_eq(h_ctl(&env, &out, "status", NULL), 0);
	cr_assert(out && strstr(out, "settling 1"), "%s", out);
	free(out);
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000));
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* Item 2: files there before the start settle too, and are taken. */
Test(gateway, files_there_at_start_are_taken_once_settled)
{
	for (int i = 0; i < 5; i++)
		h_drop(&env, h_fmt("s%d.sea", i), "x");
	h_config_simple(&env, catter(), "settle = \"500ms\";", "");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	cr_assert(h_wait_count(env.done, ".sea", 5, 10000));
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* Item 2 (review): --once waits for what settles before it ends. */
Test(gateway, once_waits_for_files_to_settle)
{
	char *out = NULL;
	int rc;

	h_drop(&env, "a.sea", "x");
	h_config_simple(&env, catter(), "settle = \"1s\";", "");
	rc = h_run(&env, &out, "--once", "-c", env.conf, NULL);
	cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
	free(out);
	cr_assert_eq(h_count(env.done, ".sea"), 1, "--once ended before the file settled");
}

/* Item 2: more files than may wait at once ($SEAWATCH_SETTLE_MAX=5 here):
 * the rest wait in the drop and a rescan takes them; each file once. */
Test(gateway, more_files_than_may_wait_fall_back_to_a_rescan)
{
	h_config_simple(&env, catter(), "settle = \"300ms\";", "");
	setenv("SEAWATCH_SETTLE_MAX", "5", 1);
	h_start(&env, NULL);
	unsetenv("SEAWATCH_SETTLE_MAX");
	cr_assert(h_wait_ready(&env, 10000));
	for (int i = 0; i < 40; i++)
		h_drop(&env, h_fmt("f%02d.sea", i), "x");
	cr_assert(h_wait_count(env.done, ".sea", 40, 30000), "%d of 40 done",
		  h_count(env.done, ".sea"));
	usleep(500000);
	cr_assert_eq(h_count(env.done, NULL), 40, "a file was taken twice");
	cr_assert_eq(h_count(env.drop, NULL), 0);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* Context switches of every thread of PID and of its children. */
static long wakeups(pid_t pid)
{
	char path[128], *kids, *p;
	long total = 0;
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
	if (!(d = opendir(path)))
		return 0;
	while ((e = readdir(d))) {
		char *st, *v;

		if (e->d_name[0] == '.')
			continue;
		st = h_slurp(h_fmt("/proc/%ld/task/%s/status", (long)pid, e->d_name));
		for (v = st; v && (v = strstr(v, "ctxt_switches:")); v += 14)
			total += atol(v + 14);
		free(st);
	}
	closedir(d);
	kids = h_slurp(h_fmt("/proc/%ld/task/%ld/children", (long)pid, (long)pid));
	for (p = kids; p && *p;) {
		long k = strtol(p, &p, 10);

		if (k > 0)
			total += wakeups((pid_t)k);
		while (*p == ' ' || *p == '\n')
			p++;
	}
	free(kids);
	return total;
}

/* Item 5: an idle daemon (master, its watcher thread, two workers) does not
 * wake the CPU: no look once a second.  A count, not a time: over 10 s the
 * only timer due is the 30 s look for dead daemons' runs (at most once). */
Test(gateway, an_idle_daemon_sleeps)
{
	long a, b;

	if (getenv("SEAWATCH_WRAP") && *getenv("SEAWATCH_WRAP"))
		cr_skip("under a wrapper (valgrind), whose own threads wake");
	h_config_simple(&env, catter(), "", "workers = 2;");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	h_drop(&env, "a.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000));
	usleep(1000000);
	a = wakeups(env.pid);
	usleep(10000000);
	b = wakeups(env.pid);
	cr_assert_leq(b - a, 2, "%ld wake-ups in 10 s of idleness", b - a);
	/* Asleep, it still hears: a file is taken at once. */
	h_drop(&env, "b.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 2, 10000));
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* Item 4: done/ on a small file system that fills up: the drop stops
 * claiming (one disk-low line, whatever arrives; status says disk-low; no
 * move fails), files wait in the drop, and once space is freed (10% above
 * the limit) they are all taken (one disk-ok line). */
Test(gateway, the_disk_guard_stops_claims_and_resumes)
{
	char filler[H_PATH + 16], *out = NULL;

	h_tmpfs(&env, env.done, "size=2m,mode=0755");
	snprintf(filler, sizeof(filler), "%s/.filler", env.done);
	h_config_simple(&env, catter(), "",
			h_fmt("min_free = \"1M\";\ncontrol_socket = \"%s\";", h_sock(&env)));
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	h_drop(&env, "a.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000));
	/* 1.5 of 2 MB used: less than 1 MB free. */
	cr_assert_eq(system(h_fmt("head -c 1572864 /dev/zero > %s", filler)), 0);
	usleep(1100000);   /* the guard looks at most once a second */
	for (int i = 0; i < 5; i++) {
		h_drop(&env, h_fmt("f%d.sea", i), "x");
		usleep(300000);
	}
	cr_assert(h_wait_text(env.log, "event=disk-low drop=d dir=done", 5000));
	cr_assert_eq(h_ctl(&env, &out, "status", NULL), 0);
	cr_assert(out && strstr(out, "drop d: disk-low"), "%s", out);
	free(out);
	cr_assert_eq(h_count(env.drop, ".sea"), 5, "files were claimed on a full disk");
	cr_assert_eq(h_count(env.done, ".sea"), 1);
	/* Space again: within the guard's next look, all five. */
	cr_assert_eq(unlink(filler), 0);
	cr_assert(h_wait_count(env.done, ".sea", 6, 15000), "not resumed once space was freed");
	cr_assert_eq(h_count_text(env.log, "event=disk-low"), 1);
	cr_assert_eq(h_count_text(env.log, "event=disk-ok"), 1);
	cr_assert_eq(h_count_text(env.log, "event=move-failed"), 0);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* Item 3: keep_done / keep_failed: files older than that go, sidecars
 * with their files. */
Test(gateway, retention_by_age_empties_done_and_failed)
{
	const char *s = h_script(&env, "cmd.sh", "case \"$1\" in *bad*) exit 65;; esac\nexit 0\n");

	h_config_simple(&env, h_fmt("[\"%s\", \"{file}\"]", s),
			"no_retry = [ 65 ]; keep_done = \"1s\"; keep_failed = \"1s\";", "");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	h_drop(&env, "a.sea", "x");
	h_drop(&env, "bad.sea", "x");
	cr_assert(h_wait_text(env.log, "event=done drop=d file=a.sea", 10000));
	cr_assert(h_wait_text(env.log, "event=failed drop=d file=bad.sea", 10000));
	for (int i = 0; i < 100 && h_count(env.done, NULL) + h_count(env.failed, NULL); i++)
		usleep(100000);
	cr_assert_eq(h_count(env.done, NULL), 0, "done/ kept an old file");
	cr_assert_eq(h_count(env.failed, NULL), 0, "failed/ kept an old file or sidecar");
	cr_assert(h_wait_text(env.log, "event=retention dir=", 1000));
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* Item 3: keep_done_size: the oldest go first, the total stays under it. */
Test(gateway, retention_by_size_keeps_the_newest)
{
	char kb[1001];

	memset(kb, 'k', 1000);
	kb[1000] = '\0';
	h_config_simple(&env, catter(), "keep_done_size = 2500;", "");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	for (int i = 1; i <= 5; i++) {
		h_drop(&env, h_fmt("f%d.sea", i), kb);
		cr_assert(h_wait_text(env.log, h_fmt("event=done drop=d file=f%d.sea", i), 10000));
	}
	for (int i = 0; i < 100 && h_count(env.done, NULL) > 2; i++)
		usleep(50000);
	cr_assert_eq(h_count(env.done, NULL), 2);
	cr_assert(h_exists(h_fmt("%s/f4.sea", env.done)) && h_exists(h_fmt("%s/f5.sea", env.done)),
		  "not the newest were kept");
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* Item 3: a done/ of 20,000 files is listed and trimmed in slices: a file
 * dropped meanwhile is done before the trimming ends; what is left is under
 * the limit. */
Test(gateway, a_big_done_is_trimmed_without_stalling_claims)
{
	char *log, *done_at, *trimmed_at;

	for (int i = 0; i < 20000; i++)
		h_write(h_fmt("%s/old%05d.sea", env.done, i), "x", 0644);
	h_drop(&env, "new.sea", "n");
	h_config_simple(&env, catter(), "keep_done_size = 1000;", "");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	cr_assert(h_wait_text(env.log, "event=retention dir=", 30000));
	cr_assert(h_wait_text(env.log, "event=done drop=d file=new.sea", 10000));
	log = h_slurp(env.log);
	/* 20,000, and new.sea if the listing met it. */
	cr_assert(strstr(log, "event=retention-indexed") && strstr(log, "files=2000"), "%s", log);
	done_at = strstr(log, "event=done drop=d file=new.sea");
	trimmed_at = strstr(log, "event=retention dir=");
	cr_assert(done_at && trimmed_at && done_at < trimmed_at,
		  "the claim waited for the whole trimming");
	free(log);
	cr_assert_leq(h_count(env.done, NULL), 1000);
	cr_assert(h_exists(h_fmt("%s/new.sea", env.done)), "the newest file went");
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* Item 3: two drops sharing done/ with different retention is a config
 * error (whose would apply?). */
Test(gateway, one_directory_one_retention)
{
	char *out = NULL;
	int rc;

	cr_assert_eq(mkdir(h_fmt("%s/in2", env.root), 0755), 0);
	h_config(&env,
		 "drops = (\n"
		 "  { name = \"a\"; path = \"%s\"; done = \"%s\"; failed = \"%s\";\n"
		 "    command = [ \"/bin/true\" ]; keep_done = \"7d\"; },\n"
		 "  { name = \"b\"; path = \"%s/in2\"; done = \"%s\"; failed = \"%s\";\n"
		 "    command = [ \"/bin/true\" ]; keep_done = \"1d\"; }\n"
		 ");\n", env.drop, env.done, env.failed, env.root, env.done, env.failed);
	rc = h_run(&env, &out, "--check-config", "-c", env.conf, NULL);
	cr_assert_eq(rc, 2, "exit %d:\n%s", rc, out);
	cr_assert(strstr(out, "another retention"), "%s", out);
	free(out);
}

/* Item 1 (its non-recursive part): a drop that is not recursive says once
 * for each subdirectory that its files are not taken -- one there at
 * start, one made later -- however often it is scanned again. */
Test(gateway, a_flat_drop_names_each_ignored_subdirectory_once)
{
	cr_assert_eq(mkdir(h_fmt("%s/dev1", env.drop), 0755), 0);
	h_write(h_fmt("%s/dev1/a.sea", env.drop), "x", 0644);
	h_config_simple(&env, catter(), "", "");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	cr_assert(h_wait_text(env.log, "event=subdir-ignored drop=d dir=dev1", 5000));
	cr_assert_eq(mkdir(h_fmt("%s/dev2", env.drop), 0755), 0);
	cr_assert(h_wait_text(env.log, "event=subdir-ignored drop=d dir=dev2", 5000));
	/* Rescans (a reload) say nothing again; a file beside them is
	 * taken, those in them are not. */
	kill(env.pid, SIGHUP);
	cr_assert(h_wait_text(env.log, "event=reloaded", 5000));
	h_drop(&env, "top.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000));
	cr_assert_eq(h_count_text(env.log, "event=subdir-ignored drop=d dir=dev1"), 1);
	cr_assert_eq(h_count_text(env.log, "event=subdir-ignored drop=d dir=dev2"), 1);
	cr_assert(h_exists(h_fmt("%s/dev1/a.sea", env.drop)));
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* Item 3: keep_done = 0 deletes a file as soon as it is done, and then done
 * may be left out; without keep_done = 0 it may not. */
Test(gateway, keep_done_0_needs_no_done)
{
	const char *s = h_script(&env, "cmd.sh", "case \"$1\" in *bad*) exit 65;; esac\nexit 0\n");
	char *out = NULL;
	int rc;

	h_config(&env,
		 "drops = ( { name = \"d\"; path = \"%s\"; failed = \"%s\";\n"
		 "  command = [ \"%s\", \"{file}\" ]; no_retry = [ 65 ]; } );\n",
		 env.drop, env.failed, s);
	rc = h_run(&env, &out, "--check-config", "-c", env.conf, NULL);
	cr_assert_eq(rc, 2, "done left out without keep_done = 0: exit %d\n%s", rc, out);
	free(out);
	h_config(&env,
		 "drops = ( { name = \"d\"; path = \"%s\"; failed = \"%s\"; keep_done = 0;\n"
		 "  command = [ \"%s\", \"{file}\" ]; no_retry = [ 65 ]; } );\n",
		 env.drop, env.failed, s);
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000), "%s", h_slurp(env.log));
	h_drop(&env, "a.sea", "x");
	h_drop(&env, "bad.sea", "x");
	cr_assert(h_wait_text(env.log, "event=done drop=d file=a.sea attempt=1 status=exit:0 to=-",
			      10000), "%s", h_slurp(env.log));
	cr_assert(h_wait_count(env.failed, ".sea", 1, 10000));
	cr_assert_eq(h_count(env.drop, NULL), 0);
	cr_assert_eq(h_count(env.done, NULL), 0);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* Item 4: the look before a big copy.  done/ on another file system (a
 * 2 MB tmpfs), min_free 1M: a 1.5 MB file would leave less, so it is set
 * aside instead of copied; once done/ has room it goes there. */
Test(gateway, a_copy_that_would_fill_done_waits)
{
	char *big = malloc(1536 * 1024 + 1);

	cr_assert_not_null(big);
	memset(big, 'b', 1536 * 1024);
	big[1536 * 1024] = '\0';
	h_tmpfs(&env, env.done, "size=2m,mode=0755");
	h_config_simple(&env, catter(), "", "min_free = \"1M\";");
	setenv("SEAWATCH_RECOVER_MS", "500", 1);
	h_start(&env, NULL);
	unsetenv("SEAWATCH_RECOVER_MS");
	cr_assert(h_wait_ready(&env, 10000));
	h_drop(&env, "big.sea", big);
	free(big);
	cr_assert(h_wait_text(env.log, "event=move-failed drop=d file=big.sea", 10000),
		  "%s", h_slurp(env.log));
	cr_assert_eq(h_count(env.done, NULL), 0, "the copy was made anyway");
	/* Room: the set-aside file goes on. */
	cr_assert_eq(system(h_fmt("mount -o remount,size=8m %s", env.done)), 0);
	cr_assert(h_wait_count(env.done, ".sea", 1, 15000), "%s", h_slurp(env.log));
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}
