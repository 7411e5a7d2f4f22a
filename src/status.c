/*
 * status.c - seawatchctl status (see status.h).
 */
#include "status.h"

#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "drop.h"
#include "pool.h"
#include "settle.h"
#include "stats.h"
#include "sys.h"

static int64_t started_ms;

void status_started(void)
{
	started_ms = sys_now_ms();
}

const char *status_drop_state(const struct drop *d)
{
	if (d->retiring)
		return "removed";
	if (d->lost || !d->open)
		return "lost";
	if (d->disk_low)
		return "disk-low";
	if (d->paused)
		return "paused";
	return "running";
}

/* T (Unix time) as 2026-12-01T14:00:00Z, or "-" for 0. */
static const char *iso(double t, char *buf, size_t sz)
{
	time_t s = (time_t)t;
	struct tm tm;

	if (t <= 0 || !gmtime_r(&s, &tm) || !strftime(buf, sz, "%Y-%m-%dT%H:%M:%SZ", &tm))
		return "-";
	return buf;
}

static void text(struct sbuf *b, int64_t up, int busy, int total)
{
	char ts[32];

	sbuf_put(b, "seawatchd %s, pid %ld, up %lldd %02lld:%02lld:%02lld\n", SW_VERSION,
		 (long)getpid(), (long long)(up / 86400), (long long)(up / 3600 % 24),
		 (long long)(up / 60 % 60), (long long)(up % 60));
	sbuf_put(b, "workers: %d busy of %d\n", busy, total);
	for (struct drop *d = drops_first(); d; d = d->next) {
		struct sw_gauges g;

		core_drop_gauges(d, &g);
		sbuf_put(b, "drop %s: %s\n", d->cfg->name, status_drop_state(d));
		sbuf_put(b, "  queued %d, running %d, waiting for a retry %d", g.queued, g.running,
			 g.retrying);
		if (d->cfg->settle_ms)
			sbuf_put(b, ", settling %u", settle_count(d));
		sbuf_put(b, "\n");
		sbuf_put(b, "  since start: done %llu, failed %llu, retried %llu, skipped %llu\n",
			 d->st.done, d->st.failed, d->st.retried, d->st.skipped);
		if (d->st.last_fail[0])
			sbuf_put(b, "  last failure: %s (%s%s%s) at %s\n", d->st.last_fail,
				 d->st.last_fail_status, d->st.last_fail_reason[0] ? ", " : "",
				 d->st.last_fail_reason,
				 iso(d->st.last_fail_time, ts, sizeof(ts)));
	}
}

static void json(struct sbuf *b, int64_t up, int busy, int total)
{
	char ts[32];
	const char *sep = "";

	sbuf_put(b, "{\"version\":\"%s\",\"pid\":%ld,\"uptime_seconds\":%lld,"
		 "\"workers\":{\"busy\":%d,\"total\":%d},\"drops\":[", SW_VERSION,
		 (long)getpid(), (long long)up, busy, total);
	for (struct drop *d = drops_first(); d; d = d->next, sep = ",") {
		struct sw_gauges g;

		core_drop_gauges(d, &g);
		sbuf_put(b, "%s{\"name\":", sep);
		sbuf_json(b, d->cfg->name);
		sbuf_put(b, ",\"state\":\"%s\",\"queued\":%d,\"running\":%d,\"retrying\":%d,"
			 "\"settling\":%u,"
			 "\"done\":%llu,\"failed\":%llu,\"retried\":%llu,\"skipped\":%llu,"
			 "\"last_failure\":", status_drop_state(d), g.queued, g.running,
			 g.retrying, settle_count(d), d->st.done, d->st.failed, d->st.retried, d->st.skipped);
		if (!d->st.last_fail[0]) {
			sbuf_put(b, "null}");
			continue;
		}
		sbuf_put(b, "{\"file\":");
		sbuf_json(b, d->st.last_fail);
		sbuf_put(b, ",\"status\":");
		sbuf_json(b, d->st.last_fail_status);
		sbuf_put(b, ",\"reason\":");
		sbuf_json(b, d->st.last_fail_reason[0] ? d->st.last_fail_reason : "-");
		sbuf_put(b, ",\"time\":\"%s\"}}", iso(d->st.last_fail_time, ts, sizeof(ts)));
	}
	sbuf_put(b, "]}\n");
}

void status_render(struct sbuf *b, int as_json)
{
	struct sw_gauges g;
	int64_t up = (sys_now_ms() - started_ms) / 1000;

	core_gauges(&g);
	if (as_json)
		json(b, up, g.running, pool_size());
	else
		text(b, up, g.running, pool_size());
}
