/*
 * dispatch.c - which job goes to which worker (see dispatch.h).
 */
#include "dispatch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attempt.h"
#include "core.h"
#include "drop.h"
#include "log.h"
#include "loop.h"
#include "outcome.h"
#include "pool.h"
#include "proto.h"
#include "sys.h"

#define ANSWER_SLACK_MS 5000   /* past timeout + kill_grace, a silent worker is killed */

struct seat {
	int index;
	int job;           /* slot it runs (or starts next), -1 when idle */
	int ahead[PROTO_AHEAD]; /* slots sent ahead, started in this order */
	int nahead;
	int revoking;      /* asked for those back; not all answered yet */
	struct timer answer;  /* its current job's result is due */
};

static struct {
	struct seat **seat;   /* each allocated once: its timer never moves */
	int n;
} S;

static void unanswered(void *arg);

int dispatch_resize(int n)
{
	struct seat **grown;

	if (n <= S.n)
		return 0;
	grown = realloc(S.seat, (size_t)n * sizeof(*grown));
	if (!grown)
		return -1;
	S.seat = grown;
	for (; S.n < n; S.n++) {
		struct seat *st = calloc(1, sizeof(*st));

		if (!st)
			return -1;
		st->index = S.n;
		st->job = -1;
		timer_init(&st->answer, unanswered, st);
		S.seat[S.n] = st;
	}
	return 0;
}

void dispatch_reset(int wi)
{
	struct seat *st = S.seat[wi];

	st->job = -1;
	st->nahead = 0;
	st->revoking = 0;
	loop_cancel(&st->answer);
}

int dispatch_idle(int wi)
{
	return S.seat[wi]->job < 0 && S.seat[wi]->nahead == 0;
}

/*
 * Worker WI has just started its current job (or will, within GRACE ms):
 * its result must come by the job's timeout and kill_grace, and a little
 * more.  A worker that stays silent past that -- stopped by a command that
 * shares its credentials (kill -STOP $PPID), say -- is killed: the master
 * does not trust the worker to enforce the timeout.
 */
static void expect_result(struct seat *st, int64_t grace)
{
	const struct sw_drop *dc;

	if (st->job < 0) {
		loop_cancel(&st->answer);
		return;
	}
	dc = JOB(st->job)->drop->cfg;
	loop_arm(&st->answer, sys_now_ms() + (grace >= 0 ? grace : dc->timeout_ms) +
		 dc->kill_grace_ms + ANSWER_SLACK_MS);
}

static void unanswered(void *arg)
{
	struct seat *st = arg;
	struct job *j;

	if (st->job < 0)
		return;
	j = JOB(st->job);
	log_err("event=worker-unresponsive worker=%d pid=%ld drop=%s file=%s action=kill",
		st->index, (long)pool_pid(st->index), j->drop->cfg->name, log_q(j->name));
	pool_kill(st->index);   /* its socket's end is its death: dispatch_lost() */
}

/* Send job S to worker WI: 0; 1 if the worker is gone (the job stays
 * queued); -1 if its attempt cannot be set up (errno). */
static int start_attempt(int s, int wi)
{
	static char buf[PROTO_MAX];
	struct seat *st = S.seat[wi];
	struct job *j = JOB(s);
	size_t len;

	/* The worker records the attempt in the table as it starts it. */
	j->n++;
	if (attempt_message(s, buf, &len) < 0) {
		j->n--;
		return -1;
	}
	if (pool_send(wi, buf, len) < 0) {
		/* The worker is gone; its end will be seen.  Undo. */
		j->n--;
		return 1;
	}
	job_event(core_jobs(), s, st->job < 0 ? JE_START : JE_SEND_AHEAD);
	j->worker = wi;
	if (st->job < 0) {
		st->job = s;
		expect_result(st, -1);
		log_debug("event=start drop=%s file=%s attempt=%d worker=%d",
			  j->drop->cfg->name, log_q(j->name), j->n, wi);
	} else {
		st->ahead[st->nahead++] = s;
		log_debug("event=start drop=%s file=%s attempt=%d worker=%d ahead=%d",
			  j->drop->cfg->name, log_q(j->name), j->n, wi, st->nahead);
	}
	return 0;
}

