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
		struct fm_diag_entry *p = realloc(d->e, cap * sizeof(*p));
		if (!p) {
			free(text);
			return;
		}
		d->e = p;
		d->cap = cap;
	}
	d->e[d->n] = (struct fm_diag_entry){text, file ? strdup(file) : NULL, line, d->n};
	d->n++;
}

static int by_place(const void *a, const void *b)
{
	const struct fm_diag_entry *x = a, *y = b;
	/* Problems without a place (a plugin's own) come last. */
	if (!x->file != !y->file)
		return x->file ? -1 : 1;
	int c = x->file ? strcmp(x->file, y->file) : 0;
	if (c)
		return c;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void fm_diag_print(struct fm_diag *d, FILE *out)
{
	if (d->n > 1)
		qsort(d->e, d->n, sizeof(*d->e), by_place);
	for (size_t i = 0; i < d->n; i++)
		fprintf(out, "%s\n", d->e[i].text);
}

void fm_diag_free(struct fm_diag *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->e[i].text);
		free(d->e[i].file);
	}
	free(d->e);
	memset(d, 0, sizeof(*d));
}
