/*
 * retain.h - retention of done/ and failed/ (owned by src/retain.c): files
 * older than keep_done / keep_failed are deleted, and the oldest beyond
 * keep_done_size / keep_failed_size bytes, sidecars with their files.  Each
 * directory with a retention is listed once (at start, or when a reload
 * gives it one), in slices, and its index and byte total are then kept up
 * to date as files arrive: no walk per file.  Deletions run in slices too,
 * so a 100,000-file done/ never holds up claims or results.
 */
#ifndef SW_RETAIN_H
#define SW_RETAIN_H

struct drop;

/* The drops of the config in force say which directories have which
 * retention (at start and after a reload). */
void retain_configure(void);
/* FINAL (a path) was placed in D's failed/ (TO_FAILED, its sidecar beside
 * it) or done/, as BASE in directory DFD: one fstatat, and it is counted. */
void retain_added(struct drop *d, int to_failed, const char *final, int dfd, const char *base);
/* D's disk is low: a pass over its directories now (retention runs
 * first; it is kept continuously, so this finds little). */
void retain_kick(struct drop *d);
void retain_free(void);

#endif
