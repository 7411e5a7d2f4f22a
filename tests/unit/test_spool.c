/* Unit tests: collision names (pure) and the spool on real directories:
 * claim, attempt counter, no-overwrite delivery, sidecar, recovery. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"

struct ncase {
	const char *name;
	int n;
	const char *want;
};

Test(spool, alt_name_table)
{
	static const struct ncase cases[] = {
		{ "a.sea", 0, "a.sea" },
		{ "a.sea", 1, "a.1.sea" },
		{ "a.sea", 12, "a.12.sea" },
		{ "noext", 1, "noext.1" },
		{ ".hidden", 1, ".hidden.1" },
		{ "a.tar.sea", 2, "a.tar.2.sea" },
		{ "with space.sea", 1, "with space.1.sea" },
	};
	char buf[NAME_MAX + 1];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(spool_alt_name(cases[i].name, cases[i].n, buf, sizeof(buf)), 0);
		cr_expect_str_eq(buf, cases[i].want, "case %zu", i);
	}
}

Test(spool, alt_name_of_255_byte_name_fits_and_keeps_extension)
{
	char name[NAME_MAX + 1], buf[NAME_MAX + 1];

	memset(name, 'x', NAME_MAX);
	memcpy(name + NAME_MAX - 4, ".sea", 4);
	name[NAME_MAX] = '\0';
	cr_assert_eq(spool_alt_name(name, 7, buf, sizeof(buf)), 0);
	cr_assert_eq(strlen(buf), NAME_MAX);
	cr_assert_str_eq(buf + NAME_MAX - 6, ".7.sea");
}

static char root[64];
static char drop[128], done[128], spooldir[128];
static int donefd = -1;
static char b_cmd[300];

static void mk(void)
{
	strcpy(root, "/tmp/sw-unit-spool.XXXXXX");
	cr_assert_not_null(mkdtemp(root));
	snprintf(drop, sizeof(drop), "%s/in", root);
	snprintf(done, sizeof(done), "%s/done", root);
	snprintf(spooldir, sizeof(spooldir), "%s/spool", root);
	cr_assert_eq(mkdir(drop, 0755), 0);
	cr_assert_eq(mkdir(done, 0755), 0);
	donefd = open(done, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(donefd, 0);
}

static void rm(void)
{
	char cmd[200];

	if (donefd >= 0)
		close(donefd);
	donefd = -1;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	cr_assert_eq(system(cmd), 0);
}

static void put(const char *dir, const char *name, const char *text)
{
	char p[400];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static char *get(const char *dir, const char *name)
{
	static char buf[256];
	char p[400];
	FILE *f;
	size_t n;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "r");
	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* spool_seal(), for callers that expect no copy descriptor. */
static enum seal seal(struct spool *sp, int slot, const char *name)
{
	int fd, links;
	enum seal r = spool_seal(sp, slot, name, &fd, &links);

	if (fd >= 0)
		close(fd);
	return r;
}

Test(spool, claim_attempts_deliver_never_overwrites, .init = mk, .fini = rm)
{
	struct spool sp;
	char final[NAME_MAX + 1], path[PATH_MAX];

	cr_assert_eq(spool_open(&sp, drop, spooldir, "d", -1), 0);
	put(drop, "a.sea", "new");
	put(done, "a.sea", "old");
	put(done, "a.1.sea", "older");
	cr_assert_eq(spool_claim(&sp, sp.dropfd, "a.sea", 5), 0);
	cr_assert_null(get(drop, "a.sea"), "claimed: gone from the drop");
	cr_assert_eq(spool_claim(&sp, sp.dropfd, "a.sea", 6), -1, "a second claim fails");
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(seal(&sp, 5, "a.sea"), SEAL_OK);
	cr_assert_eq(spool_set_attempts(&sp, 5, 1), 0);
	cr_assert_eq(spool_path(&sp, 5, "a.sea", path, sizeof(path)), 0);
	cr_assert_str_eq(strrchr(path, '/') + 1, "a.sea", "{file} keeps the base name");
	cr_assert_str_eq(get("/", path), "new");
	cr_assert_eq(spool_deliver(&sp, 5, 1, 0, "a.sea", donefd, final, sizeof(final)), 0);
	cr_assert_str_eq(final, "a.2.sea");
	cr_assert_str_eq(get(done, "a.sea"), "old");
	cr_assert_str_eq(get(done, "a.1.sea"), "older");
	cr_assert_str_eq(get(done, "a.2.sea"), "new");
	cr_assert_eq(spool_sidecar(donefd, final, "why\n", 4), 0);
	cr_assert_str_eq(get(done, "a.2.sea.error"), "why\n");
	cr_assert_eq(spool_sidecar(donefd, final, "again\n", 6), 0);
	cr_assert_str_eq(get(done, "a.2.sea.error"), "why\n", "sidecar not overwritten");
	spool_close(&sp);
}

