/*
 * master.c - orchestration: start-up in order, the loop's turns, signals
 * (stop, reload, counters, children), and the end.  What happens between
 * is the modules': drop.c (the drops), intake.c (claims), dispatch.c and
 * pool.c (workers), outcome.c (done/failed), over core.c's job table and
 * loop.c's descriptors and deadlines.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attempt.h"
#include "cgroup.h"
#include "control.h"
#include "copy.h"
#include "admit.h"
#include "core.h"
#include "dispatch.h"
#include "drop.h"
#include "intake.h"
#include "log.h"
#include "loop.h"
#include "master.h"
#include "metrics.h"
#include "notify.h"
#include "outcome.h"
#include "pool.h"
#include "requeue.h"
#include "retain.h"
#include "stats.h"
#include "sys.h"
#include "watch.h"

#define REFILL_BATCH 4   /* files claimed between two turns of the loop */
#define WATCH_BATCH  8   /* watcher messages read between two turns */

static struct {
	int sigfd;
	int aborting;          /* the grace is over */
	int copies_watched;
	struct timer grace;    /* stopping: the end of shutdown_grace */
	struct timer recover;  /* look again for dead daemons' runs */
} M = { .sigfd = -1 };

static void log_counters(void)
{
	struct sw_gauges g;

	core_gauges(&g);
	stats_log(g.queued, g.running, g.waiting);
}

/* The config's warnings (paths others could change), one line each. */
static void log_config_warnings(const struct sw_config *c)
{
	char *copy = c->warnings ? strdup(c->warnings) : NULL, *line, *save = NULL;

	if (!copy)
		return;
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		log_warn("event=config-warning text=%s", log_q(line));
	free(copy);
}

/* SIGHUP: the service manager hears that a reload runs, and that the
 * daemon is ready again (with the old config if the new one was bad). */
static void on_hup(void)
{
	master_reload(NULL);
}

/* The reload failed for WHY (lines): logged, and given to the caller. */
static int reload_failed(char *why, char **out)
{
	char *line, *save = NULL, *copy = why ? strdup(why) : NULL;

	for (line = copy ? strtok_r(copy, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save))
		log_err("event=reload-failed error=%s", log_q(line));
	free(copy);
	log_err("event=reload-failed file=%s keeping=old-config", log_q(core_cfg()->file));
	if (out)
		*out = why;
	else
		free(why);
	notify_ready();
	return -1;
}

int master_reload(char **why)
{
	const struct sw_config *old = core_cfg();
	char *errs = NULL;
	struct sw_config *nc;
	struct cfgref *ref;

	if (why)
		*why = NULL;
	notify_reloading();
	nc = cnf_load(old->file, &errs);
	if (!nc)
		return reload_failed(errs ? errs : strdup("cannot load the config\n"), why);
	free(errs);
	if (nc->run_uid != old->run_uid || nc->run_gid != old->run_gid) {
		/* Running workers, spools made for the commands' group: a new
		 * user or group takes a restart. */
		cnf_free(nc);
		return reload_failed(strdup("user or group changed: restart the daemon to "
					    "apply it\n"), why);
	}
	ref = calloc(1, sizeof(*ref));
	if (!ref || core_grow(2 * nc->queue_size + nc->workers) < 0) {
		free(ref);
		cnf_free(nc);
		return reload_failed(strdup("out of memory\n"), why);
	}
	drops_reserve(core_jobs()->cap);
	ref->cfg = nc;
	ref->refs = 1;
	core_swap(ref);
	log_open(nc->log_target, core_opts()->verbose ? SW_LOG_DEBUG : nc->log_level, NULL);
	attempt_setup_env(nc);
	log_config_warnings(nc);
	drops_reload(ref);
	retain_configure();
	pool_resize(nc->workers);
	metrics_configure();
	control_reconfigured();
	if (!core_once())
		drops_watch(0);
	log_info("event=reloaded file=%s drops=%d workers=%d", log_q(nc->file),
		 nc->n_drops, nc->workers);
	notify_ready();
	return 0;
}

/* The counters or the jobs moved: the service manager's STATUS= and the
 * metrics file follow (each at its own pace). */
static void changed(void)
{
	notify_changed();
	metrics_changed();
}

static void grace_over(void *arg)
{
	(void)arg;
	if (M.aborting)
		return;
	M.aborting = 1;
	log_info("event=grace-expired running=%d", jobs_in(core_jobs(), JS_RUNNING));
	dispatch_abort();
}

