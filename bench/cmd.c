/*
 * cmd.c - the commands the benchmarks run, one binary with a personality
 * per name (argv[0]'s base name; the build makes sleep50 a link to stamp):
 *
 *   stamp FILE OUTDIR     writes the wall-clock time at which it started,
 *                         in ns since the epoch, to OUTDIR/BASENAME(FILE).t:
 *                         the end of a latency measurement.
 *   sleep50 FILE OUTDIR   sleeps 50 ms: a command whose run time, not its
 *                         start-up, dominates.
 *   answer OUTDIR         a trivial persistent command (protocol = "lines"):
 *                         answers "0" to every line on its stdin.
 *
 * A normal dynamic binary on purpose, so that its exec costs what the
 * scripts and programs users run cost (ld.so, libc), no less.
 */
#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int usage(void)
{
	fputs("usage: stamp FILE OUTDIR    (write start time in ns to OUTDIR/BASENAME(FILE).t)\n"
	      "       sleep50 FILE OUTDIR  (sleep 50 ms)\n"
	      "       answer OUTDIR        (\"0\" for every line on stdin)\n"
	      "the personality is chosen by the program's name\n", stderr);
	return 2;
}

static int stamp(const struct timespec *t, const char *file, const char *outdir)
{
	const char *base = strrchr(file, '/');
	char path[4096], line[32];
	int fd, len, off = 0;

	base = base ? base + 1 : file;
	if ((size_t)snprintf(path, sizeof path, "%s/%s.t", outdir, base) >= sizeof path) {
		fprintf(stderr, "stamp: %s/%s.t: name too long\n", outdir, base);
		return 1;
	}
	len = snprintf(line, sizeof line, "%lld\n",
		       (long long)t->tv_sec * 1000000000LL + t->tv_nsec);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "stamp: %s: %s\n", path, strerror(errno));
		return 1;
	}
	while (off < len) {
		ssize_t n = write(fd, line + off, (size_t)(len - off));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "stamp: write %s: %s\n", path, strerror(errno));
			close(fd);
			return 1;
		}
		off += (int)n;
	}
	if (close(fd) < 0) {
		fprintf(stderr, "stamp: close %s: %s\n", path, strerror(errno));
		return 1;
	}
	return 0;
}

static int sleep50(void)
{
	struct timespec req = { 0, 50 * 1000 * 1000 }, rem;

	while (nanosleep(&req, &rem) < 0) {
		if (errno != EINTR)
			return 1;
		req = rem;
	}
	return 0;
}

static int answer(void)
{
	char *line = NULL;
	size_t cap = 0;

	while (getline(&line, &cap, stdin) > 0)
		if (fputs("0\n", stdout) == EOF || fflush(stdout) == EOF)
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	struct timespec now;
	const char *me;

	/* First, so that the stamp is as close to the exec as it can be. */
	clock_gettime(CLOCK_REALTIME, &now);

	if (argc < 1 || !argv[0])
		return usage();
	me = strrchr(argv[0], '/');
	me = me ? me + 1 : argv[0];
	if (strcmp(me, "answer") == 0 && argc == 2)
		return answer();
	if (argc != 3)
		return usage();
	if (strcmp(me, "stamp") == 0)
		return stamp(&now, argv[1], argv[2]);
	if (strcmp(me, "sleep50") == 0)
		return sleep50();
	return usage();
}
