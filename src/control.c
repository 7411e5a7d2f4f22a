/*
 * control.c - the control socket (see control.h).
 *
 * Nothing here blocks: the listening socket and every client are
 * non-blocking, a request is read as it comes (at most
 * CONTROL_REQUEST_MAX bytes), a reply is written as the client takes it,
 * and each client has a deadline.  A client that hangs up at any point is
 * forgotten; SIGPIPE is ignored and every send says MSG_NOSIGNAL.
 */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core.h"
#include "drop.h"
#include "log.h"
#include "loop.h"
#include "master.h"
#include "requeue.h"
#include "sbuf.h"
#include "status.h"
#include "sys.h"

#define RELISTEN_MS 1000   /* out of descriptors: accept again after */

enum phase { C_READ, C_BUSY, C_WRITE };

struct client {
	int fd;               /* -1: the slot is free */
	enum phase phase;
	char *in;
	size_t inlen, incap;
	struct sbuf out;
	size_t sent;
	uid_t uid;
	pid_t pid;
	struct timer deadline;
};

static struct {
	int fd, lockfd, dirfd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char *name;     /* in path */
	ino_t ino;            /* of the socket bound */
	gid_t gid;            /* its group */
	int said_changed;
	int ready;            /* control_open() set the slots up */
	struct timer relisten;
	struct client c[CONTROL_CLIENTS];
} K = { .fd = -1, .lockfd = -1, .dirfd = -1 };

static void forget(struct client *c)
{
	if (c->fd < 0)
		return;
	loop_cancel(&c->deadline);
	if (c->phase == C_BUSY)
		requeue_forget(c);
	loop_unwatch(c->fd);
	close(c->fd);
	c->fd = -1;
	free(c->in);
	c->in = NULL;
	c->inlen = c->incap = 0;
	sbuf_free(&c->out);
}

static void write_some(struct client *c)
{
	while (c->sent < c->out.len) {
		ssize_t n = send(c->fd, c->out.p + c->sent, c->out.len - c->sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			c->sent += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			loop_events(c->fd, POLLOUT);
			return;
		} else {
			break;   /* gone mid-reply: nothing lost, nothing to do */
		}
	}
	forget(c);
}

/* The reply is in c->out: send it, within CONTROL_WRITE_MS. */
static void reply(struct client *c)
{
	if (c->out.oom) {
		sbuf_free(&c->out);
		sbuf_put(&c->out, "error\nout of memory\n");
	}
	c->phase = C_WRITE;
	loop_arm(&c->deadline, sys_now_ms() + CONTROL_WRITE_MS);
	write_some(c);
}

static void usage(struct client *c, const char *fmt, const char *arg)
{
	sbuf_put(&c->out, "usage\n");
	sbuf_put(&c->out, fmt, arg);
	sbuf_put(&c->out, "\n");
}

/* The drops named (all of them when none is), or a refusal naming the
 * unknown one.  N drops into *OUT (malloc'd). */
static int pick_drops(struct client *c, int argc, char **argv, struct drop ***out)
{
	struct drop **ds, *d;
	int n = 0, cap = argc;

	for (d = drops_first(); d; d = d->next)
		cap++;
	ds = calloc((size_t)cap + 1, sizeof(*ds));
	if (!ds) {
		sbuf_put(&c->out, "error\nout of memory\n");
		return -1;
	}
	if (argc == 0) {
		for (d = drops_first(); d; d = d->next)
			if (!d->retiring)
				ds[n++] = d;
	}
	for (int i = 0; i < argc; i++) {
		if (!(d = drop_by_name(argv[i]))) {
			sbuf_put(&c->out, "error\nno drop named \"%s\"\n", argv[i]);
			free(ds);
			return -1;
		}
		ds[n++] = d;
	}
	*out = ds;
	return n;
}

