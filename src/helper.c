/*
 * helper.c - a worker's persistent commands in lines mode (see helper.h).
 *
 * One command per drop the worker has served in lines mode, each fed one
 * job at a time: the worker is each command's whole protocol state.  A
 * command's group is its own (runner.c), and it is the only kind of child
 * the worker does not reap at once: the functions here do, after killing
 * what is left of its group while its pid (the group id) cannot be reused.
 */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "lines.h"
#include "log.h"
#include "sys.h"

#define VERDICT_MAX 4096       /* a longer answer line is a protocol error */
#define QUICK_MS 1000          /* a command that ends sooner after its start, */
#define THROTTLE_MAX_MS 10000  /* with no answer, waits 100 ms, 200 ms, ... this at most */
#define END_MAX_MS 2000        /* the worker's end waits no longer (the master's is 3 s) */

struct helper {
	char drop[80];         /* "drop=NAME": whose command it is */
	pid_t pid;             /* 0: none */
	int in, out, err;      /* its stdin (our end), stdout, stderr */
	uint64_t key;          /* of its argv and environment */
	uint32_t jobs;         /* answered since it started */
	int64_t started, not_before;
	int quick;             /* quick ends in a row */
	int64_t grace_ms;      /* its drop's kill_grace when it started */
	char buf[VERDICT_MAX]; /* its stdout, not yet a whole line */
	size_t len;
	int eof;               /* its stdout is closed */
	int reaped;            /* ended and reaped: gone() is left to do */
	char label[128];       /* "drop=NAME command=PID": its stderr between jobs */
	struct output idle;
	uint32_t spool;        /* its drop's spool id (gone: the drop is) */
	int forget;            /* its drop is gone: let it go between jobs */
};

static struct helper **HS;
static int nhs;

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

static void closefd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* The helper of DROP ("drop=NAME"), made if need be; NULL if out of memory. */
static struct helper *helper_of(const char *drop)
{
	struct helper **v, *h;

	for (int i = 0; i < nhs; i++)
		if (!strcmp(HS[i]->drop, drop))
			return HS[i];
	if (!(h = calloc(1, sizeof(*h))) || !(v = realloc(HS, (size_t)(nhs + 1) * sizeof(*v)))) {
		free(h);
		return NULL;
	}
	HS = v;
	snprintf(h->drop, sizeof(h->drop), "%s", drop);
	h->in = h->out = h->err = -1;
	HS[nhs++] = h;
	return h;
}

/* What it wrote on stderr when no job ran (at its start, at its end). */
static void read_idle(struct helper *h)
{
	if (h->err >= 0 && !runner_out_read(&h->idle, h->err))
		closefd(&h->err);
}

/* If it ended: what is left of its group killed while its pid (the group
 * id) is still taken, then reaped into *ST.  1 if it ended. */
static int ended_now(struct helper *h, int *st)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)h->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
		*st = 0;
		return errno == ECHILD;   /* reaped already: nothing to signal */
	}
	if (si.si_pid != h->pid)
		return 0;
	kill(-h->pid, SIGKILL);
	cg_kill_held();
	waitpid(h->pid, st, 0);
	h->reaped = 1;
	return 1;
}

/* It ended and was reaped: pipes closed, its next start throttled if it
 * lived short and answered nothing (one that cannot start must not spin;
 * one that ends on its own after its work is simply started again). */
static void gone(struct helper *h)
{
	int64_t now = sys_now_ms();

	read_idle(h);
	runner_out_end(&h->idle);
	closefd(&h->in);
	closefd(&h->out);
	closefd(&h->err);
	if (now - h->started < QUICK_MS && h->jobs == 0) {
		int64_t d = (int64_t)100 << (h->quick < 7 ? h->quick : 7);

		h->quick++;
		h->not_before = now + (d > THROTTLE_MAX_MS ? THROTTLE_MAX_MS : d);
	} else {
		h->quick = 0;
		h->not_before = 0;
	}
	h->pid = 0;
	h->reaped = 0;
	h->len = 0;
	h->eof = 0;
	h->jobs = 0;
	cg_hold(-1);
}

int helper_owns(pid_t pid)
{
	for (int i = 0; i < nhs; i++)
		if (HS[i]->pid == pid && pid > 0)
			return 1;
	return 0;
}

void helper_reap(pid_t pid)
{
	char s[64];
	int st = 0;

	for (int i = 0; i < nhs; i++) {
		struct helper *h = HS[i];

		if (h->pid != pid || pid <= 0 || !ended_now(h, &st))
			continue;
		/* Between two jobs: nothing was lost; its next job starts it
		 * anew. */
		log_warn("event=command-ended %s pid=%d status=%s", h->drop, (int)pid,
			 policy_wait_status(st, s, sizeof(s)));
		gone(h);
	}
}

