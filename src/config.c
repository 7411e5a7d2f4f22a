/*
 * config.c - libconfig file -> validated struct sw_config (see config.h).
 *
 * Owns: the table of settings, their types, ranges and defaults, the
 * checks that need the file system (directories, executables, users) and
 * the checks across drops.  Every problem found is appended to one error
 * text, "FILE:LINE: SETTING: PROBLEM" per line, so that an operator fixes
 * the whole file in one go instead of one error per restart.
 *
 * Nothing here prints, exits or keeps state between calls: cnf_load() may
 * run again on SIGHUP while the old config is still in use.
 *
 * Also owns the small command-template language ({file} {name} {drop}
 * {attempt}, "{{" and "}}" for literal braces), so that what cnf_load()
 * accepts and what cnf_expand() can expand never drift apart.
 */
#include "config.h"
#include "trust.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libconfig.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MS_SECOND INT64_C(1000)
#define MS_MINUTE (60 * MS_SECOND)
#define MS_HOUR   (60 * MS_MINUTE)
#define MS_DAY    (24 * MS_HOUR)

#define MAX_WORKERS   256
#define MAX_QUEUE     1048576
#define MAX_NAME      64
#define MAX_ARGS      64
#define MAX_ARG_BYTES 4096
#define MAX_NO_RETRY  64
#define MAX_DROPS     1024
#define MAX_CONFIG_BYTES (1 << 20)
#define MAX_INCLUDE_DEPTH 10

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* ------------------------------------------------------------------ */
/* The settings table                                                  */
/* ------------------------------------------------------------------ */

enum kind {
	K_INT,       /* int, min..max */
	K_DURATION,  /* int64_t ms, min..max ms */
	K_ENUM,      /* int index into words[] */
	K_USER,      /* char *, an existing user */
	K_GROUP,     /* char *, an existing group */
	K_PATTERN,   /* char *, non-empty glob without '/' */
	K_CODES,     /* int * + count at off_n, each min..max */
	K_NAME,      /* char *, [A-Za-z0-9_.-]{1,64} */
	K_DIR,       /* char *, an existing directory, canonical */
	K_WDIR,      /* K_DIR, and writable */
	K_SPOOL,     /* char *, a directory that may not exist yet, canonical */
	K_OUTFILE,   /* char *, a file the daemon writes: its directory exists,
		      * writable; canonical; the name not a dot-name */
	K_SOCKET,    /* char *, an absolute path for a Unix socket, or "": none */
	K_BOOL,      /* int 0/1, true or false */
	K_SIZE,      /* int64_t bytes: 1048576, "500M", "2G" (default -1: unset) */
	K_SPACE,     /* int64_t bytes at off, int hundredths of a percent at
		      * off_n (one of them 0): "64M", "2G", 1048576, "2%" */
	K_COMMAND,   /* char ** + count at off_n */
	K_DEFAULTS,  /* the defaults group (top level only) */
	K_DROPS,     /* the drops list (top level only) */
};

#define F_REQUIRED  0x1  /* must be present */
#define F_DROP_ONLY 0x2  /* not allowed in defaults */
#define F_NCPUS     0x4  /* default: online CPUs, clamped to min..max */

struct opt {
	const char *name;
	enum kind kind;
	int64_t min, max;         /* value range (ms for durations) */
	int64_t def;              /* default of numbers and enums */
	const char *sdef;         /* default of strings (NULL: none) */
	size_t off;               /* where it goes in the struct */
	size_t off_n;             /* K_CODES, K_COMMAND: the element count */
	unsigned flags;
	const char *const *words; /* K_ENUM: accepted values, by index */
};

static const char *const log_levels[] = { "error", "warning", "info", "debug", NULL };
static const char *const log_targets[] = { "stderr", "syslog", NULL };
static const char *const affinities[] = { "spread", "none", NULL };
static const char *const protocols[] = { "exec", "lines", NULL };

/* Stored through an int *, like the K_INT fields. */
_Static_assert(sizeof(enum sw_log_level) == sizeof(int), "enum is not int-sized");
_Static_assert(sizeof(enum sw_log_target) == sizeof(int), "enum is not int-sized");
_Static_assert(sizeof(enum sw_affinity) == sizeof(int), "enum is not int-sized");

/* Columns: name, kind, min, max, default, string default, offset,
 * offset of the element count, flags, words. */
#define G(field) offsetof(struct sw_config, field)
#define D(field) offsetof(struct sw_drop, field)

static const struct opt global_opts[] = {
	{ "workers",        K_INT,      1, MAX_WORKERS, 1, NULL, G(workers), 0, F_NCPUS, NULL },
	{ "queue_size",     K_INT,      1, MAX_QUEUE, 1024, NULL, G(queue_size), 0, 0, NULL },
	{ "log_level",      K_ENUM,     0, 0, SW_LOG_INFO, NULL, G(log_level), 0, 0, log_levels },
	{ "log_target",     K_ENUM,     0, 0, SW_LOG_STDERR, NULL, G(log_target), 0, 0, log_targets },
	{ "cpu_affinity",   K_ENUM,     0, 0, SW_AFFINITY_SPREAD, NULL, G(cpu_affinity), 0, 0, affinities },
	{ "shutdown_grace", K_DURATION, 0, MS_HOUR, 30 * MS_SECOND, NULL, G(shutdown_grace_ms), 0, 0, NULL },
	{ "min_free",       K_SPACE,    0, 5000, 200, NULL, G(min_free_bytes), G(min_free_bp), 0, NULL },
	{ "control_socket", K_SOCKET,   0, 0, 0, NULL, G(control_socket), 0, 0, NULL },
	{ "metrics_file",   K_OUTFILE,  0, 0, 0, NULL, G(metrics_file), 0, 0, NULL },
	{ "metrics_interval", K_DURATION, MS_SECOND, MS_HOUR, 15 * MS_SECOND, NULL,
	  G(metrics_interval_ms), 0, 0, NULL },
	{ "user",           K_USER,     0, 0, 0, NULL, G(user), 0, 0, NULL },
	{ "group",          K_GROUP,    0, 0, 0, NULL, G(group), 0, 0, NULL },
	{ "defaults",       K_DEFAULTS, 0, 0, 0, NULL, 0, 0, 0, NULL },
	{ "drops",          K_DROPS,    0, 0, 0, NULL, 0, 0, F_REQUIRED, NULL },
	{ NULL, 0, 0, 0, 0, NULL, 0, 0, 0, NULL }
};

static const struct opt drop_opts[] = {
	{ "name",        K_NAME,     0, 0, 0, NULL, D(name), 0, F_REQUIRED | F_DROP_ONLY, NULL },
	{ "path",        K_DIR,      0, 0, 0, NULL, D(path), 0, F_REQUIRED | F_DROP_ONLY, NULL },
	/* SPEC §3: done and failed may be set once in defaults. */
	{ "done",        K_WDIR,     0, 0, 0, NULL, D(done), 0, F_REQUIRED, NULL },
	{ "failed",      K_WDIR,     0, 0, 0, NULL, D(failed), 0, F_REQUIRED, NULL },
	{ "spool",       K_SPOOL,    0, 0, 0, NULL, D(spool), 0, 0, NULL },
	{ "command",     K_COMMAND,  0, 0, 0, NULL, D(command), D(argc), F_REQUIRED | F_DROP_ONLY, NULL },
	{ "pattern",     K_PATTERN,  0, 0, 0, "*.sea", D(pattern), 0, 0, NULL },
	{ "timeout",     K_DURATION, 10, 7 * MS_DAY, 5 * MS_MINUTE, NULL, D(timeout_ms), 0, 0, NULL },
	{ "retries",     K_INT,      0, 100, 3, NULL, D(retries), 0, 0, NULL },
	{ "backoff",     K_DURATION, 0, MS_DAY, 10 * MS_SECOND, NULL, D(backoff_ms), 0, 0, NULL },
	{ "backoff_max", K_DURATION, 0, 7 * MS_DAY, 10 * MS_MINUTE, NULL, D(backoff_max_ms), 0, 0, NULL },
	{ "kill_grace",  K_DURATION, 0, MS_HOUR, 5 * MS_SECOND, NULL, D(kill_grace_ms), 0, 0, NULL },
	{ "no_retry",    K_CODES,    1, 255, 0, NULL, D(no_retry), D(n_no_retry), 0, NULL },
	{ "settle",      K_DURATION, 0, MS_HOUR, 0, NULL, D(settle_ms), 0, 0, NULL },
	/* SPEC §10: one process per attempt, or one per worker fed lines. */
	{ "protocol",    K_ENUM,     0, 0, SW_PROTO_EXEC, NULL, D(protocol), 0, 0, protocols },
	{ "max_jobs",    K_INT,      0, 1000000000, 0, NULL, D(max_jobs), 0, 0, NULL },
	/* SPEC §9: files in subdirectories, down to max_depth levels. */
	{ "recursive",   K_BOOL,     0, 1, 0, NULL, D(recursive), 0, 0, NULL },
	{ "max_depth",   K_INT,      1, SW_DEPTH_MAX, 8, NULL, D(max_depth), 0, 0, NULL },
	/* Retention: unset (-1) keeps everything. */
	{ "keep_done",   K_DURATION, 0, 3650 * MS_DAY, -1, NULL, D(keep_done_ms), 0, 0, NULL },
	{ "keep_failed", K_DURATION, 0, 3650 * MS_DAY, -1, NULL, D(keep_failed_ms), 0, 0, NULL },
	{ "keep_done_size", K_SIZE, 0, INT64_C(1) << 50, -1, NULL, D(keep_done_size), 0, 0, NULL },
	{ "keep_failed_size", K_SIZE, 0, INT64_C(1) << 50, -1, NULL, D(keep_failed_size), 0, 0, NULL },
	{ NULL, 0, 0, 0, 0, NULL, 0, 0, 0, NULL }
};

