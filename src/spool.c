/*
 * spool.c - the spool of a drop: its directories, the claim, making a
 * claimed file the daemon's (seal), the attempt counter and the verdict
 * recorded in a slot.  Moves to done/failed are deliver.c; recovery of
 * what others left is recover.c.
 *
 * Every hand-off is a rename: a file is whole in its old place or whole in
 * its new one.  Names in done/ and failed/ are taken with RENAME_NOREPLACE,
 * so two daemons (or an operator) racing for a name never overwrite a file.
 * Everything is reached through directory descriptors, and nothing inside
 * the spool is ever followed: only the daemon can change the spool, but a
 * claim can still bring in whatever an uploader swapped in at the last
 * moment.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "dirlist.h"
#include "fileio.h"
#include "log.h"
#include "tree.h"
#include "spool.h"
#include "trust.h"

/* The daemon's ids never change while it runs: asked once, not per file. */
static uid_t my_uid(void)
{
	static uid_t u = (uid_t)-1;

	if (u == (uid_t)-1)
		u = geteuid();
	return u;
}

static gid_t my_gid(void)
{
	static gid_t g = (gid_t)-1;

	if (g == (gid_t)-1)
		g = getegid();
	return g;
}

static void closefd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int spool_ckdir(int dirfd, const char *name, long gid)
{
	mode_t want = gid >= 0 ? 0710 : 0700;
	struct stat st;
	int fd, made;

	made = mkdirat(dirfd, name, want) == 0;
	if (!made && errno != EEXIST)
		return -1;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		goto fail;
	/* Only ours, and nobody else's way in (OpenSMTPD's ckdir): a
	 * directory planted or loosened by someone else is refused. */
	if (st.st_uid != my_uid() || (st.st_mode & (S_IWGRP | S_IRWXO))) {
		errno = EPERM;
		goto fail;
	}
	if (gid >= 0 && (long)st.st_gid != gid && fchown(fd, (uid_t)-1, (gid_t)gid) < 0)
		goto fail;
	if ((st.st_mode & 07777) != want && fchmod(fd, want) < 0)
		goto fail;
	return fd;
fail:
	{
		int saved = errno;

		close(fd);
		errno = saved;
	}
	return -1;
}

/* The directory holding PATH (absolute), opened without following
 * anything; *BASE points at PATH's last component. */
