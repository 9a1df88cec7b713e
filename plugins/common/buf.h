/* A growable byte buffer, always NUL-terminated. */
#ifndef FMKIT_BUF_H
#define FMKIT_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct fm_buf {
	char *data;   /* NUL-terminated; NULL until the first append */
	size_t len;
	size_t cap;
	bool oom;     /* an allocation failed: later appends are ignored */
};

#define FM_BUF_INIT {NULL, 0, 0, false}

void fm_buf_append(struct fm_buf *b, const char *s, size_t n);
void fm_buf_puts(struct fm_buf *b, const char *s);
void fm_buf_putc(struct fm_buf *b, char c);
void fm_buf_printf(struct fm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Ensure room for n more bytes; returns a pointer to the end or NULL. */
char *fm_buf_reserve(struct fm_buf *b, size_t n);
void fm_buf_truncate(struct fm_buf *b, size_t len);
/* The contents ("" when empty); owned by the buffer. */
const char *fm_buf_str(const struct fm_buf *b);
/* Hand over the contents (caller frees; never NULL unless oom) and reset the buffer. */
char *fm_buf_steal(struct fm_buf *b);
void fm_buf_free(struct fm_buf *b);

#endif
