/*
 * worker.c - run one command at a time, under the command contract.
 *
 * The command gets its own process group, stdin /dev/null, stdout and
 * stderr on one pipe, a clean environment, and no other descriptor.  A
 * timeout (or a stop) sends SIGTERM to the whole group, then SIGKILL after
 * kill_grace.  When the master goes away (its socket closes, or
 * PR_SET_PDEATHSIG fires), the worker kills the group and exits: no orphan
 * keeps running a file that the next start will run again.
 *
 * The worker keeps the daemon's credentials; a command configured to run as
 * another user becomes that user in the child, just before exec.  So a
 * command cannot stop, trace or signal its worker (kill -STOP $PPID would
 * otherwise freeze the timeout), and never has a capability: the worker
 * empties the bounding set and sets no_new_privs for all its commands.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "log.h"
#include "policy.h"
#include "proto.h"
#include "spool.h"
#include "worker.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define LINE_MAX_LOG 400

/* The 32-bit id calls, where the plain ones take 16-bit ids (arm, i386). */
#ifdef SYS_setresuid32
#define SW_SETRESUID SYS_setresuid32
#define SW_SETRESGID SYS_setresgid32
#define SW_SETGROUPS SYS_setgroups32
#else
#define SW_SETRESUID SYS_setresuid
#define SW_SETRESGID SYS_setresgid
#define SW_SETGROUPS SYS_setgroups
#endif

static int sigfd = -1;
/* The commands' user and group (-1: the worker's own). */
static long run_uid = -1, run_gid = -1;
/* Ctrl-C at a terminal, or a service manager's SIGTERM, goes to the whole
 * group: only the master decides what a stop means (it sends SIGUSR2). */
static const int ignored[] = { SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGPIPE };
static int master_gone;

/* Attempts tables the master gave us, by spool id. */
static struct { uint32_t id; int fd; } *spools;
static size_t nspools;

/* Jobs sent ahead, started in order as the current one ends: bufs[(phead
 * + i) % NBUF] for i < npend; the running job keeps the buffer before.
 * Messages are read between two jobs (or when the master rings, SIGURG),
 * so an idle worker may find its job and PROTO_AHEAD more waiting. */
#define NPEND (PROTO_AHEAD + 1)
#define NBUF (NPEND + 1)
static char bufs[NBUF][PROTO_MAX];
static size_t lens[NBUF];
static int phead, npend;

static void send_ctl(uint32_t type, uint32_t arg);

/* Give every job sent ahead back, the last first: the master puts each at
 * the head of its queue, so their order is kept. */
static void give_back(void)
{
	while (npend > 0) {
		npend--;
		send_ctl(MSG_RETURN, ((struct msg_job *)bufs[(phead + npend) % NBUF])->job);
	}
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Output of one job: logged line by line up to a bound, and its tail kept
 * for the sidecar.  Nothing grows with what the command writes. */
struct output {
	const char *label;
	uint32_t log_max;
	uint64_t logged, dropped;
	char line[LINE_MAX_LOG];
	size_t linelen;
	char tail[PROTO_TAIL];
	size_t tailpos;    /* next write position in the ring */
	int tailfull;
};

static void out_flush_line(struct output *o)
{
	char esc[LINE_MAX_LOG * 4 + 8];

	if (o->linelen == 0)
		return;
	if (o->logged + o->linelen <= o->log_max) {
		log_esc(esc, sizeof(esc), o->line, o->linelen);
		log_info("event=output %s text=%s", o->label, esc);
		o->logged += o->linelen;
	} else {
		o->dropped += o->linelen;
	}
	o->linelen = 0;
}

static void out_feed(struct output *o, const char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		o->tail[o->tailpos++] = buf[i];
		if (o->tailpos == sizeof(o->tail)) {
			o->tailpos = 0;
			o->tailfull = 1;
		}
		if (buf[i] == '\n') {
			out_flush_line(o);
			continue;
		}
		o->line[o->linelen++] = buf[i];
		if (o->linelen == sizeof(o->line))
			out_flush_line(o);
	}
}

static size_t out_tail(const struct output *o, char *dst)
{
	if (!o->tailfull) {
		memcpy(dst, o->tail, o->tailpos);
		return o->tailpos;
	}
	memcpy(dst, o->tail + o->tailpos, sizeof(o->tail) - o->tailpos);
	memcpy(dst + sizeof(o->tail) - o->tailpos, o->tail, o->tailpos);
	return sizeof(o->tail);
}

