/*
 * test_copy.c - unit tests of src/copy.c: the copy keeps holes, takes the
 * daemon's modes, leaves nothing behind when stopped, works across file
 * systems, and the thread answers each request once with its id.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "copy.h"
#include "spool.h"

static char root[64];
static int rootfd = -1;

static void mk(void)
{
	strcpy(root, "/tmp/sw-unit-copy.XXXXXX");
	cr_assert_not_null(mkdtemp(root));
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(rootfd, 0);
}

static void rm(void)
{
	char cmd[128];

	close(rootfd);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(copy, .init = mk, .fini = rm);

/* A 1 GiB file with 8 bytes at 0 and at 512 MiB, mode 4755: its fd. */
static int sparse_source(void)
{
	int fd = openat(rootfd, "src", O_RDWR | O_CREAT | O_CLOEXEC, 04755);

	cr_assert_geq(fd, 0);
	cr_assert_eq(fchmod(fd, 04755), 0);
	cr_assert_eq(pwrite(fd, "AAAAAAAA", 8, 0), 8);
	cr_assert_eq(pwrite(fd, "BBBBBBBB", 8, 512 << 20), 8);
	cr_assert_eq(ftruncate(fd, 1 << 30), 0);
	return fd;
}

static void check_copy(int dirfd, const char *name)
{
	char buf[8];
	struct stat st;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);

	cr_assert_geq(fd, 0, "%s", strerror(errno));
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_size, 1 << 30);
	cr_assert_lt(st.st_blocks, 1024, "holes were written: %lld blocks",
		     (long long)st.st_blocks);
	cr_assert_eq(st.st_mode & 07777, SPOOL_FILE_MODE, "mode %04o", st.st_mode & 07777);
	cr_assert_eq(pread(fd, buf, 8, 0), 8);
	cr_assert_eq(memcmp(buf, "AAAAAAAA", 8), 0);
	cr_assert_eq(pread(fd, buf, 8, 512 << 20), 8);
	cr_assert_eq(memcmp(buf, "BBBBBBBB", 8), 0);
	cr_assert_eq(pread(fd, buf, 8, 256 << 20), 8);
	cr_assert_eq(memcmp(buf, "\0\0\0\0\0\0\0\0", 8), 0);
	close(fd);
}

Test(copy, keeps_holes_and_takes_the_daemons_modes)
{
	static const int never = 0;
	int src = sparse_source();

	cr_assert_eq(copy_file(src, rootfd, "dst", -1, &never), 0, "%s", strerror(errno));
	check_copy(rootfd, "dst");
	cr_assert_eq(copy_file(src, rootfd, "dst", -1, &never), -1, "an existing name reused");
	cr_assert_eq(errno, EEXIST);
	close(src);
}

Test(copy, across_file_systems)
{
	static const int never = 0;
	char p[64];
	int src = sparse_source(), shm;

	snprintf(p, sizeof p, "/dev/shm/sw-unit-copy.%d", (int)getpid());
	if (mkdir(p, 0700) < 0)
		cr_skip("no /dev/shm");
	shm = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert_eq(copy_file(src, shm, "dst", -1, &never), 0, "%s", strerror(errno));
	check_copy(shm, "dst");
	unlinkat(shm, "dst", 0);
	close(shm);
	rmdir(p);
	close(src);
}

Test(copy, stopped_leaves_nothing)
{
	static const int stop = 1;
	int src = sparse_source();

	cr_assert_eq(copy_file(src, rootfd, "dst", -1, &stop), -1);
	cr_assert_eq(errno, ECANCELED);
	cr_assert_eq(faccessat(rootfd, "dst", F_OK, AT_SYMLINK_NOFOLLOW), -1, "left behind");
	close(src);
}

/* Through the thread: each request answered once, by id and generation. */
Test(copy, the_thread_answers_each_request)
{
	struct copy_done d;
	int seen = 0, src = sparse_source();

	for (int i = 0; i < 3; i++) {
		struct copy_req r;

		memset(&r, 0, sizeof r);
		r.id = (uint32_t)i;
		r.gen = 100u + (uint32_t)i;
		r.src = dup(src);
		r.dirfd = rootfd;
		r.gid = -1;
		snprintf(r.name, sizeof r.name, "c%d", i);
		cr_assert_eq(copy_submit(&r), 0);
	}
	while (seen != 7) {
		struct pollfd pf = { .fd = copy_fd(), .events = POLLIN };

		cr_assert_eq(poll(&pf, 1, 10000), 1, "no answer within 10 s");
		while (copy_next(&d)) {
			cr_assert_lt(d.id, 3u);
			cr_assert_eq(d.gen, 100u + d.id);
			cr_assert_eq(d.err, 0);
			cr_assert_eq(seen & (1 << d.id), 0, "answered twice");
			seen |= 1 << d.id;
		}
	}
	check_copy(rootfd, "c2");
	copy_stop();
	cr_assert_eq(copy_fd(), -1);
	close(src);
}
