/*
 * job.c - the job table and its states (see job.h): slots allocated once
 * each, a free list, and the one table of legal moves, which keeps the
 * count of jobs in every state.
 */
#include "job.h"

#include <stdlib.h>
#include <string.h>

/* Every legal move; anything else is a bug. */
static const struct {
	unsigned char from, ev, to;
} moves[] = {
	{ JS_FREE, JE_CLAIM, JS_NEW },
	{ JS_NEW, JE_ADMIT, JS_QUEUED },
	{ JS_NEW, JE_COPY, JS_COPYING },
	{ JS_NEW, JE_SEAL_WAIT, JS_SEAL_WAIT },
	{ JS_NEW, JE_VERDICT, JS_DELIVERING },     /* adopted with a verdict, or crashed */
	{ JS_NEW, JE_RELEASE, JS_FREE },           /* claim failed, refused, not a file */
	{ JS_COPYING, JE_COPIED, JS_QUEUED },
	{ JS_COPYING, JE_SEAL_WAIT, JS_SEAL_WAIT },
	{ JS_SEAL_WAIT, JE_DUE, JS_NEW },
	{ JS_SEAL_WAIT, JE_PARK, JS_PARKED },
	{ JS_QUEUED, JE_START, JS_RUNNING },
	{ JS_QUEUED, JE_SEND_AHEAD, JS_AHEAD },
	{ JS_QUEUED, JE_VERDICT, JS_DELIVERING },  /* its attempt could not be set up */
	{ JS_AHEAD, JE_PROMOTE, JS_RUNNING },
	{ JS_AHEAD, JE_TAKE_BACK, JS_QUEUED },
	{ JS_AHEAD, JE_PARK, JS_PARKED },
	{ JS_RUNNING, JE_TAKE_BACK, JS_QUEUED },   /* promoted, then revoked unstarted */
	{ JS_RUNNING, JE_RETRY, JS_RETRY_WAIT },
	{ JS_RUNNING, JE_VERDICT, JS_DELIVERING },
	{ JS_RUNNING, JE_PARK, JS_PARKED },
	{ JS_RETRY_WAIT, JE_DUE, JS_QUEUED },
	{ JS_RETRY_WAIT, JE_PARK, JS_PARKED },
	{ JS_DELIVERING, JE_MOVE_COPY, JS_MOVING },
	{ JS_DELIVERING, JE_MOVE_WAIT, JS_DELIVER_WAIT },
	{ JS_DELIVERING, JE_RELEASE, JS_FREE },
	{ JS_MOVING, JE_MOVE_WAIT, JS_DELIVER_WAIT },
	{ JS_MOVING, JE_RELEASE, JS_FREE },
	{ JS_DELIVER_WAIT, JE_DUE, JS_DELIVERING },
	{ JS_QUEUED, JE_HOLD, JS_HELD },
	{ JS_HELD, JE_RESUME, JS_QUEUED },
};

static const char *const state_names[JS_NSTATES] = {
	"free", "new", "copying", "seal-wait", "queued", "ahead", "running",
	"retry-wait", "delivering", "moving", "deliver-wait", "parked", "held",
};

static const char *const event_names[JE_NEVENTS] = {
	"claim", "admit", "copy", "copied", "seal-wait", "due", "start", "send-ahead",
	"promote", "take-back", "retry", "verdict", "move-copy", "move-wait", "park",
	"release", "hold", "resume",
};

const char *job_state_name(enum job_state st)
{
	return (unsigned)st < JS_NSTATES ? state_names[st] : "?";
}

const char *job_event_name(enum job_event ev)
{
	return (unsigned)ev < JE_NEVENTS ? event_names[ev] : "?";
}

int job_next(enum job_state from, enum job_event ev)
{
	if ((unsigned)from >= JS_NSTATES || (unsigned)ev >= JE_NEVENTS)
		return -1;
	for (size_t i = 0; i < sizeof(moves) / sizeof(moves[0]); i++)
		if (moves[i].from == from && moves[i].ev == ev)
			return moves[i].to;
	return -1;
}

int jobs_grow(struct jobs *t, int cap)
{
	struct job **slot;
	int i, made;

	if (cap <= t->cap)
		return 0;
	slot = realloc(t->slot, (size_t)cap * sizeof(*slot));
	if (!slot)
		return -1;
	t->slot = slot;
	for (i = t->cap; i < cap; i++) {
		slot[i] = calloc(1, sizeof(**slot));
		if (!slot[i])
			break;   /* out of memory: what was made is still usable */
	}
	made = i;
	/* Lowest slots first on the free list. */
	for (i = made - 1; i >= t->cap; i--) {
		struct job *j = slot[i];

		j->state = JS_FREE;
		j->slot = i;
		j->worker = -1;
		j->destfd = -1;
		timer_init(&j->due, NULL, NULL);
		j->next_free = t->free_head;
		t->free_head = i;
		t->count[JS_FREE]++;
	}
	t->cap = made;
	return made == cap ? 0 : -1;
}

void jobs_free(struct jobs *t)
{
	for (int i = 0; i < t->cap; i++) {
		free(t->slot[i]->name);
		free(t->slot[i]->sidecar);
		free(t->slot[i]);
	}
	free(t->slot);
	t->slot = NULL;
	t->cap = 0;
	t->free_head = -1;
	memset(t->count, 0, sizeof(t->count));
}

/* Back to a free slot's blank (its timer, disarmed by the caller, kept). */
static void blank(struct job *j)
{
	struct timer due = j->due;
	int slot = j->slot;

	free(j->name);
	free(j->sidecar);
	memset(j, 0, sizeof(*j));
	j->slot = slot;
	j->worker = -1;
	j->destfd = -1;
	j->due = due;
}

int job_event(struct jobs *t, int s, enum job_event ev)
{
	struct job *j;
	int to;

	if (s < 0 || s >= t->cap)
		return -1;
	j = t->slot[s];
	to = job_next(j->state, ev);
	if (to < 0) {
		if (t->bug)
			t->bug(j, ev);
		if (t->abort_on_bug)
			abort();
		return -1;
	}
	t->count[j->state]--;
	t->count[to]++;
	j->state = (enum job_state)to;
	if (to == JS_FREE) {
		blank(j);
		j->next_free = t->free_head;
		t->free_head = s;
	} else if (to == JS_PARKED) {
		/* The slot stays taken: its directory holds the file. */
		free(j->name);
		free(j->sidecar);
		j->name = NULL;
		j->sidecar = NULL;
	}
	if (t->moved)
		t->moved();
	return 0;
}

int job_claim(struct jobs *t, struct drop *d, const char *name)
{
	int s = t->free_head;
	struct job *j;
	char *copy;

	if (s < 0)
		return -1;
	j = t->slot[s];
	copy = strdup(name);
	if (!copy)
		return -1;
	t->free_head = j->next_free;
	j->next_free = -1;
	job_event(t, s, JE_CLAIM);
	j->name = copy;
	j->drop = d;
	j->n = 0;
	return s;
}

int jobs_total(const struct jobs *t)
{
	return t->cap - t->count[JS_FREE];
}

int jobs_running(const struct jobs *t)
{
	return t->count[JS_RUNNING] + t->count[JS_AHEAD];
}

int jobs_waiting(const struct jobs *t)
{
	return t->count[JS_SEAL_WAIT] + t->count[JS_RETRY_WAIT] + t->count[JS_DELIVER_WAIT];
}

int jobs_copies(const struct jobs *t)
{
	return t->count[JS_COPYING] + t->count[JS_MOVING];
}
