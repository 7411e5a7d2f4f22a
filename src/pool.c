/*
 * pool.c - worker processes (see pool.h).
 */
#include "compat.h"
#include "pool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "core.h"
#include "dispatch.h"
#include "drop.h"
#include "log.h"
#include "loop.h"
#include "policy.h"
#include "proto.h"
#include "stats.h"
#include "sys.h"
#include "worker.h"

#define RESPAWN_MIN_MS 1000   /* a worker is restarted at most once a second */
#define GIVE_UP_AFTER  5      /* --once: workers in a row that never came up */

struct worker {
	int index;
	pid_t pid;
	int fd;            /* -1 when not running */
	int ready;         /* said hello: jobs may be sent */
	int64_t spawned;
	struct timer respawn;
	int wstatus;       /* from waitpid(), once reaped */
	int reaped;
	int untold;        /* lost: 1 died, 2 never came up; said once reaped */
	int64_t respawn_in;
};

/* Workers whose socket closed but who were not reaped yet when their slot
 * was given to a new one: their end is said when the reaper sees them. */
#define UNTOLD_MAX 16
static struct untold {
	pid_t pid;
	int index, kind;
	int64_t respawn_in;
} untold_q[UNTOLD_MAX];

static struct {
	struct worker **w; /* each allocated once: its timer never moves */
	int n;
	int exefd;         /* the worker binary, to start workers from */
	char exepath[PATH_MAX];
	int start_failures;   /* workers in a row that died before hello */
	int gave_up;
} P = { .exefd = -1 };

/*
 * The worker binary, held open: workers start from this very file even if
 * a package upgrade replaces it on disk meanwhile.  The small static
 * seawatch-worker beside this binary (the build tree) or in LIBEXECDIR;
 * failing that, this binary in its --worker mode.
 */
int pool_init(void)
{
	char self[PATH_MAX], *slash;
	const char *cands[2];
	int i, n = (int)readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return -1;
	self[n] = '\0';
	slash = strrchr(self, '/');
	snprintf(P.exepath, sizeof(P.exepath), "%.*s/seawatch-worker",
		 slash ? (int)(slash - self) : 1, slash ? self : ".");
	cands[0] = P.exepath;
	cands[1] = LIBEXECDIR "/seawatch/seawatch-worker";
	for (i = 0; i < 2; i++) {
		P.exefd = open(cands[i], O_RDONLY | O_CLOEXEC);
		if (P.exefd >= 0) {
			if (i)
				snprintf(P.exepath, sizeof(P.exepath), "%s", cands[i]);
			log_debug("event=worker-binary path=%s", log_q(P.exepath));
			return 0;
		}
	}
	P.exefd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	snprintf(P.exepath, sizeof(P.exepath), "%s", self);
	log_debug("event=worker-binary path=%s mode=--worker", log_q(P.exepath));
	return P.exefd < 0 ? -1 : 0;
}

int pool_size(void)
{
	return P.n;
}

int pool_usable(int wi)
{
	const struct worker *w = wi < P.n ? P.w[wi] : NULL;

	return w && w->fd >= 0 && w->ready && wi < core_cfg()->workers;
}

pid_t pool_pid(int wi)
{
	return P.w[wi]->pid;
}

int pool_send(int wi, const void *buf, size_t len)
{
	if (P.w[wi]->fd < 0 || sys_send(P.w[wi]->fd, buf, len) < 0)
		return -1;
	return 0;
}

/* Give worker WI attempts table ID (or, with FD -1, make it forget it).
 * A worker that misses it fails that drop's attempts with
 * status=spawn:EBADF rather than run them uncounted. */
void pool_send_spool(int wi, uint32_t id, int fd)
{
	struct msg_ctl m = { MSG_SPOOL, id };
	struct iovec iov = { &m, sizeof(m) };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} c;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (P.w[wi]->fd < 0)
		return;
	if (fd >= 0) {
		memset(&c, 0, sizeof(c));
		mh.msg_control = c.buf;
		mh.msg_controllen = sizeof(c.buf);
		c.h.cmsg_level = SOL_SOCKET;
		c.h.cmsg_type = SCM_RIGHTS;
		c.h.cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(&c.h), &fd, sizeof(int));
	}
	if (sendmsg(P.w[wi]->fd, &mh, MSG_NOSIGNAL) < 0)
		log_debug("event=spool-send-failed worker=%d error=%s", wi,
			  log_q(strerror(errno)));
}

void pool_ring(int wi)
{
	sys_kill(P.w[wi]->pid, SIGURG);
}

void pool_kill(int wi)
{
	sys_kill(P.w[wi]->pid, SIGKILL);   /* its socket's end is its death */
}

void pool_abort(int wi)
{
	/* Workers ignore SIGTERM (a service manager may send it to the
	 * whole group): SIGUSR2 is the master's. */
	if (P.w[wi]->fd >= 0)
		sys_kill(P.w[wi]->pid, SIGUSR2);
}

int pool_gave_up(void)
{
	return P.gave_up;
}

/* The line that says how a worker ended (as nginx says it: "exited on
 * signal 9"), once its socket has closed and its exit status is known,
 * whichever comes last. */