#undef G
#undef D

#define FIELD(base, o, type) ((type *)(void *)((char *)(base) + (o)))

static const struct opt *opt_find(const struct opt *table, const char *name)
{
	for (const struct opt *o = table; o->name; o++)
		if (strcmp(o->name, name) == 0)
			return o;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Error collection                                                    */
/* ------------------------------------------------------------------ */

struct ctx {
	const char *file;  /* as given: the FILE of every message */
	char *dir;         /* its directory: base of relative paths */
	char *errs;        /* the lines so far */
	size_t len, cap;
	char *warns;       /* warnings: "FILE:LINE: SETTING: warning: ..." */
	size_t wlen, wcap;
	int n_errs;
	int oom;           /* an allocation failed: say so, once */
};

static void text_append(struct ctx *c, char **buf, size_t *len, size_t *capp,
			const char *text)
{
	size_t n = strlen(text);

	if (*len + n + 1 > *capp) {
		size_t cap = *capp ? *capp : 256;
		char *p;

		while (*len + n + 1 > cap)
			cap *= 2;
		p = realloc(*buf, cap);
		if (!p) {
			c->oom = 1;
			return;
		}
		*buf = p;
		*capp = cap;
	}
	memcpy(*buf + *len, text, n + 1);
	*len += n;
}

static void err_append(struct ctx *c, const char *text)
{
	text_append(c, &c->errs, &c->len, &c->cap, text);
}

/* Append "FILE:LINE: SETTING: PROBLEM\n"; LINE < 0 and SETTING NULL leave
 * their parts out (a file that cannot be opened has neither).  A WARNING
 * ("warning: PROBLEM") goes to the warnings and fails nothing. */
static void msg_vadd(struct ctx *c, int warning, const char *file, int line,
		     const char *setting, const char *fmt, va_list ap)
{
	const char *sep = setting ? ": " : "";
	char *msg = NULL, *all = NULL;
	int r;

	if (!setting)
		setting = "";
	if (vasprintf(&msg, fmt, ap) < 0) {
		c->oom = 1;
		return;
	}
	if (line >= 0)
		r = asprintf(&all, "%s:%d: %s%s%s%s\n", file, line, setting, sep,
			     warning ? "warning: " : "", msg);
	else
		r = asprintf(&all, "%s: %s%s%s%s\n", file, setting, sep,
			     warning ? "warning: " : "", msg);
	free(msg);
	if (r < 0) {
		c->oom = 1;
		return;
	}
	if (warning) {
		text_append(c, &c->warns, &c->wlen, &c->wcap, all);
	} else {
		err_append(c, all);
		c->n_errs++;
	}
	free(all);
}

static void err_vadd(struct ctx *c, const char *file, int line,
		     const char *setting, const char *fmt, va_list ap)
{
	msg_vadd(c, 0, file, line, setting, fmt, ap);
}

static void err_add(struct ctx *c, const char *file, int line,
		    const char *setting, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void err_add(struct ctx *c, const char *file, int line,
		    const char *setting, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vadd(c, file, line, setting, fmt, ap);
	va_end(ap);
}

/* The dotted name of S into BUF: "workers", "defaults.timeout",
 * "drops[1].command[0]".  Returns its length (truncated to fit). */
static size_t setting_path(const config_setting_t *s, char *buf, size_t sz)
{
	const char *name;
	size_t n;
	int r;

	if (!s || config_setting_is_root(s)) {
		buf[0] = '\0';
		return 0;
	}
	n = setting_path(config_setting_parent(s), buf, sz);
	name = config_setting_name(s);
	if (name)
		r = snprintf(buf + n, sz - n, "%s%s", n ? "." : "", name);
	else
		r = snprintf(buf + n, sz - n, "[%d]", config_setting_index(s));
	if (r > 0)
		n += (size_t)r;
	return n < sz ? n : sz - 1;
}

/* The file a setting came from: an @include'd one, or the one given. */
static const char *setting_file(struct ctx *c, const config_setting_t *s)
{
	const char *f = config_setting_source_file(s);

	return f ? f : c->file;
}

/* The root group has no line of its own: point at the top of the file. */
static int setting_line(const config_setting_t *s)
{
	int line = (int)config_setting_source_line(s);

	return line > 0 ? line : 1;
}

static void err_at(struct ctx *c, const config_setting_t *s,
		   const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void err_at(struct ctx *c, const config_setting_t *s,
		   const char *fmt, ...)
{
	char path[512];
	va_list ap;

	setting_path(s, path, sizeof path);
	va_start(ap, fmt);
	err_vadd(c, setting_file(c, s), setting_line(s), path, fmt, ap);
	va_end(ap);
}

static void warn_at(struct ctx *c, const config_setting_t *s,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void warn_at(struct ctx *c, const config_setting_t *s,
		    const char *fmt, ...)
{
	char path[512];
	va_list ap;

	setting_path(s, path, sizeof path);
	va_start(ap, fmt);
	msg_vadd(c, 1, setting_file(c, s), setting_line(s), path, fmt, ap);
	va_end(ap);
}

/* KEY is missing from GROUP: report it at the line of GROUP. */
static void err_missing(struct ctx *c, const config_setting_t *group,
			const char *key)
{
	char path[512];
	size_t n = setting_path(group, path, sizeof path);

	snprintf(path + n, sizeof path - n, "%s%s", n ? "." : "", key);
	err_add(c, setting_file(c, group), setting_line(group), path,
		"required setting is missing");
}

/* ------------------------------------------------------------------ */
/* Durations                                                           */
/* ------------------------------------------------------------------ */

/*
 * Grammar: DIGITS [ "." DIGITS ] [ "ms" | "s" | "m" | "h" ], nothing else:
 * no sign, no blanks ("5 m" is refused), no exponent, no leading or
 * trailing dot.  Fractions are exact to 9 digits and the result is rounded
 * to the nearest millisecond.  Anything that would overflow int64 ms fails.
 */
int cnf_parse_duration(const char *text, int64_t *ms)
{
	static const struct { const char *suffix; int64_t ms; } units[] = {
		{ "", MS_SECOND }, { "ms", 1 }, { "s", MS_SECOND },
		{ "m", MS_MINUTE }, { "h", MS_HOUR }, { "d", MS_DAY },
	};
	const char *p = text;
	int64_t whole = 0, frac = 0, scale = 1, unit = -1, total;

	if (!p || !isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		int d = *p - '0';

		if (whole > (INT64_MAX - d) / 10)
			return -1;
		whole = whole * 10 + d;
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		for (; isdigit((unsigned char)*p); p++) {
			if (scale < INT64_C(1000000000)) {
				frac = frac * 10 + (*p - '0');
				scale *= 10;
			}
		}
	}
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strcmp(p, units[i].suffix) == 0)
			unit = units[i].ms;
	if (unit < 0 || whole > INT64_MAX / unit)
		return -1;
	total = whole * unit;
	/* frac < 1e9 and unit <= 3.6e6: the product fits easily. */
	frac = (frac * unit + scale / 2) / scale;
	if (total > INT64_MAX - frac)
		return -1;
	*ms = total + frac;
	return 0;
}

/* "30s", "5m", "1500ms", "168h": the largest unit that divides exactly. */
static const char *fmt_duration(int64_t ms, char *buf, size_t sz)
{
	if (ms != 0 && ms % MS_HOUR == 0)
		snprintf(buf, sz, "%lldh", (long long)(ms / MS_HOUR));
	else if (ms != 0 && ms % MS_MINUTE == 0)
		snprintf(buf, sz, "%lldm", (long long)(ms / MS_MINUTE));
	else if (ms % MS_SECOND == 0)
		snprintf(buf, sz, "%llds", (long long)(ms / MS_SECOND));
	else
		snprintf(buf, sz, "%lldms", (long long)ms);
	return buf;
}

/* ------------------------------------------------------------------ */
/* Command templates                                                   */
/* ------------------------------------------------------------------ */

enum tok { T_END, T_TEXT, T_FILE, T_NAME, T_RELPATH, T_DROP, T_ATTEMPT, T_BAD };

static const struct { const char *name; enum tok tok; } placeholders[] = {
	{ "file", T_FILE }, { "name", T_NAME }, { "relpath", T_RELPATH }, { "drop", T_DROP },
	{ "attempt", T_ATTEMPT },
};

/*
 * Next token of the template at *P, advancing *P.  T_TEXT: literal text
 * [*S, *S + *N) ("{{" and "}}" yield one brace).  T_BAD: the offending
 * text [*S, *S + *N), "{...}" or a lone brace, and *P is not advanced.
 */
static enum tok tmpl_token(const char **p, const char **s, size_t *n)
{
	const char *q = *p;

	*s = q;
	*n = 0;
	if (*q == '\0')
		return T_END;
	if ((q[0] == '{' && q[1] == '{') || (q[0] == '}' && q[1] == '}')) {
		*n = 1;
		*p = q + 2;
		return T_TEXT;
	}
	if (*q == '{') {
		size_t len = strcspn(q + 1, "{}");

		if (q[1 + len] == '}') {
			for (size_t i = 0; i < sizeof placeholders / sizeof placeholders[0]; i++) {
				if (strlen(placeholders[i].name) == len &&
				    strncmp(q + 1, placeholders[i].name, len) == 0) {
					*p = q + len + 2;
					return placeholders[i].tok;
				}
			}
			*n = len + 2;
		} else {
			*n = 1;
		}
		return T_BAD;
	}
	if (*q == '}') {
		*n = 1;
		return T_BAD;
	}
	*n = strcspn(q, "{}");
	*p = q + *n;
	return T_TEXT;
}

/* The first bad placeholder of TMPL (length in *N), or NULL. */
static const char *tmpl_bad(const char *tmpl, size_t *n)
{
	const char *p = tmpl, *s;
	enum tok t;

	while ((t = tmpl_token(&p, &s, n)) != T_END)
		if (t == T_BAD)
			return s;
	return NULL;
}

/* The first placeholder of TMPL that differs per file (all but {drop}),
 * its length in *N; or NULL. */
static const char *tmpl_per_file(const char *tmpl, size_t *n)
{
	const char *p = tmpl, *s;
	enum tok t;

	while ((t = tmpl_token(&p, &s, n)) != T_END) {
		if (t == T_TEXT || t == T_DROP)
			continue;
		*n = (size_t)(p - s);
		return s;
	}
	return NULL;
}

int cnf_template_ok(const char *tmpl)
{
	size_t n;

	return tmpl && !tmpl_bad(tmpl, &n);
}

int cnf_expand(const char *tmpl, const char *file, const char *name,
	       const char *drop, int attempt, char *dst, size_t dstsz)
{
	const char *p = tmpl, *s, *base = name ? strrchr(name, '/') : NULL;
	char num[24];
	size_t n = 0, len = 0;
	enum tok t;

	if (!tmpl || !dst || dstsz == 0)
		return -1;
	snprintf(num, sizeof num, "%d", attempt);
	while ((t = tmpl_token(&p, &s, &n)) != T_END) {
		switch (t) {
		case T_TEXT:                                  break;
		case T_FILE:    s = file ? file : "";         n = strlen(s); break;
		case T_NAME:    s = base ? base + 1 : name ? name : ""; n = strlen(s); break;
		case T_RELPATH: s = name ? name : "";         n = strlen(s); break;
		case T_DROP:    s = drop ? drop : "";         n = strlen(s); break;
		case T_ATTEMPT: s = num;                      n = strlen(s); break;
		default:        dst[0] = '\0';                return -1;
		}
		if (n >= dstsz - len) {
			dst[0] = '\0';
			return -1;
		}
		memcpy(dst + len, s, n);
		len += n;
	}
	dst[len] = '\0';
	return len > INT_MAX ? -1 : (int)len;
}

/* ------------------------------------------------------------------ */
/* Paths                                                               */
/* ------------------------------------------------------------------ */

/* PATH made absolute against the config file's directory (malloc'd). */
static char *path_join(const char *dir, const char *path)
{
	char *r;

	if (path[0] == '/')
		return strdup(path);
	if (asprintf(&r, "%s/%s", dir, path) < 0)
		return NULL;
	return r;
}

static int is_executable_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	       access(path, X_OK) == 0;
}

/*
 * 1 (reported) if others than root and the daemon could change the program
 * PATH runs: the file (its target, for a symlink) or a directory on its way.
 * A command runs for every file, as the daemon or as user: whoever can
 * rewrite it runs code with those rights.
 */
static int command_unsafe(struct ctx *c, const config_setting_t *s, const char *path)
{
	char why[PATH_MAX + 64];
	struct stat st;

	char *real = realpath(path, NULL);
	int bad = 0;

	if (stat(path, &st) == 0 && (trust_others_can_change(&st, why, sizeof why) ||
				     (real && trust_acl_writable(real, &st) &&
				      snprintf(why, sizeof why, "an ACL") > 0))) {
		err_at(c, s, "%s is writable by others (%s): only root or the daemon's "
		       "user may own and write it", path, why);
		bad = 1;
	} else if (trust_path_unsafe(path, 1, why, sizeof why) > 0 ||
		   /* a symlink's target, and the way to it, count too */
		   (real && strcmp(real, path) && trust_path_unsafe(real, 1, why, sizeof why) > 0)) {
		err_at(c, s, "%s can be replaced by others: %s is writable by them", path, why);
		bad = 1;
	}
	free(real);
	return bad;
}

/* 1 if CHILD is PARENT or below it (both canonical). */
static int path_inside(const char *child, const char *parent)
{
	size_t n = strlen(parent);

	if (strcmp(parent, "/") == 0)
		return 1;
	return strncmp(child, parent, n) == 0 && (child[n] == '/' || child[n] == '\0');
}

/*
 * command[0] with a '/': relative to the config's directory, with the
 * directory part canonicalised.  The last component is kept as written,
 * so a symlink to a multi-call binary (busybox) still runs as the applet
 * it names.
 */
static char *command_by_path(struct ctx *c, const config_setting_t *s,
			     const char *cmd)
{
	char *full = path_join(c->dir, cmd), *slash, *dir, *r = NULL;

	if (!full) {
		c->oom = 1;
		return NULL;
	}
	slash = strrchr(full, '/');
	*slash = '\0';
	dir = realpath(full[0] ? full : "/", NULL);
	if (!dir)
		err_at(c, s, "cannot resolve \"%s\": %s", cmd, strerror(errno));
	else if (asprintf(&r, "%s/%s", strcmp(dir, "/") ? dir : "", slash + 1) < 0)
		r = NULL, c->oom = 1;
	free(dir);
	free(full);
	if (r && !is_executable_file(r)) {
		err_at(c, s, "not an executable file: %s", r);
		free(r);
		r = NULL;
	}
	if (r && command_unsafe(c, s, r)) {
		free(r);
		r = NULL;
	}
	return r;
}

/*
 * command[0] without a '/': the first executable file of that name in
 * $PATH, like execvp(3), except that empty and relative entries are
 * skipped so the daemon's cwd never counts.
 */
static char *command_in_path(struct ctx *c, const config_setting_t *s,
			     const char *cmd)
{
	const char *env = getenv("PATH");
	char *copy, *save = NULL, *r = NULL;

	if (!env)
		env = DEFAULT_PATH;
	if (!(copy = strdup(env))) {
		c->oom = 1;
		return NULL;
	}
	for (char *d = strtok_r(copy, ":", &save); d && !r; d = strtok_r(NULL, ":", &save)) {
		if (d[0] != '/')
			continue;
		if (asprintf(&r, "%s/%s", d, cmd) < 0) {
			r = NULL;
			c->oom = 1;
			break;
		}
		if (!is_executable_file(r)) {
			free(r);
			r = NULL;
		}
	}
	free(copy);
	if (!r && !c->oom)
		err_at(c, s, "not found in PATH: %s (searched %s)", cmd, env);
	if (r && command_unsafe(c, s, r)) {
		free(r);
		r = NULL;
	}
	return r;
}

/* PATH (absolute, missing) as its canonical parent + its last component;
 * NULL (reported) if the parent cannot be resolved. */
static char *resolve_missing(struct ctx *c, const config_setting_t *s, char *path)
{
	char *slash, *parent, *r = NULL;

	while ((slash = strrchr(path, '/')) && slash[1] == '\0' && slash != path)
		*slash = '\0';
	slash = strrchr(path, '/');
	if (!strcmp(slash + 1, ".") || !strcmp(slash + 1, "..")) {
		err_at(c, s, "cannot resolve %s", path);
		return NULL;
	}
	*slash = '\0';
	parent = realpath(path[0] ? path : "/", NULL);
	if (!parent)
		err_at(c, s, "cannot resolve the parent of %s/%s: %s", path, slash + 1,
		       strerror(errno));
	else if (asprintf(&r, "%s/%s", strcmp(parent, "/") ? parent : "", slash + 1) < 0)
		r = NULL, c->oom = 1;
	free(parent);
	return r;
}

/* A directory setting: canonical absolute path, or NULL after an error.
 * HOW: 0 an existing directory, 1 and writable, 2 one the daemon makes if
 * it is missing (the spool; its parent must exist). */
static char *resolve_dir(struct ctx *c, const config_setting_t *s,
			 const char *path, int how)
{
	char *full, *r;
	struct stat st;

	if (path[0] == '\0') {
		err_at(c, s, "must not be empty");
		return NULL;
	}
	full = path_join(c->dir, path);
	if (!full) {
		c->oom = 1;
		return NULL;
	}
	r = realpath(full, NULL);
	if (!r && how == 2 && errno == ENOENT) {
		r = resolve_missing(c, s, full);
		free(full);
		return r;
	}
	if (!r) {
		err_at(c, s, "cannot resolve %s: %s", full, strerror(errno));
		free(full);
		return NULL;
	}
	free(full);
	if (stat(r, &st) != 0 || !S_ISDIR(st.st_mode)) {
		err_at(c, s, "not a directory: %s", r);
		free(r);
		return NULL;
	}
	if (how == 1 && access(r, W_OK | X_OK) != 0) {
		err_at(c, s, "not writable: %s (%s)", r, strerror(errno));
		free(r);
		return NULL;
	}
	return r;
}

/* ------------------------------------------------------------------ */
/* Values                                                              */
/* ------------------------------------------------------------------ */

static int is_int(const config_setting_t *s)
{
	int t = config_setting_type(s);

	return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
}

static int get_int(struct ctx *c, const config_setting_t *s,
		   const struct opt *o, int64_t *v)
{
	if (!is_int(s)) {
		err_at(c, s, "expected an integer");
		return -1;
	}
	*v = config_setting_get_int64(s);
	if (*v < o->min || *v > o->max) {
		err_at(c, s, "must be between %lld and %lld (got %lld)",
		       (long long)o->min, (long long)o->max, (long long)*v);
		return -1;
	}
	return 0;
}

static int get_duration(struct ctx *c, const config_setting_t *s,
			const struct opt *o, int64_t *ms)
{
	/* Far beyond any maximum, far inside int64 ms. */
	const int64_t lim_s = INT64_C(1000000000000);
	char got[64], lo[32], hi[32];

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: {
		int64_t v = config_setting_get_int64(s);

		if (v > lim_s || v < -lim_s) {
			snprintf(got, sizeof got, "%llds", (long long)v);
			goto range;
		}
		*ms = v * MS_SECOND;
		break;
	}
	case CONFIG_TYPE_FLOAT: {
		double v = config_setting_get_float(s);

		/* Written so that NaN fails too. */
		if (!(v <= (double)lim_s && v >= -(double)lim_s)) {
			snprintf(got, sizeof got, "%gs", v);
			goto range;
		}
		*ms = (int64_t)(v * 1000.0 + (v < 0 ? -0.5 : 0.5));
		break;
	}
	case CONFIG_TYPE_STRING: {
		const char *text = config_setting_get_string(s);

		if (cnf_parse_duration(text, ms) != 0) {
			err_at(c, s, "not a duration: \"%s\" (use seconds, or a string "
			       "like \"250ms\", \"30s\", \"5m\", \"1h\", \"7d\")", text);
			return -1;
		}
		break;
	}
	default:
		err_at(c, s, "expected a duration (seconds, or a string like \"30s\")");
		return -1;
	}
	if (*ms >= o->min && *ms <= o->max)
		return 0;
	if (*ms < 0)
		snprintf(got, sizeof got, "-%s", fmt_duration(-*ms, lo, sizeof lo));
	else
		fmt_duration(*ms, got, sizeof got);
range:
	err_at(c, s, "must be between %s and %s (got %s)",
	       fmt_duration(o->min, lo, sizeof lo),
	       fmt_duration(o->max, hi, sizeof hi), got);
	return -1;
}

static const char *get_string(struct ctx *c, const config_setting_t *s)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		err_at(c, s, "expected a string");
		return NULL;
	}
	return config_setting_get_string(s);
}

