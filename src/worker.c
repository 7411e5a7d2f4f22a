/*
 * worker.c - a worker process: its messages with the master (jobs, jobs
 * sent ahead and given back, attempts tables), one job at a time -- decode
 * it, count the attempt on disk, run it (runner.c), report -- and its own
 * credentials.  When the master goes away (its socket closes, or
 * PR_SET_PDEATHSIG fires), the worker stops its command and exits: no
 * orphan keeps running a file that the next start will run again.
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
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "helper.h"
#include "log.h"
#include "policy.h"
#include "proto.h"
#include "runner.h"
#include "sys.h"
#include "spool.h"
#include "worker.h"

static int sigfd = -1;
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




static void send_result(uint32_t job, enum st_kind kind, int code,
			int64_t dur, const struct output *out)
{
	struct msg_result r;

	memset(&r, 0, sizeof(r));
	r.type = MSG_RESULT;
	r.job = job;
	r.kind = kind;
	r.code = code;
	r.duration_ms = dur;
	r.tail_len = out ? (uint32_t)runner_out_tail(out, r.tail) : 0;
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
				/* Its drop is gone: so is its command, if any. */
				helper_forget(id);
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


/* The runner's question, for the master's signals and its socket's
 * hang-up (SIGNO 0): must the running command stop now? */
static int ctl_watched = WORKER_FD;   /* the master's socket, -1 once it is gone */

static int master_says_stop(int signo, void *arg)
{
	(void)arg;
	if (signo == SIGUSR2)
		return 1;
	if ((signo == SIGURG || signo == 0) && !master_gone && !drain()) {
		master_gone = 1;
		ctl_watched = -1;   /* hung up: no longer worth a poll */
		return 1;
	}
	return 0;
}

/*
 * What ps shows: the worker writes its title over its own argv (the
 * master leaves room at the end), so that `ps` says which file each
 * worker runs -- no system call (prctl's name is 15 bytes, and one call).
 */
static char *title;
static size_t title_room;

static void title_init(int argc, char **argv)
{
	char *end = argv[argc - 1] + strlen(argv[argc - 1]);

	/* Only if the strings are one block, as the kernel lays them out. */
	for (int i = 1; i < argc; i++)
		if (argv[i] != argv[i - 1] + strlen(argv[i - 1]) + 1)
			return;
	title = argv[0];
	title_room = (size_t)(end - argv[0]);
}

static void title_set(const char *drop, const char *name)
{
	char buf[512];
	int n;

	if (!title)
		return;
	n = drop ? snprintf(buf, sizeof(buf), "seawatch-worker: %s/%s", drop, name) :
		   snprintf(buf, sizeof(buf), "seawatch-worker: idle");
	if (n < 0)
		return;
	if ((size_t)n > title_room)
		n = (int)title_room;
	memcpy(title, buf, (size_t)n);
	memset(title + n, '\0', title_room - (size_t)n);
}

/* The value of NAME= in ENVP, or "?". */
static const char *env_of(char **envp, const char *name)
{
	size_t l = strlen(name);

	for (; *envp; envp++)
		if (!strncmp(*envp, name, l) && (*envp)[l] == '=')
			return *envp + l + 1;
	return "?";
}

/* Reap ended children; the persistent command's end is helper.c's to
 * see (its pid must not be reused while the worker may signal it). */
static void reap(void)
{
	for (;;) {
		siginfo_t si;

		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
			return;
		if (helper_owns(si.si_pid))
			helper_reap(si.si_pid);
		else
			waitpid(si.si_pid, NULL, 0);
	}
}

/* Job J of a lines-mode drop: to the worker's persistent command. */
static void run_lines(const struct msg_job *j, char **argv, char **envp, const char *label,
		      const char *path)
{
	struct output out;
	struct helper_res res;
	const char *base = strrchr(path, '/');

	title_set(env_of(envp, "SEAWATCH_DROP"), base ? base + 1 : path);
	runner_out_init(&out, label, j->out_log_max);
	ctl_watched = master_gone ? -1 : WORKER_FD;
	helper_job(j, argv, envp, path, &out, sigfd, &ctl_watched, master_says_stop, &res);
	runner_out_end(&out);
	/* The ends the job's wait read the SIGCHLD of (another drop's
	 * command that ended meanwhile, say): reaped now. */
	if (res.reap)
		reap();
	if (master_gone)
		return;
	if (res.kind == ST_ABORTED) {
		/* As in exec mode: the jobs sent ahead do not start. */
		if (!drain())
			master_gone = 1;
		give_back();
	}
	send_result(j->job, res.kind, res.code, res.dur, &out);
}

