/* Unit tests: log value escaping (a name must not forge a record). */
#include <criterion/criterion.h>
#include <string.h>

#include "log.h"

struct ecase {
	const char *in;
	size_t len;
	const char *want;
};

Test(log, escape_table)
{
	static const struct ecase cases[] = {
		{ "a.sea", 5, "a.sea" },
		{ "dev-01/x_y.sea", 14, "dev-01/x_y.sea" },
		{ "a b.sea", 7, "\"a b.sea\"" },
		{ "x\ny", 3, "\"x\\ny\"" },
		{ "q\"uote", 6, "\"q\\\"uote\"" },
		{ "back\\slash", 10, "\"back\\\\slash\"" },
		{ "t\tab", 4, "\"t\\tab\"" },
		{ "\xff\xfe.sea", 6, "\"\\xff\\xfe.sea\"" },
		{ "ctl\x01", 4, "\"ctl\\x01\"" },
		{ "level=error", 11, "\"level=error\"" },
		{ "", 0, "\"\"" },
	};
	char buf[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_expect_str_eq(log_esc(buf, sizeof(buf), cases[i].in, cases[i].len),
				 cases[i].want, "case %zu", i);
}

Test(log, escape_truncates_safely)
{
	char buf[16], in[100];

	memset(in, 'x', sizeof(in));
	in[0] = ' ';   /* force quoting */
	log_esc(buf, sizeof(buf), in, sizeof(in));
	cr_assert(strlen(buf) < sizeof(buf));
	cr_assert(strstr(buf, "...") != NULL);
	cr_assert_eq(buf[strlen(buf) - 1], '"', "closing quote kept: %s", buf);
}

Test(log, escaped_output_has_no_newline)
{
	char buf[1100];
	const char *evil = "a.sea\nlevel=info event=done drop=d file=forged.sea";

	log_esc(buf, sizeof(buf), evil, strlen(evil));
	cr_assert_null(strchr(buf, '\n'));
}
