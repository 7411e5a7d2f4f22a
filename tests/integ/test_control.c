/*
 * test_control.c - issue 11, items 1-5 and 7: the control socket and
 * seawatchctl.  The socket's safety (its directory, a stale socket, a live
 * one, peers not allowed, hostile clients), status as text and JSON, the
 * exit codes, pause and resume (across a reload and a restart), requeue
 * (one file, a collision, 10,000 at once) and reload over the socket, and
 * one set of counters behind every view.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
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

TestSuite(control, .init = setup, .fini = teardown, .timeout = 90);

/* A config with the control socket in root/run, one drop running CMD. */
static void config(const char *cmd, const char *extra, const char *global)
{
	h_config_simple(&env, cmd, extra,
			h_fmt("control_socket = \"%s\";\n%s", h_sock(&env), global));
}

static void start(void)
{
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000), "the daemon did not start:\n%s", h_slurp(env.log));
}

/* A raw client (blocking), connected, or -1 with errno. */
static int raw_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", h_sock(&env));
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Everything FD says until it closes (at most 10 s), malloc'd. */
static char *read_all(int fd)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	struct pollfd p = { fd, POLLIN, 0 };

	cr_assert_not_null(buf);
	for (;;) {
		ssize_t n;

		if (poll(&p, 1, 10000) <= 0)
			break;
		if (len + 1024 > cap)
			buf = realloc(buf, cap *= 2);
		cr_assert_not_null(buf);
		n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

/* Run seawatchctl ARGS, expecting exit status WANT; its output. */
#define CTL(want, ...) ({                                                              \
	char *out_ = NULL;                                                             \
	int st_ = h_ctl(&env, &out_, __VA_ARGS__, NULL);                               \
	cr_assert_eq(st_, (want), "seawatchctl exit %d, not %d:\n%s", st_, (want),      \
		     out_ ? out_ : "");                                                \
	out_; })

/* The JSON of `status --json` passes CHECK (a Python expression over j). */
static void json_check(const char *check)
{
	char *out = CTL(0, "status", "--json");
	const char *f = h_fmt("%s/status.json", env.out), *py = h_fmt("%s/check.py", env.out);
	char cmd[H_PATH * 4];

	h_write(f, out, 0644);
	h_write(py, h_fmt("import json, sys\nj = json.load(open(sys.argv[1]))\n"
			  "sys.exit(0 if (%s) else 1)\n", check), 0644);
	snprintf(cmd, sizeof(cmd), "python3 %s %s", py, f);
	cr_assert_eq(system(cmd), 0, "the JSON fails %s:\n%s", check, out);
	free(out);
}

