/*
 * test_gateway.c - issue 12: what gateways need.  Item 2: settle -- a file
 * is taken only once closed (or renamed in) and left unchanged for that
 * long; a writer that reopens it restarts the clock; a full table of
 * waiting files falls back to a rescan, losing nothing.
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
