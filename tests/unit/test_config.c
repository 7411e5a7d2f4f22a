/*
 * test_config.c - unit tests of src/config.c: every validation rule (one
 * table row each, asserting the exact "FILE:LINE: SETTING:" prefix and a
 * key word of the problem), the parsed values and defaults, durations and
 * command templates.
 *
 * Each test gets a fresh mkdtemp world (drop, done and failed directories,
 * scripts) and writes its config there; configs use paths relative to the
 * config file, or "@" which stands for the world's directory.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <criterion/parameterized.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

/* ------------------------------------------------------------------ */
/* The temporary world                                                 */
/* ------------------------------------------------------------------ */

#define ROOT_MAX 256
static char root[ROOT_MAX];   /* as created */
static char rroot[ROOT_MAX];  /* realpath(root) */
static char conf[PATH_MAX];   /* root/seawatch.conf */
static char *saved_path;      /* $PATH before the test */
static int had_path;

static void put_file(const char *rel, const char *content, mode_t mode)
{
	char p[PATH_MAX];
	FILE *f;

	snprintf(p, sizeof p, "%s/%s", root, rel);
	f = fopen(p, "w");
	cr_assert_not_null(f, "fopen %s: %s", p, strerror(errno));
	fputs(content, f);
	fclose(f);
	cr_assert_eq(chmod(p, mode), 0);
}

static void put_dir(const char *rel)
{
	char p[PATH_MAX];

	snprintf(p, sizeof p, "%s/%s", root, rel);
	cr_assert_eq(mkdir(p, 0755), 0, "mkdir %s: %s", p, strerror(errno));
}

