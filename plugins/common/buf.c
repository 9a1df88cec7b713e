#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *fm_buf_reserve(struct fm_buf *b, size_t n)
{
	if (b->oom)
		return NULL;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->len + n + 1) {
			if (cap > ((size_t)-1) / 2) {
				b->oom = true;
				return NULL;
			}
			cap *= 2;
		}
		char *p = realloc(b->data, cap);
		if (!p) {
			b->oom = true;
			return NULL;
		}
		b->data = p;
		b->cap = cap;
	}
	return b->data + b->len;
}

void fm_buf_append(struct fm_buf *b, const char *s, size_t n)
{
	char *end = fm_buf_reserve(b, n);
	if (!end)
		return;
	memcpy(end, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void fm_buf_puts(struct fm_buf *b, const char *s)
{
	fm_buf_append(b, s, strlen(s));
}

void fm_buf_putc(struct fm_buf *b, char c)
{
	fm_buf_append(b, &c, 1);
}

void fm_buf_printf(struct fm_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	char *end = fm_buf_reserve(b, (size_t)n);
	if (!end)
		return;
	va_start(ap, fmt);
	vsnprintf(end, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void fm_buf_truncate(struct fm_buf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->data[len] = '\0';
	}
}

const char *fm_buf_str(const struct fm_buf *b)
{
	return b->data ? b->data : "";
}

char *fm_buf_steal(struct fm_buf *b)
{
	char *s = b->data;
	if (!s && !b->oom)
		s = calloc(1, 1);
	if (b->oom) {
		free(s);
		s = NULL;
	}
	*b = (struct fm_buf)FM_BUF_INIT;
	return s;
}

void fm_buf_free(struct fm_buf *b)
{
	free(b->data);
	*b = (struct fm_buf)FM_BUF_INIT;
}
