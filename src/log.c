/*
 * log.c - key=value log lines to stderr or syslog.
 *
 * Lines go out in one write(2) each, so that master and workers, which share
 * stderr, never interleave within a line.  Under systemd (JOURNAL_STREAM set)
 * no timestamp is added: the journal has its own.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <paths.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static enum sw_log_target log_target = SW_LOG_STDERR;
static enum sw_log_level log_level = SW_LOG_INFO;
static int log_stamp = 1;
static const char *log_ident = "seawatchd";
static long log_pid;   /* getpid() is a system call: once per process */

static const char *const level_names[] = { "error", "warning", "info", "debug" };

/* syslog(3) drops every line, silently, when nothing listens on /dev/log:
 * then the lines stay on stderr (said once, on stderr, when TELL).  Looked
 * at once per process: a worker asks at every job. */
static enum sw_log_target usable(enum sw_log_target target, int tell)
{
	static int checked, missing, told;
	struct stat st;

	if (target != SW_LOG_SYSLOG)
		return target;
	if (!checked) {
		missing = stat(_PATH_LOG, &st) < 0 || !S_ISSOCK(st.st_mode);
		checked = 1;
	}
	if (!missing)
		return target;
	if (tell && !told) {
		char line[256];
		int n = snprintf(line, sizeof(line), "%s[%ld]: level=warning event=syslog-unavailable "
				 "path=%s action=stderr\n", log_ident, (long)getpid(), _PATH_LOG);

		if (n > 0 && write(STDERR_FILENO, line, (size_t)n) < 0) {
			/* Nowhere else to say it. */
		}
		told = 1;
	}
	return SW_LOG_STDERR;
}

void log_set_target(enum sw_log_target target)
{
	target = usable(target, 0);
	if (target == log_target)
		return;
	if (log_target == SW_LOG_SYSLOG)
		closelog();
	if (target == SW_LOG_SYSLOG)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_target = target;
}

void log_open(enum sw_log_target target, enum sw_log_level level,
	      const char *ident)
{
	if (ident)
		log_ident = ident;
	log_stamp = getenv("JOURNAL_STREAM") == NULL;
	log_pid = (long)getpid();
	log_set_target(usable(target, 1));
	log_level = level;
}

void log_set_level(enum sw_log_level level)
{
	log_level = level;
}

enum sw_log_level log_get_level(void)
{
	return log_level;
}

void log_close(void)
{
	if (log_target == SW_LOG_SYSLOG)
		closelog();
	log_target = SW_LOG_STDERR;
}

void log_msg(enum sw_log_level level, const char *fmt, ...)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char line[2048];
	size_t n = 0;
	va_list ap;
	int saved = errno;

	if (level > log_level)
		return;
	if (log_target == SW_LOG_STDERR && log_stamp) {
		struct timespec ts;
		struct tm tm;

		if (!log_pid)
			log_pid = (long)getpid();
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %s[%ld]: ",
				      ts.tv_nsec / 1000000L, log_ident, log_pid);
	}
	n += (size_t)snprintf(line + n, sizeof(line) - n, "level=%s ",
			      level_names[level]);
	va_start(ap, fmt);
	if (n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	n = strlen(line);
	if (log_target == SW_LOG_SYSLOG) {
		syslog(prio[level], "%s", line);
	} else {
		if (n > sizeof(line) - 2)
			n = sizeof(line) - 2;
		line[n++] = '\n';
		/* One write: lines from several processes do not interleave. */
		while (write(STDERR_FILENO, line, n) < 0 && errno == EINTR)
			;
	}
	errno = saved;
}

static int plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("._,:/@+-", c) != NULL;
}

char *log_esc(char *dst, size_t dstsz, const char *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;
	int quote = len == 0;

	for (i = 0; i < len && !quote; i++)
		quote = !plain((unsigned char)src[i]);
	if (dstsz < 8) {
		if (dstsz)
			dst[0] = '\0';
		return dst;
	}
	if (quote)
		dst[o++] = '"';
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];
		char e[5];
		size_t el = 0;

		if (c == '"' || c == '\\') {
			e[el++] = '\\';
			e[el++] = (char)c;
		} else if (c == '\n') {
			e[el++] = '\\';
			e[el++] = 'n';
		} else if (c == '\t') {
			e[el++] = '\\';
			e[el++] = 't';
		} else if (c < 0x20 || c >= 0x7f) {
			e[el++] = '\\';
			e[el++] = 'x';
			e[el++] = hex[c >> 4];
			e[el++] = hex[c & 15];
		} else {
			e[el++] = (char)c;
		}
		/* Keep room for "...", the closing quote and the NUL. */
		if (o + el + 5 > dstsz) {
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(dst + o, e, el);
		o += el;
	}
	if (quote)
		dst[o++] = '"';
	dst[o] = '\0';
	return dst;
}

const char *log_q(const char *s)
{
	static char bufs[4][1100];
	static unsigned slot;
	char *b = bufs[slot++ % 4];

	return log_esc(b, sizeof(bufs[0]), s, strlen(s));
}
