/*
 * test_pipeline.c - the main pipeline, end to end: the real seawatchd on a
 * temporary tree with real scripts.  Drops, the command contract, retries,
 * collisions, --once, config errors, reload, odd names, hostile entries,
 * signals, exec failure and the output bound.
 *
 * Run: SEAWATCHD=build/seawatchd build/tests/test_pipeline -j2
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define WAIT_MS 15000

static struct h_env E;

static void setup(void)
{
	h_setup(&E);
}

static void teardown(void)
{
	h_teardown(&E);
}

TestSuite(pipeline, .init = setup, .fini = teardown, .timeout = 60);

/* The last few KB of the daemon's log, for failure messages. */
static const char *logtail(void)
{
	static char buf[4096];
	char *text = h_slurp(E.log);
	size_t n;

	if (!text)
		return "(no daemon log)";
	n = strlen(text);
	snprintf(buf, sizeof buf, "%s", n > 3500 ? text + n - 3500 : text);
	free(text);
	return buf;
}

static void start_ready(void)
{
	h_start(&E, NULL);
	cr_assert(h_wait_ready(&E, WAIT_MS),
		  "seawatchd never logged event=ready; log:\n%s", logtail());
}

static void nap(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Poll until NEEDLE occurs at least N times in FILE; 1 if by MS. */
static int wait_text_count(const char *file, const char *needle, int n, int ms)
{
	for (int waited = 0;; waited += 10) {
		if (h_count_text(file, needle) >= n)
			return 1;
		if (waited >= ms)
			return 0;
		nap(10);
	}
}

/* 1 if TEXT holds LINE as a whole line. */
static int has_line(const char *text, const char *line)
{
	size_t len = strlen(line);
	const char *p = text;

	while (text && (p = strstr(p, line))) {
		if ((p == text || p[-1] == '\n') && (p[len] == '\n' || p[len] == '\0'))
			return 1;
		p++;
	}
	return 0;
}

static char *slurp_or_fail(const char *path)
{
	char *text = h_slurp(path);

	cr_assert(text, "cannot read %s; log:\n%s", path, logtail());
	return text;
}

/* The sidecar failed/NAME.error once its header is complete (the daemon
 * may create it a moment before it writes it). */
static char *read_sidecar(const char *name)
{
	const char *path = h_fmt("%s/%s.error", E.failed, name);

	cr_assert(h_wait_text(path, "output:", WAIT_MS),
		  "%s/%s.error never got its 'output:' line; log:\n%s", E.failed, name, logtail());
	return slurp_or_fail(h_fmt("%s/%s.error", E.failed, name));
}

/* Config list text for [SCRIPT, ARGS...] where ARGS is already quoted
 * libconfig text, e.g. cmd(s, "\"{file}\", \"{name}\""). */
static const char *cmd(const char *script, const char *args)
{
	return h_fmt("[ \"%s\"%s%s ]", script, args[0] ? ", " : "", args);
}

/* A script that only checks it got a readable file. */
static const char *ok_script(void)
{
	return h_script(&E, "ok.sh", "[ -f \"$1\" ] || exit 9\ncat \"$1\" >/dev/null\n");
}

/* ------------------------------------------------------------------ */

/* Check an `ls -l /proc/self/fd/` listing taken by a command's child:
 * 0 must be /dev/null, and beyond 0-2 only ls's own /proc/PID/fd. */
static void check_fds(const char *listing, const char *who)
{
	const char *line = listing;
	int own_dir = 0, saw0 = 0;

	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char buf[512];
		char *arrow, *sp, *target;
		int fd;

		snprintf(buf, sizeof buf, "%.*s", (int)len, line);
		line = nl ? nl + 1 : NULL;
		arrow = strstr(buf, " -> ");
		if (!arrow)
			continue;
		*arrow = '\0';
		target = arrow + 4;
		sp = strrchr(buf, ' ');
		cr_assert(sp, "%s: odd fd listing line", who);
		fd = atoi(sp + 1);
		if (fd == 0) {
			saw0 = 1;
			cr_expect_str_eq(target, "/dev/null", "%s: stdin is %s, not /dev/null",
					 who, target);
		} else if (fd > 2) {
			size_t tl = strlen(target);
			int is_ls_dir = !strncmp(target, "/proc/", 6) && tl > 3 &&
					!strcmp(target + tl - 3, "/fd");

			if (is_ls_dir && !own_dir)
				own_dir = 1;
			else
				cr_expect(0, "%s: inherited fd %d -> %s is open (only 0,1,2 may be)",
					who, fd, target);
		}
	}
	cr_assert(saw0, "%s: fd 0 is not open at all; listing:\n%s", who, listing);
}

