/*
 * pool.h - worker processes (owned by src/pool.c): started by fork and
 * exec of the small seawatch-worker (never code run in a child forked
 * from the threaded master), hello, respawned at most once a second,
 * reaped with their exit status (event=worker-died how=...), the extra
 * ones retired after a reload, all stopped at the end.
 */
#ifndef SW_POOL_H
#define SW_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Find the worker binary and hold it open.  0, or -1 (errno). */
int pool_init(void);
/* N workers: spawn the missing, retire the extra once idle. */
void pool_resize(int n);
/* Worker slots (the configured count, or more while extras retire). */
int pool_size(void);
/* Up, said hello, and not an extra being retired: it may get jobs. */
int pool_usable(int wi);
pid_t pool_pid(int wi);
/* One message to worker WI.  0, or -1 (it is gone: its end will be seen). */
int pool_send(int wi, const void *buf, size_t len);
/* Worker WI gets (FD >= 0) or forgets (FD -1) attempts table ID. */
void pool_send_spool(int wi, uint32_t id, int fd);
/* Make a busy worker read its socket now (SIGURG). */
void pool_ring(int wi);
/* A worker that stopped answering: killed (SIGKILL). */
void pool_kill(int wi);
/* Stop worker WI's command now (SIGUSR2): the grace is over. */
void pool_abort(int wi);
/* Retire the extra workers that are idle. */
void pool_retire_idle(void);
/* The SIGCHLD reaper's news. */
void pool_reaped(pid_t pid, int wstatus);
/* --once gave up: workers die before they say hello (exit 3). */
int pool_gave_up(void);
/* Close every socket and wait (up to 3 s, woken by SIGCHLD through the
 * master's SIGFD) for the workers to go; then the pool is empty. */
void pool_stop(int sigfd);

#endif
