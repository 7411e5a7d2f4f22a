/*
 * deliver.c - a claimed file leaves the spool (see spool.h): its move to
 * done/ or failed/ (a rename, or a copy made crash-safe by a record in its
 * slot), the collision names that never overwrite, and sidecars.
 *
 * Names in done/ and failed/ are taken with RENAME_NOREPLACE (or link(),
 * or a check where neither exists), so two daemons (or an operator) racing
 * for a name never overwrite a file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compat.h"
#include "dirlist.h"
#include "fileio.h"
#include "log.h"
#include "spool.h"
#include "tree.h"

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

int spool_place(int srcfd, const char *src, int destfd, const char *name,
		char *final, size_t finalsz)
{
	char cand[NAME_MAX + 1];
	struct stat st;
	int n, mode = 0;

	for (n = 0; n < 100000; n++) {
		if (spool_alt_name(name, n, cand, sizeof(cand)) < 0)
			break;
		if (mode == 0) {
			if (renameat2(srcfd, src, destfd, cand, RENAME_NOREPLACE) == 0)
				goto placed;
			if (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP)
				mode = 1;  /* filesystem without RENAME_NOREPLACE */
			else if (errno != EEXIST)
				return -1;
		}
		if (mode == 1) {
			/* link() fails with EEXIST atomically: as safe. */
			if (linkat(srcfd, src, destfd, cand, 0) == 0) {
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
			if (fstatat(destfd, cand, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT) {
				if (renameat(srcfd, src, destfd, cand) == 0)
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

/* The slot is empty: its sidecar (kept only with a recorded 'f') goes, and
 * its record back to zero before another file can be claimed into it. */
static void slot_emptied(struct spool *sp, int slot, char tag, const char *name)
{
	char side[32];

	spool_relpath_drop(sp, slot, name);
	if (tag == 'f') {
		snprintf(side, sizeof(side), "%d/.sidecar", slot);
		unlinkat(sp->workfd, side, 0);
	}
	if (tag) {
		/* A move by copy may have been recorded (the verdict always
		 * is first): not the next file's. */
		snprintf(side, sizeof(side), "%d/" SPOOL_MOVING, slot);
		unlinkat(sp->workfd, side, 0);
	}
	spool_rec_put(sp->attfd, slot, 0, 0);
}

int spool_deliver(struct spool *sp, int slot, int n, char tag, const char *name,
		  int destfd, char *final, size_t finalsz)
{
	char src[NAME_MAX + 32];

	snprintf(src, sizeof(src), "%d/%s", slot, tree_base(name));
	if (spool_place(sp->workfd, src, destfd, tree_base(name), final, finalsz) < 0)
		return -1;
	if (n != 0 || tag)
		slot_emptied(sp, slot, tag, name);
	else
		spool_relpath_drop(sp, slot, name);   /* its record is zero already */
	return 0;
}

void spool_tmp_name(char *buf, size_t sz)
{
	static unsigned counter;

	snprintf(buf, sz, ".seawatch-copy.%ld.%u", (long)getpid(), counter++);
}

int spool_sweep_tmp(int dirfd, int ours)
{
	DIR *d = dir_list(dirfd);
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char *end;
		long pid;
		struct stat st;

		if (strncmp(e->d_name, ".seawatch-copy.", 15))
			continue;
		pid = strtol(e->d_name + 15, &end, 10);
		if (pid <= 0 || *end != '.')
			continue;
		/* Ours from before (a pid used again, in a container) or a
		 * dead daemon's; a live one's may be under way. */
		if (pid == (long)getpid() ? !ours : kill((pid_t)pid, 0) == 0 || errno == EPERM)
			continue;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
		    unlinkat(dirfd, e->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	return n;
}

int spool_deliver_copied(struct spool *sp, int slot, const char *tmp, const char *name,
			 int destfd, char *final, size_t finalsz)
{
	if (spool_place(destfd, tmp, destfd, tree_base(name), final, finalsz) < 0) {
		int saved = errno;

		unlinkat(destfd, tmp, 0);
		errno = saved;
		return -1;
	}
	/* The new name is durable before the original goes. */
	fsync(destfd);
	spool_moved(sp, slot, name);
	return 0;
}

void spool_moved(struct spool *sp, int slot, const char *name)
{
	char p[NAME_MAX + 32];

	snprintf(p, sizeof(p), "%d/%s", slot, tree_base(name));
	if (unlinkat(sp->workfd, p, 0) < 0)
		log_warn("event=unlink-failed file=%s error=%s", log_q(name),
			 log_q(strerror(errno)));
	slot_emptied(sp, slot, 'f', name);
}

int spool_move_record(struct spool *sp, int slot, const char *tmp, unsigned long long ino)
{
	char text[96], t[40], p[40];
	int n = snprintf(text, sizeof(text), "%s %llu\n", tmp, ino);

	/* Written aside and renamed over the last one: whole or absent. */
	snprintf(t, sizeof(t), "%d/" SPOOL_MOVING ".tmp", slot);
	snprintf(p, sizeof(p), "%d/" SPOOL_MOVING, slot);
	if (n < 0 || (size_t)n >= sizeof(text))
		return -1;
	return fio_replace(sp->workfd, t, p, text, (size_t)n, SPOOL_FILE_MODE);
}

int spool_move_recorded(struct spool *sp, int slot, char *tmp, size_t tmpsz,
			unsigned long long *ino)
{
	char p[40], text[96], fmt[32];
	int fd;
	ssize_t r;

	snprintf(p, sizeof(p), "%d/" SPOOL_MOVING, slot);
	fd = openat(sp->workfd, p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return 0;
	r = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (r <= 0)
		return 0;
	text[r] = '\0';
	snprintf(fmt, sizeof(fmt), "%%%zus %%llu", tmpsz - 1);
	if (sscanf(text, fmt, tmp, ino) != 2 || strncmp(tmp, ".seawatch-copy.", 15))
		return 0;   /* nothing we wrote: no temporary to look for */
	return 1;
}

int spool_is_sidecar(const char *name)
{
	size_t l = strlen(name);

	return l > 6 && !strcmp(name + l - 6, ".error");
}

void spool_sidecar_name(const char *final, char *buf)
{
	size_t fl = strlen(final);

	/* FINAL.error, with FINAL shortened if that would pass NAME_MAX (the
	 * sidecar's file= line names the file in full). */
	if (fl > NAME_MAX - 6)
		fl = NAME_MAX - 6;
	memcpy(buf, final, fl);
	memcpy(buf + fl, ".error", 7);
}

int spool_sidecar(int destfd, const char *final, const char *text, size_t len)
{
	char tmp[64], base[NAME_MAX + 1], final2[NAME_MAX + 1];

	spool_sidecar_name(final, base);
	/* Written aside and renamed in: nobody ever reads half a sidecar. */
	spool_tmp_name(tmp, sizeof(tmp));
	if (fio_write_new(destfd, tmp, text, len, SPOOL_FILE_MODE) < 0)
		return -1;
	if (spool_place(destfd, tmp, destfd, base, final2, sizeof(final2)) < 0) {
		int saved = errno;

		unlinkat(destfd, tmp, 0);
		errno = saved;
		return -1;
	}
	fsync(destfd);
	return 0;
}