/* Worker WI can take a job as its LEVEL-th: 0 is the one it runs (it is
 * idle), 1.. PROTO_AHEAD the ones sent ahead. */
static int can_take(int wi, int level)
{
	const struct seat *st = S.seat[wi];

	if (!pool_usable(wi))
		return 0;
	if (level == 0)
		return st->job < 0;
	return st->job >= 0 && st->nahead == level - 1 && !st->revoking;
}

/* A job the worker never started is back (revoked, or its worker died
 * before it came to it): not an attempt.  Next in line, or in flight for
 * the next start if we are stopping. */
static void take_back(int wi, int s)
{
	struct seat *st = S.seat[wi];
	struct job *j = JOB(s);
	int k;

	if (st->job == s && st->nahead == 0) {
		/* Promoted when the result before it came, but the worker
		 * read a revoke before it started it. */
		st->job = -1;
		loop_cancel(&st->answer);
	} else {
		for (k = 0; k < st->nahead && st->ahead[k] != s; k++)
			;
		if (k == st->nahead)
			return;   /* not one of its jobs sent ahead */
		memmove(&st->ahead[k], &st->ahead[k + 1],
			(size_t)(st->nahead - k - 1) * sizeof(int));
		st->nahead--;
	}
	j->n--;
	j->worker = -1;
	if (core_stopping()) {
		job_event(core_jobs(), s, JE_PARK);   /* in flight for the next start */
		return;
	}
	job_event(core_jobs(), s, JE_TAKE_BACK);
	queue_push_front(core_queue(), s);
}

/* Ask worker WI for the jobs sent ahead to it, if it holds any and was not
 * asked already.  1 if asked. */
static int ask_back(int wi)
{
	struct seat *st = S.seat[wi];
	struct msg_ctl m = { MSG_REVOKE, 0 };

	if (st->nahead == 0 || st->revoking || pool_send(wi, &m, sizeof(m)) < 0)
		return 0;
	/* A busy worker reads its socket between jobs: ring. */
	pool_ring(wi);
	st->revoking = 1;
	return 1;
}

/* The next queued job whose drop is not paused, into *S; a paused drop's
 * jobs met on the way are held (drop_resume() queues them again).  0 if
 * none is left. */
static int next_job(struct queue *q, int *s)
{
	while (queue_pop(q, s) == 0) {
		const struct job *j = JOB(*s);

		if (!j->drop || !j->drop->paused)
			return 1;
		job_event(core_jobs(), *s, JE_HOLD);
	}
	return 0;
}

/*
 * Hand out queued jobs: to idle workers first, then one ahead to each busy
 * worker, so that a short command's successor starts without a round trip
 * through the loop.  When the queue is empty and a worker is idle while
 * another holds a job it has not started (behind a slow command, say), that
 * one is asked back: a job never waits behind another while a worker idles.
 */
void dispatch_run(void)
{
	struct queue *q = core_queue();
	int level, wi, idle = 0;

	if (core_stopping())
		return;
	/* Level by level: every idle worker first, then one ahead to each
	 * busy one, then a second. */
	for (level = 0; level <= PROTO_AHEAD; level++)
		for (wi = 0; wi < S.n && queue_len(q) > 0; wi++) {
			int s, r;

			if (!can_take(wi, level))
				continue;
			if (!next_job(q, &s))
				break;
			r = start_attempt(s, wi);
			if (r > 0) {
				/* That worker is gone: the next one. */
				queue_push_front(q, s);
			} else if (r < 0) {
				/* The attempt could not be set up (argv too
				 * long): the file goes to failed/ with the
				 * reason, and its slot is emptied. */
				char why[160];
				int n = snprintf(why, sizeof(why),
						 "could not start an attempt: %s\n",
						 strerror(errno));

				outcome_finish(s, 1, "setup-failed", "setup-failed", 0, why,
					       (size_t)n);
			}
		}
	if (queue_len(q) > 0 || jobs_in(core_jobs(), JS_AHEAD) == 0)
		return;
	for (wi = 0; wi < S.n; wi++)
		if (can_take(wi, 0))
			idle++;
	for (wi = 0; wi < S.n && idle > 0; wi++)
		idle -= ask_back(wi);
}

