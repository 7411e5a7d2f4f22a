/*
 * settle.c - files that wait to settle (see settle.h): per drop, a hash
 * table of waiting names, each entry allocated once with its timer (the
 * timer heap holds its address).
 */
#include "settle.h"

#include <stdlib.h>
#include <string.h>

#include "drop.h"
#include "loop.h"
#include "timer.h"

#define BUCKETS 256

struct entry {
	struct entry *next;     /* in its bucket */
	struct drop *d;
	struct timer t;
	struct settle_sig sig;
	char name[];
};

struct settle_tab {
	struct entry *b[BUCKETS];
	unsigned n;
};

static void (*due_fn)(struct drop *, const char *, const struct settle_sig *);
static unsigned total;   /* entries over every drop */
/* Tests make the table small ($SEAWATCH_SETTLE_MAX) to reach its end. */
static unsigned limit;

static unsigned hash(const char *s)
{
	uint32_t h = 2166136261u;   /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h % BUCKETS;
}

static struct entry **find(const struct drop *d, const char *name)
{
	struct entry **p;

	if (!d->settle)
		return NULL;
	for (p = &d->settle->b[hash(name)]; *p; p = &(*p)->next)
		if (!strcmp((*p)->name, name))
			return p;
	return NULL;
}

static void unlink_entry(struct entry **p)
{
	struct entry *e = *p;

	*p = e->next;
	e->d->settle->n--;
	total--;
	loop_cancel(&e->t);
}

static void fire(void *arg)
{
	struct entry *e = arg, **p = find(e->d, e->name);

	if (!p)
		return;
	unlink_entry(p);
	if (due_fn)
		due_fn(e->d, e->name, &e->sig);
	free(e);
}

void settle_on_due(void (*fn)(struct drop *, const char *, const struct settle_sig *))
{
	due_fn = fn;
}

int settle_wait(struct drop *d, const char *name, const struct settle_sig *sig, int64_t at)
{
	struct entry **p = find(d, name), *e;
	size_t len = strlen(name);

	if (p) {
		(*p)->sig = *sig;
		loop_arm(&(*p)->t, at);   /* the clock restarts */
		return 0;
	}
	if (!limit) {
		const char *v = getenv("SEAWATCH_SETTLE_MAX");

		limit = v && atoi(v) > 0 && atoi(v) < SETTLE_MAX ? (unsigned)atoi(v) : SETTLE_MAX;
	}
	if (total >= limit)
		return -1;
	if (!d->settle && !(d->settle = calloc(1, sizeof(*d->settle))))
		return -1;
	e = malloc(sizeof(*e) + len + 1);
	if (!e)
		return -1;
	memcpy(e->name, name, len + 1);
	e->d = d;
	e->sig = *sig;
	timer_init(&e->t, fire, e);
	p = &d->settle->b[hash(name)];
	e->next = *p;
	*p = e;
	d->settle->n++;
	total++;
	loop_arm(&e->t, at);
	return 0;
}

int settle_waiting(const struct drop *d, const char *name)
{
	return find(d, name) != NULL;
}

unsigned settle_count(const struct drop *d)
{
	return d->settle ? d->settle->n : 0;
}

void settle_forget(struct drop *d)
{
	if (!d->settle)
		return;
	for (int i = 0; i < BUCKETS; i++)
		while (d->settle->b[i]) {
			struct entry *e = d->settle->b[i];

			unlink_entry(&d->settle->b[i]);
			free(e);
		}
	free(d->settle);
	d->settle = NULL;
}
