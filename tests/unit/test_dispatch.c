/*
 * Unit tests: the dispatcher (dispatch.c) driven in-process, on a fake
 * clock.  This file links its own twins of what dispatch.c talks to --
 * the pool (pool_send, pool_ring, pool_kill, ...), the attempt's message,
 * the outcome, the system calls of loop.c -- and records what it was
 * asked to do: each race that used to be testable only by running the
 * daemon under load is played here step by step.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admit.h"
#include "attempt.h"
#include "core.h"
#include "dispatch.h"
#include "drop.h"
#include "intake.h"
#include "loop.h"
#include "outcome.h"
#include "pool.h"
#include "proto.h"
#include "sys.h"

/* ---- the twins ------------------------------------------------------ */

#define MAXW 4
static int usable[MAXW];
static struct sent { int wi; uint32_t type, job; } sent[256];
static int nsent, rings[MAXW], kills[MAXW], aborts[MAXW];
static struct { int s; enum st_kind kind; } results[64];
static int nresults;
static int64_t fake_now = 1000000;

int pool_usable(int wi) { return usable[wi]; }
pid_t pool_pid(int wi) { return 100 + wi; }
void pool_ring(int wi) { rings[wi]++; }
void pool_kill(int wi) { kills[wi]++; }
void pool_abort(int wi) { aborts[wi]++; }
void pool_retire_idle(void) { }
int pool_send(int wi, const void *buf, size_t len)
{
	const struct msg_job *m = buf;

	cr_assert_lt(nsent, 256);
	sent[nsent].wi = wi;
	sent[nsent].type = m->type;
	sent[nsent].job = len >= sizeof(struct msg_job) ? m->job : PROTO_NONE;
	nsent++;
	return usable[wi] ? 0 : -1;
}
int attempt_message(int s, char *buf, size_t *len)
{
	struct msg_job *m = (struct msg_job *)buf;

	memset(m, 0, sizeof(*m));
	m->type = MSG_JOB;
	m->job = (uint32_t)s;
	m->attempt = (uint32_t)JOB(s)->n;
	*len = sizeof(*m);
	return 0;
}
void outcome_result(int s, enum st_kind kind, int code, int64_t dur, const char *tail,
		    size_t tlen)
{
	(void)code; (void)dur; (void)tail; (void)tlen;
	results[nresults].s = s;
	results[nresults].kind = kind;
	nresults++;
}
void outcome_finish(int s, int to_failed, const char *status, const char *reason, int64_t dur,
		    const char *tail, size_t tlen)
{
	(void)s; (void)to_failed; (void)status; (void)reason; (void)dur; (void)tail; (void)tlen;
	cr_assert_fail("no attempt fails to be set up here");
}
void outcome_deliver(int s) { (void)s; }
void admit(int s) { (void)s; }
void drop_job_released(struct drop *d) { (void)d; }
int64_t sys_now_ms(void) { return fake_now; }
int sys_poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	(void)fds; (void)n; (void)timeout_ms;
	return 0;
}

/* ---- the world ------------------------------------------------------ */

static char dir[64];
static struct drop drop;

static void setup(void)
{
	char conf[128];
	struct master_opts o = { 0, 0, NULL };
	struct sw_config *c;
	char *errs = NULL;
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/sw-dispatch.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	for (int i = 0; i < 3; i++) {
		static const char *const sub[] = { "in", "spool", "out" };

		snprintf(conf, sizeof(conf), "%s/%s", dir, sub[i]);
		cr_assert_eq(mkdir(conf, 0700), 0);
	}
	snprintf(conf, sizeof(conf), "%s/c.conf", dir);
	f = fopen(conf, "w");
	cr_assert_not_null(f);
	fprintf(f, "workers = 2; queue_size = 8;\n"
		"drops = ( { name = \"d\"; path = \"%s/in\"; done = \"%s/out\";"
		" failed = \"%s/out\"; spool = \"%s/spool\"; command = [\"/bin/true\", \"{file}\"];"
		" timeout = \"10s\"; kill_grace = \"2s\"; } );\n", dir, dir, dir, dir);
	cr_assert_eq(fclose(f), 0);
	c = cnf_load(conf, &errs);
	cr_assert_not_null(c, "%s", errs ? errs : "");
	cr_assert_eq(core_init(c, &o), 0);
	cr_assert_eq(core_grow(core_capacity()), 0);
	cr_assert_eq(dispatch_resize(2), 0);
	memset(&drop, 0, sizeof(drop));
	drop.cfg = &c->drops[0];
	memset(usable, 0, sizeof(usable));
	nsent = nresults = 0;
	memset(rings, 0, sizeof(rings));
	memset(kills, 0, sizeof(kills));
	memset(aborts, 0, sizeof(aborts));
}

