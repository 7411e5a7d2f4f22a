/*
 * log.h - key=value logging to stderr or syslog (owned by src/log.c).
 *
 * Every line is "level=L event=E k=v ...".  Values that come from outside
 * (file names, command output) go through log_esc() so that a newline or a
 * quote in a name cannot forge a record.
 */
#ifndef SW_LOG_H
#define SW_LOG_H

#include <stddef.h>
#include "config.h"

void log_open(enum sw_log_target target, enum sw_log_level level,
	      const char *ident);
void log_set_level(enum sw_log_level level);
/* Lines to TARGET from now on (stderr if syslog has no socket). */
void log_set_target(enum sw_log_target target);
enum sw_log_level log_get_level(void);
void log_close(void);

/* FMT produces the "event=... k=v" part; the level is prepended. */
void log_msg(enum sw_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define log_err(...)   log_msg(SW_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(SW_LOG_WARNING, __VA_ARGS__)
#define log_info(...)  log_msg(SW_LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(SW_LOG_DEBUG, __VA_ARGS__)

/*
 * Escape SRC (LEN bytes) as a log value into DST (size DSTSZ, always
 * NUL-terminated).  Plain values ([A-Za-z0-9._,:/@+-]) are copied as they
 * are; anything else is double-quoted with \" \\ \n \t and \xHH for other
 * bytes below 0x20, 0x7f and above.  Returns DST.  Truncates with "..." if
 * DST is too small.
 */
char *log_esc(char *dst, size_t dstsz, const char *src, size_t len);
/* log_esc of a NUL-terminated string into a rotating static buffer (4 slots),
 * for use in one log_msg() call. */
const char *log_q(const char *s);

#endif
