/*
 * test_trust.c - the trust boundary (issue 7), each test written as the
 * attacker: a real unprivileged user (sw-upload) who can write a drop (it
 * owns the drop, and in some layouts the drop's parent), against a daemon
 * run as root whose commands run as "nobody".  Every test here failed on
 * the daemon before the fix; what each one shows is in its comment.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <ftw.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static struct h_env env;
static uid_t up_uid;
static gid_t up_gid;
static char saved_hardlinks[16];

static void setup(void)
{
	h_setup(&env);
	if (geteuid() != 0)
		cr_skip("the trust tests need root (a daemon run as root, an uploader)");
	h_uploader(&up_uid, &up_gid);
	/* Commands run as nobody and write their findings here. */
	cr_assert_eq(chmod(env.out, 0777), 0);
	saved_hardlinks[0] = '\0';
}

static void teardown(void)
{
	if (saved_hardlinks[0]) {
		FILE *f = fopen("/proc/sys/fs/protected_hardlinks", "w");

		if (f) {
			fputs(saved_hardlinks, f);
			fclose(f);
		}
	}
	h_teardown(&env);
}

TestSuite(trust, .init = setup, .fini = teardown, .timeout = 120);

static void nap(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* The drop (or another directory) belongs to the uploader. */
static void give(const char *path)
{
	cr_assert_eq(chown(path, up_uid, up_gid), 0, "chown %s: %s", path, strerror(errno));
}

/* Run SCRIPT as the uploader; it must succeed. */
static void attack(const char *script)
{
	int st = h_as(&env, up_uid, up_gid, script);

	cr_assert_eq(st, 0, "the uploader's step failed (%d): %s", st, script);
}

/* A config for one drop "d" whose command is SCRIPT {file} OUT, run as
 * nobody; EXTRA goes in the drop, GLOBAL at the top. */
static void config(const char *script, const char *extra, const char *global)
{
	char cmd[H_PATH * 3], glob[1024];

	snprintf(cmd, sizeof(cmd), "[\"%s\", \"{file}\", \"%s\"]", script, env.out);
	snprintf(glob, sizeof(glob), "user = \"nobody\";\n%s", global ? global : "");
	h_config_simple(&env, cmd, extra, glob);
}

/* The same with done/ at DONE (the drop's and failed/ as e's). */
static void config_done(const char *script, const char *done, const char *extra)
{
	h_config(&env,
		 "user = \"nobody\";\nworkers = 2;\nshutdown_grace = \"5s\";\n"
		 "drops = ( { name = \"d\"; path = \"%s\"; done = \"%s\"; failed = \"%s\";\n"
		 "  command = [\"%s\", \"{file}\", \"%s\"]; timeout = \"10s\"; retries = 0;\n"
		 "  %s } );\n", env.drop, done, env.failed, script, env.out, extra);
}

static void start(void)
{
	h_start(&env, NULL);
	cr_assert(h_wait_ready(&env, 10000), "daemon not ready");
}

/* 1 if FILE's contents hold NEEDLE. */
static int holds(const char *file, const char *needle)
{
	char *t = h_slurp(file);
	int r = t && strstr(t, needle) != NULL;

	free(t);
	return r;
}

static const char *secret_needle;
static int secret_hits;

static int look_for_secret(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)f;
	if (flag == FTW_F && S_ISREG(st->st_mode) && holds(p, secret_needle))
		secret_hits++;
	return 0;
}

/* Regular files under DIR holding NEEDLE. */
static int files_holding(const char *dir, const char *needle)
{
	secret_needle = needle;
	secret_hits = 0;
	nftw(dir, look_for_secret, 16, FTW_PHYS);
	return secret_hits;
}

/* R/private (root, 0711: reachable, not listable) holding NAME,
 * "TOPSECRET", root:nogroup 0640: the commands' user may read it (say, its
 * own credentials), the uploader may not.  Its path. */
static const char *root_secret(const char *name)
{
	static char p[H_PATH * 2];   /* not h_fmt's: it outlives 8 calls */
	const char *dir = h_fmt("%s/private", env.root);

	snprintf(p, sizeof(p), "%s/%s", dir, name);

	if (!h_exists(dir))
		cr_assert_eq(mkdir(dir, 0711), 0);
	h_write(p, "TOPSECRET\n", 0640);
	cr_assert_eq(chown(p, 0, getpwnam("nobody")->pw_gid), 0);
	return p;
}

/* A process of the uploader's running FN (in a tight loop, as fast as it
 * can), in its own process group; kill it with stop_loop(). */
static pid_t as_loop(void (*fn)(const char *), const char *arg)
{
	pid_t pid = fork();

	cr_assert_neq(pid, -1);
	if (pid == 0) {
		setpgid(0, 0);
		if (setgroups(0, NULL) == -1 || setgid(up_gid) == -1 || setuid(up_uid) == -1)
			_exit(126);
		for (;;)
			fn(arg);
	}
	setpgid(pid, pid);
	return pid;
}

