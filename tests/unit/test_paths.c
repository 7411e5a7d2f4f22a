/*
 * test_paths.c - unit tests of src/trust.c: directories opened without
 * following symlinks (openat2 and the walk), who else may change a file or
 * a path, and done/ failed/ held open (tdir) across replacements.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "trust.h"

static char root[64];

static const char *at(const char *rel)
{
	static char bufs[4][PATH_MAX];
	static int k;
	char *b = bufs[k++ % 4];

	snprintf(b, PATH_MAX, "%s/%s", root, rel);
	return b;
}

static void mk(void)
{
	strcpy(root, "/tmp/sw-unit-paths.XXXXXX");
	cr_assert_not_null(mkdtemp(root));
	cr_assert_eq(mkdir(at("a"), 0755), 0);
	cr_assert_eq(mkdir(at("a/b"), 0755), 0);
	cr_assert_eq(symlink("a", at("la")), 0);
	cr_assert_eq(symlink("b", at("a/lb")), 0);
	cr_assert_eq(close(open(at("file"), O_WRONLY | O_CREAT, 0644)), 0);
}

static void rm(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(paths, .init = mk, .fini = rm);

static void opens(int (*fn)(const char *))
{
	int fd = fn(at("a/b"));

	cr_assert_geq(fd, 0, "%s", strerror(errno));
	close(fd);
	cr_assert_eq(fn(at("la/b")), -1, "a symlink on the way was followed");
	cr_assert(errno == ELOOP || errno == ENOTDIR, "%s", strerror(errno));
	cr_assert_eq(fn(at("a/lb")), -1, "a symlink at the end was followed");
	cr_assert(errno == ELOOP || errno == ENOTDIR, "%s", strerror(errno));
	cr_assert_eq(fn(at("file")), -1);
	cr_assert_eq(errno, ENOTDIR);
	cr_assert_eq(fn("relative/path"), -1);
	cr_assert_eq(errno, EINVAL);
	fd = fn("/");
	cr_assert_geq(fd, 0);
	close(fd);
}

Test(paths, open_dir_follows_no_symlink)
{
	opens(trust_open_dir);
}

Test(paths, the_walk_follows_no_symlink_either)
{
	opens(trust_open_dir_walk);
}

/* The rule, file by file: another owner, group or world write -- except
 * on a sticky directory, where others cannot replace our entries. */
Test(paths, others_can_change)
{
	static const struct {
		uid_t uid;
		gid_t gid;
		mode_t mode;
		int dir, want;
	} rows[] = {
		{ 0, 0, 0644, 0, 0 },
		{ 0, 0, 0664, 0, 0 },           /* root's group */
		{ 0, 12345, 0664, 0, 1 },       /* another group may write */
		{ 0, 12345, 0644, 0, 0 },
		{ 0, 0, 0646, 0, 1 },           /* everybody may write */
		{ 65534, 0, 0600, 0, 1 },       /* another owner */
		{ 0, 0, 01777, 1, 0 },          /* sticky: /tmp */
		{ 0, 0, 0777, 1, 1 },
		{ 0, 12345, 0775, 1, 1 },
		{ 65534, 0, 01777, 1, 1 },      /* sticky, but someone else's */
	};

	if (geteuid() != 0)
		cr_skip("needs root (chown)");
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const char *p = at(rows[i].dir ? "t" : "file");
		struct stat st;
		char why[64] = "";

		cr_assert_eq(rows[i].dir ? mkdir(p, 0700) : 0, 0);
		cr_assert_eq(chown(p, rows[i].uid, rows[i].gid), 0);
		cr_assert_eq(chmod(p, rows[i].mode), 0);
		cr_assert_eq(lstat(p, &st), 0);
		cr_assert_eq(trust_others_can_change(&st, why, sizeof why), rows[i].want,
			     "row %zu (uid %d gid %d mode %04o): %s", i, (int)rows[i].uid,
			     (int)rows[i].gid, (unsigned)rows[i].mode, why);
		if (rows[i].dir)
			cr_assert_eq(rmdir(p), 0);
	}
}