/* Read what the pipe holds now; 0 at EOF, 1 if still open. */
static int out_read(struct output *o, int fd)
{
	char buf[65536];

	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r > 0) {
			out_feed(o, buf, (size_t)r);
			continue;
		}
		if (r == 0)
			return 0;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN ? 1 : 0;
	}
}

/*
 * The command is started the way glibc's posix_spawn starts one: clone()
 * with CLONE_VM | CLONE_VFORK on a small stack of its own, so no page table
 * is copied (a fork of the worker cost more than the rest of the job's
 * overhead together), the worker sleeps until the child has exec'd, and an
 * exec error comes back through the shared memory.  posix_spawn itself
 * cannot set PR_SET_PDEATHSIG.  The child makes only system calls; the
 * worker has no signal handlers that could run on the shared memory.
 */
struct spawn {
	char **argv, **envp;
	int outfd;
	volatile int err;    /* set by the child if exec fails */
};

static int devnull = -1;

/*
 * Worker i runs on the i-th CPU the daemon may use (round robin), and its
 * commands start there.  Left to itself the scheduler wakes a worker where
 * its command just exited, and two workers with their commands can share
 * one CPU while another idles (measured: 20% idle on 2 CPUs, against 4%
 * pinned; docs/benchmarks.md).  The command gets the whole set back before
 * exec, so it may move, and its own threads may spread.
 */
static cpu_set_t all_cpus;
static int pinned;

static void pin(long index)
{
	cpu_set_t one;
	int n, k, cpu;

	if (index < 0 || sched_getaffinity(0, sizeof(all_cpus), &all_cpus) < 0)
		return;
	n = CPU_COUNT(&all_cpus);
	if (n < 2)
		return;
	k = (int)(index % n);
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &all_cpus) && k-- == 0)
			break;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	pinned = sched_setaffinity(0, sizeof(one), &one) == 0;
}
static char spawn_stack[256 * 1024] __attribute__((aligned(16)));

static int child_exec(void *arg)
{
	struct spawn *sp = arg;
	sigset_t none;
	int fd, sig;

	if (pinned)
		sched_setaffinity(0, sizeof(all_cpus), &all_cpus);
	/* Into its worker's cgroup, if there is one, before anything it runs
	 * can fork: what leaves the process group stays in reach. */
	if (cg_procs_fd() >= 0 && write(cg_procs_fd(), "0", 1) < 0)
		goto fail;
	setpgid(0, 0);
	/* The command's own credentials, by the raw system calls: this child
	 * shares the worker's memory, and glibc's wrappers would try to tell
	 * the worker's threads too.  The group first, while still allowed. */
	if (run_gid >= 0) {
		gid_t g = (gid_t)run_gid;

		if (syscall(SW_SETGROUPS, 1, &g) < 0 || syscall(SW_SETRESGID, g, g, g) < 0)
			goto fail;
	}
	if (run_uid >= 0 && syscall(SW_SETRESUID, (uid_t)run_uid, (uid_t)run_uid,
				    (uid_t)run_uid) < 0)
		goto fail;
	/* If the worker dies, so does the command (not left running while a
	 * retry runs the same file).  After the switch, which clears it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* The worker has no handlers (exec resets those anyway); those it
	 * ignores would stay ignored across exec: give them back. */
	for (sig = 0; sig < (int)(sizeof(ignored) / sizeof(ignored[0])); sig++)
		signal(ignored[sig], SIG_DFL);
	if (dup2(devnull, 0) < 0 || dup2(sp->outfd, 1) < 0 || dup2(sp->outfd, 2) < 0)
		goto fail;
	/* Everything above 2 closes at exec. */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		long max = sysconf(_SC_OPEN_MAX);

		if (max < 0 || max > 65536)
			max = 65536;
		for (fd = 3; fd < max; fd++)
			close(fd);
	}
	/* The mask last, right before exec, and by the raw system call: no
	 * library wrapper can put anything back in between. */
	sigemptyset(&none);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, (size_t)(NSIG - 1) / 8);
	execve(sp->argv[0], sp->argv, sp->envp);
fail:
	sp->err = errno ? errno : EINVAL;
	_exit(127);
}

