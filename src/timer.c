/*
 * timer.c - deadlines in a binary heap (see timer.h): arm, move and
 * cancel in O(log n), the next deadline in O(1).
 */
#include "timer.h"

#include <stdlib.h>

void timer_init(struct timer *t, void (*fn)(void *), void *arg)
{
	t->at = 0;
	t->pos = -1;
	t->fn = fn;
	t->arg = arg;
}

static void put(struct timers *q, int i, struct timer *t)
{
	q->h[i] = t;
	t->pos = i;
}

static void up(struct timers *q, int i)
{
	struct timer *t = q->h[i];

	while (i > 0) {
		int p = (i - 1) / 2;

		if (q->h[p]->at <= t->at)
			break;
		put(q, i, q->h[p]);
		i = p;
	}
	put(q, i, t);
}

static void down(struct timers *q, int i)
{
	struct timer *t = q->h[i];

	for (;;) {
		int c = 2 * i + 1;

		if (c >= q->n)
			break;
		if (c + 1 < q->n && q->h[c + 1]->at < q->h[c]->at)
			c++;
		if (t->at <= q->h[c]->at)
			break;
		put(q, i, q->h[c]);
		i = c;
	}
	put(q, i, t);
}

int timers_reserve(struct timers *q, int n)
{
	struct timer **h;

	if (n <= q->cap)
		return 0;
	h = realloc(q->h, (size_t)n * sizeof(*h));
	if (!h)
		return -1;
	q->h = h;
	q->cap = n;
	return 0;
}

int timers_arm(struct timers *q, struct timer *t, int64_t at)
{
	if (t->pos >= 0) {
		int64_t was = t->at;

		t->at = at;
		if (at < was)
			up(q, t->pos);
		else
			down(q, t->pos);
		return 0;
	}
	if (q->n == q->cap && timers_reserve(q, q->cap ? 2 * q->cap : 64) < 0)
		return -1;
	t->at = at;
	put(q, q->n++, t);
	up(q, q->n - 1);
	return 0;
}

void timers_cancel(struct timers *q, struct timer *t)
{
	int i = t->pos;

	if (i < 0)
		return;
	t->pos = -1;
	if (--q->n == i)
		return;
	put(q, i, q->h[q->n]);
	/* The last one, put where T was: it may belong above or below. */
	if (i > 0 && q->h[(i - 1) / 2]->at > q->h[i]->at)
		up(q, i);
	else
		down(q, i);
}

int64_t timers_next(const struct timers *q)
{
	return q->n ? q->h[0]->at : INT64_MAX;
}

int timers_run(struct timers *q, int64_t now)
{
	int ran = 0, budget = q->n;

	/* At most as many as were armed when we began: a callback that arms
	 * its timer again for NOW cannot keep us here. */
	while (q->n > 0 && q->h[0]->at <= now && budget-- > 0) {
		struct timer *t = q->h[0];

		timers_cancel(q, t);
		ran++;
		if (t->fn)
			t->fn(t->arg);
	}
	return ran;
}

void timers_free(struct timers *q)
{
	free(q->h);
	q->h = NULL;
	q->n = q->cap = 0;
}