Test(spool, recovery_adopts_dead_run_with_attempt_count, .init = mk, .fini = rm)
{
	struct spool dead, live, next;
	char name[NAME_MAX + 1];
	int n = -1;
	char tag = 'x';

	cr_assert_eq(spool_open(&dead, drop, spooldir, "d", -1), 0);
	put(drop, "x.sea", "x");
	cr_assert_eq(spool_claim(&dead, dead.dropfd, "x.sea", 0), 0);
	cr_assert_eq(spool_set_attempts(&dead, 0, 2), 0);
	/* A second daemon on the same drop must not adopt a live run. */
	cr_assert_eq(spool_open(&live, drop, spooldir, "d", -1), 0);
	cr_assert_eq(spool_recover_next(&live, 3, name, sizeof(name), &n, &tag), 0);
	spool_close(&live);
	/* "Crash": release the lock without cleaning up. */
	close(dead.lockfd);
	dead.lockfd = -1;
	cr_assert_eq(spool_open(&next, drop, spooldir, "d", -1), 0);
	cr_assert_eq(spool_recover_next(&next, 3, name, sizeof(name), &n, &tag), 1);
	cr_assert_str_eq(name, "x.sea");
	cr_assert_eq(n, 2, "attempt count survives");
	cr_assert_eq(tag, 0, "no verdict recorded");
	cr_assert_eq(seal(&next, 3, "x.sea"), SEAL_OK);
	cr_assert_eq(spool_recover_next(&next, 4, name, sizeof(name), &n, &tag), 0);
	cr_assert_eq(spool_deliver(&next, 3, 2, 0, "x.sea", donefd, name, sizeof(name)), 0);
	cr_assert_str_eq(get(done, "x.sea"), "x");
	spool_close(&next);
	dead.workfd = -1;   /* its directory was adopted and removed */
	spool_close(&dead);
}

Test(spool, sidecar_of_255_byte_name_fits, .init = mk, .fini = rm)
{
	char name[NAME_MAX + 1], side[NAME_MAX + 1];

	memset(name, 'y', NAME_MAX);
	name[NAME_MAX] = '\0';
	cr_assert_eq(spool_sidecar(donefd, name, "long\n", 5), 0);
	memcpy(side, name, NAME_MAX - 6);
	memcpy(side + NAME_MAX - 6, ".error", 7);
	cr_assert_str_eq(get(done, side), "long\n");
}

Test(spool, sidecar_leaves_no_temporary_behind, .init = mk, .fini = rm)
{
	char cmd[300];

	cr_assert_eq(spool_sidecar(donefd, "z.sea", "x\n", 2), 0);
	snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) -eq 1", done);
	cr_assert_eq(system(cmd), 0, "only z.sea.error in done/");
	cr_assert_str_eq(get(done, "z.sea.error"), "x\n");
}

Test(spool, alt_name_with_an_extension_too_long_to_keep)
{
	char name[NAME_MAX + 1], buf[NAME_MAX + 1];

	name[0] = 'a';
	name[1] = '.';
	memset(name + 2, 'e', NAME_MAX - 2);
	name[NAME_MAX] = '\0';
	cr_assert_eq(spool_alt_name(name, 3, buf, sizeof(buf)), 0);
	cr_assert_eq(strlen(buf), NAME_MAX);
	cr_assert_str_eq(buf + NAME_MAX - 2, ".3");
	cr_assert_neq(strcmp(buf, name), 0);
}

/* A verdict recorded before a crash (the move had failed) survives it:
 * recovery says so, with the sidecar text. */
