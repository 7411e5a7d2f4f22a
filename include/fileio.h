/*
 * fileio.h - small files written whole or not at all (owned by
 * src/fileio.c): every sidecar, verdict text and move record goes through
 * here, as the metrics and status files to come will.  Written under a
 * temporary name, each write, the fsync and the close checked, then
 * renamed into place; on any failure nothing is left behind.
 */
#ifndef SW_FILEIO_H
#define SW_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* LEN bytes of TEXT to a new file NAME in DIRFD (MODE; never an existing
 * name, never through a symlink), fsync'ed and closed.  0, or -1 (errno;
 * NAME removed). */
int fio_write_new(int dirfd, const char *name, const char *text, size_t len, mode_t mode);
/* The same under TMP, then renamed over NAME (replacing it).  0, or -1
 * (errno; TMP removed, NAME as it was). */
int fio_replace(int dirfd, const char *tmp, const char *name, const char *text, size_t len,
		mode_t mode);

#endif
