/*
 * helper.c - a worker's persistent command in lines mode (see helper.h).
 *
 * One command per worker, so one job at a time goes to it: the worker is
 * the command's whole protocol state.  Its group is its own (runner.c),
 * and it is the only child of its worker that the worker does not reap
 * at once: helper_reap() does, so its pid cannot be reused while the
 * worker may still signal its group.
 */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "lines.h"
#include "log.h"
#include "sys.h"

#define VERDICT_MAX 4096       /* a longer answer line is a protocol error */
#define QUICK_MS 1000          /* a command that ends sooner after its start */
#define THROTTLE_MAX_MS 10000  /* ... waits 100 ms, 200 ms, ... this at most */

static struct {
	pid_t pid;             /* 0: none */
	int in, out, err;      /* its stdin (our end), stdout, stderr */
	uint64_t key;          /* of its argv and environment */
	uint32_t jobs;         /* answered since it started */
	int64_t started, not_before;
	int quick;             /* quick ends in a row */
	int64_t grace_ms;      /* its drop's kill_grace (for the worker's end) */
	char buf[VERDICT_MAX]; /* its stdout, not yet a whole line */
	size_t len;
	char label[128];       /* "drop=NAME command=PID": its stderr between jobs */
	struct output idle;
} H = { .in = -1, .out = -1, .err = -1 };

static void closefd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* What it wrote on stderr when no job ran (at its start, at its end). */
static void read_idle(void)
{
	if (H.err >= 0 && !runner_out_read(&H.idle, H.err))
		closefd(&H.err);
}

/* FNV-1a over the strings of V, each with its NUL, and an end mark. */
static uint64_t hash_strs(uint64_t h, char **v)
{
	for (; *v; v++)
		for (const char *p = *v; ; p++) {
			h = (h ^ (unsigned char)*p) * 1099511628211ULL;
			if (!*p)
				break;
		}
	return (h ^ 0xff) * 1099511628211ULL;
}

static uint64_t key_of(char **argv, char **envp)
{
	return hash_strs(hash_strs(1469598103934665603ULL, argv), envp);
}


/* It ended and was reaped: pipes closed, its next start throttled if it
 * lived short (a command that cannot start must not spin). */
static void ended(void)
{
	int64_t now = sys_now_ms();

	read_idle();
	runner_out_end(&H.idle);
	closefd(&H.in);
	closefd(&H.out);
	closefd(&H.err);
	if (now - H.started < QUICK_MS) {
		int64_t d = (int64_t)100 << (H.quick < 7 ? H.quick : 7);

		H.quick++;
		H.not_before = now + (d > THROTTLE_MAX_MS ? THROTTLE_MAX_MS : d);
	} else {
		H.quick = 0;
	}
	H.pid = 0;
	H.len = 0;
	H.jobs = 0;
}

pid_t helper_pid(void)
{
	return H.pid;
}

void helper_reap(void)
{
	int st = 0;
	char s[64];

	if (!H.pid || waitpid(H.pid, &st, WNOHANG) != H.pid)
		return;
	/* Between two jobs: nothing was lost; the next job starts it anew. */
	log_warn("event=command-ended pid=%d status=%s", (int)H.pid,
		 policy_wait_status(st, s, sizeof(s)));
	kill(-H.pid, SIGKILL);   /* what it left in its group */
	cg_kill();
	ended();
}

/* Wait up to MS for it to end on its own; 1 (reaped, *ST) or 0. */
static int wait_end(int64_t ms, int *st)
{
	int64_t until = sys_now_ms() + ms;

	for (;;) {
		pid_t r = waitpid(H.pid, st, WNOHANG);

		if (r == H.pid || (r < 0 && errno == ECHILD))
			return 1;
		if (sys_now_ms() >= until)
			return 0;
		read_idle();
		/* Not the worker's signals: those stay for its loop. */
		poll(NULL, 0, 10);
	}
}

/* Its group ends: SIGTERM, GRACE_MS, then SIGKILL (the cgroup too). */
static int kill_it(int64_t grace_ms)
{
	int st = 0;

	kill(-H.pid, SIGTERM);
	if (!wait_end(grace_ms, &st)) {
		kill(-H.pid, SIGKILL);
		cg_kill();
		waitpid(H.pid, &st, 0);
	}
	kill(-H.pid, SIGKILL);   /* the leader is reaped: what stays of it */
	ended();
	return st;
}

/* Between jobs: its stdin closed, GRACE_MS to end, then killed. */
static void retire(int64_t grace_ms)
{
	int st = 0;

	closefd(&H.in);
	if (wait_end(grace_ms, &st))
		kill(-H.pid, SIGKILL);
	else
		kill_it(0);
	if (H.pid)
		ended();
	H.quick = 0;
	H.not_before = 0;
}

