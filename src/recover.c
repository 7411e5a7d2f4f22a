/*
 * recover.c - adopting what is not ours yet: the runs of daemons that died
 * (their lock is free), files set aside because they could not be moved
 * (held/), and the spools that versions before 0.2 kept inside the drop.
 *
 * The spool is the daemon's alone, so what it finds there it believes (a
 * recorded verdict, an attempt count) -- but it still opens nothing that is
 * not a regular file of its own, follows nothing, and reads nothing that
 * could block.  An old spool inside the drop is the uploader's to plant:
 * nothing recorded there is believed; its regular files go back into the
 * drop, to be claimed like any other upload.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "dirlist.h"
#include "log.h"
#include "spool.h"
#include "tree.h"

static void closefd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Open NAME in DIRFD if it is a regular file of the daemon's: read-only,
 * never a symlink, never blocking (a FIFO would hang the loop).  -1 if
 * not. */
static int open_own_file(int dirfd, const char *name, int flags)
{
	struct stat st;
	int fd = openat(dirfd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

/* Open directory NAME in DIRFD if it is the daemon's.  -1 if not. */
static int open_own_dir(int dirfd, const char *name)
{
	struct stat st;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid()) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

static void get_rec(int fd, int slot, int *n, char *tag)
{
	struct spool_rec r;

	*n = 0;
	*tag = 0;
	if (fd < 0 || pread(fd, &r, sizeof(r), (off_t)slot * (off_t)sizeof(r)) !=
	    (ssize_t)sizeof(r))
		return;   /* past the end (never written): nothing started */
	if (r.attempts <= 1000000)
		*n = (int)r.attempts;
	if (r.tag == 'd' || r.tag == 'f')
		*tag = r.tag;
}

/* Parse a slot directory's name, "<slot>"; the slot or -1. */
static int parse_slotdir(const char *s)
{
	char *end;
	long a = strtol(s, &end, 10);

	if (end == s || *end || a < 0 || a > INT32_MAX / 16)
		return -1;
	return (int)a;
}

/* Open the next dead run directory to drain; 0 if one is open, -1 none. */
static int next_dead_run(struct spool *sp)
{
	struct dirent *de;

	if (!sp->rec_top && !(sp->rec_top = dir_list(sp->seafd)))
		return -1;
	while ((de = readdir(sp->rec_top))) {
		int rfd, lfd;

		if (strncmp(de->d_name, "run.", 4) || !strcmp(de->d_name, sp->inst) ||
		    strlen(de->d_name) >= sizeof(sp->rec_name))
			continue;
		rfd = open_own_dir(sp->seafd, de->d_name);
		if (rfd < 0)
			continue;
		lfd = open_own_file(rfd, "lock", O_RDONLY);
		if (lfd < 0 && errno != ENOENT) {
			close(rfd);     /* not a lock of ours: leave it */
			continue;
		}
		if (lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) < 0) {
			close(lfd);     /* its daemon is alive */
			close(rfd);
			continue;
		}
		sp->rec_lock = lfd;
		/* No table (a run that died as it was made): nothing started. */
		sp->rec_att = open_own_file(rfd, "attempts", O_RDONLY);
		sp->rec_dir = fdopendir(rfd);
		if (!sp->rec_dir) {
			close(rfd);
			closefd(&sp->rec_lock);
			closefd(&sp->rec_att);
			continue;
		}
		memcpy(sp->rec_name, de->d_name, strlen(de->d_name) + 1);
		log_info("event=recover run=%s", log_q(sp->rec_name));
		return 0;
	}
	return -1;
}

static void finish_dead_run(struct spool *sp)
{
	int rfd = dirfd(sp->rec_dir);

	unlinkat(rfd, "attempts", 0);
	unlinkat(rfd, "lock", 0);
	closedir(sp->rec_dir);
	sp->rec_dir = NULL;
	closefd(&sp->rec_lock);
	closefd(&sp->rec_att);
	unlinkat(sp->seafd, sp->rec_name, AT_REMOVEDIR);
}

/* The file NAME of slot directory SFD came from a subdirectory of the drop
 * (SPOOL_RELPATH): NAME becomes its path in the drop.  A record that does
 * not make a sane path is ignored (the file goes to the top of done/). */
static void relpath_of(int sfd, char *name, size_t namesz)
{
	char rel[TREE_REL_MAX], full[TREE_REL_MAX];
	ssize_t n = readlinkat(sfd, SPOOL_RELPATH, rel, sizeof(rel) - 1);

	if (n <= 0)
		return;
	rel[n] = '\0';
	if (snprintf(full, sizeof(full), "%s/%s", rel, name) >= (int)sizeof(full) ||
	    !tree_rel_ok(full) || strlen(full) >= namesz) {
		log_warn("event=recover-relpath-ignored file=%s", log_q(name));
		return;
	}
	memcpy(name, full, strlen(full) + 1);
}

/*
 * The one file in slot directory SFD (its leftovers -- sidecar temporaries,
 * a private copy never finished -- removed) into NAME.  1 if there is one;
 * 0 if the directory is empty (then also its .sidecar goes).
 */
static int slot_file(int sfd, char *name, size_t namesz)
{
	DIR *d = dir_list(sfd);
	struct dirent *de;
	int found = 0;

	while (d && !found && (de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, ".sidecar") || !strcmp(de->d_name, SPOOL_MOVING) ||
		    !strcmp(de->d_name, SPOOL_RELPATH))
			continue;
		if (de->d_name[0] == '.' ||
		    fstatat(sfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || strlen(de->d_name) >= namesz) {
			unlinkat(sfd, de->d_name, 0);
			continue;
		}
		snprintf(name, namesz, "%s", de->d_name);
		found = 1;
	}
	if (d)
		closedir(d);
	if (!found) {
		unlinkat(sfd, ".sidecar", 0);
		unlinkat(sfd, SPOOL_MOVING, 0);
		unlinkat(sfd, SPOOL_RELPATH, 0);
	} else {
		relpath_of(sfd, name, namesz);
	}
	return found;
}

/* Move the file NAME of slot directory SRC (in SRCDIR) into our slot SLOT,
 * which takes N attempts and verdict TAG first.  0 or -1 (logged). */
static int adopt(struct spool *sp, int srcdir, const char *src, int slot,
		 const char *name, int n, char tag)
{
	char mine[16], from[NAME_MAX + 40], to[NAME_MAX + 40];
	int fd;

	snprintf(mine, sizeof(mine), "%d", slot);
	fd = spool_ckdir(sp->workfd, mine, sp->gid);
	if (fd >= 0)
		close(fd);
	/* Our slot (free, so its record is zero) takes the count and the
	 * verdict before it takes the file. */
	if (fd < 0 || spool_rec_put(sp->attfd, slot, n, tag) < 0)
		goto fail;
	if (tree_base(name) != name) {
		/* Where it came from, before it comes (as a claim does): a
		 * crash in between leaves a record without a file, which the
		 * next start removes with our dead run. */
		snprintf(from, sizeof(from), "%s/" SPOOL_RELPATH, src);
		snprintf(to, sizeof(to), "%s/" SPOOL_RELPATH, mine);
		renameat(srcdir, from, sp->workfd, to);
	}
	snprintf(to, sizeof(to), "%s/%s", mine, tree_base(name));
	snprintf(from, sizeof(from), "%s/%s", src, tree_base(name));
	if (renameat2(srcdir, from, sp->workfd, to, RENAME_NOREPLACE) < 0) {
		int e = errno;

		/* Not ours after all: no record left for the slot's next file. */
		snprintf(to, sizeof(to), "%s/" SPOOL_RELPATH, mine);
		unlinkat(sp->workfd, to, 0);
		spool_rec_put(sp->attfd, slot, 0, 0);
		errno = e;
		goto fail;
	}
	if (tag == 'f') {
		snprintf(from, sizeof(from), "%s/.sidecar", src);
		snprintf(to, sizeof(to), "%s/.sidecar", mine);
		renameat(srcdir, from, sp->workfd, to);
	}
	if (tag) {
		/* A move by copy under way when it died: finished, not
		 * started again (spool_move_record). */
		snprintf(from, sizeof(from), "%s/" SPOOL_MOVING, src);
		snprintf(to, sizeof(to), "%s/" SPOOL_MOVING, mine);
		renameat(srcdir, from, sp->workfd, to);
	}
	return 0;
fail:
	log_err("event=recover-failed file=%s error=%s", log_q(name), log_q(strerror(errno)));
	return -1;
}

/* The next parked file into SLOT; 1 if one was adopted, 0 if none is left
 * from before this pass. */
static int unpark_next(struct spool *sp, int slot, char *name, size_t namesz,
		       int *attempts, char *tag)
{
	struct dirent *de;
	int hfd;

	if (sp->held_done)
		return 0;
	if (!sp->held) {
		hfd = open_own_dir(sp->seafd, SPOOL_HELD);
		if (hfd < 0 || !(sp->held = fdopendir(hfd))) {
			if (hfd >= 0)
				close(hfd);
			sp->held_done = 1;
			return 0;
		}
		sp->held_mark = sp->parked;
	}
	hfd = dirfd(sp->held);
	while ((de = readdir(sp->held))) {
		char t = de->d_name[0];
		const char *run, *k;
		long n, when;
		int sfd, found;

		/* <tag><n>.<when>.<run>.<k>: the K-th file our RUN set aside. */
		if (sscanf(de->d_name + 1, "%ld.%ld.", &n, &when) != 2 || n < 0 ||
		    (t != 'd' && t != 'f') || !(run = strchr(strchr(de->d_name, '.') + 1, '.')) ||
		    !(k = strrchr(de->d_name, '.')) || k <= run)
			continue;
		run++;
		if ((size_t)(k - run) == strlen(sp->inst) && !strncmp(run, sp->inst, (size_t)(k - run)) &&
		    strtoul(k + 1, NULL, 10) >= sp->held_mark)
			continue;   /* set aside (again) by us during this pass */
		sfd = open_own_dir(hfd, de->d_name);
		if (sfd < 0)
			continue;
		found = slot_file(sfd, name, namesz);
		close(sfd);
		if (!found) {
			unlinkat(hfd, de->d_name, AT_REMOVEDIR);
			continue;
		}
		if (adopt(sp, hfd, de->d_name, slot, name, (int)n, t) < 0)
			continue;
		unlinkat(hfd, de->d_name, AT_REMOVEDIR);
		*attempts = (int)n;
		*tag = t;
		log_debug("event=unparked drop=%s file=%s", sp->drop, log_q(name));
		return 1;
	}
	closedir(sp->held);
	sp->held = NULL;
	sp->held_done = 1;
	return 0;
}

int spool_recover_next(struct spool *sp, int slot, char *name, size_t namesz,
		       int *attempts, char *tag)
{
	struct dirent *de;

	for (;;) {
		int n, dslot, sfd, rfd;

		if (sp->rec_done)
			return unpark_next(sp, slot, name, namesz, attempts, tag);
		if (!sp->rec_dir && next_dead_run(sp) < 0) {
			sp->rec_done = 1;
			if (sp->rec_top)
				closedir(sp->rec_top);
			sp->rec_top = NULL;
			continue;
		}
		rfd = dirfd(sp->rec_dir);
		de = readdir(sp->rec_dir);
		if (!de) {
			finish_dead_run(sp);
			continue;
		}
		dslot = parse_slotdir(de->d_name);
		if (dslot < 0)
			continue;
		sfd = open_own_dir(rfd, de->d_name);
		if (sfd < 0)
			continue;
		if (!slot_file(sfd, name, namesz)) {
			close(sfd);
			unlinkat(rfd, de->d_name, AT_REMOVEDIR);
			continue;
		}
		close(sfd);
		get_rec(sp->rec_att, dslot, &n, tag);
		if (adopt(sp, rfd, de->d_name, slot, name, n, *tag) < 0)
			continue;  /* skip it; the next start tries again */
		unlinkat(rfd, de->d_name, AT_REMOVEDIR);
		*attempts = n;
		return 1;
	}
}

void spool_recover_again(struct spool *sp)
{
	if (sp->rec_done && !sp->rec_dir)
		sp->rec_done = 0;
}

void spool_unpark_again(struct spool *sp)
{
	if (!sp->held)
		sp->held_done = 0;
}

int spool_park(struct spool *sp, int slot, int n, char tag)
{
	char from[16], to[160];
	int hfd = spool_ckdir(sp->seafd, SPOOL_HELD, sp->gid), r;

	if (hfd < 0)
		return -1;
	snprintf(from, sizeof(from), "%d", slot);
	snprintf(to, sizeof(to), "%c%d.%ld.%s.%u", tag, n, (long)time(NULL), sp->inst,
		 sp->parked++);
	/* The whole slot directory (file and sidecar) in one rename; then the
	 * slot is free (a crash in between leaves a record whose directory is
	 * gone: nothing to adopt). */
	r = renameat(sp->workfd, from, hfd, to);
	close(hfd);
	if (r < 0)
		return -1;
	spool_rec_put(sp->attfd, slot, 0, 0);
	return 0;
}

/* Empty directory FD (of an old in-drop spool, LEVEL 0 a run, 1 a slot):
 * regular files of a slot back into the drop, the rest removed.  Nothing
 * is opened but directories, nothing followed.  The number moved. */
static int empty_legacy_dir(struct spool *sp, int fd, int level)
{
	DIR *d = dir_list(fd);
	struct dirent *de;
	int moved = 0;

	while (d && (de = readdir(d))) {
		char final[NAME_MAX + 1];
		struct stat st;
		int sub;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && level == 0 &&
		    (sub = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
				  O_CLOEXEC)) >= 0) {
			moved += empty_legacy_dir(sp, sub, 1);
			close(sub);
			unlinkat(fd, de->d_name, AT_REMOVEDIR);
		} else if (level == 1 && S_ISREG(st.st_mode) && de->d_name[0] != '.' &&
			   spool_place(fd, de->d_name, sp->dropfd, de->d_name, final,
				       sizeof(final)) == 0) {
			log_info("event=migrated drop=%s file=%s as=%s", sp->drop,
				 log_q(de->d_name), log_q(final));
			moved++;
		} else {
			unlinkat(fd, de->d_name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0);
		}
	}
	if (d)
		closedir(d);
	return moved;
}