static void teardown(void)
{
	char cmd[128];

	dispatch_free();
	loop_free();
	core_free();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(dispatch, .init = setup, .fini = teardown);

static int queued(const char *name)
{
	int s = job_claim(core_jobs(), &drop, name);

	cr_assert_geq(s, 0);
	core_enqueue(s, JE_ADMIT);
	return s;
}

static void from_worker(int wi, uint32_t type, uint32_t arg)
{
	if (type == MSG_RESULT) {
		struct msg_result r;

		memset(&r, 0, sizeof(r));
		r.type = MSG_RESULT;
		r.job = arg;
		r.kind = ST_EXIT;
		dispatch_message(wi, &r, offsetof(struct msg_result, tail));
	} else {
		struct msg_ctl m = { type, arg };

		dispatch_message(wi, &m, sizeof(m));
	}
}

static void assert_sent(int k, int wi, uint32_t type, int job)
{
	cr_assert_gt(nsent, k, "only %d messages sent", nsent);
	cr_assert_eq(sent[k].wi, wi, "message %d went to worker %d", k, sent[k].wi);
	cr_assert_eq(sent[k].type, type, "message %d is of type %u", k, sent[k].type);
	if (job >= 0)
		cr_assert_eq(sent[k].job, (uint32_t)job, "message %d is job %u", k, sent[k].job);
}

static enum job_state state(int s)
{
	return JOB(s)->state;
}

/* ---- the plays ------------------------------------------------------ */

/* Busy worker -> jobs sent ahead -> another worker comes up idle -> they
 * are asked back -> taken back -> the idle worker runs them; attempts are
 * counted once each. */
Test(dispatch, jobs_sent_ahead_are_asked_back_for_an_idle_worker)
{
	int a, b, c;

	usable[0] = 1;
	a = queued("a.sea");
	b = queued("b.sea");
	c = queued("c.sea");
	dispatch_run();
	cr_assert_eq(nsent, 3);
	assert_sent(0, 0, MSG_JOB, a);
	assert_sent(1, 0, MSG_JOB, b);
	assert_sent(2, 0, MSG_JOB, c);
	cr_assert_eq(state(a), JS_RUNNING);
	cr_assert_eq(state(b), JS_AHEAD);
	cr_assert_eq(state(c), JS_AHEAD);
	cr_assert_eq(jobs_running(core_jobs()), 3);

	/* Worker 1 says hello: idle, while two jobs wait behind a. */
	usable[1] = 1;
	dispatch_run();
	assert_sent(3, 0, MSG_REVOKE, -1);
	cr_assert_eq(rings[0], 1, "the busy worker was not rung");
	dispatch_run();
	cr_assert_eq(nsent, 4, "asked twice");

	/* It gives them back, the last sent first. */
	from_worker(0, MSG_RETURN, (uint32_t)c);
	cr_assert_eq(state(c), JS_RUNNING, "c did not go to the idle worker");
	assert_sent(4, 1, MSG_JOB, c);
	from_worker(0, MSG_RETURN, (uint32_t)b);
	assert_sent(5, 1, MSG_JOB, b);
	cr_assert_eq(state(b), JS_AHEAD);
	from_worker(0, MSG_RETURN, PROTO_NONE);
	cr_assert_eq(JOB(a)->n, 1);
	cr_assert_eq(JOB(b)->n, 1, "b's attempt counted twice");
	cr_assert_eq(JOB(c)->n, 1);
	cr_assert_eq(jobs_in(core_jobs(), JS_AHEAD), 1);

	/* c's result: b, sent ahead on worker 1, is its job now. */
	from_worker(1, MSG_RESULT, (uint32_t)c);
	cr_assert_eq(nresults, 1);
	cr_assert_eq(results[0].s, c);
	cr_assert_eq(state(b), JS_RUNNING);
	cr_assert_eq(jobs_in(core_jobs(), JS_AHEAD), 0);
	/* A result for a job the worker does not run is ignored. */
	from_worker(1, MSG_RESULT, (uint32_t)a);
	cr_assert_eq(nresults, 1);
}

/* A worker dies holding a job and two sent ahead: those two go back to
 * the queue in their order, uncounted; the one it ran ends as a worker's
 * death. */
Test(dispatch, a_worker_dying_with_jobs_sent_ahead)
{
	int a, b, c, s;

	usable[0] = 1;
	a = queued("a.sea");
	b = queued("b.sea");
	c = queued("c.sea");
	dispatch_run();
	usable[0] = 0;
	dispatch_lost(0);
	cr_assert_eq(nresults, 1);
	cr_assert_eq(results[0].s, a);
	cr_assert_eq(results[0].kind, ST_WORKER_DIED);
	cr_assert_eq(state(b), JS_QUEUED);
	cr_assert_eq(state(c), JS_QUEUED);
	cr_assert_eq(JOB(b)->n, 0, "a job never started was counted");
	cr_assert_eq(JOB(c)->n, 0);
	cr_assert_eq(queue_pop(core_queue(), &s), 0);
	cr_assert_eq(s, b, "the order of the jobs sent ahead was lost");
	cr_assert_eq(queue_pop(core_queue(), &s), 0);
	cr_assert_eq(s, c);
}

/* A stop while jobs are sent ahead: they are asked back and stay in
 * flight (parked) for the next start; nothing new starts; when the grace
 * ends the running command is stopped and its worker watched. */
Test(dispatch, a_stop_with_jobs_sent_ahead)
{
	int a, b, c, d;

	usable[0] = 1;
	a = queued("a.sea");
	b = queued("b.sea");
	c = queued("c.sea");
	dispatch_run();
	core_set_stopping();
	dispatch_stop();
	assert_sent(3, 0, MSG_REVOKE, -1);
	d = queued("d.sea");
	dispatch_run();
	cr_assert_eq(nsent, 4, "a job started while stopping");
	cr_assert_eq(state(d), JS_QUEUED);
	from_worker(0, MSG_RETURN, (uint32_t)c);
	from_worker(0, MSG_RETURN, (uint32_t)b);
	cr_assert_eq(state(b), JS_PARKED);
	cr_assert_eq(state(c), JS_PARKED);
	cr_assert_null(JOB(b)->name);
	cr_assert_eq(jobs_running(core_jobs()), 1);
	dispatch_abort();
	cr_assert_eq(aborts[0], 1);
	cr_assert_eq(state(a), JS_RUNNING);
}

/* A worker that stays silent past its job's timeout + kill_grace + 5 s is
 * killed (the master does not trust it to keep the timeout). */
Test(dispatch, a_silent_worker_is_killed_after_its_deadline)
{
	usable[0] = 1;
	queued("a.sea");
	dispatch_run();
	fake_now += 10000 + 2000 + 5000 - 1;
	cr_assert_eq(loop_once(1), 0);
	cr_assert_eq(kills[0], 0, "killed before its deadline");
	fake_now += 1;
	cr_assert_eq(loop_once(1), 0);
	cr_assert_eq(kills[0], 1, "a silent worker was not killed");
}
