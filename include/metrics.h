/*
 * metrics.h - the Prometheus text file (owned by src/metrics.c), for
 * node_exporter's textfile collector: rewritten whole (a temporary that
 * does not match *.prom, then a rename) every metrics_interval when
 * something changed, and at stop.  Nothing on the per-file path but a
 * flag and, at most once an interval, a timer.
 */
#ifndef SW_METRICS_H
#define SW_METRICS_H

/* The config in force says where and how often (again after a reload). */
void metrics_configure(void);
/* Something changed: written at the next interval. */
void metrics_changed(void);
/* Write it now (at stop). */
void metrics_flush(void);
void metrics_free(void);

#endif
