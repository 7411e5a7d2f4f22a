/*
 * notify.c - sd_notify by hand (see notify.h), after systemd's
 * man/notify-selfcontained-example.c: an AF_UNIX datagram to
 * $NOTIFY_SOCKET, "@" meaning the abstract namespace, the address length
 * counting only the name's bytes.
 */
#include "notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "drop.h"
#include "loop.h"
#include "pool.h"
#include "stats.h"
#include "sys.h"

#define STATUS_EVERY_MS 1000

static struct {
	int fd;
	struct sockaddr_un addr;
	socklen_t addrlen;
	int64_t watchdog_ms;      /* half the period, 0: none */
	struct timer watchdog;
	struct timer status;
	int64_t status_sent_at;
	char last[256];
} N = { .fd = -1 };

static void send_text(const char *text)
{
	struct iovec iov = { (void *)text, strlen(text) };
	struct msghdr mh = { .msg_name = &N.addr, .msg_namelen = N.addrlen,
			     .msg_iov = &iov, .msg_iovlen = 1 };

	if (N.fd < 0)
		return;
	/* Never wait: a service manager that stops reading must not stall
	 * the loop (a full queue loses a ping or a status, not a file). */
	while (sendmsg(N.fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno == EINTR)
		;
}

static void ping(void *arg)
{
	(void)arg;
	send_text("WATCHDOG=1");
	loop_arm(&N.watchdog, sys_now_ms() + N.watchdog_ms);
}

void notify_status_line(char *buf, unsigned size)
{
	struct sw_gauges g;
	int drops = 0;

	for (struct drop *d = drops_first(); d; d = d->next)
		if (!d->retiring)
			drops++;
	core_gauges(&g);
	snprintf(buf, size, "%s%d drops, %d workers: %d queued, %d running, %d waiting; "
		 "%llu done, %llu failed since start", core_stopping() ? "stopping: " : "",
		 drops, core_cfg()->workers, g.queued, g.running, g.waiting, stats_get(STAT_DONE),
		 stats_get(STAT_FAILED));
}

/* STATUS=, if it says something new. */
static void send_status(void *arg)
{
	char line[sizeof(N.last)], msg[sizeof(N.last) + 16];

	(void)arg;
	notify_status_line(line, sizeof(line));
	if (!strcmp(line, N.last))
		return;
	snprintf(N.last, sizeof(N.last), "%s", line);
	snprintf(msg, sizeof(msg), "STATUS=%s", line);
	send_text(msg);
	N.status_sent_at = sys_now_ms();
}

void notify_init(void)
{
	const char *path = getenv("NOTIFY_SOCKET"), *usec = getenv("WATCHDOG_USEC");
	const char *wpid = getenv("WATCHDOG_PID");
	size_t len;

	timer_init(&N.watchdog, ping, NULL);
	timer_init(&N.status, send_status, NULL);
	if (usec && (!wpid || strtol(wpid, NULL, 10) == (long)getpid())) {
		long long us = strtoll(usec, NULL, 10);

		if (us > 0)
			N.watchdog_ms = us / 2000 > 0 ? us / 2000 : 1;
	}
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	if (!path || (path[0] != '/' && path[0] != '@') ||
	    (len = strlen(path)) >= sizeof(N.addr.sun_path)) {
		unsetenv("NOTIFY_SOCKET");
		N.watchdog_ms = 0;
		return;
	}
	memset(&N.addr, 0, sizeof(N.addr));
	N.addr.sun_family = AF_UNIX;
	memcpy(N.addr.sun_path, path, len);
	if (path[0] == '@')
		N.addr.sun_path[0] = '\0';
	N.addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	unsetenv("NOTIFY_SOCKET");
	N.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (N.fd < 0)
		N.watchdog_ms = 0;
}

void notify_ready(void)
{
	char line[sizeof(N.last)], msg[sizeof(N.last) + 32];

	if (N.fd < 0)
		return;
	notify_status_line(line, sizeof(line));
	snprintf(N.last, sizeof(N.last), "%s", line);
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", line);
	send_text(msg);
	N.status_sent_at = sys_now_ms();
	if (N.watchdog_ms && !timer_armed(&N.watchdog))
		ping(NULL);
}

void notify_reloading(void)
{
	struct timespec ts;
	char msg[64];

	if (N.fd < 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
	send_text(msg);
}

void notify_stopping(void)
{
	char line[sizeof(N.last)], msg[sizeof(N.last) + 32];

	if (N.fd < 0)
		return;
	notify_status_line(line, sizeof(line));
	snprintf(msg, sizeof(msg), "STOPPING=1\nSTATUS=%s", line);
	send_text(msg);
}

void notify_changed(void)
{
	int64_t at;

	if (N.fd < 0 || timer_armed(&N.status))
		return;
	/* At most once a second; the first change after a quiet spell at
	 * once (the next turn of the loop). */
	at = N.status_sent_at + STATUS_EVERY_MS;
	loop_arm(&N.status, at);
}

void notify_free(void)
{
	loop_cancel(&N.watchdog);
	loop_cancel(&N.status);
	if (N.fd >= 0)
		close(N.fd);
	N.fd = -1;
}
