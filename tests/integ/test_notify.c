/*
 * test_notify.c - sd_notify (issue 10, item 1) against a real datagram
 * socket: READY=1 once every drop is watched (a file renamed in at once
 * after it is never missed), STATUS= when the counters change, RELOADING=1
 * with MONOTONIC_USEC= then READY=1 on SIGHUP, STOPPING=1, WATCHDOG=1
 * every half of WATCHDOG_USEC, abstract sockets, and nothing of it handed
 * down to the commands.
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
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static struct h_env env;
static int sock = -1;
static char got[64][512];
static int ngot;

static void setup(void)
{
	h_setup(&env);
	ngot = 0;
}

static void teardown(void)
{
	h_teardown(&env);
	if (sock >= 0)
		close(sock);
	sock = -1;
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
}

TestSuite(notify, .init = setup, .fini = teardown, .timeout = 120);

static int64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Listen where the daemon will send: a path, or "@..." (abstract). */
static void listen_at(const char *name)
{
	struct sockaddr_un a;
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name));

	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	memcpy(a.sun_path, name, strlen(name));
	if (name[0] == '@')
		a.sun_path[0] = '\0';
	sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(sock, 0);
	cr_assert_eq(bind(sock, (struct sockaddr *)&a, len), 0, "bind: %s", strerror(errno));
	cr_assert_eq(setenv("NOTIFY_SOCKET", name, 1), 0);
}

/* The next datagram that contains NEEDLE (earlier ones are kept in got[]),
 * or NULL after MS. */
static const char *wait_msg(const char *needle, int ms)
{
	int64_t end = ms_now() + ms;

	for (;;) {
		struct pollfd pf = { .fd = sock, .events = POLLIN };
		int64_t left = end - ms_now();
		ssize_t n;

		if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
			return NULL;
		n = recv(sock, got[ngot % 64], sizeof(got[0]) - 1, 0);
		if (n < 0)
			return NULL;
		got[ngot % 64][n] = '\0';
		if (strstr(got[ngot++ % 64], needle))
			return got[(ngot - 1) % 64];
	}
}

static void start(void)
{
	h_start(&env, NULL);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
}

