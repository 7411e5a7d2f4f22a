/*
 * core.c - what the master's modules share (see core.h), and the jobs'
 * waits: one timer per job, in the loop's heap.
 */
#include "core.h"

#include <stdlib.h>
#include <unistd.h>

#include "admit.h"
#include "drop.h"
#include "log.h"
#include "loop.h"
#include "noticed.h"
#include "outcome.h"
#include "proto.h"
#include "settle.h"
#include "sys.h"

#define RECOVER_EVERY_MS 60000 /* how often to look for dead daemons' runs (and what
				* was set aside); $SEAWATCH_RECOVER_MS for tests */

static struct {
	struct cfgref *cur;
	struct master_opts opts;
	struct jobs jt;
	struct queue q;
	int stopping;
	int any_failed;
	int64_t recover_every;
	uint64_t rng;
	uint32_t copy_gen;
} C;

/* A move the job table forbids: a bug, said loudly (and fatal in debug
 * builds, where the tests run under the sanitizers). */
static void job_bug(const struct job *j, enum job_event ev)
{
	log_err("event=bug reason=illegal-transition slot=%d state=%s on=%s file=%s", j->slot,
		job_state_name(j->state), job_event_name(ev), j->name ? log_q(j->name) : "-");
}

int core_init(struct sw_config *c, const struct master_opts *o)
{
	const char *e = getenv("SEAWATCH_RECOVER_MS");
	long v = e ? strtol(e, NULL, 10) : 0;

	C.opts = *o;
	C.jt.free_head = -1;
	C.jt.bug = job_bug;
#ifdef SW_DEBUG
	C.jt.abort_on_bug = 1;
#endif
	C.recover_every = v >= 100 && v <= 3600000 ? v : RECOVER_EVERY_MS;
	C.rng = (uint64_t)sys_now_ms() * 6364136223846793005ULL ^ (uint64_t)getpid();
	C.cur = calloc(1, sizeof(*C.cur));
	if (!C.cur)
		return -1;
	C.cur->cfg = c;
	C.cur->refs = 1;
	return 0;
}

void core_free(void)
{
	jobs_free(&C.jt);
	queue_free(&C.q);
	cfgref_put(C.cur);
	C.cur = NULL;
}

const struct sw_config *core_cfg(void)
{
	return C.cur->cfg;
}

struct cfgref *core_ref(void)
{
	return C.cur;
}

void core_swap(struct cfgref *ref)
{
	struct cfgref *old = C.cur;

	C.cur = ref;
	cfgref_put(old);
}

void cfgref_put(struct cfgref *r)
{
	if (r && --r->refs == 0) {
		cnf_free(r->cfg);
		free(r);
	}
}

const struct master_opts *core_opts(void)
{
	return &C.opts;
}

struct jobs *core_jobs(void)
{
	return &C.jt;
}

struct queue *core_queue(void)
{
	return &C.q;
}

int core_grow(int cap)
{
	if (cap <= C.jt.cap)
		return 0;
	if (jobs_grow(&C.jt, cap) < 0 || C.jt.cap < cap)
		return -1;
	if (C.q.items ? queue_resize(&C.q, cap) < 0 : queue_init(&C.q, cap) < 0)
		return -1;
	/* Every slot may wait at once, and as many files to settle: arming a
	 * timer never allocates. */
	return loop_reserve(cap + 64 + SETTLE_MAX);
}

int core_capacity(void)
{
	return 2 * core_cfg()->queue_size + core_cfg()->workers;
}

/*
 * Files claimed and not started yet (queued, or sent ahead to a worker):
 * as many as keep every worker busy -- the job it runs, PROTO_AHEAD sent
 * ahead, two more here -- and never more than queue_size.  A claimed file
 * sits in a slot directory of the spool, made on first use: a backlog
 * claimed whole made queue_size of them, each a new inode, and on an ext4
 * after many deletions a new inode costs 0.3-1 ms (bench/notes.md).  The
 * rest of a burst waits in the drop, by name (noticed.c) or for a scan,
 * and is claimed as workers free up, in the loop's turn that hands out the
 * jobs.
 */
