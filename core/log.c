#include "log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static atomic_int log_level = FM_LOG_NOTICE;

void fm_log_set_level(int level)
{
	atomic_store(&log_level, level);
}

int fm_log_get_level(void)
{
	return atomic_load(&log_level);
}

int fm_log_level_parse(const char *s)
{
	static const struct {
		const char *name;
		int level;
	} names[] = {
		{"err", FM_LOG_ERR},   {"error", FM_LOG_ERR}, {"warn", FM_LOG_WARN},
		{"warning", FM_LOG_WARN}, {"notice", FM_LOG_NOTICE}, {"info", FM_LOG_INFO},
		{"debug", FM_LOG_DEBUG},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(s, names[i].name) == 0)
			return names[i].level;
	if (s[0] >= '3' && s[0] <= '7' && s[1] == '\0')
		return s[0] - '0';
	return -1;
}

void fm_logv(const char *prefix, int level, const char *fmt, va_list ap)
{
	/* One write per line so concurrent threads and processes do not interleave. */
	char line[2048];
	int n = snprintf(line, sizeof(line), "<%d>%s%s%s", level, prefix ? "[" : "",
	                 prefix ? prefix : "", prefix ? "] " : "");
	if (n < 0)
		return;
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len >= sizeof(line) - 1)
		len = sizeof(line) - 2;
	/* A message must stay on one line for journald: fold embedded newlines. */
	for (size_t i = (size_t)n; i < len; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[len++] = '\n';
	fwrite(line, 1, len, stderr);
	fflush(stderr);
}

void fm_logf(const char *prefix, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fm_logv(prefix, level, fmt, ap);
	va_end(ap);
}
