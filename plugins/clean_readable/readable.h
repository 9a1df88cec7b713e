/* clean_readable: shared between the stage (readable.c) and `feedmill extract`. */
#ifndef FM_CLEAN_READABLE_H
#define FM_CLEAN_READABLE_H

#include <stdbool.h>
#include <stdint.h>

#include <feedmill/plugin.h>

#include "extract.h"

/* The option table lands here (see readable.c for the documentation of each). */
struct rd_config {
	uint64_t max_html_size;
	int64_t max_depth;
	int64_t max_nodes;
	int64_t min_words;
	double max_link_density;
	bool learn;
	int64_t learn_sources;
	int64_t learn_entries;
	int64_t learn_min_docs;
	int64_t learn_window;
	int64_t threads;
};

void rd_limits_from_config(const struct rd_config *c, struct rd_limits *lim);

/* `feedmill extract` (extract_cmd.c). */
int rd_extract_run(const fm_host *host, fm_instance *inst, const void *config, int argc,
                   char **argv);

#endif
