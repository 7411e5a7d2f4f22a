/*
 * test_persist.c - issue 13: persistent commands (protocol = "lines").
 * One command per worker, fed one path per line; its answers are verdicts
 * with messages; every guarantee of exec mode holds: timeouts kill its
 * group, a command that dies, talks nonsense or answers twice is replaced
 * (throttled) and the job counts as a failed attempt, retries and no_retry
 * apply, attempts are counted before the job is written, kill -9 of the
 * daemon leaves no command, a graceful stop closes its stdin, a reload that
 * changes it restarts it between jobs, max_jobs recycles it.
 */
#include <criterion/criterion.h>
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

TestSuite(persist, .init = setup, .fini = teardown, .timeout = 90);

/* A shell helper: by the file's name, answer ok, a code, nonsense, twice,
 * hang (with a child in its group), or exit; its pid goes to out/pids. */
static const char *shell_helper(void)
{
	return h_script(&env, "helper.sh",
		"echo $$ >> \"$1/pids\"\n"
		"trap 'echo bye >&2; exit 0' TERM\n"
		"while IFS= read -r f; do\n"
		"  case \"$f\" in\n"
		"    *ok*) echo \"ok fine $$\" ;;\n"
		"    *code3*) echo \"warn on stderr\" >&2; echo \"3 bad header\" ;;\n"
		"    *code65*) echo 65 ;;\n"
		"    *nonsense*) echo \"Traceback (most recent call last):\" ;;\n"
		"    *twice*) echo 0; echo 0 ;;\n"
		"    *hang*) sleep 300 & echo $! > \"$1/child\"; wait ;;\n"
		"    *exit*) exit 7 ;;\n"
		"    *segv*) kill -SEGV $$ ;;\n"
		"    *chatty*) i=0; while [ $i -lt 300 ]; do echo \"stderr line $i of a chatty command\" >&2; i=$((i + 1)); done; echo 0 ;;\n"
		"    *flaky*) if [ -e \"$1/flaky\" ]; then echo 0; else touch \"$1/flaky\"; echo 1; fi ;;\n"
		"    *slow*) sleep 1; echo 0 ;;\n"
		"    *) echo 0 ;;\n"
		"  esac\n"
		"done\n"
		"echo \"stdin closed\" >&2\n");
}

static void config_lines(const char *extra, const char *global)
{
	h_config_simple(&env, h_fmt("[\"%s\", \"%s\"]", shell_helper(), env.out),
			h_fmt("protocol = \"lines\"; %s", extra), global);
}

static int lines_of(const char *path)
{
	char *s = h_slurp(path);
	int n = 0;

	for (char *p = s; p && *p; p++)
		n += *p == '\n';
	free(s);
	return n;
}

/* Verdicts: ok and 0 are done, a code fails with the command's message and
 * its stderr in the log and the sidecar; no_retry applies to codes; one
 * command serves them all. */