int spool_migrate_legacy(struct spool *sp)
{
	int top, dfd, moved = 0;
	DIR *d;
	struct dirent *de;

	top = openat(sp->dropfd, ".seawatch", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (top < 0)
		return 0;
	dfd = openat(top, sp->drop, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	d = dfd >= 0 ? dir_list(dfd) : NULL;
	while (d && (de = readdir(d))) {
		struct stat st;
		int rfd, lfd;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		rfd = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (rfd < 0) {
			unlinkat(dfd, de->d_name, 0);
			continue;
		}
		/* A live daemon of an older version still works there.  Only a
		 * regular file is opened (a device node may act on an open). */
		lfd = fstatat(rfd, "lock", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) ?
		      openat(rfd, "lock", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
			     O_CLOEXEC) : -1;
		if (lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) < 0) {
			close(lfd);
			close(rfd);
			continue;
		}
		moved += empty_legacy_dir(sp, rfd, 0);
		if (lfd >= 0)
			close(lfd);
		close(rfd);
		unlinkat(dfd, de->d_name, AT_REMOVEDIR);
	}
	if (d)
		closedir(d);
	if (dfd >= 0) {
		close(dfd);
		unlinkat(top, sp->drop, AT_REMOVEDIR);
	}
	close(top);
	unlinkat(sp->dropfd, ".seawatch", AT_REMOVEDIR);
	if (moved)
		log_info("event=legacy-spool-migrated drop=%s files=%d", sp->drop, moved);
	return moved;
}
