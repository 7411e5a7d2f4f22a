/*
 * notify.h - the service manager's notification socket (owned by
 * src/notify.c): systemd's sd_notify protocol, one datagram per message,
 * written by hand (it is that small).  Without NOTIFY_SOCKET every call
 * is a no-op.
 */
#ifndef SW_NOTIFY_H
#define SW_NOTIFY_H

/* Read NOTIFY_SOCKET (a path, or "@name" for an abstract socket) and
 * WATCHDOG_USEC / WATCHDOG_PID, and take them out of the environment so
 * that no worker or command inherits them.  The watchdog, if asked for,
 * pings from the loop every half of its period. */
void notify_init(void);
/* READY=1 with the current STATUS= (every drop is watched by now). */
void notify_ready(void);
/* RELOADING=1 with MONOTONIC_USEC= (a SIGHUP's reload begins). */
void notify_reloading(void);
void notify_stopping(void);
/* The counters changed: STATUS= is sent again, at most once a second. */
void notify_changed(void);
/* The one-line summary STATUS= carries, into BUF. */
void notify_status_line(char *buf, unsigned size);
void notify_free(void);

#endif