Test(persist, verdicts_messages_and_one_command_for_all)
{
	char *side;

	config_lines("no_retry = [ 65 ]; retries = 2; backoff = \"100ms\";", "workers = 1;");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	h_drop(&env, "a-ok.sea", "x");
	h_drop(&env, "b.sea", "x");
	h_drop(&env, "c-code65.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 2, 10000));
	cr_assert(h_wait_count(env.failed, ".error", 1, 10000));
	side = h_slurp(h_fmt("%s/c-code65.sea.error", env.failed));
	cr_assert(side && strstr(side, "attempts=1") && strstr(side, "status=exit:65"), "%s", side);
	free(side);
	cr_assert(h_wait_text(env.log, "event=output drop=d file=a-ok.sea attempt=1 text=\"fine ", 1000));
	h_drop(&env, "d-code3.sea", "x");
	cr_assert(h_wait_count(env.failed, ".error", 2, 10000));
	side = h_slurp(h_fmt("%s/d-code3.sea.error", env.failed));
	cr_assert(side && strstr(side, "attempts=3") && strstr(side, "bad header") &&
		  strstr(side, "warn on stderr"), "%s", side);
	free(side);
	cr_assert_eq(lines_of(h_fmt("%s/pids", env.out)), 1, "more than one command started");
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
	cr_assert(h_wait_text(env.log, "stdin closed", 3000), "its stdin was not closed at the stop");
}

/* A command that prints nonsense, exits, or answers twice: the job counts
 * as a failed attempt (twice: the job is done, the extra answer is out of
 * step), and the next job goes to a fresh command. */
Test(persist, nonsense_exit_and_a_second_answer_replace_the_command)
{
	config_lines("", "workers = 1;");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	h_drop(&env, "1-nonsense.sea", "x");
	cr_assert(h_wait_count(env.failed, ".error", 1, 10000));
	h_drop(&env, "2.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000));
	h_drop(&env, "3-exit.sea", "x");
	cr_assert(h_wait_count(env.failed, ".error", 2, 10000));
	h_drop(&env, "4-twice.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 2, 10000));
	h_drop(&env, "5.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 3, 10000));
	cr_assert(h_wait_text(env.log, "status=protocol-error", 1000));
	cr_assert(h_wait_text(env.log, "status=command-exited:7", 1000), "%s", h_slurp(env.log));
	cr_assert(h_wait_text(env.log, "event=protocol-error drop=d file=5.sea attempt=1 "
			      "reason=unsolicited-output", 1000));
	/* The first, after the nonsense, after the exit, after the twice. */
	cr_assert_eq(lines_of(h_fmt("%s/pids", env.out)), 4);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* A command killed by a signal holding a file: a failed attempt that says
 * how; a chatty one's stderr is logged within exec mode's bound (4 KiB an
 * attempt, then one line saying what was not). */
Test(persist, a_crash_fails_the_attempt_and_stderr_is_bounded)
{
	config_lines("", "workers = 1;");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	h_drop(&env, "segv.sea", "x");
	cr_assert(h_wait_count(env.failed, ".error", 1, 10000));
	cr_assert(h_wait_text(env.log, "status=command-died:SIGSEGV", 1000));
	h_drop(&env, "chatty.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000));
	cr_assert(h_wait_text(env.log, "event=output-truncated drop=d file=chatty.sea attempt=1 "
			      "dropped_bytes=", 2000));
	cr_assert_lt(h_count_text(env.log, "of a chatty command"), 200,
		     "more than 4 KiB of its stderr logged");
	cr_assert_gt(h_count_text(env.log, "of a chatty command"), 50);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* A hung command: at the timeout its whole group is killed (its child
 * too), the attempt fails, and the next job gets a fresh command. */
Test(persist, a_timeout_kills_the_whole_group)
{
	char *child;

	config_lines("timeout = \"1s\"; kill_grace = \"300ms\";", "workers = 1;");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	h_drop(&env, "hang.sea", "x");
	cr_assert(h_wait_count(env.failed, ".error", 1, 10000));
	cr_assert(h_wait_text(env.log, "status=timeout", 1000));
	child = h_slurp(h_fmt("%s/child", env.out));
	cr_assert_not_null(child);
	cr_assert(h_wait_gone((pid_t)atoi(child), 1000), "the command's child survived its timeout");
	free(child);
	h_drop(&env, "after.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000));
	cr_assert_eq(lines_of(h_fmt("%s/pids", env.out)), 2);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* Retries and backoff as in exec mode: a "1" then a "0" for the same file. */
Test(persist, a_failed_answer_is_retried)
{
	config_lines("retries = 1; backoff = \"200ms\";", "workers = 1;");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	h_drop(&env, "flaky.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000));
	cr_assert(h_wait_text(env.log, "event=retry drop=d file=flaky.sea attempt=1 status=exit:1", 1000));
	cr_assert(h_wait_text(env.log, "event=done drop=d file=flaky.sea attempt=2", 1000));
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* A command that cannot even start: restarted, but throttled (not a spin),
 * and each file fails its attempts. */
Test(persist, a_command_that_dies_at_once_is_throttled)
{
	const char *bad = h_script(&env, "dies.sh", "exit 1\n");

	h_config_simple(&env, h_fmt("[\"%s\"]", bad), "protocol = \"lines\"; retries = 0;",
			"workers = 1;");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	for (int i = 0; i < 8; i++)
		h_drop(&env, h_fmt("f%d.sea", i), "x");
	usleep(1500000);
	/* 0, 100, 300, 700, 1500 ms: at most 5 starts in 1.5 s. */
	cr_assert_leq(h_count_text(env.log, "event=command-started"), 5, "%d starts",
		      h_count_text(env.log, "event=command-started"));
	cr_assert(h_wait_count(env.failed, ".error", 8, 30000));
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* max_jobs: a command serves that many jobs, then a fresh one. */
Test(persist, max_jobs_recycles_the_command)
{
	config_lines("max_jobs = 2;", "workers = 1;");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	for (int i = 0; i < 5; i++) {
		h_drop(&env, h_fmt("f%d.sea", i), "x");
		cr_assert(h_wait_count(env.done, ".sea", i + 1, 10000));
	}
	cr_assert_eq(lines_of(h_fmt("%s/pids", env.out)), 3);
	cr_assert_eq(h_count_text(env.log, "reason=max-jobs"), 2);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* A reload that changes the command restarts it, between two jobs. */
Test(persist, a_reload_that_changes_the_command_restarts_it)
{
	config_lines("", "workers = 1;");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	h_drop(&env, "a.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000));
	h_config_simple(&env, h_fmt("[\"%s\", \"%s\", \"v2\"]", shell_helper(), env.out),
			"protocol = \"lines\";", "workers = 1;");
	kill(env.pid, SIGHUP);
	cr_assert(h_wait_text(env.log, "event=reloaded", 5000));
	h_drop(&env, "b.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 2, 10000));
	cr_assert(h_wait_text(env.log, "event=command-restart drop=d file=b.sea attempt=1 "
			      "reason=command-changed", 1000));
	cr_assert(h_wait_text(env.log, "stdin closed", 1000), "the old one was not let go");
	cr_assert_eq(lines_of(h_fmt("%s/pids", env.out)), 2);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* kill -9 of the daemon mid-job: no command is left running (its stdin
 * closes, then it is killed), the attempt was counted before the path was
 * written, and the next start runs the file again. */
Test(persist, kill_9_leaves_no_command_and_counts_the_attempt)
{
	char *pids;

	config_lines("retries = 1; timeout = \"5s\"; kill_grace = \"300ms\";", "workers = 1;");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	h_drop(&env, "hang.sea", "x");
	for (int t = 0; t < 100 && !h_exists(h_fmt("%s/child", env.out)); t++)
		usleep(50000);
	cr_assert(h_exists(h_fmt("%s/child", env.out)));
	h_stop(&env, SIGKILL, 5000);
	cr_assert(h_wait_none_left(&env, 10000));
	pids = h_slurp(h_fmt("%s/pids", env.out));
	cr_assert_not_null(pids);
	cr_assert(h_wait_gone((pid_t)atoi(pids), 2000), "the command outlived its daemon");
	free(pids);
	h_start(&env, NULL);
	cr_assert(h_wait_text(env.log, "event=recovered drop=d file=hang.sea attempts=1", 10000));
	cr_assert_eq(h_stop(&env, SIGKILL, 5000), 128 + SIGKILL);
}

/* A graceful stop lets the running job finish, then closes the command's
 * stdin: it ends by itself. */
Test(persist, a_graceful_stop_lets_the_job_finish)
{
	config_lines("", "workers = 1; shutdown_grace = \"5s\";");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	h_drop(&env, "slow.sea", "x");
	cr_assert(h_wait_text(env.log, "event=command-started", 5000));
	usleep(300000);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
	cr_assert_eq(h_count(env.done, ".sea"), 1, "the running job did not finish");
	cr_assert(h_wait_text(env.log, "stdin closed", 1000));
	cr_assert_eq(h_count_text(env.log, "bye"), 0, "it was killed, not let go");
}

/* Two drops in lines mode and one worker: each drop keeps its own command
 * (review: one command per worker restarted at every switch). */
Test(persist, each_drop_keeps_its_own_command)
{
	char in2[H_PATH + 8];

	snprintf(in2, sizeof(in2), "%s/in2", env.root);
	cr_assert_eq(mkdir(in2, 0755), 0);
	h_config(&env, "workers = 1;\n"
		 "defaults = { done = \"%s\"; failed = \"%s\"; protocol = \"lines\"; retries = 0; };\n"
		 "drops = ( { name = \"a\"; path = \"%s\"; command = [ \"%s\", \"%s\" ]; },\n"
		 "          { name = \"b\"; path = \"%s\"; command = [ \"%s\", \"%s\" ];\n"
		 "            spool = \"%s/sp2\"; } );\n",
		 env.done, env.failed, env.drop, shell_helper(), env.out, in2, shell_helper(),
		 env.out, env.root);
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	for (int i = 0; i < 6; i++) {
		if (i % 2)
			h_write(h_fmt("%s/b%d.sea", in2, i), "x", 0644);
		else
			h_drop(&env, h_fmt("a%d.sea", i), "x");
		cr_assert(h_wait_count(env.done, ".sea", i + 1, 10000));
	}
	cr_assert_eq(lines_of(h_fmt("%s/pids", env.out)), 2, "commands started: %d",
		     lines_of(h_fmt("%s/pids", env.out)));
	cr_assert_eq(h_count_text(env.log, "event=command-restart"), 0);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* A command that recycles itself (exits 0 after 3 answers): no file pays
 * for it, and it is started again at once (review: throttled, and the next
 * file failed as command-exited:0). */
Test(persist, a_command_that_ends_after_its_work_costs_nothing)
{
	const char *three = h_script(&env, "three.sh",
		"n=0; while IFS= read -r f; do echo 0; n=$((n + 1)); [ $n -lt 3 ] || exit 0; done\n");

	h_config_simple(&env, h_fmt("[\"%s\"]", three), "protocol = \"lines\"; retries = 0;",
			"workers = 1;");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	for (int i = 0; i < 20; i++)
		h_drop(&env, h_fmt("f%02d.sea", i), "x");
	cr_assert(h_wait_count(env.done, ".sea", 20, 10000), "%d done, %d failed",
		  h_count(env.done, ".sea"), h_count(env.failed, ".error"));
	cr_assert_eq(h_count(env.failed, ".error"), 0);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* At a stop, a command that does not end when its stdin closes is killed
 * with its group before the daemon is gone (review: the master's 3 s came
 * first, and its children were left). */
Test(persist, a_stop_leaves_nothing_of_a_stubborn_command)
{
	const char *stub = h_script(&env, "stub.sh",
		"trap '' TERM\n"
		"sleep 300 & echo $! > \"$1/child\"\n"
		"while IFS= read -r f; do echo 0; done\n"
		"sleep 10\n");
	char *child;

	h_config_simple(&env, h_fmt("[\"%s\", \"%s\"]", stub, env.out),
			"protocol = \"lines\"; kill_grace = \"5s\";", "workers = 1;");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	h_drop(&env, "a.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000));
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
	child = h_slurp(h_fmt("%s/child", env.out));
	cr_assert_not_null(child);
	cr_assert(h_wait_gone((pid_t)atoi(child), 1000), "the command's child outlived the daemon");
	free(child);
}

/* A reload that removes a lines-mode drop lets its command go (its stdin
 * closed), not left until the worker ends. */
Test(persist, a_removed_drop_lets_its_command_go)
{
	char in2[H_PATH + 8];

	snprintf(in2, sizeof(in2), "%s/in2", env.root);
	cr_assert_eq(mkdir(in2, 0755), 0);
	h_config(&env, "workers = 1;\n"
		 "defaults = { done = \"%s\"; failed = \"%s\"; retries = 0; };\n"
		 "drops = ( { name = \"a\"; path = \"%s\"; command = [ \"%s\", \"%s\" ];\n"
		 "            protocol = \"lines\"; },\n"
		 "          { name = \"b\"; path = \"%s\"; command = [ \"/bin/true\" ];\n"
		 "            spool = \"%s/sp2\"; } );\n",
		 env.done, env.failed, env.drop, shell_helper(), env.out, in2, env.root);
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	h_drop(&env, "a.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000));
	h_config(&env, "workers = 1;\n"
		 "defaults = { done = \"%s\"; failed = \"%s\"; retries = 0; };\n"
		 "drops = ( { name = \"b\"; path = \"%s\"; command = [ \"/bin/true\" ];\n"
		 "            spool = \"%s/sp2\"; } );\n",
		 env.done, env.failed, in2, env.root);
	kill(env.pid, SIGHUP);
	cr_assert(h_wait_text(env.log, "event=reloaded", 5000));
	cr_assert(h_wait_text(env.log, "reason=drop-gone", 5000), "the command was kept");
	cr_assert(h_wait_text(env.log, "stdin closed", 3000));
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* Names with a backslash, a newline, spaces: through a shell `read -r` loop
 * (which decodes with printf %b) and a Python loop, each opens the file it
 * is given; all are done. */
static void names_end_to_end(const char *cmd_list)
{
	static const char *const names[] = { "plain.sea", "sp ace.sea", "back\\slash.sea",
					     "new\nline.sea", "both\\n\n.sea" };

	h_config_simple(&env, cmd_list, "protocol = \"lines\";", "workers = 2;");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		h_drop(&env, names[i], "x");
	cr_assert(h_wait_count(env.done, ".sea", 5, 10000), "%d done; failed: %d",
		  h_count(env.done, ".sea"), h_count(env.failed, ".error"));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		cr_assert(h_exists(h_fmt("%s/%s", env.done, names[i])), "%s", names[i]);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

Test(persist, odd_names_through_a_shell_loop)
{
	const char *sh = h_script(&env, "shloop.sh",
		"while IFS= read -r f; do\n"
		"  f=$(printf '%bx' \"$f\"); f=${f%x}\n"
		"  if [ -f \"$f\" ]; then echo 0; else echo \"1 no such file\"; fi\n"
		"done\n");

	names_end_to_end(h_fmt("[\"%s\"]", sh));
}

Test(persist, odd_names_through_a_python_loop)
{
	const char *py = h_script(&env, "pyloop.sh",
		"exec python3 -c '\n"
		"import os, re, sys\n"
		"unesc = lambda s: re.sub(r\"\\\\(.)\", lambda m: \"\\n\" if m.group(1) == \"n\" else m.group(1), s)\n"
		"for line in sys.stdin:\n"
		"    p = unesc(line[:-1])\n"
		"    print(\"0\" if os.path.isfile(p) else \"1 no such file \" + repr(p), flush=True)\n"
		"'\n");

	names_end_to_end(h_fmt("[\"%s\"]", py));
}

/* A pause with one file at the command and two sent ahead to its worker:
 * the two are asked back before the command gets them, as in exec mode;
 * only the one it had is done until the resume. */
Test(persist, a_pause_asks_back_what_the_command_has_not_got)
{
	const char *gate = h_script(&env, "gate.sh",
		"while IFS= read -r f; do\n"
		"  while [ ! -e \"$1/go\" ]; do sleep 0.02; done; echo 0\n"
		"done\n");
	char *out = NULL;

	h_config_simple(&env, h_fmt("[\"%s\", \"%s\"]", gate, env.out), "protocol = \"lines\";",
			h_fmt("workers = 1; control_socket = \"%s\";", h_sock(&env)));
	h_start(&env, "-v", NULL);
	cr_assert(h_wait_ready(&env, 10000));
	h_drop(&env, "a.sea", "x");
	h_drop(&env, "b.sea", "x");
	h_drop(&env, "c.sea", "x");
	for (int i = 0; i < 250 && h_count_text(env.log, "event=start drop=d") < 3; i++)
		usleep(20000);
	cr_assert_eq(h_count_text(env.log, "event=start drop=d"), 3, "not one running, two ahead");
	cr_assert_eq(h_ctl(&env, &out, "pause", "d", NULL), 0);
	free(out);
	h_write(h_fmt("%s/go", env.out), "", 0644);
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000));
	usleep(1500000);
	cr_assert_eq(h_count(env.done, ".sea"), 1, "a file ran while its drop was paused");
	cr_assert_eq(h_ctl(&env, &out, "resume", "d", NULL), 0);
	free(out);
	cr_assert(h_wait_count(env.done, ".sea", 3, 10000));
	cr_assert_eq(h_count_text(env.log, "event=command-started"), 1);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}