static void stop_loop(pid_t pid)
{
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Swap DIR/0 and DIR/1 (a directory and a symlink) atomically. */
static void flip_slots(const char *dir)
{
	static int fd = -1;

	if (fd < 0 && (fd = open(dir, O_RDONLY | O_DIRECTORY)) < 0)
		_exit(1);
	renameat2(fd, "0", fd, "1", RENAME_EXCHANGE);
}

/* Rename a fresh file in as xN.sea, then a symlink over it at once. */
static void file_then_symlink(const char *drop)
{
	static int fd = -1, n;
	char name[32];
	int f;

	if (fd < 0 && (fd = open(drop, O_RDONLY | O_DIRECTORY)) < 0)
		_exit(1);
	if (n >= 400) {
		pause();
		return;
	}
	snprintf(name, sizeof(name), "x%d.sea", n++);
	f = openat(fd, ".f", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (f < 0 || write(f, "x", 1) != 1 || close(f) != 0)
		_exit(1);
	unlinkat(fd, ".l", 0);
	if (symlinkat("/etc/hostname", fd, ".l") != 0 || renameat(fd, ".f", fd, name) != 0)
		_exit(1);
	renameat(fd, ".l", fd, name);
}

/* ---- 1: files the daemon delivers are the daemon's --------------------- */

/* Item 1: an uploader's chmod 4755 file, delivered across file systems
 * (done/ on a tmpfs), was copied with its mode bits into a root-owned file:
 * a setuid-root binary the uploader could run.  Now a delivered copy has
 * the daemon's modes, no setuid/setgid/sticky bit, and the uploader cannot
 * write it. */
Test(trust, copy_across_file_systems_carries_no_setuid_bit)
{
	const char *s = h_script(&env, "ok.sh", "exit 0\n");
	struct stat st;

	h_tmpfs(&env, env.done, "size=64m,mode=0755");
	give(env.drop);
	config(s, "", "");
	start();
	attack("printf '#!/bin/sh\\nid\\n' > \"$D/.s\" && chmod 4755 \"$D/.s\" && "
	       "mv \"$D/.s\" \"$D/suid.sea\"");
	cr_assert(h_wait_count(env.done, ".sea", 1, 15000), "not delivered");
	cr_assert_eq(lstat(h_fmt("%s/suid.sea", env.done), &st), 0);
	cr_assert_eq(st.st_mode & 07000, 0, "delivered with mode %04o", st.st_mode & 07777);
	cr_assert_eq(st.st_uid, geteuid(), "not the daemon's (uid %d)", (int)st.st_uid);
	cr_assert_eq(st.st_mode & 0027, 0, "group/others may write or read: %04o",
		     st.st_mode & 07777);
	cr_assert_neq(h_as(&env, up_uid, up_gid, "printf x >> \"$DONE/suid.sea\""), 0,
		      "the uploader could write the delivered file");
}

/* Item 7: after the verdict the uploader rewrote its file in done/ (it
 * still owned it).  A file in done/ is now the daemon's. */
Test(trust, uploader_cannot_change_a_file_in_done)
{
	const char *s = h_script(&env, "ok.sh", "exit 0\n");
	struct stat st;

	give(env.drop);
	config(s, "", "");
	start();
	attack("printf original > \"$D/.a\" && chmod 0666 \"$D/.a\" && mv \"$D/.a\" \"$D/a.sea\"");
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000));
	cr_assert_neq(h_as(&env, up_uid, up_gid, "printf evil >> \"$DONE/a.sea\""), 0,
		      "the uploader appended to its file in done/");
	cr_assert_neq(h_as(&env, up_uid, up_gid, "chmod 0666 \"$DONE/a.sea\""), 0);
	cr_assert_eq(lstat(h_fmt("%s/a.sea", env.done), &st), 0);
	cr_assert_eq(st.st_uid, geteuid());
	cr_assert_eq(st.st_mode & 0027, 0, "mode %04o", st.st_mode & 07777);
	cr_assert(holds(h_fmt("%s/a.sea", env.done), "original"));
}

/* Item 7: the uploader kept a write descriptor past the claim: the content
 * changed under the command, and after the verdict in done/.  What the
 * command read is now what lands in done/, and stays so. */
Test(trust, a_kept_write_descriptor_changes_nothing)
{
	const char *s = h_script(&env, "seen.sh", "cat \"$1\" > \"$2/seen\"\nexit 0\n");
	pid_t writer;

	give(env.drop);
	config(s, "", "");
	start();
	writer = h_as_bg(&env, up_uid, up_gid,
		"exec 3<>\"$D/.w\"; printf ORIGINAL >&3; mv \"$D/.w\" \"$D/w.sea\"; "
		"while [ ! -e \"$O/go\" ]; do sleep 0.05; done; "
		"printf EVIL >&3; printf EVIL > \"$O/wrote\"; sleep 30");
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000));
	h_write(h_fmt("%s/go", env.out), "", 0644);
	cr_assert(h_wait_text(h_fmt("%s/wrote", env.out), "EVIL", 10000),
		  "the writer did not write");
	kill(-writer, SIGKILL);
	h_wait_pid(writer, 5000);
	cr_assert(holds(h_fmt("%s/seen", env.out), "ORIGINAL"));
	cr_assert_not(holds(h_fmt("%s/w.sea", env.done), "EVIL"),
		      "the file in done/ changed after the verdict");
	cr_assert(holds(h_fmt("%s/w.sea", env.done), "ORIGINAL"));
}

