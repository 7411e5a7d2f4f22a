/*
 * sys.c - the master's process logic's system calls (see sys.h).
 */
#include "sys.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

int64_t sys_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sys_unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

ssize_t sys_send(int fd, const void *buf, size_t len)
{
	return send(fd, buf, len, MSG_NOSIGNAL);
}

int sys_kill(pid_t pid, int sig)
{
	return kill(pid, sig);
}

pid_t sys_waitpid(pid_t pid, int *wstatus, int options)
{
	return waitpid(pid, wstatus, options);
}

int sys_poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	return poll(fds, n, timeout_ms);
}
