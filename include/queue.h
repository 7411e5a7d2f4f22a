/*
 * queue.h - the bounded FIFO of job slots (owned by src/queue.c).
 * Pure: no system calls beyond malloc; unit-tested exhaustively.
 */
#ifndef SW_QUEUE_H
#define SW_QUEUE_H

struct queue {
	int *items;
	int cap;
	int head;
	int len;
};

int queue_init(struct queue *q, int cap);       /* 0, or -1 (ENOMEM/EINVAL) */
void queue_free(struct queue *q);
int queue_push(struct queue *q, int v);         /* 0, or -1 when full */
int queue_push_front(struct queue *q, int v);   /* first out next; -1 when full */
int queue_pop(struct queue *q, int *v);         /* 0, or -1 when empty */
/* Change the capacity keeping order; -1 if CAP < current length or ENOMEM. */
int queue_resize(struct queue *q, int cap);
static inline int queue_len(const struct queue *q) { return q->len; }
static inline int queue_full(const struct queue *q) { return q->len == q->cap; }

#endif
