/*
 * lines.h - the line protocol of persistent commands (owned by
 * src/lines.c; pure: no system call).  SPEC §10: seawatchd writes one path
 * per line on the command's stdin, a backslash as "\\" and a newline as
 * "\n"; the command answers one line per job on its stdout: "0" or "ok"
 * (success), or an exit code 1-255, either optionally followed by a space
 * and a message.
 */
#ifndef SW_LINES_H
#define SW_LINES_H

#include <stddef.h>

/* PATH as one line, newline included, into DST (SZ bytes, NUL-terminated).
 * Its length, or -1 if it does not fit. */
int lines_escape(const char *path, char *dst, size_t sz);
/* The inverse of one line LINE (LEN bytes, no newline) into DST: its
 * length, or -1 (it does not fit, or a backslash escapes neither '\\' nor
 * 'n'). */
int lines_unescape(const char *line, size_t len, char *dst, size_t sz);
/*
 * A verdict line LINE (LEN bytes, without its newline; a '\r' before it
 * is ignored): 0 with *CODE (0 success, 1-255 as an exit code) and the
 * message (*MSG, *MSGLEN: what follows the first space; empty if none), or
 * -1 if it is not a verdict (a protocol error).
 */
int lines_verdict(const char *line, size_t len, int *code, const char **msg, size_t *msglen);

#endif
