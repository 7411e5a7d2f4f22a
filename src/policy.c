/*
 * policy.c - attempts, backoff and exit status -> done / retry / failed.
 * No system calls: the master feeds it numbers and acts on the verdict.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "policy.h"

enum verdict policy_decide(const struct sw_drop *d, int attempt,
			   enum st_kind kind, int code)
{
	int i;

	switch (kind) {
	case ST_EXIT:
		if (code == 0)
			return V_DONE;
		for (i = 0; i < d->n_no_retry; i++)
			if (d->no_retry[i] == code)
				return V_FAILED;
		break;
	case ST_CRASHED:
	case ST_NOT_REGULAR:
		return V_FAILED;
	default:
		break;
	}
	return attempt <= d->retries ? V_RETRY : V_FAILED;
}

const char *policy_fail_reason(const struct sw_drop *d, enum st_kind kind, int code)
{
	if (kind == ST_CRASHED)
		return "crashed";
	if (kind == ST_NOT_REGULAR)
		return "not-regular";
	if (kind == ST_EXIT)
		for (int i = 0; i < d->n_no_retry; i++)
			if (d->no_retry[i] == code)
				return "no_retry";
	return "retries-exhausted";
}

int64_t policy_backoff_ms(const struct sw_drop *d, int attempt, uint32_t rnd)
{
	int64_t delay = d->backoff_ms;
	double jitter;
	int i;

	for (i = 1; i < attempt && delay < d->backoff_max_ms; i++)
		delay *= 2;
	if (delay > d->backoff_max_ms)
		delay = d->backoff_max_ms;
	/* 0.8 .. 1.2 */
	jitter = 0.8 + 0.4 * ((double)rnd / (double)UINT32_MAX);
	delay = (int64_t)((double)delay * jitter + 0.5);
	if (delay > d->backoff_max_ms)
		delay = d->backoff_max_ms;
	return delay < 0 ? 0 : delay;
}

static const char *signame(int sig, char *buf, size_t n)
{
#ifdef __GLIBC__
	const char *s = sigabbrev_np(sig);

	if (s) {
		snprintf(buf, n, "SIG%s", s);
		return buf;
	}
#endif
	snprintf(buf, n, "%d", sig);
	return buf;
}

static const char *errname(int err, char *buf, size_t n)
{
#ifdef __GLIBC__
	const char *s = strerrorname_np(err);

	if (s) {
		snprintf(buf, n, "%s", s);
		return buf;
	}
#endif
	snprintf(buf, n, "%d", err);
	return buf;
}

const char *policy_status(enum st_kind kind, int code, char *buf, size_t n)
{
	char tmp[32];

	switch (kind) {
	case ST_EXIT:
		snprintf(buf, n, "exit:%d", code);
		break;
	case ST_SIGNAL:
		snprintf(buf, n, "signal:%s", signame(code, tmp, sizeof(tmp)));
		break;
	case ST_TIMEOUT:
		snprintf(buf, n, "timeout");
		break;
	case ST_EXEC:
		snprintf(buf, n, "exec:%s", errname(code, tmp, sizeof(tmp)));
		break;
	case ST_WORKER_DIED:
		snprintf(buf, n, "worker-died");
		break;
	case ST_CRASHED:
		snprintf(buf, n, "crashed");
		break;
	case ST_NOT_REGULAR:
		snprintf(buf, n, "not-regular");
		break;
	case ST_ABORTED:
		snprintf(buf, n, "aborted");
		break;
	case ST_SPAWN:
		snprintf(buf, n, "spawn:%s", errname(code, tmp, sizeof(tmp)));
		break;
	case ST_PROTOCOL:
		snprintf(buf, n, "protocol-error");
		break;
	case ST_LOST:
		if (WIFSIGNALED(code))
			snprintf(buf, n, "command-died:%s", signame(WTERMSIG(code), tmp, sizeof(tmp)));
		else
			snprintf(buf, n, "command-exited:%d", WEXITSTATUS(code));
		break;
	}
	return buf;
}

const char *policy_wait_status(int wstatus, char *buf, size_t n)
{
	char tmp[32];

	if (WIFEXITED(wstatus))
		snprintf(buf, n, "exit:%d", WEXITSTATUS(wstatus));
	else if (WIFSIGNALED(wstatus))
		snprintf(buf, n, "signal:%s%s", signame(WTERMSIG(wstatus), tmp, sizeof(tmp)),
			 WCOREDUMP(wstatus) ? " core=dumped" : "");
	else
		snprintf(buf, n, "unknown:%d", wstatus);
	return buf;
}