static void pause_resume(struct client *c, int pause, int argc, char **argv)
{
	struct drop **ds;
	struct sbuf body = { 0 };
	int n = pick_drops(c, argc, argv, &ds);

	if (n < 0)
		return;
	for (int i = 0; i < n; i++) {
		int saved = 1, changed = pause ? drop_pause(ds[i], &saved) :
					   drop_resume(ds[i], &saved);

		sbuf_put(&body, "%s: %s%s%s\n", ds[i]->cfg->name, changed ? "" : "already ",
			 pause ? "paused" : "running",
			 saved ? "" : pause ? " (not saved: it runs again after a restart)" :
			 " (not saved: it is paused again after a restart)");
	}
	sbuf_put(&c->out, "ok\n");
	if (body.p)
		sbuf_add(&c->out, body.p, body.len);
	if (body.oom)
		c->out.oom = 1;
	sbuf_free(&body);
	free(ds);
}

static void requeued_all(void *arg, const struct requeue_result *r)
{
	struct client *c = arg;

	if (r->refused)
		sbuf_put(&c->out, "error\nrequeued %u file(s); %u refused, the first: %s: %s\n",
			 r->moved, r->refused, r->first_name, r->first_why);
	else
		sbuf_put(&c->out, "ok\nrequeued %u file(s)\n", r->moved);
	if (r->newer)
		sbuf_put(&c->out, "%u file(s) that failed while this ran were left in failed/\n",
			 r->newer);
	reply(c);
}

/* 1 if the reply is ready, 0 if it comes later (requeue --all). */
static int requeue(struct client *c, int argc, char **argv)
{
	struct drop *d;
	struct sbuf ok = { 0 }, bad = { 0 };
	char final[NAME_MAX + 1];
	const char *why;

	if (argc < 2) {
		usage(c, "requeue DROP NAME... | requeue DROP --all%s", "");
		return 1;
	}
	if (!(d = drop_by_name(argv[0]))) {
		sbuf_put(&c->out, "error\nno drop named \"%s\"\n", argv[0]);
		return 1;
	}
	if (!strcmp(argv[1], "--all")) {
		if (argc != 2) {
			usage(c, "requeue DROP --all takes no names%s", "");
			return 1;
		}
		if (requeue_all(d, requeued_all, c, &why) < 0) {
			sbuf_put(&c->out, "error\n%s\n", why);
			return 1;
		}
		c->phase = C_BUSY;
		loop_cancel(&c->deadline);
		loop_events(c->fd, 0);   /* a hang-up still wakes it */
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (requeue_one(d, argv[i], final, sizeof(final), &why) == 0) {
			if (strcmp(final, argv[i]))
				sbuf_put(&ok, "%s: requeued as %s (one of that name waits in the drop)\n",
					 argv[i], final);
			else
				sbuf_put(&ok, "%s: requeued\n", argv[i]);
		} else {
			sbuf_put(&bad, "%s: %s\n", argv[i], why);
		}
	}
	sbuf_put(&c->out, bad.len ? "error\n" : "ok\n");
	if (ok.len)
		sbuf_add(&c->out, ok.p, ok.len);
	if (bad.len)
		sbuf_add(&c->out, bad.p, bad.len);
	if (ok.oom || bad.oom)
		c->out.oom = 1;
	sbuf_free(&ok);
	sbuf_free(&bad);
	return 1;
}

static void reload(struct client *c)
{
	char *why = NULL;

	if (master_reload(&why) == 0)
		sbuf_put(&c->out, "ok\n");
	else
		sbuf_put(&c->out, "error\n%s", why ? why : "out of memory\n");
	free(why);
}

