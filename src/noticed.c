/*
 * noticed.c - files noticed while there was no room to claim them (see
 * noticed.h): a singly linked FIFO, each entry allocated once with its
 * name.
 */
#include "noticed.h"

#include <stdlib.h>
#include <string.h>

struct entry {
	struct entry *next;
	struct drop *d;
	struct settle_sig sig;
	char name[];
};

static struct entry *head, *tail;
static unsigned count;

int noticed_push(struct drop *d, const char *name, const struct settle_sig *sig, unsigned cap)
{
	size_t len = strlen(name);
	struct entry *e;

	if (count >= cap || !(e = malloc(sizeof(*e) + len + 1)))
		return -1;
	e->next = NULL;
	e->d = d;
	e->sig = *sig;
	memcpy(e->name, name, len + 1);
	if (tail)
		tail->next = e;
	else
		head = e;
	tail = e;
	count++;
	return 0;
}

int noticed_pop(struct drop **d, char *name, size_t sz, struct settle_sig *sig)
{
	struct entry *e = head;

	if (!e)
		return 0;
	head = e->next;
	if (!head)
		tail = NULL;
	count--;
	*d = e->d;
	*sig = e->sig;
	/* Names come from the drop's watcher, shorter than a relative path
	 * may be; a caller's smaller buffer gets an empty name (no file). */
	if (strlen(e->name) < sz)
		strcpy(name, e->name);
	else if (sz)
		name[0] = '\0';
	free(e);
	return 1;
}

unsigned noticed_count(const struct drop *d)
{
	unsigned n = 0;

	if (!d)
		return count;
	for (const struct entry *e = head; e; e = e->next)
		n += e->d == d;
	return n;
}

void noticed_forget(const struct drop *d)
{
	struct entry **p = &head, *e;

	tail = NULL;
	while ((e = *p)) {
		if (e->d == d) {
			*p = e->next;
			free(e);
			count--;
		} else {
			tail = e;
			p = &e->next;
		}
	}
}
