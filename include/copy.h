/*
 * copy.h - file copies beside the event loop (owned by src/copy.c).
 *
 * A copy can take as long as the file is big: a move to done/ on another
 * file system, or the private copy of a claimed file that others may still
 * write.  Two threads make them, from descriptors the master
 * opened; the master polls copy_fd() for the answers and does the renames
 * itself.  A copy skips holes (a 20 GiB sparse file with 4 KiB of data
 * costs 4 KiB) and reserves the space of its data first, so a full disk
 * fails it at once instead of after writing gigabytes.
 */
#ifndef SW_COPY_H
#define SW_COPY_H

#include <stdint.h>

struct copy_req {
	uint32_t id;        /* the caller's: a job's slot */
	uint32_t gen;       /* the caller's: to tell an answer for an old use */
	int src;            /* read-only descriptor of the source (taken) */
	int dirfd;          /* the directory of the copy (lent: it must stay
			     * open until the answer, or copy_stop()) */
	char name[64];      /* the copy's name in dirfd: created, O_EXCL */
	long gid;           /* its group, or -1 for the daemon's */
};

struct copy_done {
	uint32_t id, gen;
	int32_t err;        /* 0, or the errno it failed with (the copy is gone) */
};

/* Queue a copy (the thread starts on first use).  0, or -1 with errno (src
 * is closed either way). */
int copy_submit(const struct copy_req *r);
/* The descriptor to poll for answers, or -1 while none can come. */
int copy_fd(void);
/* Next answer: 1, or 0 when none is ready. */
int copy_next(struct copy_done *d);
/* Abandon what is queued or running (a half-made copy is removed) and end
 * the thread. */
void copy_stop(void);

/*
 * The copy itself: SRC into a new file NAME of DIRFD (SPOOL_FILE_MODE,
 * group GID unless -1), data ranges reserved, holes skipped, fsync'ed and
 * closed.  0, or -1 with errno and nothing left behind.  Gives up with
 * ECANCELED when *STOP becomes non-zero.
 */
int copy_file(int src, int dirfd, const char *name, long gid, const volatile int *stop);

#endif