/* Wait up to MS for it to end on its own; 1 (reaped) or 0. */
static int wait_end(struct helper *h, int64_t ms)
{
	int64_t until = sys_now_ms() + ms;
	int st;

	for (;;) {
		if (h->reaped || ended_now(h, &st))
			return 1;
		if (sys_now_ms() >= until)
			return 0;
		read_idle(h);
		/* Not the worker's signals: those stay for its loop. */
		poll(NULL, 0, 10);
	}
}

/* Its group ends now: SIGTERM, GRACE_MS, then SIGKILL (the cgroup too). */
static void kill_it(struct helper *h, int64_t grace_ms)
{
	kill(-h->pid, SIGTERM);
	if (!wait_end(h, grace_ms)) {
		kill(-h->pid, SIGKILL);
		wait_end(h, 60000);   /* SIGKILL: at once */
	}
	gone(h);
}

/* Let it go: its stdin closed, GRACE_MS to end on its own, then killed. */
static void retire(struct helper *h, int64_t grace_ms)
{
	closefd(&h->in);
	if (wait_end(h, grace_ms))
		gone(h);
	else
		kill_it(h, 0);
	h->quick = 0;
	h->not_before = 0;
}

void helper_forget(uint32_t spool)
{
	for (int i = 0; i < nhs; i++)
		if (HS[i]->pid && HS[i]->spool == spool)
			HS[i]->forget = 1;
}

void helper_tidy(void)
{
	for (int i = 0; i < nhs; i++) {
		struct helper *h = HS[i];

		if (!h->forget)
			continue;
		h->forget = 0;
		if (h->pid) {
			log_info("event=command-restart %s reason=drop-gone", h->drop);
			retire(h, h->grace_ms < END_MAX_MS ? h->grace_ms : END_MAX_MS);
		}
	}
}

void helper_end(void)
{
	for (int i = 0; i < nhs; i++)
		if (HS[i]->pid)
			retire(HS[i], HS[i]->grace_ms < END_MAX_MS ? HS[i]->grace_ms : END_MAX_MS);
}

static int start(struct helper *h, char **argv, char **envp)
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
	h->started = sys_now_ms();
	e = runner_spawn(&h->pid, argv, envp, in[0], out[1], err[1]);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	if (e != 0) {
		int saved = errno;

		close(in[1]);
		close(out[0]);
		close(err[0]);
		h->pid = 0;
		cg_hold(1);
		gone(h);   /* throttled too */
		errno = saved;
		return e;
	}
	cg_hold(1);
	h->in = in[1];
	h->out = out[0];
	h->err = err[0];
	/* Nothing blocks the worker: not a command that stops reading. */
	fcntl(h->in, F_SETFL, O_NONBLOCK);
	fcntl(h->out, F_SETFL, O_NONBLOCK);
	fcntl(h->err, F_SETFL, O_NONBLOCK);
	h->len = 0;
	h->eof = 0;
	h->jobs = 0;
	log_info("event=command-started %s pid=%d command=%s", h->drop, (int)h->pid,
		 log_q(argv[0]));
	snprintf(h->label, sizeof(h->label), "%s command=%d", h->drop, (int)h->pid);
	runner_out_init(&h->idle, h->label, 65536);
	return 0;
}

/* Wait until the throttle lets it start; 0, or -1 if told to stop. */
static int throttle(struct helper *h, int sigfd, const int *ctlfd, int (*hook)(int, void *),
		    int *chld)
{
	while (sys_now_ms() < h->not_before) {
		struct pollfd pf[2] = { { .fd = sigfd, .events = POLLIN },
					{ .fd = *ctlfd, .events = 0 } };
		int64_t w = h->not_before - sys_now_ms();

		if (poll(pf, 2, (int)(w > 0 ? w : 0)) < 0 && errno != EINTR)
			return -1;
		if (pf[0].revents & POLLIN) {
			struct signalfd_siginfo ssi[4];
			ssize_t got = read(sigfd, ssi, sizeof(ssi));

			for (ssize_t k = 0; k < got / (ssize_t)sizeof(ssi[0]); k++) {
				if (ssi[k].ssi_signo == SIGCHLD)
					*chld = 1;
				else if (hook((int)ssi[k].ssi_signo, NULL))
					return -1;
			}
		}
		if ((pf[1].revents & (POLLIN | POLLHUP | POLLERR)) && hook(0, NULL))
			return -1;
	}
	return 0;
}

