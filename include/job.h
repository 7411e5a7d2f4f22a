/*
 * job.h - the job table and its states (owned by src/job.c; pure: no
 * system call).
 *
 * A slot holds one file from its claim until it is in done/ or failed/
 * (or parked in flight at a stop).  Its state changes only through
 * job_event(), which checks the move against one table and keeps the count
 * of jobs in each state: the daemon's counters (queued, running, waiting,
 * copies, total) are read from there, never kept in step by hand.
 *
 *   FREE --claim--> NEW --admit--> QUEUED --start--> RUNNING --verdict--> DELIVERING --release--> FREE
 *                    |  \--copy--> COPYING --copied--> QUEUED      |  ^          |  \--move-copy--> MOVING
 *                    |   \--seal-wait--> SEAL_WAIT --due--> NEW    |  |          \--move-wait--> DELIVER_WAIT --due--> DELIVERING
 *                    QUEUED --send-ahead--> AHEAD --promote--> RUNNING --retry--> RETRY_WAIT --due--> QUEUED
 *   (AHEAD, RUNNING) --take-back--> QUEUED;  (AHEAD, RUNNING, RETRY_WAIT, SEAL_WAIT) --park--> PARKED
 *   QUEUED --hold--> HELD --resume--> QUEUED   (a paused drop's job, taken from the queue)
 *
 * The table in job.c is the whole truth; tests/unit/test_job.c holds an
 * independent copy of it and walks every state x event.
 */
#ifndef SW_JOB_H
#define SW_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "timer.h"

enum job_state {
	JS_FREE,          /* slot unused */
	JS_NEW,           /* claimed or adopted: being taken over (admit) */
	JS_COPYING,       /* its private copy is being made (copy.c) */
	JS_SEAL_WAIT,     /* taking it over must wait (copies busy, an error) */
	JS_QUEUED,        /* in the queue */
	JS_AHEAD,         /* sent to a busy worker, not started yet */
	JS_RUNNING,       /* its worker runs it (or starts it next) */
	JS_RETRY_WAIT,    /* a failed attempt: queued again when due */
	JS_DELIVERING,    /* a verdict: being moved to done/ or failed/ */
	JS_MOVING,        /* its copy to done/failed on another fs is made */
	JS_DELIVER_WAIT,  /* a move failed: tried again when due */
	JS_PARKED,        /* stopping: it stays in flight for the next start */
	JS_HELD,          /* its drop is paused: out of the queue until resumed */
	JS_NSTATES
};

enum job_event {
	JE_CLAIM,         /* a file came into the slot */
	JE_ADMIT,         /* taken over: into the queue */
	JE_COPY,          /* its private copy starts */
	JE_COPIED,        /* ... is made: into the queue */
	JE_SEAL_WAIT,     /* taking it over is tried again later */
	JE_DUE,           /* a wait ended (retry, seal, move) */
	JE_START,         /* sent to an idle worker */
	JE_SEND_AHEAD,    /* sent to a busy worker */
	JE_PROMOTE,       /* the job before it on its worker ended */
	JE_TAKE_BACK,     /* its worker gave it back unstarted */
	JE_RETRY,         /* its attempt failed; another comes after a delay */
	JE_VERDICT,       /* done or failed: to be moved */
	JE_MOVE_COPY,     /* the move goes by copy, beside the loop */
	JE_MOVE_WAIT,     /* the move failed: again later */
	JE_PARK,          /* stopping: left in flight */
	JE_RELEASE,       /* gone (moved, set aside, refused, lost): slot free */
	JE_HOLD,          /* taken from the queue while its drop is paused */
	JE_RESUME,        /* its drop resumed: back into the queue */
	JE_NEVENTS
};

struct drop;

struct job {
	enum job_state state;
	int slot;
	struct drop *drop;
	char *name;
	int n;             /* attempts started */
	int worker;
	int to_failed;     /* DELIVERING, MOVING, DELIVER_WAIT: where it goes */
	int move_tries;    /* moves that failed */
	int resumed;       /* adopted with a verdict: a move by copy may be half done */
	int destfd;        /* MOVING: the directory its copy is made in */
	uint32_t gen;      /* of its copy in flight (COPYING, MOVING) */
	char tmp[48];      /* MOVING: the copy's temporary name */
	char tag;          /* verdict recorded on disk ('d'/'f'), or 0 */
	char *sidecar;     /* to failed: the text to write */
	size_t sidecar_len;
	char status[64];   /* of the last attempt, for the outcome line */
	const char *reason;  /* to failed/: why not retried (a static string) */
	int64_t dur;
	struct timer due;  /* the *_WAIT states */
	int next_free;
};

struct jobs {
	struct job **slot; /* each job allocated once: its timer never moves */
	int cap;
	int free_head;
	int count[JS_NSTATES];
	/* Called with an illegal move (a bug): logs it.  NULL: silent. */
	void (*bug)(const struct job *j, enum job_event ev);
	/* Called after every legal move (the gauges changed).  NULL: none. */
	void (*moved)(void);
	int abort_on_bug;  /* debug builds: abort() after bug() */
};

/* Room for CAP slots (never shrinks).  0, or -1 (out of memory). */
int jobs_grow(struct jobs *t, int cap);
void jobs_free(struct jobs *t);
static inline struct job *job_at(const struct jobs *t, int s)
{
	return t->slot[s];
}
/* A free slot for NAME of D, in JS_NEW (event JE_CLAIM); -1 if none (or
 * out of memory). */
int job_claim(struct jobs *t, struct drop *d, const char *name);
/* Move job S by EV.  0, or -1 if the table forbids it (a bug: reported,
 * the job left as it was).  JE_RELEASE frees the slot; JE_PARK frees the
 * name and sidecar but keeps the slot (it holds the file). */
int job_event(struct jobs *t, int s, enum job_event ev);
/* The state EV leads to from FROM, or -1 if the table forbids it. */
int job_next(enum job_state from, enum job_event ev);

static inline int jobs_in(const struct jobs *t, enum job_state st)
{
	return t->count[st];
}
/* Slots taken (every state but FREE). */
int jobs_total(const struct jobs *t);
/* Sent to a worker: running or ahead. */
int jobs_running(const struct jobs *t);
/* Waiting for a deadline (retry, seal, move). */
int jobs_waiting(const struct jobs *t);
/* Copies under way (private, or to done/failed). */
int jobs_copies(const struct jobs *t);

const char *job_state_name(enum job_state st);
const char *job_event_name(enum job_event ev);

#endif
