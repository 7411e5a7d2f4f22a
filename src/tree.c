/*
 * tree.c - paths below a directory, never through a symlink (see tree.h).
 */
#include "tree.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirlist.h"

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

const char *tree_base(const char *rel)
{
	const char *s = strrchr(rel, '/');

	return s ? s + 1 : rel;
}

int tree_depth(const char *rel)
{
	int n = 0;

	for (; *rel; rel++)
		n += *rel == '/';
	return n;
}

int tree_rel_ok(const char *rel)
{
	size_t len = strlen(rel);
	int dirs = 0;
	const char *p = rel;

	if (len == 0 || len >= TREE_REL_MAX)
		return 0;
	for (;;) {
		size_t n = strcspn(p, "/");

		if (n == 0 || n > NAME_MAX || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		if (!p[n])
			return dirs <= SW_DEPTH_MAX;
		dirs++;
		p += n + 1;
	}
}

int tree_dir(int rootfd, const char *rel, int make, const char **base)
{
	const char *p = rel, *slash;
	int fd = rootfd;

	*base = tree_base(rel);
	while ((slash = strchr(p, '/'))) {
		char comp[NAME_MAX + 1];
		size_t n = (size_t)(slash - p);
		int next;

		if (n == 0 || n > NAME_MAX) {
			tree_put(fd, rootfd);
			errno = EINVAL;
			return -1;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		next = openat(fd, comp, DIR_FLAGS);
		if (next < 0 && errno == ENOENT && make &&
		    (mkdirat(fd, comp, 0750) == 0 || errno == EEXIST))
			next = openat(fd, comp, DIR_FLAGS);
		if (next < 0) {
			int e = errno;

			tree_put(fd, rootfd);
			errno = e;
			return -1;
		}
		tree_put(fd, rootfd);
		fd = next;
		p = slash + 1;
	}
	return fd;
}

void tree_put(int fd, int rootfd)
{
	if (fd >= 0 && fd != rootfd)
		close(fd);
}

int tree_walk_start(struct tree_walk *w, int rootfd)
{
	w->depth = 0;
	w->open = 0;
	w->rel[0] = '\0';
	w->len[0] = 0;
	if (!(w->dir[0] = dir_list(rootfd)))
		return -1;
	w->open = 1;
	return 0;
}

struct dirent *tree_walk_next(struct tree_walk *w)
{
	while (w->open > 0) {
		int lv = w->open - 1;
		struct dirent *e = readdir(w->dir[lv]);
		size_t n;

		if (!e) {
			closedir(w->dir[lv]);
			w->open--;
			continue;
		}
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		n = strlen(e->d_name);
		if (w->len[lv] + n >= sizeof(w->rel))
			continue;
		memcpy(w->rel + w->len[lv], e->d_name, n + 1);
		w->depth = lv;
		return e;
	}
	return NULL;
}

int tree_walk_fd(const struct tree_walk *w)
{
	return dirfd(w->dir[w->depth]);
}

int tree_walk_enter(struct tree_walk *w)
{
	int lv = w->depth + 1, fd;
	size_t n = strlen(w->rel);

	/* Only the last entry's directory may be entered, and only once. */
	if (lv != w->open || lv > SW_DEPTH_MAX || n + 1 >= sizeof(w->rel)) {
		errno = lv > SW_DEPTH_MAX || n + 1 >= sizeof(w->rel) ? ENAMETOOLONG : EINVAL;
		return -1;
	}
	fd = openat(dirfd(w->dir[w->depth]), tree_base(w->rel), DIR_FLAGS);
	if (fd < 0)
		return -1;
	if (!(w->dir[lv] = fdopendir(fd))) {
		close(fd);
		return -1;
	}
	w->rel[n] = '/';
	w->rel[n + 1] = '\0';
	w->len[lv] = n + 1;
	w->open = lv + 1;
	return 0;
}

void tree_walk_end(struct tree_walk *w)
{
	while (w->open > 0)
		closedir(w->dir[--w->open]);
}
