/*
 * config.h - the validated configuration (owned by src/config.c).
 *
 * cnf_load() turns a libconfig file into a struct sw_config, or into a list
 * of "file:line: setting: problem" lines.  Nothing here touches the spool.
 */
#ifndef SW_CONFIG_H
#define SW_CONFIG_H

/* The deepest max_depth accepted: a drop's subdirectories, levels down. */
#define SW_DEPTH_MAX 32

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

enum sw_log_level { SW_LOG_ERROR = 0, SW_LOG_WARNING, SW_LOG_INFO, SW_LOG_DEBUG };
enum sw_log_target { SW_LOG_STDERR = 0, SW_LOG_SYSLOG };
/* Where workers run: worker i on the i-th allowed CPU, or wherever the
 * scheduler puts them. */
enum sw_affinity { SW_AFFINITY_SPREAD = 0, SW_AFFINITY_NONE };

/* How a drop's command runs (SPEC §10). */
enum sw_protocol {
	SW_PROTO_EXEC,    /* one process per attempt */
	SW_PROTO_LINES,   /* one per worker, one path per line on its stdin */
};

struct sw_drop {
	char *name;            /* unique, [A-Za-z0-9_.-]+ */
	char *path;            /* absolute, canonical (realpath) */
	char *done;            /* absolute, canonical */
	char *failed;          /* absolute, canonical */
	char *spool;           /* absolute, canonical: claimed files wait under
				* SPOOL/NAME/ (default: the drop's parent's
				* .seawatch), on the drop's file system */
	char **command;        /* argc entries + NULL; command[0] absolute */
	int argc;
	char *pattern;         /* fnmatch(3) glob on the base name */
	int64_t timeout_ms;    /* per attempt */
	int retries;           /* retries after the first attempt */
	int64_t backoff_ms;    /* delay before the first retry */
	int64_t backoff_max_ms;
	int64_t kill_grace_ms; /* SIGTERM, then SIGKILL after this */
	int protocol;          /* enum sw_protocol (SPEC §10) */
	int max_jobs;          /* lines: a command is restarted after this many jobs (0: never) */
	int recursive;         /* files in subdirectories too (SPEC §9) */
	int max_depth;         /* ... at most this many levels down */
	int64_t settle_ms;     /* a file is taken once unchanged this long (0: at its close) */
	int64_t keep_done_ms;  /* retention: older files of done/ are deleted; -1: keep */
	int64_t keep_failed_ms;
	int64_t keep_done_size; /* ... and the oldest beyond this many bytes; -1: keep */
	int64_t keep_failed_size;
	int *no_retry;         /* exit codes that fail at once */
	int n_no_retry;
	int line;              /* line of the drop's group in the file */
};

struct sw_config {
	char *file;            /* the path it was loaded from */
	int workers;
	int queue_size;
	enum sw_log_level log_level;
	enum sw_log_target log_target;
	enum sw_affinity cpu_affinity;
	int64_t shutdown_grace_ms;
	char *metrics_file;    /* Prometheus text file, or NULL: none */
	char *control_socket;  /* seawatchctl's Unix socket, or NULL: none */
	int64_t min_free_bytes; /* a drop stops claiming below this free space... */
	int min_free_bp;       /* ...or this share of its file system, in 1/100 %
				* (one of the two is 0; both 0: no guard) */
	int64_t metrics_interval_ms;
	char *user;            /* NULL when unset */
	char *group;           /* NULL when unset */
	/* user/group looked up once, at load: -1 when unset. */
	long run_uid, run_gid;
	char *run_home;        /* the user's home directory, or NULL */
	char *warnings;        /* "FILE:LINE: SETTING: warning: ..." lines, or NULL */
	struct sw_drop *drops;
	int n_drops;
};

/*
 * Load and validate FILE.  On success returns the config and sets *errs to
 * NULL.  On failure returns NULL and sets *errs to a malloc'd string of one
 * or more lines "FILE:LINE: SETTING: PROBLEM\n" (caller frees).
 * (Relative paths in FILE are taken from FILE's directory; a problem in an
 * @include'd file names that file.)
 */
struct sw_config *cnf_load(const char *file, char **errs);
void cnf_free(struct sw_config *cfg);

/* Print the short summary that --check-config shows. */
void cnf_summary(const struct sw_config *cfg, FILE *out);

/*
 * Parse a duration string: a non-negative number with an optional unit
 * "ms", "s", "m", "h" (no unit: seconds), e.g. "250ms", "30s", "1.5m".
 * Returns 0 and sets *ms, or -1 when the text is not a duration.
 * (Strict: no sign, blanks, exponent or "d" unit, digits on both sides of
 * a '.'; rounded to the nearest ms; -1 on int64 overflow.)
 */
int cnf_parse_duration(const char *text, int64_t *ms);
/* "64M", "2G", "500K", "1048576", "1.5G" (K/M/G/T are powers of 1024, "B"
 * or "iB" may follow) into *BYTES, or "2%", "0.5%" into *BP (hundredths of
 * a percent); the other set to 0.  0, or -1 if TEXT is not a size. */
int cnf_parse_space(const char *text, int64_t *bytes, int *bp);

/*
 * Expand the placeholders {file} {name} {relpath} {drop} {attempt} in TMPL
 * into DST (size DSTSZ).  NAME is the file's path relative to the drop
 * ({relpath}; "device42/x.sea" in a recursive drop); {name} is its last
 * component.  Returns the length written, or -1 if it does not fit or the
 * template names an unknown placeholder.  "{{" and "}}" are literal braces.
 * (A NULL FILE, NAME or DROP expands to "".)
 */
int cnf_expand(const char *tmpl, const char *file, const char *name,
	       const char *drop, int attempt, char *dst, size_t dstsz);

/* 1 if TMPL uses only known placeholders, 0 otherwise. */
int cnf_template_ok(const char *tmpl);

#endif
