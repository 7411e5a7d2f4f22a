/* Unit tests: small files written whole or not at all (fileio.c). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirlist.h"
#include "fileio.h"

static char dir[64];
static int dfd;

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/sw-fileio.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	cr_assert_geq(dfd, 0);
}

static void teardown(void)
{
	char cmd[96];

	close(dfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(fileio, .init = setup, .fini = teardown);

static char *slurp(const char *name)
{
	static char buf[256];
	int fd = openat(dfd, name, O_RDONLY);
	ssize_t n;

	cr_assert_geq(fd, 0, "%s is missing", name);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	cr_assert_geq(n, 0);
	buf[n] = '\0';
	return buf;
}

Test(fileio, a_new_file_is_whole_with_its_mode_and_never_replaces)
{
	struct stat st;

	cr_assert_eq(fio_write_new(dfd, "a", "hello\n", 6, 0640), 0);
	cr_assert_str_eq(slurp("a"), "hello\n");
	cr_assert_eq(fstatat(dfd, "a", &st, 0), 0);
	cr_assert_eq(st.st_mode & 07777, 0640 & ~(mode_t)umask(umask(0)));
	cr_assert_eq(fio_write_new(dfd, "a", "other\n", 6, 0640), -1);
	cr_assert_str_eq(slurp("a"), "hello\n", "an existing file was touched");
	/* Never through a symlink. */
	cr_assert_eq(symlinkat("/tmp/sw-fileio-target", dfd, "l"), 0);
	cr_assert_eq(fio_write_new(dfd, "l", "x", 1, 0640), -1);
	cr_assert_eq(access("/tmp/sw-fileio-target", F_OK), -1);
}

Test(fileio, replace_swaps_the_whole_text_and_leaves_no_temporary)
{
	cr_assert_eq(fio_replace(dfd, "r.tmp", "r", "one\n", 4, 0640), 0);
	cr_assert_str_eq(slurp("r"), "one\n");
	/* A temporary left by a crash is no obstacle. */
	cr_assert_eq(fio_write_new(dfd, "r.tmp", "stale", 5, 0640), 0);
	cr_assert_eq(fio_replace(dfd, "r.tmp", "r", "two\n", 4, 0640), 0);
	cr_assert_str_eq(slurp("r"), "two\n");
	cr_assert_eq(faccessat(dfd, "r.tmp", F_OK, 0), -1, "the temporary stayed");
	/* A failed rename (onto a directory) leaves the old name as it was
	 * and no temporary. */
	cr_assert_eq(mkdirat(dfd, "d", 0700), 0);
	cr_assert_eq(mkdirat(dfd, "d/x", 0700), 0);
	cr_assert_eq(fio_replace(dfd, "d.tmp", "d", "three\n", 6, 0640), -1);
	cr_assert_eq(faccessat(dfd, "d.tmp", F_OK, 0), -1, "a temporary stayed after a failure");
	cr_assert_eq(faccessat(dfd, "d/x", F_OK, 0), 0);
}

/* Entries of a listing (dot-names aside), then the listing closed. */
static int count_listed(DIR *d)
{
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* dir_list() starts every listing at the first entry, whatever was
 * listed through the same descriptor before; fdopendir(dup()) does not
 * (the cause of cgroups left behind at stop and of dead runs never
 * adopted: a second pass saw nothing). */
Test(fileio, every_listing_starts_at_the_first_entry)
{
	cr_assert_eq(fio_write_new(dfd, "a", "", 0, 0600), 0);
	cr_assert_eq(fio_write_new(dfd, "b", "", 0, 0600), 0);
	cr_assert_eq(count_listed(dir_list(dfd)), 2);
	cr_assert_eq(count_listed(dir_list(dfd)), 2, "a second listing missed entries");
	/* What it replaces: the second pass through a dup sees nothing. */
	cr_assert_eq(count_listed(fdopendir(dup(dfd))), 2);
	cr_assert_eq(count_listed(fdopendir(dup(dfd))), 0,
		     "fdopendir(dup()) no longer shares the offset: the comment in dirlist.h is wrong");
}
