/*
 * Unit tests: the job table's states (job.c).  The legal moves are written
 * out here a second time, as the design says them (job.h's picture), and
 * every state x event is tried against job.c: a legal move lands where
 * the spec says and keeps the counts; anything else is refused, reported,
 * and changes nothing.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "job.h"

/* "from event to", one move per line, by name. */
static const char *const spec[] = {
	"free claim new",
	"new admit queued", "new copy copying", "new seal-wait seal-wait",
	"new verdict delivering", "new release free",
	"copying copied queued", "copying seal-wait seal-wait",
	"seal-wait due new", "seal-wait park parked",
	"queued start running", "queued send-ahead ahead", "queued verdict delivering",
	"ahead promote running", "ahead take-back queued", "ahead park parked",
	"running take-back queued", "running retry retry-wait", "running verdict delivering",
	"running park parked",
	"retry-wait due queued", "retry-wait park parked",
	"delivering move-copy moving", "delivering move-wait deliver-wait",
	"delivering release free",
	"moving move-wait deliver-wait", "moving release free",
	"deliver-wait due delivering",
	"queued hold held", "held resume queued",
};

static int state_by_name(const char *n)
{
	for (int s = 0; s < JS_NSTATES; s++)
		if (!strcmp(job_state_name((enum job_state)s), n))
			return s;
	cr_assert_fail("no state %s", n);
	return -1;
}

static int event_by_name(const char *n)
{
	for (int e = 0; e < JE_NEVENTS; e++)
		if (!strcmp(job_event_name((enum job_event)e), n))
			return e;
	cr_assert_fail("no event %s", n);
	return -1;
}

/* The spec as a table: want[from][ev], -1 if illegal. */
static int want[JS_NSTATES][JE_NEVENTS];

static void load_spec(void)
{
	char a[32], b[32], c[32];

	for (int s = 0; s < JS_NSTATES; s++)
		for (int e = 0; e < JE_NEVENTS; e++)
			want[s][e] = -1;
	for (size_t i = 0; i < sizeof(spec) / sizeof(spec[0]); i++) {
		cr_assert_eq(sscanf(spec[i], "%31s %31s %31s", a, b, c), 3);
		want[state_by_name(a)][event_by_name(b)] = state_by_name(c);
	}
}

static int bugs;
static void on_bug(const struct job *j, enum job_event ev)
{
	(void)j;
	(void)ev;
	bugs++;
}

/* A path of events from FREE to TARGET, by the spec (breadth first). */
static int path_to(int target, int *evs)
{
	int prev[JS_NSTATES], pev[JS_NSTATES], q[JS_NSTATES], qh = 0, qt = 0, n = 0, s;
	int rev[JS_NSTATES];

	for (s = 0; s < JS_NSTATES; s++)
		prev[s] = -2;
	prev[JS_FREE] = -1;
	q[qt++] = JS_FREE;
	while (qh < qt) {
		int from = q[qh++];

		for (int e = 0; e < JE_NEVENTS; e++) {
			int to = want[from][e];

			if (to >= 0 && prev[to] == -2) {
				prev[to] = from;
				pev[to] = e;
				q[qt++] = to;
			}
		}
	}
	cr_assert_neq(prev[target], -2, "%s cannot be reached", job_state_name(target));
	for (s = target; s != JS_FREE; s = prev[s])
		rev[n++] = pev[s];
	for (int i = 0; i < n; i++)
		evs[i] = rev[n - 1 - i];
	return n;
}

static void check_counts(const struct jobs *t)
{
	int sum = 0, seen[JS_NSTATES] = { 0 };

	for (int s = 0; s < JS_NSTATES; s++)
		sum += t->count[s];
	cr_assert_eq(sum, t->cap, "the counts do not add up to the slots");
	for (int i = 0; i < t->cap; i++)
		seen[job_at(t, i)->state]++;
	for (int s = 0; s < JS_NSTATES; s++)
		cr_assert_eq(seen[s], t->count[s], "count of %s is %d, %d jobs are in it",
			     job_state_name(s), t->count[s], seen[s]);
	cr_assert_eq(jobs_total(t), t->cap - seen[JS_FREE]);
	cr_assert_eq(jobs_running(t), seen[JS_RUNNING] + seen[JS_AHEAD]);
	cr_assert_eq(jobs_waiting(t), seen[JS_SEAL_WAIT] + seen[JS_RETRY_WAIT] +
		     seen[JS_DELIVER_WAIT]);
	cr_assert_eq(jobs_copies(t), seen[JS_COPYING] + seen[JS_MOVING]);
}