static int name_ok(struct ctx *c, const config_setting_t *s, const char *v)
{
	size_t n = strlen(v);

	if (n < 1 || n > MAX_NAME) {
		err_at(c, s, "must be 1 to %d characters long (got %zu)", MAX_NAME, n);
		return 0;
	}
	if (strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		   "0123456789_.-") != n) {
		err_at(c, s, "may only contain A-Z a-z 0-9 _ . - (got \"%s\")", v);
		return 0;
	}
	/* They would name a directory's self or parent wherever the drop
	 * name is used as a file name component. */
	if (strcmp(v, ".") == 0 || strcmp(v, "..") == 0) {
		err_at(c, s, "must not be \".\" or \"..\"");
		return 0;
	}
	return 1;
}

static int pattern_ok(struct ctx *c, const config_setting_t *s, const char *v)
{
	if (v[0] == '\0') {
		err_at(c, s, "must not be empty");
		return 0;
	}
	if (strchr(v, '/')) {
		err_at(c, s, "must not contain '/' (it matches file names, not paths)");
		return 0;
	}
	return 1;
}

static int aggregate_ok(const config_setting_t *s)
{
	return config_setting_is_array(s) || config_setting_is_list(s);
}

/* no_retry: every element an int in range; a NULL list when empty. */
static int get_codes(struct ctx *c, const config_setting_t *s,
		     const struct opt *o, int **codes, int *n)
{
	int len, bad = 0;
	int *v;

	if (!aggregate_ok(s)) {
		err_at(c, s, "expected an array or list of integers");
		return -1;
	}
	len = config_setting_length(s);
	if (len > MAX_NO_RETRY) {
		err_at(c, s, "at most %d exit codes (got %d)", MAX_NO_RETRY, len);
		return -1;
	}
	if (len == 0) {
		*codes = NULL;
		*n = 0;
		return 0;
	}
	v = calloc((size_t)len, sizeof *v);
	if (!v) {
		c->oom = 1;
		return -1;
	}
	for (int i = 0; i < len; i++) {
		int64_t x;

		if (get_int(c, config_setting_get_elem(s, (unsigned)i), o, &x) != 0)
			bad = 1;
		else
			v[i] = (int)x;
	}
	if (bad) {
		free(v);
		return -1;
	}
	*codes = v;
	*n = len;
	return 0;
}