void master_stop(void)
{
	if (core_stopping()) {
		grace_over(NULL);  /* a second signal: no more grace */
		return;
	}
	core_set_stopping();
	loop_cancel(&M.recover);
	loop_arm(&M.grace, sys_now_ms() + core_cfg()->shutdown_grace_ms);
	dispatch_stop();
	notify_stopping();
	log_info("event=stopping running=%d grace_ms=%lld", jobs_in(core_jobs(), JS_RUNNING),
		 (long long)core_cfg()->shutdown_grace_ms);
}

static void recover_due(void *arg)
{
	(void)arg;
	drops_recover_again();
	loop_arm(&M.recover, sys_now_ms() + core_recover_every());
}

static void on_signals(void *arg)
{
	struct signalfd_siginfo si;

	(void)arg;
	while (read(M.sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			master_stop();
			break;
		case SIGHUP:
			if (!core_stopping())
				on_hup();
			break;
		case SIGUSR1:
			log_counters();
			break;
		case SIGCHLD: {
			int st;
			pid_t pid;

			while ((pid = sys_waitpid(-1, &st, WNOHANG)) > 0)
				pool_reaped(pid, st);
			break;
		}
		}
	}
}

/* At most WATCH_BATCH messages (a claim costs a rename; results must not
 * wait behind a burst of arrivals); more at the next turn. */
static void on_watch(void *arg)
{
	struct watch_msg m;
	struct drop *d;
	int budget = WATCH_BATCH;

	(void)arg;
	while (budget-- > 0 && watch_next(&m) > 0) {
		switch (m.type) {
		case W_FILE:
			d = drop_by_id(m.id);
			if (d && m.created == W_SUBDIR)
				intake_subdir(d, m.name);
			else if (d)
				intake_file(d, m.name, m.created != 0);
			break;
		case W_OVERFLOW:
			stats_inc(STAT_OVERFLOWS);
			log_warn("event=overflow action=rescan");
			drops_overflow();
			break;
		case W_LOST:
			d = drop_by_id(m.id);
			if (d)
				drop_lost(d);
			break;
		case W_BACK:
			d = drop_by_id(m.id);
			if (d)
				drop_back(d);
			break;
		case W_TREE:
			/* A subdirectory came, watched now: what was made
			 * in it before is found by a scan. */
			if ((d = drop_by_id(m.id)))
				d->dirty = 1;
			break;
		case W_POLL:
			if ((d = drop_by_id(m.id)))
				drop_unwatched(d, (int)m.created, m.name);
			break;
		}
	}
	if (budget < 0)
		loop_again(watch_fd());
}

/* Copies beside the loop (copy.c) are done: a private copy is queued, a
 * copy to done/ or failed/ is put in place. */
static void on_copies(void *arg)
{
	struct copy_done c;

	(void)arg;
	while (copy_next(&c)) {
		int s = (int)c.id;
		struct job *j;

		if (s < 0 || s >= core_jobs()->cap)
			continue;
		j = JOB(s);
		if (j->gen != c.gen)
			continue;
		if (j->state == JS_COPYING)
			admit_copied(s, c.err);
		else if (j->state == JS_MOVING)
			outcome_copied(s, c.err);
	}
}

/* --once: nothing in flight, and every drop looked at in full. */
static int once_idle(void)
{
	return jobs_total(core_jobs()) == 0 && drops_idle();
}

/* Room for the descriptors of many drops (seven each): the soft limit
 * raised to the hard one. */