Test(job, every_state_times_every_event)
{
	int legal = 0, illegal = 0;

	load_spec();
	for (int from = 0; from < JS_NSTATES; from++)
		for (int ev = 0; ev < JE_NEVENTS; ev++) {
			struct jobs t = { .free_head = -1, .bug = on_bug };
			int path[64], n, s, r, other;

			cr_assert_eq(jobs_grow(&t, 3), 0);
			/* A bystander in its own state, to see counts move
			 * only for the job that moved. */
			other = job_claim(&t, NULL, "other.sea");
			cr_assert_geq(other, 0);
			s = job_claim(&t, NULL, "f.sea");
			cr_assert_geq(s, 0);
			if (from == JS_FREE) {
				cr_assert_eq(job_event(&t, s, JE_RELEASE), 0);
			} else {
				n = path_to(from, path);
				for (int i = 1; i < n; i++)   /* path[0] is the claim */
					cr_assert_eq(job_event(&t, s, path[i]), 0);
			}
			cr_assert_eq(job_at(&t, s)->state, from);
			check_counts(&t);
			bugs = 0;
			r = job_event(&t, s, ev);
			if (want[from][ev] >= 0) {
				cr_assert_eq(r, 0, "%s --%s--> refused", job_state_name(from),
					     job_event_name(ev));
				cr_assert_eq(job_at(&t, s)->state, want[from][ev],
					     "%s --%s--> %s", job_state_name(from),
					     job_event_name(ev),
					     job_state_name(job_at(&t, s)->state));
				cr_assert_eq(bugs, 0);
				legal++;
			} else {
				cr_assert_eq(r, -1, "%s --%s--> allowed", job_state_name(from),
					     job_event_name(ev));
				cr_assert_eq(job_at(&t, s)->state, from);
				cr_assert_eq(bugs, 1, "an illegal move was not reported");
				illegal++;
			}
			check_counts(&t);
			cr_assert_eq(job_at(&t, other)->state, JS_NEW);
			jobs_free(&t);
		}
	cr_assert_eq(legal, (int)(sizeof(spec) / sizeof(spec[0])));
	cr_assert_eq(legal + illegal, JS_NSTATES * JE_NEVENTS);
}

Test(job, release_returns_the_slot_and_park_keeps_it)
{
	struct jobs t = { .free_head = -1 };
	int a, b, c;

	cr_assert_eq(jobs_grow(&t, 2), 0);
	a = job_claim(&t, NULL, "a.sea");
	b = job_claim(&t, NULL, "b.sea");
	cr_assert_eq(job_claim(&t, NULL, "c.sea"), -1, "a full table gives no slot");
	cr_assert_str_eq(job_at(&t, a)->name, "a.sea");
	/* Parked: the slot stays taken (it holds the file), the name goes. */
	cr_assert_eq(job_event(&t, a, JE_ADMIT), 0);
	cr_assert_eq(job_event(&t, a, JE_START), 0);
	job_at(&t, a)->n = 1;
	cr_assert_eq(job_event(&t, a, JE_PARK), 0);
	cr_assert_null(job_at(&t, a)->name);
	cr_assert_eq(job_claim(&t, NULL, "c.sea"), -1);
	cr_assert_eq(jobs_total(&t), 2);
	/* Released: blank, and the next claim gets it. */
	cr_assert_eq(job_event(&t, b, JE_RELEASE), 0);
	cr_assert_eq(jobs_total(&t), 1);
	c = job_claim(&t, NULL, "c.sea");
	cr_assert_eq(c, b);
	cr_assert_eq(job_at(&t, c)->n, 0);
	cr_assert_eq(job_at(&t, c)->worker, -1);
	cr_assert_str_eq(job_at(&t, c)->name, "c.sea");
	jobs_free(&t);
}

Test(job, growing_keeps_jobs_where_they_are)
{
	struct jobs t = { .free_head = -1 };
	struct job *before;
	int s;

	cr_assert_eq(jobs_grow(&t, 1), 0);
	s = job_claim(&t, NULL, "a.sea");
	before = job_at(&t, s);
	cr_assert_eq(jobs_grow(&t, 100), 0);
	cr_assert_eq(job_at(&t, s), before, "a job moved (its armed timer would dangle)");
	cr_assert_eq(jobs_total(&t), 1);
	cr_assert_eq(t.count[JS_FREE], 99);
	for (int i = 0; i < 99; i++)
		cr_assert_geq(job_claim(&t, NULL, "x.sea"), 0);
	cr_assert_eq(job_claim(&t, NULL, "x.sea"), -1);
	jobs_free(&t);
}
