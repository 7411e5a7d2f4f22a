/*
 * test_logging.c - issue 10, item 9: a failed outcome says why it was not
 * retried and where the file went; with log_target = "syslog" the
 * commands' output goes to syslog too; without a syslog socket that is
 * said once on stderr, and every line stays there.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"

static struct h_env env;
static char *old_wrap;

static void setup(void)
{
	const char *w = getenv("SEAWATCH_WRAP");

	h_setup(&env);
	old_wrap = w ? strdup(w) : NULL;
}

static void teardown(void)
{
	h_teardown(&env);
	if (old_wrap)
		setenv("SEAWATCH_WRAP", old_wrap, 1);
	else
		unsetenv("SEAWATCH_WRAP");
	free(old_wrap);
}

TestSuite(logging, .init = setup, .fini = teardown, .timeout = 60);

Test(logging, a_failed_file_says_why_and_where)
{
	const char *s = h_script(&env, "bad.sh", "case \"$1\" in *data*) exit 65;; esac\nexit 3\n");

	h_config_simple(&env, h_fmt("[\"%s\", \"{file}\"]", s),
			"retries = 1; backoff = \"10ms\"; no_retry = [ 65 ];", "");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000));
	h_drop(&env, "data.sea", "x");
	h_drop(&env, "other.sea", "x");
	cr_assert(h_wait_count(env.failed, ".sea", 2, 15000));
	cr_assert(h_wait_text(env.log, h_fmt("event=failed drop=d file=data.sea attempt=1 "
					     "status=exit:65 reason=no_retry to=%s/data.sea",
					     env.failed), 5000), "no reason=no_retry, or not where");
	cr_assert(h_wait_text(env.log, h_fmt("event=failed drop=d file=other.sea attempt=2 "
					     "status=exit:3 reason=retries-exhausted to=%s/other.sea",
					     env.failed), 5000), "no reason=retries-exhausted");
	h_drop(&env, "ok.sea", "");
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* No /dev/log here (none in this machine's container, checked below):
 * said once, and the daemon's lines and its commands' stay on stderr. */
Test(logging, without_a_syslog_socket_lines_stay_on_stderr)
{
	const char *s = h_script(&env, "say.sh", "echo \"hello from the command\"\n");
	struct stat st;

	if (stat("/dev/log", &st) == 0)
		cr_skip_test("this machine has a /dev/log");
	h_config_simple(&env, h_fmt("[\"%s\", \"{file}\"]", s), "",
			"log_target = \"syslog\";");
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000), "the daemon's lines did not stay on stderr");
	h_drop(&env, "a.sea", "x");
	cr_assert(h_wait_text(env.log, "text=\"hello from the command\"", 10000),
		  "the command's output was lost");
	cr_assert(h_wait_text(env.log, "event=done", 5000));
	cr_assert_eq(h_count_text(env.log, "event=syslog-unavailable"), 1,
		     "not said exactly once");
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* With a syslog socket (a datagram socket of this test, bound over
 * /dev/log in a mount namespace of the daemon's own), the commands'
 * output goes there with the rest. */
Test(logging, the_commands_output_follows_log_target)
{
	const char *s = h_script(&env, "say.sh", "echo \"hello from the command\"\n");
	const char *sock = h_fmt("%s/syslog.sock", env.root);
	const char *wrap = h_script(&env, "ns.sh",
		"set -e\n"
		"mount -t tmpfs -o mode=755 seawatch-test-dev /dev\n"
		"mknod -m 666 /dev/null c 1 3\n"
		"touch /dev/log\n"
		"mount --bind \"$SW_TEST_SYSLOG\" /dev/log\n"
		"exec \"$@\"\n");
	struct sockaddr_un a;
	char buf[2048], all[65536] = "";
	int fd;

	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0, "%s", strerror(errno));
	cr_assert_eq(setenv("SW_TEST_SYSLOG", sock, 1), 0);
	cr_assert_eq(setenv("SEAWATCH_WRAP", h_fmt("unshare -m --propagation private %s%s%s",
						   wrap, old_wrap ? " " : "",
						   old_wrap ? old_wrap : ""), 1), 0);
	h_config_simple(&env, h_fmt("[\"%s\", \"{file}\"]", s), "",
			"log_target = \"syslog\";");
	h_start(&env, NULL);
	for (int i = 0, dropped = 0; i < 200 && !strstr(all, "event=done"); i++) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };

		if (!dropped && strstr(all, "event=ready")) {
			h_drop(&env, "a.sea", "x");
			dropped = 1;
		}
		if (poll(&pf, 1, 100) > 0) {
			ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);

			if (n > 0) {
				buf[n] = '\0';
				strncat(all, buf, sizeof(all) - strlen(all) - 2);
				strcat(all, "\n");
			}
		}
	}
	close(fd);
	unsetenv("SW_TEST_SYSLOG");
	cr_assert(strstr(all, "event=ready"), "nothing reached syslog: %s", all);
	cr_assert(strstr(all, "text=\"hello from the command\""),
		  "the command's output did not go to syslog:\n%s", all);
	cr_assert(strstr(all, "event=done"), "%s", all);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}
