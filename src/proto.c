/*
 * proto.c - the job message's strings, written (master) and read
 * (worker) in one place (see proto.h).  Pure.
 */
#include "proto.h"

#include <string.h>

size_t proto_put(char *buf, size_t off, const char *s)
{
	size_t l = strlen(s) + 1;

	if (off > PROTO_MAX || off + l > PROTO_MAX)
		return PROTO_MAX + 1;
	memcpy(buf + off, s, l);
	return off + l;
}

int proto_job_decode(const struct msg_job *j, size_t len, char **argv, int maxarg,
		     char **envp, int maxenv, const char **label, const char **path)
{
	const char *p = j->data, *end = (const char *)j + len;
	uint32_t i, n;

	if (len < sizeof(*j) || j->argc < 1 || j->argc >= (uint32_t)maxarg ||
	    j->envc >= (uint32_t)maxenv || j->protocol > 1)
		return -1;
	*label = "";
	*path = NULL;
	n = j->argc + j->envc + 1 + (j->protocol != 0);
	for (i = 0; i < n; i++) {
		const char *z = memchr(p, '\0', (size_t)(end - p));

		if (!z)
			return -1;
		if (i < j->argc)
			argv[i] = (char *)p;
		else if (i < j->argc + j->envc)
			envp[i - j->argc] = (char *)p;
		else if (i == j->argc + j->envc)
			*label = p;
		else
			*path = p;
		p = z + 1;
	}
	argv[j->argc] = NULL;
	envp[j->envc] = NULL;
	/* Lines mode: the path written to the command is the spool's, whole. */
	if (j->protocol && (!*path || (*path)[0] != '/'))
		return -1;
	return 0;
}