/* Between jobs: ended on its own (reaped, said), or out of step (something
 * on its stdout nobody asked for: replaced).  Else it is ready. */
static void check_idle(struct helper *h, const char *label)
{
	char c, s[64];
	ssize_t r;
	int st;

	if (ended_now(h, &st)) {
		log_warn("event=command-ended %s pid=%d status=%s", h->drop, (int)h->pid,
			 policy_wait_status(st, s, sizeof(s)));
		gone(h);
		return;
	}
	if (!h->len && !h->eof) {
		r = read(h->out, &c, 1);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
	}
	/* An answer no job asked for (a second one for the last job), or its
	 * stdout closed while it lives: this job goes to a fresh one. */
	log_warn("event=protocol-error %s reason=unsolicited-output", label);
	kill_it(h, 0);
}

/* The next whole line of its stdout, if there is one: its length (the
 * newline excluded), or -1 (none yet), or -2 (too long). */
static ssize_t next_line(const struct helper *h)
{
	const char *nl = memchr(h->buf, '\n', h->len);

	if (nl)
		return nl - h->buf;
	return h->len == sizeof(h->buf) ? -2 : -1;
}

/* One exchange with H: PATH written, its answer read.  Returns the end:
 * 0 answered (RES filled), 1 stopped, 2 timed out, 3 protocol error, 4 it
 * ended holding the job (*ST its status). */
static int exchange(struct helper *h, const struct msg_job *j, const char *line, size_t n,
		    struct output *out, int sigfd, const int *ctlfd,
		    int (*hook)(int signo, void *arg), struct helper_res *res, int *st)
{
	int64_t deadline = sys_now_ms() + j->timeout_ms, kill_at = 0, eof_at = 0;
	int phase = 0, why = 0, chld = 0;
	size_t sent = 0;

	for (;;) {
		struct pollfd pf[5] = {
			{ .fd = sigfd, .events = POLLIN },
			{ .fd = h->eof || h->len == sizeof(h->buf) ? -1 : h->out, .events = POLLIN },
			{ .fd = h->err, .events = POLLIN },
			{ .fd = *ctlfd, .events = 0 },
			{ .fd = -1, .events = POLLOUT },
		};
		int64_t wait;
		ssize_t ll;
		int stop = 0;

		if (phase == 0 && sent < n && h->in >= 0) {
			ssize_t w = write(h->in, line + sent, n - sent);

			if (w > 0)
				sent += (size_t)w;
			else if (w < 0 && errno != EAGAIN && errno != EINTR)
				sent = n, chld = 1;   /* EPIPE: it is gone; its end says how */
		}
		if (phase == 0 && sent < n)
			pf[4].fd = h->in;
		wait = (phase == 0 ? (eof_at && eof_at < deadline ? eof_at : deadline) : kill_at) -
		       sys_now_ms();
		if (wait < 0)
			wait = 0;
		if (poll(pf, 5, (int)(wait > 60000 ? 60000 : wait)) < 0 && errno != EINTR)
			return 1;
		if (pf[2].revents && !runner_out_read(out, h->err))
			closefd(&h->err);
		if (pf[1].revents) {
			ssize_t r = read(h->out, h->buf + h->len, sizeof(h->buf) - h->len);

			if (r > 0)
				h->len += (size_t)r;
			else if (r == 0 || (errno != EAGAIN && errno != EINTR))
				h->eof = 1;
		}
		if (phase == 0 && (ll = next_line(h)) != -1) {
			int code;
			const char *msg;
			size_t ml;

			if (ll >= 0 && lines_verdict(h->buf, (size_t)ll, &code, &msg, &ml) == 0) {
				if (ml) {
					runner_out_feed(out, msg, ml);
					runner_out_feed(out, "\n", 1);
				}
				res->kind = ST_EXIT;
				res->code = code;
				/* What follows it is an answer no job asked for:
				 * seen before the next job is written. */
				h->len -= (size_t)ll + 1;
				memmove(h->buf, h->buf + ll + 1, h->len);
				h->jobs++;
				return 0;
			}
			log_warn("event=protocol-error %s reason=%s", out->label,
				 ll < 0 ? "line-too-long" : "not-a-verdict");
			if (ll >= 0)
				runner_out_feed(out, h->buf, (size_t)ll + 1);
			why = 3;
			stop = 1;
		} else if (phase == 0 && h->eof) {
			/* Its stdout closed: it is ending (its exit comes a
			 * moment after), or it lives on and can answer nothing
			 * more. */
			if (!eof_at)
				eof_at = sys_now_ms() + 200;
			if (sys_now_ms() >= eof_at && !ended_now(h, st)) {
				log_warn("event=protocol-error %s reason=stdout-closed", out->label);
				why = 3;
				stop = 1;
			}
		}
		if (pf[0].revents & POLLIN) {
			struct signalfd_siginfo ssi[4];
			ssize_t got = read(sigfd, ssi, sizeof(ssi));

			for (ssize_t k = 0; k < got / (ssize_t)sizeof(ssi[0]); k++) {
				if (ssi[k].ssi_signo == SIGCHLD)
					chld = res->reap = 1;
				else if (hook((int)ssi[k].ssi_signo, NULL))
					why = 1, stop = 1;
			}
		}
		if ((pf[3].revents & (POLLIN | POLLHUP | POLLERR)) && hook(0, NULL))
			why = 1, stop = 1;
		/* Only when a child ended (its SIGCHLD, its stdout or stdin
		 * closed), or once it is being stopped: not a system call per
		 * turn of a job. */
		if ((chld || h->eof || phase > 0) && ended_now(h, st)) {
			/* It ended holding the job (or as we stopped it). */
			if (h->err >= 0)
				runner_out_read(out, h->err);
			return why ? why : 4;
		}
		if (phase == 0 && (stop || sys_now_ms() >= deadline)) {
			if (!stop)
				why = 2;
			kill(-h->pid, SIGTERM);
			phase = 1;
			kill_at = sys_now_ms() + j->kill_grace_ms;
		} else if (phase >= 1 && sys_now_ms() >= kill_at) {
			kill(-h->pid, SIGKILL);
			phase = 2;
			kill_at = sys_now_ms() + 1000;
		}
	}
}