Test(notify, ready_status_reload_stop)
{
	const char *m;

	listen_at(h_fmt("%s/notify.sock", env.root));
	h_config_simple(&env, "[\"/bin/true\", \"{file}\"]", "", "");
	start();
	m = wait_msg("READY=1", 10000);
	cr_assert_not_null(m, "no READY=1");
	cr_assert(strstr(m, "STATUS=1 drops, "), "READY=1 without a STATUS=: %s", m);
	cr_assert(h_wait_text(env.log, "event=ready", 1000), "READY=1 before event=ready");
	h_drop(&env, "a.sea", "x");
	m = wait_msg("1 done", 5000);
	cr_assert_not_null(m, "no STATUS= with the file done");
	cr_assert(!strncmp(m, "STATUS=", 7), "%s", m);

	kill(env.pid, SIGHUP);
	m = wait_msg("RELOADING=1", 5000);
	cr_assert_not_null(m, "no RELOADING=1");
	cr_assert(strstr(m, "\nMONOTONIC_USEC="), "RELOADING=1 without MONOTONIC_USEC=: %s", m);
	{
		struct timespec ts;
		unsigned long long us = strtoull(strstr(m, "MONOTONIC_USEC=") + 15, NULL, 10), now;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
		cr_assert(us <= now && now - us < 10000000ULL, "MONOTONIC_USEC=%llu, now %llu", us, now);
	}
	cr_assert_not_null(wait_msg("READY=1", 5000), "no READY=1 after the reload");

	kill(env.pid, SIGTERM);
	cr_assert_not_null(wait_msg("STOPPING=1", 5000), "no STOPPING=1");
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

Test(notify, an_abstract_socket)
{
	char name[64];

	snprintf(name, sizeof(name), "@seawatch-test-notify-%ld", (long)getpid());
	listen_at(name);
	h_config_simple(&env, "[\"/bin/true\", \"{file}\"]", "", "");
	start();
	cr_assert_not_null(wait_msg("READY=1", 10000), "no READY=1 on an abstract socket");
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

Test(notify, the_watchdog_is_fed_every_half_period)
{
	int pings = 0;
	int64_t t0;

	listen_at(h_fmt("%s/notify.sock", env.root));
	cr_assert_eq(setenv("WATCHDOG_USEC", "200000", 1), 0);
	h_config_simple(&env, "[\"/bin/true\", \"{file}\"]", "", "");
	start();
	cr_assert_not_null(wait_msg("READY=1", 10000));
	t0 = ms_now();
	while (ms_now() - t0 < 1000 && wait_msg("WATCHDOG=1", 1000))
		pings++;
	/* Every 100 ms: about 10 in a second; a loose bound, the machine is
	 * shared. */
	cr_assert_geq(pings, 4, "%d WATCHDOG=1 in a second with WATCHDOG_USEC=200000", pings);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* The workers' environment (and so their commands', whatever a command
 * is given) holds none of the service manager's variables: a worker or a
 * command could otherwise tell systemd it is ready, or stopping. */
Test(notify, workers_do_not_inherit_the_socket)
{
	char path[64], *kids, *env_text;
	FILE *f;
	size_t n;
	long kid;

	listen_at(h_fmt("%s/notify.sock", env.root));
	cr_assert_eq(setenv("WATCHDOG_USEC", "10000000", 1), 0);
	h_config_simple(&env, "[\"/bin/true\", \"{file}\"]", "", "workers = 1;");
	start();
	cr_assert_not_null(wait_msg("READY=1", 10000));
	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", (long)env.pid, (long)env.pid);
	for (int i = 0; i < 100; i++) {
		kids = h_slurp(path);
		if (kids && atol(kids) > 0)
			break;
		free(kids);
		kids = NULL;
		usleep(50000);
	}
	cr_assert(kids && atol(kids) > 0, "the daemon has no worker");
	kid = atol(kids);
	free(kids);
	/* Just forked, it may not have exec'd yet (its environment block
	 * would still be the master's from before it cleaned it): until its
	 * command line is the worker's. */
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", kid);
	for (int i = 0; i < 200; i++) {
		char cl[256] = "";
		size_t m;

		f = fopen(path, "r");
		cr_assert_not_null(f);
		m = fread(cl, 1, sizeof(cl) - 1, f);
		fclose(f);
		cl[m] = '\0';
		if (h_is_worker_cmdline(cl, m))   /* exec'd */
			break;
		usleep(20000);
	}
	snprintf(path, sizeof(path), "/proc/%ld/environ", kid);
	env_text = calloc(1, 65536);
	cr_assert_not_null(env_text);
	for (int i = 0; i < 100 && !strstr(env_text, "PATH="); i++) {
		usleep(i ? 50000 : 0);
		memset(env_text, 0, 65536);
		f = fopen(path, "r");
		cr_assert_not_null(f);
		n = fread(env_text, 1, 65535, f);
		fclose(f);
		for (size_t k = 0; k < n; k++)
			if (env_text[k] == '\0')
				env_text[k] = '\n';
	}
	cr_assert(strstr(env_text, "PATH="), "not the worker's environment: %s", env_text);
	cr_assert_null(strstr(env_text, "NOTIFY_SOCKET"), "%s", env_text);
	cr_assert_null(strstr(env_text, "WATCHDOG_USEC"), "%s", env_text);
	free(env_text);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* READY=1 means watched: a file renamed in the moment it comes is
 * processed (20 starts in a row). */
Test(notify, a_file_right_after_ready_is_never_missed)
{
	listen_at(h_fmt("%s/notify.sock", env.root));
	h_config_simple(&env, "[\"/bin/true\", \"{file}\"]", "", "");
	for (int i = 0; i < 20; i++) {
		cr_assert_eq(setenv("NOTIFY_SOCKET", h_fmt("%s/notify.sock", env.root), 1), 0);
		start();
		cr_assert_not_null(wait_msg("READY=1", 10000), "round %d: no READY=1", i);
		h_drop(&env, h_fmt("r%02d.sea", i), "x");
		cr_assert(h_wait_count(env.done, ".sea", i + 1, 10000),
			  "round %d: the file dropped right after READY=1 was missed", i);
		cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
	}
}

/* STATUS= follows the jobs, not only the counters: a running command is
 * shown running (the first version only re-sent it when a counter moved,
 * so a claimed file showed "1 queued" until it was done). */
Test(notify, status_shows_a_running_command)
{
	const char *s = h_script(&env, "wait.sh",
		"while [ ! -e \"$2/go\" ]; do sleep 0.02; done\n");

	listen_at(h_fmt("%s/notify.sock", env.root));
	h_config_simple(&env, h_fmt("[\"%s\", \"{file}\", \"%s\"]", s, env.out), "", "");
	start();
	cr_assert_not_null(wait_msg("READY=1", 10000));
	/* Past the once-a-second limit: the claim's STATUS= goes at once,
	 * before the job starts; the start must bring another. */
	usleep(1500000);
	h_drop(&env, "a.sea", "x");
	cr_assert_not_null(wait_msg("0 queued, 1 running", 5000), "no STATUS= with it running");
	h_write(h_fmt("%s/go", env.out), "", 0644);
	cr_assert_not_null(wait_msg("1 done", 5000));
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* A service manager that stops reading its socket must not stall the
 * loop: the datagrams are sent without waiting (the first version blocked
 * in sendmsg once about ten were queued, and files stopped flowing). */
Test(notify, a_socket_nobody_reads_stalls_nothing)
{
	listen_at(h_fmt("%s/notify.sock", env.root));
	cr_assert_eq(setenv("WATCHDOG_USEC", "20000", 1), 0);   /* a ping every 10 ms */
	h_config_simple(&env, "[\"/bin/true\", \"{file}\"]", "", "");
	start();
	cr_assert(h_wait_ready(&env, 10000));
	usleep(500000);   /* the socket's queue is full by now; nobody reads it */
	h_drop(&env, "a.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 1, 5000), "the loop stalled on the socket");
	cr_assert_eq(h_stop(&env, SIGTERM, 5000), 0, "SIGTERM unheard");
}
