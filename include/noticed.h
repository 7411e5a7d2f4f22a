/*
 * noticed.h - files whose close or move-in was seen while no more could be
 * claimed (owned by src/noticed.c): one FIFO over every drop, in the order
 * the events came, at most queue_size long.  The master claims only what
 * its workers are about to take (core_room()); the rest of a burst waits
 * here by name and is claimed in arrival order as workers free up, if its
 * signature has not changed since its event and nobody has it open for
 * writing again (src/intake.c decides; a file that fails either is left to
 * a scan or to its next close).  Beyond the bound, a drop is scanned later
 * instead (nothing is lost: the files wait in the drop).
 * Pure: no system calls.
 */
#ifndef SW_NOTICED_H
#define SW_NOTICED_H

#include <stddef.h>

#include "settle.h"

struct drop;

/* NAME of D, seen as SIG.  0, or -1 (CAP files wait already, or out of
 * memory). */
int noticed_push(struct drop *d, const char *name, const struct settle_sig *sig, unsigned cap);
/* The oldest: its drop, name (into NAME, SZ bytes) and signature.  1 if
 * there was one. */
int noticed_pop(struct drop **d, char *name, size_t sz, struct settle_sig *sig);
/* Files of D waiting here (D NULL: every drop's). */
unsigned noticed_count(const struct drop *d);
/* D goes: its files no longer wait here (they are still in the drop). */
void noticed_forget(const struct drop *d);

#endif
