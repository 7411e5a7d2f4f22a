/*
 * seawatchctl.c - the operator's tool: asks a running seawatchd, through
 * its control socket, for its status, to pause or resume drops, to requeue
 * failed files, or to reload its config (SPEC §8; the wire format is in
 * include/control.h).  Exit status: 0 done; 1 the daemon refused (the
 * reason on stderr); 2 usage; 3 no daemon answers on the socket.
 *
 * A separate program with no library: it links nothing of the daemon.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"

static const char *sock = CONTROL_SOCKET_DEFAULT;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: seawatchctl [-s SOCKET] [-t SECONDS] COMMAND [ARG...]\n"
		"\n"
		"  status [--json]          the daemon and each drop\n"
		"  pause [DROP...]          stop claiming new files (all drops if none named)\n"
		"  resume [DROP...]         claim again\n"
		"  requeue DROP NAME...     move files of DROP's failed/ back to processing\n"
		"  requeue DROP --all       ... every one of them\n"
		"  reload                   reload the config; prints its problems if any\n"
		"\n"
		"  -s, --socket SOCKET      the daemon's control_socket (default %s)\n"
		"  -t, --timeout SECONDS    wait this long for the answer (default 60)\n"
		"  -h, --help, --version\n"
		"\n"
		"Exit status: 0 done, 1 refused by the daemon, 2 usage, 3 no daemon answers.\n",
		CONTROL_SOCKET_DEFAULT);
}

static int bad_usage(const char *fmt, const char *arg)
{
	fputs("seawatchctl: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\n", stderr);
	usage(stderr);
	return 2;
}

/* The command line makes sense (the daemon checks again). */
static int check(int argc, char **argv)
{
	const char *c = argv[0];

	if (!strcmp(c, "status")) {
		if (argc > 2 || (argc == 2 && strcmp(argv[1], "--json")))
			return bad_usage("status takes only --json%s", "");
	} else if (!strcmp(c, "reload")) {
		if (argc != 1)
			return bad_usage("reload takes no argument%s", "");
	} else if (!strcmp(c, "requeue")) {
		if (argc < 3)
			return bad_usage("requeue needs a drop and file names, or --all%s", "");
		for (int i = 2; i < argc; i++)
			if (!strcmp(argv[i], "--all") && argc != 3)
				return bad_usage("requeue DROP --all takes no file names%s", "");
	} else if (strcmp(c, "pause") && strcmp(c, "resume")) {
		return bad_usage("unknown command: %s", c);
	}
	for (int i = 0; i < argc; i++)
		if (!argv[i][0])
			return bad_usage("an empty argument%s", "");
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for FD to be ready for EV until DEADLINE.  0, or -1 (timed out). */
static int wait_for(int fd, short ev, int64_t deadline)
{
	struct pollfd p = { fd, ev, 0 };

	for (;;) {
		int64_t left = deadline - now_ms();
		int r;

		if (left <= 0)
			return -1;
		r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

static int no_daemon(const char *why)
{
	fprintf(stderr, "seawatchctl: no daemon answers on %s: %s\n", sock, why);
	return 3;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *reply = NULL, *body;
	size_t len = 0, cap = 0;
	int64_t deadline;
	double timeout = 60;
	int c, fd, rc;

	/* "+": the options end at the command (requeue DROP --all). */
	while ((c = getopt_long(argc, argv, "+s:t:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock = optarg;
			break;
		case 't': {
			char *end;

			timeout = strtod(optarg, &end);
			if (*end || !(timeout > 0) || timeout > 86400)
				return bad_usage("-t wants seconds, more than 0: %s", optarg);
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("seawatchctl %s\n", SW_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return bad_usage("no command%s", "");
	if ((rc = check(argc, argv)) != 0)
		return rc;
	if (strlen(sock) >= sizeof(sa.sun_path))
		return bad_usage("socket path too long: %s", sock);
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	deadline = now_ms() + (int64_t)(timeout * 1000);
	/* Non-blocking: a daemon whose backlog is full (stopped, say) makes
	 * connect() wait without end; -t bounds it. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return no_daemon(strerror(errno));
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		if (errno != EAGAIN && errno != EINTR)
			return no_daemon(strerror(errno));
		if (now_ms() >= deadline)
			return no_daemon("it takes no connection (its backlog is full; see -t)");
		nanosleep(&ts, NULL);
	}
	/* The words, each ended by a NUL, then the end of the request. */
	for (int i = 0; i < argc; i++) {
		const char *p = argv[i];
		size_t left = strlen(p) + 1;

		while (left > 0) {
			ssize_t n;

			if (wait_for(fd, POLLOUT, deadline) < 0)
				return no_daemon("it does not take the request");
			n = send(fd, p, left, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				/* It may have answered already (a refusal). */
				break;
			}
			if (n > 0) {
				p += n;
				left -= (size_t)n;
			}
		}
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		ssize_t n;

		if (len + 4096 + 1 > cap) {
			char *p = realloc(reply, cap = 2 * cap + 8192);

			if (!p) {
				fputs("seawatchctl: out of memory\n", stderr);
				return 3;
			}
			reply = p;
		}
		if (wait_for(fd, POLLIN, deadline) < 0)
			return no_daemon("no answer in time (see -t); what was asked may still be "
					 "under way");
		n = recv(fd, reply + len, cap - len - 1, MSG_DONTWAIT);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			if (len)
				break;   /* reset after the answer: it is whole */
			return no_daemon(strerror(errno));
		}
		len += (size_t)n;
	}
	close(fd);
	if (!reply || !len)
		return no_daemon("it closed the connection without an answer");
	reply[len] = '\0';
	body = strchr(reply, '\n');
	body = body ? body + 1 : reply + len;
	if (!strncmp(reply, "ok\n", 3)) {
		fputs(body, stdout);
		rc = fflush(stdout) == 0 ? 0 : 1;
	} else if (!strncmp(reply, "error\n", 6) || !strncmp(reply, "usage\n", 6)) {
		fprintf(stderr, "seawatchctl: %s", body);
		rc = reply[0] == 'e' ? 1 : 2;
	} else {
		fprintf(stderr, "seawatchctl: an answer it does not understand from %s\n", sock);
		rc = 3;
	}
	free(reply);
	return rc;
}
