/*
 * attempt.h - one attempt of a job as a worker receives it (owned by
 * src/attempt.c): the command with its placeholders expanded, the
 * environment, the limits, encoded by proto.c.
 */
#ifndef SW_ATTEMPT_H
#define SW_ATTEMPT_H

#include <stddef.h>

#include "config.h"

/* The commands' PATH, HOME and LANG for config C (see README). */
void attempt_setup_env(const struct sw_config *c);
/* The message for job S's next attempt (its number is j->n, counted by
 * the caller) in BUF (PROTO_MAX bytes); its length.  0, or -1 with errno
 * (ENAMETOOLONG, E2BIG: the file cannot be run; logged). */
int attempt_message(int s, char *buf, size_t *len);

#endif