/* Run the request ARGV[0..ARGC).  1 if the reply is ready. */
static int run(struct client *c, int argc, char **argv)
{
	const char *cmd = argc ? argv[0] : "";

	if (!strcmp(cmd, "status")) {
		int json = argc == 2 && !strcmp(argv[1], "--json");

		if (argc > 2 || (argc == 2 && !json)) {
			usage(c, "status [--json]%s", "");
			return 1;
		}
		sbuf_put(&c->out, "ok\n");
		status_render(&c->out, json);
		return 1;
	}
	if (strcmp(cmd, "pause") && strcmp(cmd, "resume") && strcmp(cmd, "requeue") &&
	    strcmp(cmd, "reload")) {
		usage(c, "unknown command \"%.64s\": status, pause, resume, requeue, reload",
		      cmd);
		return 1;
	}
	if (core_stopping()) {
		sbuf_put(&c->out, "error\nthe daemon is stopping\n");
		return 1;
	}
	log_info("event=control command=%s uid=%u pid=%d", cmd, (unsigned)c->uid, (int)c->pid);
	if (!strcmp(cmd, "reload")) {
		if (argc != 1)
			usage(c, "reload takes no argument%s", "");
		else
			reload(c);
		return 1;
	}
	if (!strcmp(cmd, "requeue"))
		return requeue(c, argc - 1, argv + 1);
	pause_resume(c, !strcmp(cmd, "pause"), argc - 1, argv + 1);
	return 1;
}

/* The request is whole: its words, then the reply. */
static void handle(struct client *c)
{
	char **argv, *p, *end, *nl;
	int argc = 0;

	/* From now on only a hang-up or room to write wakes it: more input
	 * is not read (shutdown(SHUT_RD) would fail a client that still
	 * writes). */
	loop_cancel(&c->deadline);
	loop_events(c->fd, 0);
	argv = calloc(c->inlen + 2, sizeof(*argv));
	if (!argv) {
		sbuf_put(&c->out, "error\nout of memory\n");
		reply(c);
		return;
	}
	if (c->in) {
		end = c->in + c->inlen;
		if (!memchr(c->in, '\0', c->inlen)) {
			/* One line of words, for a person with socat. */
			if ((nl = memchr(c->in, '\n', c->inlen)))
				end = nl;
			for (p = c->in; p < end; p++)
				if (*p == ' ' || *p == '\t' || *p == '\r')
					*p = '\0';
		}
		*end = '\0';   /* the byte kept beyond the request */
		for (p = c->in; p < end; p += strlen(p) + 1)
			if (*p)
				argv[argc++] = p;
	}
	if (run(c, argc, argv))
		reply(c);
	free(argv);
}

static void read_some(struct client *c)
{
	for (;;) {
		ssize_t n;

		if (c->inlen == c->incap) {
			size_t cap = c->incap ? 2 * c->incap : 512;
			char *p;

			if (c->incap > CONTROL_REQUEST_MAX) {
				sbuf_put(&c->out, "error\nrequest too long (at most %d bytes)\n",
					 CONTROL_REQUEST_MAX);
				loop_events(c->fd, 0);
				reply(c);
				return;
			}
			if (cap > CONTROL_REQUEST_MAX + 1)
				cap = CONTROL_REQUEST_MAX + 1;
			/* One byte more than the request, for its last NUL. */
			if (!(p = realloc(c->in, cap + 1))) {
				forget(c);
				return;
			}
			c->in = p;
			c->incap = cap;
		}
		n = recv(c->fd, c->in + c->inlen, c->incap - c->inlen, MSG_DONTWAIT);
		if (n > 0) {
			int text = !memchr(c->in, '\0', c->inlen + (size_t)n);

			c->inlen += (size_t)n;
			if (text && memchr(c->in + c->inlen - (size_t)n, '\n', (size_t)n)) {
				handle(c);
				return;
			}
		} else if (n == 0) {
			handle(c);
			return;
		} else if (errno == EINTR) {
			continue;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			return;
		} else {
			forget(c);
			return;
		}
	}
}

static void on_client(void *arg)
{
	struct client *c = arg;

	switch (c->phase) {
	case C_READ:
		read_some(c);
		break;
	case C_WRITE:
		write_some(c);
		break;
	case C_BUSY:
		/* Only a hang-up wakes it: the work goes on, unanswered. */
		forget(c);
		break;
	}
}

static void too_slow(void *arg)
{
	struct client *c = arg;

	log_debug("event=control-timeout uid=%u pid=%d phase=%s", (unsigned)c->uid, (int)c->pid,
		  c->phase == C_READ ? "request" : "reply");
	forget(c);
}

