/*
 * test_tree.c - paths below a directory, never through a symlink (tree.c):
 * which relative paths are sane, opening (and making) the directory of one
 * one component at a time, and the depth-first listing.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tree.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

struct rcase {
	const char *rel;
	int ok;
};

static const struct rcase rel_cases[] = {
	{ "x.sea", 1 }, { "a/x.sea", 1 }, { "a/b/c/x.sea", 1 }, { ".x", 1 }, { "a/..b", 1 },
	{ "", 0 }, { "/x.sea", 0 }, { "a/", 0 }, { "a//x", 0 }, { ".", 0 }, { "..", 0 },
	{ "a/./x", 0 }, { "a/../x", 0 }, { "../x", 0 }, { "a/..", 0 },
};

ParameterizedTestParameters(tree, rel_ok)
{
	static int idx[N_OF(rel_cases)];

	for (size_t i = 0; i < N_OF(rel_cases); i++)
		idx[i] = (int)i;
	return cr_make_param_array(int, idx, N_OF(idx));
}

ParameterizedTest(int *i, tree, rel_ok)
{
	cr_assert_eq(tree_rel_ok(rel_cases[*i].rel), rel_cases[*i].ok, "\"%s\"", rel_cases[*i].rel);
}

/* Lengths and depths at their limits. */
Test(tree, rel_limits)
{
	char buf[TREE_REL_MAX + 300];

	memset(buf, 'a', NAME_MAX);
	buf[NAME_MAX] = '\0';
	cr_assert(tree_rel_ok(buf), "a name of NAME_MAX bytes");
	memset(buf, 'a', NAME_MAX + 1);
	buf[NAME_MAX + 1] = '\0';
	cr_assert(!tree_rel_ok(buf), "a component longer than NAME_MAX");
	memset(buf, 'a', TREE_REL_MAX);
	for (int k = 100; k < TREE_REL_MAX; k += 100)
		buf[k] = '/';
	buf[TREE_REL_MAX - 1] = '\0';
	cr_assert(tree_rel_ok(buf), "TREE_REL_MAX - 1 bytes");
	buf[TREE_REL_MAX - 1] = 'a';
	buf[TREE_REL_MAX] = '\0';
	cr_assert(!tree_rel_ok(buf), "TREE_REL_MAX bytes");
	buf[0] = '\0';
	for (int k = 0; k < SW_DEPTH_MAX; k++)
		strcat(buf, "d/");
	strcat(buf, "x");
	cr_assert(tree_rel_ok(buf), "SW_DEPTH_MAX directories");
	strcat(buf, "/y");
	cr_assert(!tree_rel_ok(buf), "one more");
	cr_assert_str_eq(tree_base("a/b/x.sea"), "x.sea");
	cr_assert_eq(tree_depth("a/b/x.sea"), 2);
	cr_assert_eq(tree_depth("x.sea"), 0);
	cr_assert_str_eq(tree_base("x.sea"), "x.sea");
}

static char root[64];
static int rootfd = -1;

static void mk(void)
{
	snprintf(root, sizeof(root), "/tmp/sw-tree.XXXXXX");
	cr_assert_not_null(mkdtemp(root));
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(rootfd, 0);
}

static void rm(void)
{
	char cmd[128];

	close(rootfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	cr_assert_eq(system(cmd), 0);
}

static void sh(const char *fmt)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "cd %s && %s", root, fmt);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* The directory of a path, opened: the top is the root itself; a symlink
 * anywhere on the way is refused (ENOTDIR: open with O_DIRECTORY |
 * O_NOFOLLOW says so), as is a file; MAKE makes
 * what is missing, but never through a symlink. */
