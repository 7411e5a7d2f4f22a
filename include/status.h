/*
 * status.h - what seawatchctl status shows (owned by src/status.c): the
 * daemon and each drop, as text for a person or as JSON for a program
 * (the JSON's fields are documented in README.md and seawatchctl(8), and
 * only ever gain fields).  Every figure comes from stats.c and the job
 * table's gauges (core.c), as SIGUSR1, STATUS= and the metrics file do.
 */
#ifndef SW_STATUS_H
#define SW_STATUS_H

#include "sbuf.h"

/* The daemon started now (for its uptime). */
void status_started(void);
void status_render(struct sbuf *b, int json);
struct drop;
/* running, paused, disk-low, lost, or removed (gone from the config,
 * finishing). */
const char *status_drop_state(const struct drop *d);

#endif
