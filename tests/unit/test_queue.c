/* Unit tests: the bounded FIFO. */
#include <criterion/criterion.h>

#include "queue.h"

Test(queue, fifo_order_and_bounds)
{
	struct queue q;
	int v, i;

	cr_assert_eq(queue_init(&q, 3), 0);
	cr_assert_eq(queue_pop(&q, &v), -1, "empty queue pops nothing");
	for (i = 0; i < 3; i++)
		cr_assert_eq(queue_push(&q, i), 0);
	cr_assert(queue_full(&q));
	cr_assert_eq(queue_push(&q, 99), -1, "a full queue refuses");
	for (i = 0; i < 3; i++) {
		cr_assert_eq(queue_pop(&q, &v), 0);
		cr_assert_eq(v, i);
	}
	cr_assert_eq(queue_len(&q), 0);
	queue_free(&q);
}

Test(queue, wraps_around_many_times)
{
	struct queue q;
	int v, i, next_in = 0, next_out = 0;

	cr_assert_eq(queue_init(&q, 5), 0);
	for (i = 0; i < 1000; i++) {
		/* push two, pop one, until full; then drain */
		if (!queue_full(&q))
			cr_assert_eq(queue_push(&q, next_in++), 0);
		if (i % 2 && queue_pop(&q, &v) == 0)
			cr_assert_eq(v, next_out++);
	}
	while (queue_pop(&q, &v) == 0)
		cr_assert_eq(v, next_out++);
	cr_assert_eq(next_in, next_out);
	queue_free(&q);
}

Test(queue, resize_keeps_order)
{
	struct queue q;
	int v, i;

	cr_assert_eq(queue_init(&q, 4), 0);
	for (i = 0; i < 4; i++)
		queue_push(&q, i);
	queue_pop(&q, &v);
	queue_push(&q, 4);        /* wrapped: 1 2 3 4 */
	cr_assert_eq(queue_resize(&q, 2), -1, "cannot shrink below length");
	cr_assert_eq(queue_resize(&q, 8), 0);
	cr_assert_eq(q.cap, 8);
	for (i = 1; i <= 4; i++) {
		cr_assert_eq(queue_pop(&q, &v), 0);
		cr_assert_eq(v, i);
	}
	queue_free(&q);
}

Test(queue, rejects_zero_capacity)
{
	struct queue q;

	cr_assert_eq(queue_init(&q, 0), -1);
}

/* A job given back goes to the head: first out next, order kept, across
 * the ring's wrap, and never past the capacity. */
Test(queue, push_front_goes_out_first)
{
	struct queue q;
	int v, i;

	cr_assert_eq(queue_init(&q, 4), 0);
	cr_assert_eq(queue_push(&q, 1), 0);
	cr_assert_eq(queue_push(&q, 2), 0);
	cr_assert_eq(queue_pop(&q, &v), 0);   /* head moves off slot 0 */
	cr_assert_eq(queue_push_front(&q, 7), 0);
	cr_assert_eq(queue_push_front(&q, 6), 0);   /* wraps below slot 0 */
	cr_assert_eq(queue_push(&q, 3), 0);
	cr_assert(queue_full(&q));
	cr_assert_eq(queue_push_front(&q, 99), -1, "a full queue refuses");
	for (i = 0; i < 4; i++) {
		static const int want[] = { 6, 7, 2, 3 };

		cr_assert_eq(queue_pop(&q, &v), 0);
		cr_assert_eq(v, want[i], "pop %d gave %d", i, v);
	}
	queue_free(&q);
}