/* Root, the daemon's user, or a member of the socket's group. */
static int allowed(int fd, struct ucred *cr)
{
	gid_t groups[512];
	socklen_t l = sizeof(*cr), gl = sizeof(groups);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cr, &l) < 0)
		return 0;
	if (cr->uid == 0 || cr->uid == geteuid() || cr->gid == K.gid)
		return 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &gl) == 0)
		for (size_t i = 0; i < gl / sizeof(gid_t); i++)
			if (groups[i] == K.gid)
				return 1;
	return 0;
}

/* A last word to a client that is not served (best effort, never waits). */
static void turn_away(int fd, const char *text)
{
	if (send(fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		return;   /* it is closed anyway */
}

static void on_listen(void *arg);

static void relisten(void *arg)
{
	(void)arg;
	if (K.fd >= 0)
		loop_watch(K.fd, LOOP_PRIO_CONTROL, on_listen, NULL);
}

static void on_listen(void *arg)
{
	(void)arg;
	for (int n = 0; n < CONTROL_CLIENTS; n++) {
		struct client *c = NULL;
		struct ucred cr = { 0, 0, 0 };
		int fd = accept4(K.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* The connection waits in the backlog; polling
				 * again now would spin. */
				log_err("event=control-accept-failed error=%s retry_ms=%d",
					log_q(strerror(errno)), RELISTEN_MS);
				loop_unwatch(K.fd);
				loop_arm(&K.relisten, sys_now_ms() + RELISTEN_MS);
			}
			return;
		}
		if (!allowed(fd, &cr)) {
			log_warn("event=control-refused uid=%u pid=%d reason=not-allowed",
				 (unsigned)cr.uid, (int)cr.pid);
			turn_away(fd, "error\nnot allowed: root, the daemon's user or a member of "
				  "the socket's group only\n");
			close(fd);
			continue;
		}
		for (int i = 0; i < CONTROL_CLIENTS && !c; i++)
			if (K.c[i].fd < 0)
				c = &K.c[i];
		if (!c || loop_watch(fd, LOOP_PRIO_CONTROL, on_client, c) < 0) {
			log_warn("event=control-refused uid=%u pid=%d reason=busy", (unsigned)cr.uid,
				 (int)cr.pid);
			turn_away(fd, "error\nbusy: too many clients at once, try again\n");
			close(fd);
			continue;
		}
		c->fd = fd;
		c->phase = C_READ;
		c->sent = 0;
		c->uid = cr.uid;
		c->pid = cr.pid;
		loop_arm(&c->deadline, sys_now_ms() + CONTROL_READ_MS);
		read_some(c);   /* the request is often there already */
	}
	/* More may wait: at the next turn, after the others' work. */
	loop_again(K.fd);
}

/* The socket's directory, made 0750 if missing; refused if a symlink,
 * another user's, or writable by others (who could swap the socket). */
static int open_dir(const char *dir, const char **why)
{
	struct stat st;
	int fd;

	if (mkdir(dir, 0750) == 0)
		log_info("event=control-dir-made path=%s", log_q(dir));
	else if (errno != EEXIST)
		return *why = strerror(errno), -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return *why = errno == ELOOP || errno == ENOTDIR ? "its directory is not a directory "
			"(a symlink?)" : strerror(errno), -1;
	if (fstat(fd, &st) < 0 || (st.st_uid != geteuid() && st.st_uid != 0) ||
	    (st.st_mode & S_IWOTH)) {
		close(fd);
		return *why = "its directory is another user's or writable by others: give it "
			"a directory of its own, such as /run/seawatch", -1;
	}
	K.gid = st.st_gid;
	return fd;
}

/* Something answers on PATH: another daemon lives. */
static int answers(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), r;

	if (fd < 0)
		return 0;
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	r = r == 0 || errno == EAGAIN || errno == EINPROGRESS;
	close(fd);
	return r;
}

