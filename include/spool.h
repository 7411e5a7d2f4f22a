/*
 * spool.h - the files' side of a drop (owned by src/spool.c).
 *
 * Layout inside a drop directory D, for the drop named DROP:
 *   D/.seawatch/DROP/run.<pid>.<stamp>.<k>/lock     flock'ed while the daemon lives
 *   D/.seawatch/DROP/run.<pid>.<stamp>.<k>/attempts  one record per slot
 *   D/.seawatch/DROP/run.<pid>.<stamp>.<k>/<slot>/NAME (+ .sidecar)
 * A job occupies slot directory <slot>.  Its record in the attempts table
 * holds the number of attempts started, written (one pwrite, no rename)
 * before every attempt, so the count survives a crash of the daemon; and a
 * verdict 'd'/'f' whose move to done/failed has not happened yet (a full
 * disk, say): after a crash the file is moved, not run again.  A daemon
 * that starts adopts the run.* directories whose lock is free (their owner
 * died) and processes what they hold again.
 */
#ifndef SW_SPOOL_H
#define SW_SPOOL_H

#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>

/* A slot's record in the attempts table (written by the master, and by the
 * worker that starts an attempt). */
struct spool_rec {
	uint32_t attempts;   /* attempts started */
	char tag;            /* recorded verdict 'd'/'f', or 0 */
	char pad[3];
};

/* Write SLOT's record (N attempts, verdict TAG) into the attempts table FD:
 * one pwrite.  0, or -1 with errno.  Inline: the worker executable, which
 * records the attempts it starts, does not link the rest of spool.c. */
static inline int spool_rec_put(int fd, int slot, int n, char tag)
{
	struct spool_rec r = { (uint32_t)n, tag, { 0, 0, 0 } };
	ssize_t w = pwrite(fd, &r, sizeof(r), (off_t)slot * (off_t)sizeof(r));

	if (w == (ssize_t)sizeof(r))
		return 0;
	if (w >= 0)
		errno = EIO;
	return -1;
}

struct spool {
	int dropfd;          /* the drop directory */
	int seafd;           /* D/.seawatch */
	int workfd;          /* D/.seawatch/<inst> */
	int lockfd;          /* D/.seawatch/<inst>/lock, flock'ed */
	int attfd;           /* D/.seawatch/<inst>/attempts */
	char inst[64];       /* our run.* name */
	char drop[72];       /* the drop's name: D/.seawatch/<drop>/ */
	/* recovery cursor over dead run.* directories */
	DIR *rec_top;        /* D/.seawatch listing, NULL when not started */
	DIR *rec_dir;        /* the dead run.* being drained */
	int rec_lock;        /* its lock, held while draining */
	int rec_att;         /* its attempts table, or -1 */
	char rec_name[64];
	int rec_done;        /* nothing left to recover */
};

/* Open drop PATH and create our run directory for the drop named DROP.
 * -1 with errno on failure. */
int spool_open(struct spool *sp, const char *path, const char *drop);
/* Close; our run directory is removed when it holds no file in flight. */
void spool_close(struct spool *sp);

/* Make the attempts table hold NSLOTS records.  0 or -1. */
int spool_reserve(struct spool *sp, int nslots);
/* Claim drop/NAME into <slot>/ (whose record is zero).  0, or -1 (errno ENOENT: already gone). */
int spool_claim(struct spool *sp, const char *name, int slot);
/* 1 if the claimed file is a regular file, 0 if not, -1 on error. */
int spool_is_regular(struct spool *sp, int slot, const char *name);
/* Record N attempts started for SLOT.  0 or -1. */
int spool_set_attempts(struct spool *sp, int slot, int n);
/* "<droppath>/.seawatch/<inst>/<slot>/<name>" into BUF; -1 if too long. */
int spool_path(const struct spool *sp, const char *droppath, int slot,
	       const char *name, char *buf, size_t sz);

/*
 * Move the claimed file into DESTDIR under NAME, or NAME with a counter
 * before its extension if that is taken (never overwriting); across
 * filesystems copy, fsync, rename, unlink.  The slot's record (N attempts,
 * verdict TAG) is then reset to zero.  FINAL receives the base name used.  0 or -1 with errno.
 */
int spool_deliver(struct spool *sp, int slot, int n, char tag, const char *name,
		  const char *destdir, char *final, size_t finalsz);
/* Record the verdict TAG ('d' done, 'f' failed) of a job whose move must
 * wait, after N attempts, with TEXT (if any) kept as <slot>/.sidecar. */
int spool_mark(struct spool *sp, int slot, int n, char tag, const char *text,
	       size_t len);
/* The .sidecar text of a recovered 'f' job (malloc'd), or NULL. */
char *spool_marked_sidecar(struct spool *sp, int slot, size_t *len);
/* 1 if the job's file is no longer in its slot directory. */
int spool_gone(struct spool *sp, int slot, const char *name);
/* Write DESTDIR/FINAL.error with TEXT (never overwriting).  0 or -1. */
int spool_sidecar(const char *destdir, const char *final, const char *text,
		  size_t len);

/*
 * Adopt the next file left by a dead daemon into our slot SLOT.  Returns 1
 * with NAME, *ATTEMPTS (attempts started before the crash) and *TAG (0, or
 * the recorded verdict 'd'/'f') filled in, 0 when nothing is left.  An
 * entry that cannot be adopted is logged and skipped.
 */
int spool_recover_next(struct spool *sp, int slot, char *name, size_t namesz,
		       int *attempts, char *tag);
/* Look for dead runs again (a second daemon on the drop may have died). */
void spool_recover_again(struct spool *sp);

/* Collision name N (0: NAME itself): "a.sea" -> "a.1.sea", "x" -> "x.1".
 * Fits NAME_MAX by shortening the stem.  Pure. */
int spool_alt_name(const char *name, int n, char *buf, size_t sz);

#endif
