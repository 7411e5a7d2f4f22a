/*
 * compat.h - the few Linux calls a C library may not wrap: glibc before
 * 2.34 has no close_range(), musl (OpenWrt) neither that nor renameat2().
 * Where the library lacks one, the system call is made directly (the
 * kernel has had both since 5.9 and 3.15).
 */
#ifndef SW_COMPAT_H
#define SW_COMPAT_H

#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#if !defined(__GLIBC__) || !(__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
static inline int sw_close_range(unsigned first, unsigned last, int flags)
{
#ifdef SYS_close_range
	return (int)syscall(SYS_close_range, first, last, flags);
#else
	(void)first; (void)last; (void)flags;
	return -1;   /* the callers close one by one */
#endif
}
#define close_range sw_close_range
#endif

#if !defined(__GLIBC__) || !(__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 28))
static inline int sw_renameat2(int olddir, const char *old, int newdir, const char *new_,
			       unsigned flags)
{
	return (int)syscall(SYS_renameat2, olddir, old, newdir, new_, flags);
}
#define renameat2 sw_renameat2
#endif

#endif
