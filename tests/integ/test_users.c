/*
 * test_users.c - issue 10, item 10: a first run as root and a later one as
 * the service's user (or the reverse).  The spool the first run made is
 * the other user's: --check-config and the start say exactly what to
 * chown, and once that is done the daemon runs and processes files.
 */
#include <criterion/criterion.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static struct h_env env;
static uid_t uid;
static gid_t gid;

static void setup(void)
{
	h_setup(&env);
	if (geteuid() != 0)
		cr_skip("needs root (a run as root, then as another user)");
	h_uploader(&uid, &gid);
	/* The other user's daemon must reach its drop, done/, failed/. */
	cr_assert_eq(chmod(env.root, 0755), 0);
	cr_assert_eq(chown(env.drop, uid, gid), 0);
	cr_assert_eq(chown(env.done, uid, gid), 0);
	cr_assert_eq(chown(env.failed, uid, gid), 0);
	cr_assert_eq(chmod(env.out, 0777), 0);
}

static void teardown(void)
{
	h_teardown(&env);
}

TestSuite(users, .init = setup, .fini = teardown, .timeout = 120);

/* The "chown -R ..." the message asks for (copied out of OUT), run. */
static void do_what_it_says(const char *out)
{
	const char *p = strstr(out, "chown -R ");
	char cmd[1024];
	size_t n;

	cr_assert_not_null(p, "no chown in:\n%s", out);
	n = strcspn(p, "\n");
	cr_assert_lt(n, sizeof(cmd));
	memcpy(cmd, p, n);
	cmd[n] = '\0';
	cr_assert_eq(system(cmd), 0, "%s failed", cmd);
}

Test(users, root_first_then_the_service_user_then_root_again)
{
	const char *bin = getenv("SEAWATCHD");
	const char *spool = h_fmt("%s/.seawatch", env.root);
	struct passwd *pw = getpwuid(uid);
	struct group *gr = getgrgid(gid);
	char want[512], *out = NULL;
	pid_t pid;
	int rc;

	cr_assert(bin && pw && gr);
	/* Root runs the commands as that user (its drop is that user's). */
	h_config_simple(&env, "[\"/bin/true\", \"{file}\"]", "",
			h_fmt("user = \"%s\"; group = \"%s\";", pw->pw_name, gr->gr_name));
	/* 1. As root: the spool is made, root's. */
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);

	/* 2. As the other user: refused, with what to chown. */
	rc = h_as(&env, uid, gid, h_fmt("%s --check-config -c %s > %s/check.txt 2>&1", bin,
					 env.conf, env.out));
	cr_assert_eq(rc, 2, "--check-config as the other user: %d", rc);
	out = h_slurp(h_fmt("%s/check.txt", env.out));
	snprintf(want, sizeof(want), "give it over: chown -R %s:%s %s", pw->pw_name, gr->gr_name,
		 spool);
	cr_assert(out && strstr(out, want), "want '%s' in:\n%s|", want, out ? out : "(none)");
	rc = h_as(&env, uid, gid, h_fmt("%s -c %s > %s/start.txt 2>&1", bin, env.conf, env.out));
	cr_assert_eq(rc, 2, "the start as the other user did not refuse: %d", rc);
	free(out);
	out = h_slurp(h_fmt("%s/start.txt", env.out));
	cr_assert(out && strstr(out, want), "the start does not say it:\n%s", out);

	/* 3. Done as it says: the daemon runs as that user, files flow. */
	do_what_it_says(out);
	free(out);
	cr_assert_eq(snprintf(want, sizeof(want), "%s/user.log", env.out) < (int)sizeof(want), 1);
	pid = h_as_bg(&env, uid, gid, h_fmt("exec %s -c %s >> %s 2>&1", bin, env.conf, want));
	cr_assert(h_wait_text(want, "event=ready", 10000), "it did not start as the other user");
	h_drop(&env, "a.sea", "x");
	if (!h_wait_count(env.done, ".sea", 1, 15000)) {
		char *log = h_slurp(want);
		size_t n = log ? strlen(log) : 0;

		cr_assert_fail("no file processed as the other user; log:\n%s",
			       log ? log + (n > 3000 ? n - 3000 : 0) : "(none)");
	}
	kill(pid, SIGTERM);
	cr_assert(h_wait_gone(pid, 10000));

	/* 4. And back to root: the same, the other way. */
	cr_assert_eq(h_run(&env, &out, "-c", env.conf, "--check-config", NULL), 2);
	cr_assert(out && strstr(out, h_fmt("give it over: chown -R root:root %s", spool)), "%s",
		  out);
	do_what_it_says(out);
	free(out);
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000), "root could not take it back");
	h_drop(&env, "b.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 2, 15000));
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}
