/* Integration tests: details of the command contract (SPEC §4) not covered
 * elsewhere. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
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