static int bind_socket(const char **why)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char lock[NAME_MAX + 1];
	struct stat st;

	memcpy(sa.sun_path, K.path, strlen(K.path) + 1);
	/* Two daemons starting at once: the lock decides (a socket cannot
	 * be taken over atomically). */
	snprintf(lock, sizeof(lock), ".%.200s.lock", K.name);
	K.lockfd = openat(K.dirfd, lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (K.lockfd < 0)
		return *why = strerror(errno), -1;
	if (flock(K.lockfd, LOCK_EX | LOCK_NB) < 0)
		return *why = "another seawatchd serves it", -1;
	if (fstatat(K.dirfd, K.name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return *why = "something that is not a socket is there", -1;
		if (answers(&sa))
			return *why = "another program answers on it", -1;
		/* Left by a crash (its daemon is gone, its lock free). */
		if (unlinkat(K.dirfd, K.name, 0) < 0)
			return *why = strerror(errno), -1;
		log_info("event=control-stale-removed path=%s", log_q(K.path));
	}
	K.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (K.fd < 0 || bind(K.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return *why = strerror(errno), -1;
	/* The directory's group, so that its owner says who may connect. */
	if (K.gid != getegid() && fchownat(K.dirfd, K.name, (uid_t)-1, K.gid,
					   AT_SYMLINK_NOFOLLOW) < 0) {
		log_warn("event=control-group-kept path=%s error=%s", log_q(K.path),
			 log_q(strerror(errno)));
		K.gid = getegid();
	}
	if (fchmodat(K.dirfd, K.name, 0660, 0) < 0 ||
	    fstatat(K.dirfd, K.name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    listen(K.fd, CONTROL_CLIENTS) < 0)
		return *why = strerror(errno), -1;
	K.ino = st.st_ino;
	return 0;
}

int control_open(void)
{
	const char *p = core_cfg()->control_socket, *why = "";
	char dir[sizeof(K.path)];

	for (int i = 0; i < CONTROL_CLIENTS; i++) {
		K.c[i].fd = -1;
		timer_init(&K.c[i].deadline, too_slow, &K.c[i]);
	}
	timer_init(&K.relisten, relisten, NULL);
	K.ready = 1;
	status_started();
	if (!p)
		return 0;
	snprintf(K.path, sizeof(K.path), "%s", p);
	K.name = strrchr(K.path, '/') + 1;
	snprintf(dir, sizeof(dir), "%.*s", (int)(K.name - 1 - K.path), K.path);
	if ((K.dirfd = open_dir(dir[0] ? dir : "/", &why)) < 0 || bind_socket(&why) < 0 ||
	    loop_watch(K.fd, LOOP_PRIO_CONTROL, on_listen, NULL) < 0) {
		log_err("event=start-failed control_socket=%s error=%s", log_q(K.path),
			log_q(why[0] ? why : strerror(errno)));
		if (K.fd >= 0 && K.ino == 0) {
			close(K.fd);
			K.fd = -1;
		}
		control_close();
		return -1;
	}
	log_info("event=control path=%s", log_q(K.path));
	return 0;
}

void control_reconfigured(void)
{
	const char *p = core_cfg()->control_socket;

	if (!strcmp(p ? p : "", K.fd >= 0 ? K.path : ""))
		K.said_changed = 0;
	else if (!K.said_changed) {
		K.said_changed = 1;
		log_warn("event=config-warning text=%s",
			 log_q("control_socket changed: it takes a restart (the socket stays "
			       "where it was)"));
	}
}

void control_close(void)
{
	struct stat st;

	if (!K.ready)
		return;   /* the start failed before */
	for (int i = 0; i < CONTROL_CLIENTS; i++)
		forget(&K.c[i]);
	loop_cancel(&K.relisten);
	if (K.fd >= 0) {
		loop_unwatch(K.fd);
		close(K.fd);
		K.fd = -1;
		/* Ours still (not a successor's): removed. */
		if (fstatat(K.dirfd, K.name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_ino == K.ino)
			unlinkat(K.dirfd, K.name, 0);
	}
	if (K.lockfd >= 0)
		close(K.lockfd);
	if (K.dirfd >= 0)
		close(K.dirfd);
	K.lockfd = K.dirfd = -1;
}