Test(spool, recorded_verdict_survives_a_crash, .init = mk, .fini = rm)
{
	struct spool dead, next;
	char name[NAME_MAX + 1], tag = 0, *text;
	size_t len = 0;
	int n = -1;

	cr_assert_eq(spool_open(&dead, drop, spooldir, "d", -1), 0);
	put(drop, "v.sea", "v");
	cr_assert_eq(spool_claim(&dead, dead.dropfd, "v.sea", 1), 0);
	cr_assert_eq(spool_set_attempts(&dead, 1, 3), 0);
	cr_assert_eq(spool_mark(&dead, 1, 3, 'f', "why it failed\n", 14), 0);
	close(dead.lockfd);
	dead.lockfd = -1;
	cr_assert_eq(spool_open(&next, drop, spooldir, "d", -1), 0);
	cr_assert_eq(spool_recover_next(&next, 7, name, sizeof(name), &n, &tag), 1);
	cr_assert_str_eq(name, "v.sea");
	cr_assert_eq(n, 3);
	cr_assert_eq(tag, 'f');
	text = spool_marked_sidecar(&next, 7, &len);
	cr_assert_not_null(text);
	cr_assert_eq(len, 14);
	cr_assert_str_eq(text, "why it failed\n");
	free(text);
	cr_assert_eq(spool_deliver(&next, 7, 3, 'f', "v.sea", donefd, name, sizeof(name)), 0);
	cr_assert_str_eq(get(done, "v.sea"), "v");
	spool_close(&next);
	dead.workfd = -1;
	spool_close(&dead);
}

/* Two drops on one directory keep separate spools. */
Test(spool, drops_sharing_a_directory_do_not_adopt_each_other, .init = mk, .fini = rm)
{
	struct spool a, b;
	char name[NAME_MAX + 1], tag;
	int n;

	cr_assert_eq(spool_open(&a, drop, spooldir, "a", -1), 0);
	put(drop, "f.log", "f");
	cr_assert_eq(spool_claim(&a, a.dropfd, "f.log", 0), 0);
	close(a.lockfd);   /* a's daemon "dies" */
	a.lockfd = -1;
	cr_assert_eq(spool_open(&b, drop, spooldir, "b", -1), 0);
	cr_assert_eq(spool_recover_next(&b, 0, name, sizeof(name), &n, &tag), 0,
		     "drop b adopted drop a's file");
	spool_close(&b);
	a.workfd = -1;
	spool_close(&a);
}

/* A slot's record goes back to zero when its file is delivered: the next
 * file claimed into that slot, caught by a crash before its first attempt,
 * is not charged the previous file's attempts. */
Test(spool, reused_slot_starts_from_zero_after_a_crash, .init = mk, .fini = rm)
{
	struct spool dead, next;
	char name[NAME_MAX + 1], final[NAME_MAX + 1], tag = 'x';
	int n = -1;

	cr_assert_eq(spool_open(&dead, drop, spooldir, "d", -1), 0);
	cr_assert_eq(spool_reserve(&dead, 16), 0);
	put(drop, "one.sea", "1");
	put(drop, "two.sea", "2");
	cr_assert_eq(spool_claim(&dead, dead.dropfd, "one.sea", 2), 0);
	cr_assert_eq(spool_set_attempts(&dead, 2, 4), 0);
	cr_assert_eq(spool_deliver(&dead, 2, 4, 0, "one.sea", donefd, final, sizeof(final)), 0);
	cr_assert_eq(spool_claim(&dead, dead.dropfd, "two.sea", 2), 0);
	close(dead.lockfd);
	dead.lockfd = -1;
	cr_assert_eq(spool_open(&next, drop, spooldir, "d", -1), 0);
	cr_assert_eq(spool_recover_next(&next, 0, name, sizeof(name), &n, &tag), 1);
	cr_assert_str_eq(name, "two.sea");
	cr_assert_eq(n, 0, "the previous file's 4 attempts were charged to the next one");
	cr_assert_eq(tag, 0);
	spool_close(&next);
	dead.workfd = -1;
	spool_close(&dead);
}

/* ---- the trust boundary (issue 7) ------------------------------------- */

static struct stat st_of(const char *dir, const char *name)
{
	char p[400];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	cr_assert_eq(lstat(p, &st), 0, "%s: %s", p, strerror(errno));
	return st;
}

/* A claimed file becomes the daemon's: setuid and others' bits gone, the
 * commands' group, 0640. */