Test(pipeline, live_drop, .timeout = 60)
{
	const char *rec = h_script(&E, "rec.sh",
		"ls -l /proc/self/fd/ > \"$5/$2.fds\"\n"
		"{\n"
		"  echo \"argc=$#\"\n"
		"  echo \"file=$1\"\n"
		"  echo \"filebase=${1##*/}\"\n"
		"  case \"$1\" in /*) echo abs=yes;; *) echo abs=no;; esac\n"
		"  echo \"name=$2\"\n"
		"  echo \"drop=$3\"\n"
		"  echo \"attempt=$4\"\n"
		"  [ \"$SEAWATCH_FILE\" = \"$1\" ] && echo env_file=same || echo \"env_file=$SEAWATCH_FILE\"\n"
		"  echo \"env_name=$SEAWATCH_NAME\"\n"
		"  echo \"env_drop=$SEAWATCH_DROP\"\n"
		"  echo \"env_attempt=$SEAWATCH_ATTEMPT\"\n"
		"  echo \"env_max=$SEAWATCH_MAX_ATTEMPTS\"\n"
		"  echo \"content=$(cat \"$1\")\"\n"
		"} > \"$5/$2.rec\"\n");
	const char *names[] = { "a.sea", "b.sea", "c.sea" };

	h_config_simple(&E, cmd(rec, h_fmt("\"{file}\", \"{name}\", \"{drop}\", \"{attempt}\", \"%s\"",
					   E.out)), "", "");
	start_ready();
	for (int i = 0; i < 3; i++)
		h_drop(&E, names[i], h_fmt("payload-%d", i));

	cr_assert(h_wait_count(E.done, ".sea", 3, WAIT_MS),
		  "3 files not in done (done=%d failed=%d drop=%d); log:\n%s",
		  h_count(E.done, NULL), h_count(E.failed, NULL), h_count(E.drop, NULL), logtail());
	cr_assert(wait_text_count(E.log, "event=done", 3, WAIT_MS),
		  "expected 3 event=done lines; log:\n%s", logtail());
	cr_expect_eq(h_count(E.drop, NULL), 0, "drop not empty");
	cr_expect_eq(h_count(E.failed, NULL), 0, "something failed; log:\n%s", logtail());
	cr_expect_eq(h_count_text(E.log, "event=done"), 3, "more than 3 event=done");

	for (int i = 0; i < 3; i++) {
		const char *n = names[i];
		char *r = slurp_or_fail(h_fmt("%s/%s.rec", E.out, n));
		char *fds = slurp_or_fail(h_fmt("%s/%s.fds", E.out, n));
		char *moved = slurp_or_fail(h_fmt("%s/%s", E.done, n));

		cr_expect(has_line(r, "argc=5"), "%s: argc wrong:\n%s", n, r);
		cr_expect(has_line(r, h_fmt("filebase=%s", n)),
			  "%s: {file} base name is not the original name:\n%s", n, r);
		cr_expect(has_line(r, "abs=yes"), "%s: {file} not absolute:\n%s", n, r);
		cr_expect(has_line(r, h_fmt("name=%s", n)), "%s: {name} wrong:\n%s", n, r);
		cr_expect(has_line(r, "drop=d"), "%s: {drop} wrong:\n%s", n, r);
		cr_expect(has_line(r, "attempt=1"), "%s: {attempt} wrong:\n%s", n, r);
		cr_expect(has_line(r, "env_file=same"), "%s: SEAWATCH_FILE != {file}:\n%s", n, r);
		cr_expect(has_line(r, h_fmt("env_name=%s", n)), "%s: SEAWATCH_NAME:\n%s", n, r);
		cr_expect(has_line(r, "env_drop=d"), "%s: SEAWATCH_DROP:\n%s", n, r);
		cr_expect(has_line(r, "env_attempt=1"), "%s: SEAWATCH_ATTEMPT:\n%s", n, r);
		cr_expect(has_line(r, "env_max=1"), "%s: SEAWATCH_MAX_ATTEMPTS (retries=0):\n%s", n, r);
		cr_expect(has_line(r, h_fmt("content=payload-%d", i)),
			  "%s: {file} did not hold the dropped content:\n%s", n, r);
		cr_expect_str_eq(moved, h_fmt("payload-%d", i), "%s: done copy differs", n);
		check_fds(fds, n);
		cr_expect(h_count_text(E.log, h_fmt("event=done drop=d file=%s attempt=1 status=exit:0", n)) == 1,
			  "%s: no single 'event=done drop=d file=%s attempt=1 status=exit:0' line; log:\n%s",
			  n, n, logtail());
		free(r);
		free(fds);
		free(moved);
	}
}

Test(pipeline, files_present_before_start, .timeout = 60)
{
	h_config_simple(&E, cmd(ok_script(), "\"{file}\""), "", "");
	h_drop(&E, "p1.sea", "1");
	h_drop(&E, "p2.sea", "2");
	h_drop(&E, "p3.sea", "3");
	h_start(&E, NULL);
	cr_assert(h_wait_count(E.done, ".sea", 3, WAIT_MS),
		  "pre-existing files not processed (done=%d drop=%d); log:\n%s",
		  h_count(E.done, NULL), h_count(E.drop, NULL), logtail());
	cr_expect_eq(h_count(E.drop, NULL), 0);
	cr_expect(h_wait_ready(&E, WAIT_MS), "no event=ready; log:\n%s", logtail());
}