static void free_argv(char **argv)
{
	if (!argv)
		return;
	for (char **a = argv; *a; a++)
		free(*a);
	free(argv);
}

static int get_command(struct ctx *c, const config_setting_t *s,
		       char ***argvp, int *argcp)
{
	char **argv;
	int len, bad = 0;

	if (!aggregate_ok(s)) {
		err_at(c, s, "expected an array or list of strings");
		return -1;
	}
	len = config_setting_length(s);
	if (len == 0) {
		err_at(c, s, "must not be empty");
		return -1;
	}
	if (len > MAX_ARGS) {
		err_at(c, s, "at most %d elements (got %d)", MAX_ARGS, len);
		return -1;
	}
	argv = calloc((size_t)len + 1, sizeof *argv);
	if (!argv) {
		c->oom = 1;
		return -1;
	}
	for (int i = 0; i < len; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v = get_string(c, e), *badp;
		size_t n = 0;

		if (!v) {
			bad = 1;
			continue;
		}
		if (strlen(v) > MAX_ARG_BYTES) {
			err_at(c, e, "longer than %d bytes (got %zu)", MAX_ARG_BYTES, strlen(v));
			bad = 1;
			continue;
		}
		if ((badp = tmpl_bad(v, &n)) != NULL) {
			err_at(c, e, "unknown placeholder \"%.*s\" (known: {file} {name} "
			       "{relpath} {drop} {attempt}; {{ and }} for braces)", (int)n, badp);
			bad = 1;
			continue;
		}
		if (i > 0) {
			if (!(argv[i] = strdup(v)))
				c->oom = 1;
		} else if (v[0] == '\0') {
			err_at(c, e, "must not be empty");
		} else if (strpbrk(v, "{}")) {
			/* The program must be known now, not per file. */
			err_at(c, e, "must not contain placeholders or braces");
		} else {
			argv[i] = strchr(v, '/') ? command_by_path(c, e, v)
						  : command_in_path(c, e, v);
		}
		if (!argv[i])
			bad = 1;
	}
	if (bad) {
		/* argv may have holes: free by index. */
		for (int i = 0; i < len; i++)
			free(argv[i]);
		free(argv);
		return -1;
	}
	*argvp = argv;
	*argcp = len;
	return 0;
}

/* Store the string DUP (or note the allocation failure) at O in BASE. */
static int set_string(struct ctx *c, const struct opt *o, void *base, char *dup)
{
	if (!dup) {
		c->oom = 1;
		return -1;
	}
	free(*FIELD(base, o->off, char *));
	*FIELD(base, o->off, char *) = dup;
	return 0;
}

static int set_enum(struct ctx *c, const config_setting_t *s,
		    const struct opt *o, void *base)
{
	const char *str = get_string(c, s);
	char list[128] = "";

	if (!str)
		return -1;
	for (int i = 0; o->words[i]; i++) {
		if (strcmp(o->words[i], str) == 0) {
			*FIELD(base, o->off, int) = i;
			return 0;
		}
	}
	for (int i = 0; o->words[i]; i++)
		snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
			 i ? ", " : "", o->words[i]);
	err_at(c, s, "must be one of %s (got \"%s\")", list, str);
	return -1;
}

