/*
 * copy.c - file copies beside the event loop (see copy.h).
 *
 * The threads (two: one big copy does not hold up every other) touch
 * nothing of the master's but the descriptors they are given and their
 * queue; they log nothing (the log's quoting buffers are the master's).  Answers go back on a pipe as fixed-size writes, atomic below
 * PIPE_BUF.  Workers are started by fork+exec from the master, so a second
 * thread here changes nothing for them (see watch.c for the first).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "copy.h"
#include "spool.h"

#define CHUNK (8 << 20)   /* bytes per call between two looks at the stop flag */
#define THREADS 2         /* one big copy does not hold up every other */

struct item {
	struct copy_req r;
	struct item *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t more = PTHREAD_COND_INITIALIZER;
static struct item *head, *tail;
static pthread_t threads[THREADS];
static int started;
static volatile int stopping;
static int pipefd[2] = { -1, -1 };

/* LEN bytes at OFF of IN into OUT at the same offset; *PLAIN once
 * copy_file_range(2) is refused for this pair (another file system type,
 * an old kernel): read and write. */
static int copy_range(int in, int out, off_t off, off_t len, const volatile int *stop,
		      int *plain)
{
	char buf[65536];

	while (len > 0) {
		size_t n = len > CHUNK ? CHUNK : (size_t)len;
		ssize_t r;

		if (*stop) {
			errno = ECANCELED;
			return -1;
		}
		if (!*plain) {
			loff_t a = off, b = off;

			r = copy_file_range(in, &a, out, &b, n, 0);
			if (r < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
				      errno == EOPNOTSUPP || errno == EBADF)) {
				*plain = 1;
				continue;
			}
		} else {
			r = pread(in, buf, n < sizeof(buf) ? n : sizeof(buf), off);
			if (r > 0) {
				ssize_t w, done = 0;

				while (done < r) {
					w = pwrite(out, buf + done, (size_t)(r - done), off + done);
					if (w < 0 && errno == EINTR)
						continue;
					if (w < 0)
						return -1;
					done += w;
				}
			}
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;   /* the file shrank: what is left reads as a hole */
		off += r;
		len -= r;
	}
	return 0;
}

/* The next data range of FD at or after *POS below SIZE: 1 with [*START,
 * *END), 0 at the end.  Without SEEK_DATA the whole file is one range. */
static int next_data(int fd, off_t size, off_t *pos, off_t *start, off_t *end)
{
	off_t d, h;

	if (*pos >= size)
		return 0;
	d = lseek(fd, *pos, SEEK_DATA);
	if (d < 0 && errno == ENXIO)
		return 0;
	if (d < 0) {
		d = *pos;
		h = size;
	} else {
		h = lseek(fd, d, SEEK_HOLE);
		if (h < 0 || h > size)
			h = size;
	}
	if (d >= size)
		return 0;
	*start = d;
	*end = h;
	*pos = h;
	return 1;
}

int copy_file(int src, int dirfd, const char *name, long gid, const volatile int *stop)
{
	off_t pos, a, b;
	struct stat st;
	int out, saved, reserve = 1, plain = 0;

	if (fstat(src, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return -1;
	}
	out = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return -1;
	/* Reserve every data range first: a full disk says so now, and the
	 * copy keeps the source's holes. */
	for (pos = 0; reserve && next_data(src, st.st_size, &pos, &a, &b); )
		if (fallocate(out, 0, a, b - a) < 0) {
			if (errno != EOPNOTSUPP && errno != ENOSYS)
				goto fail;
			reserve = 0;   /* the file system cannot: write and see */
		}
	for (pos = 0; next_data(src, st.st_size, &pos, &a, &b); )
		if (copy_range(src, out, a, b - a, stop, &plain) < 0)
			goto fail;
	if (ftruncate(out, st.st_size) < 0)
		goto fail;
	/* The daemon's file: its modes, never the source's (an uploader's
	 * setuid bit must not become root's). */
	if (gid >= 0 && fchown(out, (uid_t)-1, (gid_t)gid) < 0)
		goto fail;
	if (fchmod(out, SPOOL_FILE_MODE) < 0 || fsync(out) < 0)
		goto fail;
	if (close(out) < 0) {
		out = -1;
		goto fail;
	}
	return 0;
fail:
	saved = errno;
	if (out >= 0)
		close(out);
	unlinkat(dirfd, name, 0);
	errno = saved;
	return -1;
}

static void answer(const struct copy_req *r, int err)
{
	struct copy_done d = { r->id, r->gen, err };

	while (write(pipefd[1], &d, sizeof(d)) < 0 && errno == EINTR)
		;
}

static void *copy_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct item *it;
		int err;

		pthread_mutex_lock(&lock);
		while (!head && !stopping)
			pthread_cond_wait(&more, &lock);
		if (stopping) {
			pthread_mutex_unlock(&lock);
			return NULL;
		}
		it = head;
		head = it->next;
		if (!head)
			tail = NULL;
		pthread_mutex_unlock(&lock);
		err = copy_file(it->r.src, it->r.dirfd, it->r.name, it->r.gid, &stopping) < 0 ?
		      errno : 0;
		close(it->r.src);
		if (!stopping)
			answer(&it->r, err);
		else if (!err)
			unlinkat(it->r.dirfd, it->r.name, 0);   /* nobody will place it */
		free(it);
	}
}

static int start(void)
{
	sigset_t all, old;
	int e;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -1;
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	/* Every signal is the master's (its signalfd): block them all here. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	stopping = 0;
	for (started = 0; started < THREADS; started++) {
		e = pthread_create(&threads[started], NULL, copy_main, NULL);
		if (e)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (started == 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		pipefd[0] = pipefd[1] = -1;
		errno = e;
		return -1;
	}
	return 0;
}

int copy_submit(const struct copy_req *r)
{
	struct item *it = malloc(sizeof(*it));

	if (!it || (!started && start() < 0)) {
		int saved = errno;

		free(it);
		close(r->src);
		errno = saved;
		return -1;
	}
	it->r = *r;
	it->next = NULL;
	pthread_mutex_lock(&lock);
	if (tail)
		tail->next = it;
	else
		head = it;
	tail = it;
	pthread_cond_signal(&more);
	pthread_mutex_unlock(&lock);
	return 0;
}

int copy_fd(void)
{
	return pipefd[0];
}

int copy_next(struct copy_done *d)
{
	ssize_t r;

	if (pipefd[0] < 0)
		return 0;
	do
		r = read(pipefd[0], d, sizeof(*d));
	while (r < 0 && errno == EINTR);
	return r == (ssize_t)sizeof(*d);
}

void copy_stop(void)
{
	struct item *it;

	if (!started)
		return;
	pthread_mutex_lock(&lock);
	stopping = 1;
	pthread_cond_broadcast(&more);
	pthread_mutex_unlock(&lock);
	while (started > 0)
		pthread_join(threads[--started], NULL);
	while ((it = head)) {
		head = it->next;
		close(it->r.src);
		free(it);
	}
	tail = NULL;
	close(pipefd[0]);
	close(pipefd[1]);
	pipefd[0] = pipefd[1] = -1;
}