/* Item 7: with fs.protected_hardlinks off an uploader could hard-link a
 * root-only file into the drop, and the daemon moved that inode to done/
 * or failed/ (and a root command would have read it).  A hard-linked file
 * is now refused there, and the root-only file keeps its one name. */
Test(trust, hard_link_to_a_root_only_file_is_refused)
{
	const char *s = h_script(&env, "cat.sh", "cat \"$1\"\nexit 0\n");
	const char *secret = root_secret("leak.sea");
	FILE *f = fopen("/proc/sys/fs/protected_hardlinks", "r+");
	struct stat st;

	cr_assert_not_null(f);
	cr_assert_not_null(fgets(saved_hardlinks, sizeof(saved_hardlinks), f));
	rewind(f);
	fputs("0", f);
	cr_assert_eq(fclose(f), 0);
	give(env.drop);
	config(s, "", "");
	start();
	attack(h_fmt("ln \"%s\" \"$D/leak.sea\"", secret));
	cr_assert(h_wait_text(env.log, "file=leak.sea attempt=", 10000) ||
		  h_wait_text(env.log, "event=refused", 1000), "no verdict on the link");
	nap(300);
	cr_assert_eq(lstat(secret, &st), 0);
	cr_assert_eq(st.st_nlink, 1, "the root-only file kept %d links (one moved away)",
		     (int)st.st_nlink);
	cr_assert_eq(files_holding(env.done, "TOPSECRET"), 0);
	cr_assert_eq(files_holding(env.failed, "TOPSECRET"), 0);
	cr_assert_eq(files_holding(env.out, "TOPSECRET"), 0);
	cr_assert_not(holds(env.log, "TOPSECRET"));
}

/* The uploader's own hard link (protected_hardlinks on, the Debian
 * default) is processed from a private copy: rewriting the uploader's
 * other name afterwards changes nothing in done/. */
Test(trust, uploaders_own_hard_link_is_processed_from_a_copy)
{
	const char *s = h_script(&env, "ok.sh", "exit 0\n");
	const char *stage = h_fmt("%s/stage", env.root);
	struct stat a, b;

	cr_assert_eq(mkdir(stage, 0755), 0);
	give(stage);
	give(env.drop);
	config(s, "", "");
	start();
	attack(h_fmt("printf mine > \"%s/x\" && ln \"%s/x\" \"$D/own.sea\"", stage, stage));
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000), "the uploader's link was not processed");
	cr_assert_eq(stat(h_fmt("%s/x", stage), &a), 0);
	cr_assert_eq(stat(h_fmt("%s/own.sea", env.done), &b), 0);
	cr_assert_neq(a.st_ino, b.st_ino, "done/ holds the uploader's inode");
	attack(h_fmt("printf changed > \"%s/x\"", stage));
	cr_assert(holds(h_fmt("%s/own.sea", env.done), "mine"));
}

/* ---- 2: the spool is out of the uploader's reach ------------------------ */

/* A run planted in DROP/.seawatch, the old place of the spool, as a dead
 * daemon's would look: "<slot> 0, 1 attempt, verdict done". */
static void plant_run(const char *slot_content_cmd, int verdict)
{
	attack(h_fmt("set -e; r=\"$D/.seawatch/d/run.1.1.0\"; mkdir -p \"$r/0\"; : > \"$r/lock\"; "
		     "%s%s",
		     verdict ? "printf '\\001\\000\\000\\000d\\000\\000\\000' > \"$r/attempts\"; " : "",
		     slot_content_cmd));
}

/* Item 2: a planted "done" verdict sent a file to done/ without the
 * command ever running.  The spool is no longer in the drop: a planted
 * file is processed like any upload, its verdict ignored. */
Test(trust, planted_verdict_does_not_skip_the_command)
{
	const char *s = h_script(&env, "mark.sh", "echo ran > \"$2/ran.$(basename \"$1\")\"\nexit 0\n");

	give(env.drop);
	config(s, "", "");
	plant_run("printf evil > \"$r/0/evil.sea\"", 1);
	start();
	cr_assert(h_wait_count(env.done, "evil.sea", 1, 10000), "the planted file vanished");
	cr_assert(h_exists(h_fmt("%s/ran.evil.sea", env.out)),
		  "evil.sea reached done/ without its command running");
}

/* Item 2: a planted symlink to a root-only file was handed to the command,
 * whose output then sat in a sidecar. */
Test(trust, planted_symlink_is_not_followed)
{
	const char *s = h_script(&env, "cat.sh", "cat \"$1\"\nexit 1\n");
	const char *secret = root_secret("secret.sea");

	give(env.drop);
	config(s, "", "");
	plant_run(h_fmt("ln -s \"%s\" \"$r/0/secret.sea\"", secret), 0);
	h_drop(&env, "later.sea", "later");
	start();
	cr_assert(h_wait_count(env.failed, "later.sea", 1, 10000));
	nap(500);
	cr_assert_eq(files_holding(env.failed, "TOPSECRET"), 0, "the secret is in a sidecar");
	cr_assert_eq(files_holding(env.done, "TOPSECRET"), 0);
	cr_assert_not(holds(env.log, "TOPSECRET"), "the secret is in the log");
	cr_assert(holds(secret, "TOPSECRET"));
}

