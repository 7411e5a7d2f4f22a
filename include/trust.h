/*
 * trust.h - who may change what (owned by src/trust.c).
 *
 * The daemon trusts root and its own user; everybody else (an uploader
 * above all) is "others".  These helpers open directories without ever
 * following a symlink, tell whether others can change a path (sshd's
 * StrictModes), and hold done/ and failed/ as descriptors that are looked
 * up again, with the same checks, only when their path names another
 * directory.
 */
#ifndef SW_TRUST_H
#define SW_TRUST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Open the directory PATH (absolute) component by component with
 * O_NOFOLLOW: a symlink anywhere on the way is refused (ELOOP), as is
 * anything but a directory at the end (ENOTDIR).  O_RDONLY | O_DIRECTORY
 * | O_CLOEXEC descriptor, or -1 with errno. */
int trust_open_dir(const char *path);
/* The same by a walk of openat(O_NOFOLLOW), what trust_open_dir() does on
 * kernels without openat2 (before 5.6); for tests. */
int trust_open_dir_walk(const char *path);

/* 1 if someone other than root and the daemon can change ST: another
 * owner, or write access for a group other than root's and the daemon's,
 * or for everybody (a sticky directory excepted: others can add entries
 * to it but not replace ours).  WHY (if not NULL) gets "owner uid N" or
 * "mode 0777". */
int trust_others_can_change(const struct stat *st, char *why, size_t sz);

/* 1 if PATH (whose lstat is ST) has an access ACL whose mask lets named
 * users or groups write it. */
int trust_acl_writable(const char *path, const struct stat *st);

/* 1 if some component of PATH (absolute, canonical) can be changed by
 * others, the last one included unless PARENTS_ONLY; WHY gets
 * "COMPONENT (REASON)".  0 if none, -1 if a component cannot be examined
 * (WHY says why). */
int trust_path_unsafe(const char *path, int parents_only, char *why, size_t sz);

/*
 * A directory the daemon writes into (done/, failed/), held open.  It is
 * looked up by path again at most once a second, and reopened (with
 * trust_open_dir) only if the path now names another directory: an
 * operator's "mv done done.1; mkdir done" is followed, a symlink swapped in
 * is not (the old descriptor stays in use, and that is logged once).
 */
struct tdir {
	char *path;
	int fd;
	dev_t dev;
	ino_t ino;
	int64_t checked_ms;   /* CLOCK_MONOTONIC of the last look */
	int warned;           /* the path was refused; said once */
};

/* Open PATH into D.  0, or -1 with errno (D->fd is then -1). */
int tdir_open(struct tdir *d, const char *path);
/* D's descriptor, after a look at its path if a second has passed. */
int tdir_fd(struct tdir *d, int64_t now_ms);
void tdir_close(struct tdir *d);

#endif