Test(pipeline, failing_script_sidecar, .timeout = 60)
{
	const char *s = h_script(&E, "fail.sh", "echo 'starting'\necho boom >&2\nexit 3\n");
	char *side;

	h_config_simple(&E, cmd(s, "\"{file}\""), "", "");
	start_ready();
	h_drop(&E, "a.sea", "data-a");
	cr_assert(h_wait_count(E.failed, ".sea", 1, WAIT_MS) &&
		  h_wait_count(E.failed, ".error", 1, WAIT_MS),
		  "a.sea and a.sea.error not in failed; log:\n%s", logtail());
	/* The outcome line comes last: only then is the sidecar surely whole. */
	cr_assert(wait_text_count(E.log, "event=failed drop=d file=a.sea attempt=1 status=exit:3", 1, WAIT_MS),
		  "no 'event=failed drop=d file=a.sea attempt=1 status=exit:3'; log:\n%s", logtail());
	side = read_sidecar("a.sea");
	cr_expect(has_line(side, "file=a.sea"), "sidecar:\n%s", side);
	cr_expect(has_line(side, "drop=d"), "sidecar:\n%s", side);
	cr_expect(has_line(side, "attempts=1"), "sidecar:\n%s", side);
	cr_expect(has_line(side, "status=exit:3"), "sidecar:\n%s", side);
	cr_expect(has_line(side, "output:"), "sidecar has no 'output:' line:\n%s", side);
	cr_expect(strstr(side, "boom") != NULL, "sidecar lacks the command's stderr:\n%s", side);
	cr_expect(strstr(side, "starting") != NULL, "sidecar lacks the command's stdout:\n%s", side);
	free(side);
	side = slurp_or_fail(h_fmt("%s/a.sea", E.failed));
	cr_expect_str_eq(side, "data-a", "failed copy differs");
	free(side);
	cr_expect_eq(h_count_text(E.log, "event=retry"), 0, "retried with retries=0");
	cr_expect_eq(h_count(E.done, NULL), 0);
	cr_expect_eq(h_count(E.drop, NULL), 0);
}

Test(pipeline, retry_then_success, .timeout = 60)
{
	const char *s = h_script(&E, "flaky.sh",
		"echo \"$2 $SEAWATCH_ATTEMPT $SEAWATCH_MAX_ATTEMPTS\" >> \"$3/attempts\"\n"
		"[ \"$2\" = 2 ] || exit 1\n");
	char *att;

	h_config_simple(&E, cmd(s, h_fmt("\"{file}\", \"{attempt}\", \"%s\"", E.out)),
			"retries = 2;", "");
	start_ready();
	h_drop(&E, "a.sea", "x");
	cr_assert(h_wait_count(E.done, ".sea", 1, WAIT_MS),
		  "a.sea not done after a retry; log:\n%s", logtail());
	cr_assert(wait_text_count(E.log, "event=done drop=d file=a.sea attempt=2", 1, WAIT_MS),
		  "no 'event=done ... attempt=2'; log:\n%s", logtail());
	cr_expect_eq(h_count_text(E.log, "event=retry"), 1, "want exactly one event=retry; log:\n%s",
		     logtail());
	cr_expect(h_count_text(E.log, "event=retry drop=d file=a.sea attempt=1 status=exit:1") == 1,
		  "retry line lacks attempt=1 status=exit:1; log:\n%s", logtail());
	att = slurp_or_fail(h_fmt("%s/attempts", E.out));
	cr_expect_str_eq(att, "1 1 3\n2 2 3\n",
			 "attempts seen ({attempt} SEAWATCH_ATTEMPT SEAWATCH_MAX_ATTEMPTS):\n%s", att);
	free(att);
	cr_expect_eq(h_count(E.failed, NULL), 0);
}

Test(pipeline, no_retry_exit_code, .timeout = 60)
{
	const char *s = h_script(&E, "dataerr.sh",
		"echo \"$2\" >> \"$3/attempts\"\nexit 65\n");
	char *att, *side;

	h_config_simple(&E, cmd(s, h_fmt("\"{file}\", \"{attempt}\", \"%s\"", E.out)),
			"retries = 3; no_retry = [ 65 ];", "");
	start_ready();
	h_drop(&E, "a.sea", "x");
	cr_assert(h_wait_count(E.failed, ".error", 1, WAIT_MS) &&
		  h_wait_count(E.failed, ".sea", 1, WAIT_MS),
		  "a.sea not failed at once; log:\n%s", logtail());
	cr_assert(wait_text_count(E.log, "event=failed", 1, WAIT_MS), "log:\n%s", logtail());
	att = slurp_or_fail(h_fmt("%s/attempts", E.out));
	cr_expect_str_eq(att, "1\n", "attempts made:\n%s", att);
	side = read_sidecar("a.sea");
	cr_expect(has_line(side, "attempts=1"), "sidecar:\n%s", side);
	cr_expect(has_line(side, "status=exit:65"), "sidecar:\n%s", side);
	cr_expect_eq(h_count_text(E.log, "event=retry"), 0, "retried a no_retry code; log:\n%s",
		     logtail());
	free(att);
	free(side);
}

Test(pipeline, name_collision_in_done, .timeout = 60)
{
	char *t;

	h_config_simple(&E, cmd(ok_script(), "\"{file}\""), "pattern = \"*\";", "");
	h_write(h_fmt("%s/a.sea", E.done), "old0", 0644);
	h_write(h_fmt("%s/a.1.sea", E.done), "old1", 0644);
	h_write(h_fmt("%s/noext", E.done), "oldn", 0644);
	start_ready();
	h_drop(&E, "a.sea", "new-a");
	h_drop(&E, "noext", "new-n");
	cr_assert(h_wait_count(E.done, NULL, 5, WAIT_MS),
		  "want 5 files in done, have %d; log:\n%s", h_count(E.done, NULL), logtail());

	t = slurp_or_fail(h_fmt("%s/a.2.sea", E.done));
	cr_expect_str_eq(t, "new-a", "done/a.2.sea");
	free(t);
	t = slurp_or_fail(h_fmt("%s/noext.1", E.done));
	cr_expect_str_eq(t, "new-n", "done/noext.1");
	free(t);
	t = slurp_or_fail(h_fmt("%s/a.sea", E.done));
	cr_expect_str_eq(t, "old0", "done/a.sea was overwritten");
	free(t);
	t = slurp_or_fail(h_fmt("%s/a.1.sea", E.done));
	cr_expect_str_eq(t, "old1", "done/a.1.sea was overwritten");
	free(t);
	t = slurp_or_fail(h_fmt("%s/noext", E.done));
	cr_expect_str_eq(t, "oldn", "done/noext was overwritten");
	free(t);
	cr_expect_eq(h_count(E.drop, NULL), 0);
}

