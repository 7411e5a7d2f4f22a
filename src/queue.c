/*
 * queue.c - a ring buffer of ints with a fixed capacity.  The master keeps
 * job slot numbers in it; when it is full, files stay in the drop directory.
 */
#include <errno.h>
#include <stdlib.h>

#include "queue.h"

int queue_init(struct queue *q, int cap)
{
	q->head = q->len = 0;
	q->cap = 0;
	q->items = NULL;
	if (cap < 1) {
		errno = EINVAL;
		return -1;
	}
	q->items = calloc((size_t)cap, sizeof(*q->items));
	if (!q->items)
		return -1;
	q->cap = cap;
	return 0;
}

void queue_free(struct queue *q)
{
	free(q->items);
	q->items = NULL;
	q->cap = q->len = q->head = 0;
}

int queue_push(struct queue *q, int v)
{
	if (q->len == q->cap)
		return -1;
	q->items[(q->head + q->len) % q->cap] = v;
	q->len++;
	return 0;
}

int queue_push_front(struct queue *q, int v)
{
	if (q->len == q->cap)
		return -1;
	q->head = (q->head + q->cap - 1) % q->cap;
	q->items[q->head] = v;
	q->len++;
	return 0;
}

int queue_pop(struct queue *q, int *v)
{
	if (q->len == 0)
		return -1;
	*v = q->items[q->head];
	q->head = (q->head + 1) % q->cap;
	q->len--;
	return 0;
}

int queue_resize(struct queue *q, int cap)
{
	int *n, i;

	if (cap < 1 || cap < q->len) {
		errno = EINVAL;
		return -1;
	}
	n = calloc((size_t)cap, sizeof(*n));
	if (!n)
		return -1;
	for (i = 0; i < q->len; i++)
		n[i] = q->items[(q->head + i) % q->cap];
	free(q->items);
	q->items = n;
	q->cap = cap;
	q->head = 0;
	return 0;
}