static void say_death(int index, pid_t pid, int kind, int wstatus, int64_t respawn_in)
{
	char how[64];

	policy_wait_status(wstatus, how, sizeof(how));
	if (kind == 2)
		log_err("event=worker-start-failed worker=%d pid=%ld how=%s failures=%d",
			index, (long)pid, how, P.start_failures);
	else
		log_warn("event=worker-died worker=%d pid=%ld how=%s respawn_in_ms=%lld",
			 index, (long)pid, how, (long long)respawn_in);
}

static void tell_death(struct worker *w)
{
	if (!w->untold || !w->reaped)
		return;
	say_death(w->index, w->pid, w->untold, w->wstatus, w->respawn_in);
	w->untold = 0;
}

void pool_reaped(pid_t pid, int wstatus)
{
	for (int i = 0; i < P.n; i++)
		if (P.w[i]->pid == pid && !P.w[i]->reaped) {
			P.w[i]->wstatus = wstatus;
			P.w[i]->reaped = 1;
			tell_death(P.w[i]);
			return;
		}
	for (int i = 0; i < UNTOLD_MAX; i++)
		if (untold_q[i].pid == pid) {
			say_death(untold_q[i].index, pid, untold_q[i].kind, wstatus,
				  untold_q[i].respawn_in);
			untold_q[i].pid = 0;
			return;
		}
}

/* Slot W goes to a new process: an end not said yet is kept for the
 * reaper (the socket can close before the process is a zombie). */
static void keep_untold(struct worker *w)
{
	if (!w->untold || w->reaped)
		return;
	for (int i = 0; i < UNTOLD_MAX; i++)
		if (!untold_q[i].pid) {
			untold_q[i] = (struct untold){ w->pid, w->index, w->untold, w->respawn_in };
			break;
		}
	w->untold = 0;
}

static void on_readable(void *arg);

static void spawn(struct worker *w)
{
	int i = w->index;
	char uid[16] = "-1", gid[16] = "-1", idx[16], cg[PATH_MAX];
	/* The last argument is room for the title the worker shows in ps
	 * ("seawatch-worker: DROP/NAME"): written over its own argv, no
	 * system call. */
	static char room[] = "                                                                "
			     "                                                                "
			     "                                                                ";
	char *argv[] = { "seawatchd", "--worker", uid, gid, idx, cg, room, NULL };
	const struct sw_config *c = core_cfg();
	extern char **environ;
	sigset_t none;
	int sv[2];
	pid_t pid;

	/* Looked up when the config was loaded (it refuses an unknown user
	 * or group: never fall back to running commands as root). */
	snprintf(uid, sizeof(uid), "%ld", c->run_uid);
	snprintf(gid, sizeof(gid), "%ld", c->run_gid);
	/* Its CPU, round robin (-1: let the scheduler place it). */
	snprintf(idx, sizeof(idx), "%d", c->cpu_affinity == SW_AFFINITY_SPREAD ? i : -1);
	w->spawned = sys_now_ms();
	loop_cancel(&w->respawn);
	if (cg_worker_path(i, cg, sizeof(cg)) < 0)
		goto fail;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		goto fail;
	sigemptyset(&none);
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		goto fail;
	}
	if (pid == 0) {
		/* The master has a second thread: only async-signal-safe
		 * calls until exec.  Nothing else the master holds (the
		 * inotify descriptor included) may reach the worker. */
		if (sv[1] == WORKER_FD)
			fcntl(WORKER_FD, F_SETFD, 0);
		else if (dup2(sv[1], WORKER_FD) < 0)
			_exit(127);
		if (close_range(WORKER_FD + 1, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
			int fd;

			for (fd = WORKER_FD + 1; fd < 4096; fd++)
				if (fd != P.exefd)
					close(fd);
		}
		sigprocmask(SIG_SETMASK, &none, NULL);
		fexecve(P.exefd, argv, environ);
		/* valgrind refuses execveat(): its path, read at start. */
		execve(P.exepath, argv, environ);
		_exit(127);
	}
	close(sv[1]);
	keep_untold(w);
	w->pid = pid;
	w->reaped = 0;
	w->untold = 0;
	w->fd = sv[0];
	w->ready = 0;
	dispatch_reset(i);
	if (loop_watch(w->fd, LOOP_PRIO_WORKER, on_readable, w) < 0) {
		/* Cannot hear it: it goes (its socket's end), and comes back. */
		close(w->fd);
		w->fd = -1;
		errno = ENOMEM;
		goto fail;
	}
	drops_send_spools(i);
	log_debug("event=worker-started worker=%d pid=%ld", i, (long)pid);
	return;
fail:
	log_err("event=worker-spawn-failed worker=%d error=%s", i, log_q(strerror(errno)));
	loop_arm(&w->respawn, sys_now_ms() + RESPAWN_MIN_MS);
}

static void respawn_due(void *arg)
{
	struct worker *w = arg;

	if (!core_stopping() && w->fd < 0 && w->index < core_cfg()->workers)
		spawn(w);
}

