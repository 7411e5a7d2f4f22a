/*
 * lines.c - the line protocol of persistent commands (see lines.h).
 */
#include "lines.h"

int lines_escape(const char *path, char *dst, size_t sz)
{
	size_t o = 0;

	for (const char *p = path; *p; p++) {
		const char *rep = *p == '\\' ? "\\\\" : *p == '\n' ? "\\n" : NULL;
		size_t n = rep ? 2 : 1;

		if (o + n + 2 > sz)
			return -1;
		if (rep) {
			dst[o++] = rep[0];
			dst[o++] = rep[1];
		} else {
			dst[o++] = *p;
		}
	}
	if (o + 2 > sz)
		return -1;
	dst[o++] = '\n';
	dst[o] = '\0';
	return (int)o;
}

int lines_unescape(const char *line, size_t len, char *dst, size_t sz)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = line[i];

		if (c == '\\') {
			if (i + 1 >= len || (line[i + 1] != '\\' && line[i + 1] != 'n'))
				return -1;
			c = line[++i] == 'n' ? '\n' : '\\';
		}
		if (o + 1 >= sz)
			return -1;
		dst[o++] = c;
	}
	if (o >= sz)
		return -1;
	dst[o] = '\0';
	return (int)o;
}

int lines_verdict(const char *line, size_t len, int *code, const char **msg, size_t *msglen)
{
	size_t word = 0;
	int v = 0;

	if (len && line[len - 1] == '\r')
		len--;
	while (word < len && line[word] != ' ')
		word++;
	if (word == 2 && line[0] == 'o' && line[1] == 'k') {
		v = 0;
	} else {
		/* 0-255 in decimal, no sign, no leading zero. */
		if (word == 0 || word > 3 || (word > 1 && line[0] == '0'))
			return -1;
		for (size_t i = 0; i < word; i++) {
			if (line[i] < '0' || line[i] > '9')
				return -1;
			v = v * 10 + (line[i] - '0');
		}
		if (v > 255)
			return -1;
	}
	*code = v;
	*msg = word < len ? line + word + 1 : line + len;
	*msglen = word < len ? len - word - 1 : 0;
	return 0;
}
