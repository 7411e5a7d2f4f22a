/*
 * test_lines.c - the line protocol of persistent commands (lines.c):
 * escaping every byte round-trips, and which lines are verdicts.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "lines.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

struct vcase {
	const char *line;
	int ok, code;
	const char *msg;
};

static const struct vcase vcases[] = {
	{ "0", 1, 0, "" }, { "ok", 1, 0, "" }, { "1", 1, 1, "" }, { "255", 1, 255, "" },
	{ "65", 1, 65, "" }, { "0 fine", 1, 0, "fine" }, { "ok parsed 12 records", 1, 0, "parsed 12 records" },
	{ "3 bad header: x", 1, 3, "bad header: x" }, { "0\r", 1, 0, "" }, { "ok \r", 1, 0, "" },
	{ "7 ", 1, 7, "" }, { "0  two spaces", 1, 0, " two spaces" },
	{ "", 0, 0, NULL }, { " 0", 0, 0, NULL }, { "256", 0, 0, NULL }, { "1000", 0, 0, NULL },
	{ "-1", 0, 0, NULL }, { "+1", 0, 0, NULL }, { "00", 0, 0, NULL }, { "01", 0, 0, NULL },
	{ "OK", 0, 0, NULL }, { "okay", 0, 0, NULL }, { "ok:", 0, 0, NULL }, { "1x", 0, 0, NULL },
	{ "done", 0, 0, NULL }, { "\r", 0, 0, NULL }, { "0\tx", 0, 0, NULL },
	{ "Traceback (most recent call last):", 0, 0, NULL },
};

ParameterizedTestParameters(lines, verdicts)
{
	static int idx[N_OF(vcases)];

	for (size_t i = 0; i < N_OF(vcases); i++)
		idx[i] = (int)i;
	return cr_make_param_array(int, idx, N_OF(idx));
}

ParameterizedTest(int *i, lines, verdicts)
{
	const struct vcase *c = &vcases[*i];
	int code = -7;
	const char *msg = NULL;
	size_t ml = 99;
	int r = lines_verdict(c->line, strlen(c->line), &code, &msg, &ml);

	if (!c->ok) {
		cr_assert_eq(r, -1, "\"%s\" taken as a verdict (%d)", c->line, code);
		return;
	}
	cr_assert_eq(r, 0, "\"%s\"", c->line);
	cr_assert_eq(code, c->code, "\"%s\": %d", c->line, code);
	cr_assert_eq(ml, strlen(c->msg), "\"%s\": message of %zu bytes", c->line, ml);
	cr_assert(!strncmp(msg, c->msg, ml), "\"%s\"", c->line);
}

/* Every byte but NUL, and the awkward names, round-trip; the escaped line
 * has exactly one newline, at its end. */
Test(lines, escape_round_trips)
{
	static const char *const names[] = {
		"/s/d/run.1/3/x.sea", "/s/a\\b.sea", "/s/a\nb.sea", "/s/\\n.sea", "/s/\\\\\n\n.sea",
		"/s/ lead and trail .sea ", "/s/tab\there.sea", "/s/\r.sea",
	};
	char all[256], line[1024], back[512];

	for (size_t k = 0; k < N_OF(names); k++) {
		int n = lines_escape(names[k], line, sizeof(line));

		cr_assert_gt(n, 0);
		cr_assert_eq(strchr(line, '\n'), line + n - 1, "\"%s\"", names[k]);
		cr_assert_eq(lines_unescape(line, (size_t)n - 1, back, sizeof(back)),
			     (int)strlen(names[k]));
		cr_assert_str_eq(back, names[k]);
	}
	for (int c = 1; c < 256; c++)
		all[c - 1] = (char)c;
	all[255] = '\0';
	cr_assert_gt(lines_escape(all, line, sizeof(line)), 0);
	cr_assert_eq(lines_unescape(line, strlen(line) - 1, back, sizeof(back)), 255);
	cr_assert_str_eq(back, all);
	/* Ordinary names are written as they are (a shell `read -r` loop
	 * gets them unchanged). */
	cr_assert_eq(lines_escape("/s/x.sea", line, sizeof(line)), 9);
	cr_assert_str_eq(line, "/s/x.sea\n");
}

/* Sizes: exactly enough fits, one byte less does not; bad escapes. */
Test(lines, bounds_and_bad_escapes)
{
	char buf[16], back[8];

	cr_assert_eq(lines_escape("abc", buf, 5), 4);
	cr_assert_eq(lines_escape("abc", buf, 4), -1);
	cr_assert_eq(lines_escape("a\\", buf, 5), 4);
	cr_assert_str_eq(buf, "a\\\\\n");
	cr_assert_eq(lines_escape("a\\", buf, 4), -1);
	cr_assert_eq(lines_unescape("a\\t", 3, back, sizeof(back)), -1);
	cr_assert_eq(lines_unescape("a\\", 2, back, sizeof(back)), -1);
	cr_assert_eq(lines_unescape("abcdefgh", 8, back, sizeof(back)), -1);
	cr_assert_eq(lines_unescape("abcdefg", 7, back, sizeof(back)), 7);
}
