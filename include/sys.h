/*
 * sys.h - the few system calls the master's process logic makes (owned by
 * src/sys.c), in one place so that a unit test can link its own twins and
 * drive that logic in-process on a fake clock (as dinit's baseproc-sys.h).
 */
#ifndef SW_SYS_H
#define SW_SYS_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

int64_t sys_now_ms(void);                     /* CLOCK_MONOTONIC, ms */
int64_t sys_unix_ms(void);                    /* CLOCK_REALTIME, ms (the vDSO's: no system call) */
ssize_t sys_send(int fd, const void *buf, size_t len);   /* MSG_NOSIGNAL */
int sys_kill(pid_t pid, int sig);
pid_t sys_waitpid(pid_t pid, int *wstatus, int options);
int sys_poll(struct pollfd *fds, nfds_t n, int timeout_ms);

#endif
