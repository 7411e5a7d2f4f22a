/* Unit tests: files noticed while there was no room to claim them (one
 * FIFO over every drop, bounded; see src/noticed.c). */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "noticed.h"

/* Drops are only compared by address here. */
static struct drop *const A = (struct drop *)0x1000, *const B = (struct drop *)0x2000;

static struct settle_sig sig(int i)
{
	struct settle_sig s;

	memset(&s, 0, sizeof(s));
	s.ino = (ino_t)i;
	s.size = i * 10;
	s.mtime_ns = i * 100;
	s.ctime_ns = i * 1000;
	return s;
}

/* Pops one; asserts it is (D, NAME, I). */
static void expect(struct drop *d, const char *name, int i)
{
	char got[64];
	struct drop *gd;
	struct settle_sig gs, want = sig(i);

	cr_assert_eq(noticed_pop(&gd, got, sizeof(got), &gs), 1, "nothing left for %s", name);
	cr_assert_eq(gd, d, "%s: wrong drop", name);
	cr_assert_str_eq(got, name);
	cr_assert(!memcmp(&gs, &want, sizeof(gs)), "%s: signature changed", name);
}

static void drain(void)
{
	char n[64];
	struct drop *d;
	struct settle_sig s;

	while (noticed_pop(&d, n, sizeof(n), &s))
		;
}

Test(noticed, arrival_order_over_every_drop)
{
	struct settle_sig s1 = sig(1), s2 = sig(2), s3 = sig(3);

	cr_assert_eq(noticed_count(NULL), 0);
	cr_assert_eq(noticed_push(A, "a1.sea", &s1, 8), 0);
	cr_assert_eq(noticed_push(B, "dev/b2.sea", &s2, 8), 0);
	cr_assert_eq(noticed_push(A, "a3.sea", &s3, 8), 0);
	cr_assert_eq(noticed_count(NULL), 3);
	cr_assert_eq(noticed_count(A), 2);
	cr_assert_eq(noticed_count(B), 1);
	expect(A, "a1.sea", 1);
	expect(B, "dev/b2.sea", 2);
	expect(A, "a3.sea", 3);
	cr_assert_eq(noticed_count(NULL), 0);
	{
		struct drop *d;
		struct settle_sig s;
		char n[8];

		cr_assert_eq(noticed_pop(&d, n, sizeof(n), &s), 0, "empty pops nothing");
	}
}

Test(noticed, bounded_by_the_cap_it_is_given)
{
	struct settle_sig s = sig(7);

	for (int i = 0; i < 4; i++)
		cr_assert_eq(noticed_push(A, "x.sea", &s, 4), 0);
	cr_assert_eq(noticed_push(A, "y.sea", &s, 4), -1, "a fifth past a cap of 4");
	cr_assert_eq(noticed_push(B, "y.sea", &s, 3), -1, "a smaller cap after a reload");
	cr_assert_eq(noticed_count(NULL), 4);
	expect(A, "x.sea", 7);
	cr_assert_eq(noticed_push(A, "z.sea", &s, 4), 0, "room again once one went");
	drain();
}

Test(noticed, a_drop_that_goes_is_forgotten_wherever_its_files_are)
{
	struct settle_sig s[7];
	/* B at the head, in the middle and at the tail. */
	struct drop *who[] = { B, A, B, A, A, B };
	const char *names[] = { "b0", "a1", "b2", "a3", "a4", "b5" };

	for (int i = 0; i < 6; i++) {
		s[i] = sig(i);
		cr_assert_eq(noticed_push(who[i], names[i], &s[i], 16), 0);
	}
	noticed_forget(B);
	cr_assert_eq(noticed_count(B), 0);
	cr_assert_eq(noticed_count(NULL), 3);
	/* The tail is right after its removal: a new file goes last. */
	s[6] = sig(6);
	cr_assert_eq(noticed_push(A, "a6", &s[6], 16), 0);
	expect(A, "a1", 1);
	expect(A, "a3", 3);
	expect(A, "a4", 4);
	expect(A, "a6", 6);
	cr_assert_eq(noticed_count(NULL), 0);
	noticed_forget(A);   /* nothing of it: nothing changes */
	cr_assert_eq(noticed_push(A, "a7", &s[0], 16), 0);
	expect(A, "a7", 0);
}

Test(noticed, a_name_too_long_for_the_buffer_comes_out_empty)
{
	struct settle_sig s = sig(1);
	struct drop *d;
	char small[4] = "zzz";

	cr_assert_eq(noticed_push(A, "long-name.sea", &s, 4), 0);
	cr_assert_eq(noticed_pop(&d, small, sizeof(small), &s), 1);
	cr_assert_str_eq(small, "", "a truncated name could be another file's");
	cr_assert_eq(noticed_count(NULL), 0);
}
