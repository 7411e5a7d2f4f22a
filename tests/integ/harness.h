/*
 * harness.h - integration-test helpers: a temporary world (drop, done,
 * failed, out directories, a config, scripts) and the real seawatchd run in
 * it.  Every wait has a deadline; nothing sleeps blindly.
 *
 * The binary is $SEAWATCHD (default build/seawatchd).  $SEAWATCH_WRAP, when
 * set, is a space-separated command prefix (e.g. valgrind ...) put in front
 * of every seawatchd the harness starts.
 */
#ifndef SW_HARNESS_H
#define SW_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

#define H_PATH 512

struct h_env {
	char root[H_PATH];   /* mkdtemp("/tmp/seawatch-test.XXXXXX") */
	char drop[H_PATH];   /* root/incoming */
	char done[H_PATH];   /* root/done */
	char failed[H_PATH]; /* root/failed */
	char out[H_PATH];    /* root/out: scratch for scripts */
	char conf[H_PATH];   /* root/seawatch.conf */
	char log[H_PATH];    /* root/daemon.log: stderr+stdout of h_start'ed daemons (appended) */
	pid_t pid;           /* the h_start'ed daemon, 0 when none */
	char mounts[4][H_PATH]; /* h_tmpfs mounts, undone at teardown */
	int nmounts;
};

/* Create root and its four directories.  Aborts the test on failure. */
void h_setup(struct h_env *e);
/* SIGKILL the daemon's process group if running, reap it, rm -rf root. */
void h_teardown(struct h_env *e);

/* Write CONTENT to PATH (created/truncated) with MODE. */
void h_write(const char *path, const char *content, mode_t mode);
/* Write root/NAME = "#!/bin/sh\n" BODY, mode 0755; returns the path in a
 * static rotating buffer (valid for the next 8 calls). */
const char *h_script(struct h_env *e, const char *name, const char *body);
/* printf-style: write the config file root/seawatch.conf. */
void h_config(struct h_env *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A complete config with one drop "d" on e->drop/done/failed running
 * COMMAND_LIST (libconfig list text, e.g. "[\"/bin/true\", \"{file}\"]"),
 * plus EXTRA lines appended inside the drop group (may be ""), and
 * GLOBAL lines at top level (may be ""). */
void h_config_simple(struct h_env *e, const char *command_list,
		     const char *extra, const char *global);

/* Drop a file atomically: write root/.tmp-NAME then rename into e->drop. */
void h_drop(struct h_env *e, const char *name, const char *content);

/* Start seawatchd -c e->conf [ARGS...] (NULL-terminated) in the background,
 * in its own process group, stdin /dev/null, stdout+stderr appended to
 * e->log.  Sets and returns e->pid. */
pid_t h_start(struct h_env *e, ...) __attribute__((sentinel));
/* Wait until the daemon's log shows it is watching (line containing
 * "event=ready"), deadline MS; returns 1 if seen. */
int h_wait_ready(struct h_env *e, int ms);
/* Run seawatchd ARGS... (NULL-terminated, no implicit -c) to completion,
 * deadline 60 s; returns the exit status (0-255, or 128+signal), and if
 * OUT is not NULL a malloc'd copy of stdout+stderr. */
int h_run(struct h_env *e, char **out, ...) __attribute__((sentinel));
/* One worker running out/wait.sh (until out/go exists) on drop "d", started
 * with -v and GLOBAL settings; three files dropped: 1 if one runs and two
 * were sent ahead to it (three event=start lines). */
int h_one_runs_two_wait(struct h_env *e, const char *global);
/* The control socket the tests configure: root/run/control.sock. */
const char *h_sock(const struct h_env *e);
/* seawatchctl: $SEAWATCHCTL, or beside seawatchd. */
const char *h_ctl_path(void);
/* Run seawatchctl -s h_sock(e) ARGS... (NULL-terminated) to completion;
 * as h_run. */
int h_ctl(struct h_env *e, char **out, ...) __attribute__((sentinel));
/* Send SIG to e->pid and wait for it to exit within MS; returns its exit
 * status (0-255, 128+signal) or -1 on timeout.  Clears e->pid. */
int h_stop(struct h_env *e, int sig, int ms);
/* Wait for PID (a child) to exit within MS: status as above, -1 timeout. */
int h_wait_pid(pid_t pid, int ms);

/* Poll until no process (but this one) has E's root in its command line:
 * every daemon, worker and wrapper of E gone.  1 if so by MS. */
int h_wait_none_left(struct h_env *e, int ms);

/* Regular files in DIR not starting with '.', and (if SUFFIX) ending in it. */
int h_count(const char *dir, const char *suffix);
/* Poll (10 ms steps) until h_count(DIR, SUFFIX) >= N; 1 if reached by MS. */
int h_wait_count(const char *dir, const char *suffix, int n, int ms);
/* Poll until FILE's contents contain NEEDLE; 1 if seen by MS. */
int h_wait_text(const char *file, const char *needle, int ms);
/* Number of occurrences of NEEDLE in FILE (0 if FILE is missing). */
int h_count_text(const char *file, const char *needle);
/* malloc'd contents of PATH (NUL-terminated), or NULL if unreadable. */
char *h_slurp(const char *path);
/* 1 if PATH exists (lstat), 0 otherwise. */
int h_exists(const char *path);
/* 1 if process PID exists (kill(pid, 0) == 0 or EPERM), else 0. */
int h_alive(pid_t pid);
/* Poll until process PID is gone (or a zombie); 1 if by MS. */
int h_wait_gone(pid_t pid, int ms);
/* The uploader of the trust tests: a real unprivileged user ("sw-upload",
 * made with useradd on first use).  Aborts the test if it cannot be had. */
void h_uploader(uid_t *uid, gid_t *gid);
/* Run /bin/sh -c SCRIPT as UID/GID (no supplementary groups), with R, D,
 * DONE, FAILED, O set to e's root, drop, done, failed and out.  Waits up
 * to 30 s; the exit status (as h_wait_pid). */
int h_as(struct h_env *e, uid_t uid, gid_t gid, const char *script);
/* The same in the background, in its own process group (killed at
 * teardown); its pid. */
pid_t h_as_bg(struct h_env *e, uid_t uid, gid_t gid, const char *script);
/* Mount a tmpfs (options OPTS, e.g. "size=64m,mode=0755") on PATH, which is
 * created; unmounted at teardown.  Skips the test where mounting is not
 * allowed. */
void h_tmpfs(struct h_env *e, const char *path, const char *opts);

/* 1 if CMDLINE (LEN bytes of /proc/PID/cmdline, NUL-terminated) is a
 * seawatch worker's: argv[1] "--worker" (just exec'd), or the title it
 * writes over its argv ("seawatch-worker: ..."). */
int h_is_worker_cmdline(const char *cmdline, size_t len);

/* snprintf into a static rotating buffer (8 slots of H_PATH*2). */
const char *h_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
