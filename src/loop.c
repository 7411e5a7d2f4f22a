/*
 * loop.c - the poll set and the deadlines (see loop.h).
 *
 * A handler may add or remove descriptors (a reload spawns workers, a
 * worker's end closes its socket): what poll() reported is run only if the
 * descriptor is still registered with the same handler.
 */
#include "loop.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "sys.h"

struct entry {
	int fd, prio;
	loop_fn fn;
	void *arg;
	int again;      /* called at the next turn, readable or not */
	short events;   /* POLLIN, and POLLOUT while it has output waiting */
};

static struct entry *ents;      /* sorted by prio, then by registration */
static int nents, capents;
static struct pollfd *pfs;
static struct entry *snap;      /* what was polled, in order */
static int cappfs;
static struct timers tq;
static int poked;

int loop_watch(int fd, int prio, loop_fn fn, void *arg)
{
	int i;

	loop_unwatch(fd);
	if (nents == capents) {
		int cap = capents ? 2 * capents : 16;
		struct entry *e = realloc(ents, (size_t)cap * sizeof(*e));

		if (!e)
			return -1;
		ents = e;
		capents = cap;
	}
	for (i = nents; i > 0 && ents[i - 1].prio > prio; i--)
		ents[i] = ents[i - 1];
	ents[i] = (struct entry){ fd, prio, fn, arg, 0, POLLIN };
	nents++;
	return 0;
}

void loop_unwatch(int fd)
{
	for (int i = 0; i < nents; i++)
		if (ents[i].fd == fd) {
			memmove(&ents[i], &ents[i + 1], (size_t)(nents - i - 1) * sizeof(*ents));
			nents--;
			return;
		}
}

void loop_events(int fd, short events)
{
	for (int i = 0; i < nents; i++)
		if (ents[i].fd == fd)
			ents[i].events = events;
}

void loop_arm(struct timer *t, int64_t at)
{
	/* Only when out of memory with more timers than reserved: then the
	 * deadline is late by a turn of the loop, at worst a minute. */
	if (timers_arm(&tq, t, at) < 0)
		poked = 1;
}

void loop_cancel(struct timer *t)
{
	timers_cancel(&tq, t);
}

int loop_reserve(int n)
{
	return timers_reserve(&tq, n);
}

void loop_poke(void)
{
	poked = 1;
}

void loop_again(int fd)
{
	for (int i = 0; i < nents; i++)
		if (ents[i].fd == fd)
			ents[i].again = 1;
	poked = 1;
}

static int still_there(const struct entry *e)
{
	for (int i = 0; i < nents; i++)
		if (ents[i].fd == e->fd && ents[i].fn == e->fn && ents[i].arg == e->arg)
			return 1;
	return 0;
}

int loop_once(int busy)
{
	int64_t now = sys_now_ms(), next = timers_next(&tq);
	int timeout = -1, n = nents, i;

	if (busy || poked)
		timeout = 0;
	else if (next != INT64_MAX)
		timeout = next <= now ? 0 : next - now > 60000 ? 60000 : (int)(next - now);
	poked = 0;
	if (n > cappfs) {
		struct pollfd *p = realloc(pfs, (size_t)n * sizeof(*p));
		struct entry *s = p ? realloc(snap, (size_t)n * sizeof(*s)) : NULL;

		if (p)
			pfs = p;
		if (!s)
			return -1;
		snap = s;
		cappfs = n;
	}
	for (i = 0; i < n; i++) {
		snap[i] = ents[i];
		ents[i].again = 0;
		pfs[i] = (struct pollfd){ .fd = ents[i].fd, .events = ents[i].events };
	}
	if (sys_poll(pfs, (nfds_t)n, timeout) < 0) {
		if (errno != EINTR)
			return -1;
		for (i = 0; i < n; i++)
			pfs[i].revents = 0;
	}
	for (i = 0; i < n; i++)
		if ((pfs[i].revents || snap[i].again) && still_there(&snap[i]))
			snap[i].fn(snap[i].arg);
	timers_run(&tq, sys_now_ms());
	return 0;
}

void loop_free(void)
{
	free(ents);
	free(pfs);
	free(snap);
	ents = NULL;
	pfs = NULL;
	snap = NULL;
	nents = capents = cappfs = 0;
	timers_free(&tq);
}
