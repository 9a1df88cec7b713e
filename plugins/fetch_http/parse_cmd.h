/* `feedmill parse [--base URL] FILE...`: the feed parser as a command. */
#ifndef FM_FETCH_HTTP_PARSE_CMD_H
#define FM_FETCH_HTTP_PARSE_CMD_H

#include <feedmill/plugin.h>

/* The command entry (name "parse"); plugin.c lists it in the descriptor's command table. */
extern const struct fm_command fm_fetch_http_parse_cmd;

/* Its run function, for a command table built as a static initializer. */
int fm_fetch_http_parse_run(const fm_host *host, fm_instance *inst, const void *config, int argc,
                            char **argv);

#define FM_FETCH_HTTP_PARSE_USAGE "parse [--base URL] FILE..."
#define FM_FETCH_HTTP_PARSE_SUMMARY "parse feed files to JSON Lines (one object per file)"

#endif