/* Item 2: a FIFO planted as a dead run's attempts table hung the master in
 * open(): SIGTERM no longer stopped it. */
Test(trust, planted_fifo_does_not_hang_the_master)
{
	const char *s = h_script(&env, "ok.sh", "exit 0\n");

	give(env.drop);
	config(s, "", "");
	plant_run("mkfifo \"$r/attempts\"; printf x > \"$r/0/x.sea\"", 0);
	start();
	h_drop(&env, "after.sea", "after");
	cr_assert(h_wait_count(env.done, "after.sea", 1, 10000), "the master is stuck");
	cr_assert_eq(h_stop(&env, SIGTERM, 10000), 0, "SIGTERM did not stop the master");
}

/* Item 2: a slot directory swapped for a symlink while a dead run was
 * recovered (checked with O_NOFOLLOW, then renamed from by path) made root
 * move a root-only file.  Tried 40 times against a flipper that swaps the
 * slot with a symlink as fast as it can. */
Test(trust, slot_swapped_for_a_symlink_moves_nothing_of_roots)
{
	const char *s = h_script(&env, "ok.sh", "exit 0\n");
	const char *secret;
	int i;

	secret = root_secret("bait.sea");
	give(env.drop);
	config(s, "", "");
	for (i = 0; i < 40; i++) {
		pid_t flip;

		attack("rm -rf \"$D/.seawatch\"");
		plant_run(h_fmt("printf bait > \"$r/0/bait.sea\"; ln -s \"%s/private\" \"$r/1\"",
				env.root), 0);
		flip = as_loop(flip_slots, h_fmt("%s/.seawatch/d/run.1.1.0", env.drop));
		h_run(&env, NULL, "-c", env.conf, "--once", NULL);
		stop_loop(flip);
		cr_assert(holds(secret, "TOPSECRET"), "run %d: root's bait.sea was moved", i);
		attack("rm -f \"$D\"/*.sea");
		if (h_exists(h_fmt("%s/bait.sea", env.done)))
			unlink(h_fmt("%s/bait.sea", env.done));
	}
}

/* ---- 3, 4: drops, done/ and failed/ are held, not looked up ------------- */

/* Item 3: the uploader owns the drop's parent and replaced the drop with a
 * symlink to a root-only directory: on "drop-back" the daemon followed it
 * and claimed root's files there. */
Test(trust, drop_replaced_by_a_symlink_is_not_followed)
{
	const char *s = h_script(&env, "ok.sh", "exit 0\n");
	const char *up = h_fmt("%s/up", env.root);
	char drop[H_PATH], spool[H_PATH * 2], extra[H_PATH * 3];
	const char *secret;

	secret = root_secret("secret.sea");
	cr_assert_eq(mkdir(up, 0755), 0);
	give(up);
	snprintf(drop, sizeof(drop), "%s/incoming", up);
	cr_assert_eq(rename(env.drop, drop), 0);
	snprintf(env.drop, sizeof(env.drop), "%s", drop);
	give(env.drop);
	/* The spool cannot sit beside a drop whose parent the uploader owns. */
	snprintf(spool, sizeof(spool), "%s/spool", env.root);
	snprintf(extra, sizeof(extra), "spool = \"%s\";", spool);
	config(s, extra, "");
	start();
	attack(h_fmt("mv \"$D\" \"$D.old\" && ln -s \"%s/private\" \"$D\"", env.root));
	nap(3000);   /* the watcher looks again once a second */
	attack("rm \"$D\" && mkdir \"$D\" && printf g > \"$D/.g\" && mv \"$D/.g\" \"$D/good.sea\"");
	cr_assert(h_wait_count(env.done, "good.sea", 1, 15000), "the drop never came back");
	cr_assert(holds(secret, "TOPSECRET"), "root's file was claimed through the symlink");
	cr_assert_not(h_exists(h_fmt("%s/secret.sea", env.done)));
}

/* Item 4: done/ under a parent the uploader owns, swapped for a symlink:
 * root created files in the symlink's target. */
Test(trust, done_swapped_for_a_symlink_is_not_followed)
{
	const char *s = h_script(&env, "ok.sh", "exit 0\n");
	const char *up = h_fmt("%s/up", env.root);
	char done[H_PATH];
	const char *target = h_fmt("%s/target", env.root);

	cr_assert_eq(mkdir(up, 0755), 0);
	cr_assert_eq(mkdir(target, 0700), 0);
	give(up);
	snprintf(done, sizeof(done), "%s/done", up);
	cr_assert_eq(mkdir(done, 0755), 0);
	config_done(s, done, "");
	start();
	attack(h_fmt("mv \"%s\" \"%s.old\" && ln -s \"%s\" \"%s\"", done, done,
		     h_fmt("%s/target", env.root), done));
	h_drop(&env, "one.sea", "1");
	cr_assert(h_wait_text(env.log, "event=done", 10000) ||
		  h_wait_text(env.log, "one.sea", 1000));
	nap(500);
	cr_assert_eq(h_count(target, NULL), 0, "root created a file through the symlink");
}

/* ---- 5: copies across file systems ------------------------------------- */

