/*
 * loop.h - the poll set and the deadlines (owned by src/loop.c), as
 * chrony's SCH_AddFileHandler / SCH_AddTimeout: a module registers its
 * descriptor or arms its timer here instead of being special-cased in the
 * master.  One thread; handlers run in priority order (lowest first:
 * signals, then workers' results, then copies, then the watcher, then the
 * control socket's clients), then the timers that are due.
 */
#ifndef SW_LOOP_H
#define SW_LOOP_H

#include <stdint.h>

#include "timer.h"

enum { LOOP_PRIO_SIGNAL, LOOP_PRIO_WORKER, LOOP_PRIO_COPY, LOOP_PRIO_WATCH, LOOP_PRIO_CONTROL };

typedef void (*loop_fn)(void *arg);

/* Call FN(ARG) when FD is readable (or hangs up).  0 or -1 (ENOMEM). */
int loop_watch(int fd, int prio, loop_fn fn, void *arg);
/* What FD's handler waits for: POLLIN (the default), POLLOUT, both, or 0
 * (only a hang-up or an error). */
void loop_events(int fd, short events);
/* Forget FD (before closing it). */
void loop_unwatch(int fd);
/* Deadlines, in sys_now_ms() time. */
void loop_arm(struct timer *t, int64_t at);
void loop_cancel(struct timer *t);
/* Room for N armed timers: arming that many never allocates. */
int loop_reserve(int n);
/* The next loop_once() does not sleep (a handler has more to do). */
void loop_poke(void);
/* FD's handler has more to read than the descriptor shows (it buffers):
 * call it at the next turn, readable or not, without sleeping. */
void loop_again(int fd);
/* Wait for a descriptor or the next deadline (at most a minute; not at all
 * if BUSY or poked), run what is ready, then what is due.  0, or -1 if
 * poll failed (errno). */
int loop_once(int busy);
void loop_free(void);

#endif
