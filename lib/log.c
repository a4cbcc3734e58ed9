#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *log_name;
static enum log_level log_level = LOG_LVL_INFO;

static const char *const log_names[] = {
    [LOG_LVL_ERROR] = "error",
    [LOG_LVL_WARN] = "warning",
    [LOG_LVL_INFO] = "info",
    [LOG_LVL_DEBUG] = "debug",
};

void
log_init(const char *name, enum log_level level)
{
	log_name = name;
	log_level = level;
}

void
log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level
log_get_level(void)
{
	return log_level;
}

const char *
log_level_name(enum log_level level)
{
	if ((unsigned)level > LOG_LVL_DEBUG)
		return "?";
	return log_names[level];
}

int
log_level_parse(const char *s, enum log_level *out)
{
	static const char *const alias[] = {"error", "warn", "info", "debug"};

	for (int i = 0; i <= LOG_LVL_DEBUG; i++) {
		if (strcmp(s, log_names[i]) == 0 || strcmp(s, alias[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

static size_t
log_stamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	n +=
	    (size_t)snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
	return n;
}

/* One write(2) per line so that lines from several threads never mix. */
static void
log_write(const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(STDERR_FILENO, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

void
log_line_from(const char *name, const char *line, size_t len)
{
	char buf[4096];
	size_t n;

	n = log_stamp(buf, sizeof(buf));
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, " [%s] ", name);
	if (len > sizeof(buf) - n - 1)
		len = sizeof(buf) - n - 1;
	memcpy(buf + n, line, len);
	n += len;
	buf[n++] = '\n';
	log_write(buf, n);
}

void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char buf[4096];
	size_t n = 0;
	int r;

	if (level > log_level)
		return;
	if (log_name != NULL) {
		n = log_stamp(buf, sizeof(buf));
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, " [%s] ",
		                      log_name);
	}
	n += (size_t)snprintf(buf + n, sizeof(buf) - n,
	                      "%s: ", log_level_name(level));
	r = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	if (r < 0)
		r = 0;
	n += (size_t)r;
	if (n > sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	buf[n++] = '\n';
	log_write(buf, n);
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