static int open_parent(const char *path, const char **base)
{
	char parent[PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (!slash || (size_t)(slash - path) >= sizeof(parent)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(parent, path, (size_t)(slash - path));
	parent[slash - path] = '\0';
	*base = slash + 1;
	return trust_open_dir(parent[0] ? parent : "/");
}

/* Claims are renames from the drop into the spool: refuse a spool on
 * another mount now (EXDEV), not at the first file.  "." cannot be
 * renamed: the kernel answers EXDEV across mounts, EBUSY otherwise, and
 * touches nothing. */
static int same_mount(int a, int b)
{
	if (renameat2(a, ".", b, ".", RENAME_NOREPLACE) < 0 && errno == EXDEV)
		return -1;
	return 0;
}

int spool_open(struct spool *sp, const char *droppath, const char *spoolpath,
	       const char *drop, long gid)
{
	static unsigned opened;
	struct timespec ts;
	const char *base;
	int saved, top = -1, parent;

	memset(sp, 0, sizeof(*sp));
	sp->dropfd = sp->seafd = sp->workfd = sp->lockfd = sp->attfd = sp->rec_lock = -1;
	sp->rec_att = -1;
	sp->gid = gid;
	if (strlen(drop) >= sizeof(sp->drop) || strchr(drop, '/') || drop[0] == '.') {
		errno = EINVAL;
		return -1;
	}
	strcpy(sp->drop, drop);
	if (!(sp->root = strdup(spoolpath)))
		return -1;
	/* Never through a symlink: an uploader who owns the drop's parent
	 * can replace the drop with one. */
	sp->dropfd = trust_open_dir(droppath);
	if (sp->dropfd < 0)
		goto fail;
	parent = open_parent(spoolpath, &base);
	if (parent < 0)
		goto fail;
	top = spool_ckdir(parent, base, gid);
	saved = errno;
	close(parent);
	errno = saved;
	if (top < 0)
		goto fail;
	/* One spool per drop name: two drops on one directory (other
	 * patterns) never adopt each other's files after a crash. */
	sp->seafd = spool_ckdir(top, drop, gid);
	if (sp->seafd < 0)
		goto fail;
	closefd(&top);
	top = spool_ckdir(sp->seafd, SPOOL_HELD, gid);
	if (top < 0)
		goto fail;
	closefd(&top);
	if (same_mount(sp->dropfd, sp->seafd) < 0)
		goto fail;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(sp->inst, sizeof(sp->inst), "run.%ld.%lx%05lx.%u", (long)getpid(),
		 (unsigned long)ts.tv_sec, (unsigned long)(ts.tv_nsec / 10000), opened++);
	/* Build it under a dot name and lock it before it gets its run.*
	 * name, so that no other daemon ever sees an unlocked live run. */
	{
		char tmp[80];

		snprintf(tmp, sizeof(tmp), ".%s", sp->inst);
		sp->workfd = spool_ckdir(sp->seafd, tmp, gid);
		if (sp->workfd < 0)
			goto fail;
		sp->lockfd = openat(sp->workfd, "lock",
				    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (sp->lockfd < 0 || flock(sp->lockfd, LOCK_EX | LOCK_NB) < 0)
			goto fail;
		sp->attfd = openat(sp->workfd, "attempts",
				   O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (sp->attfd < 0)
			goto fail;
		if (renameat(sp->seafd, tmp, sp->seafd, sp->inst) < 0)
			goto fail;
	}
	return 0;
fail:
	saved = errno;
	if (top >= 0)
		close(top);
	spool_close(sp);
	errno = saved;
	return -1;
}

void spool_close(struct spool *sp)
{
	if (sp->rec_dir)
		closedir(sp->rec_dir);
	if (sp->rec_top)
		closedir(sp->rec_top);
	if (sp->held)
		closedir(sp->held);
	sp->rec_dir = sp->rec_top = sp->held = NULL;
	closefd(&sp->rec_lock);
	closefd(&sp->rec_att);
	if (sp->workfd >= 0 && sp->seafd >= 0) {
		/* Remove the run directory if nothing is in flight: every slot
		 * directory must be empty (rmdir fails otherwise). */
		DIR *d = dir_list(sp->workfd);
		struct dirent *de;
		int busy = 0;

		while (d && (de = readdir(d))) {
			if (de->d_name[0] == '.' || !strcmp(de->d_name, "lock") ||
			    !strcmp(de->d_name, "attempts"))
				continue;
			if (unlinkat(sp->workfd, de->d_name, AT_REMOVEDIR) < 0)
				busy = 1;
		}
		if (d)
			closedir(d);
		if (!busy) {
			unlinkat(sp->workfd, "attempts", 0);
			unlinkat(sp->workfd, "lock", 0);
			unlinkat(sp->seafd, sp->inst, AT_REMOVEDIR);
		}
	}
	closefd(&sp->lockfd);
	closefd(&sp->attfd);
	closefd(&sp->workfd);
	closefd(&sp->seafd);
	closefd(&sp->dropfd);
	free(sp->root);
	sp->root = NULL;
}

static int claim_rename(int ofd, const char *o, int nfd, const char *n)
{
	static int plain;  /* the filesystem has no RENAME_NOREPLACE */

	if (!plain) {
		if (renameat2(ofd, o, nfd, n, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
			return -1;
		plain = 1;
	}
	return renameat(ofd, o, nfd, n);
}

int spool_reserve(struct spool *sp, int nslots)
{
	/* Written out now, so that recording an attempt later overwrites
	 * blocks the file already has: no allocation, no ENOSPC mid-job. */
	static const struct spool_rec zero[64];
	struct stat st;
	off_t want = (off_t)nslots * (off_t)sizeof(struct spool_rec), off;

	if (fstat(sp->attfd, &st) < 0)
		return -1;
	for (off = st.st_size; off < want; ) {
		size_t n = sizeof(zero);
		ssize_t w;

		if ((off_t)n > want - off)
			n = (size_t)(want - off);
		w = pwrite(sp->attfd, zero, n, off);
		if (w <= 0)
			return -1;
		off += w;
	}
	return 0;
}

/* <slot>/.relpath: the directory a recursive drop's file came from, as a
 * symlink's text (one call, made whole or not at all, no data block). */
static int relpath_record(struct spool *sp, const char *dir, const char *name)
{
	char p[32], rel[TREE_REL_MAX];
	const char *base = tree_base(name);

	if (base == name)
		return 0;
	snprintf(p, sizeof(p), "%s/" SPOOL_RELPATH, dir);
	snprintf(rel, sizeof(rel), "%.*s", (int)(base - name - 1), name);
	if (symlinkat(rel, sp->workfd, p) == 0)
		return 0;
	if (errno != EEXIST)
		return -1;
	/* Left by a claim that failed: ours to replace. */
	unlinkat(sp->workfd, p, 0);
	return symlinkat(rel, sp->workfd, p);
}

void spool_relpath_drop(struct spool *sp, int slot, const char *name)
{
	char p[32];

	if (tree_base(name) == name)
		return;
	snprintf(p, sizeof(p), "%d/" SPOOL_RELPATH, slot);
	unlinkat(sp->workfd, p, 0);
}

int spool_claim(struct spool *sp, int srcfd, const char *name, int slot)
{
	char dst[NAME_MAX + 32], dir[16];
	const char *base = tree_base(name);

	snprintf(dir, sizeof(dir), "%d", slot);
	snprintf(dst, sizeof(dst), "%s/%s", dir, base);
	/* A file from a subdirectory: where it came from is recorded before
	 * it comes, so that a crash after the rename still knows (done/ and
	 * failed/ keep the path).  No-replace: should a slot directory ever
	 * still hold a file of the same name, the claim fails instead of
	 * destroying it. */
	if (relpath_record(sp, dir, name) == 0 &&
	    claim_rename(srcfd, base, sp->workfd, dst) == 0)
		return 0;
	if (errno != ENOENT)
		goto failed;
	/* Either the file is gone or the slot directory does not exist yet.
	 * Our run directory is private: what we make in it needs no check. */
	if (mkdirat(sp->workfd, dir, sp->gid >= 0 ? 0710 : 0700) < 0) {
		if (errno == EEXIST)
			errno = ENOENT;
		goto failed;
	}
	if (sp->gid >= 0 && fchownat(sp->workfd, dir, (uid_t)-1, (gid_t)sp->gid,
				     AT_SYMLINK_NOFOLLOW) < 0)
		goto failed;
	if (relpath_record(sp, dir, name) == 0 &&
	    claim_rename(srcfd, base, sp->workfd, dst) == 0)
		return 0;
failed:
	{
		int e = errno;

		spool_relpath_drop(sp, slot, name);
		errno = e;
	}
	return -1;
}

/* With fs.protected_hardlinks on, an unprivileged user can only link a file
 * it owns or may read and write: its other names hold nothing it could not
 * read anyway.  Off, it can link any file it can reach. */
static int hardlinks_protected(void)
{
	char c = '0';
	int fd = open("/proc/sys/fs/protected_hardlinks", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, &c, 1) != 1)
			c = '0';
		close(fd);
	}
	return c == '1';
}

enum seal spool_seal(struct spool *sp, int slot, const char *name, int *fdp, int *nlink)
{
	char p[NAME_MAX + 32];
	gid_t g = sp->gid >= 0 ? (gid_t)sp->gid : my_gid();
	struct stat st;
	int fd;

	*fdp = -1;
	*nlink = 1;
	snprintf(p, sizeof(p), "%d/%s", slot, tree_base(name));
	/* Look before opening: a device node or FIFO swapped in during the
	 * claim must not even be opened.  A failure to look is no verdict on
	 * the file (SEAL_ERROR: it stays, and is looked at again). */
	if (fstatat(sp->workfd, p, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return SEAL_ERROR;
	if (!S_ISREG(st.st_mode))
		return SEAL_NOT_REGULAR;
	fd = openat(sp->workfd, p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP || errno == ENXIO ? SEAL_NOT_REGULAR : SEAL_ERROR;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return SEAL_ERROR;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return SEAL_NOT_REGULAR;
	}
	*nlink = (int)st.st_nlink;
	if (st.st_nlink > 1) {
		/* Another name reaches this inode: whoever has it can change
		 * the file under the command, and after the verdict. */
		if (!hardlinks_protected()) {
			close(fd);
			return SEAL_LINKED;
		}
		goto copy;
	}
	/* Take it over: fchown clears setuid/setgid, fchmod the rest.  Then
	 * the uploader can no longer open it (nor, with it, reach it through
	 * /proc/PID/fd).  Until the fchown the owner could still change the
	 * mode we looked at: after a change of owner, fchmod always. */
	if (st.st_uid != my_uid() || st.st_gid != g) {
		if (fchown(fd, my_uid(), g) < 0 || fchmod(fd, SPOOL_FILE_MODE) < 0)
			goto copy;
	} else if ((st.st_mode & 07777) != SPOOL_FILE_MODE && fchmod(fd, SPOOL_FILE_MODE) < 0) {
		goto copy;
	}
	/* A descriptor opened for writing before that stays valid: the
	 * kernel refuses a read lease while one exists (EAGAIN).  Where
	 * leases cannot be had, we cannot tell: copy. */
	if (fcntl(fd, F_SETLEASE, F_RDLCK) < 0)
		goto copy;
	close(fd);   /* and the lease with it */
	return SEAL_OK;
copy:
	*fdp = fd;
	return SEAL_COPY;
}

void spool_copy_name(int slot, char *buf, size_t sz)
{
	snprintf(buf, sz, "%d/.copy", slot);
}

int spool_sealed(struct spool *sp, int slot, const char *name)
{
	char tmp[32], p[NAME_MAX + 32];

	spool_copy_name(slot, tmp, sizeof(tmp));
	snprintf(p, sizeof(p), "%d/%s", slot, tree_base(name));
	/* Over the original: our name now leads to our copy; a writer keeps
	 * an inode nobody will read again. */
	return renameat(sp->workfd, tmp, sp->workfd, p);
}

int spool_discard(struct spool *sp, int slot, const char *name)
{
	char p[NAME_MAX + 32];

	const char *base;
	int fd, r;

	snprintf(p, sizeof(p), "%d/%s", slot, tree_base(name));
	if (unlinkat(sp->workfd, p, 0) == 0 ||
	    (errno == EISDIR && unlinkat(sp->workfd, p, AT_REMOVEDIR) == 0)) {
		spool_relpath_drop(sp, slot, name);
		return 0;
	}
	if (errno != ENOTEMPTY && errno != EEXIST)
		return -1;
	/* A directory swapped in: hand it back, it is the uploader's.  The
	 * slot is freed either way: its record of the path goes. */
	if ((fd = tree_dir(sp->dropfd, name, 0, &base)) < 0) {
		r = -1;
	} else {
		r = claim_rename(sp->workfd, p, fd, base);
		tree_put(fd, sp->dropfd);
	}
	spool_relpath_drop(sp, slot, name);
	return r;
}

int spool_set_attempts(struct spool *sp, int slot, int n)
{
	return spool_rec_put(sp->attfd, slot, n, 0);
}


int spool_mark(struct spool *sp, int slot, int n, char tag, const char *text,
	       size_t len)
{
	char p[32], tmp[32];

	/* The sidecar first (written aside and renamed in), then the
	 * verdict: a recorded 'f' finds its text, if it could be kept. */
	if (text) {
		snprintf(tmp, sizeof(tmp), "%d/.sidecar.tmp", slot);
		snprintf(p, sizeof(p), "%d/.sidecar", slot);
		fio_replace(sp->workfd, tmp, p, text, len, SPOOL_FILE_MODE);  /* best effort */
	}
	return spool_rec_put(sp->attfd, slot, n, tag);
}

char *spool_marked_sidecar(struct spool *sp, int slot, size_t *len)
{
	char p[32];
	char *buf = malloc(8192);
	ssize_t r;
	int fd;

	*len = 0;
	if (!buf)
		return NULL;
	snprintf(p, sizeof(p), "%d/.sidecar", slot);
	fd = openat(sp->workfd, p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		free(buf);
		return NULL;
	}
	r = read(fd, buf, 8191);
	close(fd);
	if (r <= 0) {
		free(buf);
		return NULL;
	}
	buf[r] = '\0';
	*len = (size_t)r;
	return buf;
}

int spool_path(const struct spool *sp, int slot, const char *name, char *buf, size_t sz)
{
	int r = snprintf(buf, sz, "%s/%s/%s/%d/%s", sp->root, sp->drop, sp->inst, slot,
			 tree_base(name));

	return r < 0 || (size_t)r >= sz ? -1 : 0;
}

int spool_gone(struct spool *sp, int slot, const char *name)
{
	char p[NAME_MAX + 40];
	struct stat st;

	snprintf(p, sizeof(p), "%d/%s", slot, tree_base(name));
	return fstatat(sp->workfd, p, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT;
}