/* A path is as safe as its least safe component, which is named. */
Test(paths, path_unsafe_names_the_component)
{
	char why[PATH_MAX + 64];

	if (geteuid() != 0)
		cr_skip("needs root (chown)");
	cr_assert_eq(trust_path_unsafe(at("a/b"), 0, why, sizeof why), 0, "%s", why);
	cr_assert_eq(chown(at("a"), 65534, 65534), 0);
	cr_assert_eq(trust_path_unsafe(at("a/b"), 0, why, sizeof why), 1);
	cr_assert(strstr(why, at("a")) && strstr(why, "owner uid 65534"), "%s", why);
	cr_assert_eq(chown(at("a"), 0, 0), 0);
	cr_assert_eq(chmod(at("a/b"), 0777), 0);
	cr_assert_eq(trust_path_unsafe(at("a/b"), 0, why, sizeof why), 1);
	cr_assert_eq(trust_path_unsafe(at("a/b"), 1, why, sizeof why), 0,
		     "parents only, yet the last one counted: %s", why);
	cr_assert_eq(trust_path_unsafe(at("la/b"), 0, why, sizeof why), 1);
	cr_assert(strstr(why, "a symlink"), "%s", why);
	cr_assert_eq(trust_path_unsafe(at("nope/x"), 0, why, sizeof why), -1);
}

/* done/ held open: an operator's rotation (mv, mkdir) is followed after a
 * second, a symlink swapped in is not (the old directory stays in use). */
Test(paths, tdir_follows_a_directory_never_a_symlink)
{
	struct tdir d;
	struct stat a, b;
	int64_t t;

	cr_assert_eq(tdir_open(&d, at("a/b")), 0);
	t = d.checked_ms;
	cr_assert_eq(fstat(d.fd, &a), 0);
	cr_assert_eq(rename(at("a/b"), at("a/b.1")), 0);
	cr_assert_eq(mkdir(at("a/b"), 0755), 0);
	cr_assert_eq(fstat(tdir_fd(&d, t + 10), &b), 0);
	cr_assert_eq(a.st_ino, b.st_ino, "looked again within the second");
	cr_assert_eq(fstat(tdir_fd(&d, t + 1000), &b), 0);
	cr_assert_neq(a.st_ino, b.st_ino, "the new directory was not followed");
	cr_assert_eq(rename(at("a/b"), at("a/b.2")), 0);
	cr_assert_eq(symlink("b.1", at("a/b")), 0);
	cr_assert_eq(fstat(tdir_fd(&d, t + 2000), &a), 0);
	cr_assert_eq(a.st_ino, b.st_ino, "the symlink was followed");
	cr_assert_eq(d.warned, 1);
	tdir_close(&d);
	cr_assert_eq(d.fd, -1);
}

/* user:65534:rwx in an access ACL, written as the kernel stores it. */
static int give_acl(const char *path)
{
	struct { uint16_t tag, perm; uint32_t id; } e[5] = {
		{ 0x01, 7, (uint32_t)-1 },   /* user:: rwx */
		{ 0x02, 7, 65534 },          /* user:65534: rwx */
		{ 0x04, 5, (uint32_t)-1 },   /* group:: r-x */
		{ 0x10, 7, (uint32_t)-1 },   /* mask:: rwx */
		{ 0x20, 5, (uint32_t)-1 },   /* other:: r-x */
	};
	char buf[4 + sizeof e];
	uint32_t version = 2;

	memcpy(buf, &version, 4);
	memcpy(buf + 4, e, sizeof e);
	return setxattr(path, "system.posix_acl_access", buf, sizeof buf, 0);
}

/* Mode bits that look closed (root:root, group write for root's group)
 * while an ACL lets another user write. */
Test(paths, an_acl_that_lets_others_write_counts)
{
	char why[PATH_MAX + 64];
	struct stat st;

	if (give_acl(at("a")) < 0)
		cr_skip("no ACLs here: %s", strerror(errno));
	cr_assert_eq(lstat(at("a"), &st), 0);
	cr_assert_eq(trust_others_can_change(&st, NULL, 0), 0, "the mode bits alone say no");
	cr_assert_eq(trust_acl_writable(at("a"), &st), 1);
	cr_assert_eq(trust_path_unsafe(at("a/b"), 0, why, sizeof why), 1);
	cr_assert(strstr(why, "ACL"), "%s", why);
}

/* A directory that someone else made in place of done/ is not followed. */
Test(paths, tdir_does_not_follow_a_directory_others_made)
{
	struct tdir d;
	struct stat a, b;

	if (geteuid() != 0)
		cr_skip("needs root (chown)");
	cr_assert_eq(tdir_open(&d, at("a/b")), 0);
	cr_assert_eq(fstat(d.fd, &a), 0);
	cr_assert_eq(rename(at("a/b"), at("a/b.1")), 0);
	cr_assert_eq(mkdir(at("a/b"), 0755), 0);
	cr_assert_eq(chown(at("a/b"), 65534, 65534), 0);
	cr_assert_eq(fstat(tdir_fd(&d, d.checked_ms + 1000), &b), 0);
	cr_assert_eq(a.st_ino, b.st_ino, "followed into a directory of uid 65534");
	tdir_close(&d);
}