/* Item 5: a 20 GiB sparse file delivered across file systems was copied
 * byte by byte inside the event loop: it filled done/'s file system and was
 * retried every 5 s.  Now holes are skipped (the copy stays sparse) and the
 * copy runs beside the loop: other files flow meanwhile. */
Test(trust, sparse_file_is_copied_sparse_off_the_loop)
{
	const char *s = h_script(&env, "ok.sh", "exit 0\n");
	struct statvfs vfs;
	struct stat st;
	int i;

	h_tmpfs(&env, env.done, "size=64m,mode=0755");
	give(env.drop);
	config(s, "", "");
	start();
	attack("truncate -s 20G \"$D/.big\" && printf data | dd of=\"$D/.big\" conv=notrunc "
	       "2>/dev/null && printf end | dd of=\"$D/.big\" bs=1 seek=10000000000 conv=notrunc "
	       "2>/dev/null && mv \"$D/.big\" \"$D/big.sea\"");
	for (i = 0; i < 5; i++)
		h_drop(&env, h_fmt("small%d.sea", i), "small");
	cr_assert(h_wait_count(env.done, "small0.sea", 1, 20000));
	cr_assert(h_wait_count(env.done, ".sea", 6, 30000), "%d of 6 delivered",
		  h_count(env.done, ".sea"));
	cr_assert_eq(stat(h_fmt("%s/big.sea", env.done), &st), 0);
	cr_assert_eq(st.st_size, 20LL << 30);
	cr_assert_lt(st.st_blocks, 2048, "the copy is not sparse: %lld blocks",
		     (long long)st.st_blocks);
	cr_assert_eq(statvfs(env.done, &vfs), 0);
	cr_assert_gt(vfs.f_bfree * 10, vfs.f_blocks * 9, "done/'s file system filled up");
}

/* Item 5: files that cannot be delivered (bigger than done/'s file system)
 * held their slots: with a small queue, nothing else was claimed again.
 * Now they fail fast (space is reserved first), are set aside, and other
 * files keep flowing; done/ is not left full. */
Test(trust, undeliverable_files_do_not_starve_the_others)
{
	const char *s = h_script(&env, "ok.sh", "exit 0\n");
	struct statvfs vfs;
	int i;

	h_tmpfs(&env, env.done, "size=4m,mode=0755");
	give(env.drop);
	config(s, "", "workers = 1;\nqueue_size = 1;\n");
	start();
	attack("for i in 1 2 3; do head -c 8M /dev/urandom > \"$D/.b$i\" && "
	       "mv \"$D/.b$i\" \"$D/big$i.sea\"; done");
	nap(500);
	for (i = 0; i < 5; i++)
		h_drop(&env, h_fmt("small%d.sea", i), "small");
	cr_assert(h_wait_count(env.done, ".sea", 5, 40000), "%d of 5 small files delivered",
		  h_count(env.done, NULL));
	cr_assert_eq(statvfs(env.done, &vfs), 0);
	cr_assert_gt(vfs.f_bfree * 4, vfs.f_blocks * 3, "done/ left full");
	cr_assert_eq(h_count(env.done, NULL), 5);
	/* Space comes back, the operator reloads: the files set aside are
	 * delivered, none of them run again. */
	cr_assert_eq(system(h_fmt("mount -o remount,size=64m '%s'", env.done)), 0);
	kill(env.pid, SIGHUP);
	cr_assert(h_wait_count(env.done, ".sea", 8, 20000), "%d of 8 delivered after the reload",
		  h_count(env.done, ".sea"));
	/* The outcome line follows the file. */
	for (i = 1; i <= 3; i++)
		cr_assert(h_wait_text(env.log, h_fmt("file=big%d.sea attempt=1 status=recorded", i),
				      5000), "big%d.sea: no outcome line", i);
	cr_assert_eq(h_count_text(env.log, "event=done drop=d file=big1.sea attempt=1"), 1);
}

/* ---- 6: command and worker under different credentials ------------------ */

/* Item 6: the command ran with its worker's credentials: kill -STOP $PPID
 * froze the worker, and the timeout never fired. */
Test(trust, command_cannot_stop_its_worker)
{
	const char *s = h_script(&env, "stop.sh", "kill -STOP $PPID\nsleep 30\n");

	config(s, "timeout = \"1s\"; kill_grace = \"200ms\";", "");
	start();
	h_drop(&env, "t.sea", "t");
	cr_assert(h_wait_count(env.failed, "t.sea", 1, 15000), "the timeout never fired");
	/* The sidecar follows the file. */
	cr_assert(h_wait_count(env.failed, "t.sea.error", 1, 5000));
	cr_assert(holds(h_fmt("%s/t.sea.error", env.failed), "status=timeout"));
}

/* Item 6, 9: the command gets no capability, cannot gain privileges, and
 * the user's HOME, a PATH without root's directories and umask 027. */