/* Item 2: status as text and as JSON, with the last failure. */
Test(control, status_tells_the_counts_and_the_last_failure)
{
	const char *s = h_script(&env, "cmd.sh", "case \"$1\" in *bad*) exit 65;; esac\nexit 0\n");
	char *out;

	config(h_fmt("[\"%s\", \"{file}\"]", s), "no_retry = [ 65 ];", "workers = 2;");
	start();
	h_drop(&env, "a.sea", "x");
	h_drop(&env, "b.sea", "x");
	h_drop(&env, "bad.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 2, 10000));
	cr_assert(h_wait_count(env.failed, ".error", 1, 10000));
	out = CTL(0, "status");
	cr_assert(strstr(out, "seawatchd 0."), "no version:\n%s", out);
	cr_assert(strstr(out, "workers: 0 busy of 2"), "%s", out);
	cr_assert(strstr(out, "drop d: running"), "%s", out);
	cr_assert(strstr(out, "done 2, failed 1"), "%s", out);
	cr_assert(strstr(out, "last failure: bad.sea (exit:65, no_retry) at 20"), "%s", out);
	free(out);
	json_check("j['version'] and j['uptime_seconds'] >= 0 and j['workers'] == "
		   "{'busy': 0, 'total': 2} and len(j['drops']) == 1 and "
		   "j['drops'][0]['name'] == 'd' and j['drops'][0]['state'] == 'running' and "
		   "j['drops'][0]['done'] == 2 and j['drops'][0]['failed'] == 1 and "
		   "j['drops'][0]['queued'] == 0 and j['drops'][0]['running'] == 0 and "
		   "j['drops'][0]['retrying'] == 0 and "
		   "j['drops'][0]['last_failure']['file'] == 'bad.sea' and "
		   "j['drops'][0]['last_failure']['status'] == 'exit:65' and "
		   "j['drops'][0]['last_failure']['reason'] == 'no_retry' and "
		   "j['drops'][0]['last_failure']['time'].endswith('Z')");
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
	cr_assert(!h_exists(h_sock(&env)), "the socket outlived the daemon");
}

/* Item 2: the exit codes of the spec. */
Test(control, exit_codes_follow_the_spec)
{
	char *out;

	/* 3: no daemon, and the message names the socket. */
	out = CTL(3, "status");
	cr_assert(strstr(out, h_sock(&env)), "the path is not named:\n%s", out);
	free(out);
	config("[\"/bin/true\", \"{file}\"]", "", "");
	start();
	/* 2: usage (seawatchctl's own check, and the daemon's). */
	free(CTL(2, "frobnicate"));
	free(CTL(2, "status", "--yaml"));
	free(CTL(2, "requeue", "d"));
	free(CTL(2, "reload", "now"));
	out = NULL;
	{
		int fd = raw_connect();

		cr_assert_geq(fd, 0);
		cr_assert_eq(send(fd, "frobnicate\0", 11, 0), 11);
		shutdown(fd, SHUT_WR);
		out = read_all(fd);
		close(fd);
		cr_assert(!strncmp(out, "usage\n", 6), "the daemon said:\n%s", out);
		free(out);
	}
	/* 1: refused, with the reason. */
	out = CTL(1, "pause", "nosuchdrop");
	cr_assert(strstr(out, "no drop named \"nosuchdrop\""), "%s", out);
	free(out);
	out = CTL(1, "requeue", "d", "nope.sea");
	cr_assert(strstr(out, "nope.sea: no such file in failed/"), "%s", out);
	free(out);
	free(CTL(0, "status"));
	out = CTL(0, "--help");
	cr_assert(strstr(out, "requeue DROP --all"), "%s", out);
	free(out);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
	/* 3 again once it is gone. */
	free(CTL(3, "status"));
}

/* Item 1: a client that sends nothing, garbage, 10 MB, or leaves
 * mid-reply costs nothing: others are served meanwhile, files keep being
 * processed, and nothing is lost. */
Test(control, hostile_clients_cost_nothing_and_lose_nothing)
{
	int silent, garbage, big, leaver;
	char *out, *req;
	size_t reqlen = 0, sent = 0;
	static char chunk[1 << 16];
	int flags;

	config("[\"/bin/true\", \"{file}\"]", "", "workers = 2;");
	start();
	silent = raw_connect();
	cr_assert_geq(silent, 0);

	garbage = raw_connect();
	cr_assert_geq(garbage, 0);
	cr_assert_eq(send(garbage, "\x01\x02\xff garbage \x7f", 14, 0), 14);
	shutdown(garbage, SHUT_WR);
	out = read_all(garbage);
	close(garbage);
	cr_assert(!strncmp(out, "usage\n", 6), "garbage got:\n%s", out);
	free(out);

	/* 10 MB: refused after the limit, without the daemon reading it
	 * all. */
	big = raw_connect();
	cr_assert_geq(big, 0);
	memset(chunk, 'A', sizeof(chunk));
	flags = fcntl(big, F_GETFL);
	fcntl(big, F_SETFL, flags | O_NONBLOCK);
	while (sent < 10u << 20) {
		struct pollfd p = { big, POLLOUT, 0 };
		ssize_t n;

		if (poll(&p, 1, 3000) <= 0)
			break;   /* it stopped reading */
		n = send(big, chunk, sizeof(chunk), MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN)
			break;   /* it closed on us */
		if (n > 0)
			sent += (size_t)n;
	}
	cr_assert_lt(sent, 10u << 20, "the daemon read all 10 MB");
	fcntl(big, F_SETFL, flags);
	out = read_all(big);
	close(big);
	cr_assert(!strncmp(out, "error\nrequest too long", 22), "10 MB got:\n%s", out);
	free(out);

	/* A reply of about 2 MB (30,000 refusals): the client reads 10
	 * bytes and stays, then leaves mid-reply. */
	req = malloc(20 + 2 * 30000);
	cr_assert_not_null(req);
	memcpy(req, "requeue\0d\0", 10);
	reqlen = 10;
	for (int i = 0; i < 30000; i++) {
		req[reqlen++] = 'a';
		req[reqlen++] = '\0';
	}
	leaver = raw_connect();
	cr_assert_geq(leaver, 0);
	for (size_t off = 0; off < reqlen;) {
		ssize_t n = send(leaver, req + off, reqlen - off, 0);

		cr_assert_gt(n, 0);
		off += (size_t)n;
	}
	free(req);
	shutdown(leaver, SHUT_WR);
	{
		char ten[10];

		cr_assert_eq(recv(leaver, ten, sizeof(ten), MSG_WAITALL), 10);
		cr_assert(!strncmp(ten, "error\na: d", 10), "%.10s", ten);
	}
	/* With the silent client and the half-read reply still there: */
	out = CTL(0, "status");
	cr_assert(strstr(out, "drop d: running"), "%s", out);
	free(out);
	for (int i = 0; i < 20; i++)
		h_drop(&env, h_fmt("f%02d.sea", i), "x");
	cr_assert(h_wait_count(env.done, ".sea", 20, 20000), "files stalled behind the clients");
	close(leaver);    /* mid-reply */
	close(silent);
	out = CTL(0, "status");
	cr_assert(strstr(out, "done 20, failed 0"), "%s", out);
	free(out);
	cr_assert(h_alive(env.pid));
	cr_assert_eq(h_count_text(env.log, "level=error"), 0, "errors logged:\n%s",
		     h_slurp(env.log));
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* Item 1: more silent clients than seats: the next is told "busy" at
 * once; each silent one is dropped at its deadline; then all is served. */
Test(control, a_crowd_of_silent_clients_is_bounded_and_drained)
{
	int fds[16];
	char *out;

	config("[\"/bin/true\", \"{file}\"]", "", "");
	start();
	for (int i = 0; i < 16; i++) {
		fds[i] = raw_connect();
		cr_assert_geq(fds[i], 0);
	}
	usleep(300000);   /* accepted by now */
	out = CTL(1, "status");
	cr_assert(strstr(out, "busy"), "%s", out);
	free(out);
	h_drop(&env, "a.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000), "the loop stalled");
	/* Their 5 s are up: dropped, seats free again. */
	for (int i = 0; i < 16; i++) {
		char *said = read_all(fds[i]);

		cr_assert_eq(said[0], '\0', "a silent client got: %s", said);
		free(said);
		close(fds[i]);
	}
	free(CTL(0, "status"));
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* A client as UID with primary group GID and supplementary group SUPP
 * (or none, -1): what the daemon answered to "status". */
static char *status_as(uid_t uid, gid_t gid, long supp)
{
	int pfd[2];
	pid_t pid;
	char *out;

	cr_assert_eq(pipe(pfd), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		gid_t g = (gid_t)supp;
		int fd;
		char *said;

		close(pfd[0]);
		if (setgroups(supp >= 0 ? 1 : 0, &g) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
			dprintf(pfd[1], "cannot become %u: %s", (unsigned)uid, strerror(errno));
			_exit(0);
		}
		fd = raw_connect();
		if (fd < 0) {
			dprintf(pfd[1], "connect: %s", strerror(errno));
			_exit(0);
		}
		/* A refusal may come (and the daemon close) before the
		 * request is sent: the send fails, the answer is there. */
		if (send(fd, "status\0", 7, MSG_NOSIGNAL) < 0 && errno != EPIPE &&
		    errno != ECONNRESET) {
			dprintf(pfd[1], "send: %s", strerror(errno));
			_exit(0);
		}
		shutdown(fd, SHUT_WR);
		said = read_all(fd);
		dprintf(pfd[1], "%s", said);
		_exit(0);
	}
	close(pfd[1]);
	out = read_all(pfd[0]);
	close(pfd[0]);
	{
		int st = 0;

		waitpid(pid, &st, 0);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the client ended with %#x", st);
	}
	return out;
}

/* Item 1: SO_PEERCRED: with the socket opened to all by mistake, a user
 * who is neither root, the daemon's user nor in the socket's group is
 * refused; a member of the group (a supplementary one) is served. */
Test(control, a_peer_not_allowed_is_refused_and_a_group_member_served)
{
	struct passwd *nobody = getpwnam("nobody");
	char run[H_PATH + 8];
	struct stat st;
	char *out;

	snprintf(run, sizeof(run), "%s/run", env.root);
	if (geteuid() != 0 || !nobody)
		cr_skip("needs root and the user nobody");
	/* nobody must reach the socket's directory. */
	cr_assert_eq(chmod(env.root, 0755), 0);
	/* The directory's group is the socket's: "users" (100) here. */
	cr_assert_eq(mkdir(run, 0750), 0);
	cr_assert_eq(chown(run, 0, 100), 0);
	config("[\"/bin/true\", \"{file}\"]", "", "");
	start();
	cr_assert_eq(stat(h_sock(&env), &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0660, "mode %o", (unsigned)(st.st_mode & 0777));
	cr_assert_eq(st.st_gid, 100u, "the socket's group is %u, not its directory's",
		     (unsigned)st.st_gid);
	/* Opened to everyone (a mistake): the peer check still holds. */
	cr_assert_eq(chmod(run, 0755), 0);
	cr_assert_eq(chmod(h_sock(&env), 0666), 0);
	out = status_as(nobody->pw_uid, nobody->pw_gid, -1);
	cr_assert(!strncmp(out, "error\nnot allowed", 17), "nobody got:\n%s", out);
	free(out);
	cr_assert(h_wait_text(env.log, h_fmt("event=control-refused uid=%u",
					     (unsigned)nobody->pw_uid), 2000));
	out = status_as(nobody->pw_uid, nobody->pw_gid, 100);
	cr_assert(!strncmp(out, "ok\nseawatchd", 12), "a member of the group got:\n%s", out);
	free(out);
	free(CTL(0, "status"));
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* Item 1: the directory is made 0750; a second daemon on a live socket
 * refuses to start, naming it, and steals nothing; a socket left by a
 * kill -9 is replaced at the next start. */
Test(control, a_stale_socket_is_replaced_and_a_live_one_kept)
{
	char run[H_PATH + 8];
	struct stat st;
	pid_t first;
	char *out;
	int rc;

	snprintf(run, sizeof(run), "%s/run", env.root);
	config("[\"/bin/true\", \"{file}\"]", "", "");
	start();
	cr_assert_eq(stat(run, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0750, "the directory is %o", (unsigned)(st.st_mode & 0777));
	first = env.pid;
	/* A second daemon, same socket. */
	rc = h_run(&env, &out, "-c", env.conf, NULL);
	cr_assert_eq(rc, 3, "the second daemon exited %d:\n%s", rc, out);
	cr_assert(strstr(out, h_sock(&env)) && strstr(out, "another seawatchd serves it"),
		  "%s", out);
	free(out);
	cr_assert(h_alive(first));
	free(CTL(0, "status"));
	/* kill -9: the socket stays behind, stale. */
	kill(first, SIGKILL);
	cr_assert(h_wait_gone(first, 5000));
	h_stop(&env, SIGKILL, 5000);
	cr_assert(h_wait_none_left(&env, 10000));
	cr_assert(h_exists(h_sock(&env)));
	free(CTL(3, "status"));
	start();
	cr_assert(h_wait_text(env.log, "event=control-stale-removed", 1000));
	free(CTL(0, "status"));
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* Item 1: a directory others can write (who could swap the socket) is
 * refused, as is a symlink in its place. */
Test(control, an_unsafe_socket_directory_is_refused)
{
	char run[H_PATH + 8];
	char *out;
	int rc;

	snprintf(run, sizeof(run), "%s/run", env.root);
	cr_assert_eq(mkdir(run, 0777), 0);
	cr_assert_eq(chmod(run, 0777), 0);
	config("[\"/bin/true\", \"{file}\"]", "", "");
	rc = h_run(&env, &out, "-c", env.conf, NULL);
	cr_assert_eq(rc, 3, "exit %d:\n%s", rc, out);
	cr_assert(strstr(out, h_sock(&env)) && strstr(out, "writable by others"), "%s", out);
	free(out);
	cr_assert_eq(rmdir(run), 0);
	cr_assert_eq(symlink(env.out, run), 0);
	rc = h_run(&env, &out, "-c", env.conf, NULL);
	cr_assert_eq(rc, 3, "exit %d:\n%s", rc, out);
	cr_assert(strstr(out, "not a directory"), "%s", out);
	free(out);
}

/* One runs, two wait (sent ahead), with the control socket. */
static void one_runs_two_wait(const char *global)
{
	cr_assert(h_one_runs_two_wait(&env, h_fmt("control_socket = \"%s\";\n%s", h_sock(&env),
						  global)),
		  "not one running and two sent ahead:\n%s", h_slurp(env.log));
}

/* Item 3: paused, the running command finishes, the jobs queued (even
 * those sent ahead to the worker) wait, new files stay in the drop; none
 * runs early; resume takes them all. */
Test(control, pause_holds_new_files_and_resume_takes_them)
{
	char *out;

	one_runs_two_wait("");
	out = CTL(0, "pause", "d");
	cr_assert_str_eq(out, "d: paused\n");
	free(out);
	h_drop(&env, "d.sea", "x");
	h_drop(&env, "e.sea", "x");
	h_write(h_fmt("%s/go", env.out), "", 0644);
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000));
	usleep(1500000);
	cr_assert_eq(h_count(env.done, ".sea"), 1, "a file ran while its drop was paused");
	cr_assert_eq(h_count(env.drop, ".sea"), 2, "files that came while paused were taken");
	json_check("j['drops'][0]['state'] == 'paused' and j['drops'][0]['queued'] == 2 and "
		   "j['drops'][0]['running'] == 0");
	out = CTL(0, "pause");
	cr_assert_str_eq(out, "d: already paused\n");
	free(out);
	out = CTL(0, "resume");
	cr_assert_str_eq(out, "d: running\n");
	free(out);
	cr_assert(h_wait_count(env.done, ".sea", 5, 10000), "resume did not take them all");
	cr_assert_eq(h_count(env.drop, NULL), 0);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* Item 3: a pause outlives a reload (SIGHUP or seawatchctl) and a restart
 * (a mark in the drop's spool): a gateway that loses power mid-maintenance
 * does not start processing on its own.  The start says so. */
Test(control, a_pause_outlives_a_reload_and_a_restart)
{
	char *out;

	config("[\"/bin/true\", \"{file}\"]", "", "");
	start();
	free(CTL(0, "pause"));
	free(CTL(0, "reload"));
	kill(env.pid, SIGHUP);
	cr_assert(h_wait_text(env.log, "event=reloaded", 5000));
	h_drop(&env, "a.sea", "x");
	usleep(1000000);
	cr_assert_eq(h_count(env.done, ".sea"), 0, "taken after a reload while paused");
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
	start();
	cr_assert(h_wait_text(env.log, "event=paused drop=d since=before-start", 1000));
	usleep(1000000);
	cr_assert_eq(h_count(env.done, ".sea"), 0, "taken after a restart while paused");
	out = CTL(0, "status");
	cr_assert(strstr(out, "drop d: paused"), "%s", out);
	free(out);
	free(CTL(0, "resume", "d"));
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000));
	/* Resumed is resumed after a restart too. */
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
	start();
	h_drop(&env, "b.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 2, 10000));
	cr_assert_eq(h_count_text(env.log, "since=before-start"), 1);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* Item 4: requeue gives a fresh attempt count and removes the sidecar; a
 * second failure gets a sidecar of its own name (never x.sea.1.error
 * beside a stale one); names that reach outside failed/ are refused; a
 * name waiting in the drop is not overwritten. */
Test(control, requeue_starts_afresh_and_a_second_failure_gets_its_own_sidecar)
{
	const char *s = h_script(&env, "cmd.sh",
		"[ -e \"$2/fixed\" ] && exit 0\necho oops >&2\nexit 3\n");
	char side[H_PATH + 16];
	char *out, *text;

	snprintf(side, sizeof(side), "%s/x.sea.error", env.failed);
	config(h_fmt("[\"%s\", \"{file}\", \"%s\"]", s, env.out), "retries = 1; backoff = \"10ms\";",
	       "");
	start();
	h_drop(&env, "x.sea", "x");
	cr_assert(h_wait_count(env.failed, ".error", 1, 10000));
	text = h_slurp(side);
	cr_assert(text && strstr(text, "attempts=2"), "%s", text);
	free(text);
	out = CTL(0, "requeue", "d", "x.sea");
	cr_assert_str_eq(out, "x.sea: requeued\n");
	free(out);
	/* It fails again: a sidecar of its own, from a fresh count. */
	cr_assert(h_wait_text(env.log, "event=failed drop=d file=x.sea", 1000));
	for (int i = 0; i < 500 && h_count_text(env.log, "event=failed drop=d file=x.sea") < 2; i++)
		usleep(20000);
	cr_assert_eq(h_count_text(env.log, "event=failed drop=d file=x.sea"), 2);
	cr_assert(h_wait_count(env.failed, ".error", 1, 5000));
	cr_assert_eq(h_count(env.failed, NULL), 2, "failed/ holds more than x.sea and its sidecar");
	cr_assert(!h_exists(h_fmt("%s/x.sea.1.error", env.failed)));
	text = h_slurp(side);
	cr_assert(text && strstr(text, "attempts=2"), "not a fresh count:\n%s", text);
	free(text);
	/* Refused: outside failed/, unknown, a sidecar, an unknown drop. */
	out = CTL(1, "requeue", "d", "../incoming/x.sea", "..", "nope.sea", "x.sea.error");
	cr_assert(strstr(out, "../incoming/x.sea: not a file name"), "%s", out);
	cr_assert(strstr(out, "..: not a file name"), "%s", out);
	cr_assert(strstr(out, "nope.sea: no such file in failed/"), "%s", out);
	cr_assert(strstr(out, "x.sea.error: does not match"), "%s", out);
	free(out);
	free(CTL(1, "requeue", "nodrop", "x.sea"));
	/* A file of that name waits in the drop (paused): not overwritten. */
	free(CTL(0, "pause"));
	h_drop(&env, "x.sea", "new");
	out = CTL(0, "requeue", "d", "x.sea");
	cr_assert(strstr(out, "x.sea: requeued as x.1.sea"), "%s", out);
	free(out);
	text = h_slurp(h_fmt("%s/x.sea", env.drop));
	cr_assert(text && !strcmp(text, "new"), "the waiting file was overwritten");
	free(text);
	h_write(h_fmt("%s/fixed", env.out), "", 0644);
	free(CTL(0, "resume"));
	cr_assert(h_wait_count(env.done, ".sea", 2, 10000));
	cr_assert_eq(h_count(env.failed, NULL), 0, "the sidecar stayed behind");
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* Files under DIR (any depth) whose name starts with "f" and ends .sea. */
static int count_tree(const char *dir)
{
	char cmd[H_PATH * 4], *n;
	int c;

	snprintf(cmd, sizeof(cmd), "find %s -type f -name 'f*.sea' | wc -l > %s/count", dir,
		 env.out);
	cr_assert_eq(system(cmd), 0);
	n = h_slurp(h_fmt("%s/count", env.out));
	c = atoi(n);
	free(n);
	return c;
}

/* Item 4: requeue --all on 10,000 failed files: done in slices (the loop
 * claims files between them), every file and no sidecar leaves failed/,
 * none is lost. */
/* Its own suite, for its own timeout (10,000 files under valgrind): a
 * per-test .timeout leaks in Criterion 2.4's runner when tests run in
 * parallel (LeakSanitizer, make asan). */
TestSuite(control_bulk, .init = setup, .fini = teardown, .timeout = 240);

Test(control_bulk, requeue_all_of_10000_failed_files_keeps_the_loop_turning)
{
	const char *slurp;
	char *out, *log, *first_claim, *last_requeue;

	for (int i = 0; i < 10000; i++) {
		h_write(h_fmt("%s/f%05d.sea", env.failed, i), "x", 0644);
		h_write(h_fmt("%s/f%05d.sea.error", env.failed, i), "status=exit:1\n", 0644);
	}
	config("[\"/bin/true\", \"{file}\"]", "", "workers = 2;");
	h_start(&env, "-v", NULL);
	cr_assert(h_wait_ready(&env, 10000));
	out = CTL(0, "requeue", "d", "--all");
	cr_assert_str_eq(out, "requeued 10000 file(s)\n");
	free(out);
	cr_assert_eq(h_count(env.failed, NULL), 0, "files or sidecars stayed in failed/");
	log = h_slurp(env.log);
	first_claim = strstr(log, "event=claimed drop=d");
	slurp = log;
	last_requeue = NULL;
	for (char *p; (p = strstr(slurp, "event=requeued")); slurp = p + 1)
		last_requeue = p;
	cr_assert(first_claim && last_requeue && first_claim < last_requeue,
		  "nothing was claimed while the requeue ran: it held the loop");
	free(log);
	cr_assert_eq(h_stop(&env, SIGTERM, 60000), 0);
	cr_assert_eq(count_tree(env.root), 10000, "files were lost or doubled");
}

/* Item 5: reload over the socket answers ok, or the config's problems one
 * per line -- the lines --check-config prints -- and keeps the old one. */
Test(control, reload_answers_ok_or_the_configs_problems)
{
	char *out, *check, *line, *save = NULL;
	int rc;

	config("[\"/bin/true\", \"{file}\"]", "", "");
	start();
	out = CTL(0, "reload");
	cr_assert_str_eq(out, "");
	free(out);
	config("[\"/bin/true\", \"{file}\"]", "retries = -4;", "bogus = 1;\nworkers = \"many\";");
	rc = h_run(&env, &check, "--check-config", "-c", env.conf, NULL);
	cr_assert_eq(rc, 2);
	out = CTL(1, "reload");
	for (line = strtok_r(check, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		cr_assert(strstr(out, line), "reload did not say \"%s\":\n%s", line, out);
	cr_assert(strstr(out, "bogus") && strstr(out, "retries") && strstr(out, "workers"),
		  "%s", out);
	free(out);
	free(check);
	/* The old config still runs. */
	h_drop(&env, "a.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000));
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* Item 7: SIGUSR1, seawatchctl status and the metrics file read the same
 * numbers; "running" is a command running (one worker, three files: one
 * runs, two wait, sent ahead or not). */
Test(control, every_view_reads_the_same_counters)
{
	char prom[H_PATH + 16];

	snprintf(prom, sizeof(prom), "%s/seawatch.prom", env.out);
	one_runs_two_wait(h_fmt("metrics_file = \"%s\"; metrics_interval = \"1s\";", prom));
	kill(env.pid, SIGUSR1);
	cr_assert(h_wait_text(env.log, "queued=2 running=1 waiting=0", 5000));
	json_check("j['workers']['busy'] == 1 and j['drops'][0]['running'] == 1 and "
		   "j['drops'][0]['queued'] == 2");
	cr_assert(h_wait_text(prom, "seawatch_running_jobs{drop=\"d\"} 1", 5000));
	cr_assert(h_wait_text(prom, "seawatch_queued_files{drop=\"d\"} 2", 5000));
	cr_assert(h_wait_text(prom, "seawatch_workers{state=\"busy\"} 1", 5000));
	h_write(h_fmt("%s/go", env.out), "", 0644);
	cr_assert(h_wait_count(env.done, ".sea", 3, 10000));
	json_check("j['workers']['busy'] == 0 and j['drops'][0]['done'] == 3");
	cr_assert(h_wait_text(prom, "seawatch_files_total{drop=\"d\",outcome=\"done\"} 3", 5000));
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* Item 4 (review): a requeue whose collision name would not match the
 * drop's pattern (x.tar.1.gz for *.tar.gz) is refused, and the file stays
 * in failed/ with its sidecar -- never left in the drop for good. */
Test(control, a_requeue_that_would_strand_a_file_is_refused)
{
	char *out;

	config("[\"/bin/true\", \"{file}\"]", "pattern = \"*.tar.gz\";", "");
	start();
	free(CTL(0, "pause"));
	h_write(h_fmt("%s/x.tar.gz", env.failed), "old", 0644);
	h_write(h_fmt("%s/x.tar.gz.error", env.failed), "status=exit:1\n", 0644);
	h_drop(&env, "x.tar.gz", "new");
	out = CTL(1, "requeue", "d", "x.tar.gz");
	cr_assert(strstr(out, "x.tar.gz: one of that name waits in the drop"), "%s", out);
	free(out);
	cr_assert(h_exists(h_fmt("%s/x.tar.gz", env.failed)), "the file left failed/");
	cr_assert(h_exists(h_fmt("%s/x.tar.gz.error", env.failed)), "its sidecar went");
	cr_assert_eq(h_count(env.drop, NULL), 1, "a file was left in the drop");
	free(CTL(0, "resume"));
	cr_assert(h_wait_count(env.done, NULL, 1, 10000));
	/* Taken: now it can go. */
	free(CTL(0, "requeue", "d", "x.tar.gz"));
	cr_assert(h_wait_count(env.done, NULL, 2, 10000));
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* Item 3 (review): a resume while the drop cannot be opened (replaced by a
 * symlink) is not undone when the drop comes back: the mark in the spool
 * follows what was asked. */
Test(control, a_resume_while_the_drop_is_lost_holds_when_it_is_back)
{
	char *out;

	config("[\"/bin/true\", \"{file}\"]", "", "");
	start();
	free(CTL(0, "pause"));
	cr_assert_eq(rmdir(env.drop), 0);
	cr_assert(h_wait_text(env.log, "event=drop-lost", 10000));
	cr_assert_eq(symlink(env.out, env.drop), 0);
	cr_assert(h_wait_text(env.log, "event=spool-error", 10000), "the symlink was followed");
	out = CTL(0, "resume");
	cr_assert(strstr(out, "d: running (not saved"), "%s", out);
	free(out);
	cr_assert_eq(unlink(env.drop), 0);
	cr_assert_eq(mkdir(env.drop, 0755), 0);
	cr_assert(h_wait_text(env.log, "event=drop-back", 10000));
	h_drop(&env, "a.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000), "paused again when the drop came back");
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
	start();
	h_drop(&env, "b.sea", "x");
	cr_assert(h_wait_count(env.done, ".sea", 2, 10000), "paused again after a restart:\n%s",
		  h_slurp(env.log));
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}

/* Item 2 (review): -t bounds the whole exchange, the connection too: a
 * daemon whose backlog is full (stopped) gets exit 3, not a hang. */
Test(control, seawatchctl_gives_up_on_a_daemon_that_takes_no_connection)
{
	int fds[40], n = 0;
	char *out;

	config("[\"/bin/true\", \"{file}\"]", "", "");
	start();
	kill(env.pid, SIGSTOP);
	/* Fill its backlog: connections that would block now fail at once. */
	for (; n < 40; n++) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", h_sock(&env));
		fds[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		cr_assert_geq(fds[n], 0);
		if (connect(fds[n], (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			close(fds[n]);
			break;
		}
	}
	cr_assert_lt(n, 40, "the backlog never filled");
	out = CTL(3, "-t", "1", "status");
	cr_assert(strstr(out, "takes no connection"), "%s", out);
	free(out);
	kill(env.pid, SIGCONT);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0);
}
