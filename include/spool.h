/*
 * spool.h - the files' side of a drop (owned by src/spool.c; recovery of
 * what others left is src/recover.c).
 *
 * The spool is a directory of the daemon's, out of the uploaders' reach
 * (not inside the drop: whoever can write the drop could rename it away or
 * plant one), on the drop's file system so that a claim is a rename.  For
 * the drop named DROP whose spool is S:
 *   S/DROP/run.<pid>.<stamp>.<k>/lock      flock'ed while the daemon lives
 *   S/DROP/run.<pid>.<stamp>.<k>/attempts  one record per slot
 *   S/DROP/run.<pid>.<stamp>.<k>/<slot>/NAME (+ .sidecar, .relpath)
 *   S/DROP/held/<tag><n>.<time>.<run>.<k>/NAME (+ .sidecar)  files set aside
 * Directories are 0700, or 0710 with the commands' group when commands run
 * as another user (they must reach {file}, never list or change it); files
 * are the daemon's, 0640.  A job occupies slot directory <slot>.  Its record
 * in the attempts table holds the number of attempts started, written (one
 * pwrite, no rename) before every attempt, so the count survives a crash of
 * the daemon; and a verdict 'd'/'f' whose move to done/failed has not
 * happened yet (a full disk, say): after a crash the file is moved, not run
 * again.  A daemon that starts adopts the run.* directories whose lock is
 * free (their owner died) and processes what they hold again.
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

/* S/DROP/held: files set aside (made when the spool opens: a full disk
 * must not keep a file from being set aside). */
#define SPOOL_HELD "held"

/* <slot>/.moving: a copy to done/ or failed/ under way: "TMP INO", the
 * copy's temporary name there and, once complete, its inode. */
#define SPOOL_MOVING ".moving"

/* <slot>/.relpath: a symlink whose text is the directory in the drop the
 * slot's file came from ("device42"); absent for a file at the top.  The
 * functions below take a job's NAME as its path in the drop; in the slot
 * it is its last component. */
#define SPOOL_RELPATH ".relpath"

/* The mode of every file the daemon owns or delivers. */
#define SPOOL_FILE_MODE 0640

struct spool {
	int dropfd;          /* the drop directory */
	int seafd;           /* S/DROP */
	int workfd;          /* S/DROP/<inst> */
	int lockfd;          /* S/DROP/<inst>/lock, flock'ed */
	int attfd;           /* S/DROP/<inst>/attempts */
	long gid;            /* the commands' group (their dirs 0710), or -1 */
	char *root;          /* S, for the paths given to commands */
	char inst[64];       /* our run.* name */
	char drop[72];       /* the drop's name: S/DROP/ */
	/* recovery cursor over dead run.* directories (recover.c) */
	DIR *rec_top;        /* S/DROP listing, NULL when not started */
	DIR *rec_dir;        /* the dead run.* being drained */
	int rec_lock;        /* its lock, held while draining */
	int rec_att;         /* its attempts table, or -1 */
	char rec_name[64];
	int rec_done;        /* nothing left to recover */
	DIR *held;           /* S/DROP/held listing while unparking, or NULL */
	int held_done;       /* nothing left to unpark */
	unsigned parked;     /* files we set aside: the K of held/ names */
	unsigned held_mark;  /* PARKED when the pass over held/ began */
};

/* Open drop DROPPATH (never through a symlink) and create our run
 * directory under SPOOLPATH/DROP for the drop named DROP; commands run
 * with group GID (-1: the daemon's own).  The spool is made if missing,
 * refused (EPERM) if it is not the daemon's (owner, type, others' access),
 * and must be on the drop's mount (EXDEV).  -1 with errno on failure. */
int spool_open(struct spool *sp, const char *droppath, const char *spoolpath,
	       const char *drop, long gid);
/* Close; our run directory is removed when it holds no file in flight. */
void spool_close(struct spool *sp);

/* Open (or make) directory NAME in DIRFD for the daemon alone (GID -1), or
 * reachable by group GID: the owner must be the daemon and others must have
 * no access; group and mode are set as they should be.  fd or -1 (EPERM:
 * not the daemon's). */