Test(spool, seal_takes_the_file_over, .init = mk, .fini = rm)
{
	struct spool sp;
	char path[PATH_MAX], p[400];
	struct stat st;

	cr_assert_eq(spool_open(&sp, drop, spooldir, "d", 65534), 0);
	put(drop, "s.sea", "x");
	snprintf(p, sizeof(p), "%s/s.sea", drop);
	cr_assert_eq(chown(p, 65534, 65534), 0);
	cr_assert_eq(chmod(p, 06777), 0);
	cr_assert_eq(spool_claim(&sp, sp.dropfd, "s.sea", 1), 0);
	cr_assert_eq(seal(&sp, 1, "s.sea"), SEAL_OK);
	cr_assert_eq(spool_path(&sp, 1, "s.sea", path, sizeof(path)), 0);
	cr_assert_eq(lstat(path, &st), 0);
	cr_assert_eq(st.st_uid, geteuid());
	cr_assert_eq(st.st_gid, 65534);
	cr_assert_eq(st.st_mode & 07777, SPOOL_FILE_MODE);
	/* Every directory on the way is the daemon's, 0710 for the group. */
	st = st_of(root, "spool");
	cr_assert_eq(st.st_mode & 07777, 0710);
	cr_assert_eq(st.st_gid, 65534);
	spool_close(&sp);
}

/* Someone still holds it open for writing: a private copy is needed. */
Test(spool, seal_sees_a_writer, .init = mk, .fini = rm)
{
	struct spool sp;
	char p[400];
	int w, fd, links;

	cr_assert_eq(spool_open(&sp, drop, spooldir, "d", -1), 0);
	snprintf(p, sizeof(p), "%s/w.sea", drop);
	w = open(p, O_WRONLY | O_CREAT, 0644);
	cr_assert_geq(w, 0);
	cr_assert_eq(spool_claim(&sp, sp.dropfd, "w.sea", 0), 0);
	cr_assert_eq(spool_seal(&sp, 0, "w.sea", &fd, &links), SEAL_COPY);
	cr_assert_geq(fd, 0, "the copy's source");
	close(fd);
	close(w);
	/* Once the writer is gone, nothing stands in the way. */
	cr_assert_eq(seal(&sp, 0, "w.sea"), SEAL_OK);
	spool_close(&sp);
}

/* A second name: copied where the kernel protects hard links, refused
 * where it does not; a symlink (or a FIFO) claimed by a race is seen for
 * what it is, and never opened. */
Test(spool, seal_of_links_and_non_files, .init = mk, .fini = rm)
{
	struct spool sp;
	char a[400], b[400];
	int fd, links;
	enum seal r;

	cr_assert_eq(spool_open(&sp, drop, spooldir, "d", -1), 0);
	put(root, "orig", "o");
	snprintf(a, sizeof(a), "%s/orig", root);
	snprintf(b, sizeof(b), "%s/l.sea", drop);
	cr_assert_eq(link(a, b), 0);
	cr_assert_eq(spool_claim(&sp, sp.dropfd, "l.sea", 2), 0);
	r = spool_seal(&sp, 2, "l.sea", &fd, &links);
	cr_assert_eq(links, 2);
	cr_assert(r == SEAL_COPY || r == SEAL_LINKED);
	if (fd >= 0)
		close(fd);
	cr_assert_eq(st_of(root, "orig").st_mode & 07777, 0644, "the other name was changed");
	snprintf(b, sizeof(b), "%s/y.sea", drop);
	cr_assert_eq(symlink("/etc/passwd", b), 0);
	cr_assert_eq(spool_claim(&sp, sp.dropfd, "y.sea", 3), 0);
	cr_assert_eq(seal(&sp, 3, "y.sea"), SEAL_NOT_REGULAR);
	cr_assert_eq(spool_discard(&sp, 3, "y.sea"), 0);
	snprintf(b, sizeof(b), "%s/f.sea", drop);
	cr_assert_eq(mkfifo(b, 0644), 0);
	cr_assert_eq(spool_claim(&sp, sp.dropfd, "f.sea", 4), 0);
	cr_assert_eq(seal(&sp, 4, "f.sea"), SEAL_NOT_REGULAR, "(and it did not block)");
	spool_close(&sp);
}

/* A spool that is not the daemon's, or that others may enter, is refused;
 * one on another mount than the drop too. */
Test(spool, a_spool_not_the_daemons_is_refused, .init = mk, .fini = rm)
{
	struct spool sp;
	char p[200];

	cr_assert_eq(mkdir(spooldir, 0755), 0);
	cr_assert_eq(spool_open(&sp, drop, spooldir, "d", -1), -1);
	cr_assert_eq(errno, EPERM);
	cr_assert_eq(chmod(spooldir, 0700), 0);
	cr_assert_eq(chown(spooldir, 65534, 65534), 0);
	cr_assert_eq(spool_open(&sp, drop, spooldir, "d", -1), -1);
	cr_assert_eq(errno, EPERM);
	cr_assert_eq(chown(spooldir, 0, 0), 0);
	cr_assert_eq(spool_open(&sp, drop, spooldir, "d", -1), 0);
	spool_close(&sp);
	snprintf(p, sizeof(p), "/dev/shm/sw-unit-spool.%d", (int)getpid());
	if (access("/dev/shm", W_OK) == 0) {
		cr_assert_eq(spool_open(&sp, drop, p, "d", -1), -1);
		cr_assert_eq(errno, EXDEV, "a spool on another mount: %s", strerror(errno));
		snprintf(b_cmd, sizeof(b_cmd), "rm -rf '%s'", p);
		cr_assert_eq(system(b_cmd), 0);
	}
}