void helper_job(const struct msg_job *j, char **argv, char **envp, const char *path,
		struct output *out, int sigfd, const int *ctlfd,
		int (*hook)(int signo, void *arg), struct helper_res *res)
{
	uint64_t key = key_of(argv, envp);
	char line[PATH_MAX * 2 + 2], drop[80];
	struct helper *h;
	int64_t t0;
	int n, st = 0, again = 0, end;

	memset(res, 0, sizeof(*res));
	/* The label's first word: "drop=NAME". */
	snprintf(drop, sizeof(drop), "%.*s", (int)strcspn(out->label, " "), out->label);
	if (!(h = helper_of(drop))) {
		res->kind = ST_SPAWN;
		res->code = ENOMEM;
		return;
	}
	if ((n = lines_escape(path, line, sizeof(line))) < 0) {
		res->kind = ST_SPAWN;
		res->code = ENAMETOOLONG;
		return;
	}
	if (h->pid && (h->key != key || (j->max_jobs && h->jobs >= j->max_jobs))) {
		log_info("event=command-restart %s reason=%s", out->label,
			 h->key != key ? "command-changed" : "max-jobs");
		retire(h, h->grace_ms);
	}
	if (h->pid)
		check_idle(h, out->label);
	h->forget = 0;   /* its drop is back (a reload) */
retry:
	if (!h->pid) {
		if (throttle(h, sigfd, ctlfd, hook, &res->reap) < 0) {
			res->kind = ST_ABORTED;
			return;
		}
		if ((n = start(h, argv, envp)) != 0) {
			res->kind = n > 0 ? ST_EXEC : ST_SPAWN;
			res->code = n > 0 ? n : errno;
			return;
		}
		h->key = key;
		h->grace_ms = j->kill_grace_ms;
		h->spool = j->spool;
		n = lines_escape(path, line, sizeof(line));
	}
	read_idle(h);   /* what it said before this job is not this job's */
	t0 = sys_now_ms();
	end = exchange(h, j, line, (size_t)n, out, sigfd, ctlfd, hook, res, &st);
	res->dur = sys_now_ms() - t0;
	if (end == 4 && !again && WIFEXITED(st) && WEXITSTATUS(st) == 0 && h->jobs > 0) {
		/* It answered its jobs, then ended on its own (a command that
		 * recycles itself) before it took this one: not a failure of
		 * this file; it goes to a fresh command, once. */
		gone(h);
		again = 1;
		goto retry;
	}
	if (end != 0 && !h->reaped)
		kill_it(h, j->kill_grace_ms);   /* stopped, timed out, out of step */
	else if (end != 0)
		gone(h);
	switch (end) {
	case 1:
		res->kind = ST_ABORTED;
		break;
	case 2:
		res->kind = ST_TIMEOUT;
		res->code = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
		break;
	case 3:
		res->kind = ST_PROTOCOL;
		break;
	case 4:
		res->kind = ST_LOST;
		res->code = st;
		break;
	}
	if (h->pid && h->err >= 0)
		runner_out_read(out, h->err);   /* what it said with its answer */
}
