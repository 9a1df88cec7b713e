/* Diagnostics collected while reading configuration: every problem, as FILE:LINE: message. */
#ifndef FM_CORE_DIAG_H
#define FM_CORE_DIAG_H

#include <stdio.h>

#include <feedmill/host.h>

struct fm_diag_entry {
	char *text; /* "FILE:LINE: message" */
	char *file;
	int line;
	size_t seq; /* order of discovery, to keep ties stable */
};

struct fm_diag {
	struct fm_diag_entry *e;
	size_t n, cap;
};

/* Record a problem. file may be NULL (then no location); line 0 means the file as a whole. */
void fm_diag_add(struct fm_diag *d, const char *file, int line, const char *fmt, ...)
	FM_PRINTF(4, 5);
/* Print every entry, ordered by file and line. */
void fm_diag_print(struct fm_diag *d, FILE *out);
void fm_diag_free(struct fm_diag *d);

#endif