void helper_end(void)
{
	if (H.pid)
		retire(H.grace_ms);
}

static int start(char **argv, char **envp, const char *drop)
{
	int in[2], out[2], err[2], e;

	if (pipe2(in, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(out, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	if (pipe2(err, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		return -1;
	}
	H.started = sys_now_ms();
	e = runner_spawn(&H.pid, argv, envp, in[0], out[1], err[1]);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	if (e != 0) {
		int saved = errno;

		close(in[1]);
		close(out[0]);
		close(err[0]);
		H.pid = 0;
		ended();   /* throttled too */
		errno = saved;
		return e;
	}
	H.in = in[1];
	H.out = out[0];
	H.err = err[0];
	fcntl(H.out, F_SETFL, O_NONBLOCK);
	fcntl(H.err, F_SETFL, O_NONBLOCK);
	H.len = 0;
	H.jobs = 0;
	log_info("event=command-started %s pid=%d command=%s", drop, (int)H.pid, log_q(argv[0]));
	snprintf(H.label, sizeof(H.label), "%s command=%d", drop, (int)H.pid);
	runner_out_init(&H.idle, H.label, 65536);
	return 0;
}

/* Wait until the throttle lets it start; 0, or -1 if told to stop. */
static int throttle(int sigfd, const int *ctlfd, int (*hook)(int, void *))
{
	while (sys_now_ms() < H.not_before) {
		struct pollfd pf[2] = { { .fd = sigfd, .events = POLLIN },
					{ .fd = *ctlfd, .events = 0 } };
		int64_t w = H.not_before - sys_now_ms();

		if (poll(pf, 2, (int)(w > 0 ? w : 0)) < 0 && errno != EINTR)
			return -1;
		if (pf[0].revents & POLLIN) {
			struct signalfd_siginfo ssi[4];
			ssize_t got = read(sigfd, ssi, sizeof(ssi));

			for (ssize_t k = 0; k < got / (ssize_t)sizeof(ssi[0]); k++)
				if (ssi[k].ssi_signo != SIGCHLD && hook((int)ssi[k].ssi_signo, NULL))
					return -1;
		}
		if ((pf[1].revents & (POLLIN | POLLHUP | POLLERR)) && hook(0, NULL))
			return -1;
	}
	return 0;
}

/* Whatever it wrote on its stdout with no job asked: 1 (or at its end). */
static int stray_output(void)
{
	char c;
	ssize_t r;

	if (H.len)
		return 1;
	r = read(H.out, &c, 1);
	return r >= 0 || (errno != EAGAIN && errno != EINTR);
}

/* The next whole line of its stdout, if there is one: its length (the
 * newline excluded), or -1 (none yet), or -2 (too long). */
static ssize_t next_line(void)
{
	char *nl = memchr(H.buf, '\n', H.len);

	if (nl)
		return nl - H.buf;
	return H.len == sizeof(H.buf) ? -2 : -1;
}

void helper_job(const struct msg_job *j, char **argv, char **envp, const char *path,
		struct output *out, int sigfd, const int *ctlfd,
		int (*hook)(int signo, void *arg), struct helper_res *res)
{
	uint64_t key = key_of(argv, envp);
	char line[PATH_MAX * 2 + 2], drop[96];
	int64_t t0 = sys_now_ms(), deadline, kill_at = 0;
	int phase = 0, stopped = 0, timed_out = 0, n, st = 0, bad = 0, eof = 0;
	size_t sent = 0;

	memset(res, 0, sizeof(*res));
	H.grace_ms = j->kill_grace_ms;
	/* The label's first word: "drop=NAME". */
	snprintf(drop, sizeof(drop), "%.*s", (int)strcspn(out->label, " "), out->label);
	if (H.pid && (H.key != key || (j->max_jobs && H.jobs >= j->max_jobs))) {
		log_info("event=command-restart %s reason=%s", out->label,
			 H.key != key ? "command-changed" : "max-jobs");
		retire(j->kill_grace_ms);
	}
	if (H.pid && stray_output()) {
		/* An answer no job asked for (a second one for the last job):
		 * it is out of step; this job goes to a fresh one. */
		log_warn("event=protocol-error %s reason=unsolicited-output", out->label);
		kill_it(0);
	}
	if (!H.pid) {
		if (throttle(sigfd, ctlfd, hook) < 0) {
			res->kind = ST_ABORTED;
			return;
		}
		if ((n = start(argv, envp, drop)) != 0) {
			res->kind = n > 0 ? ST_EXEC : ST_SPAWN;
			res->code = n > 0 ? n : errno;
			return;
		}
		H.key = key;
	}
	if ((n = lines_escape(path, line, sizeof(line))) < 0) {
		res->kind = ST_SPAWN;
		res->code = ENAMETOOLONG;
		return;
	}
	read_idle();   /* what it said before this job is not this job's */
	t0 = sys_now_ms();
	deadline = t0 + j->timeout_ms;
	for (;;) {
		struct pollfd pf[5] = {
			{ .fd = sigfd, .events = POLLIN },
			{ .fd = H.out, .events = POLLIN },
			{ .fd = H.err, .events = POLLIN },
			{ .fd = *ctlfd, .events = 0 },
			{ .fd = sent < (size_t)n ? H.in : -1, .events = POLLOUT },
		};
		int64_t wake = phase == 0 ? deadline : kill_at, wait = wake - sys_now_ms();
		ssize_t ll;
		int stop = 0;

		if (phase == 0 && sent < (size_t)n && H.in >= 0) {
			ssize_t w = write(H.in, line + sent, (size_t)n - sent);

			if (w > 0)
				sent += (size_t)w;
			else if (w < 0 && errno != EAGAIN && errno != EINTR)
				sent = (size_t)n;   /* EPIPE: it is gone; its end says how */
			pf[4].fd = sent < (size_t)n ? H.in : -1;
		}
		if (wait < 0)
			wait = 0;
		if (poll(pf, 5, (int)(wait > 60000 ? 60000 : wait)) < 0 && errno != EINTR)
			break;
		if (pf[2].revents && !runner_out_read(out, H.err))
			closefd(&H.err);
		if (pf[1].revents && !eof) {
			ssize_t r = read(H.out, H.buf + H.len, sizeof(H.buf) - H.len);

			if (r > 0)
				H.len += (size_t)r;
			else if (r == 0 || (errno != EAGAIN && errno != EINTR))
				eof = 1;   /* it closed its stdout: it is ending */
		}
		if (phase == 0 && (ll = next_line()) != -1) {
			int code;
			const char *msg;
			size_t ml;

			if (ll >= 0 && lines_verdict(H.buf, (size_t)ll, &code, &msg, &ml) == 0) {
				if (ml) {
					runner_out_feed(out, msg, ml);
					runner_out_feed(out, "\n", 1);
				}
				res->kind = ST_EXIT;
				res->code = code;
				/* Anything after it is an answer no job asked for. */
				H.len -= (size_t)ll + 1;
				memmove(H.buf, H.buf + ll + 1, H.len);
				H.jobs++;
				break;
			}
			log_warn("event=protocol-error %s reason=%s", out->label,
				 ll < 0 ? "line-too-long" : "not-a-verdict");
			if (ll >= 0)
				runner_out_feed(out, H.buf, (size_t)ll + 1);
			bad = 1;
			stop = 1;
		}
		if (pf[0].revents & POLLIN) {
			struct signalfd_siginfo ssi[4];
			ssize_t got = read(sigfd, ssi, sizeof(ssi));

			for (ssize_t k = 0; k < got / (ssize_t)sizeof(ssi[0]); k++)
				if (ssi[k].ssi_signo != SIGCHLD && hook((int)ssi[k].ssi_signo, NULL))
					stopped = stop = 1;
		}
		if ((pf[3].revents & (POLLIN | POLLHUP | POLLERR)) && hook(0, NULL))
			stopped = stop = 1;
		{
			pid_t r = waitpid(H.pid, &st, WNOHANG);

			if (r == H.pid || (r < 0 && errno == ECHILD)) {
				/* It ended holding the job: its group goes too. */
				if (H.err >= 0)
					runner_out_read(out, H.err);
				kill(-H.pid, SIGKILL);
				cg_kill();
				ended();
				if (!bad && !stopped && !timed_out) {
					res->kind = ST_LOST;
					res->code = st;
				}
				goto done;
			}
		}
		if (stop && phase == 0) {
			kill(-H.pid, SIGTERM);
			phase = 1;
			kill_at = sys_now_ms() + j->kill_grace_ms;
		}
		if (phase == 0 && sys_now_ms() >= deadline) {
			timed_out = 1;
			kill(-H.pid, SIGTERM);
			phase = 1;
			kill_at = sys_now_ms() + j->kill_grace_ms;
		} else if (phase == 1 && sys_now_ms() >= kill_at) {
			kill(-H.pid, SIGKILL);
			cg_kill();
			phase = 2;
			kill_at = sys_now_ms() + 1000;
		}
	}
done:
	res->dur = sys_now_ms() - t0;
	if (stopped)
		res->kind = ST_ABORTED;
	else if (timed_out)
		res->kind = ST_TIMEOUT, res->code = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	else if (bad)
		res->kind = ST_PROTOCOL;
	if (H.pid && H.err >= 0)
		runner_out_read(out, H.err);   /* what it said with its answer */
}
