/*
 * Unit tests: the timer heap (timer.c), against a fake clock and a plain
 * model (an array scanned in full): every timer runs once, at the first
 * call whose time has reached its deadline, earliest first; moves and
 * cancels in any order keep it so.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>

#include "timer.h"

#define N 500

static struct timer tm[N];
static int64_t model[N];      /* deadline, or -1 when not armed */
static int64_t fired_at[N];
static int64_t clock_now;
static int64_t last_at;
static int order_ok;

static void fire(void *arg)
{
	int i = (int)(intptr_t)arg;

	cr_assert_eq(model[i] >= 0, 1, "timer %d ran but is not armed", i);
	cr_assert_leq(model[i], clock_now, "timer %d ran before its time", i);
	if (model[i] < last_at)
		order_ok = 0;
	last_at = model[i];
	fired_at[i] = clock_now;
	model[i] = -1;
}

static int64_t model_next(void)
{
	int64_t m = INT64_MAX;

	for (int i = 0; i < N; i++)
		if (model[i] >= 0 && model[i] < m)
			m = model[i];
	return m;
}

Test(timer, random_arms_moves_cancels_against_a_model)
{
	struct timers q = { 0 };
	unsigned seed = 12345;

	for (int i = 0; i < N; i++) {
		timer_init(&tm[i], fire, (void *)(intptr_t)i);
		model[i] = -1;
	}
	clock_now = 0;
	order_ok = 1;
	for (int round = 0; round < 2000; round++) {
		int i = (int)(rand_r(&seed) % N), op = (int)(rand_r(&seed) % 10);

		if (op < 6) {
			int64_t at = clock_now + (int64_t)(rand_r(&seed) % 5000);

			cr_assert_eq(timers_arm(&q, &tm[i], at), 0);
			model[i] = at;
		} else if (op < 8) {
			timers_cancel(&q, &tm[i]);
			model[i] = -1;
		} else {
			int ran, due = 0;

			clock_now += (int64_t)(rand_r(&seed) % 700);
			for (int k = 0; k < N; k++)
				if (model[k] >= 0 && model[k] <= clock_now)
					due++;
			last_at = INT64_MIN;
			ran = timers_run(&q, clock_now);
			cr_assert_eq(ran, due, "%d ran, %d were due", ran, due);
			cr_assert(order_ok, "not earliest first");
		}
		cr_assert_eq(timers_next(&q), model_next());
		for (int k = 0; k < N; k++)
			cr_assert_eq(timer_armed(&tm[k]), model[k] >= 0);
	}
	timers_free(&q);
}

static struct timers self_q;
static int self_runs;
static struct timer self_t;

static void rearm_now(void *arg)
{
	(void)arg;
	self_runs++;
	timers_arm(&self_q, &self_t, 0);
}

Test(timer, a_callback_that_arms_itself_for_now_does_not_loop)
{
	timer_init(&self_t, rearm_now, NULL);
	cr_assert_eq(timers_arm(&self_q, &self_t, 0), 0);
	cr_assert_eq(timers_run(&self_q, 10), 1);
	cr_assert_eq(self_runs, 1);
	cr_assert(timer_armed(&self_t));
	cr_assert_eq(timers_run(&self_q, 10), 1);
	cr_assert_eq(self_runs, 2);
	timers_cancel(&self_q, &self_t);
	cr_assert_eq(timers_next(&self_q), INT64_MAX);
	cr_assert_eq(timers_run(&self_q, 10), 0);
	timers_free(&self_q);
}