/* Parse setting S as option O into the struct at BASE: 0, or -1 after
 * reporting the problem (BASE keeps its old value then). */
static int set_value(struct ctx *c, const config_setting_t *s,
		     const struct opt *o, void *base)
{
	const char *str;
	int64_t v;

	switch (o->kind) {
	case K_INT:
		if (get_int(c, s, o, &v) != 0)
			return -1;
		*FIELD(base, o->off, int) = (int)v;
		return 0;
	case K_DURATION:
		if (get_duration(c, s, o, &v) != 0)
			return -1;
		*FIELD(base, o->off, int64_t) = v;
		return 0;
	case K_ENUM:
		return set_enum(c, s, o, base);
	case K_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
			err_at(c, s, "expected true or false");
			return -1;
		}
		*FIELD(base, o->off, int) = config_setting_get_bool(s);
		return 0;
	case K_USER:
	case K_GROUP:
		if (!(str = get_string(c, s)))
			return -1;
		if (o->kind == K_USER ? !getpwnam(str) : !getgrnam(str)) {
			err_at(c, s, "no such %s: \"%s\"",
			       o->kind == K_USER ? "user" : "group", str);
			return -1;
		}
		return set_string(c, o, base, strdup(str));
	case K_PATTERN:
		if (!(str = get_string(c, s)) || !pattern_ok(c, s, str))
			return -1;
		return set_string(c, o, base, strdup(str));
	case K_NAME:
		if (!(str = get_string(c, s)) || !name_ok(c, s, str))
			return -1;
		return set_string(c, o, base, strdup(str));
	case K_DIR:
	case K_WDIR:
	case K_SPOOL: {
		char *dir;

		if (!(str = get_string(c, s)))
			return -1;
		if (!(dir = resolve_dir(c, s, str, o->kind == K_WDIR ? 1 :
					o->kind == K_SPOOL ? 2 : 0)))
			return -1;
		return set_string(c, o, base, dir);
	}
	case K_OUTFILE: {
		/* Its directory resolved like done/'s; the name kept as given
		 * (the file may not exist yet; it is replaced, not written in
		 * place: a temporary beside it, then a rename). */
		const char *slash, *name;
		char *dirpart, *dir, *full;
		size_t dl;

		if (!(str = get_string(c, s)))
			return -1;
		slash = strrchr(str, '/');
		name = slash ? slash + 1 : str;
		if (!name[0] || name[0] == '.') {
			err_at(c, s, "want a path to a file whose name does not start with a "
			       "dot: \"%s\"", str);
			return -1;
		}
		dl = slash ? (size_t)(slash - str) : 0;
		dirpart = slash ? strndup(str, dl ? dl : 1) : strdup(".");
		if (!dirpart) {
			c->oom = 1;
			return -1;
		}
		dir = resolve_dir(c, s, dirpart, 1);
		free(dirpart);
		if (!dir)
			return -1;
		if (asprintf(&full, "%s/%s", strcmp(dir, "/") ? dir : "", name) < 0) {
			free(dir);
			c->oom = 1;
			return -1;
		}
		free(dir);
		return set_string(c, o, base, full);
	}
	case K_SPACE: {
		int64_t bytes = 0;
		int bp = 0;

		if (config_setting_type(s) == CONFIG_TYPE_INT ||
		    config_setting_type(s) == CONFIG_TYPE_INT64) {
			bytes = config_setting_get_int64(s);
			if (bytes < 0 || bytes > (INT64_C(1) << 60)) {
				err_at(c, s, "must be a size of 0 or more bytes (got %lld)",
				       (long long)bytes);
				return -1;
			}
		} else if (config_setting_type(s) != CONFIG_TYPE_STRING ||
			   cnf_parse_space(config_setting_get_string(s), &bytes, &bp) != 0) {
			err_at(c, s, "not a size: want bytes (1048576), \"64M\", \"2G\" or a "
			       "percentage of the file system (\"2%%\")");
			return -1;
		} else if (bp > o->max) {
			err_at(c, s, "at most %lld.%02lld%% (got %d.%02d%%)", (long long)(o->max / 100),
			       (long long)(o->max % 100), bp / 100, bp % 100);
			return -1;
		}
		*FIELD(base, o->off, int64_t) = bytes;
		*FIELD(base, o->off_n, int) = bp;
		return 0;
	}
	case K_SIZE: {
		int64_t bytes = 0;
		int bp = 0;

		if (config_setting_type(s) == CONFIG_TYPE_INT ||
		    config_setting_type(s) == CONFIG_TYPE_INT64) {
			bytes = config_setting_get_int64(s);
		} else if (config_setting_type(s) != CONFIG_TYPE_STRING ||
			   cnf_parse_space(config_setting_get_string(s), &bytes, &bp) != 0 || bp) {
			err_at(c, s, "not a size: want bytes (1048576), \"500M\" or \"2G\"");
			return -1;
		}
		if (bytes < o->min || bytes > o->max) {
			err_at(c, s, "must be between %lld and %lld bytes (got %lld)",
			       (long long)o->min, (long long)o->max, (long long)bytes);
			return -1;
		}
		*FIELD(base, o->off, int64_t) = bytes;
		return 0;
	}
	case K_SOCKET: {
		/* Its directory may not exist yet (/run/seawatch is made at
		 * start): checked then, not here.  Relative: to the config's
		 * directory, as every path. */
		const char *slash;
		char *full;

		if (!(str = get_string(c, s)))
			return -1;
		if (!str[0])
			return 0;   /* off */
		slash = strrchr(str, '/');
		if (!(slash ? slash[1] : str[0]) || (slash ? slash[1] : str[0]) == '.') {
			err_at(c, s, "want a path to a socket whose name does not start with a "
			       "dot: \"%s\"", str);
			return -1;
		}
		if (!(full = str[0] == '/' ? strdup(str) : path_join(c->dir, str))) {
			c->oom = 1;
			return -1;
		}
		if (strlen(full) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			err_at(c, s, "too long for a Unix socket (at most %zu bytes): \"%s\"",
			       sizeof(((struct sockaddr_un *)0)->sun_path) - 1, full);
			free(full);
			return -1;
		}
		return set_string(c, o, base, full);
	}
	case K_CODES: {
		int *codes, n;

		if (get_codes(c, s, o, &codes, &n) != 0)
			return -1;
		free(*FIELD(base, o->off, int *));
		*FIELD(base, o->off, int *) = codes;
		*FIELD(base, o->off_n, int) = n;
		return 0;
	}
	case K_COMMAND: {
		char **argv;
		int n;

		if (get_command(c, s, &argv, &n) != 0)
			return -1;
		free_argv(*FIELD(base, o->off, char **));
		*FIELD(base, o->off, char **) = argv;
		*FIELD(base, o->off_n, int) = n;
		return 0;
	}
	case K_DEFAULTS:
	case K_DROPS:
		break; /* groups: parsed by the caller */
	}
	return 0;
}

/* Built-in defaults of a table into BASE. */
static int set_defaults(const struct opt *table, void *base)
{
	for (const struct opt *o = table; o->name; o++) {
		switch (o->kind) {
		case K_INT:
		case K_ENUM:
		case K_BOOL:
			*FIELD(base, o->off, int) = (int)o->def;
			if (o->flags & F_NCPUS) {
				long n = sysconf(_SC_NPROCESSORS_ONLN);

				*FIELD(base, o->off, int) =
					n < o->min ? (int)o->min : n > o->max ? (int)o->max : (int)n;
			}
			break;
		case K_DURATION:
			*FIELD(base, o->off, int64_t) = o->def;
			break;
		case K_SIZE:
			*FIELD(base, o->off, int64_t) = o->def;
			break;
		case K_SPACE:
			*FIELD(base, o->off, int64_t) = 0;
			*FIELD(base, o->off_n, int) = (int)o->def;
			break;
		case K_PATTERN:
			if (o->sdef && !(*FIELD(base, o->off, char *) = strdup(o->sdef)))
				return -1;
			break;
		default:
			break;
		}
	}
	return 0;
}

int cnf_parse_space(const char *text, int64_t *bytes, int *bp)
{
	static const struct { char suffix; int shift; } units[] = {
		{ '\0', 0 }, { 'K', 10 }, { 'M', 20 }, { 'G', 30 }, { 'T', 40 },
	};
	const char *p = text;
	int64_t whole = 0, frac = 0, scale = 1;

	if (!p || !isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		if (whole > (INT64_MAX - 9) / 10)
			return -1;
		whole = whole * 10 + (*p - '0');
	}
	if (*p == '.') {
		if (!isdigit((unsigned char)*++p))
			return -1;
		for (; isdigit((unsigned char)*p); p++)
			if (scale < 1000000) {
				frac = frac * 10 + (*p - '0');
				scale *= 10;
			}
	}
	if (!strcmp(p, "%")) {
		if (whole > 100)
			return -1;
		*bytes = 0;
		*bp = (int)(whole * 100 + (frac * 100 + scale / 2) / scale);
		return 0;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (p[0] != units[i].suffix || (p[0] && p[1] && strcmp(p + 1, "B") &&
						 strcmp(p + 1, "iB")))
			continue;
		if (whole > (INT64_C(1) << 50) >> units[i].shift || (!units[i].shift && frac))
			return -1;   /* a pebibyte is plenty; no fractional byte */
		*bytes = (whole << units[i].shift) +
			 (int64_t)((frac << units[i].shift) / scale);
		*bp = 0;
		return 0;
	}
	return -1;
}