Test(trust, command_runs_without_privileges)
{
	const char *s = h_script(&env, "who.sh",
		"grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):' /proc/self/status > \"$2/status\"\n"
		"printf '%s\\n%s\\n' \"$HOME\" \"$PATH\" > \"$2/env\"\numask > \"$2/umask\"\n");
	char *status, *e, *u;

	config(s, "", "");
	start();
	h_drop(&env, "c.sea", "c");
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000));
	status = h_slurp(h_fmt("%s/status", env.out));
	e = h_slurp(h_fmt("%s/env", env.out));
	u = h_slurp(h_fmt("%s/umask", env.out));
	cr_assert(status && e && u);
	cr_assert(strstr(status, "CapBnd:\t0000000000000000"), "%s", status);
	cr_assert(strstr(status, "CapEff:\t0000000000000000"), "%s", status);
	cr_assert(strstr(status, "CapPrm:\t0000000000000000"), "%s", status);
	cr_assert(strstr(status, "CapAmb:\t0000000000000000"), "%s", status);
	cr_assert(strstr(status, "NoNewPrivs:\t1"), "%s", status);
	cr_assert(!strncmp(e, getpwnam("nobody")->pw_dir, strlen(getpwnam("nobody")->pw_dir)),
		  "HOME is not nobody's: %s", e);
	cr_assert_null(strstr(e, "sbin"), "root's directories in PATH: %s", e);
	cr_assert_str_eq(u, "0027\n");
	free(status);
	free(e);
	free(u);
}

/* ---- 8: symlinks ------------------------------------------------------- */

/* Item 8: a symlink swapped in during the claim (a file renamed in, then a
 * symlink renamed over it) was claimed, could not be copied to failed/ on
 * another file system (ELOOP), and was retried every 5 s for ever, holding
 * its slot. */
Test(trust, symlink_swapped_in_during_the_claim_is_dropped_once)
{
	const char *s = h_script(&env, "ok.sh", "exit 0\n");

	h_tmpfs(&env, env.failed, "size=8m,mode=0755");
	give(env.drop);
	config(s, "", "");
	start();
	{
		pid_t a = as_loop(file_then_symlink, env.drop);

		nap(1500);   /* 400 files, each replaced by a symlink at once */
		stop_loop(a);
	}
	h_drop(&env, "good.sea", "good");
	cr_assert(h_wait_count(env.done, "good.sea", 1, 15000));
	nap(6000);   /* past one retry period of the old code */
	cr_assert_eq(h_count_text(env.log, "Too many levels of symbolic links"), 0,
		     "a claimed symlink was retried");
	cr_assert_eq(h_count_text(env.log, "event=move-failed"), 0);
}

/* Item 8: a flood of symlinks was warned about again on every rescan. */
Test(trust, symlink_flood_is_not_warned_about_on_every_rescan)
{
	const char *s = h_script(&env, "ok.sh", "exit 0\n");
	int i;

	give(env.drop);
	config(s, "", "");
	attack("i=0; while [ $i -lt 300 ]; do ln -s /etc/hostname \"$D/l$i.sea\"; i=$((i+1)); done");
	start();
	for (i = 0; i < 4; i++) {
		kill(env.pid, SIGHUP);
		cr_assert(h_wait_text(env.log, h_fmt("event=reloaded"), 10000));
		nap(300);
	}
	h_drop(&env, "z.sea", "z");
	cr_assert(h_wait_count(env.done, "z.sea", 1, 10000));
	cr_assert_leq(h_count_text(env.log, "event=skipped"), 100,
		      "%d skip warnings for 300 symlinks and 5 scans",
		      h_count_text(env.log, "event=skipped"));
}

/* ---- 9: modes and hygiene ---------------------------------------------- */

static int loose_n;
static char loose_what[H_PATH * 2];

static int loose_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)f;
	if ((flag == FTW_D || flag == FTW_F) && (st->st_mode & 0007)) {
		loose_n++;
		snprintf(loose_what, sizeof(loose_what), "%s %04o", p, st->st_mode & 07777);
	}
	return 0;
}

/* Item 9: the spool was 0755 (and inside the drop); sidecars, which quote
 * the command's output, were 0644; that output went in raw (terminal
 * escapes). */
Test(trust, spool_and_sidecars_are_private_and_output_escaped)
{
	const char *s = h_script(&env, "slow.sh",
		"case \"$1\" in *bad.sea) printf '\\033[2Jpwned\\007 \\302\\233 \\233 caf\\303\\251\\n';"
		" exit 3;; esac\n"
		"sleep 2\nexit 0\n");
	const char *spools[] = { h_fmt("%s/.seawatch", env.drop), h_fmt("%s/.seawatch", env.root) };
	struct stat st;
	char *side;

	config(s, "", "");
	start();
	h_drop(&env, "slow.sea", "s");
	h_drop(&env, "bad.sea", "b");
	cr_assert(h_wait_count(env.failed, ".error", 1, 10000));
	for (size_t k = 0; k < 2; k++) {
		loose_n = 0;
		if (h_exists(spools[k]))
			nftw(spools[k], loose_one, 16, FTW_PHYS);
		cr_assert_eq(loose_n, 0, "others may use the spool: %s", loose_what);
	}
	cr_assert_not(h_exists(spools[0]), "the spool is inside the drop");
	cr_assert_eq(stat(h_fmt("%s/bad.sea.error", env.failed), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0640, "sidecar mode %04o", st.st_mode & 07777);
	side = h_slurp(h_fmt("%s/bad.sea.error", env.failed));
	cr_assert_not_null(side);
	cr_assert(strstr(side, "pwned"));
	cr_assert_null(strchr(side, '\033'), "a raw escape in the sidecar");
	cr_assert_null(strchr(side, '\007'), "a raw BEL in the sidecar");
	cr_assert_null(strstr(side, "\302\233"), "a CSI (U+009B) in the sidecar");
	cr_assert_null(strchr(side, '\233'), "a raw C1 byte in the sidecar");
	cr_assert(strstr(side, "caf\303\251"), "UTF-8 text was mangled:\n%s", side);
	free(side);
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000));
}