Test(pipeline, once_all_good, .timeout = 60)
{
	char *out = NULL;
	int st;

	h_config_simple(&E, cmd(ok_script(), "\"{file}\""), "", "");
	h_drop(&E, "a.sea", "a");
	h_drop(&E, "b.sea", "b");
	h_drop(&E, "c.sea", "c");
	st = h_run(&E, &out, "-c", E.conf, "--once", NULL);
	cr_expect_eq(st, 0, "--once exit %d; output:\n%s", st, out);
	cr_expect_eq(h_count(E.done, ".sea"), 3, "done=%d; output:\n%s", h_count(E.done, NULL), out);
	cr_expect_eq(h_count(E.drop, NULL), 0);
	cr_expect_eq(h_count(E.failed, NULL), 0);
	free(out);
}

Test(pipeline, once_with_failure, .timeout = 60)
{
	const char *s = h_script(&E, "pick.sh",
		"case \"$2\" in bad*) echo nope >&2; exit 3;; esac\nexit 0\n");
	char *out = NULL;
	int st;

	h_config_simple(&E, cmd(s, "\"{file}\", \"{name}\""), "retries = 1;", "");
	h_drop(&E, "a.sea", "a");
	h_drop(&E, "bad.sea", "b");
	h_drop(&E, "c.sea", "c");
	st = h_run(&E, &out, "-c", E.conf, "--once", NULL);
	cr_expect_eq(st, 1, "--once with a failure: exit %d; output:\n%s", st, out);
	cr_expect(h_exists(h_fmt("%s/a.sea", E.done)) && h_exists(h_fmt("%s/c.sea", E.done)),
		  "good files not in done; output:\n%s", out);
	cr_expect(h_exists(h_fmt("%s/bad.sea", E.failed)), "bad.sea not in failed; output:\n%s", out);
	cr_expect(h_exists(h_fmt("%s/bad.sea.error", E.failed)), "no sidecar");
	cr_expect_eq(h_count(E.drop, NULL), 0, "--once left files in the drop");
	cr_expect(strstr(out, "event=retry") != NULL, "--once did not retry (retries=1):\n%s", out);
	free(out);
}

/* ------------------------------------------------------------------ */
/* Config errors.  The base config, one setting per line: */

static const char *const base_conf[] = {
	/*  1 */ "workers = 2;",
	/*  2 */ "queue_size = 64;",
	/*  3 */ "shutdown_grace = \"5s\";",
	/*  4 */ "drops = (",
	/*  5 */ "  {",
	/*  6 */ "    name = \"d\";",
	/*  7 */ "    path = \"@DROP@\";",
	/*  8 */ "    done = \"@DONE@\";",
	/*  9 */ "    failed = \"@FAILED@\";",
	/* 10 */ "    command = [ \"@CMD@\", \"{file}\" ];",
	/* 11 */ "    timeout = \"10s\";",
	/* 12 */ "  }",
	/* 13 */ ");",
};

#define SECOND_DROP(name, path) \
	"  }, {\n"                                   /* 12 */ \
	"    name = \"" name "\";\n"                  /* 13 */ \
	"    path = \"" path "\";\n"                  /* 14 */ \
	"    done = \"@ROOT@/done2\";\n"              /* 15 */ \
	"    failed = \"@ROOT@/failed2\";\n"          /* 16 */ \
	"    command = [ \"@CMD@\", \"{file}\" ];\n"  /* 17 */ \
	"  }"                                         /* 18 */

static const struct bad_conf {
	const char *id;
	int l1;
	const char *r1;  /* replaces line l1 */
	int l2;
	const char *r2;  /* replaces line l2 (0: none) */
	int line;        /* expected line, 0: any */
	const char *setting; /* '|'-separated alternatives; NULL: any */
} bad_confs[] = {
	{ "unknown_key", 2, "queue_sise = 64;", 0, NULL, 2, "queue_sise" },
	{ "unknown_drop_key", 11, "    timout = \"10s\";", 0, NULL, 11, "timout" },
	{ "wrong_type", 1, "workers = \"two\";", 0, NULL, 1, "workers" },
	{ "workers_zero", 1, "workers = 0;", 0, NULL, 1, "workers" },
	{ "missing_drops", 4, "/* no drops", 13, "*/", 0, "drops" },
	{ "path_not_dir", 7, "    path = \"@ROOT@/afile\";", 0, NULL, 7, "path" },
	{ "duplicate_names", 12, SECOND_DROP("d", "@ROOT@/in2"), 0, NULL, 13, "name" },
	{ "done_inside_drop", 8, "    done = \"@DROP@/sub\";", 0, NULL, 8, "done" },
	{ "command_not_executable", 10, "    command = [ \"@ROOT@/noexec.sh\", \"{file}\" ];",
	  0, NULL, 10, "command" },
	{ "negative_retries", 11, "    retries = -1;", 0, NULL, 11, "retries" },
	{ "bad_duration", 11, "    timeout = \"ten seconds\";", 0, NULL, 11, "timeout" },
	{ "unknown_placeholder", 10, "    command = [ \"@CMD@\", \"{fiel}\" ];", 0, NULL, 10, "command" },
	{ "same_dir_same_pattern", 12, SECOND_DROP("d2", "@DROP@"), 0, NULL, 14, "path|pattern" },
	{ "syntax_error", 6, "    name = = \"d\";", 0, NULL, 6, NULL },
};

