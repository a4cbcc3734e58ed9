/*
 * Logging for every probed process.
 *
 * The supervisor writes whole lines to its stderr:
 *   2026-11-22T03:10:00.123Z [supervisor] info: message
 * A worker writes "level: message" lines to its stderr, which is a pipe the
 * supervisor owns; the supervisor adds the time stamp and "[name]" in front.
 * One failure is logged once, where it is first seen, naming the call and
 * the reason: log_err("mmap(%zu) failed: %s", len, strerror(errno)).
 */
#ifndef PROBED_LOG_H
#define PROBED_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

/* name NULL: worker format (no stamp, no name); else full supervisor lines. */
void log_init(const char *name, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
int log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap);

/* Writes one already formatted line from process "name" with a stamp. */
void log_line_from(const char *name, const char *line, size_t len);

#define log_err(...)   log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
