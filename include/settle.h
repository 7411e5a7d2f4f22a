/*
 * settle.h - files that wait to settle (owned by src/settle.c): a drop with
 * `settle` takes a file only once it was closed or renamed in and then
 * left unchanged for that long.  Each waiting file has a deadline on the
 * loop's timers (no polling of every file) and the signature it had when
 * last seen; a new close or rename restarts its clock.  At most SETTLE_MAX
 * files wait at once, over every drop: beyond that, the drop is scanned
 * again later (nothing is lost, files wait in the drop).
 */
#ifndef SW_SETTLE_H
#define SW_SETTLE_H

#include <stdint.h>
#include <sys/types.h>

#define SETTLE_MAX 4096

struct drop;

/* What "unchanged" compares. */
struct settle_sig {
	int64_t mtime_ns, ctime_ns;
	off_t size;
	ino_t ino;
};

/* FN(drop, name, sig) when a file's deadline comes (it is no longer
 * waiting then). */
void settle_on_due(void (*fn)(struct drop *d, const char *name, const struct settle_sig *sig));
/* NAME of D waits until AT (sys_now_ms() time), as seen with SIG; if it
 * waited already, its clock restarts.  0, or -1 (SETTLE_MAX files wait, or
 * out of memory). */
int settle_wait(struct drop *d, const char *name, const struct settle_sig *sig, int64_t at);
/* NAME of D waits to settle. */
int settle_waiting(const struct drop *d, const char *name);
/* Files of D waiting (status). */
unsigned settle_count(const struct drop *d);
/* D goes (or stops settling): its files no longer wait. */
void settle_forget(struct drop *d);

#endif