/* Replace @DROP@ @DONE@ @FAILED@ @CMD@ @ROOT@ in T; appends to OUT. */
static void subst(char *out, size_t sz, const char *t, const char *cmd0)
{
	static const char *const keys[] = { "@DROP@", "@DONE@", "@FAILED@", "@CMD@", "@ROOT@" };
	const char *vals[] = { E.drop, E.done, E.failed, cmd0, E.root };
	size_t n = strlen(out);

	while (*t) {
		size_t k;

		for (k = 0; k < 5; k++)
			if (!strncmp(t, keys[k], strlen(keys[k])))
				break;
		if (k < 5) {
			n += (size_t)snprintf(out + n, sz - n, "%s", vals[k]);
			t += strlen(keys[k]);
		} else if (n + 1 < sz) {
			out[n++] = *t++;
			out[n] = '\0';
		}
		cr_assert(n + 1 < sz, "config text too long");
	}
}

static void write_conf(const struct bad_conf *c)
{
	char text[8192] = "";
	const char *cmd0 = ok_script();

	for (int i = 0; i < (int)(sizeof base_conf / sizeof base_conf[0]); i++) {
		const char *l = base_conf[i];

		if (c && i + 1 == c->l1)
			l = c->r1;
		else if (c && c->l2 && i + 1 == c->l2)
			l = c->r2;
		subst(text, sizeof text, l, cmd0);
		subst(text, sizeof text, "\n", cmd0);
	}
	h_config(&E, "%s", text);
}

/* 1 if TEXT has "seawatch.conf:LINE: SETTING: ..." (LINE 0: any line;
 * SETTINGS: alternatives, each matched as a part of the setting path). */
static int has_conf_error(const char *text, int line, const char *settings)
{
	const char *p = text;

	while (text && (p = strstr(p, "seawatch.conf:"))) {
		char *end;
		long l;
		const char *s, *e;

		p += strlen("seawatch.conf:");
		l = strtol(p, &end, 10);
		if (end == p || (line && l != line) || strncmp(end, ": ", 2))
			continue;
		if (!settings)
			return 1;
		s = end + 2;
		e = strstr(s, ": ");
		if (!e || memchr(s, '\n', (size_t)(e - s)))
			continue;
		for (const char *alt = settings; *alt;) {
			size_t alen = strcspn(alt, "|");

			if (memmem(s, (size_t)(e - s), alt, alen))
				return 1;
			alt += alen;
			if (*alt == '|')
				alt++;
		}
	}
	return 0;
}

static void bad_config(const char *id)
{
	const struct bad_conf *c = NULL;
	char *out = NULL, *conf, *log;
	int st;

	for (size_t i = 0; i < sizeof bad_confs / sizeof bad_confs[0]; i++)
		if (!strcmp(bad_confs[i].id, id))
			c = &bad_confs[i];
	cr_assert(c, "no case %s", id);
	h_write(h_fmt("%s/afile", E.root), "not a dir", 0644);
	h_write(h_fmt("%s/noexec.sh", E.root), "#!/bin/sh\nexit 0\n", 0644);
	mkdir(h_fmt("%s/in2", E.root), 0755);
	mkdir(h_fmt("%s/done2", E.root), 0755);
	mkdir(h_fmt("%s/failed2", E.root), 0755);
	mkdir(h_fmt("%s/sub", E.drop), 0755);
	write_conf(c);
	conf = slurp_or_fail(E.conf);
	h_drop(&E, "keep.sea", "k");

	st = h_run(&E, &out, "-c", E.conf, "--check-config", NULL);
	cr_expect_eq(st, 2, "%s: --check-config exit %d, want 2; output:\n%s\nconfig:\n%s",
		     id, st, out, conf);
	cr_expect(has_conf_error(out, c->line, c->setting),
		  "%s: --check-config output lacks 'seawatch.conf:%d: %s: ...'; output:\n%s\nconfig:\n%s",
		  id, c->line, c->setting ? c->setting : "", out, conf);

	h_start(&E, NULL);
	st = h_wait_pid(E.pid, WAIT_MS);
	if (st != -1)
		E.pid = 0;
	log = h_slurp(E.log);
	cr_expect_eq(st, 2, "%s: plain start exit %d (-1: still running), want 2; log:\n%s",
		     id, st, log);
	cr_expect(has_conf_error(log, c->line, c->setting),
		  "%s: start did not report 'seawatch.conf:%d: %s: ...'; log:\n%s",
		  id, c->line, c->setting ? c->setting : "", log);
	cr_expect(h_exists(h_fmt("%s/keep.sea", E.drop)) && h_count(E.done, NULL) == 0 &&
		  h_count(E.failed, NULL) == 0,
		  "%s: a file was touched despite a bad config", id);
	free(out);
	free(log);
	free(conf);
}

