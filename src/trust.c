/*
 * trust.c - who may change what (see trust.h): directories opened without
 * following symlinks, paths others can change, done/ and failed/ held open.
 *
 * Why by descriptor: an uploader who owns the parent of a drop (or of
 * done/) can swap the directory for a symlink between our check and our
 * use of a path.  A descriptor names the directory we checked, whatever
 * happens to the path later.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

#include "log.h"
#include "trust.h"

/* The walk, for kernels without openat2 (before 5.6). */
int trust_open_dir_walk(const char *path)
{
	char buf[PATH_MAX], *p, *next;
	int fd, nfd, saved;

	if (path[0] != '/' || strlen(path) >= sizeof(buf)) {
		errno = EINVAL;
		return -1;
	}
	strcpy(buf, path);
	fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (p = buf + 1; fd >= 0 && *p; p = next) {
		next = strchr(p, '/');
		if (next)
			*next++ = '\0';
		else
			next = p + strlen(p);
		if (!*p || !strcmp(p, "."))
			continue;
		if (!strcmp(p, "..")) {
			close(fd);
			errno = EINVAL;   /* canonical paths only */
			return -1;
		}
		/* Intermediate directories need only search permission. */
		nfd = openat(fd, p, (*next ? O_PATH : O_RDONLY) | O_DIRECTORY | O_NOFOLLOW |
			     O_CLOEXEC);
		saved = errno;
		close(fd);
		errno = saved;
		fd = nfd;
	}
	return fd;
}

int trust_open_dir(const char *path)
{
#ifdef SYS_openat2
	static int no_openat2;
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
#else
	static const int no_openat2 = 1;   /* headers older than Linux 5.6 */
#endif
	struct stat st;
	int fd = -1;

	if (path[0] != '/') {
		errno = EINVAL;
		return -1;
	}
#ifdef SYS_openat2
	if (!no_openat2) {
		fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
		if (fd < 0 && (errno == ENOSYS || errno == EPERM))
			no_openat2 = 1;   /* old kernel, or a seccomp filter */
	}
#endif
	if (no_openat2)
		fd = trust_open_dir_walk(path);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode)) {
		close(fd);
		errno = ENOTDIR;
		return -1;
	}
	return fd;
}

int trust_others_can_change(const struct stat *st, char *why, size_t sz)
{
	/* Others may add entries to a sticky directory, but not rename or
	 * remove ours: for a path through it, as good as not writable. */
	int sticky = S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX);
	char dummy[1];

	if (!why) {
		why = dummy;
		sz = sizeof(dummy);
	}
	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		snprintf(why, sz, "owner uid %ld", (long)st->st_uid);
		return 1;
	}
	if (sticky)
		return 0;
	if (st->st_mode & S_IWOTH) {
		snprintf(why, sz, "mode %04o", (unsigned)(st->st_mode & 07777));
		return 1;
	}
	if ((st->st_mode & S_IWGRP) && st->st_gid != 0 && st->st_gid != getegid()) {
		snprintf(why, sz, "mode %04o, group gid %ld", (unsigned)(st->st_mode & 07777),
			 (long)st->st_gid);
		return 1;
	}
	return 0;
}

int trust_acl_writable(const char *path, const struct stat *st)
{
	/* With an access ACL, the group bits are its mask: named users and
	 * groups may write whenever the mask lets them. */
	return (st->st_mode & S_IWGRP) && !S_ISLNK(st->st_mode) &&
	       lgetxattr(path, "system.posix_acl_access", NULL, 0) > 0;
}

int trust_path_unsafe(const char *path, int parents_only, char *why, size_t sz)
{
	char prefix[PATH_MAX], reason[64];
	size_t len = strlen(path), i;
	struct stat st;

	if (path[0] != '/' || len >= sizeof(prefix)) {
		snprintf(why, sz, "%s: not an absolute path", path);
		return -1;
	}
	/* "/", then every prefix ending before a '/', then PATH itself. */
	for (i = 0; i <= len; i++) {
		int last = i == len;

		if (!last && path[i] != '/')
			continue;
		if (last && parents_only)
			break;
		if (i == 0) {
			strcpy(prefix, "/");
		} else {
			memcpy(prefix, path, i);
			prefix[i] = '\0';
			if (!last && i == len - 1)
				continue;   /* a trailing '/' */
		}
		if (lstat(prefix, &st) < 0) {
			snprintf(why, sz, "%s (%s)", prefix, strerror(errno));
			return -1;
		}
		if (S_ISLNK(st.st_mode)) {
			snprintf(why, sz, "%s (a symlink)", prefix);
			return 1;
		}
		if (trust_others_can_change(&st, reason, sizeof(reason))) {
			snprintf(why, sz, "%s (%s)", prefix, reason);
			return 1;
		}
		if (!(S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX)) &&
		    trust_acl_writable(prefix, &st)) {
			snprintf(why, sz, "%s (an ACL lets others write)", prefix);
			return 1;
		}
	}
	return 0;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tdir_open(struct tdir *d, const char *path)
{
	struct stat st;

	memset(d, 0, sizeof(*d));
	d->fd = -1;
	d->path = strdup(path);
	if (!d->path)
		return -1;
	d->fd = trust_open_dir(path);
	if (d->fd < 0 || fstat(d->fd, &st) < 0)
		return -1;
	d->dev = st.st_dev;
	d->ino = st.st_ino;
	d->checked_ms = mono_ms();
	return 0;
}

int tdir_fd(struct tdir *d, int64_t now)
{
	struct stat st;
	int fd;

	if (!d->path) {
		/* Never opened (done/ added by a reload that could not open
		 * it): a move fails and is tried again, nothing is touched. */
		errno = ENOENT;
		return -1;
	}
	if (now - d->checked_ms < 1000)
		return d->fd;
	d->checked_ms = now;
	if (fstatat(AT_FDCWD, d->path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode) && st.st_dev == d->dev && st.st_ino == d->ino)
		return d->fd;
	/* The path names something else now: follow a directory put there,
	 * never a symlink. */
	fd = trust_open_dir(d->path);
	if (fd >= 0 && fstat(fd, &st) == 0 && trust_others_can_change(&st, NULL, 0)) {
		/* Made by someone else (who owns the parent): not ours to
		 * fill.  (errno for the log line.) */
		close(fd);
		fd = -1;
		errno = EPERM;
	}
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (!d->warned)
			log_warn("event=dir-refused path=%s error=%s action=keep-old",
				 log_q(d->path), log_q(strerror(errno)));
		d->warned = 1;
		if (fd >= 0)
			close(fd);
		return d->fd;
	}
	log_info("event=dir-reopened path=%s", log_q(d->path));
	if (d->fd >= 0)
		close(d->fd);
	d->fd = fd;
	d->dev = st.st_dev;
	d->ino = st.st_ino;
	d->warned = 0;
	return d->fd;
}

void tdir_close(struct tdir *d)
{
	if (d->fd >= 0)
		close(d->fd);
	free(d->path);
	memset(d, 0, sizeof(*d));
	d->fd = -1;
}