/* A drop path through a symlink is not opened. */
Test(spool, a_drop_behind_a_symlink_is_refused, .init = mk, .fini = rm)
{
	struct spool sp;
	char l[200];

	snprintf(l, sizeof(l), "%s/link", root);
	cr_assert_eq(symlink(drop, l), 0);
	cr_assert_eq(spool_open(&sp, l, spooldir, "d", -1), -1);
	cr_assert(errno == ELOOP || errno == ENOTDIR, "%s", strerror(errno));
}

/* A file set aside keeps its verdict and count, costs no slot, and comes
 * back when asked for, once per pass. */
Test(spool, parked_file_comes_back_with_its_verdict, .init = mk, .fini = rm)
{
	struct spool sp;
	char name[NAME_MAX + 1];
	int n = -1;
	char tag = 0;

	cr_assert_eq(spool_open(&sp, drop, spooldir, "d", -1), 0);
	put(drop, "p.sea", "p");
	cr_assert_eq(spool_claim(&sp, sp.dropfd, "p.sea", 7), 0);
	cr_assert_eq(spool_mark(&sp, 7, 3, 'f', "why\n", 4), 0);
	cr_assert_eq(spool_park(&sp, 7, 3, 'f'), 0);
	cr_assert_eq(spool_recover_next(&sp, 1, name, sizeof(name), &n, &tag), 1);
	cr_assert_str_eq(name, "p.sea");
	cr_assert_eq(n, 3);
	cr_assert_eq(tag, 'f');
	{
		size_t len;
		char *side = spool_marked_sidecar(&sp, 1, &len);

		cr_assert_not_null(side);
		cr_assert_str_eq(side, "why\n");
		free(side);
	}
	/* Set aside again while that pass is on: not taken back in it (no
	 * loop), but in the next one. */
	cr_assert_eq(spool_park(&sp, 1, 3, 'f'), 0);
	cr_assert_eq(spool_recover_next(&sp, 2, name, sizeof(name), &n, &tag), 0);
	cr_assert_eq(spool_recover_next(&sp, 2, name, sizeof(name), &n, &tag), 0);
	spool_unpark_again(&sp);
	cr_assert_eq(spool_recover_next(&sp, 2, name, sizeof(name), &n, &tag), 1);
	cr_assert_str_eq(name, "p.sea");
	spool_close(&sp);
}

/* Issue 12: a recursive drop's file keeps its path in the drop through a
 * crash, a set-aside and the move: recovered as "dev/x.sea", its slot holds
 * "x.sea", and the next file of that slot knows nothing of it. */
