/*
 * guard.h - the disk guard (owned by src/guard.c): a drop whose file
 * systems (the drop and its spool, done/, failed/) have less free space
 * than min_free stops claiming (event=disk-low, status disk-low), and
 * claims again once there is 10% more than the limit (event=disk-ok).
 * Running jobs are not disturbed.  Checked cheaply: a few fstatvfs() on
 * held descriptors, at most once a second per drop, and only when the drop
 * would claim (an idle daemon checks nothing); while a drop is low, again
 * every GUARD_RECHECK_MS; and before a copy to done/ or failed/ on another
 * file system.  One log line per change of state, not one per file.
 */
#ifndef SW_GUARD_H
#define SW_GUARD_H

#define GUARD_RECHECK_MS 5000

struct drop;

/* D may not claim now: too little space (looked at again if the last look
 * is a second old). */
int guard_blocked(struct drop *d);
/* A copy of the file SRCFD into the directory DESTFD leaves its file system
 * above min_free (the look before a big copy).  1 if so, or if it cannot
 * be known. */
int guard_room(int destfd, int srcfd);
/* D goes: its recheck timer stops. */
void guard_forget(struct drop *d);

#endif