/* ------------------------------------------------------------------ */
/* Drops                                                               */
/* ------------------------------------------------------------------ */

static void drop_free(struct sw_drop *d)
{
	free(d->name);
	free(d->path);
	free(d->done);
	free(d->failed);
	free(d->spool);
	free_argv(d->command);
	free(d->pattern);
	free(d->no_retry);
}

/* A drop starts as a deep copy of the defaults. */
static int drop_copy(struct sw_drop *dst, const struct sw_drop *src)
{
	*dst = *src;
	dst->name = dst->path = NULL;
	dst->done = src->done ? strdup(src->done) : NULL;
	dst->failed = src->failed ? strdup(src->failed) : NULL;
	dst->spool = src->spool ? strdup(src->spool) : NULL;
	dst->command = NULL;
	dst->argc = 0;
	dst->pattern = src->pattern ? strdup(src->pattern) : NULL;
	dst->no_retry = NULL;
	if (src->n_no_retry > 0) {
		dst->no_retry = malloc((size_t)src->n_no_retry * sizeof *dst->no_retry);
		if (dst->no_retry)
			memcpy(dst->no_retry, src->no_retry,
			       (size_t)src->n_no_retry * sizeof *dst->no_retry);
	}
	if ((src->pattern && !dst->pattern) || (src->n_no_retry > 0 && !dst->no_retry) ||
	    (src->done && !dst->done) || (src->failed && !dst->failed) ||
	    (src->spool && !dst->spool)) {
		drop_free(dst);
		memset(dst, 0, sizeof *dst);
		return -1;
	}
	return 0;
}

/*
 * Parse GROUP's members as drop settings into D.  IN_DEFAULTS refuses the
 * drop-only ones.  Then check what needs the final values.
 */
static void parse_drop_group(struct ctx *c, const config_setting_t *group,
			     struct sw_drop *d, int in_defaults)
{
	int n = config_setting_length(group), bad_backoff = 0;
	const config_setting_t *b, *bm;

	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const struct opt *o = opt_find(drop_opts, config_setting_name(s));

		if (!o)
			err_at(c, s, opt_find(global_opts, config_setting_name(s))
			       ? "unknown setting (only allowed at top level)"
			       : "unknown setting");
		else if (in_defaults && (o->flags & F_DROP_ONLY))
			err_at(c, s, "only allowed in a drop");
		else if (set_value(c, s, o, d) != 0 && o->kind == K_DURATION &&
			 strncmp(o->name, "backoff", 7) == 0)
			bad_backoff = 1;
	}
	if (!in_defaults)
		for (const struct opt *o = drop_opts; o->name; o++)
			if ((o->flags & F_REQUIRED) && !config_setting_get_member(group, o->name) &&
			    !((o->flags & F_DROP_ONLY) == 0 && *(char **)((char *)d + o->off)) &&
			    /* keep_done = 0: done files are deleted; no done/ needed. */
			    !(o->off == offsetof(struct sw_drop, done) && d->keep_done_ms == 0))
				err_missing(c, group, o->name);

	/* A persistent command gets its files on stdin: its argv is the same
	 * for every file, so {drop} is all it may name.  Said where the
	 * protocol or the command is set. */
	if (!in_defaults && d->protocol == SW_PROTO_LINES && d->command &&
	    (config_setting_get_member(group, "protocol") ||
	     config_setting_get_member(group, "command"))) {
		const config_setting_t *cm = config_setting_get_member(group, "command");

		for (int i = 1; i < d->argc; i++) {
			const char *t;
			size_t tl;

			if ((t = tmpl_per_file(d->command[i], &tl))) {
				err_at(c, cm ? config_setting_get_elem(cm, (unsigned)i) : group,
				       "%.*s: with protocol = \"lines\" only {drop} may be used "
				       "(the files come on the command's stdin)", (int)tl, t);
				break;
			}
		}
	}

	/* Checked where backoff or backoff_max is set: an inconsistency
	 * inherited from defaults was reported there, once.  Not after a bad
	 * value: the comparison would be with the value it failed to replace. */
	b = config_setting_get_member(group, "backoff");
	bm = config_setting_get_member(group, "backoff_max");
	if ((b || bm) && !bad_backoff && d->backoff_max_ms < d->backoff_ms) {
		char x[32], y[32];

		err_at(c, bm ? bm : b, "backoff_max (%s) must not be less than backoff (%s)",
		       fmt_duration(d->backoff_max_ms, x, sizeof x),
		       fmt_duration(d->backoff_ms, y, sizeof y));
	}
}

/* Checks across drops, once each drop is parsed. */
static void check_drops(struct ctx *c, const config_setting_t *list,
			const struct sw_config *cfg)
{
	static const char *const outs[] = { "done", "failed" };

	for (int i = 0; i < cfg->n_drops; i++) {
		const struct sw_drop *d = &cfg->drops[i];
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);

		if (!config_setting_is_group(g))
			continue;
		for (int j = 0; d->name && j < i; j++) {
			if (cfg->drops[j].name && strcmp(d->name, cfg->drops[j].name) == 0) {
				err_at(c, config_setting_get_member(g, "name"),
				       "duplicate drop name \"%s\" (first at line %d)",
				       d->name, cfg->drops[j].line);
				break;
			}
		}
		for (int j = 0; d->path && d->pattern && j < i; j++) {
			const struct sw_drop *e = &cfg->drops[j];

			if (e->path && e->pattern && strcmp(d->path, e->path) == 0 &&
			    strcmp(d->pattern, e->pattern) == 0) {
				err_at(c, config_setting_get_member(g, "path"),
				       "same path and pattern as drop \"%s\" (line %d)",
				       e->name ? e->name : "?", e->line);
				break;
			}
		}
		/* A drop below a recursive one: its files would be the other's
		 * too, and one directory has one inotify watch (whose events
		 * would go to one of them). */
		for (int j = 0; d->path && j < cfg->n_drops; j++) {
			const struct sw_drop *e = &cfg->drops[j];

			if (j != i && e->path && e->recursive && strcmp(d->path, e->path) &&
			    path_inside(d->path, e->path)) {
				err_at(c, config_setting_get_member(g, "path"),
				       "inside drop \"%s\" (%s), which is recursive: its files "
				       "would be that drop's too", e->name ? e->name : "?", e->path);
				break;
			}
		}
		for (int k = 0; k < 2; k++) {
			const char *out = k == 0 ? d->done : d->failed;
			int64_t age = k == 0 ? d->keep_done_ms : d->keep_failed_ms;
			int64_t size = k == 0 ? d->keep_done_size : d->keep_failed_size;

			/* One directory, one retention: whose would apply? */
			for (int j = 0; out && j <= i; j++) {
				const struct sw_drop *e = &cfg->drops[j];

				for (int l = 0; l < 2; l++) {
					const char *eo = l == 0 ? e->done : e->failed;

					if ((j == i && l >= k) || !eo || strcmp(eo, out))
						continue;
					if ((l == 0 ? e->keep_done_ms : e->keep_failed_ms) != age ||
					    (l == 0 ? e->keep_done_size : e->keep_failed_size) != size) {
						const config_setting_t *m =
							config_setting_get_member(g, outs[k]);

						err_at(c, m ? m : g, "%s %s is also %s of drop \"%s\" "
						       "with another retention (keep_*): one directory, "
						       "one retention", outs[k], out, outs[l],
						       e->name ? e->name : "?");
						l = 2;
						j = i + 1;
					}
				}
			}
			for (int j = 0; out && j < cfg->n_drops; j++) {
				const struct sw_drop *e = &cfg->drops[j];

				if (e->path && path_inside(out, e->path)) {
					const config_setting_t *m =
						config_setting_get_member(g, outs[k]);

					/* Inherited from defaults: say so, on the drop. */
					err_at(c, m ? m : g,
					       "%s%s%s is inside the watched directory of drop \"%s\" (%s)",
					       m ? "" : outs[k], m ? "" : " (from defaults) ",
					       out, e->name ? e->name : "?", e->path);
					break;
				}
			}
		}
	}
}

/* The default spool of a drop at PATH: its parent's .seawatch (malloc'd). */
static char *default_spool(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *r;

	if (asprintf(&r, "%.*s/.seawatch", (int)(slash - path), path) < 0)
		return NULL;
	return r;
}

/* A drop others may add files to: another owner, or a group or world write
 * bit (sticky or not: a 1777 drop is open to everybody). */
