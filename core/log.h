/* Logging: journald-friendly lines ("<3>[stage:plugin#0] message") on stderr. */
#ifndef FM_CORE_LOG_H
#define FM_CORE_LOG_H

#include <stdarg.h>

#include <feedmill/host.h>

void fm_log_set_level(int level);
int fm_log_get_level(void);
/* Parse "err|warn|notice|info|debug" (or 3..7); returns -1 when unknown. */
int fm_log_level_parse(const char *s);
void fm_logv(const char *prefix, int level, const char *fmt, va_list ap);
void fm_logf(const char *prefix, int level, const char *fmt, ...) FM_PRINTF(3, 4);

#define fm_core_log(lvl, ...)                                                                     \
	do {                                                                                     \
		if (fm_log_get_level() >= (lvl))                                                 \
			fm_logf(NULL, (lvl), __VA_ARGS__);                                       \
	} while (0)
#define log_err(...) fm_core_log(FM_LOG_ERR, __VA_ARGS__)
#define log_warn(...) fm_core_log(FM_LOG_WARN, __VA_ARGS__)
#define log_notice(...) fm_core_log(FM_LOG_NOTICE, __VA_ARGS__)
#define log_info(...) fm_core_log(FM_LOG_INFO, __VA_ARGS__)
#define log_debug(...) fm_core_log(FM_LOG_DEBUG, __VA_ARGS__)

#endif