Test(spool, a_relative_path_survives_a_crash_and_a_set_aside, .init = mk, .fini = rm)
{
	struct spool dead, next, third;
	char name[NAME_MAX + 1], sub[300], p[400];
	int n = -1, dfd;
	char tag = 'x';
	struct stat st;

	cr_assert_eq(spool_open(&dead, drop, spooldir, "d", -1), 0);
	snprintf(sub, sizeof(sub), "%s/dev", drop);
	cr_assert_eq(mkdir(sub, 0755), 0);
	put(sub, "x.sea", "x");
	dfd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(dfd, 0);
	cr_assert_eq(spool_claim(&dead, dfd, "dev/x.sea", 0), 0);
	close(dfd);
	snprintf(p, sizeof(p), "%s/d/%s/0/x.sea", spooldir, dead.inst);
	cr_assert_eq(stat(p, &st), 0, "the slot holds the file under its own name");
	cr_assert_eq(spool_set_attempts(&dead, 0, 1), 0);
	close(dead.lockfd);   /* a crash */
	dead.lockfd = -1;
	cr_assert_eq(spool_open(&next, drop, spooldir, "d", -1), 0);
	cr_assert_eq(spool_recover_next(&next, 3, name, sizeof(name), &n, &tag), 1);
	cr_assert_str_eq(name, "dev/x.sea");
	cr_assert_eq(n, 1);
	/* Set aside and taken back: the path goes with it. */
	cr_assert_eq(spool_mark(&next, 3, 1, 'd', NULL, 0), 0);
	cr_assert_eq(spool_park(&next, 3, 1, 'd'), 0);
	spool_unpark_again(&next);
	cr_assert_eq(spool_recover_next(&next, 4, name, sizeof(name), &n, &tag), 1);
	cr_assert_str_eq(name, "dev/x.sea");
	cr_assert_eq(tag, 'd');
	cr_assert_eq(spool_deliver(&next, 4, 1, 'd', "dev/x.sea", donefd, name, sizeof(name)), 0);
	cr_assert_str_eq(name, "x.sea", "the base name is placed in the directory given");
	cr_assert_str_eq(get(done, "x.sea"), "x");
	snprintf(p, sizeof(p), "%s/d/%s/4/" SPOOL_RELPATH, spooldir, next.inst);
	cr_assert_neq(lstat(p, &st), 0, "the slot's record of the path went with the file");
	/* The slot's next file is at the top: recovered as such. */
	put(drop, "y.sea", "y");
	cr_assert_eq(spool_claim(&next, next.dropfd, "y.sea", 4), 0);
	close(next.lockfd);
	next.lockfd = -1;
	cr_assert_eq(spool_open(&third, drop, spooldir, "d", -1), 0);
	cr_assert_eq(spool_recover_next(&third, 0, name, sizeof(name), &n, &tag), 1);
	cr_assert_str_eq(name, "y.sea");
	spool_close(&third);
	spool_close(&next);
	spool_close(&dead);
}

/* An old spool inside the drop (as versions before 0.2 kept it, and as an
 * uploader can plant it): regular files go back into the drop; recorded
 * verdicts, symlinks and FIFOs are not believed, followed or opened. */
Test(spool, legacy_spool_in_the_drop_is_emptied_safely, .init = mk, .fini = rm)
{
	struct spool sp;
	char p[1200];

	snprintf(p, sizeof(p), "mkdir -p '%s/.seawatch/d/run.1.2.0/0' '%s/.seawatch/d/run.1.2.0/1' && "
		 "printf x > '%s/.seawatch/d/run.1.2.0/0/a.sea' && "
		 "printf '\\001\\000\\000\\000d\\000\\000\\000' > '%s/.seawatch/d/run.1.2.0/attempts' && "
		 "ln -s /etc/passwd '%s/.seawatch/d/run.1.2.0/1/b.sea' && "
		 "mkfifo '%s/.seawatch/d/run.1.2.0/lock'", drop, drop, drop, drop, drop, drop);
	cr_assert_eq(system(p), 0);
	cr_assert_eq(spool_open(&sp, drop, spooldir, "d", -1), 0);
	cr_assert_eq(spool_migrate_legacy(&sp), 1);
	cr_assert_str_eq(get(drop, "a.sea"), "x");
	snprintf(p, sizeof(p), "%s/b.sea", drop);
	cr_assert_eq(access(p, F_OK), -1, "a symlink was moved in");
	snprintf(p, sizeof(p), "%s/.seawatch", drop);
	cr_assert_eq(access(p, F_OK), -1, "the old spool is still there");
	spool_close(&sp);
}

/* A file that cannot even be looked at (no descriptor left) is no verdict
 * on the file: SEAL_ERROR, and the file stays where it is. */
Test(spool, seal_that_cannot_look_keeps_the_file, .init = mk, .fini = rm)
{
	struct spool sp;
	struct rlimit rl, saved;
	char path[PATH_MAX];
	int fd, links, spare[64], n = 0;

	cr_assert_eq(spool_open(&sp, drop, spooldir, "d", -1), 0);
	put(drop, "e.sea", "e");
	cr_assert_eq(spool_claim(&sp, sp.dropfd, "e.sea", 1), 0);
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	saved = rl;
	/* Every descriptor taken. */
	rl.rlim_cur = (rlim_t)(spare[n++] = dup(0)) + 1;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	while (n < 64 && (spare[n] = dup(0)) >= 0)
		n++;
	cr_assert_eq(spool_seal(&sp, 1, "e.sea", &fd, &links), SEAL_ERROR);
	while (n > 0)
		close(spare[--n]);
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);
	cr_assert_eq(spool_path(&sp, 1, "e.sea", path, sizeof(path)), 0);
	cr_assert_eq(access(path, F_OK), 0, "the file was lost");
	cr_assert_eq(seal(&sp, 1, "e.sea"), SEAL_OK);
	spool_close(&sp);
}
