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