static int open_to_others(const char *path, const struct stat *st, char *why, size_t sz)
{
	if (trust_others_can_change(st, why, sz))
		return 1;
	if (trust_acl_writable(path, st)) {
		snprintf(why, sz, "an ACL lets others write");
		return 1;
	}
	if ((st->st_mode & S_IWOTH) ||
	    ((st->st_mode & S_IWGRP) && st->st_gid != 0 && st->st_gid != getegid())) {
		snprintf(why, sz, "mode %04o", (unsigned)(st->st_mode & 07777));
		return 1;
	}
	return 0;
}

/* SPOOL of drop D (group G): out of the drops and of done/ and failed/, on
 * D's file system (a claim is a rename), and out of others' reach. */
static void check_spool(struct ctx *c, const config_setting_t *g,
			const struct sw_config *cfg, const struct sw_drop *d)
{
	const config_setting_t *m = config_setting_get_member(g, "spool");
	const char *from = m ? "" : " (the default; set spool to move it)";
	char why[PATH_MAX + 64], parent[PATH_MAX];
	struct stat st, dst;
	int exists;

	if (!m)
		m = g;
	for (int j = 0; j < cfg->n_drops; j++) {
		const struct sw_drop *e = &cfg->drops[j];

		if (e->path && (path_inside(d->spool, e->path) || path_inside(e->path, d->spool))) {
			err_at(c, m, "spool %s%s is inside (or holds) the watched directory of "
			       "drop \"%s\" (%s): uploaders must not reach it", d->spool, from,
			       e->name ? e->name : "?", e->path);
			return;
		}
	}
	if ((d->done && (path_inside(d->done, d->spool) || path_inside(d->spool, d->done))) ||
	    (d->failed && (path_inside(d->failed, d->spool) || path_inside(d->spool, d->failed)))) {
		err_at(c, m, "spool %s%s must be apart from done and failed", d->spool, from);
		return;
	}
	exists = lstat(d->spool, &st) == 0;
	snprintf(parent, sizeof parent, "%s", d->spool);
	*strrchr(parent, '/') = '\0';
	if (!exists && stat(parent[0] ? parent : "/", &st) != 0) {
		err_at(c, m, "spool %s%s: cannot reach its parent: %s", d->spool, from,
		       strerror(errno));
		return;
	}
	if (stat(d->path, &dst) == 0 && dst.st_dev != st.st_dev) {
		err_at(c, m, "spool %s%s is on another file system than the drop %s: files "
		       "are claimed by a rename (a drop cannot be the root of a file system)",
		       d->spool, from, d->path);
		return;
	}
	if (exists && S_ISDIR(st.st_mode) && st.st_uid != geteuid() &&
	    !(st.st_mode & (S_IWGRP | S_IRWXO))) {
		/* Made by a run as another user (root first, the service's
		 * user later, or the reverse): say what gives it over. */
		struct passwd *owner = getpwuid(st.st_uid), *me = getpwuid(geteuid());
		struct group *grp = getgrgid(getegid());
		char who[64], chown_to[160];

		snprintf(who, sizeof who, "%s", owner ? owner->pw_name : "?");
		if (me && grp)
			snprintf(chown_to, sizeof chown_to, "%s:%s", me->pw_name, grp->gr_name);
		else
			snprintf(chown_to, sizeof chown_to, "%ld:%ld", (long)geteuid(),
				 (long)getegid());
		err_at(c, m, "spool %s%s belongs to uid %ld (%s), not to this daemon's uid %ld: "
		       "a run as another user made it; to run as uid %ld, give it over: "
		       "chown -R %s %s", d->spool, from, (long)st.st_uid, who, (long)geteuid(),
		       (long)geteuid(), chown_to, d->spool);
		return;
	}
	if (exists && (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
		       (st.st_mode & (S_IWGRP | S_IRWXO)))) {
		err_at(c, m, "spool %s%s is not the daemon's: %s, owner uid %ld, mode %04o "
		       "(want a directory of uid %ld that others cannot enter)", d->spool, from,
		       S_ISDIR(st.st_mode) ? "a directory" : "not a directory", (long)st.st_uid,
		       (unsigned)(st.st_mode & 07777), (long)geteuid());
		return;
	}
	if (trust_path_unsafe(d->spool, 1, why, sizeof why) > 0)
		err_at(c, m, "spool %s%s can be reached by others: %s is writable by them",
		       d->spool, from, why);
}

/*
 * What the file system says about who else can act: the spool of each
 * drop, commands that would run as root on a drop others can write, and
 * (as warnings) paths others could swap under the daemon.
 */
static void check_trust(struct ctx *c, const config_setting_t *list, struct sw_config *cfg)
{
	int root_cmds = geteuid() == 0 && (!cfg->user || cfg->run_uid == 0);
	char why[PATH_MAX + 64];

	for (int i = 0; i < cfg->n_drops; i++) {
		struct sw_drop *d = &cfg->drops[i];
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i), *m;
		static const char *const outs[] = { "done", "failed" };
		struct stat st;

		if (!config_setting_is_group(g) || !d->path || !d->name)
			continue;
		if (!d->spool && !(d->spool = default_spool(d->path))) {
			c->oom = 1;
			return;
		}
		check_spool(c, g, cfg, d);
		m = config_setting_get_member(g, "path");
		if (!m)
			m = g;
		if (root_cmds && stat(d->path, &st) == 0 &&
		    (open_to_others(d->path, &st, why, sizeof why) ||
		     trust_path_unsafe(d->path, 1, why, sizeof why) > 0))
			err_at(c, m, "others can write %s (%s) and commands would run as root: "
			       "set user (and group) to run them as an unprivileged user",
			       d->path, why);
		else if (trust_path_unsafe(d->path, 1, why, sizeof why) > 0)
			warn_at(c, m, "others can replace %s: %s", d->path, why);
		for (int k = 0; k < 2; k++) {
			const char *out = k ? d->failed : d->done;

			m = config_setting_get_member(g, outs[k]);
			if (out && trust_path_unsafe(out, 0, why, sizeof why) > 0)
				warn_at(c, m ? m : g, "others can change or replace %s: %s", out, why);
		}
	}
}

static void parse_drops(struct ctx *c, const config_setting_t *list,
			const struct sw_drop *defs, struct sw_config *cfg)
{
	int n;

	if (!config_setting_is_aggregate(list)) {
		err_at(c, list, "expected a list of groups, like drops = ( { ... } )");
		return;
	}
	n = config_setting_length(list);
	if (n == 0) {
		err_at(c, list, "must contain at least one drop");
		return;
	}
	if (n > MAX_DROPS) {
		/* Seven descriptors each, and one inotify watch: a limit said
		 * here, not a drop silently left unwatched. */
		err_at(c, list, "at most %d drops (got %d)", MAX_DROPS, n);
		return;
	}
	if (!config_setting_is_list(list)) {
		err_at(c, list, "expected a list of groups, like drops = ( { ... } )");
		return;
	}
	cfg->drops = calloc((size_t)n, sizeof *cfg->drops);
	if (!cfg->drops) {
		c->oom = 1;
		return;
	}
	cfg->n_drops = n;
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);

		cfg->drops[i].line = setting_line(g);
		if (!config_setting_is_group(g)) {
			err_at(c, g, "expected a group { ... }");
			continue;
		}
		if (drop_copy(&cfg->drops[i], defs) != 0) {
			c->oom = 1;
			return;
		}
		cfg->drops[i].line = setting_line(g);
		parse_drop_group(c, g, &cfg->drops[i], 0);
	}
	check_drops(c, list, cfg);
	check_trust(c, list, cfg);
}

/* ------------------------------------------------------------------ */
/* Load                                                                */
/* ------------------------------------------------------------------ */

static char *dir_of(const char *file)
{
	const char *slash = strrchr(file, '/');

	if (!slash)
		return strdup(".");
	if (slash == file)
		return strdup("/");
	return strndup(file, (size_t)(slash - file));
}

/*
 * The text of a config file PATH (or of a file it @includes, at FROM:LINE),
 * malloc'd, or NULL after the problem is reported.  Only a regular file of
 * at most MAX_CONFIG_BYTES that others cannot write: a FIFO would block the
 * daemon (at start, or on SIGHUP, stalling the loop), and libconfig's
 * scanner takes time quadratic in a token's length (one 10 MB line: ~50 s).
 */
