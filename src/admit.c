/*
 * admit.c - a file just come into its spool slot (claimed, or adopted from
 * a dead run) made the daemon's before it is queued (see admit.h): taken
 * over (spool_seal), or its private copy made beside the loop when others
 * may still write it, or refused (a hard link where anyone may link any
 * file, something swapped in during the claim).
 */
#include "admit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "copy.h"
#include "core.h"
#include "intake.h"
#include "log.h"
#include "outcome.h"
#include "stats.h"

#define SEAL_RETRY_MS   5000   /* a private copy that failed is tried again */
#define COPY_WAIT_MS    200    /* a job that must wait for a copy to end looks again */

/* Its private copy is made beside the loop; on_copied() goes on.  FD: the
 * claimed file, read-only (taken).  0, or -1 (FD closed). */
static int seal_copy(int s, int fd)
{
	struct job *j = JOB(s);
	struct drop *d = j->drop;
	struct copy_req r;

	memset(&r, 0, sizeof(r));
	spool_copy_name(s, r.name, sizeof(r.name));
	unlinkat(d->sp.workfd, r.name, 0);   /* left by a crash */
	r.id = (uint32_t)s;
	r.gen = j->gen = core_copy_gen();
	r.src = fd;
	r.dirfd = d->sp.workfd;
	r.gid = d->sp.gid;
	if (copy_submit(&r) < 0)
		return -1;
	job_event(core_jobs(), s, JE_COPY);
	return 0;
}

/* A hard link where anyone may link any file: not taken.  Its data stays
 * under its other name; failed/ gets a sidecar saying why. */
static void refuse_link(int s, int links)
{
	struct job *j = JOB(s);
	struct drop *d = j->drop;
	char ts[32], *text = NULL;
	time_t t = time(NULL);
	struct tm tm;
	int n;

	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* The link goes first, the sidecar and the log line last: whoever
	 * reacts to them finds the drop's file gone. */
	spool_discard(&d->sp, s, j->name);
	n = asprintf(&text, "file=%s\ndrop=%s\nattempts=0\nstatus=refused:hard-link\n"
		     "time=%s\nwhy: it has %d hard links and fs.protected_hardlinks is off, so "
		     "another name of it could be any file of the system; it was not taken (its "
		     "data stays under its other names)\n", log_q(j->name), d->cfg->name, ts,
		     links);
	if (n < 0 || outcome_sidecar(d, j->name, text, (size_t)n) < 0)
		log_err("event=sidecar-failed drop=%s file=%s error=%s", d->cfg->name,
			log_q(j->name), log_q(strerror(errno)));
	free(text);
	log_warn("event=refused drop=%s file=%s reason=hard-link links=%d", d->cfg->name,
		 log_q(j->name), links);
	d->st.failed++;
	stats_inc(STAT_FAILED);
	core_mark_failed();
	core_release(s);
}

/*
 * A file has just come into slot S (claimed, or adopted from a dead run):
 * make it the daemon's (spool_seal), then queue it -- or, if others may
 * still write it, queue its private copy once made.
 */
void admit(int s)
{
	struct job *j = JOB(s);
	struct drop *d = j->drop;
	int fd, links;

	switch (spool_seal(&d->sp, s, j->name, &fd, &links)) {
	case SEAL_OK:
		core_enqueue(s, JE_ADMIT);
		return;
	case SEAL_COPY:
		if (jobs_copies(core_jobs()) >= COPIES_MAX) {
			/* Each copy holds descriptors: a burst waits its turn. */
			close(fd);
			core_wait(s, JE_SEAL_WAIT, COPY_WAIT_MS);
			return;
		}
		log_debug("event=copying drop=%s file=%s links=%d", d->cfg->name,
			  log_q(j->name), links);
		if (seal_copy(s, fd) < 0) {
			log_err("event=copy-failed drop=%s file=%s error=%s retry_ms=%d",
				d->cfg->name, log_q(j->name), log_q(strerror(errno)),
				SEAL_RETRY_MS);
			core_wait(s, JE_SEAL_WAIT, SEAL_RETRY_MS);
		}
		return;
	case SEAL_LINKED:
		refuse_link(s, links);
		return;
	case SEAL_ERROR:
		/* Not a verdict on the file (out of descriptors, say): it
		 * stays in the spool and is looked at again. */
		log_err("event=seal-failed drop=%s file=%s error=%s retry_ms=%d", d->cfg->name,
			log_q(j->name), log_q(strerror(errno)), SEAL_RETRY_MS);
		core_wait(s, JE_SEAL_WAIT, SEAL_RETRY_MS);
		return;
	case SEAL_NOT_REGULAR:
		/* Swapped for something else (a symlink, say) between the
		 * check and the claim: nothing to process, nothing to keep. */
		intake_skipped(d, j->name, "changed-during-claim");
		if (spool_discard(&d->sp, s, j->name) < 0)
			log_err("event=discard-failed drop=%s file=%s error=%s", d->cfg->name,
				log_q(j->name), log_q(strerror(errno)));
		core_release(s);
		return;
	}
}

void admit_copied(int s, int err)
{
	struct job *j = JOB(s);
	struct drop *d = j->drop;

	if (!err && spool_sealed(&d->sp, s, j->name) == 0) {
		core_enqueue(s, JE_COPIED);
		return;
	}
	log_err("event=copy-failed drop=%s file=%s error=%s retry_ms=%d", d->cfg->name,
		log_q(j->name), log_q(strerror(err ? err : errno)), SEAL_RETRY_MS);
	core_wait(s, JE_SEAL_WAIT, SEAL_RETRY_MS);
}
