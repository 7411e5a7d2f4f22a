/*
 * dirlist.h - a listing of an open directory from its start.
 *
 * fdopendir(dup(fd)) shares fd's file offset: a second listing through it
 * starts where the first ended and sees nothing (a bug met twice: dead
 * runs never adopted, cgroups never removed).  A fresh open of "." has
 * its own offset.
 */
#ifndef SW_DIRLIST_H
#define SW_DIRLIST_H

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

/* DIRFD listed from its first entry; NULL with errno. */
static inline DIR *dir_list(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (fd >= 0 && !d)
		close(fd);
	return d;
}

#endif
