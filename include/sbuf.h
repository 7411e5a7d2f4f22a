/*
 * sbuf.h - a growing text buffer (owned by src/sbuf.c): what the metrics
 * file, a status reply and the control socket's answers are built in.  An
 * allocation that fails marks the buffer (oom) instead of failing each
 * caller's printf.
 */
#ifndef SW_SBUF_H
#define SW_SBUF_H

#include <stddef.h>

struct sbuf {
	char *p;
	size_t len, cap;
	int oom;
};

void sbuf_put(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_add(struct sbuf *b, const char *s, size_t n);
/* S as a JSON string, quotes included (bytes that are not printable
 * ASCII are \u00XX-escaped, one per byte: a file name is bytes). */
void sbuf_json(struct sbuf *b, const char *s);
void sbuf_free(struct sbuf *b);

#endif