static void setup(void)
{
	static const char *const dirs[] = { "in", "in/sub", "in2", "done", "failed",
					    "bin", "bin2", "etc" };
	char p[PATH_MAX];
	const char *env = getenv("PATH");

	had_path = env != NULL;
	saved_path = env ? strdup(env) : NULL;
	snprintf(root, sizeof root, "/tmp/sw-test-config.XXXXXX");
	cr_assert_not_null(mkdtemp(root));
	{
		char *r = realpath(root, NULL);

		cr_assert_not_null(r);
		cr_assert_lt(strlen(r), sizeof rroot);
		strcpy(rroot, r);
		free(r);
	}
	snprintf(conf, sizeof conf, "%s/seawatch.conf", root);
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
		put_dir(dirs[i]);
	put_file("bin/proc.sh", "#!/bin/sh\nexit 0\n", 0755);
	put_file("bin/noexec.sh", "#!/bin/sh\nexit 0\n", 0644);
	put_file("bin2/mytool", "#!/bin/sh\nexit 0\n", 0755);
	put_file("plain", "not a directory\n", 0644);
	snprintf(p, sizeof p, "%s/bin/link", root);
	cr_assert_eq(symlink("proc.sh", p), 0);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void teardown(void)
{
	if (chdir("/") != 0)
		cr_log_warn("chdir /: %s", strerror(errno));
	if (had_path)
		setenv("PATH", saved_path, 1);
	else
		unsetenv("PATH");
	free(saved_path);
	saved_path = NULL;
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Write TEXT to PATH, "@/" standing for the world's directory. */
static void write_conf_at(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	for (const char *p = text; *p; p++) {
		if (p[0] == '@' && p[1] == '/')
			fputs(root, f);
		else
			fputc(*p, f);
	}
	fclose(f);
}

static void write_conf(const char *text)
{
	write_conf_at(conf, text);
}

static struct sw_config *load_ok(const char *text)
{
	char *errs = (char *)"unset";
	struct sw_config *cfg;

	write_conf(text);
	cfg = cnf_load(conf, &errs);
	cr_assert_not_null(cfg, "valid config refused:\n%s\n--- errors:\n%s", text,
			   errs ? errs : "(none)");
	cr_assert_null(errs);
	return cfg;
}

static char *load_err(const char *text)
{
	char *errs = NULL;
	struct sw_config *cfg;

	write_conf(text);
	cfg = cnf_load(conf, &errs);
	cr_assert_null(cfg, "invalid config accepted:\n%s", text);
	cr_assert_not_null(errs);
	return errs;
}

/* IN with "@/" replaced by the canonical world directory, into OUT. */
static void subst_root(const char *in, char *out, size_t sz)
{
	size_t n = 0;

	for (const char *p = in; *p && n + 1 < sz; p++) {
		if (p[0] == '@' && p[1] == '/') {
			for (const char *r = rroot; *r && n + 1 < sz; r++)
				out[n++] = *r;
		} else {
			out[n++] = *p;
		}
	}
	out[n] = '\0';
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* ERRS has a line starting "FILE:WHERE: " that contains WORD. */
static int has_error(const char *errs, const char *file, const char *where,
		     const char *word)
{
	char prefix[PATH_MAX + 128];
	size_t n;

	snprintf(prefix, sizeof prefix, "%s:%s: ", file, where);
	n = strlen(prefix);
	for (const char *l = errs; l && *l; ) {
		const char *end = strchr(l, '\n');
		size_t len = end ? (size_t)(end - l) : strlen(l);

		if (len >= n && strncmp(l, prefix, n) == 0) {
			char *line = strndup(l, len);
			int ok = strstr(line + n, word) != NULL;

			free(line);
			if (ok)
				return 1;
		}
		l += len + (end ? 1 : 0);
	}
	return 0;
}

/*
 * Criterion runs each test in a fresh process of this binary, so a pointer
 * in a parameter (to a string, say) would point nowhere.  Parameters are
 * therefore indices into the static tables, in Criterion's shared memory.
 */
static void free_indices(struct criterion_test_params *crp)
{
	cr_free(crp->params);
}

static struct criterion_test_params indices(size_t n)
{
	int *idx = cr_malloc(n * sizeof *idx);

	for (size_t i = 0; i < n; i++)
		idx[i] = (int)i;
	return cr_make_param_array(int, idx, n, free_indices);
}

#define N_OF(a) (sizeof (a) / sizeof (a)[0])

/* ------------------------------------------------------------------ */
/* Config fragments (line numbers count from the fragment's first line) */
/* ------------------------------------------------------------------ */

/* A valid drop on two lines. */
#define DROP_OK \
	"drops = ( { name = \"a\"; path = \"in\"; done = \"done\"; failed = \"failed\";\n" \
	"            command = [ \"bin/proc.sh\", \"{file}\" ]; } );\n"

/* A valid drop (its group on line 1) plus X on line 4. */
#define DROP_WITH(x) \
	"drops = ( {\n" \
	"  name = \"a\"; path = \"in\"; done = \"done\"; failed = \"failed\";\n" \
	"  command = [ \"bin/proc.sh\", \"{file}\" ];\n" \
	"  " x "\n" \
	"} );\n"

/* A drop whose command, on line 3, is C. */
#define DROP_CMD(c) \
	"drops = ( {\n" \
	"  name = \"a\"; path = \"in\"; done = \"done\"; failed = \"failed\";\n" \
	"  command = " c ";\n" \
	"} );\n"

/* A drop: group line 1, name 2, path 3, done 4, failed 5, command 6. */
#define DROP_DIRS(n, p, d, f) \
	"drops = ( {\n" \
	"  name = " n ";\n" \
	"  path = " p ";\n" \
	"  done = " d ";\n" \
	"  failed = " f ";\n" \
	"  command = [ \"bin/proc.sh\" ];\n" \
	"} );\n"

/* A drop group (line 1) with only the settings in X (line 2). */
#define DROP_ONLY(x) "drops = ( {\n  " x "\n} );\n"

/* A defaults group with X on line 2, then a valid drop. */
#define DEFAULTS(x) "defaults = {\n  " x "\n};\n" DROP_OK

/* Two drops: "a" on line 2, then "b" with X on line 3 and Y on line 4. */
#define TWO_DROPS(x, y) \
	"drops = (\n" \
	"  { name = \"a\"; path = \"in\"; done = \"done\"; failed = \"failed\"; command = [ \"true\" ]; },\n" \
	"  { " x "\n" \
	"    " y " command = [ \"true\" ]; }\n" \
	");\n"

/* ------------------------------------------------------------------ */
/* Errors: one row per rule                                            */
/* ------------------------------------------------------------------ */

struct ecase {
	const char *conf;   /* config text */
	const char *where;  /* "LINE: SETTING" after "FILE:" */
	const char *word;   /* in the problem text */
	int n;              /* exact number of error lines */
};

static const struct ecase error_cases[] = {
	/* unknown settings, at each level */
	{ "bogus = 1;\n" DROP_OK, "1: bogus", "unknown setting", 1 },
	{ "timeout = 5;\n" DROP_OK, "1: timeout", "unknown setting", 1 },
	{ DEFAULTS("bogus = 1;"), "2: defaults.bogus", "unknown setting", 1 },
	{ DEFAULTS("workers = 1;"), "2: defaults.workers", "unknown setting", 1 },
	{ DROP_WITH("bogus = 1;"), "4: drops[0].bogus", "unknown setting", 1 },
	{ DROP_WITH("queue_size = 1;"), "4: drops[0].queue_size", "unknown setting", 1 },

	/* workers */
	{ "workers = 0;\n" DROP_OK, "1: workers", "must be between 1 and 256 (got 0)", 1 },
	{ "workers = 257;\n" DROP_OK, "1: workers", "must be between 1 and 256 (got 257)", 1 },
	{ "workers = -1;\n" DROP_OK, "1: workers", "(got -1)", 1 },
	{ "workers = 10000000000L;\n" DROP_OK, "1: workers", "(got 10000000000)", 1 },
	{ "workers = \"4\";\n" DROP_OK, "1: workers", "expected an integer", 1 },
	{ "workers = 2.0;\n" DROP_OK, "1: workers", "expected an integer", 1 },
	{ "workers = true;\n" DROP_OK, "1: workers", "expected an integer", 1 },
	{ "workers = [ 1 ];\n" DROP_OK, "1: workers", "expected an integer", 1 },
	/* queue_size */
	{ "queue_size = 0;\n" DROP_OK, "1: queue_size", "must be between 1 and 1048576 (got 0)", 1 },
	{ "queue_size = 1048577;\n" DROP_OK, "1: queue_size", "(got 1048577)", 1 },
	{ "queue_size = \"big\";\n" DROP_OK, "1: queue_size", "expected an integer", 1 },
	/* log_level, log_target */
	{ "log_level = \"verbose\";\n" DROP_OK, "1: log_level",
	  "must be one of error, warning, info, debug (got \"verbose\")", 1 },
	{ "log_level = 3;\n" DROP_OK, "1: log_level", "expected a string", 1 },
	{ "log_level = \"INFO\";\n" DROP_OK, "1: log_level", "must be one of", 1 },
	{ "log_target = \"file\";\n" DROP_OK, "1: log_target", "must be one of stderr, syslog", 1 },
	{ "log_target = 1;\n" DROP_OK, "1: log_target", "expected a string", 1 },
	/* cpu_affinity */
	{ "cpu_affinity = \"pinned\";\n" DROP_OK, "1: cpu_affinity",
	  "must be one of spread, none (got \"pinned\")", 1 },
	{ "cpu_affinity = true;\n" DROP_OK, "1: cpu_affinity", "expected a string", 1 },
	/* metrics_file: a file in an existing writable directory, not a
	 * dot-name; metrics_interval: 1s..1h */
	{ "metrics_file = \"/nonexistent-dir/x.prom\";\n" DROP_OK, "1: metrics_file",
	  "cannot resolve", 1 },
	{ "metrics_file = \"/tmp/.x.prom\";\n" DROP_OK, "1: metrics_file",
	  "does not start with a dot", 1 },
	{ "metrics_file = \"/tmp/\";\n" DROP_OK, "1: metrics_file", "want a path to a file", 1 },
	{ "metrics_file = 3;\n" DROP_OK, "1: metrics_file", "expected a string", 1 },
	{ "metrics_interval = \"500ms\";\n" DROP_OK, "1: metrics_interval", "must be between", 1 },
	{ "metrics_interval = \"2h\";\n" DROP_OK, "1: metrics_interval", "must be between", 1 },
	/* min_free: a size or a percentage, at most 50% */
	{ "min_free = \"60%\";\n" DROP_OK, "1: min_free", "at most 50.00% (got 60.00%)", 1 },
	{ "min_free = \"lots\";\n" DROP_OK, "1: min_free", "not a size", 1 },
	{ "min_free = -5;\n" DROP_OK, "1: min_free", "0 or more bytes", 1 },
	{ "min_free = true;\n" DROP_OK, "1: min_free", "not a size", 1 },
	/* control_socket: a path that fits a Unix socket, not a dot-name */
	{ "control_socket = \"/run/seawatch/.sock\";\n" DROP_OK, "1: control_socket",
	  "does not start with a dot", 1 },
	{ "control_socket = \"/run/seawatch/\";\n" DROP_OK, "1: control_socket",
	  "want a path to a socket", 1 },
	{ "control_socket = \"/run/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.sock\";\n" DROP_OK, "1: control_socket",
	  "too long for a Unix socket (at most 107 bytes)", 1 },
	{ "control_socket = 1;\n" DROP_OK, "1: control_socket", "expected a string", 1 },
	/* shutdown_grace: 0..1h */
	{ "shutdown_grace = -1;\n" DROP_OK, "1: shutdown_grace",
	  "must be between 0s and 1h (got -1s)", 1 },
	{ "shutdown_grace = 3601;\n" DROP_OK, "1: shutdown_grace", "(got 3601s)", 1 },
	{ "shutdown_grace = \"61m\";\n" DROP_OK, "1: shutdown_grace", "(got 61m)", 1 },
	{ "shutdown_grace = 3600.5;\n" DROP_OK, "1: shutdown_grace", "(got 3600500ms)", 1 },
	{ "shutdown_grace = 1e300;\n" DROP_OK, "1: shutdown_grace", "must be between", 1 },
	{ "shutdown_grace = \"5x\";\n" DROP_OK, "1: shutdown_grace", "not a duration: \"5x\"", 1 },
	{ "shutdown_grace = \"-1s\";\n" DROP_OK, "1: shutdown_grace", "not a duration", 1 },
	{ "shutdown_grace = \"\";\n" DROP_OK, "1: shutdown_grace", "not a duration", 1 },
	{ "shutdown_grace = true;\n" DROP_OK, "1: shutdown_grace", "expected a duration", 1 },
	/* user, group */
	{ "user = \"no-such-user-sw\";\n" DROP_OK, "1: user", "no such user", 1 },
	{ "group = \"no-such-group-sw\";\n" DROP_OK, "1: group", "no such group", 1 },
	{ "user = 0;\n" DROP_OK, "1: user", "expected a string", 1 },
	{ "group = 0;\n" DROP_OK, "1: group", "expected a string", 1 },
	/* spool: out of the drops and of done/failed, on the drop's file
	 * system, the daemon's (issue 7) */
	{ DROP_WITH("spool = \"in/sp\";"), "4: drops[0].spool", "inside (or holds) the watched", 1 },
	/* protocol: exec or lines; lines: only {drop} in the command;
	 * max_jobs 0.. */
	{ DROP_WITH("protocol = \"pipe\";"), "4: drops[0].protocol",
	  "must be one of exec, lines (got \"pipe\")", 1 },
	{ DROP_WITH("protocol = \"lines\";"), "3: drops[0].command[1]",
	  "{file}: with protocol = \"lines\" only {drop} may be used", 1 },
	{ DEFAULTS("protocol = \"lines\";"), "5: drops[0].command[1]",
	  "{file}: with protocol = \"lines\" only {drop} may be used", 1 },
	{ DROP_WITH("max_jobs = -1;"), "4: drops[0].max_jobs", "must be between 0 and", 1 },
	/* recursive: a boolean; max_depth 1..32 */
	{ DROP_WITH("recursive = \"yes\";"), "4: drops[0].recursive", "expected true or false", 1 },
	{ DROP_WITH("recursive = 1;"), "4: drops[0].recursive", "expected true or false", 1 },
	{ DROP_WITH("max_depth = 0;"), "4: drops[0].max_depth", "must be between 1 and 32 (got 0)", 1 },
	{ DROP_WITH("max_depth = 33;"), "4: drops[0].max_depth", "(got 33)", 1 },
	{ DEFAULTS("recursive = 0;"), "2: defaults.recursive", "expected true or false", 1 },
	{ DROP_WITH("spool = \".\";"), "4: drops[0].spool", "inside (or holds) the watched", 1 },
	{ DROP_WITH("spool = \"done/sp\";"), "4: drops[0].spool", "apart from done and failed", 1 },
	{ DROP_WITH("spool = \"/dev/shm/sw-never\";"), "4: drops[0].spool",
	  "on another file system than the drop", 1 },
	{ DROP_WITH("spool = \"bin2\";"), "4: drops[0].spool", "is not the daemon's", 1 },
	{ DROP_WITH("spool = \"plain\";"), "4: drops[0].spool", "not a directory", 1 },
	{ DROP_WITH("spool = \"nope/sp\";"), "4: drops[0].spool", "cannot resolve the parent", 1 },
	{ DROP_WITH("spool = \"\";"), "4: drops[0].spool", "must not be empty", 1 },
	{ DROP_WITH("spool = 1;"), "4: drops[0].spool", "expected a string", 1 },
	/* defaults, drops: structure */
	{ "defaults = 5;\n" DROP_OK, "1: defaults", "expected a group", 1 },
	{ "workers = 2;\n", "1: drops", "required setting is missing", 1 },
	{ "\n\ndrops = ( );\n", "3: drops", "at least one drop", 1 },
	{ "drops = [ ];\n", "1: drops", "at least one drop", 1 },
	{ "drops = \"x\";\n", "1: drops", "expected a list of groups", 1 },
	{ "drops = { name = \"a\"; };\n", "1: drops", "expected a list of groups", 1 },
	{ "drops = [ 1, 2 ];\n", "1: drops", "expected a list of groups", 1 },
	{ "drops = ( 5 );\n", "1: drops[0]", "expected a group", 1 },

	/* drop-only settings in defaults */
	{ DEFAULTS("name = \"x\";"), "2: defaults.name", "only allowed in a drop", 1 },
	{ DEFAULTS("path = \"in\";"), "2: defaults.path", "only allowed in a drop", 1 },
	/* done and failed may be set in defaults (SPEC §3), and are checked there */
	{ DEFAULTS("done = \"nope\";"), "2: defaults.done", "cannot resolve", 1 },
	{ DEFAULTS("failed = 3;"), "2: defaults.failed", "expected a string", 1 },
	{ DEFAULTS("command = [ \"true\" ];"), "2: defaults.command", "only allowed in a drop", 1 },

	/* timeout: 10ms..7d, in defaults and in a drop */
	{ DEFAULTS("timeout = \"9ms\";"), "2: defaults.timeout",
	  "must be between 10ms and 168h (got 9ms)", 1 },
	{ DEFAULTS("timeout = 604801;"), "2: defaults.timeout", "(got 604801s)", 1 },
	{ DROP_WITH("timeout = 0.005;"), "4: drops[0].timeout", "(got 5ms)", 1 },
	{ DROP_WITH("timeout = \"169h\";"), "4: drops[0].timeout", "(got 169h)", 1 },
	{ DROP_WITH("timeout = [ 1 ];"), "4: drops[0].timeout", "expected a duration", 1 },
	{ DROP_WITH("timeout = \"5 m\";"), "4: drops[0].timeout", "not a duration", 1 },
	/* retries: 0..100 */
	{ DEFAULTS("retries = -1;"), "2: defaults.retries", "must be between 0 and 100 (got -1)", 1 },
	{ DROP_WITH("retries = 101;"), "4: drops[0].retries", "(got 101)", 1 },
	{ DROP_WITH("retries = 1.5;"), "4: drops[0].retries", "expected an integer", 1 },
	/* backoff 0..1d, backoff_max 0..7d, kill_grace 0..1h */
	{ DEFAULTS("backoff = -1;"), "2: defaults.backoff", "must be between 0s and 24h", 1 },
	{ DROP_WITH("backoff = \"1441m\"; backoff_max = \"2d0\";"), "4: drops[0].backoff_max",
	  "not a duration", 2 },
	{ DROP_WITH("backoff = 86401; backoff_max = \"7w\";"), "4: drops[0].backoff",
	  "(got 86401s)", 2 },
	{ DEFAULTS("backoff_max = 604801;"), "2: defaults.backoff_max",
	  "must be between 0s and 168h (got 604801s)", 1 },
	{ DEFAULTS("backoff_max = -1;"), "2: defaults.backoff_max", "(got -1s)", 1 },
	{ DEFAULTS("kill_grace = \"3601s\";"), "2: defaults.kill_grace",
	  "must be between 0s and 1h (got 3601s)", 1 },
	{ DROP_WITH("kill_grace = -0.5;"), "4: drops[0].kill_grace", "(got -500ms)", 1 },
	{ DROP_WITH("kill_grace = \"fast\";"), "4: drops[0].kill_grace", "not a duration", 1 },
	/* backoff_max must not be less than the effective backoff */
	{ DEFAULTS("backoff = 20; backoff_max = 10;"), "2: defaults.backoff_max",
	  "must not be less than backoff", 1 },
	{ DROP_WITH("backoff = \"1m\"; backoff_max = \"30s\";"), "4: drops[0].backoff_max",
	  "backoff_max (30s) must not be less than backoff (1m)", 1 },
	{ DROP_WITH("backoff = \"11m\";"), "4: drops[0].backoff",
	  "backoff_max (10m) must not be less than backoff (11m)", 1 },
	/* ...but not compared with a value that was refused */
	{ DROP_WITH("backoff = \"25h\"; backoff_max = 1;"), "4: drops[0].backoff", "(got 25h)", 1 },
	{ "defaults = {\n  backoff = \"2m\";\n};\n" DROP_WITH("backoff_max = \"1m\";"),
	  "7: drops[0].backoff_max", "must not be less than backoff (2m)", 1 },
	/* pattern */
	{ DEFAULTS("pattern = \"\";"), "2: defaults.pattern", "must not be empty", 1 },
	{ DROP_WITH("pattern = \"a/*.sea\";"), "4: drops[0].pattern", "must not contain '/'", 1 },
	{ DROP_WITH("pattern = 1;"), "4: drops[0].pattern", "expected a string", 1 },
	/* no_retry */
	{ DEFAULTS("no_retry = [ 0 ];"), "2: defaults.no_retry[0]",
	  "must be between 1 and 255 (got 0)", 1 },
	{ DROP_WITH("no_retry = [ 1, 256 ];"), "4: drops[0].no_retry[1]", "(got 256)", 1 },
	{ DROP_WITH("no_retry = ( 1, \"x\", 3.0 );"), "4: drops[0].no_retry[1]",
	  "expected an integer", 2 },
	{ DROP_WITH("no_retry = ( 1, \"x\", 3.0 );"), "4: drops[0].no_retry[2]",
	  "expected an integer", 2 },
	{ DROP_WITH("no_retry = 65;"), "4: drops[0].no_retry", "expected an array or list", 1 },

	/* required settings */
	{ DROP_ONLY("path = \"in\"; done = \"done\"; failed = \"failed\"; command = [ \"true\" ];"),
	  "1: drops[0].name", "required setting is missing", 1 },
	{ DROP_ONLY("name = \"a\"; done = \"done\"; failed = \"failed\"; command = [ \"true\" ];"),
	  "1: drops[0].path", "required setting is missing", 1 },
	{ DROP_ONLY("name = \"a\"; path = \"in\"; failed = \"failed\"; command = [ \"true\" ];"),
	  "1: drops[0].done", "required setting is missing", 1 },
	{ DROP_ONLY("name = \"a\"; path = \"in\"; done = \"done\"; command = [ \"true\" ];"),
	  "1: drops[0].failed", "required setting is missing", 1 },
	{ DROP_ONLY("name = \"a\"; path = \"in\"; done = \"done\"; failed = \"failed\";"),
	  "1: drops[0].command", "required setting is missing", 1 },
	{ TWO_DROPS("name = \"b\";", "path = \"in2\"; done = \"done\";"),
	  "3: drops[1].failed", "required setting is missing", 1 },
	{ "drops = ( { } );\n", "1: drops[0].command", "required setting is missing", 5 },

	/* name */
	{ DROP_DIRS("\"a b\"", "\"in\"", "\"done\"", "\"failed\""), "2: drops[0].name",
	  "may only contain A-Z a-z 0-9 _ . -", 1 },
	{ DROP_DIRS("\"a/b\"", "\"in\"", "\"done\"", "\"failed\""), "2: drops[0].name",
	  "may only contain", 1 },
	{ DROP_DIRS("\"\"", "\"in\"", "\"done\"", "\"failed\""), "2: drops[0].name",
	  "must be 1 to 64 characters long (got 0)", 1 },
	{ DROP_DIRS("\"a1234567890123456789012345678901234567890123456789012345678901234\"",
		    "\"in\"", "\"done\"", "\"failed\""), "2: drops[0].name", "(got 65)", 1 },
	{ DROP_DIRS("\"..\"", "\"in\"", "\"done\"", "\"failed\""), "2: drops[0].name",
	  "must not be \".\" or \"..\"", 1 },
	{ DROP_DIRS("7", "\"in\"", "\"done\"", "\"failed\""), "2: drops[0].name",
	  "expected a string", 1 },
	{ TWO_DROPS("name = \"a\";", "path = \"in2\"; done = \"done\"; failed = \"failed\";"),
	  "3: drops[1].name", "duplicate drop name \"a\" (first at line 2)", 1 },

	/* path */
	{ DROP_DIRS("\"a\"", "\"nope\"", "\"done\"", "\"failed\""), "3: drops[0].path",
	  "No such file or directory", 1 },
	{ DROP_DIRS("\"a\"", "\"plain\"", "\"done\"", "\"failed\""), "3: drops[0].path",
	  "not a directory", 1 },
	{ DROP_DIRS("\"a\"", "\"\"", "\"done\"", "\"failed\""), "3: drops[0].path",
	  "must not be empty", 1 },
	{ DROP_DIRS("\"a\"", "[ \"in\" ]", "\"done\"", "\"failed\""), "3: drops[0].path",
	  "expected a string", 1 },
	{ TWO_DROPS("name = \"b\";", "path = \"@/in/../in\"; done = \"done\"; failed = \"failed\";"),
	  "4: drops[1].path", "same path and pattern as drop \"a\" (line 2)", 1 },
	/* done, failed: exist, directories, writable, outside every watched tree */
	{ DROP_DIRS("\"a\"", "\"in\"", "\"nope\"", "\"failed\""), "4: drops[0].done",
	  "No such file or directory", 1 },
	{ DROP_DIRS("\"a\"", "\"in\"", "\"plain\"", "\"failed\""), "4: drops[0].done",
	  "not a directory", 1 },
	{ DROP_DIRS("\"a\"", "\"in\"", "\"done\"", "\"@/nope\""), "5: drops[0].failed",
	  "No such file or directory", 1 },
	{ DROP_DIRS("\"a\"", "\"in\"", "\"done\"", "\"plain\""), "5: drops[0].failed",
	  "not a directory", 1 },
	{ DROP_DIRS("\"a\"", "\"in\"", "\"done\"", "1"), "5: drops[0].failed",
	  "expected a string", 1 },
	{ DROP_DIRS("\"a\"", "\"in\"", "\"in\"", "\"failed\""), "4: drops[0].done",
	  "inside the watched directory of drop \"a\"", 1 },
	{ DROP_DIRS("\"a\"", "\"in\"", "\"done\"", "\"in/sub\""), "5: drops[0].failed",
	  "inside the watched directory of drop \"a\"", 1 },
	{ TWO_DROPS("name = \"b\";", "path = \"in2\"; done = \"in/sub\"; failed = \"failed\";"),
	  "4: drops[1].done", "inside the watched directory of drop \"a\"", 1 },
	{ "drops = (\n"
	  "  { name = \"a\"; path = \"in\"; done = \"in2\"; failed = \"failed\"; command = [ \"true\" ]; },\n"
	  "  { name = \"b\"; path = \"in2\"; done = \"done\"; failed = \"failed\"; command = [ \"true\" ]; }\n"
	  ");\n", "2: drops[0].done", "inside the watched directory of drop \"b\"", 1 },

	/* command */
	{ DROP_CMD("[ ]"), "3: drops[0].command", "must not be empty", 1 },
	{ DROP_CMD("\"bin/proc.sh\""), "3: drops[0].command", "expected an array or list of strings", 1 },
	{ DROP_CMD("( \"bin/proc.sh\", 5 )"), "3: drops[0].command[1]", "expected a string", 1 },
	{ DROP_CMD("[ \"bin/noexec.sh\" ]"), "3: drops[0].command[0]", "not an executable file: @/bin/noexec.sh", 1 },
	{ DROP_CMD("[ \"./bin\" ]"), "3: drops[0].command[0]", "not an executable file", 1 },
	{ DROP_CMD("[ \"nodir/x.sh\" ]"), "3: drops[0].command[0]", "cannot resolve", 1 },
	{ DROP_CMD("[ \"no-such-command-sw\" ]"), "3: drops[0].command[0]", "not found in PATH", 1 },
	{ DROP_CMD("[ \"\" ]"), "3: drops[0].command[0]", "must not be empty", 1 },
	{ DROP_CMD("[ \"{file}\" ]"), "3: drops[0].command[0]", "must not contain placeholders", 1 },
	{ DROP_CMD("[ \"bin/proc.sh\", \"{fil}\" ]"), "3: drops[0].command[1]",
	  "unknown placeholder \"{fil}\"", 1 },
	{ DROP_CMD("[ \"bin/proc.sh\", \"x\", \"--out={dir}\" ]"), "3: drops[0].command[2]",
	  "unknown placeholder \"{dir}\"", 1 },
	{ DROP_CMD("[ \"bin/proc.sh\", \"a}b\" ]"), "3: drops[0].command[1]", "unknown placeholder \"}\"", 1 },
	{ DROP_CMD("[ \"bin/proc.sh\", \"{file\" ]"), "3: drops[0].command[1]", "unknown placeholder \"{\"", 1 },
	{ DROP_CMD("[ \"bin/proc.sh\", \"{FILE}\" ]"), "3: drops[0].command[1]", "unknown placeholder", 1 },

	/* syntax */
	{ "workers = ;\n" DROP_OK, "1: syntax", "syntax error", 1 },
	{ "workers = 1;\n\nworkers = 2;\n" DROP_OK, "3: syntax", "duplicate setting name", 1 },
	{ "workers = 1;\n\n\nqueue_size = $;\n" DROP_OK, "4: syntax", "syntax error", 1 },
};

ParameterizedTestParameters(config, errors)
{
	return indices(N_OF(error_cases));
}

ParameterizedTest(int *i, config, errors, .init = setup, .fini = teardown)
{
	const struct ecase *tc = &error_cases[*i];
	char *errs = NULL, word[1024];
	struct sw_config *cfg;

	write_conf(tc->conf);
	cfg = cnf_load(conf, &errs);
	cr_assert_null(cfg, "accepted:\n%s", tc->conf);
	cr_assert_not_null(errs);
	/* "@/" in the expectation: the world's directory, canonical. */
	subst_root(tc->word, word, sizeof word);
	cr_expect(has_error(errs, conf, tc->where, word),
		  "no line \"%s:%s: ...%s...\" for config:\n%s--- got:\n%s",
		  conf, tc->where, word, tc->conf, errs);
	cr_expect_eq(count_lines(errs), tc->n, "expected %d error line(s) for config:\n%s--- got:\n%s",
		     tc->n, tc->conf, errs);
	cr_expect_eq(errs[strlen(errs) - 1], '\n');
	free(errs);
}

/* ------------------------------------------------------------------ */
/* Errors that need a generated config or a special world              */
/* ------------------------------------------------------------------ */

static void expect_error(const char *file, const char *where, const char *word, int n)
{
	char *errs = NULL;
	struct sw_config *cfg = cnf_load(file, &errs);

	cr_assert_null(cfg);
	cr_assert_not_null(errs);
	cr_expect(has_error(errs, file, where, word), "want %s:%s: ...%s... got:\n%s",
		  file, where, word, errs);
	if (n)
		cr_expect_eq(count_lines(errs), n, "got:\n%s", errs);
	free(errs);
}

Test(config, missing_file, .init = setup, .fini = teardown)
{
	char path[PATH_MAX + 16], *errs = NULL, want[PATH_MAX + 64];

	snprintf(path, sizeof path, "%s/nope.conf", root);
	cr_assert_null(cnf_load(path, &errs));
	snprintf(want, sizeof want, "%s: cannot open: No such file or directory\n", path);
	cr_assert_str_eq(errs, want);
	free(errs);
}

Test(config, directory_as_file, .init = setup, .fini = teardown)
{
	char *errs = NULL, want[PATH_MAX + 64];

	cr_assert_null(cnf_load(root, &errs));
	snprintf(want, sizeof want, "%s: cannot open: Is a directory\n", root);
	cr_assert_str_eq(errs, want);
	free(errs);
}

Test(config, every_problem_reported, .init = setup, .fini = teardown)
{
	char *errs = NULL;

	write_conf("workers = 0;\nqueue_size = 0;\nbogus = 1;\n"
		   DROP_DIRS("\"a b\"", "\"nope\"", "\"done\"", "\"plain\""));
	cr_assert_null(cnf_load(conf, &errs));
	cr_expect(has_error(errs, conf, "1: workers", "between"));
	cr_expect(has_error(errs, conf, "2: queue_size", "between"));
	cr_expect(has_error(errs, conf, "3: bogus", "unknown setting"));
	cr_expect(has_error(errs, conf, "5: drops[0].name", "may only contain"));
	cr_expect(has_error(errs, conf, "6: drops[0].path", "No such file"));
	cr_expect(has_error(errs, conf, "8: drops[0].failed", "not a directory"));
	cr_expect_eq(count_lines(errs), 6, "got:\n%s", errs);
	free(errs);
}

Test(config, too_many_command_elements, .init = setup, .fini = teardown)
{
	char text[4096] = "drops = ( { name = \"a\"; path = \"in\"; done = \"done\"; failed = \"failed\";\n"
			  "  command = [ \"true\"";

	for (int i = 1; i < 65; i++)
		strcat(text, ", \"x\"");
	strcat(text, " ];\n} );\n");
	write_conf(text);
	expect_error(conf, "2: drops[0].command", "at most 64 elements (got 65)", 1);

	/* 64 is fine. */
	*strrchr(text, ',') = ' ';
	*strrchr(text, 'x') = ' ';
	*strrchr(text, '"') = ' ';
	*strrchr(text, '"') = ' ';
	write_conf(text);
	{
		char *errs = NULL;
		struct sw_config *cfg = cnf_load(conf, &errs);

		cr_assert_not_null(cfg, "%s", errs);
		cr_expect_eq(cfg->drops[0].argc, 64);
		cr_expect_null(cfg->drops[0].command[64]);
		cnf_free(cfg);
	}
}

Test(config, command_element_too_long, .init = setup, .fini = teardown)
{
	static char text[8192], arg[4098];
	struct sw_config *cfg;
	char *errs = NULL;

	memset(arg, 'x', 4097);
	arg[4097] = '\0';
	snprintf(text, sizeof text, "drops = ( { name = \"a\"; path = \"in\"; done = \"done\"; "
		 "failed = \"failed\";\n  command = [ \"true\", \"%s\" ]; } );\n", arg);
	write_conf(text);
	expect_error(conf, "2: drops[0].command[1]", "longer than 4096 bytes (got 4097)", 1);

	arg[4096] = '\0';
	snprintf(text, sizeof text, "drops = ( { name = \"a\"; path = \"in\"; done = \"done\"; "
		 "failed = \"failed\";\n  command = [ \"true\", \"%s\" ]; } );\n", arg);
	write_conf(text);
	cfg = cnf_load(conf, &errs);
	cr_assert_not_null(cfg, "%s", errs);
	cr_expect_eq(strlen(cfg->drops[0].command[1]), 4096);
	cnf_free(cfg);
}

Test(config, too_many_no_retry, .init = setup, .fini = teardown)
{
	char text[4096] = "defaults = {\n  no_retry = [ 1";

	for (int i = 2; i <= 65; i++)
		sprintf(text + strlen(text), ", %d", i);
	strcat(text, " ];\n};\n" DROP_OK);
	write_conf(text);
	expect_error(conf, "2: defaults.no_retry", "at most 64 exit codes (got 65)", 1);
}

/* Settings from an @include'd file are reported against that file. */
Test(config, include_names_its_file, .init = setup, .fini = teardown)
{
	char inc[PATH_MAX + 16];

	snprintf(inc, sizeof inc, "%s/etc/inc.conf", root);
	write_conf_at(inc, "# included\nworkers = 0;\n");
	write_conf("@include \"@/etc/inc.conf\"\n" DROP_OK);
	{
		char *errs = NULL;

		cr_assert_null(cnf_load(conf, &errs));
		cr_expect(has_error(errs, inc, "2: workers", "must be between 1 and 256"),
			  "got:\n%s", errs);
		cr_expect_eq(count_lines(errs), 1, "got:\n%s", errs);
		free(errs);
	}
}

/* The above would pass vacuously if has_error matched any file: check it
 * does not. */
Test(config, has_error_is_strict)
{
	cr_assert(has_error("f:1: x: boom\n", "f", "1: x", "boom"));
	cr_assert(!has_error("f:1: x: boom\n", "f", "2: x", "boom"));
	cr_assert(!has_error("f:1: x: boom\n", "g", "1: x", "boom"));
	cr_assert(!has_error("f:1: x: boom\n", "f", "1: x", "bang"));
	cr_assert(!has_error("f:1: xy: boom\n", "f", "1: x", "boom"));
}

Test(config, syntax_error_in_include, .init = setup, .fini = teardown)
{
	char inc[PATH_MAX + 16], *errs = NULL;

	snprintf(inc, sizeof inc, "%s/etc/bad.conf", root);
	write_conf_at(inc, "workers = 1;\nqueue_size = ;\n");
	write_conf("@include \"@/etc/bad.conf\"\n" DROP_OK);
	cr_assert_null(cnf_load(conf, &errs));
	cr_expect(has_error(errs, inc, "2: syntax", "syntax error"), "got:\n%s", errs);
	free(errs);
}

/* $PATH entries that are empty or relative never make the cwd count. */
Test(config, path_lookup_ignores_relative_entries, .init = setup, .fini = teardown)
{
	cr_assert_eq(chdir(root), 0);
	setenv("PATH", "bin2::.", 1);
	write_conf(DROP_CMD("[ \"mytool\" ]"));
	expect_error(conf, "3: drops[0].command[0]", "not found in PATH: mytool", 1);
}

/* ------------------------------------------------------------------ */
/* Valid configs: every value parsed                                   */
/* ------------------------------------------------------------------ */

static char *world(const char *rel)
{
	static char bufs[8][PATH_MAX + 64];
	static int next;
	char *b = bufs[next++ % 8];

	snprintf(b, PATH_MAX + 64, "%s%s%s", rroot, rel[0] ? "/" : "", rel);
	return b;
}

Test(config, defaults_when_unset, .init = setup, .fini = teardown)
{
	struct sw_config *cfg = load_ok("\n" DROP_OK);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	const struct sw_drop *d;

	ncpu = ncpu < 1 ? 1 : ncpu > 256 ? 256 : ncpu;
	cr_expect_str_eq(cfg->file, conf);
	cr_expect_eq(cfg->workers, ncpu);
	cr_expect_eq(cfg->queue_size, 1024);
	cr_expect_eq(cfg->log_level, SW_LOG_INFO);
	cr_expect_eq(cfg->log_target, SW_LOG_STDERR);
	cr_expect_eq(cfg->cpu_affinity, SW_AFFINITY_SPREAD);
	cr_expect_eq(cfg->shutdown_grace_ms, 30000);
	cr_expect_null(cfg->user);
	cr_expect_null(cfg->group);
	cr_assert_eq(cfg->n_drops, 1);
	d = &cfg->drops[0];
	cr_expect_str_eq(d->name, "a");
	cr_expect_str_eq(d->path, world("in"));
	cr_expect_str_eq(d->done, world("done"));
	cr_expect_str_eq(d->failed, world("failed"));
	cr_assert_eq(d->argc, 2);
	cr_expect_str_eq(d->command[0], world("bin/proc.sh"));
	cr_expect_str_eq(d->command[1], "{file}");
	cr_expect_null(d->command[2]);
	cr_expect_str_eq(d->pattern, "*.sea");
	cr_expect_eq(d->timeout_ms, 300000);
	cr_expect_eq(d->retries, 3);
	cr_expect_eq(d->backoff_ms, 10000);
	cr_expect_eq(d->backoff_max_ms, 600000);
	cr_expect_eq(d->kill_grace_ms, 5000);
	cr_expect_eq(d->n_no_retry, 0);
	cr_expect_eq(d->line, 2);
	cnf_free(cfg);
}

Test(config, every_value_set, .init = setup, .fini = teardown)
{
	struct sw_config *cfg;
	const struct sw_drop *d;

	setenv("PATH", "/usr/bin:/bin", 1);
	cfg = load_ok(
		"workers = 256;\n"                                  /* 1 */
		"queue_size = 1048576;\n"
		"log_level = \"debug\";\n"
		"log_target = \"syslog\"; cpu_affinity = \"none\";\n"
		"shutdown_grace = 1.5;\n"                           /* 5 */
		"user = \"root\";\n"
		"group = \"root\";\n"
		"defaults = {\n"
		"  pattern = \"*.log\";\n"
		"  timeout = \"250ms\";\n"                          /* 10 */
		"  retries = 0;\n"
		"  backoff = 2;\n"
		"  backoff_max = \"1h\";\n"
		"  kill_grace = \"0\";\n"
		"  no_retry = [ 65, 1 ];\n"                         /* 15 */
		"};\n"
		"drops = (\n"
		"  { name = \"A-b_c.1\"; path = \"in\"; done = \"done\"; failed = \"failed\";\n"
		"    command = [ \"bin/proc.sh\", \"{file}\", \"/out dir\" ]; },\n"
		"  { name = \"a123456789012345678901234567890123456789012345678901234567890123\";\n" /* 20 */
		"    path = \"@/in\"; pattern = \"*.sea\"; done = \"@/done\"; failed = \"@/failed\";\n"
		"    command = ( \"true\", \"--\", \"{name}\" ); timeout = 604800L; retries = 100;\n"
		"    no_retry = ( 255 ); backoff = 0; backoff_max = 0; kill_grace = \"1h\"; },\n"
		"  { name = \"min\"; path = \"in2\"; done = \"done\"; failed = \"done\";\n"
		"    command = [ \"bin/link\" ]; timeout = 0.01; backoff = \"24h\"; backoff_max = \"168h\"; }\n" /* 25 */
		");\n");
	cr_expect_eq(cfg->workers, 256);
	cr_expect_eq(cfg->queue_size, 1048576);
	cr_expect_eq(cfg->log_level, SW_LOG_DEBUG);
	cr_expect_eq(cfg->log_target, SW_LOG_SYSLOG);
	cr_expect_eq(cfg->cpu_affinity, SW_AFFINITY_NONE);
	cr_expect_eq(cfg->shutdown_grace_ms, 1500);
	cr_expect_str_eq(cfg->user, "root");
	cr_expect_str_eq(cfg->group, "root");
	cr_assert_eq(cfg->n_drops, 3);

	d = &cfg->drops[0];
	cr_expect_str_eq(d->name, "A-b_c.1");
	cr_expect_eq(d->line, 18);
	cr_expect_str_eq(d->path, world("in"));
	cr_expect_str_eq(d->pattern, "*.log");
	cr_assert_eq(d->argc, 3);
	cr_expect_str_eq(d->command[0], world("bin/proc.sh"));
	cr_expect_str_eq(d->command[2], "/out dir");
	cr_expect_eq(d->timeout_ms, 250);
	cr_expect_eq(d->retries, 0);
	cr_expect_eq(d->backoff_ms, 2000);
	cr_expect_eq(d->backoff_max_ms, 3600000);
	cr_expect_eq(d->kill_grace_ms, 0);
	cr_assert_eq(d->n_no_retry, 2);
	cr_expect_eq(d->no_retry[0], 65);
	cr_expect_eq(d->no_retry[1], 1);

	d = &cfg->drops[1];
	cr_expect_eq(strlen(d->name), 64);
	cr_expect_eq(d->line, 20);
	cr_expect_str_eq(d->path, world("in"));   /* same path, other pattern */
	cr_expect_str_eq(d->done, world("done"));
	cr_expect_str_eq(d->failed, world("failed"));
	cr_expect_str_eq(d->pattern, "*.sea");
	cr_assert_eq(d->argc, 3);
	cr_expect_str_eq(d->command[0], "/usr/bin/true");
	cr_expect_str_eq(d->command[1], "--");
	cr_expect_str_eq(d->command[2], "{name}");
	cr_expect_null(d->command[3]);
	cr_expect_eq(d->timeout_ms, 604800000);
	cr_expect_eq(d->retries, 100);
	cr_expect_eq(d->backoff_ms, 0);
	cr_expect_eq(d->backoff_max_ms, 0);
	cr_expect_eq(d->kill_grace_ms, 3600000);
	cr_assert_eq(d->n_no_retry, 1);
	cr_expect_eq(d->no_retry[0], 255);

	d = &cfg->drops[2];
	cr_expect_eq(d->line, 24);
	cr_expect_str_eq(d->failed, d->done);      /* allowed */
	/* A symlink's own name is kept (busybox applets). */
	cr_expect_str_eq(d->command[0], world("bin/link"));
	cr_expect_eq(d->timeout_ms, 10);
	cr_expect_eq(d->backoff_ms, 86400000);
	cr_expect_eq(d->backoff_max_ms, 604800000);
	cnf_free(cfg);
}

Test(config, smallest_values, .init = setup, .fini = teardown)
{
	struct sw_config *cfg = load_ok("workers = 1; queue_size = 1; shutdown_grace = 0;\n"
					"log_level = \"error\"; log_target = \"stderr\";\n"
					DROP_WITH("retries = 0; kill_grace = 0; backoff = 0; "
						  "backoff_max = 0; timeout = \"10ms\";"));

	cr_expect_eq(cfg->workers, 1);
	cr_expect_eq(cfg->queue_size, 1);
	cr_expect_eq(cfg->shutdown_grace_ms, 0);
	cr_expect_eq(cfg->log_level, SW_LOG_ERROR);
	cr_expect_eq(cfg->drops[0].timeout_ms, 10);
	cr_expect_eq(cfg->drops[0].line, 3);
	cnf_free(cfg);
}

Test(config, defaults_override, .init = setup, .fini = teardown)
{
	struct sw_config *cfg = load_ok(
		"defaults = { timeout = 60; retries = 5; no_retry = [ 7 ]; pattern = \"*.bin\"; };\n"
		"drops = (\n"
		"  { name = \"a\"; path = \"in\"; done = \"done\"; failed = \"failed\"; command = [ \"true\" ];\n"
		"    timeout = \"2m\"; no_retry = [ ]; },\n"
		"  { name = \"b\"; path = \"in2\"; done = \"done\"; failed = \"failed\"; command = [ \"true\" ];\n"
		"    retries = 1; pattern = \"*\"; }\n"
		");\n");

	cr_expect_eq(cfg->drops[0].timeout_ms, 120000);
	cr_expect_eq(cfg->drops[0].retries, 5);
	cr_expect_eq(cfg->drops[0].n_no_retry, 0);
	cr_expect_null(cfg->drops[0].no_retry);
	cr_expect_str_eq(cfg->drops[0].pattern, "*.bin");
	cr_expect_eq(cfg->drops[1].timeout_ms, 60000);
	cr_expect_eq(cfg->drops[1].retries, 1);
	cr_assert_eq(cfg->drops[1].n_no_retry, 1);
	cr_expect_eq(cfg->drops[1].no_retry[0], 7);
	cr_expect_str_eq(cfg->drops[1].pattern, "*");
	cr_expect_eq(cfg->drops[1].backoff_ms, 10000);
	cnf_free(cfg);
}

/* done and failed set once in defaults apply to every drop that omits them. */
Test(config, done_failed_from_defaults, .init = setup, .fini = teardown)
{
	struct sw_config *cfg = load_ok(
		"defaults = { done = \"done\"; failed = \"failed\"; };\n"
		"drops = (\n"
		"  { name = \"a\"; path = \"in\"; command = [ \"true\" ]; },\n"
		"  { name = \"b\"; path = \"in2\"; done = \"failed\"; command = [ \"true\" ]; }\n"
		");\n");

	cr_expect_str_eq(cfg->drops[0].done, world("done"));
	cr_expect_str_eq(cfg->drops[0].failed, world("failed"));
	cr_expect_str_eq(cfg->drops[1].done, world("failed"), "a drop's own value wins");
	cr_expect_str_eq(cfg->drops[1].failed, world("failed"));
	cnf_free(cfg);
}

/* An inherited done inside a drop is reported on that drop's group. */
Test(config, inherited_done_inside_a_drop, .init = setup, .fini = teardown)
{
	char *errs = load_err(
		"defaults = { done = \"in2\"; failed = \"failed\"; };\n"
		"drops = (\n"
		"  { name = \"a\"; path = \"in\"; command = [ \"true\" ]; },\n"
		"  { name = \"b\"; path = \"in2\"; done = \"done\"; command = [ \"true\" ]; }\n"
		");\n");

	cr_assert(strstr(errs, ":3: drops[0]: done (from defaults) ") != NULL, "%s", errs);
	cr_assert(strstr(errs, "inside the watched directory of drop \"b\"") != NULL, "%s", errs);
	free(errs);
}

/* "in2" starts with "in" but is not inside it. */
Test(config, inside_means_path_components, .init = setup, .fini = teardown)
{
	struct sw_config *cfg = load_ok(DROP_DIRS("\"a\"", "\"in\"", "\"in2\"", "\"@/in2/\""));

	cr_expect_str_eq(cfg->drops[0].done, world("in2"));
	cr_expect_str_eq(cfg->drops[0].failed, world("in2"));
	cnf_free(cfg);
}

/* defaults may come after drops in the file and still apply. */
Test(config, defaults_after_drops, .init = setup, .fini = teardown)
{
	struct sw_config *cfg = load_ok(DROP_OK "defaults = { retries = 9; };\n");

	cr_expect_eq(cfg->drops[0].retries, 9);
	cnf_free(cfg);
}

/* Relative paths are relative to the config file, not to the cwd. */
Test(config, relative_to_config_dir, .init = setup, .fini = teardown)
{
	char sub[PATH_MAX + 16], *errs = NULL;
	struct sw_config *cfg;

	snprintf(sub, sizeof sub, "%s/etc/sw.conf", root);
	write_conf_at(sub, "drops = ( { name = \"a\"; path = \"../in\"; done = \"../done\";\n"
			   "  failed = \"./../failed/\"; command = [ \"../bin/proc.sh\" ]; } );\n");
	cr_assert_eq(chdir("/"), 0);
	cfg = cnf_load(sub, &errs);
	cr_assert_not_null(cfg, "%s", errs);
	cr_expect_str_eq(cfg->file, sub);
	cr_expect_str_eq(cfg->drops[0].path, world("in"));
	cr_expect_str_eq(cfg->drops[0].done, world("done"));
	cr_expect_str_eq(cfg->drops[0].failed, world("failed"));
	cr_expect_str_eq(cfg->drops[0].command[0], world("bin/proc.sh"));
	cnf_free(cfg);

	/* A config named relative to the cwd: its directory is the cwd. */
	cr_assert_eq(chdir(root), 0);
	write_conf(DROP_OK);
	cfg = cnf_load("seawatch.conf", &errs);
	cr_assert_not_null(cfg, "%s", errs);
	cr_expect_str_eq(cfg->file, "seawatch.conf");
	cr_expect_str_eq(cfg->drops[0].path, world("in"));
	cr_expect_str_eq(cfg->drops[0].command[0], world("bin/proc.sh"));
	cnf_free(cfg);

	/* ...and its errors name it as given. */
	write_conf("workers = 0;\n" DROP_OK);
	expect_error("seawatch.conf", "1: workers", "between", 1);
}

/* A drop below a recursive drop is refused; below a flat one, or on the
 * same directory, it is not. */
Test(config, a_drop_inside_a_recursive_drop, .init = setup, .fini = teardown)
{
	static const char *two =
		"drops = ( { name = \"a\"; path = \"in\"; done = \"done\"; failed = \"failed\";\n"
		"            command = [ \"bin/proc.sh\" ]; %s },\n"
		"          { name = \"b\"; path = \"%s\"; done = \"done\"; failed = \"failed\";\n"
		"            command = [ \"bin/proc.sh\" ]; pattern = \"*.dat\"; spool = \"sp\"; } );\n";
	char text[1024], *errs = NULL;
	struct sw_config *cfg;

	snprintf(text, sizeof(text), two, "recursive = true;", "in/sub");
	write_conf(text);
	cr_assert_null(cnf_load(conf, &errs));
	cr_assert(errs && strstr(errs, ":3: drops[1].path: inside drop \"a\""), "%s", errs);
	cr_assert(strstr(errs, "which is recursive"), "%s", errs);
	free(errs);
	snprintf(text, sizeof(text), two, "", "in/sub");
	cfg = load_ok(text);
	cnf_free(cfg);
	snprintf(text, sizeof(text), two, "recursive = true;", "in");
	cfg = load_ok(text);
	cnf_free(cfg);
}

/* protocol: exec by default; lines with {drop} (or no placeholder) in its
 * command; max_jobs 0 by default. */
Test(config, protocol_lines, .init = setup, .fini = teardown)
{
	struct sw_config *cfg = load_ok(DROP_OK);

	cr_expect_eq(cfg->drops[0].protocol, SW_PROTO_EXEC);
	cr_expect_eq(cfg->drops[0].max_jobs, 0);
	cnf_free(cfg);
	cfg = load_ok(DROP_CMD("[ \"bin/proc.sh\", \"--drop={drop}\", \"{{x}}\" ]; protocol = \"lines\"; "
			       "max_jobs = 1000"));
	cr_expect_eq(cfg->drops[0].protocol, SW_PROTO_LINES);
	cr_expect_eq(cfg->drops[0].max_jobs, 1000);
	cnf_free(cfg);
}

/* recursive: off by default, max_depth 8; set in defaults or per drop. */
Test(config, recursive_and_max_depth, .init = setup, .fini = teardown)
{
	struct sw_config *cfg = load_ok(DROP_OK);

	cr_expect_eq(cfg->drops[0].recursive, 0);
	cr_expect_eq(cfg->drops[0].max_depth, 8);
	cnf_free(cfg);
	cfg = load_ok("defaults = { recursive = true; max_depth = 3; };\n" DROP_OK);
	cr_expect_eq(cfg->drops[0].recursive, 1);
	cr_expect_eq(cfg->drops[0].max_depth, 3);
	cnf_free(cfg);
	cfg = load_ok("defaults = { recursive = true; };\n" DROP_WITH("recursive = false; max_depth = 32;"));
	cr_expect_eq(cfg->drops[0].recursive, 0);
	cr_expect_eq(cfg->drops[0].max_depth, 32);
	cnf_free(cfg);
}

/* control_socket: unset or "" is off; absolute as given; relative to the
 * config's directory, as every path. */
Test(config, control_socket_paths, .init = setup, .fini = teardown)
{
	struct sw_config *cfg = load_ok(DROP_OK);
	char want[PATH_MAX + 16];

	cr_expect_null(cfg->control_socket);
	cnf_free(cfg);
	cfg = load_ok("control_socket = \"\";\n" DROP_OK);
	cr_expect_null(cfg->control_socket);
	cnf_free(cfg);
	cfg = load_ok("control_socket = \"/run/seawatch/control.sock\";\n" DROP_OK);
	cr_expect_str_eq(cfg->control_socket, "/run/seawatch/control.sock");
	cnf_free(cfg);
	cfg = load_ok("control_socket = \"run/c.sock\";\n" DROP_OK);
	snprintf(want, sizeof(want), "%s/run/c.sock", root);
	cr_expect_str_eq(cfg->control_socket, want);
	cnf_free(cfg);
}

Test(config, command_dot_dot_is_canonical, .init = setup, .fini = teardown)
{
	struct sw_config *cfg = load_ok(DROP_CMD("[ \"in/../bin/./proc.sh\", \"{{x}}\" ]"));

	cr_expect_str_eq(cfg->drops[0].command[0], world("bin/proc.sh"));
	cr_expect_str_eq(cfg->drops[0].command[1], "{{x}}"); /* kept as a template */
	cnf_free(cfg);
}

Test(config, path_lookup, .init = setup, .fini = teardown)
{
	char path[2 * PATH_MAX];
	struct sw_config *cfg;

	snprintf(path, sizeof path, "/nonexistent-sw:%s/bin2:/usr/bin", root);
	setenv("PATH", path, 1);
	cfg = load_ok(DROP_CMD("[ \"mytool\", \"{file}\" ]"));
	cr_expect_str_eq(cfg->drops[0].command[0], world("bin2/mytool"));
	cnf_free(cfg);

	/* No $PATH: the documented default, which has /usr/bin. */
	unsetenv("PATH");
	cfg = load_ok(DROP_CMD("[ \"true\" ]"));
	cr_expect_str_eq(cfg->drops[0].command[0], "/usr/bin/true");
	cnf_free(cfg);
}

Test(config, int64_values, .init = setup, .fini = teardown)
{
	struct sw_config *cfg = load_ok("workers = 4L; queue_size = 0x10;\n"
					DROP_WITH("retries = 7L; no_retry = [ 3L ];"));

	cr_expect_eq(cfg->workers, 4);
	cr_expect_eq(cfg->queue_size, 16);
	cr_expect_eq(cfg->drops[0].retries, 7);
	cr_expect_eq(cfg->drops[0].no_retry[0], 3);
	cnf_free(cfg);
}

Test(config, summary, .init = setup, .fini = teardown)
{
	struct sw_config *cfg = load_ok(DROP_WITH("timeout = 1.5; no_retry = [ 65, 66 ];"));
	char *text = NULL, want[PATH_MAX * 2];
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	cnf_summary(cfg, out);
	fclose(out);
	cr_expect(strstr(text, conf) != NULL, "%s", text);
	cr_expect(strstr(text, "queue_size=1024") != NULL, "%s", text);
	cr_expect(strstr(text, "shutdown_grace=30s") != NULL, "%s", text);
	snprintf(want, sizeof want, "drop a: path=%s pattern=*.sea done=%s failed=%s "
		 "command=%s {file} timeout=1500ms retries=3 ", world("in"), world("done"),
		 world("failed"), world("bin/proc.sh"));
	cr_expect(strstr(text, want) != NULL, "want %s\ngot:\n%s", want, text);
	cr_expect(strstr(text, "no_retry=65,66\n") != NULL, "%s", text);
	free(text);
	cnf_free(cfg);
}

Test(config, free_null)
{
	cnf_free(NULL);
}

/* ------------------------------------------------------------------ */
/* cnf_parse_duration                                                  */
/* ------------------------------------------------------------------ */

struct dcase {
	const char *text;
	int ok;
	int64_t ms;
};

static const struct dcase duration_cases[] = {
	{ "0", 1, 0 },
	{ "1", 1, 1000 },
	{ "30", 1, 30000 },
	{ "007s", 1, 7000 },
	{ "250ms", 1, 250 },
	{ "0ms", 1, 0 },
	{ "30s", 1, 30000 },
	{ "5m", 1, 300000 },
	{ "1h", 1, 3600000 },
	{ "7d", 1, 604800000 },
	{ "168h", 1, 604800000 },
	{ "1.5s", 1, 1500 },
	{ "1.5", 1, 1500 },
	{ "1.5m", 1, 90000 },
	{ "0.25h", 1, 900000 },
	{ "0.001", 1, 1 },
	{ "0.0004s", 1, 0 },        /* rounded to the nearest ms */
	{ "0.0005s", 1, 1 },
	{ "2.5ms", 1, 3 },
	{ "1.00000000001s", 1, 1000 }, /* digits past the 9th are ignored */
	{ "9223372036854775807ms", 1, INT64_MAX },
	{ "2562047788015h", 1, INT64_C(2562047788015) * 3600000 },
	{ "", 0, 0 },
	{ "-1", 0, 0 },
	{ "-1s", 0, 0 },
	{ "+1", 0, 0 },
	{ "1x", 0, 0 },
	{ "5 m", 0, 0 },            /* no blanks anywhere */
	{ " 5m", 0, 0 },
	{ "5m ", 0, 0 },
	{ "5M", 0, 0 },             /* units are lower case */
	{ "5D", 0, 0 },             /* units are lower case */
	{ "5w", 0, 0 },             /* no week unit */
	{ "5sec", 0, 0 },
	{ "5mss", 0, 0 },
	{ "1.", 0, 0 },
	{ ".5", 0, 0 },
	{ "1.5.3", 0, 0 },
	{ "1e3", 0, 0 },
	{ "s", 0, 0 },
	{ "ms", 0, 0 },
	{ "1,5s", 0, 0 },
	{ "0x10", 0, 0 },
	{ "9223372036854775808ms", 0, 0 },
	{ "9223372036854775807s", 0, 0 },
	{ "2562047788016h", 0, 0 },
	{ "99999999999999999999999999", 0, 0 },
	{ "9223372036854775807.9ms", 0, 0 },
};

ParameterizedTestParameters(config_duration, parse)
{
	return indices(N_OF(duration_cases));
}

ParameterizedTest(int *i, config_duration, parse)
{
	const struct dcase *tc = &duration_cases[*i];
	int64_t ms = -42;
	int r = cnf_parse_duration(tc->text, &ms);

	if (tc->ok) {
		cr_assert_eq(r, 0, "\"%s\" refused", tc->text);
		cr_assert_eq(ms, tc->ms, "\"%s\" = %lld, want %lld", tc->text,
			     (long long)ms, (long long)tc->ms);
	} else {
		cr_assert_eq(r, -1, "\"%s\" accepted as %lld", tc->text, (long long)ms);
	}
}

Test(config_duration, null)
{
	int64_t ms;

	cr_assert_eq(cnf_parse_duration(NULL, &ms), -1);
}

/* cnf_parse_space: sizes in powers of 1024, or a percentage in 1/100 %. */
Test(config_space, sizes_and_percentages)
{
	static const struct { const char *text; int64_t bytes; int bp; } ok[] = {
		{ "0", 0, 0 }, { "1048576", 1048576, 0 }, { "64M", 64 << 20, 0 },
		{ "64MB", 64 << 20, 0 }, { "64MiB", 64 << 20, 0 }, { "2G", INT64_C(2) << 30, 0 },
		{ "1.5G", INT64_C(3) << 29, 0 }, { "500K", 500 << 10, 0 },
		{ "1T", INT64_C(1) << 40, 0 }, { "2%", 0, 200 }, { "0.5%", 0, 50 },
		{ "100%", 0, 10000 }, { "2.25%", 0, 225 },
	};
	static const char *const bad[] = {
		"", "M", "-1M", "1.5", "64X", "64 M", "101%", "%", "1.%", "64Mb", "2GG",
		"99999999999999999999", "8388608T", "1048577G",
	};
	int64_t bytes;
	int bp;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cr_assert_eq(cnf_parse_space(ok[i].text, &bytes, &bp), 0, "%s refused", ok[i].text);
		cr_assert_eq(bytes, ok[i].bytes, "%s: %lld bytes", ok[i].text, (long long)bytes);
		cr_assert_eq(bp, ok[i].bp, "%s: %d bp", ok[i].text, bp);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(cnf_parse_space(bad[i], &bytes, &bp), -1, "\"%s\" taken", bad[i]);
	cr_assert_eq(cnf_parse_space(NULL, &bytes, &bp), -1);
}

/* min_free: default 2%; bytes or a percentage; at most 50%. */
Test(config, min_free_values, .init = setup, .fini = teardown)
{
	struct sw_config *cfg = load_ok(DROP_OK);

	cr_expect_eq(cfg->min_free_bp, 200);
	cr_expect_eq(cfg->min_free_bytes, 0);
	cnf_free(cfg);
	cfg = load_ok("min_free = \"64M\";\n" DROP_OK);
	cr_expect_eq(cfg->min_free_bp, 0);
	cr_expect_eq(cfg->min_free_bytes, 64 << 20);
	cnf_free(cfg);
	cfg = load_ok("min_free = 0;\n" DROP_OK);
	cr_expect_eq(cfg->min_free_bp, 0);
	cr_expect_eq(cfg->min_free_bytes, 0);
	cnf_free(cfg);
}

/* ------------------------------------------------------------------ */
/* cnf_expand, cnf_template_ok                                         */
/* ------------------------------------------------------------------ */

struct xcase {
	const char *tmpl;
	const char *want;   /* NULL: refused */
};

static const struct xcase expand_cases[] = {
	{ "", "" },
	{ "plain", "plain" },
	{ "{file}", "/d/in/a b.sea" },
	{ "{name}", "a b.sea" },
	{ "{relpath}", "dev 1/a b.sea" },
	{ "{drop}", "logs" },
	{ "{attempt}", "12" },
	{ "--in={file} #{attempt} of {drop}/{name}", "--in=/d/in/a b.sea #12 of logs/a b.sea" },
	{ "{file}{file}", "/d/in/a b.sea/d/in/a b.sea" },
	{ "{{", "{" },
	{ "}}", "}" },
	{ "{{file}}", "{file}" },
	{ "{{{file}}}", "{/d/in/a b.sea}" },
	{ "a{{b}}c", "a{b}c" },
	{ "{fil}", NULL },
	{ "{files}", NULL },
	{ "{FILE}", NULL },
	{ "{}", NULL },
	{ "{", NULL },
	{ "}", NULL },
	{ "a{b", NULL },
	{ "a}b", NULL },
	{ "{file", NULL },
	{ "{{file}", NULL },
	{ "{file}}", NULL },
	{ "{ file}", NULL },
	{ "{{{", NULL },
};

ParameterizedTestParameters(config_expand, table)
{
	return indices(N_OF(expand_cases));
}

ParameterizedTest(int *i, config_expand, table)
{
	const struct xcase *tc = &expand_cases[*i];
	char buf[256];
	/* A file of a recursive drop: {name} is its last component. */
	int r = cnf_expand(tc->tmpl, "/d/in/a b.sea", "dev 1/a b.sea", "logs", 12, buf, sizeof buf);

	if (tc->want) {
		cr_assert_eq(r, (int)strlen(tc->want), "\"%s\" -> %d", tc->tmpl, r);
		cr_assert_str_eq(buf, tc->want);
		cr_assert_eq(cnf_template_ok(tc->tmpl), 1, "\"%s\"", tc->tmpl);
	} else {
		cr_assert_eq(r, -1, "\"%s\" expanded to \"%s\"", tc->tmpl, buf);
		cr_assert_eq(cnf_template_ok(tc->tmpl), 0, "\"%s\"", tc->tmpl);
	}
}

/* The result must fit with its NUL: exactly strlen + 1 bytes is enough. */
Test(config_expand, buffer_size)
{
	const char *want = "x=/f.sea n=7";
	size_t len = strlen(want);
	char buf[64];

	for (size_t sz = 0; sz <= len + 1; sz++) {
		memset(buf, '#', sizeof buf);
		int r = cnf_expand("x={file} n={attempt}", "/f.sea", "f.sea", "d", 7, buf, sz);

		if (sz <= len) {
			cr_assert_eq(r, -1, "size %zu", sz);
			for (size_t i = sz; i < sizeof buf; i++)
				cr_assert_eq(buf[i], '#', "wrote past %zu bytes", sz);
		} else {
			cr_assert_eq(r, (int)len);
			cr_assert_str_eq(buf, want);
		}
	}
	cr_assert_eq(cnf_expand("{{", NULL, NULL, NULL, 1, buf, 1), -1);
	cr_assert_eq(cnf_expand("{{", NULL, NULL, NULL, 1, buf, 2), 1);
	cr_assert_str_eq(buf, "{");
}

/* A file at the top of the drop: {relpath} and {name} are the same. */
Test(config_expand, relpath_at_the_top)
{
	char buf[64];

	cr_assert_eq(cnf_expand("{relpath}|{name}", "/s/x.sea", "x.sea", "d", 1, buf, sizeof buf), 11);
	cr_assert_str_eq(buf, "x.sea|x.sea");
	cr_assert_eq(cnf_expand("{relpath}|{name}", "/s/x.sea", "a/b/x.sea", "d", 1, buf, sizeof buf), 15);
	cr_assert_str_eq(buf, "a/b/x.sea|x.sea");
}

Test(config_expand, attempt_extremes)
{
	char buf[32];

	cr_assert_eq(cnf_expand("{attempt}", "", "", "", -1, buf, sizeof buf), 2);
	cr_assert_str_eq(buf, "-1");

	cr_assert_eq(cnf_expand("{attempt}", "", "", "", INT_MAX, buf, sizeof buf), 10);
	cr_assert_str_eq(buf, "2147483647");
}

/* ------------------------------------------------------------------ */
/* Who may change what (issue 7)                                       */
/* ------------------------------------------------------------------ */

/* Whoever can write the config chooses the commands. */
Test(config, config_writable_by_others, .init = setup, .fini = teardown)
{
	char *errs, want[PATH_MAX + 64];

	write_conf(DROP_OK);
	cr_assert_eq(chmod(conf, 0666), 0);
	errs = NULL;
	cr_assert_null(cnf_load(conf, &errs));
	snprintf(want, sizeof want, "%s: writable by others (mode 0666)", conf);
	cr_assert(errs && strstr(errs, want), "%s", errs);
	free(errs);
	cr_assert_eq(chmod(conf, 0644), 0);
	cr_assert_eq(chown(conf, 65534, 65534), 0);
	errs = NULL;
	cr_assert_null(cnf_load(conf, &errs));
	cr_assert(errs && strstr(errs, "owner uid 65534"), "%s", errs);
	free(errs);
}

/* A command others could rewrite, or replace through its directory. */
Test(config, command_others_can_change, .init = setup, .fini = teardown)
{
	char p[PATH_MAX], *errs;

	snprintf(p, sizeof p, "%s/bin/proc.sh", root);
	cr_assert_eq(chmod(p, 0775), 0);
	cr_assert_eq(chown(p, 0, 12345), 0);
	errs = load_err(DROP_CMD("[ \"bin/proc.sh\" ]"));
	cr_assert(has_error(errs, conf, "3: drops[0].command[0]", "writable by others"), "%s", errs);
	free(errs);
	cr_assert_eq(chown(p, 0, 0), 0);
	cr_assert_eq(chmod(p, 0755), 0);
	snprintf(p, sizeof p, "%s/bin", root);
	cr_assert_eq(chmod(p, 0777), 0);
	errs = load_err(DROP_CMD("[ \"bin/proc.sh\" ]"));
	cr_assert(has_error(errs, conf, "3: drops[0].command[0]", "can be replaced by others"),
		  "%s", errs);
	free(errs);
}

/* As root, commands never run as root on a drop others can write. */
Test(config, root_commands_on_an_open_drop, .init = setup, .fini = teardown)
{
	char p[PATH_MAX], *errs;
	struct sw_config *cfg;

	if (geteuid() != 0)
		cr_skip("needs root");
	snprintf(p, sizeof p, "%s/in", root);
	cr_assert_eq(chmod(p, 01777), 0);
	errs = load_err(DROP_DIRS("\"a\"", "\"in\"", "\"done\"", "\"failed\""));
	cr_assert(has_error(errs, conf, "3: drops[0].path", "commands would run as root"), "%s", errs);
	free(errs);
	cfg = load_ok("user = \"nobody\";\n" DROP_OK);
	cr_assert_eq(cfg->run_uid, 65534);
	cr_assert_str_eq(cfg->run_home, "/nonexistent");
	cnf_free(cfg);
}

/* Paths others could swap (a parent they own): a warning, not an error. */
Test(config, paths_others_can_change_are_warned_about, .init = setup, .fini = teardown)
{
	char p[PATH_MAX];
	struct sw_config *cfg;

	snprintf(p, sizeof p, "%s/in2", root);
	cr_assert_eq(chown(p, 65534, 65534), 0);
	put_dir("in2/done");
	cfg = load_ok("drops = ( { name = \"a\"; path = \"in\"; done = \"in2/done\";\n"
		      "  failed = \"failed\"; command = [ \"bin/proc.sh\" ]; } );\n");
	cr_assert_not_null(cfg->warnings);
	cr_assert(strstr(cfg->warnings, ":1: drops[0].done: warning: others can change"),
		  "%s", cfg->warnings);
	cr_assert(strstr(cfg->warnings, "owner uid 65534"), "%s", cfg->warnings);
	cnf_free(cfg);
	cfg = load_ok(DROP_OK);
	cr_assert_null(cfg->warnings, "%s", cfg->warnings);
	cr_assert(cfg->drops[0].spool && !strcmp(strrchr(cfg->drops[0].spool, '/'), "/.seawatch"),
		  "default spool: %s", cfg->drops[0].spool);
	cnf_free(cfg);
}

/* ------------------------------------------------------------------ */
/* Config input (issue 8, item 6)                                      */
/* ------------------------------------------------------------------ */

/* A FIFO given as the config (or @included) blocked the daemon in fopen:
 * at start, and on SIGHUP with the loop stalled.  Refused unopened. */
Test(config, fifo_config_is_refused_at_once, .init = setup, .fini = teardown, .timeout = 10)
{
	char fifo[PATH_MAX + 16], *errs = NULL, want[PATH_MAX + 64];

	snprintf(fifo, sizeof fifo, "%s/fifo.conf", root);
	cr_assert_eq(mkfifo(fifo, 0644), 0);
	cr_assert_null(cnf_load(fifo, &errs));
	snprintf(want, sizeof want, "%s: not a regular file\n", fifo);
	cr_assert_str_eq(errs, want);
	free(errs);
	write_conf("@include \"@/fifo.conf\"\n" DROP_OK);
	errs = load_err("@include \"@/fifo.conf\"\n" DROP_OK);
	cr_assert(has_error(errs, conf, "1: @include", "not a regular file"), "%s", errs);
	free(errs);
}

/* libconfig's scanner is quadratic in a token's length (one 10 MB line:
 * ~50 s): a config, or an @included file, over 1 MiB is refused unread. */
Test(config, huge_config_is_refused_unread, .init = setup, .fini = teardown, .timeout = 10)
{
	char big[PATH_MAX + 16], *errs = NULL;
	FILE *f;

	snprintf(big, sizeof big, "%s/etc/big.conf", root);
	f = fopen(big, "w");
	cr_assert_not_null(f);
	fputs("# ", f);
	for (int i = 0; i < (2 << 20); i++)
		fputc('x', f);
	fputs("\n", f);
	fclose(f);
	cr_assert_null(cnf_load(big, &errs));
	cr_assert(errs && strstr(errs, "larger than 1048576 bytes"), "%s", errs);
	free(errs);
	errs = load_err("@include \"@/etc/big.conf\"\n" DROP_OK);
	cr_assert(has_error(errs, conf, "1: @include", "larger than"), "%s", errs);
	free(errs);
}
