/*
 * cgroup.c - commands in cgroups of their own (see cgroup.h): finding a
 * cgroup v2 subtree the daemon may manage, one cgroup per worker for its
 * commands, and killing them whole.
 *
 * Several daemons may share one subtree (two instances given the same
 * --cgroup): each keeps its own directory, locked (flock) for its life.
 * A directory nobody holds is a dead daemon's: what runs in it is killed
 * and it is removed at the next start.
 */
#include "cgroup.h"
#include "dirlist.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static char dir[PATH_MAX];      /* BASE/seawatchd.PID, "" when off */
static int dirfd_ = -1;         /* open and flock'ed for our life */
static int procs_fd = -1;       /* worker: its commands' cgroup.procs */
static int kill_fd = -1;        /* worker: its commands' cgroup.kill */

static int write_at(int dfd, const char *file, const char *val)
{
	int fd = openat(dfd, file, O_WRONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = write(fd, val, strlen(val)) < 0 ? -1 : 0;
	close(fd);
	return rc;
}

static int is_cgroup2(const char *path)
{
	struct statfs fs;

	return statfs(path, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
}

/* systemd marks the cgroups it delegates (Delegate=yes) with these. */
static int delegated(const char *path)
{
	static const char *const names[] = { "trusted.delegate", "user.delegate" };
	char v[4];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (getxattr(path, names[i], v, sizeof(v)) == 1 && v[0] == '1')
			return 1;
	return 0;
}

/* The first line of FILE that starts with PREFIX, without it and its
 * newline, into OUT.  0 or -1. */
static int line_with(const char *file, const char *prefix, int field5,
		     char *out, size_t size)
{
	FILE *f = fopen(file, "re");
	char line[4096];
	int rc = -1;

	if (!f)
		return -1;
	while (rc < 0 && fgets(line, sizeof(line), f)) {
		char root[PATH_MAX], mnt[PATH_MAX];

		line[strcspn(line, "\n")] = '\0';
		if (!field5) {
			if (!strncmp(line, prefix, strlen(prefix)) &&
			    snprintf(out, size, "%s", line + strlen(prefix)) < (int)size)
				rc = 0;
			continue;
		}
		/* mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - TYPE */
		if (strstr(line, prefix) &&
		    sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) == 2 &&
		    !strchr(mnt, '\\') && !strchr(root, '\\') &&
		    snprintf(out, size, "%s%c%s", root, '\0', mnt) < (int)size)
			rc = 0;
	}
	fclose(f);
	return rc;
}

/* The path of the daemon's own cgroup v2, into OUT.  0, or -1 with WHY. */
static int own_cgroup(char *out, size_t size, const char **why)
{
	char cg[PATH_MAX], m[2 * PATH_MAX];
	const char *root, *mnt, *rel;

	if (line_with("/proc/self/cgroup", "0::", 0, cg, sizeof(cg)) < 0) {
		*why = "no-cgroup-v2";
		return -1;
	}
	if (line_with("/proc/self/mountinfo", " - cgroup2 ", 1, m, sizeof(m)) < 0) {
		*why = "cgroup-v2-not-mounted";
		return -1;
	}
	root = m;
	mnt = m + strlen(m) + 1;
	rel = cg;
	/* A mount of part of the tree: its root is not in our path. */
	if (strcmp(root, "/") && !strncmp(rel, root, strlen(root)))
		rel += strlen(root);
	if (!strcmp(rel, "/"))
		rel = "";
	if (snprintf(out, size, "%s%s", mnt, rel) >= (int)size) {
		*why = "path-too-long";
		return -1;
	}
	return 0;
}

/* Kill everything under the cgroup DFD/NAME and remove it with what it
 * holds, waiting up to a second for the killed to be gone. */
static void kill_and_remove(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	DIR *d;
	struct dirent *e;

	if (fd < 0)
		return;
	write_at(fd, "cgroup.kill", "1");
	for (int tries = 0; tries < 100; tries++) {
		int busy = 0;

		d = dir_list(fd);
		if (!d)
			break;
		while ((e = readdir(d)))
			if (e->d_type == DT_DIR && e->d_name[0] != '.' &&
			    unlinkat(fd, e->d_name, AT_REMOVEDIR) < 0 && errno == EBUSY)
				busy = 1;
		closedir(d);
		if (!busy && (unlinkat(dfd, name, AT_REMOVEDIR) == 0 || errno != EBUSY))
			break;
		nanosleep(&ts, NULL);
	}
	close(fd);
}

/* Remove what dead daemons left in BASE: their directories nobody locks. */
static void sweep(int bfd)
{
	DIR *d = dir_list(bfd);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		int fd;

		if (strncmp(e->d_name, "seawatchd.", 10))
			continue;
		fd = openat(bfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			kill_and_remove(bfd, e->d_name);
		close(fd);
	}
	closedir(d);
}

int cg_setup(const char *given, const char **why)
{
	char base[PATH_MAX], name[64];
	int bfd;

	dir[0] = '\0';
	if (given) {
		if (given[0] != '/' || !is_cgroup2(given)) {
			*why = "not a directory of a cgroup v2 file system";
			return -1;
		}
		snprintf(base, sizeof(base), "%s", given);
	} else {
		if (own_cgroup(base, sizeof(base), why) < 0)
			return 0;
		if (!is_cgroup2(base)) {
			*why = "cgroup-v2-not-mounted";
			return 0;
		}
		if (!delegated(base)) {
			*why = "not-delegated";
			return 0;
		}
	}
	bfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bfd < 0) {
		*why = strerror(errno);
		return given ? -1 : 0;
	}
	sweep(bfd);
	snprintf(name, sizeof(name), "seawatchd.%ld", (long)getpid());
	for (int tries = 0; tries < 3; tries++) {
		struct stat a, b;

		if (mkdirat(bfd, name, 0755) < 0 && errno != EEXIST)
			break;
		dirfd_ = openat(bfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dirfd_ < 0)
			continue;
		/* Locked, and still the one in BASE: another daemon's sweep
		 * may have removed it between our mkdir and our lock. */
		if (flock(dirfd_, LOCK_EX | LOCK_NB) == 0 && fstat(dirfd_, &a) == 0 &&
		    fstatat(bfd, name, &b, 0) == 0 && a.st_ino == b.st_ino) {
			if (snprintf(dir, sizeof(dir), "%s/%s", base, name) < (int)sizeof(dir)) {
				close(bfd);
				return 1;
			}
			dir[0] = '\0';
			errno = ENAMETOOLONG;
			break;
		}
		close(dirfd_);
		dirfd_ = -1;
	}
	*why = strerror(errno ? errno : EBUSY);
	close(bfd);
	return given ? -1 : 0;
}