/* Worker WI's result for job S (the one it ran): the seat goes on to the
 * next job sent ahead, the worker gets more work, and only then is the
 * result's bookkeeping done (the worker does not wait for our renames and
 * log lines). */
static void result(int wi, const struct msg_result *r, size_t len)
{
	struct seat *st = S.seat[wi];
	int s = (int)r->job;
	size_t tlen = len > offsetof(struct msg_result, tail) ?
		      len - offsetof(struct msg_result, tail) : 0;

	if (s < 0 || s >= core_jobs()->cap || st->job != s)
		return;
	/* The first job sent ahead is the one it runs now. */
	st->job = -1;
	if (st->nahead > 0) {
		st->job = st->ahead[0];
		memmove(&st->ahead[0], &st->ahead[1], (size_t)(st->nahead - 1) * sizeof(int));
		st->nahead--;
		job_event(core_jobs(), st->job, JE_PROMOTE);
	}
	expect_result(st, -1);
	if (wi >= core_cfg()->workers)
		pool_retire_idle();
	dispatch_run();
	if (tlen > r->tail_len)
		tlen = r->tail_len;
	outcome_result(s, (enum st_kind)r->kind, r->code, r->duration_ms, r->tail, tlen);
}

void dispatch_message(int wi, const void *msg, size_t len)
{
	const struct msg_ctl *c = msg;

	if (len >= sizeof(struct msg_ctl) && c->type == MSG_RETURN) {
		if (c->arg == PROTO_NONE)
			S.seat[wi]->revoking = 0;   /* all it had is back */
		else if (c->arg < (uint32_t)core_jobs()->cap)
			take_back(wi, (int)c->arg);
		dispatch_run();
	} else if (len >= offsetof(struct msg_result, tail) && c->type == MSG_RESULT) {
		result(wi, msg, len);
	}
}

void dispatch_lost(int wi)
{
	struct seat *st = S.seat[wi];

	/* The jobs sent ahead never started: the worker runs them in order,
	 * and the result of the one before would have come first. */
	while (st->nahead > 0)
		take_back(wi, st->ahead[st->nahead - 1]);
	st->revoking = 0;
	if (st->job >= 0) {
		struct msg_result r;

		memset(&r, 0, sizeof(r));
		r.type = MSG_RESULT;
		r.job = (uint32_t)st->job;
		r.kind = core_stopping() ? ST_ABORTED : ST_WORKER_DIED;
		result(wi, &r, offsetof(struct msg_result, tail));
	}
	loop_cancel(&st->answer);
}

void dispatch_stop(void)
{
	/* Jobs sent ahead do not start: they come back, and stay in flight
	 * for the next start. */
	for (int wi = 0; wi < S.n; wi++)
		ask_back(wi);
}

void dispatch_recall_paused(void)
{
	/* Their workers give them back unstarted (with any other drop's
	 * sent along, which are simply sent again); dispatch_run() holds
	 * them. */
	for (int wi = 0; wi < S.n; wi++)
		for (int k = 0; k < S.seat[wi]->nahead; k++) {
			const struct job *j = JOB(S.seat[wi]->ahead[k]);

			if (j->drop && j->drop->paused) {
				ask_back(wi);
				break;
			}
		}
}

void dispatch_abort(void)
{
	for (int wi = 0; wi < S.n; wi++)
		if (S.seat[wi]->job >= 0) {
			pool_abort(wi);
			expect_result(S.seat[wi], 0);
		}
}

void dispatch_free(void)
{
	for (int i = 0; i < S.n; i++) {
		loop_cancel(&S.seat[i]->answer);
		free(S.seat[i]);
	}
	free(S.seat);
	S.seat = NULL;
	S.n = 0;
}