static int claim_ahead(void)
{
	const struct sw_config *c = core_cfg();
	int n = c->workers * (PROTO_AHEAD + 2);

	return n < c->queue_size ? n : c->queue_size;
}

int core_room(void)
{
	return queue_len(&C.q) + jobs_in(&C.jt, JS_AHEAD) < claim_ahead() &&
	       jobs_total(&C.jt) < core_capacity() && C.jt.free_head >= 0;
}

void core_release(int s)
{
	struct drop *d = JOB(s)->drop;

	job_event(&C.jt, s, JE_RELEASE);
	drop_job_released(d);
}

void core_enqueue(int s, enum job_event ev)
{
	job_event(&C.jt, s, ev);
	queue_push(&C.q, s);   /* the ring holds every slot: cannot be full */
}

/* A job's wait is over: a retry is queued, a private copy tried again, a
 * move tried again.  Stopping, a job that would run stays in flight. */
static void job_due(void *arg)
{
	struct job *j = arg;
	int s = j->slot;

	switch (j->state) {
	case JS_SEAL_WAIT:
	case JS_RETRY_WAIT:
		if (C.stopping)
			job_event(&C.jt, s, JE_PARK);
		else if (j->state == JS_RETRY_WAIT)
			core_enqueue(s, JE_DUE);
		else if (job_event(&C.jt, s, JE_DUE) == 0)
			admit(s);
		break;
	case JS_DELIVER_WAIT:
		if (job_event(&C.jt, s, JE_DUE) == 0)
			outcome_deliver(s);
		break;
	default:
		break;
	}
}

void core_wait(int s, enum job_event ev, int64_t delay)
{
	struct job *j = JOB(s);

	job_event(&C.jt, s, ev);
	j->due.fn = job_due;
	j->due.arg = j;
	loop_arm(&j->due, sys_now_ms() + delay);
}

int core_stopping(void)
{
	return C.stopping;
}

void core_set_stopping(void)
{
	C.stopping = 1;
}

int core_once(void)
{
	return C.opts.once;
}

void core_mark_failed(void)
{
	C.any_failed = 1;
}

int core_any_failed(void)
{
	return C.any_failed;
}

int64_t core_recover_every(void)
{
	return C.recover_every;
}

void core_gauges(struct sw_gauges *g)
{
	g->queued = queue_len(&C.q) + jobs_in(&C.jt, JS_AHEAD) + jobs_in(&C.jt, JS_HELD) +
		    (int)noticed_count(NULL);
	g->running = jobs_in(&C.jt, JS_RUNNING);
	g->waiting = jobs_waiting(&C.jt);
	g->retrying = jobs_in(&C.jt, JS_RETRY_WAIT);
}

void core_drop_gauges(const struct drop *d, struct sw_gauges *g)
{
	*g = (struct sw_gauges){ 0 };
	g->queued = (int)noticed_count(d);   /* noticed, not claimed yet */
	for (int i = 0; i < C.jt.cap; i++) {
		const struct job *j = job_at(&C.jt, i);

		if (j->drop != d)
			continue;
		switch (j->state) {
		case JS_QUEUED:
		case JS_AHEAD:
		case JS_HELD:
			g->queued++;
			break;
		case JS_RUNNING:
			g->running++;
			break;
		case JS_RETRY_WAIT:
			g->retrying++;
			g->waiting++;
			break;
		case JS_SEAL_WAIT:
		case JS_DELIVER_WAIT:
			g->waiting++;
			break;
		default:
			break;
		}
	}
}

uint32_t core_copy_gen(void)
{
	return ++C.copy_gen;
}

uint32_t core_rand(void)
{
	C.rng ^= C.rng >> 12;
	C.rng ^= C.rng << 25;
	C.rng ^= C.rng >> 27;
	return (uint32_t)((C.rng * 2685821657736338717ULL) >> 32);
}