const char *cg_dir(void)
{
	return dir[0] ? dir : NULL;
}

int cg_worker_path(int index, char *buf, size_t size)
{
	char name[32];

	if (!dir[0]) {
		snprintf(buf, size, "-");
		return 0;
	}
	snprintf(name, sizeof(name), "w%d", index);
	if (mkdirat(dirfd_, name, 0755) < 0 && errno != EEXIST)
		return -1;
	snprintf(buf, size, "%s/%s", dir, name);
	return 0;
}

void cg_worker_lost(int index)
{
	char name[48];

	if (!dir[0])
		return;
	snprintf(name, sizeof(name), "w%d/cgroup.kill", index);
	write_at(dirfd_, name, "1");
}

void cg_teardown(void)
{
	char name[64];
	int bfd;

	if (!dir[0])
		return;
	/* Our own directory, by its name in BASE (the parent of DIR). */
	snprintf(name, sizeof(name), "%s", strrchr(dir, '/') + 1);
	*strrchr(dir, '/') = '\0';
	bfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bfd >= 0) {
		kill_and_remove(bfd, name);
		close(bfd);
	}
	close(dirfd_);
	dirfd_ = -1;
	dir[0] = '\0';
}

int cg_worker_open(const char *path)
{
	char p[PATH_MAX];

	if (!path || !strcmp(path, "-"))
		return 0;
	snprintf(p, sizeof(p), "%s/cgroup.procs", path);
	procs_fd = open(p, O_WRONLY | O_CLOEXEC);
	snprintf(p, sizeof(p), "%s/cgroup.kill", path);
	kill_fd = open(p, O_WRONLY | O_CLOEXEC);
	if (procs_fd < 0 || kill_fd < 0)
		return -1;
	return 0;
}

int cg_procs_fd(void)
{
	return procs_fd;
}

/* Persistent commands (lines mode) alive in this worker's cgroup: a kill
 * of the cgroup would take them too, so it is not made while one lives
 * beside the command that ends (its process group is still killed). */
static int held;

void cg_hold(int delta)
{
	held += delta;
}

static void kill_all(void)
{
	if (kill_fd >= 0 && write(kill_fd, "1", 1) < 0) {
		/* Nothing to do: the command's group was killed anyway. */
	}
}

void cg_kill(void)
{
	if (held == 0)
		kill_all();
}

void cg_kill_held(void)
{
	if (held <= 1)
		kill_all();
}
