/* Unit tests: verdicts, backoff, status strings. */
#include <criterion/criterion.h>
#include <signal.h>
#include <errno.h>
#include <stdint.h>

#include "policy.h"

static struct sw_drop drop(int retries, int64_t backoff, int64_t max)
{
	static int noretry[] = { 65, 77 };
	struct sw_drop d = { 0 };

	d.retries = retries;
	d.backoff_ms = backoff;
	d.backoff_max_ms = max;
	d.no_retry = noretry;
	d.n_no_retry = 2;
	return d;
}

struct vcase {
	int retries, attempt;
	enum st_kind kind;
	int code;
	enum verdict want;
};

Test(policy, verdict_table)
{
	static const struct vcase cases[] = {
		{ 3, 1, ST_EXIT, 0, V_DONE },
		{ 0, 1, ST_EXIT, 0, V_DONE },
		{ 3, 4, ST_EXIT, 0, V_DONE },          /* success on the last try */
		{ 3, 1, ST_EXIT, 1, V_RETRY },
		{ 3, 3, ST_EXIT, 1, V_RETRY },
		{ 3, 4, ST_EXIT, 1, V_FAILED },        /* retries used up */
		{ 0, 1, ST_EXIT, 1, V_FAILED },
		{ 3, 1, ST_EXIT, 65, V_FAILED },       /* no_retry */
		{ 3, 1, ST_EXIT, 77, V_FAILED },
		{ 3, 1, ST_EXIT, 66, V_RETRY },
		{ 3, 1, ST_SIGNAL, SIGSEGV, V_RETRY },
		{ 3, 1, ST_SIGNAL, 65, V_RETRY },      /* no_retry is for exit codes */
		{ 3, 1, ST_TIMEOUT, SIGKILL, V_RETRY },
		{ 1, 2, ST_TIMEOUT, SIGTERM, V_FAILED },
		{ 3, 1, ST_EXEC, ENOENT, V_RETRY },
		{ 3, 1, ST_WORKER_DIED, 0, V_RETRY },
		{ 3, 1, ST_CRASHED, 0, V_FAILED },
		{ 3, 1, ST_NOT_REGULAR, 0, V_FAILED },
		{ 3, 1, ST_PROTOCOL, 0, V_RETRY },     /* lines: a failed attempt */
		{ 0, 1, ST_PROTOCOL, 0, V_FAILED },
		{ 3, 1, ST_LOST, 65 << 8, V_RETRY },   /* no_retry is for its answers */
		{ 3, 4, ST_LOST, SIGKILL, V_FAILED },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sw_drop d = drop(cases[i].retries, 1000, 10000);

		cr_expect_eq(policy_decide(&d, cases[i].attempt, cases[i].kind, cases[i].code),
			     cases[i].want, "case %zu", i);
	}
}

Test(policy, backoff_doubles_and_caps)
{
	struct sw_drop d = drop(10, 1000, 10000);
	uint32_t mid = UINT32_MAX / 2;  /* jitter factor 1.0 */

	cr_assert_eq(policy_backoff_ms(&d, 1, mid), 1000);
	cr_assert_eq(policy_backoff_ms(&d, 2, mid), 2000);
	cr_assert_eq(policy_backoff_ms(&d, 3, mid), 4000);
	cr_assert_eq(policy_backoff_ms(&d, 4, mid), 8000);
	cr_assert_eq(policy_backoff_ms(&d, 5, mid), 10000);
	cr_assert_eq(policy_backoff_ms(&d, 60, mid), 10000, "no overflow at high attempts");
}

Test(policy, backoff_jitter_is_within_20_percent)
{
	struct sw_drop d = drop(10, 1000, 100000);

	cr_assert_eq(policy_backoff_ms(&d, 1, 0), 800);
	cr_assert_eq(policy_backoff_ms(&d, 1, UINT32_MAX), 1200);
	cr_assert_eq(policy_backoff_ms(&d, 3, 0), 3200);
	cr_assert_eq(policy_backoff_ms(&d, 3, UINT32_MAX), 4800);
	/* jitter never exceeds backoff_max */
	d.backoff_max_ms = 1000;
	cr_assert_eq(policy_backoff_ms(&d, 1, UINT32_MAX), 1000);
}

Test(policy, backoff_zero)
{
	struct sw_drop d = drop(3, 0, 0);

	cr_assert_eq(policy_backoff_ms(&d, 1, UINT32_MAX), 0);
}

Test(policy, status_strings)
{
	char b[64];

	cr_assert_str_eq(policy_status(ST_EXIT, 3, b, sizeof(b)), "exit:3");
	cr_assert_str_eq(policy_status(ST_SIGNAL, SIGKILL, b, sizeof(b)), "signal:SIGKILL");
	cr_assert_str_eq(policy_status(ST_TIMEOUT, SIGTERM, b, sizeof(b)), "timeout");
	cr_assert_str_eq(policy_status(ST_EXEC, ENOENT, b, sizeof(b)), "exec:ENOENT");
	cr_assert_str_eq(policy_status(ST_WORKER_DIED, 0, b, sizeof(b)), "worker-died");
	cr_assert_str_eq(policy_status(ST_CRASHED, 0, b, sizeof(b)), "crashed");
	cr_assert_str_eq(policy_status(ST_PROTOCOL, 0, b, sizeof(b)), "protocol-error");
	cr_assert_str_eq(policy_status(ST_LOST, 3 << 8, b, sizeof(b)), "command-exited:3");
	cr_assert_str_eq(policy_status(ST_LOST, SIGSEGV, b, sizeof(b)), "command-died:SIGSEGV");
}

/* How a worker ended, for event=worker-died (statuses made as the kernel
 * encodes them: exit code << 8; signal in the low 7 bits; 0x80 core). */
Test(policy, wait_status_says_how_a_process_ended)
{
	char b[64];

	cr_assert_str_eq(policy_wait_status(3 << 8, b, sizeof(b)), "exit:3");
	cr_assert_str_eq(policy_wait_status(0, b, sizeof(b)), "exit:0");
	cr_assert_str_eq(policy_wait_status(9, b, sizeof(b)), "signal:SIGKILL");
	cr_assert_str_eq(policy_wait_status(11 | 0x80, b, sizeof(b)),
			 "signal:SIGSEGV core=dumped");
}