static char *read_checked(struct ctx *c, const char *path, const char *from, int line)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	const char *what = from ? "@include" : NULL;
	char why[64], *buf = NULL;
	size_t len = 0;
	struct stat st;
	ssize_t r;

	if (!from)
		from = path;
	if (fd < 0) {
		err_add(c, from, line, what, "%s%scannot open: %s", from != path ? path : "",
			from != path ? ": " : "", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		err_add(c, from, line, what, "%s%s%s", from != path ? path : "",
			from != path ? ": " : "", S_ISDIR(st.st_mode) ?
			"cannot open: Is a directory" : "not a regular file");
		goto out;
	}
	if (st.st_size > MAX_CONFIG_BYTES) {
		err_add(c, from, line, what, "%s%slarger than %d bytes (%lld)",
			from != path ? path : "", from != path ? ": " : "", MAX_CONFIG_BYTES,
			(long long)st.st_size);
		goto out;
	}
	/* Whoever can write the config chooses the commands. */
	if (trust_others_can_change(&st, why, sizeof why)) {
		err_add(c, from, line, what, "%s%swritable by others (%s): only root or the "
			"daemon's user may own and write it", from != path ? path : "",
			from != path ? ": " : "", why);
		goto out;
	}
	if (!(buf = malloc(MAX_CONFIG_BYTES + 1))) {
		c->oom = 1;
		goto out;
	}
	while (len <= MAX_CONFIG_BYTES &&
	       (r = read(fd, buf + len, MAX_CONFIG_BYTES + 1 - len)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err_add(c, from, line, what, "cannot read: %s", strerror(errno));
			free(buf);
			buf = NULL;
			goto out;
		}
		len += (size_t)r;
	}
	if (len > MAX_CONFIG_BYTES) {
		err_add(c, from, line, what, "larger than %d bytes", MAX_CONFIG_BYTES);
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[len] = '\0';
out:
	close(fd);
	return buf;
}

/* The files TEXT (of PATH) @includes, checked as read_checked() does, to
 * DEPTH: libconfig 1.5 opens them itself, with neither bound. */
static void check_includes(struct ctx *c, const char *path, const char *text, int depth)
{
	int line = 1;

	for (const char *p = text; *p; line++) {
		const char *end = strchr(p, '\n'), *q = p;

		while (*q == ' ' || *q == '\t')
			q++;
		if (!strncmp(q, "@include", 8)) {
			const char *open = strchr(q, '"'), *close = open ? strchr(open + 1, '"') : NULL;

			if (open && close && (!end || close < end)) {
				char *inc = strndup(open + 1, (size_t)(close - open - 1)), *t;

				if (!inc) {
					c->oom = 1;
					return;
				}
				if (depth >= MAX_INCLUDE_DEPTH)
					err_add(c, path, line, "@include", "%s: more than %d levels deep",
						inc, MAX_INCLUDE_DEPTH);
				else if ((t = read_checked(c, inc, path, line))) {
					check_includes(c, inc, t, depth + 1);
					free(t);
				}
				free(inc);
			}
		}
		if (!end)
			break;
		p = end + 1;
	}
}

static void parse_root(struct ctx *c, const config_setting_t *root,
		       struct sw_config *cfg)
{
	const config_setting_t *defaults = NULL, *drops = NULL;
	struct sw_drop defs;
	int n = config_setting_length(root);

	memset(&defs, 0, sizeof defs);
	if (set_defaults(global_opts, cfg) != 0 || set_defaults(drop_opts, &defs) != 0) {
		c->oom = 1;
		drop_free(&defs);
		return;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		const struct opt *o = opt_find(global_opts, config_setting_name(s));

		if (!o)
			err_at(c, s, opt_find(drop_opts, config_setting_name(s))
			       ? "unknown setting (drop settings go in \"defaults\" or a drop)"
			       : "unknown setting");
		else if (o->kind == K_DEFAULTS)
			defaults = s;
		else if (o->kind == K_DROPS)
			drops = s;
		else
			set_value(c, s, o, cfg);
	}
	cfg->run_uid = cfg->run_gid = -1;
	if (cfg->user) {
		struct passwd *pw = getpwnam(cfg->user);

		if (pw) {
			cfg->run_uid = (long)pw->pw_uid;
			cfg->run_gid = (long)pw->pw_gid;
			if (!(cfg->run_home = strdup(pw->pw_dir)))
				c->oom = 1;
		}
	}
	if (cfg->group) {
		struct group *gr = getgrnam(cfg->group);

		if (gr)
			cfg->run_gid = (long)gr->gr_gid;
	}
	/* defaults before drops, whatever their order in the file. */
	if (defaults) {
		if (!config_setting_is_group(defaults))
			err_at(c, defaults, "expected a group { ... }");
		else
			parse_drop_group(c, defaults, &defs, 1);
	}
	if (!drops)
		err_missing(c, root, "drops");
	else
		parse_drops(c, drops, &defs, cfg);
	drop_free(&defs);
}

struct sw_config *cnf_load(const char *file, char **errs)
{
	struct ctx c;
	struct sw_config *cfg;
	config_t lc;
	char *text;

	memset(&c, 0, sizeof c);
	c.file = file;
	*errs = NULL;
	cfg = calloc(1, sizeof *cfg);
	c.dir = dir_of(file);
	if (!cfg || !c.dir || !(cfg->file = strdup(file))) {
		c.oom = 1;
		goto out;
	}
	text = read_checked(&c, file, NULL, -1);
	if (!text)
		goto out;
	check_includes(&c, file, text, 0);
	if (c.n_errs) {
		free(text);
		goto out;   /* not handed to libconfig: it could block */
	}
	config_init(&lc);
	/* No include dir: libconfig 1.5 would prefix it to absolute
	 * @include paths too. */
	if (!config_read_string(&lc, text)) {
		/* The file is NULL unless the error is in an @include'd one. */
		const char *ef = config_error_file(&lc);

		err_add(&c, ef ? ef : file, config_error_line(&lc), "syntax", "%s",
			config_error_text(&lc));
	} else {
		parse_root(&c, config_root_setting(&lc), cfg);
	}
	config_destroy(&lc);
	free(text);
out:
	free(c.dir);
	if (c.oom) {
		char *line = NULL;

		if (asprintf(&line, "%s: out of memory while loading\n", file) >= 0) {
			err_append(&c, line);
			free(line);
		}
		c.n_errs++;
	}
	if (c.n_errs == 0) {
		cfg->warnings = c.warns;
		return cfg;
	}
	free(c.warns);
	cnf_free(cfg);
	*errs = c.errs ? c.errs : strdup("config: out of memory\n");
	return NULL;
}

void cnf_free(struct sw_config *cfg)
{
	if (!cfg)
		return;
	for (int i = 0; i < cfg->n_drops; i++)
		drop_free(&cfg->drops[i]);
	free(cfg->drops);
	free(cfg->user);
	free(cfg->group);
	free(cfg->run_home);
	free(cfg->warnings);
	free(cfg->metrics_file);
	free(cfg->control_socket);
	free(cfg->file);
	free(cfg);
}

void cnf_summary(const struct sw_config *cfg, FILE *out)
{
	char a[32], b[32], e[32], f[32];

	fprintf(out, "config %s: OK, %d drop%s\n", cfg->file, cfg->n_drops,
		cfg->n_drops == 1 ? "" : "s");
	fprintf(out, "workers=%d queue_size=%d log_level=%s log_target=%s cpu_affinity=%s "
		"shutdown_grace=%s user=%s group=%s\n",
		cfg->workers, cfg->queue_size, log_levels[cfg->log_level],
		log_targets[cfg->log_target], affinities[cfg->cpu_affinity],
		fmt_duration(cfg->shutdown_grace_ms, a, sizeof a),
		cfg->user ? cfg->user : "-", cfg->group ? cfg->group : "-");
	if (cfg->min_free_bp)
		fprintf(out, "min_free=%d.%02d%%\n", cfg->min_free_bp / 100, cfg->min_free_bp % 100);
	else
		fprintf(out, "min_free=%lld\n", (long long)cfg->min_free_bytes);
	for (int i = 0; i < cfg->n_drops; i++) {
		const struct sw_drop *d = &cfg->drops[i];

		fprintf(out, "drop %s: path=%s pattern=%s done=%s failed=%s command=",
			d->name, d->path, d->pattern, d->done ? d->done : "- (deleted)", d->failed);
		for (int k = 0; k < d->argc; k++)
			fprintf(out, "%s%s", k ? " " : "", d->command[k]);
		fprintf(out, " timeout=%s retries=%d backoff=%s backoff_max=%s "
			"kill_grace=%s no_retry=",
			fmt_duration(d->timeout_ms, a, sizeof a), d->retries,
			fmt_duration(d->backoff_ms, b, sizeof b),
			fmt_duration(d->backoff_max_ms, e, sizeof e),
			fmt_duration(d->kill_grace_ms, f, sizeof f));
		if (d->n_no_retry == 0)
			fputc('-', out);
		for (int k = 0; k < d->n_no_retry; k++)
			fprintf(out, "%s%d", k ? "," : "", d->no_retry[k]);
		fprintf(out, "\ndrop %s: spool=%s recursive=%s max_depth=%d settle=%s keep_done=%s "
			"keep_failed=%s keep_done_size=%lld keep_failed_size=%lld\n", d->name, d->spool,
			d->recursive ? "true" : "false", d->max_depth,
			fmt_duration(d->settle_ms, a, sizeof a),
			d->keep_done_ms < 0 ? "-" : fmt_duration(d->keep_done_ms, b, sizeof b),
			d->keep_failed_ms < 0 ? "-" : fmt_duration(d->keep_failed_ms, e, sizeof e),
			(long long)d->keep_done_size, (long long)d->keep_failed_size);
	}
}
