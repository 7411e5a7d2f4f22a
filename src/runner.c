/*
 * runner.c - one command under the command contract (see runner.h).
 *
 * The command gets its own process group (and its worker's cgroup, if
 * there is one), stdin /dev/null, stdout and stderr on one pipe, a clean
 * environment, and no other descriptor.  A timeout (or a stop) sends
 * SIGTERM to the whole group, then SIGKILL after kill_grace; the cgroup,
 * if any, is killed whole then and when the command exits.
 */
#include "compat.h"
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "log.h"
#include "sys.h"


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

/* The commands' user and group (-1: the worker's own). */
static long run_uid = -1, run_gid = -1;
/* Ctrl-C at a terminal, or a service manager's SIGTERM, goes to the whole
 * group: only the master decides what a stop means (it sends SIGUSR2). */
static const int ignored[] = { SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGPIPE };

void runner_ignore_signals(void)
{
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		signal(ignored[i], SIG_IGN);
}

long runner_uid(void)
{
	return run_uid;
}

long runner_gid(void)
{
	return run_gid;
}

void runner_out_init(struct output *o, const char *label, uint32_t log_max)
{
	memset(o, 0, sizeof(*o));
	o->label = label;
	o->log_max = log_max;
}

static void out_flush_line(struct output *o)
{
	char esc[RUNNER_LINE_MAX * 4 + 8];

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

void runner_out_feed(struct output *o, const char *buf, size_t n)
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

size_t runner_out_tail(const struct output *o, char *dst)
{
	if (!o->tailfull) {
		memcpy(dst, o->tail, o->tailpos);
		return o->tailpos;
	}
	memcpy(dst, o->tail + o->tailpos, sizeof(o->tail) - o->tailpos);
	memcpy(dst + sizeof(o->tail) - o->tailpos, o->tail, o->tailpos);
	return sizeof(o->tail);
}

int runner_out_read(struct output *o, int fd)
{
	char buf[65536];

	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r > 0) {
			runner_out_feed(o, buf, (size_t)r);
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
	int infd, outfd, errfd;
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
	if (dup2(sp->infd, 0) < 0 || dup2(sp->outfd, 1) < 0 || dup2(sp->errfd, 2) < 0)
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


int runner_setup(long uid, long gid, long index)
{
	/* Configured as the user the daemon runs as (user = "seawatch" under
	 * a unit with User=seawatch): nothing to switch, and a user who is not
	 * root may not even call setgroups(). */
	run_uid = uid == (long)geteuid() && geteuid() != 0 ? -1 : uid;
	run_gid = gid == (long)getegid() && geteuid() != 0 ? -1 : gid;
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0)
		return -1;
	pin(index);
	return 0;
}

int runner_spawn(pid_t *pid, char **argv, char **envp, int fd0, int fd1, int fd2)
{
	struct spawn sp = { argv, envp, fd0 < 0 ? devnull : fd0, fd1, fd2, 0 };
	int e;

	*pid = clone(child_exec, spawn_stack + sizeof(spawn_stack),
		     CLONE_VM | CLONE_VFORK | SIGCHLD, &sp);
	if (*pid < 0)
		return -1;
	if ((e = sp.err)) {
		waitpid(*pid, NULL, 0);
		return e;
	}
	return 0;
}

int runner_start(struct runner *r, char **argv, char **envp, const char *label,
		 uint32_t log_max)
{
	int outp[2], e;

	runner_out_init(&r->out, label, log_max);
	r->status = 0;
	/* The read end non-blocking from the start: one call less later. */
	if (pipe2(outp, O_CLOEXEC) < 0)
		return -1;
	fcntl(outp[0], F_SETFL, O_NONBLOCK);
	r->t0 = sys_now_ms();
	e = runner_spawn(&r->pid, argv, envp, -1, outp[1], outp[1]);
	if (e != 0) {
		int saved = errno;

		close(outp[0]);
		close(outp[1]);
		errno = saved;
		return e;
	}
	/* We keep our copy of the write end until the command is reaped: the
	 * pipe never hangs up, so its exit wakes us once (SIGCHLD), not twice
	 * (the hang-up as it closes its descriptors, then SIGCHLD). */
	r->outfd = outp[0];
	r->keepfd = outp[1];
	return 0;
}

enum run_end runner_wait(struct runner *r, int64_t timeout_ms, int64_t grace_ms, int sigfd,
			 const int *ctlfd, int (*hook)(int signo, void *arg), void *arg)
{
	int64_t deadline = r->t0 + timeout_ms, kill_at = 0;
	int phase = 0, timed_out = 0, stopped = 0;
	pid_t pid = r->pid;

	for (;;) {
		struct pollfd pf[3] = {
			{ .fd = sigfd, .events = POLLIN },
			{ .fd = r->outfd, .events = POLLIN },
			/* Not for every message: only its hang-up (the
			 * master rings with SIGURG when it must be heard). */
			{ .fd = *ctlfd, .events = 0 },
		};
		int64_t wake = phase == 0 ? deadline : phase == 1 ? kill_at : sys_now_ms() + 1000;
		int64_t wait = wake - sys_now_ms();
		int stop = 0;
		siginfo_t si;

		if (wait < 0)
			wait = 0;
		if (poll(pf, 3, (int)(wait > 60000 ? 60000 : wait)) < 0 && errno != EINTR)
			break;
		if (pf[1].revents && !runner_out_read(&r->out, r->outfd)) {
			close(r->outfd);
			r->outfd = -1;
		}
		if (pf[0].revents & POLLIN) {
			/* One read takes every pending signal (SIGCHLD and
			 * the master's at most): no second call to see EAGAIN. */
			struct signalfd_siginfo ssi[4];
			ssize_t got = read(sigfd, ssi, sizeof(ssi));

			for (ssize_t k = 0; k < got / (ssize_t)sizeof(ssi[0]); k++)
				if (ssi[k].ssi_signo != SIGCHLD && hook((int)ssi[k].ssi_signo, arg))
					stop = 1;
			memset(&si, 0, sizeof(si));
			if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
			    si.si_pid == pid) {
				/* The leader is a zombie, so its pid (the group
				 * id) cannot be reused yet: clear the group. */
				kill(-pid, SIGKILL);
				/* And what left the group (setsid): the end
				 * of the job is the end of all it started. */
				cg_kill();
				waitpid(pid, &r->status, 0);
				break;
			}
		}
		if ((pf[2].revents & (POLLIN | POLLHUP | POLLERR)) && hook(0, arg))
			stop = 1;
		if (stop && phase == 0) {
			stopped = 1;
			kill(-pid, SIGTERM);
			phase = 1;
			kill_at = sys_now_ms() + grace_ms;
		}
		if (phase == 0 && sys_now_ms() >= deadline) {
			timed_out = 1;
			kill(-pid, SIGTERM);
			phase = 1;
			kill_at = sys_now_ms() + grace_ms;
		} else if (phase == 1 && sys_now_ms() >= kill_at) {
			kill(-pid, SIGKILL);
			cg_kill();
			phase = 2;
		}
	}
	return stopped ? RUN_STOPPED : timed_out ? RUN_TIMEOUT : RUN_EXITED;
}

void runner_finish(struct runner *r)
{
	/* Whatever the group wrote before it died is still in the pipe (read
	 * until empty: our write end is still open, so no end-of-file). */
	if (r->outfd >= 0) {
		runner_out_read(&r->out, r->outfd);
		close(r->outfd);
		r->outfd = -1;
	}
	close(r->keepfd);
	r->keepfd = -1;
	runner_out_end(&r->out);
}

void runner_out_end(struct output *o)
{
	out_flush_line(o);
	if (o->dropped)
		log_info("event=output-truncated %s dropped_bytes=%llu", o->label,
			 (unsigned long long)o->dropped);
	o->dropped = 0;
}

size_t runner_tail(const struct runner *r, char *dst)
{
	return runner_out_tail(&r->out, dst);
}