int spool_ckdir(int dirfd, const char *name, long gid);

/* Make the attempts table hold NSLOTS records.  0 or -1. */
int spool_reserve(struct spool *sp, int nslots);
/* Claim NAME (its path in the drop; its last component in SRCFD, the
 * directory holding it) into <slot>/ (whose record is zero): the file is
 * <slot>/BASE, and a NAME below the top is recorded in <slot>/.relpath.
 * 0, or -1 (errno ENOENT: already gone). */
int spool_claim(struct spool *sp, int srcfd, const char *name, int slot);

/* What spool_seal() found about a claimed file. */
enum seal {
	SEAL_OK,        /* the daemon's now, and nobody else can write it */
	SEAL_COPY,      /* others may still write it (an open descriptor, a
			 * second name, an owner we cannot replace): process
			 * a private copy (spool_copy_name(), then
			 * spool_sealed()) */
	SEAL_LINKED,    /* other hard links, and the kernel lets anyone link
			 * any file (fs.protected_hardlinks = 0): refused */
	SEAL_NOT_REGULAR, /* a symlink (or else) swapped in during the claim */
	SEAL_ERROR,     /* it could not be looked at (errno): try again later */
};
/*
 * Make the claimed file <slot>/NAME the daemon's: owner, the commands'
 * group, SPOOL_FILE_MODE (no setuid/setgid/sticky bit survives), then make
 * sure nobody holds it open for writing (the kernel refuses a read lease
 * then).  *FD gets a read-only descriptor of it for SEAL_COPY (the source
 * of the copy), else -1.  *NLINK its link count.
 */
enum seal spool_seal(struct spool *sp, int slot, const char *name, int *fd, int *nlink);
/* The copy's temporary name for SLOT, relative to workfd: "<slot>/.copy". */
void spool_copy_name(int slot, char *buf, size_t sz);
/* The copy made: it replaces <slot>/NAME.  0 or -1. */
int spool_sealed(struct spool *sp, int slot, const char *name);
/* Remove <slot>/NAME (refused or not a file; its data, if any, is kept
 * under its other name).  0 or -1. */
int spool_discard(struct spool *sp, int slot, const char *name);

/* Record N attempts started for SLOT.  0 or -1. */
int spool_set_attempts(struct spool *sp, int slot, int n);
/* "<spool>/<drop>/<inst>/<slot>/<name>" into BUF; -1 if too long. */
int spool_path(const struct spool *sp, int slot, const char *name, char *buf, size_t sz);

/* SLOT's record of where its file came from (SPOOL_RELPATH) goes with the
 * file (NAME a path in the drop; nothing to do at the top). */
void spool_relpath_drop(struct spool *sp, int slot, const char *name);

/* ---- deliver.c ---- */

/*
 * Move the claimed file into directory DESTFD under NAME's last component,
 * or that with a counter before its extension if taken (never overwriting).  The
 * slot's record (N attempts, verdict TAG) is then reset to zero.  FINAL
 * receives the base name used.  0, or -1 with errno (EXDEV: another file
 * system; copy it with spool_copy_out() first).
 */
int spool_deliver(struct spool *sp, int slot, int n, char tag, const char *name,
		  int destfd, char *final, size_t finalsz);
/* A temporary name in done/ or failed/ for a copy (".seawatch-copy.PID.K"). */
void spool_tmp_name(char *buf, size_t sz);
/* Remove from DIRFD (a done/ or failed/ directory) the temporaries of
 * spool_tmp_name() that daemons no longer running left (a crash mid-copy
 * or mid-sidecar); those of live processes stay, ours too unless OURS (at
 * start, when a pid used again makes them look ours).  The count removed. */
int spool_sweep_tmp(int dirfd, int ours);
/* The copy TMP (in DESTFD, fsync'ed) of <slot>/NAME is complete: place it
 * under NAME (never overwriting), then drop the original and reset the
 * slot's record.  FINAL as above.  0 or -1 (TMP is then removed). */