Test(tree, dir_never_follows_a_symlink, .init = mk, .fini = rm)
{
	const char *base;
	struct stat st;
	int fd;

	sh("mkdir -p a/b out && touch a/b/x.sea out/x.sea && ln -s ../out a/link && ln -s out top");
	cr_assert_eq(tree_dir(rootfd, "x.sea", 0, &base), rootfd);
	cr_assert_str_eq(base, "x.sea");
	fd = tree_dir(rootfd, "a/b/x.sea", 0, &base);
	cr_assert_geq(fd, 0);
	cr_assert_neq(fd, rootfd);
	cr_assert_str_eq(base, "x.sea");
	cr_assert_eq(fstatat(fd, base, &st, 0), 0);
	tree_put(fd, rootfd);
	errno = 0;
	cr_assert_eq(tree_dir(rootfd, "a/link/x.sea", 0, &base), -1);
	cr_assert(errno == ENOTDIR || errno == ELOOP, "%s", strerror(errno));
	cr_assert_eq(tree_dir(rootfd, "top/x.sea", 1, &base), -1);
	cr_assert(errno == ENOTDIR || errno == ELOOP, "%s", strerror(errno));
	cr_assert_eq(tree_dir(rootfd, "a/b/x.sea/y", 1, &base), -1);
	cr_assert_eq(errno, ENOTDIR);
	cr_assert_eq(tree_dir(rootfd, "a/missing/x.sea", 0, &base), -1);
	cr_assert_eq(errno, ENOENT);
	/* Made: each level 0750. */
	fd = tree_dir(rootfd, "n/m/x.sea", 1, &base);
	cr_assert_geq(fd, 0);
	tree_put(fd, rootfd);
	cr_assert_eq(fstatat(rootfd, "n/m", &st, AT_SYMLINK_NOFOLLOW), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0750 & ~(mode_t)umask(022), "mode %o", st.st_mode);
	/* Nothing made through the symlink. */
	cr_assert_neq(fstatat(rootfd, "out/m", &st, AT_SYMLINK_NOFOLLOW), 0);
}

/* The listing: depth first on request, paths relative to the root, no
 * symlink entered, an early end closes what is open. */
Test(tree, walk_lists_what_it_is_told_to_enter, .init = mk, .fini = rm)
{
	struct tree_walk w;
	struct dirent *e;
	char seen[2048] = "";
	int fds_before, fds_after, dirs = 0;

	sh("mkdir -p a/b c && touch top.sea a/one.sea a/b/two.sea c/three.sea && ln -s a link");
	cr_assert_eq(tree_walk_start(&w, rootfd), 0);
	while ((e = tree_walk_next(&w))) {
		strcat(seen, w.rel);
		strcat(seen, " ");
		if (e->d_type == DT_DIR && strcmp(e->d_name, "c")) {
			cr_assert_eq(tree_walk_enter(&w), 0, "%s", w.rel);
			dirs++;
		}
		if (e->d_type == DT_LNK) {
			errno = 0;
			cr_assert_eq(tree_walk_enter(&w), -1, "a symlink entered");
		}
	}
	cr_assert_eq(dirs, 2);
	cr_assert(strstr(seen, "top.sea "), "%s", seen);
	cr_assert(strstr(seen, "a/one.sea "), "%s", seen);
	cr_assert(strstr(seen, "a/b/two.sea "), "%s", seen);
	cr_assert(strstr(seen, "c "), "%s", seen);
	cr_assert(!strstr(seen, "c/three.sea"), "c was not entered: %s", seen);
	cr_assert(!strstr(seen, "link/"), "%s", seen);
	/* An early end leaves no descriptor open. */
	fds_before = open("/dev/null", O_RDONLY);
	close(fds_before);
	cr_assert_eq(tree_walk_start(&w, rootfd), 0);
	while ((e = tree_walk_next(&w)) && e->d_type != DT_DIR)
		;
	cr_assert_not_null(e);
	cr_assert_eq(tree_walk_enter(&w), 0);
	tree_walk_end(&w);
	tree_walk_end(&w);
	fds_after = open("/dev/null", O_RDONLY);
	close(fds_after);
	cr_assert_eq(fds_after, fds_before, "descriptors left open");
}
