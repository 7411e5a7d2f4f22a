/*
 * cgroup.h - commands in cgroups of their own (owned by src/cgroup.c).
 *
 * A command that leaves its process group (setsid, a double fork) is out
 * of reach of kill(-pgid).  Where the daemon has a cgroup v2 subtree it
 * may manage (systemd's Delegate=yes, or a directory given with
 * --cgroup), each worker's commands run in a cgroup of their own, which
 * is killed whole (cgroup.kill) on timeout, at the end of each job, when
 * the worker dies and at stop:
 *
 *   BASE/seawatchd.PID/w0, w1, ...     (PID the master's, wI worker I's)
 *
 * The master makes and removes them; a worker only moves each command in
 * (in the child, before exec) and kills what is left.
 */
#ifndef SW_CGROUP_H
#define SW_CGROUP_H

#include <stddef.h>
#include <sys/types.h>

/* Master, at start.  GIVEN (--cgroup) or NULL: find the daemon's own
 * cgroup and use it if systemd delegated it.  Makes BASE/seawatchd.PID
 * after killing and removing what dead daemons left in BASE.  1 on, 0 off
 * (*WHY says why, for the log), -1 when GIVEN cannot be used (*WHY). */
int cg_setup(const char *given, const char **why);
/* The directory of this daemon's cgroups, or NULL when off. */
const char *cg_dir(void);
/* Master: make (if need be) the cgroup of worker INDEX and write its path
 * to BUF ("-" when off).  -1 (errno) if it cannot be made. */
int cg_worker_path(int index, char *buf, size_t size);
/* Master: kill whatever runs in worker INDEX's cgroup (it died). */
void cg_worker_lost(int index);
/* Master, at stop: kill every command cgroup, remove them and our
 * directory (waiting up to a second for the killed to go). */
void cg_teardown(void);

/* Worker: open PATH's cgroup.procs and cgroup.kill ("-": off).  -1
 * (errno) if PATH cannot be used. */
int cg_worker_open(const char *path);
/* Worker: the descriptor a command's child writes "0" to (-1: off). */
int cg_procs_fd(void);
/* Worker: kill everything in its commands' cgroup (nothing when off). */
void cg_kill(void);
/* A persistent command came (DELTA 1) or ended (-1) in this worker's
 * cgroup: while one lives, cg_kill() leaves the cgroup alone (it would kill
 * it too), and cg_kill_held() -- for a persistent command that ends --
 * kills it only if that one was alone there. */
void cg_hold(int delta);
void cg_kill_held(void);

#endif