/* The worker's socket closed: it died (or exited). */
static void lost(struct worker *w)
{
	int i = w->index;

	loop_unwatch(w->fd);
	close(w->fd);
	w->fd = -1;
	/* Its commands die with it (PR_SET_PDEATHSIG); what they left
	 * running outside their process group, here. */
	cg_worker_lost(i);
	if (!w->reaped && sys_waitpid(w->pid, &w->wstatus, WNOHANG) == w->pid)
		w->reaped = 1;
	if (!w->ready && !core_stopping() && i < core_cfg()->workers) {
		/* It never came up (exec failed, privileges could not be
		 * dropped...): no job was at stake, files wait in flight. */
		P.start_failures++;
		w->untold = 2;
		tell_death(w);
		if (core_once() && P.start_failures >= GIVE_UP_AFTER) {
			log_err("event=giving-up reason=workers-cannot-start");
			P.gave_up = 1;
			master_stop();
		}
	}
	dispatch_lost(i);
	if (core_stopping() || i >= core_cfg()->workers)
		return;
	stats_inc(STAT_WORKER_RESTARTS);
	{
		int64_t now = sys_now_ms(), at = w->spawned + RESPAWN_MIN_MS;

		if (at < now)
			at = now;
		w->respawn_in = at - now;
		loop_arm(&w->respawn, at);
	}
	if (w->ready) {
		w->untold = 1;
		tell_death(w);
	}
}

static void on_readable(void *arg)
{
	static struct msg_result r;
	struct worker *w = arg;
	ssize_t n = recv(w->fd, &r, sizeof(r), MSG_DONTWAIT);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		lost(w);
		return;
	}
	if (n >= (ssize_t)sizeof(uint32_t) && r.type == MSG_HELLO) {
		w->ready = 1;
		P.start_failures = 0;
	} else if (n > 0) {
		dispatch_message(w->index, &r, (size_t)n);
	}
}

/* Workers beyond the configured count (after a reload) leave once idle:
 * closing their socket makes them exit. */
void pool_retire_idle(void)
{
	for (int i = core_cfg()->workers; i < P.n; i++) {
		struct worker *w = P.w[i];

		if (w->fd >= 0 && dispatch_idle(i)) {
			loop_unwatch(w->fd);
			close(w->fd);
			w->fd = -1;
			log_debug("event=worker-retired worker=%d pid=%ld", i, (long)w->pid);
		}
	}
}

void pool_resize(int n)
{
	int i, old = P.n;

	for (i = 0; i < n && i < old; i++)
		if (P.w[i]->fd < 0 && !timer_armed(&P.w[i]->respawn))
			spawn(P.w[i]);  /* retired by an earlier reload */
	pool_retire_idle();
	if (n <= P.n)
		return;
	{
		struct worker **grown = realloc(P.w, (size_t)n * sizeof(*grown));

		if (!grown)
			return;
		P.w = grown;
	}
	for (i = old; i < n; i++) {
		/* A seat for it first: the dispatcher never has more seats
		 * than there are workers. */
		struct worker *w = dispatch_resize(i + 1) == 0 ? calloc(1, sizeof(*w)) : NULL;

		if (!w)
			break;
		w->index = i;
		w->fd = -1;
		timer_init(&w->respawn, respawn_due, w);
		P.w[i] = w;
		P.n = i + 1;
	}
	for (i = old; i < P.n; i++)
		spawn(P.w[i]);
}

void pool_stop(int sigfd)
{
	int64_t until = sys_now_ms() + 3000;
	int i, alive;

	for (i = 0; i < P.n; i++)
		if (P.w[i]->fd >= 0) {
			loop_unwatch(P.w[i]->fd);
			close(P.w[i]->fd);   /* EOF: the worker exits */
			P.w[i]->fd = -1;
		}
	do {
		alive = 0;
		while (sys_waitpid(-1, NULL, WNOHANG) > 0)
			;
		for (i = 0; i < P.n; i++)
			if (P.w[i]->pid > 0 && sys_kill(P.w[i]->pid, 0) == 0 &&
			    sys_waitpid(P.w[i]->pid, NULL, WNOHANG) == 0)
				alive = 1;
		if (alive) {
			/* Woken by their SIGCHLD (blocked, so it waits in
			 * the signalfd), not by a timer. */
			struct pollfd pf = { .fd = sigfd, .events = POLLIN };
			struct signalfd_siginfo ssi[8];

			if (poll(&pf, 1, 10) > 0 && read(sigfd, ssi, sizeof(ssi)) < 0)
				continue;   /* taken already: reap and look again */
		}
	} while (alive && sys_now_ms() < until);
	for (i = 0; i < P.n; i++) {
		if (P.w[i]->pid > 0 && sys_waitpid(P.w[i]->pid, NULL, WNOHANG) == 0) {
			sys_kill(P.w[i]->pid, SIGKILL);
			sys_waitpid(P.w[i]->pid, NULL, 0);
		}
		loop_cancel(&P.w[i]->respawn);
		free(P.w[i]);
	}
	free(P.w);
	P.w = NULL;
	P.n = 0;
	if (P.exefd >= 0)
		close(P.exefd);
	P.exefd = -1;
}