/* Item 9: a config file others may write was accepted. */
Test(trust, config_writable_by_others_is_refused)
{
	const char *s = h_script(&env, "ok.sh", "exit 0\n");
	char *out = NULL;

	config(s, "", "");
	cr_assert_eq(chmod(env.conf, 0666), 0);
	cr_assert_eq(h_run(&env, &out, "-c", env.conf, "--check-config", NULL), 2, "%s", out);
	cr_assert(out && strstr(out, env.conf) && strstr(out, "writable"), "%s", out);
	free(out);
	cr_assert_eq(chmod(env.conf, 0644), 0);
	cr_assert_eq(chown(env.conf, up_uid, up_gid), 0);
	cr_assert_eq(h_run(&env, &out, "-c", env.conf, "--check-config", NULL), 2, "%s", out);
	free(out);
}

/* Item 9: a command binary the uploader could rewrite was accepted. */
Test(trust, command_others_can_rewrite_is_refused)
{
	const char *s = h_script(&env, "ok.sh", "exit 0\n");
	char *out = NULL;

	config(s, "", "");
	cr_assert_eq(chmod(s, 0757), 0);
	cr_assert_eq(h_run(&env, &out, "-c", env.conf, "--check-config", NULL), 2, "%s", out);
	cr_assert(out && strstr(out, "command[0]") && strstr(out, "writable"), "%s", out);
	free(out);
	cr_assert_eq(chmod(s, 0755), 0);
	give(s);
	cr_assert_eq(h_run(&env, &out, "-c", env.conf, "--check-config", NULL), 2, "%s", out);
	free(out);
}

/* Started as root with a drop others can write, commands would run as
 * root: refused unless user is set. */
Test(trust, root_commands_on_a_writable_drop_are_refused)
{
	const char *s = h_script(&env, "ok.sh", "exit 0\n");
	char cmd[H_PATH * 3], *out = NULL;

	snprintf(cmd, sizeof(cmd), "[\"%s\", \"{file}\"]", s);
	h_config_simple(&env, cmd, "", "");
	give(env.drop);
	cr_assert_eq(h_run(&env, &out, "-c", env.conf, "--check-config", NULL), 2, "%s", out);
	cr_assert(out && strstr(out, "user"), "%s", out);
	free(out);
	cr_assert_eq(chown(env.drop, 0, 0), 0);
	cr_assert_eq(chmod(env.drop, 01777), 0);
	cr_assert_eq(h_run(&env, &out, "-c", env.conf, "--check-config", NULL), 2, "%s", out);
	free(out);
}

/* --check-config names path components others can change (sshd's
 * StrictModes): here done/'s parent, owned by the uploader. */
Test(trust, check_config_reports_paths_others_can_change)
{
	const char *s = h_script(&env, "ok.sh", "exit 0\n");
	const char *up = h_fmt("%s/up", env.root);
	char *out = NULL;

	cr_assert_eq(mkdir(up, 0755), 0);
	cr_assert_eq(mkdir(h_fmt("%s/done", up), 0755), 0);
	give(up);
	config_done(s, h_fmt("%s/done", up), "");
	cr_assert_eq(h_run(&env, &out, "-c", env.conf, "--check-config", NULL), 0, "%s", out);
	cr_assert(out && strstr(out, "warning") && strstr(out, up), "%s", out);
	free(out);
}

/* Item 6, the other half: a command that runs as the daemon's own user
 * (no user set: root, on a drop nobody else can write) can stop its
 * worker; the master does not trust the worker to keep the timeout, and
 * kills it once the result is overdue (timeout + kill_grace + 5 s). */
Test(trust, master_kills_a_worker_that_stops_answering)
{
	const char *s = h_script(&env, "stop.sh", "kill -STOP $PPID\nsleep 60\n");
	char cmd[H_PATH * 3];

	snprintf(cmd, sizeof(cmd), "[\"%s\", \"{file}\"]", s);
	h_config_simple(&env, cmd, "timeout = \"1s\"; kill_grace = \"200ms\";", "");
	start();
	h_drop(&env, "t.sea", "t");
	cr_assert(h_wait_count(env.failed, "t.sea", 1, 20000), "the stopped worker froze the job");
	cr_assert(h_wait_text(env.log, "event=worker-unresponsive", 1000));
	h_drop(&env, "after.sea", "a");
	cr_assert(h_wait_count(env.failed, "after.sea", 1, 20000) ||
		  h_wait_count(env.done, "after.sea", 1, 1000), "no worker came back");
}


/* The uploader keeps an O_PATH descriptor and flips the file's mode between
 * 0640 and 0666 while the daemon takes it over: the mode looked at before
 * the fchown could be 0640, the fchmod skipped, and the file left 0666 --
 * reopened for writing (through /proc/self/fd) after the verdict. */
