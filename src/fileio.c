/*
 * fileio.c - small files written whole or not at all (see fileio.h).
 */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int fio_write_new(int dirfd, const char *name, const char *text, size_t len, mode_t mode)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	int saved;

	if (fd < 0)
		return -1;
	while (len > 0) {
		ssize_t w = write(fd, text, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail;
		text += w;
		len -= (size_t)w;
	}
	/* Its data on disk before its name can be: a crash leaves the whole
	 * text or no file, never an empty one under the final name. */
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlinkat(dirfd, name, 0);
	errno = saved;
	return -1;
}

int fio_replace(int dirfd, const char *tmp, const char *name, const char *text, size_t len,
		mode_t mode)
{
	int saved;

	unlinkat(dirfd, tmp, 0);   /* left by a crash */
	if (fio_write_new(dirfd, tmp, text, len, mode) < 0)
		return -1;
	if (renameat(dirfd, tmp, dirfd, name) == 0)
		return 0;
	saved = errno;
	unlinkat(dirfd, tmp, 0);
	errno = saved;
	return -1;
}