static void more_descriptors(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Commands in cgroups of their own, where the daemon has a subtree; said
 * either way.  -1 if the one given cannot be used. */
static int setup_cgroups(const char *given)
{
	const char *why = "";
	int on = cg_setup(given, &why);

	if (on < 0) {
		log_err("event=start-failed cgroup=%s error=%s", log_q(given), log_q(why));
		return -1;
	}
	if (on)
		log_info("event=cgroups path=%s", log_q(cg_dir()));
	else
		log_info("event=cgroups-off reason=%s note=%s", why,
			 log_q("commands that leave their process group are not killed; "
			       "see --cgroup"));
	return 0;
}

static int start(struct sw_config *c, const struct master_opts *opts)
{
	sigset_t set;

	/* Before any worker exists: none inherits NOTIFY_SOCKET. */
	notify_init();
	stats_on_change(changed);
	if (core_init(c, opts) < 0 || pool_init() < 0) {
		log_err("event=start-failed error=%s", log_q(strerror(errno)));
		return -1;
	}
	/* A job started, ended, came back: STATUS= says so (at most once a
	 * second). */
	core_jobs()->moved = changed;
	intake_init();
	timer_init(&M.grace, grace_over, NULL);
	timer_init(&M.recover, recover_due, NULL);
	attempt_setup_env(c);
	log_config_warnings(c);
	signal(SIGPIPE, SIG_IGN);
	/* A read lease (the open-for-writing probe, the take-over) is held
	 * for a moment only; a writer opening the file in that moment breaks
	 * it, and the kernel then signals its holder with SIGIO, whose default
	 * ends the process. */
	signal(SIGIO, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGCHLD);
	/* Blocked before the watcher thread exists, so it inherits the mask
	 * and every signal reaches the signalfd. */
	sigprocmask(SIG_BLOCK, &set, NULL);
	M.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (M.sigfd < 0 || core_grow(core_capacity()) < 0 ||
	    loop_watch(M.sigfd, LOOP_PRIO_SIGNAL, on_signals, NULL) < 0) {
		log_err("event=start-failed error=%s", log_q(strerror(errno)));
		return -1;
	}
	more_descriptors();
	if (setup_cgroups(opts->cgroup) < 0)
		return -1;
	/* The inotify descriptor before the drops' own: libinotifytools waits
	 * on it with select(), which cannot go past descriptor 1023. */
	if (!opts->once && watch_init() < 0) {
		log_err("event=watch-failed path=- error=%s", log_q(strerror(errno)));
		return -1;
	}
	if (drops_start() < 0)
		return -1;
	if (!opts->once && (drops_watch(1) < 0 ||
			    loop_watch(watch_fd(), LOOP_PRIO_WATCH, on_watch, NULL) < 0))
		return -1;
	if (!opts->once)
		loop_arm(&M.recover, sys_now_ms() + core_recover_every());
	retain_configure();
	/* A batch run is not operated: no control socket. */
	if (!opts->once && control_open() < 0)
		return -1;
	pool_resize(c->workers);
	metrics_configure();
	log_info("event=ready mode=%s drops=%d workers=%d queue_size=%d version=%s",
		 opts->once ? "once" : "watch", c->n_drops, c->workers, c->queue_size,
		 SW_VERSION);
	/* Every drop is watched (and will be scanned): a file that arrives
	 * from now on is seen. */
	notify_ready();
	return 0;
}

int master_run(struct sw_config *c, const struct master_opts *opts)
{
	int rc = 0, more;

	if (start(c, opts) < 0) {
		rc = 3;
		goto out;
	}
	for (;;) {
		/* Idle workers get what is queued before the queue is topped
		 * up: a claim costs a rename, and they need not wait for
		 * REFILL_BATCH more. */
		dispatch_run();
		more = intake_refill(REFILL_BATCH);
		dispatch_run();
		if (core_stopping() && jobs_running(core_jobs()) == 0)
			break;
		if (opts->once && once_idle())
			break;
		if (!M.copies_watched && copy_fd() >= 0)
			M.copies_watched = loop_watch(copy_fd(), LOOP_PRIO_COPY, on_copies,
						      NULL) == 0;
		if (loop_once(more) < 0) {
			log_err("event=poll-failed error=%s", log_q(strerror(errno)));
			rc = 3;
			break;
		}
	}
	if (core_stopping())
		log_counters();
	if (pool_gave_up())
		rc = 3;
	else if (opts->once && rc == 0)
		rc = core_any_failed() ? 1 : 0;
out:
	pool_stop(M.sigfd);
	dispatch_free();
	cg_teardown();
	if (!opts->once)
		watch_stop();
	/* Copies under way are dropped (their temporaries removed): their
	 * files stay in flight for the next start. */
	copy_stop();
	for (int i = 0; i < core_jobs()->cap; i++) {
		struct job *j = JOB(i);

		if (j->state == JS_MOVING && j->destfd >= 0) {
			/* Made or not, never placed: the next start moves it. */
			unlinkat(j->destfd, j->tmp, 0);
			close(j->destfd);
		}
	}
	control_close();
	requeue_free();
	retain_free();
	metrics_flush();   /* the last figures, before the drops go */
	metrics_free();
	drops_free();
	notify_free();
	loop_free();
	core_free();
	if (M.sigfd >= 0)
		close(M.sigfd);
	log_info("event=stopped status=%d", rc);
	return rc;
}
