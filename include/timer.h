/*
 * timer.h - deadlines in a binary heap (owned by src/timer.c; pure: the
 * caller gives the time).  The loop sleeps until timers_next() and runs
 * what is due; nothing scans every slot to find the next deadline.
 *
 * A struct timer lives inside its owner (a job, a worker, a drop), which
 * must not move while the timer is armed.
 */
#ifndef SW_TIMER_H
#define SW_TIMER_H

#include <stdint.h>

struct timer {
	int64_t at;                 /* when (ms, the caller's clock) */
	int pos;                    /* index in the heap; -1 when not armed */
	void (*fn)(void *arg);      /* called once due (disarmed by then) */
	void *arg;
};

struct timers {
	struct timer **h;
	int n, cap;
};

/* A disarmed timer that calls FN(ARG). */
void timer_init(struct timer *t, void (*fn)(void *), void *arg);
static inline int timer_armed(const struct timer *t)
{
	return t->pos >= 0;
}
/* Arm T for AT (again, if armed: moved).  0, or -1 (out of memory). */
int timers_arm(struct timers *q, struct timer *t, int64_t at);
/* Room for N armed timers: arming up to N never allocates.  0 or -1. */
int timers_reserve(struct timers *q, int n);
/* Disarm T (nothing if it is not armed). */
void timers_cancel(struct timers *q, struct timer *t);
/* The earliest deadline, or INT64_MAX if none. */
int64_t timers_next(const struct timers *q);
/* Call the timers due at NOW, earliest first, at most as many as were
 * armed (a callback that arms its own timer again for NOW cannot loop).
 * Returns how many ran. */
int timers_run(struct timers *q, int64_t now);
void timers_free(struct timers *q);

#endif