static void chmod_racer(const char *drop)
{
	static int dfd = -1, n;
	char name[32], proc[64];
	pid_t flipper;
	int f, p, i;

	if (dfd < 0 && (dfd = open(drop, O_RDONLY | O_DIRECTORY)) < 0)
		_exit(1);
	if (n >= 200) {
		pause();
		return;
	}
	f = openat(dfd, ".r", O_WRONLY | O_CREAT | O_TRUNC, 0640);
	if (f < 0 || write(f, "good\n", 5) != 5 || close(f) != 0)
		_exit(1);
	p = openat(dfd, ".r", O_PATH);
	snprintf(name, sizeof(name), "r%d.sea", n++);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", p);
	if (p < 0)
		_exit(1);
	/* A child flips the mode from before the file is renamed in until
	 * the daemon has taken it over. */
	flipper = fork();
	if (flipper == 0) {
		for (i = 0; i < 2000000; i++)
			if (chmod(proc, i & 1 ? 0640 : 0666) < 0)
				break;   /* taken over */
		_exit(0);
	}
	if (flipper < 0 || renameat(dfd, ".r", dfd, name) != 0)
		_exit(1);
	waitpid(flipper, NULL, 0);
	f = open(proc, O_WRONLY | O_APPEND);
	if (f >= 0) {
		if (write(f, "EVIL\n", 5) != 5)
			_exit(1);
		close(f);
	}
	close(p);
}

Test(trust, a_mode_flipped_during_the_take_over_is_set_anyway)
{
	const char *s = h_script(&env, "ok.sh", "exit 0\n");
	pid_t a;
	struct dirent *de;
	DIR *d;

	give(env.drop);
	config(s, "", "");
	start();
	a = as_loop(chmod_racer, env.drop);
	cr_assert(h_wait_count(env.done, ".sea", 200, 60000), "%d of 200 done",
		  h_count(env.done, ".sea"));
	stop_loop(a);
	cr_assert_eq(files_holding(env.done, "EVIL"), 0, "a file in done/ was rewritten");
	d = opendir(env.done);
	while ((de = readdir(d))) {
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		cr_assert_eq(fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW), 0);
		cr_assert_eq(st.st_mode & 0027, 0, "%s: mode %04o", de->d_name,
			     st.st_mode & 07777);
	}
	closedir(d);
}

/* A stop during a copy to done/ on another file system: the command had
 * succeeded, but no verdict was recorded before the copy, and the next
 * start failed the file as "crashed" (its last attempt); the temporary
 * stayed in done/ for good. */
Test(trust, a_stop_during_a_copy_keeps_the_verdict)
{
	const char *s = h_script(&env, "count.sh", "echo run >> \"$2/runs.$(basename \"$1\")\"\n");
	char *runs;
	int i, seen = 0;

	h_tmpfs(&env, env.done, "size=1g,mode=0755");
	config(s, "", "");
	start();
	cr_assert_eq(system(h_fmt("dd if=/dev/zero of='%s/.big' bs=1M count=600 2>/dev/null && "
				  "mv '%s/.big' '%s/big.sea'", env.root, env.root, env.drop)), 0);
	/* Wait for its temporary copy in done/, then stop. */
	for (i = 0; i < 2000 && !seen; i++) {
		DIR *d = opendir(env.done);
		struct dirent *de;

		while (d && (de = readdir(d)))
			if (!strncmp(de->d_name, ".seawatch-copy", 14))
				seen = 1;
		if (d)
			closedir(d);
		if (!seen)
			nap(5);
	}
	cr_assert(seen, "no copy under way seen");
	cr_assert_eq(h_stop(&env, SIGTERM, 20000), 0);
	cr_assert_eq(h_run(&env, NULL, "-c", env.conf, "--once", NULL), 0, "not every file done");
	cr_assert(h_exists(h_fmt("%s/big.sea", env.done)));
	cr_assert_eq(h_count(env.failed, NULL), 0, "sent to failed/");
	runs = h_slurp(h_fmt("%s/runs.big.sea", env.out));
	cr_assert(runs && !strcmp(runs, "run\n"), "the command ran again: %s", runs);
	free(runs);
	{
		DIR *d = opendir(env.done);
		struct dirent *de;

		while ((de = readdir(d)))
			cr_assert(strncmp(de->d_name, ".seawatch-copy", 14), "left: %s", de->d_name);
		closedir(d);
	}
}

/* A reload that changes user: refused (its workers and spools are made for
 * the old one), the old config kept. */
Test(trust, a_reload_that_changes_user_is_refused)
{
	const char *s = h_script(&env, "ok.sh", "exit 0\n");
	char cmd[H_PATH * 3];

	config(s, "", "");
	start();
	snprintf(cmd, sizeof(cmd), "[\"%s\", \"{file}\", \"%s\"]", s, env.out);
	h_config_simple(&env, cmd, "", "user = \"daemon\";");
	kill(env.pid, SIGHUP);
	cr_assert(h_wait_text(env.log, "user or group changed", 10000));
	cr_assert(h_wait_text(env.log, "keeping=old-config", 1000));
	h_drop(&env, "r.sea", "r");
	cr_assert(h_wait_count(env.done, ".sea", 1, 10000));
}