#define BAD_CONFIG_TEST(id) \
	Test(pipeline, bad_config_##id, .timeout = 60) { bad_config(#id); }

BAD_CONFIG_TEST(unknown_key)
BAD_CONFIG_TEST(unknown_drop_key)
BAD_CONFIG_TEST(wrong_type)
BAD_CONFIG_TEST(workers_zero)
BAD_CONFIG_TEST(missing_drops)
BAD_CONFIG_TEST(path_not_dir)
BAD_CONFIG_TEST(duplicate_names)
BAD_CONFIG_TEST(done_inside_drop)
BAD_CONFIG_TEST(command_not_executable)
BAD_CONFIG_TEST(negative_retries)
BAD_CONFIG_TEST(bad_duration)
BAD_CONFIG_TEST(unknown_placeholder)
BAD_CONFIG_TEST(same_dir_same_pattern)
BAD_CONFIG_TEST(syntax_error)

Test(pipeline, check_config_good, .timeout = 60)
{
	char *out = NULL;
	int st;

	write_conf(NULL);
	h_drop(&E, "keep.sea", "k");
	st = h_run(&E, &out, "-c", E.conf, "--check-config", NULL);
	cr_expect_eq(st, 0, "--check-config on a good config: exit %d; output:\n%s", st, out);
	cr_expect(out && out[0], "--check-config printed no summary");
	cr_expect(!has_conf_error(out, 0, NULL), "good config reported an error:\n%s", out);
	cr_expect(h_exists(h_fmt("%s/keep.sea", E.drop)) && h_count(E.done, NULL) == 0,
		  "--check-config processed a file");
	free(out);
}

/* ------------------------------------------------------------------ */

Test(pipeline, reload_bad_then_good, .timeout = 60)
{
	const char *v1 = h_script(&E, "v1.sh", "echo v1 > \"$2/$3.v1\"\n");
	const char *v2 = h_script(&E, "v2.sh", "echo v2 > \"$2/$3.v2\"\n");
	char args[H_PATH * 2];
	int failed_lines;

	snprintf(args, sizeof args, "\"{file}\", \"%s\", \"{name}\"", E.out);

	h_config_simple(&E, cmd(v1, args), "", "");
	start_ready();
	h_drop(&E, "a.sea", "a");
	cr_assert(h_wait_count(E.done, ".sea", 1, WAIT_MS), "a.sea not done; log:\n%s", logtail());

	h_config(&E, "workers = 2;\ndrops = ( { name = \"d\"; path = ;\n");
	kill(E.pid, SIGHUP);
	cr_assert(h_wait_text(E.log, "event=reload-failed", WAIT_MS),
		  "no event=reload-failed after SIGHUP with a broken config; log:\n%s", logtail());
	cr_expect(h_wait_text(E.log, "seawatch.conf:2:", WAIT_MS),
		  "the reload failure does not name seawatch.conf:2; log:\n%s", logtail());
	failed_lines = h_count_text(E.log, "event=reload-failed");
	cr_assert(h_alive(E.pid), "daemon died on a bad reload");
	h_drop(&E, "b.sea", "b");
	cr_assert(h_wait_count(E.done, ".sea", 2, WAIT_MS),
		  "b.sea not processed after a failed reload; log:\n%s", logtail());
	cr_expect(h_exists(h_fmt("%s/b.sea.v1", E.out)), "b.sea not run by the old command");

	h_config_simple(&E, cmd(v2, args), "", "");
	kill(E.pid, SIGHUP);
	cr_assert(h_wait_text(E.log, "event=reloaded", WAIT_MS),
		  "no event=reloaded after SIGHUP with a good config; log:\n%s", logtail());
	h_drop(&E, "c.sea", "c");
	cr_assert(h_wait_count(E.done, ".sea", 3, WAIT_MS),
		  "c.sea not processed after reload; log:\n%s", logtail());
	cr_expect(h_exists(h_fmt("%s/c.sea.v2", E.out)), "c.sea not run by the new command; log:\n%s",
		  logtail());
	cr_expect(!h_exists(h_fmt("%s/c.sea.v1", E.out)), "c.sea run by the old command");
	cr_expect_eq(h_count_text(E.log, "event=reload-failed"), failed_lines,
		     "the good reload logged event=reload-failed; log:\n%s", logtail());
}

Test(pipeline, odd_names, .timeout = 60)
{
	const char *s = h_script(&E, "strict.sh",
		"[ -f \"$1\" ] || exit 8\n"
		"[ \"${1##*/}\" = \"$2\" ] || exit 9\n"
		"[ \"$SEAWATCH_NAME\" = \"$2\" ] || exit 10\n");
	char longname[256];
	const char *names[5];
	char *log;

	memset(longname, 'x', 251);
	strcpy(longname + 251, ".sea");
	names[0] = "with space.sea";
	names[1] = "-leading.sea";
	names[2] = "new\nline.sea";
	names[3] = "\xff\xfe.sea";
	names[4] = longname;
	cr_assert_eq(strlen(longname), 255);

	h_config_simple(&E, cmd(s, "\"{file}\", \"{name}\""), "", "");
	start_ready();
	for (int i = 0; i < 5; i++)
		h_drop(&E, names[i], h_fmt("odd-%d", i));
	cr_assert(h_wait_count(E.done, NULL, 5, WAIT_MS) ||
		  h_count(E.done, NULL) + h_count(E.failed, ".sea") >= 5,
		  "odd names not all processed (done=%d failed=%d drop=%d); log:\n%s",
		  h_count(E.done, NULL), h_count(E.failed, ".sea"), h_count(E.drop, NULL), logtail());
	for (int i = 0; i < 5; i++) {
		char *t = h_slurp(h_fmt("%s/%s", E.done, names[i]));

		cr_expect(t && !strcmp(t, h_fmt("odd-%d", i)),
			  "done/<name %d> missing or wrong (failed has %d); log:\n%s",
			  i, h_count(E.failed, ".sea"), logtail());
		free(t);
	}
	cr_expect_eq(h_count(E.failed, NULL), 0, "odd names failed; log:\n%s", logtail());
	cr_expect_eq(h_count(E.drop, NULL), 0);

	cr_assert(wait_text_count(E.log, "event=done", 5, WAIT_MS), "log:\n%s", logtail());
	log = slurp_or_fail(E.log);
	for (const char *p = log; p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		cr_expect(strncmp(p, "line.sea", 8) != 0,
			  "a raw newline from a file name split a log line:\n%s", logtail());
	}
	cr_expect(strstr(log, "new\\nline.sea") != NULL,
		  "the newline name is not escaped as \\n in the log:\n%s", logtail());
	free(log);
}

Test(pipeline, dot_and_nonmatching_files_ignored, .timeout = 60)
{
	const char *s = h_script(&E, "rec.sh", "echo \"$2\" >> \"$3/processed\"\n");
	char *t;

	h_config_simple(&E, cmd(s, h_fmt("\"{file}\", \"{name}\", \"%s\"", E.out)), "", "");
	h_drop(&E, ".pre-hidden.sea", "ph");
	h_drop(&E, "pre.txt", "pt");
	start_ready();
	h_drop(&E, ".hidden.sea", "h");
	h_drop(&E, "a.txt", "t");
	h_drop(&E, "b.sea", "b");
	cr_assert(h_wait_count(E.done, ".sea", 1, WAIT_MS), "b.sea not done; log:\n%s", logtail());
	cr_assert(wait_text_count(E.log, "event=done", 1, WAIT_MS), "log:\n%s", logtail());
	nap(300); /* give a wrong pick-up a moment to show */

	t = slurp_or_fail(h_fmt("%s/processed", E.out));
	cr_expect_str_eq(t, "b.sea\n", "processed:\n%s", t);
	free(t);
	const char *keep[][2] = { { ".pre-hidden.sea", "ph" }, { "pre.txt", "pt" },
				  { ".hidden.sea", "h" }, { "a.txt", "t" } };
	for (int i = 0; i < 4; i++) {
		t = h_slurp(h_fmt("%s/%s", E.drop, keep[i][0]));
		cr_expect(t && !strcmp(t, keep[i][1]), "%s was moved or changed", keep[i][0]);
		free(t);
	}
	cr_expect_eq(h_count(E.done, NULL), 1);
	cr_expect_eq(h_count(E.failed, NULL), 0);
}

/* 1 if every name in NAMES (N of them) shows in the log within MS. */
static int wait_log_names(const char *const *names, int n, int ms)
{
	for (int waited = 0;; waited += 10) {
		int all = 1;

		for (int i = 0; i < n && all; i++)
			all = h_count_text(E.log, h_fmt("file=%s ", names[i])) > 0;
		if (all)
			return 1;
		if (waited >= ms)
			return 0;
		nap(10);
	}
}

/* Symlinks and FIFOs matching the pattern: present at start, moved in
 * while running (IN_MOVED_TO), and created in place (IN_CREATE only). */
Test(pipeline, symlink_and_fifo_skipped, .timeout = 60)
{
	const char *s = h_script(&E, "rec.sh", "echo \"$2\" >> \"$3/processed\"\n");
	static const char *const links[] = { "link.sea", "link2.sea", "link3.sea" };
	static const char *const fifos[] = { "fifo.sea", "fifo2.sea", "fifo3.sea" };
	static const char *const all[] = { "link.sea", "link2.sea", "link3.sea",
					   "fifo.sea", "fifo2.sea", "fifo3.sea" };
	char target[H_PATH * 2];
	struct stat st;
	char *t;

	snprintf(target, sizeof target, "%s/target.sea", E.root);
	h_config_simple(&E, cmd(s, h_fmt("\"{file}\", \"{name}\", \"%s\"", E.out)), "", "");
	h_write(target, "precious", 0644);
	cr_assert_eq(symlink(target, h_fmt("%s/link.sea", E.drop)), 0);
	cr_assert_eq(mkfifo(h_fmt("%s/fifo.sea", E.drop), 0644), 0);
	start_ready();
	/* moved in */
	cr_assert_eq(symlink(target, h_fmt("%s/.l2", E.root)), 0);
	cr_assert_eq(rename(h_fmt("%s/.l2", E.root), h_fmt("%s/link2.sea", E.drop)), 0);
	cr_assert_eq(mkfifo(h_fmt("%s/.f2", E.root), 0644), 0);
	cr_assert_eq(rename(h_fmt("%s/.f2", E.root), h_fmt("%s/fifo2.sea", E.drop)), 0);
	/* created in place */
	cr_assert_eq(symlink(target, h_fmt("%s/link3.sea", E.drop)), 0);
	cr_assert_eq(mkfifo(h_fmt("%s/fifo3.sea", E.drop), 0644), 0);
	h_drop(&E, "normal.sea", "n");
	cr_assert(h_wait_count(E.done, ".sea", 1, WAIT_MS),
		  "normal.sea not processed next to symlinks and FIFOs; log:\n%s", logtail());
	cr_assert(wait_text_count(E.log, "event=done", 1, WAIT_MS), "log:\n%s", logtail());

	cr_expect(wait_log_names(all, 2, 5000), "no log line naming link.sea and fifo.sea "
		  "(present at start); log:\n%s", logtail());
	cr_expect(wait_log_names(all + 1, 1, 5000) && wait_log_names(all + 4, 1, 5000),
		  "no log line naming link2.sea / fifo2.sea (moved in while running); log:\n%s",
		  logtail());
	cr_expect(wait_log_names(all + 2, 1, 5000) && wait_log_names(all + 5, 1, 5000),
		  "no log line naming link3.sea / fifo3.sea (created in the drop while running); "
		  "log:\n%s", logtail());
	for (int i = 0; i < 3; i++) {
		cr_expect(lstat(h_fmt("%s/%s", E.drop, links[i]), &st) == 0 && S_ISLNK(st.st_mode),
			  "%s no longer a symlink in the drop", links[i]);
		cr_expect(lstat(h_fmt("%s/%s", E.drop, fifos[i]), &st) == 0 && S_ISFIFO(st.st_mode),
			  "%s no longer a FIFO in the drop", fifos[i]);
	}
	t = slurp_or_fail(target);
	cr_expect_str_eq(t, "precious", "symlink target changed");
	free(t);
	t = slurp_or_fail(h_fmt("%s/processed", E.out));
	cr_expect_str_eq(t, "normal.sea\n", "processed:\n%s", t);
	free(t);
	cr_expect_eq(h_count(E.done, NULL), 1);
	cr_expect_eq(h_count(E.failed, NULL), 0, "a skipped entry went to failed");
	cr_expect(h_alive(E.pid), "daemon died");
}

Test(pipeline, sigusr1_counters, .timeout = 60)
{
	h_config_simple(&E, cmd(ok_script(), "\"{file}\""), "", "");
	start_ready();
	h_drop(&E, "a.sea", "a");
	cr_assert(h_wait_count(E.done, ".sea", 1, WAIT_MS), "log:\n%s", logtail());
	kill(E.pid, SIGUSR1);
	cr_assert(h_wait_text(E.log, "event=counters", WAIT_MS),
		  "no event=counters after SIGUSR1; log:\n%s", logtail());
	cr_expect(h_alive(E.pid), "SIGUSR1 killed the daemon");
}

Test(pipeline, sigterm_idle_exits_zero, .timeout = 60)
{
	pid_t pgid;
	int st, gone = 0;

	h_config_simple(&E, cmd(ok_script(), "\"{file}\""), "", "");
	start_ready();
	pgid = E.pid;
	st = h_stop(&E, SIGTERM, 5000);
	cr_expect_eq(st, 0, "SIGTERM on an idle daemon: status %d (-1: not gone in 5 s); log:\n%s",
		     st, logtail());
	for (int i = 0; i < 200 && !gone; i++) {
		gone = kill(-pgid, 0) == -1 && errno == ESRCH;
		if (!gone)
			nap(10);
	}
	cr_expect(gone, "processes of the daemon's group outlived it");
}

Test(pipeline, exec_failure, .timeout = 60)
{
	const char *s = h_script(&E, "proc.sh", "exit 0\n");
	char *side;

	h_config_simple(&E, cmd(s, "\"{file}\""), "", "");
	start_ready();
	cr_assert_eq(chmod(s, 0644), 0);
	h_drop(&E, "a.sea", "a");
	cr_assert(h_wait_count(E.failed, ".sea", 1, WAIT_MS) &&
		  h_wait_count(E.failed, ".error", 1, WAIT_MS),
		  "a.sea not failed when command[0] is not executable; log:\n%s", logtail());
	cr_assert(wait_text_count(E.log, "event=failed", 1, WAIT_MS), "log:\n%s", logtail());
	side = read_sidecar("a.sea");
	cr_expect(strstr(side, "status=exec:") != NULL, "sidecar does not say exec failed:\n%s", side);
	cr_expect(has_line(side, "status=exec:EACCES"), "sidecar status is not exec:EACCES:\n%s", side);
	cr_expect(wait_text_count(E.log, "status=exec:EACCES", 1, WAIT_MS),
		  "log lacks status=exec:EACCES:\n%s", logtail());
	free(side);
	cr_assert(h_alive(E.pid), "daemon died on an exec failure");

	cr_assert_eq(chmod(s, 0755), 0);
	h_drop(&E, "b.sea", "b");
	cr_expect(h_wait_count(E.done, ".sea", 1, WAIT_MS),
		  "daemon did not recover after exec failure; log:\n%s", logtail());
}

Test(pipeline, output_is_bounded, .timeout = 60)
{
	const char *s = h_script(&E, "loud.sh",
		"yes 'spam spam spam spam spam spam spam spam spam spam spam spam spam' "
		"| head -c 10485760\necho tail-marker\nexit 0\n");
	struct stat st;
	off_t before, after;

	h_config_simple(&E, cmd(s, "\"{file}\""), "", "");
	start_ready();
	before = stat(E.log, &st) == 0 ? st.st_size : 0;
	h_drop(&E, "a.sea", "a");
	cr_assert(h_wait_count(E.done, ".sea", 1, WAIT_MS),
		  "a 10 MB writer was not done; log:\n%s", logtail());
	cr_assert(wait_text_count(E.log, "event=done", 1, WAIT_MS), "log:\n%s", logtail());
	nap(200); /* any late output logging lands */
	after = stat(E.log, &st) == 0 ? st.st_size : 0;
	cr_expect_lt(after - before, 72 * 1024,
		     "the job added %lld bytes to the daemon log (bound ~64 KB)",
		     (long long)(after - before));
	cr_expect(h_alive(E.pid), "daemon died");
}