int spool_deliver_copied(struct spool *sp, int slot, const char *tmp, const char *name,
			 int destfd, char *final, size_t finalsz);
/*
 * A move by copy, crash-safe: before the copy, spool_move_record(TMP, 0);
 * once it is complete, (TMP, its inode).  After a crash, what
 * spool_move_recorded() says lets the move be finished: the temporary
 * half-made (inode 0) is removed, a complete one is placed, and one placed
 * already (a name of NAME's with that inode in done/) is not copied twice.
 */
int spool_move_record(struct spool *sp, int slot, const char *tmp, unsigned long long ino);
/* 1 with TMP and *INO if a move of SLOT's file by copy was recorded. */
int spool_move_recorded(struct spool *sp, int slot, char *tmp, size_t tmpsz,
			unsigned long long *ino);
/* SLOT's file is in done/ or failed/ already: drop the original and the
 * record, reset the slot. */
void spool_moved(struct spool *sp, int slot, const char *name);
/* Record the verdict TAG ('d' done, 'f' failed) of a job whose move must
 * wait, after N attempts, with TEXT (if any) kept as <slot>/.sidecar. */
int spool_mark(struct spool *sp, int slot, int n, char tag, const char *text,
	       size_t len);
/* The .sidecar text of a recovered 'f' job (malloc'd), or NULL. */
char *spool_marked_sidecar(struct spool *sp, int slot, size_t *len);
/* 1 if the job's file is no longer in its slot directory. */
int spool_gone(struct spool *sp, int slot, const char *name);
/* NAME is a sidecar's (ends in .error). */
int spool_is_sidecar(const char *name);
/* The sidecar's name for FINAL into BUF (NAME_MAX + 1 bytes). */
void spool_sidecar_name(const char *final, char *buf);
/* Write DESTFD/FINAL.error with TEXT (never overwriting), mode
 * SPOOL_FILE_MODE, fsync'ed.  0 or -1. */
int spool_sidecar(int destfd, const char *final, const char *text, size_t len);

/* ---- recover.c ---- */

/*
 * Adopt the next file left by a dead daemon, or set aside (parked), into
 * our slot SLOT.  Returns 1 with NAME, *ATTEMPTS (attempts started before)
 * and *TAG (0, or the recorded verdict 'd'/'f') filled in, 0 when nothing
 * is left.  An entry that cannot be adopted is logged and skipped.
 */
int spool_recover_next(struct spool *sp, int slot, char *name, size_t namesz,
		       int *attempts, char *tag);
/* Look for dead runs again (a second daemon on the drop may have died). */
void spool_recover_again(struct spool *sp);
/* Look at the parked files again (space may have been freed). */
void spool_unpark_again(struct spool *sp);
/*
 * Set the file of SLOT aside with its verdict TAG after N attempts (its
 * move to done/failed keeps failing): it leaves the slot, and waits in
 * S/DROP/held until spool_unpark_again().  0 or -1.
 */
int spool_park(struct spool *sp, int slot, int n, char tag);
/*
 * Move the files of an old spool inside the drop (DROP/.seawatch/DROP/, as
 * versions before 0.2 kept it) back into the drop, to be claimed afresh:
 * nothing recorded there is believed (an uploader could have planted it),
 * nothing but regular files is moved, and nothing is followed.  Runs of a
 * live old daemon (locked) are left alone.  The number moved.
 */
int spool_migrate_legacy(struct spool *sp);

/* Collision name N (0: NAME itself): "a.sea" -> "a.1.sea", "x" -> "x.1".
 * Fits NAME_MAX by shortening the stem.  Pure. */
int spool_alt_name(const char *name, int n, char *buf, size_t sz);
/* Rename SRC (in SRCFD) into DESTFD as NAME or a free collision name of
 * it, never overwriting; FINAL gets the name used.  0 or -1. */
int spool_place(int srcfd, const char *src, int destfd, const char *name,
		char *final, size_t finalsz);

#endif
