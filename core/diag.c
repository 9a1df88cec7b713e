#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void fm_diag_add(struct fm_diag *d, const char *file, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	char *text = NULL;
	int rc;
	if (file && line > 0)
		rc = asprintf(&text, "%s:%d: %s", file, line, msg);
	else if (file)
		rc = asprintf(&text, "%s: %s", file, msg);
	else
		rc = asprintf(&text, "%s", msg);
	if (rc < 0)
		return;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		char **p = realloc(d->lines, cap * sizeof(*p));
		if (!p) {
			free(text);
			return;
		}
		d->lines = p;
		d->cap = cap;
	}
	d->lines[d->n++] = text;
}

void fm_diag_print(const struct fm_diag *d, FILE *out)
{
	for (size_t i = 0; i < d->n; i++)
		fprintf(out, "%s\n", d->lines[i]);
}

void fm_diag_free(struct fm_diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->lines[i]);
	free(d->lines);
	memset(d, 0, sizeof(*d));
}
