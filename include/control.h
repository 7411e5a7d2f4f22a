/*
 * control.h - the control socket (owned by src/control.c): seawatchctl's
 * way in.  A Unix stream socket, mode 0660, whose group is its directory's;
 * only root, the daemon's own user and members of the socket's group
 * are served (SO_PEERCRED, SO_PEERGROUPS).  One request and
 * one reply per connection, served from the loop without ever blocking it:
 * a client that sends nothing, too much or garbage, or goes away
 * mid-reply, costs a slot among CONTROL_CLIENTS and a deadline, no more.
 *
 * Request: the words of the command, each ended by a NUL, then the end of
 * the client's writing (shutdown SHUT_WR); or, for a person with socat,
 * one line of words separated by spaces.  Reply: "ok", "error" or "usage"
 * on the first line, then the text (status, or what went wrong).
 */
#ifndef SW_CONTROL_H
#define SW_CONTROL_H

/* seawatchctl's socket when not told (the shipped config's). */
#define CONTROL_SOCKET_DEFAULT "/run/seawatch/control.sock"

#define CONTROL_CLIENTS 16
#define CONTROL_REQUEST_MAX 65536   /* bytes; more is refused */
#define CONTROL_READ_MS 5000        /* the whole request within */
#define CONTROL_WRITE_MS 10000      /* the whole reply taken within */

/* Bind the config's control_socket (if set).  0, or -1 (logged: another
 * live daemon serves it, its directory is unsafe, ...): the start fails. */
int control_open(void);
/* After a reload: a changed path takes a restart (said). */
void control_reconfigured(void);
/* Stop serving; the socket is removed. */
void control_close(void);

#endif