static void run_job(const struct msg_job *j, size_t len)
{
	char *argv[130], *envp[70];
	const char *label, *path;
	struct runner r;
	enum run_end end;
	int e, fd;

	if (proto_job_decode(j, len, argv, 129, envp, 65, &label, &path) < 0) {
		log_err("event=bad-job-message length=%zu", len);
		send_result(j->job, ST_SPAWN, EINVAL, 0, NULL);
		return;
	}
	/* The command's output lines go where the daemon's do. */
	log_set_level((enum sw_log_level)j->log_level);
	log_set_target((enum sw_log_target)j->log_target);
	/* The attempt is counted on disk before it starts: a file whose
	 * command kills the daemon cannot loop forever. */
	fd = spool_fd(j->spool);
	if (fd < 0)
		errno = EBADF;
	if (fd < 0 || spool_rec_put(fd, (int)j->slot, (int)j->attempt, 0) < 0) {
		send_result(j->job, ST_SPAWN, errno, 0, NULL);
		return;
	}
	if (path) {
		run_lines(j, argv, envp, label, path);
		return;
	}
	title_set(env_of(envp, "SEAWATCH_DROP"), env_of(envp, "SEAWATCH_NAME"));
	e = runner_start(&r, argv, envp, label, j->out_log_max);
	if (e < 0) {
		send_result(j->job, ST_SPAWN, errno, 0, NULL);
		return;
	}
	if (e > 0) {
		send_result(j->job, ST_EXEC, e, sys_now_ms() - r.t0, NULL);
		return;
	}
	ctl_watched = master_gone ? -1 : WORKER_FD;
	end = runner_wait(&r, j->timeout_ms, j->kill_grace_ms, sigfd, &ctl_watched,
			  master_says_stop, NULL);
	runner_finish(&r);
	if (master_gone)
		return;
	if (end == RUN_STOPPED) {
		/* Stopped: the jobs sent ahead do not start, those still
		 * unread included.  (The master's socket may still be open
		 * when its death is signalled: its other thread holds it a
		 * little longer.) */
		if (!drain())
			master_gone = 1;
		give_back();
		send_result(j->job, ST_ABORTED, 0, sys_now_ms() - r.t0, &r.out);
	} else if (end == RUN_TIMEOUT) {
		send_result(j->job, ST_TIMEOUT, WIFSIGNALED(r.status) ? WTERMSIG(r.status) : 0,
			    sys_now_ms() - r.t0, &r.out);
	} else if (WIFSIGNALED(r.status)) {
		send_result(j->job, ST_SIGNAL, WTERMSIG(r.status), sys_now_ms() - r.t0, &r.out);
	} else {
		send_result(j->job, ST_EXIT, WEXITSTATUS(r.status), sys_now_ms() - r.t0, &r.out);
	}
}

/*
 * Ready the switch each command makes to its user and group (runner.c):
 * only root can; anyone else may only "switch" to itself.  No command of
 * this worker may ever gain a privilege (no_new_privs: setuid binaries and
 * file capabilities do nothing), and one that runs as another user than
 * root gets an empty bounding set.  -1 (logged) if the switch is
 * impossible: the worker does not come up, and no file pays an attempt.
 */
static int drop_privileges_for_commands(void)
{
	long run_uid = runner_uid(), run_gid = runner_gid();

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

static int serve(int argc, char **argv);

int worker_main(int argc, char **argv)
{
	int rc = serve(argc, argv);

	/* However it ends (a stop, the master gone): its persistent command
	 * gets its stdin closed and kill_grace, then is killed. */
	helper_end();
	return rc;
}

static int serve(int argc, char **argv)
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
	runner_ignore_signals();
	/* Its own stamp and pid on stderr (none under the journal). */
	log_open(SW_LOG_STDERR, SW_LOG_INFO, "seawatchd");
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
	if (runner_setup(argc >= 4 ? strtol(argv[2], NULL, 10) : -1,
			 argc >= 4 ? strtol(argv[3], NULL, 10) : -1,
			 argc >= 5 ? strtol(argv[4], NULL, 10) : -1) < 0)
		return 1;
	if (cg_worker_open(argc >= 6 ? argv[5] : NULL) < 0) {
		log_err("event=cgroup-failed path=%s error=%s", log_q(argv[5]),
			log_q(strerror(errno)));
		return 1;
	}
	if (drop_privileges_for_commands() < 0)
		return 1;
	{
		uint32_t hello[2] = { MSG_HELLO, 0 };

		title_init(argc, argv);
		title_set(NULL, NULL);

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
			title_set(NULL, NULL);
			helper_tidy();
			if (master_gone)
				return 0;
			continue;
		}
		helper_tidy();
		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			return 1;
		if (pf[1].revents) {
			struct signalfd_siginfo ssi;

			while (read(sigfd, &ssi, sizeof(ssi)) == sizeof(ssi))
				if (ssi.ssi_signo == SIGUSR2)
					return 0;
			reap();
		}
	}
}
