/*
 * core.h - what the master's modules share (owned by src/core.c): the
 * config in force, the job table and the queue of jobs, and the run's
 * flags (stopping, --once, any file failed).  Each has its accessor;
 * nothing else is shared between modules.
 */
#ifndef SW_CORE_H
#define SW_CORE_H

#include <stdint.h>

#include "config.h"
#include "job.h"
#include "master.h"
#include "queue.h"

/* A config and the drops that still use it (a reload swaps the current
 * one; a retiring drop keeps its own until its last job ends). */
struct cfgref {
	struct sw_config *cfg;
	int refs;
};

/* Takes C (the loaded config).  0, or -1 (out of memory). */
int core_init(struct sw_config *c, const struct master_opts *o);
void core_free(void);
const struct sw_config *core_cfg(void);
struct cfgref *core_ref(void);
/* A reload: REF (refs 1, ours) is current now; the old one is put. */
void core_swap(struct cfgref *ref);
void cfgref_put(struct cfgref *r);
const struct master_opts *core_opts(void);

struct jobs *core_jobs(void);
struct queue *core_queue(void);
#define JOB(s) job_at(core_jobs(), (s))
/* Slots for CAP jobs (the queue and the timers too).  0 or -1. */
int core_grow(int cap);
/* 2 * queue_size + workers: queued, waiting for a retry, running. */
int core_capacity(void);
/* Room to claim one more file? */
int core_room(void);
/* Job S is over (done, refused, set aside, its claim failed): its slot is
 * free, and its drop holds one job less. */
void core_release(int s);
/* Into the queue by EV (JE_ADMIT, JE_COPIED, JE_DUE). */
void core_enqueue(int s, enum job_event ev);
/* Job S waits DELAY ms (EV: JE_SEAL_WAIT, JE_RETRY, JE_MOVE_WAIT), then
 * goes on: a retry is queued, a seal or a move tried again. */
void core_wait(int s, enum job_event ev, int64_t delay);

int core_stopping(void);
void core_set_stopping(void);
int core_once(void);
/* A file ended in failed/ (or could not be taken): --once exits 1. */
void core_mark_failed(void);
int core_any_failed(void);
/* Between two looks for dead daemons' runs and set-aside files. */
int64_t core_recover_every(void);
/* Copies under way at once, private or to done/failed (each holds
 * descriptors): a burst waits its turn. */
#define COPIES_MAX 8
/* A new generation for a copy (its completion is matched to it). */
uint32_t core_copy_gen(void);
/* What an operator is told (SIGUSR1, STATUS=, and what is to come), in
 * one place: "running" is a command running; a job sent ahead to a busy
 * worker has not started and counts as queued. */
struct sw_gauges {
	int queued;    /* claimed, waiting for a worker (held ones too) */
	int running;   /* a command runs */
	int waiting;   /* for a deadline: a retry, a copy, a move */
	int retrying;  /* of those, for a retry */
};
void core_gauges(struct sw_gauges *g);
/* The same for the jobs of drop D (one pass over the slots: for a status
 * or the metrics file, not the per-file path). */
struct drop;
void core_drop_gauges(const struct drop *d, struct sw_gauges *g);
/* For retry jitter (xorshift64*). */
uint32_t core_rand(void);

#endif
