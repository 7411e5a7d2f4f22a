/*
 * admit.h - from a claimed file to a queued job (owned by src/admit.c):
 * the file taken over from its uploader, or its private copy made first,
 * or refused.
 */
#ifndef SW_ADMIT_H
#define SW_ADMIT_H

/* Take job S (JS_NEW) over: into the queue, or its private copy first. */
void admit(int s);
/* The private copy of job S (JS_COPYING) ended (ERR 0: made). */
void admit_copied(int s, int err);

#endif
