/*
 * spool.c - claim, attempt counter, move to done/failed, sidecars, recovery.
 *
 * Every hand-off is a rename: a file is whole in its old place or whole in
 * its new one.  Names in done/ and failed/ are taken with RENAME_NOREPLACE,
 * so two daemons (or an operator) racing for a name never overwrite a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"

#define SEADIR ".seawatch"

static void get_rec(int fd, int slot, int *n, char *tag)
{
	struct spool_rec r;

	*n = 0;
	*tag = 0;
	if (fd < 0 || pread(fd, &r, sizeof(r), (off_t)slot * (off_t)sizeof(r)) !=
	    (ssize_t)sizeof(r))
		return;   /* past the end (never written): nothing started */
	if (r.attempts <= 1000000)
		*n = (int)r.attempts;
	if (r.tag == 'd' || r.tag == 'f')
		*tag = r.tag;
}

int spool_open(struct spool *sp, const char *path, const char *drop)
{
	static unsigned opened;
	struct timespec ts;
	int saved, top;

	memset(sp, 0, sizeof(*sp));
	sp->seafd = sp->workfd = sp->lockfd = sp->attfd = sp->rec_lock = -1;
	sp->rec_att = -1;
	if (strlen(drop) >= sizeof(sp->drop) || strchr(drop, '/') || drop[0] == '.') {
		errno = EINVAL;
		return -1;
	}
	strcpy(sp->drop, drop);
	sp->dropfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->dropfd < 0)
		return -1;
	/* One spool per drop name: two drops on one directory (other
	 * patterns) never adopt each other's files after a crash. */
	if (mkdirat(sp->dropfd, SEADIR, 0755) < 0 && errno != EEXIST)
		goto fail;
	top = openat(sp->dropfd, SEADIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (top < 0)
		goto fail;
	if (mkdirat(top, drop, 0755) < 0 && errno != EEXIST) {
		saved = errno;
		close(top);
		errno = saved;
		goto fail;
	}
	sp->seafd = openat(top, drop, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	saved = errno;
	close(top);
	errno = saved;
	if (sp->seafd < 0)
		goto fail;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(sp->inst, sizeof(sp->inst), "run.%ld.%lx%05lx.%u", (long)getpid(),
		 (unsigned long)ts.tv_sec, (unsigned long)(ts.tv_nsec / 10000), opened++);
	/* Build it under a dot name and lock it before it gets its run.*
	 * name, so that no other daemon ever sees an unlocked live run. */
	{
		char tmp[80];

		snprintf(tmp, sizeof(tmp), ".%s", sp->inst);
		if (mkdirat(sp->seafd, tmp, 0755) < 0)
			goto fail;
		sp->workfd = openat(sp->seafd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sp->workfd < 0)
			goto fail;
		sp->lockfd = openat(sp->workfd, "lock",
				    O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (sp->lockfd < 0 || flock(sp->lockfd, LOCK_EX | LOCK_NB) < 0)
			goto fail;
		sp->attfd = openat(sp->workfd, "attempts",
				   O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (sp->attfd < 0)
			goto fail;
		if (renameat(sp->seafd, tmp, sp->seafd, sp->inst) < 0)
			goto fail;
	}
	return 0;
fail:
	saved = errno;
	spool_close(sp);
	errno = saved;
	return -1;
}

static void closefd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void spool_close(struct spool *sp)
{
	if (sp->rec_dir)
		closedir(sp->rec_dir);
	if (sp->rec_top)
		closedir(sp->rec_top);
	sp->rec_dir = sp->rec_top = NULL;
	closefd(&sp->rec_lock);
	closefd(&sp->rec_att);
	if (sp->workfd >= 0 && sp->seafd >= 0) {
		/* Remove the run directory if nothing is in flight: every slot
		 * directory must be empty (rmdir fails otherwise). */
		DIR *d = fdopendir(dup(sp->workfd));
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

int spool_claim(struct spool *sp, const char *name, int slot)
{
	char dst[NAME_MAX + 32], dir[16];

	snprintf(dir, sizeof(dir), "%d", slot);
	snprintf(dst, sizeof(dst), "%s/%s", dir, name);
	/* No-replace: should a slot directory ever still hold a file of the
	 * same name, the claim fails instead of destroying it. */
	if (claim_rename(sp->dropfd, name, sp->workfd, dst) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	/* Either the file is gone or the slot directory does not exist yet. */
	if (mkdirat(sp->workfd, dir, 0755) < 0) {
		if (errno == EEXIST)
			errno = ENOENT;
		return -1;
	}
	return claim_rename(sp->dropfd, name, sp->workfd, dst);
}

int spool_is_regular(struct spool *sp, int slot, const char *name)
{
	char p[NAME_MAX + 32];
	struct stat st;

	snprintf(p, sizeof(p), "%d/%s", slot, name);
	if (fstatat(sp->workfd, p, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	return S_ISREG(st.st_mode) ? 1 : 0;
}

int spool_set_attempts(struct spool *sp, int slot, int n)
{
	return spool_rec_put(sp->attfd, slot, n, 0);
}

int spool_mark(struct spool *sp, int slot, int n, char tag, const char *text,
	       size_t len)
{
	char p[32], tmp[32];
	int fd;

	/* The sidecar first (written aside and renamed in), then the
	 * verdict: a recorded 'f' finds its text, if it could be kept. */
	if (text) {
		snprintf(tmp, sizeof(tmp), "%d/.sidecar.tmp", slot);
		snprintf(p, sizeof(p), "%d/.sidecar", slot);
		fd = openat(sp->workfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0) {
			ssize_t w = write(fd, text, len);

			close(fd);
			if (w != (ssize_t)len || renameat(sp->workfd, tmp, sp->workfd, p) < 0)
				unlinkat(sp->workfd, tmp, 0);  /* best effort */
		}
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
	fd = openat(sp->workfd, p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
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

int spool_path(const struct spool *sp, const char *droppath, int slot,
	       const char *name, char *buf, size_t sz)
{
	int r = snprintf(buf, sz, "%s/" SEADIR "/%s/%s/%d/%s", droppath,
			 sp->drop, sp->inst, slot, name);

	return r < 0 || (size_t)r >= sz ? -1 : 0;
}

int spool_alt_name(const char *name, int n, char *buf, size_t sz)
{
	const char *dot = strrchr(name, '.');
	size_t stem, extlen, max = sz - 1 < NAME_MAX ? sz - 1 : NAME_MAX;
	char num[16];
	int nl;

	if (n == 0) {
		if (strlen(name) > max)
			return -1;
		strcpy(buf, name);
		return 0;
	}
	if (!dot || dot == name)
		dot = name + strlen(name);
	stem = (size_t)(dot - name);
	extlen = strlen(dot);
	nl = snprintf(num, sizeof(num), ".%d", n);
	if ((size_t)nl + extlen + 1 > max) {
		/* An extension too long to keep: number the whole name. */
		dot = name + strlen(name);
		stem = (size_t)(dot - name);
		extlen = 0;
	}
	if (stem + (size_t)nl + extlen > max)
		stem = max - (size_t)nl - extlen;
	memcpy(buf, name, stem);
	memcpy(buf + stem, num, (size_t)nl);
	memcpy(buf + stem + (size_t)nl, dot, extlen + 1);
	return 0;
}

/* Rename SRC (relative to SRCFD) into DESTDIR without overwriting. */
static int place_noreplace(int srcfd, const char *src, const char *destdir,
			   const char *name, char *final, size_t finalsz)
{
	char cand[NAME_MAX + 1], path[PATH_MAX];
	int n, mode = 0;

	for (n = 0; n < 100000; n++) {
		if (spool_alt_name(name, n, cand, sizeof(cand)) < 0)
			break;
		if (snprintf(path, sizeof(path), "%s/%s", destdir, cand) >= (int)sizeof(path))
			break;
		if (mode == 0) {
			if (renameat2(srcfd, src, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
				goto placed;
			if (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP)
				mode = 1;  /* filesystem without RENAME_NOREPLACE */
			else if (errno != EEXIST)
				return -1;
		}
		if (mode == 1) {
			/* link() fails with EEXIST atomically: as safe. */
			if (linkat(srcfd, src, AT_FDCWD, path, 0) == 0) {
				unlinkat(srcfd, src, 0);
				goto placed;
			}
			if (errno == EPERM || errno == ENOTSUP || errno == EOPNOTSUPP)
				mode = 2;  /* no hard links either (vfat) */
			else if (errno != EEXIST)
				return -1;
		}
		if (mode == 2) {
			/* Last resort: check, then rename.  Racy only against
			 * another writer of the same directory. */
			if (faccessat(AT_FDCWD, path, F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
			    errno == ENOENT) {
				if (renameat(srcfd, src, AT_FDCWD, path) == 0)
					goto placed;
				return -1;
			}
		}
	}
	errno = EEXIST;
	return -1;
placed:
	snprintf(final, finalsz, "%s", cand);
	return 0;
}

/* Copy SRC (relative to SRCFD) into a temporary file in DESTDIR; fsync.
 * TMP receives its base name. */
static int copy_across(int srcfd, const char *src, const char *destdir,
		       char *tmp, size_t tmpsz)
{
	static unsigned counter;
	char path[PATH_MAX], buf[65536];
	int in, out = -1, saved;
	struct stat st;
	ssize_t r;

	/* Non-blocking, and regular files only: a FIFO swapped in must not
	 * block the master. */
	in = openat(srcfd, src, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (in < 0)
		return -1;
	if (fstat(in, &st) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	snprintf(tmp, tmpsz, ".seawatch-copy.%ld.%u", (long)getpid(), counter++);
	snprintf(path, sizeof(path), "%s/%s", destdir, tmp);
	out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 07777);
	if (out < 0)
		goto fail;
	for (;;) {
		ssize_t w, off = 0;

		r = read(in, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail_unlink;
		if (r == 0)
			break;
		while (off < r) {
			w = write(out, buf + off, (size_t)(r - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				goto fail_unlink;
			off += w;
		}
	}
	{
		int e1 = fsync(out), e2 = close(out);

		out = -1;
		if (e1 < 0 || e2 < 0)
			goto fail_unlink;
	}
	close(in);
	return 0;
fail_unlink:
	saved = errno;
	unlink(path);
	errno = saved;
fail:
	saved = errno;
	if (out >= 0)
		close(out);
	close(in);
	errno = saved;
	return -1;
}

int spool_deliver(struct spool *sp, int slot, int n, char tag, const char *name,
		  const char *destdir, char *final, size_t finalsz)
{
	char src[NAME_MAX + 32], tmp[64];
	int destfd;

	snprintf(src, sizeof(src), "%d/%s", slot, name);
	if (place_noreplace(sp->workfd, src, destdir, name, final, finalsz) < 0) {
		if (errno != EXDEV)
			return -1;
		/* Another filesystem: copy and fsync beside the target, then
		 * the same no-overwrite rename, then drop the original. */
		if (copy_across(sp->workfd, src, destdir, tmp, sizeof(tmp)) < 0)
			return -1;
		destfd = open(destdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (destfd < 0 ||
		    place_noreplace(destfd, tmp, destdir, name, final, finalsz) < 0) {
			int saved = errno;

			if (destfd >= 0) {
				unlinkat(destfd, tmp, 0);
				close(destfd);
			}
			errno = saved;
			return -1;
		}
		fsync(destfd);
		close(destfd);
		if (unlinkat(sp->workfd, src, 0) < 0)
			log_warn("event=unlink-failed file=%s error=%s", log_q(name),
				 log_q(strerror(errno)));
	}
	if (tag == 'f') {
		char side[32];

		snprintf(side, sizeof(side), "%d/.sidecar", slot);
		unlinkat(sp->workfd, side, 0);
	}
	/* The slot is empty: its record goes back to zero before another
	 * file can be claimed into it. */
	if (n != 0 || tag)
		spool_rec_put(sp->attfd, slot, 0, 0);
	return 0;
}

int spool_gone(struct spool *sp, int slot, const char *name)
{
	char p[NAME_MAX + 40];
	struct stat st;

	snprintf(p, sizeof(p), "%d/%s", slot, name);
	return fstatat(sp->workfd, p, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT;
}

int spool_sidecar(const char *destdir, const char *final, const char *text,
		  size_t len)
{
	static unsigned counter;
	char tmp[64], base[NAME_MAX + 1], final2[NAME_MAX + 1];
	size_t fl = strlen(final);
	int fd, dfd, saved;

	/* FINAL.error, with FINAL shortened if that would pass NAME_MAX (the
	 * sidecar's file= line names the file in full). */
	if (fl > NAME_MAX - 6)
		fl = NAME_MAX - 6;
	memcpy(base, final, fl);
	memcpy(base + fl, ".error", 7);
	dfd = open(destdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	/* Written aside and renamed in: nobody ever reads half a sidecar. */
	snprintf(tmp, sizeof(tmp), ".seawatch-sidecar.%ld.%u", (long)getpid(), counter++);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		goto fail;
	while (len > 0) {
		ssize_t w = write(fd, text, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail_unlink;
		text += w;
		len -= (size_t)w;
	}
	{
		int e1 = fsync(fd), e2 = close(fd);

		fd = -1;
		if (e1 < 0 || e2 < 0)
			goto fail_unlink;
	}
	if (place_noreplace(dfd, tmp, destdir, base, final2, sizeof(final2)) < 0)
		goto fail_unlink;
	close(dfd);
	return 0;
fail_unlink:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlinkat(dfd, tmp, 0);
	errno = saved;
fail:
	saved = errno;
	close(dfd);
	errno = saved;
	return -1;
}

/* Parse a slot directory's name, "<slot>"; the slot or -1. */
static int parse_slotdir(const char *s)
{
	char *end;
	long a = strtol(s, &end, 10);

	if (end == s || *end || a < 0 || a > INT32_MAX / 16)
		return -1;
	return (int)a;
}

/* Open the next dead run directory to drain; 0 if one is open, -1 none. */
static int next_dead_run(struct spool *sp)
{
	struct dirent *de;

	if (!sp->rec_top) {
		int fd = dup(sp->seafd);

		if (fd < 0 || !(sp->rec_top = fdopendir(fd))) {
			if (fd >= 0)
				close(fd);
			return -1;
		}
	}
	while ((de = readdir(sp->rec_top))) {
		int rfd, lfd;

		if (strncmp(de->d_name, "run.", 4) || !strcmp(de->d_name, sp->inst) ||
		    strlen(de->d_name) >= sizeof(sp->rec_name))
			continue;
		rfd = openat(sp->seafd, de->d_name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (rfd < 0)
			continue;
		lfd = openat(rfd, "lock", O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) < 0) {
			close(lfd);     /* its daemon is alive */
			close(rfd);
			continue;
		}
		sp->rec_lock = lfd;
		/* No table (a run that died as it was made): nothing started. */
		sp->rec_att = openat(rfd, "attempts", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		sp->rec_dir = fdopendir(rfd);
		if (!sp->rec_dir) {
			close(rfd);
			closefd(&sp->rec_lock);
			closefd(&sp->rec_att);
			continue;
		}
		memcpy(sp->rec_name, de->d_name, strlen(de->d_name) + 1);
		log_info("event=recover run=%s", log_q(sp->rec_name));
		return 0;
	}
	return -1;
}

static void finish_dead_run(struct spool *sp)
{
	int rfd = dirfd(sp->rec_dir);

	unlinkat(rfd, "attempts", 0);
	unlinkat(rfd, "lock", 0);
	closedir(sp->rec_dir);
	sp->rec_dir = NULL;
	closefd(&sp->rec_lock);
	closefd(&sp->rec_att);
	unlinkat(sp->seafd, sp->rec_name, AT_REMOVEDIR);
}

int spool_recover_next(struct spool *sp, int slot, char *name, size_t namesz,
		       int *attempts, char *tag)
{
	struct dirent *de, *fe;

	if (sp->rec_done)
		return 0;
	for (;;) {
		char mine[16], dst[NAME_MAX + 40], src[NAME_MAX + 40];
		int n, dslot, sfd, rfd;
		DIR *sd;

		if (!sp->rec_dir && next_dead_run(sp) < 0) {
			sp->rec_done = 1;
			if (sp->rec_top)
				closedir(sp->rec_top);
			sp->rec_top = NULL;
			return 0;
		}
		rfd = dirfd(sp->rec_dir);
		de = readdir(sp->rec_dir);
		if (!de) {
			finish_dead_run(sp);
			continue;
		}
		dslot = parse_slotdir(de->d_name);
		if (dslot < 0)
			continue;
		sfd = openat(rfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0 || !(sd = fdopendir(sfd))) {
			if (sfd >= 0)
				close(sfd);
			continue;
		}
		while ((fe = readdir(sd)) && fe->d_name[0] == '.' &&
		       (!strcmp(fe->d_name, ".") || !strcmp(fe->d_name, "..") ||
			!strncmp(fe->d_name, ".sidecar", 8)))
			;
		if (!fe || strlen(fe->d_name) >= namesz) {
			closedir(sd);
			if (!fe) {
				char side[NAME_MAX + 16];

				snprintf(side, sizeof(side), "%s/.sidecar", de->d_name);
				unlinkat(rfd, side, 0);
				snprintf(side, sizeof(side), "%s/.sidecar.tmp", de->d_name);
				unlinkat(rfd, side, 0);
				unlinkat(rfd, de->d_name, AT_REMOVEDIR);
			}
			continue;
		}
		snprintf(name, namesz, "%s", fe->d_name);
		closedir(sd);
		get_rec(sp->rec_att, dslot, &n, tag);
		/* Our slot (free, so its record is zero) takes the dead one's
		 * count and verdict before it takes the file. */
		snprintf(mine, sizeof(mine), "%d", slot);
		if ((mkdirat(sp->workfd, mine, 0755) < 0 && errno != EEXIST) ||
		    spool_rec_put(sp->attfd, slot, n, *tag) < 0) {
			log_err("event=recover-failed file=%s error=%s", log_q(name),
				log_q(strerror(errno)));
			continue;
		}
		snprintf(dst, sizeof(dst), "%s/%s", mine, name);
		snprintf(src, sizeof(src), "%s/%s", de->d_name, name);
		if (claim_rename(rfd, src, sp->workfd, dst) < 0) {
			log_err("event=recover-failed file=%s error=%s", log_q(name),
				log_q(strerror(errno)));
			spool_rec_put(sp->attfd, slot, 0, 0);
			continue;  /* skip it; the next start tries again */
		}
		if (*tag == 'f') {
			snprintf(src, sizeof(src), "%s/.sidecar", de->d_name);
			snprintf(dst, sizeof(dst), "%s/.sidecar", mine);
			renameat(rfd, src, sp->workfd, dst);
		}
		unlinkat(rfd, de->d_name, AT_REMOVEDIR);
		*attempts = n;
		return 1;
	}
}

void spool_recover_again(struct spool *sp)
{
	if (sp->rec_done && !sp->rec_dir)
		sp->rec_done = 0;
}