static void send_result(uint32_t job, enum st_kind kind, int code,
			int64_t dur, const struct output *o)
{
	struct msg_result r;

	memset(&r, 0, sizeof(r));
	r.type = MSG_RESULT;
	r.job = job;
	r.kind = kind;
	r.code = code;
	r.duration_ms = dur;
	r.tail_len = o ? (uint32_t)out_tail(o, r.tail) : 0;
	while (send(WORKER_FD, &r, offsetof(struct msg_result, tail) + r.tail_len,
		    MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

static void send_ctl(uint32_t type, uint32_t arg)
{
	struct msg_ctl m = { type, arg };

	while (send(WORKER_FD, &m, sizeof(m), MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

static void spool_set(uint32_t id, int fd)
{
	size_t i;

	for (i = 0; i < nspools; i++)
		if (spools[i].id == id) {
			close(spools[i].fd);
			if (fd >= 0) {
				spools[i].fd = fd;
			} else {
				spools[i] = spools[--nspools];
			}
			return;
		}
	if (fd < 0)
		return;
	{
		void *grown = realloc(spools, (nspools + 1) * sizeof(*spools));

		if (!grown) {
			close(fd);   /* its jobs fail to start, with a reason */
			return;
		}
		spools = grown;
	}
	spools[nspools].id = id;
	spools[nspools].fd = fd;
	nspools++;
}

static int spool_fd(uint32_t id)
{
	size_t i;

	for (i = 0; i < nspools; i++)
		if (spools[i].id == id)
			return spools[i].fd;
	return -1;
}

/*
 * Take one message from the master: 1 if one was taken, -1 if none is
 * there, 0 when the master is gone.  A job joins the pending ones; a
 * revoke gives those back.
 */
static int take_message(void)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} c;
	struct iovec iov = { NULL, PROTO_MAX };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = c.buf, .msg_controllen = sizeof(c.buf) };
	static char spare[PROTO_MAX];
	struct cmsghdr *cm;
	struct msg_ctl *m;
	ssize_t r;
	int fd = -1;

	/* Into the next free buffer; with NPEND jobs held, a spare. */
	iov.iov_base = npend < NPEND ? bufs[(phead + npend) % NBUF] : spare;
	r = recvmsg(WORKER_FD, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (r < 0)
		return errno == EAGAIN || errno == EINTR ? -1 : 0;
	if (r == 0)
		return 0;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	m = iov.iov_base;
	if (r < (ssize_t)sizeof(*m)) {
		if (fd >= 0)
			close(fd);
		return 1;
	}
	switch (m->type) {
	case MSG_SPOOL:
		spool_set(m->arg, fd);
		return 1;
	case MSG_REVOKE:
		give_back();
		send_ctl(MSG_RETURN, PROTO_NONE);   /* that was all */
		break;
	case MSG_JOB:
		if (r < (ssize_t)sizeof(struct msg_job))
			break;
		if (npend < NPEND) {
			lens[(phead + npend) % NBUF] = (size_t)r;
			npend++;
		} else {
			/* One more than the master may send: give it back. */
			log_err("event=job-refused reason=holding-too-many");
			send_ctl(MSG_RETURN, ((struct msg_job *)spare)->job);
		}
		break;
	default:
		break;
	}
	if (fd >= 0)
		close(fd);
	return 1;
}

/* Take every message waiting.  0 when the master is gone. */
static int drain(void)
{
	int r;

	while ((r = take_message()) > 0)
		;
	return r != 0;
}

static void run_job(const struct msg_job *j, size_t len)
{
	char *argv[130], *envp[70];
	const char *p = j->data, *end = (const char *)j + len, *label = "";
	struct output o;
	int outp[2], status = 0, e, phase = 0, timed_out = 0, aborted = 0;
	int64_t t0, deadline, kill_at = 0;
	uint32_t i;
	pid_t pid;

	if (j->argc < 1 || j->argc > 128 || j->envc > 64)
		goto bad;
	for (i = 0; i < j->argc + j->envc + 1; i++) {
		const char *z = memchr(p, '\0', (size_t)(end - p));

		if (!z)
			goto bad;
		if (i < j->argc)
			argv[i] = (char *)p;
		else if (i < j->argc + j->envc)
			envp[i - j->argc] = (char *)p;
		else
			label = p;
		p = z + 1;
	}
	argv[j->argc] = NULL;
	envp[j->envc] = NULL;
	log_set_level((enum sw_log_level)j->log_level);
	memset(&o, 0, sizeof(o));
	o.label = label;
	o.log_max = j->out_log_max;

	/* The attempt is counted on disk before it starts: a file whose
	 * command kills the daemon cannot loop forever. */
	{
		int fd = spool_fd(j->spool);

		if (fd < 0) {
			errno = EBADF;
			goto spawn_fail;
		}
		if (spool_rec_put(fd, (int)j->slot, (int)j->attempt, 0) < 0)
			goto spawn_fail;
	}
	/* The read end non-blocking from the start: one call less later. */
	if (pipe2(outp, O_CLOEXEC) < 0)
		goto spawn_fail;
	fcntl(outp[0], F_SETFL, O_NONBLOCK);
	t0 = now_ms();
	{
		struct spawn sp = { argv, envp, outp[1], 0 };

		pid = clone(child_exec, spawn_stack + sizeof(spawn_stack),
			    CLONE_VM | CLONE_VFORK | SIGCHLD, &sp);
		e = sp.err;
	}
	if (pid < 0) {
		e = errno;
		close(outp[0]);
		close(outp[1]);
		errno = e;
		goto spawn_fail;
	}
	/* We keep our copy of the write end until the command is reaped: the
	 * pipe never hangs up, so its exit wakes us once (SIGCHLD), not twice
	 * (the hang-up as it closes its descriptors, then SIGCHLD). */
	if (e) {
		close(outp[0]);
		close(outp[1]);
		waitpid(pid, NULL, 0);
		send_result(j->job, ST_EXEC, e, now_ms() - t0, NULL);
		return;
	}
	deadline = t0 + j->timeout_ms;
	for (;;) {
		struct pollfd pf[3] = {
			{ .fd = sigfd, .events = POLLIN },
			{ .fd = outp[0], .events = POLLIN },
			/* Not for every message: only its hang-up (the
			 * master rings with SIGURG when it must be heard). */
			{ .fd = master_gone ? -1 : WORKER_FD, .events = 0 },
		};
		int64_t wake = phase == 0 ? deadline : phase == 1 ? kill_at : now_ms() + 1000;
		int64_t wait = wake - now_ms();
		int stop = 0;
		siginfo_t si;

		if (wait < 0)
			wait = 0;
		if (poll(pf, 3, (int)(wait > 60000 ? 60000 : wait)) < 0 && errno != EINTR)
			break;
		if (pf[1].revents && !out_read(&o, outp[0])) {
			close(outp[0]);
			outp[0] = -1;
		}
		if (pf[0].revents & POLLIN) {
			/* One read takes every pending signal (SIGCHLD and
			 * SIGUSR2 at most): no second call to see EAGAIN. */
			struct signalfd_siginfo ssi[4];
			ssize_t got = read(sigfd, ssi, sizeof(ssi));

			for (ssize_t k = 0; k < got / (ssize_t)sizeof(ssi[0]); k++) {
				if (ssi[k].ssi_signo == SIGUSR2)
					stop = 1;
				if (ssi[k].ssi_signo == SIGURG && !master_gone && !drain()) {
					master_gone = 1;
					stop = 1;
				}
			}
			memset(&si, 0, sizeof(si));
			if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
			    si.si_pid == pid) {
				/* The leader is a zombie, so its pid (the group
				 * id) cannot be reused yet: clear the group. */
				kill(-pid, SIGKILL);
				/* And what left the group (setsid): the end
				 * of the job is the end of all it started. */
				cg_kill();
				waitpid(pid, &status, 0);
				break;
			}
		}
		if ((pf[2].revents & (POLLIN | POLLHUP | POLLERR)) && !drain()) {
			master_gone = 1;
			stop = 1;
		}
		if (stop && phase == 0) {
			aborted = 1;
			kill(-pid, SIGTERM);
			phase = 1;
			kill_at = now_ms() + j->kill_grace_ms;
		}
		if (phase == 0 && now_ms() >= deadline) {
			timed_out = 1;
			kill(-pid, SIGTERM);
			phase = 1;
			kill_at = now_ms() + j->kill_grace_ms;
		} else if (phase == 1 && now_ms() >= kill_at) {
			kill(-pid, SIGKILL);
			cg_kill();
			phase = 2;
		}
	}
	/* Whatever the group wrote before it died is still in the pipe (read
	 * until empty: our write end is still open, so no end-of-file). */
	if (outp[0] >= 0) {
		out_read(&o, outp[0]);
		close(outp[0]);
	}
	close(outp[1]);
	out_flush_line(&o);
	if (o.dropped)
		log_info("event=output-truncated %s dropped_bytes=%llu", label,
			 (unsigned long long)o.dropped);
	if (master_gone)
		return;
	if (aborted) {
		/* Stopped: the jobs sent ahead do not start, those still
		 * unread included.  (The master's socket may still be open
		 * when its death is signalled: its other thread holds it a
		 * little longer.) */
		if (!drain())
			master_gone = 1;
		give_back();
		send_result(j->job, ST_ABORTED, 0, now_ms() - t0, &o);
	} else if (timed_out)
		send_result(j->job, ST_TIMEOUT, WIFSIGNALED(status) ? WTERMSIG(status) : 0,
			    now_ms() - t0, &o);
	else if (WIFSIGNALED(status))
		send_result(j->job, ST_SIGNAL, WTERMSIG(status), now_ms() - t0, &o);
	else
		send_result(j->job, ST_EXIT, WEXITSTATUS(status), now_ms() - t0, &o);
	return;
spawn_fail:
	send_result(j->job, ST_SPAWN, errno, 0, NULL);
	return;
bad:
	log_err("event=bad-job-message length=%zu", len);
	send_result(j->job, ST_SPAWN, EINVAL, 0, NULL);
}

/*
 * Ready the switch each command makes to run_uid/run_gid (see child_exec):
 * only root can; anyone else may only "switch" to itself.  No command of
 * this worker may ever gain a privilege (no_new_privs: setuid binaries and
 * file capabilities do nothing), and one that runs as another user than
 * root gets an empty bounding set.  -1 (logged) if the switch is
 * impossible: the worker does not come up, and no file pays an attempt.
 */
static int drop_privileges_for_commands(void)
{
	if (getuid() != 0 && ((run_uid >= 0 && run_uid != (long)getuid()) ||
			      (run_gid >= 0 && run_gid != (long)getgid()))) {
		log_err("event=setuid-failed uid=%ld gid=%ld error=%s", run_uid, run_gid,
			log_q(strerror(EPERM)));
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		log_err("event=no-new-privs-failed error=%s", log_q(strerror(errno)));
		return -1;
	}
	if (getuid() == 0 && run_uid > 0) {
		/* The worker never execs: the bounding set only limits what
		 * its commands could gain. */
		for (int cap = 0; cap <= 63; cap++)
			if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno == EINVAL)
				break;   /* past the last capability */
	}
	return 0;
}

int worker_main(int argc, char **argv)
{
	sigset_t set;
	pid_t parent = getppid();

	/* Dispositions ignored by whoever started the daemon (nohup, an init
	 * system) are inherited: reset them all once here, so that commands
	 * start clean and the per-command reset stays short. */
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && signal(sig, SIG_DFL) == SIG_ERR) {
			/* glibc keeps 32 and 33 for itself and refuses; the
			 * kernel does not.  All zeroes is SIG_DFL, no flags,
			 * empty mask, whatever the architecture's layout. */
			unsigned long zero[8] = { 0 };

			syscall(SYS_rt_sigaction, sig, zero, NULL, (size_t)(NSIG - 1) / 8);
		}
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		signal(ignored[i], SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGURG);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sigfd < 0)
		return 1;
	prctl(PR_SET_PDEATHSIG, SIGUSR2);
	if (getppid() != parent || parent == 1)
		return 0;
	fcntl(WORKER_FD, F_SETFD, FD_CLOEXEC);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0)
		return 1;
	if (argc >= 5)
		pin(strtol(argv[4], NULL, 10));
	if (argc >= 4) {
		run_uid = strtol(argv[2], NULL, 10);
		run_gid = strtol(argv[3], NULL, 10);
	}
	if (cg_worker_open(argc >= 6 ? argv[5] : NULL) < 0) {
		log_err("event=cgroup-failed path=%s error=%s", log_q(argv[5]),
			log_q(strerror(errno)));
		return 1;
	}
	if (drop_privileges_for_commands() < 0)
		return 1;
	{
		uint32_t hello[2] = { MSG_HELLO, 0 };

		if (send(WORKER_FD, hello, sizeof(hello), MSG_NOSIGNAL) < 0)
			return 0;
	}
	for (;;) {
		struct pollfd pf[2] = {
			{ .fd = WORKER_FD, .events = POLLIN },
			{ .fd = sigfd, .events = POLLIN },
		};

		/* What came while the last job ran: the next jobs, maybe a
		 * revoke, a new spool. */
		if (!drain())
			return 0;
		if (npend > 0) {
			/* The next job sent ahead: start it now, no round
			 * trip through the master. */
			int b = phead;

			phead = (phead + 1) % NBUF;
			npend--;
			run_job((struct msg_job *)bufs[b], lens[b]);
			if (master_gone)
				return 0;
			continue;
		}
		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			return 1;
		if (pf[1].revents) {
			struct signalfd_siginfo ssi;

			while (read(sigfd, &ssi, sizeof(ssi)) == sizeof(ssi))
				if (ssi.ssi_signo == SIGUSR2)
					return 0;
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
		}
	}
}
