#include "fold.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

static inline bool ascii_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static void fold_ascii(struct fm_buf *out, const char *s, size_t n)
{
	char *w = fm_buf_reserve(out, n);
	if (!w)
		return;
	size_t len = 0;
	bool in_space = false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (ascii_space(c)) {
			if (!in_space)
				w[len++] = ' ';
			in_space = true;
			continue;
		}
		in_space = false;
		w[len++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	out->len += len;
	out->data[out->len] = '\0';
}

/* Collapse Unicode white space in an already folded, valid UTF-8 string. */
static void collapse_space(struct fm_buf *out, const uint8_t *s, size_t n)
{
	bool in_space = false;
	size_t i = 0;
	while (i < n) {
		ucs4_t uc;
		int l = u8_mbtouc(&uc, s + i, n - i);
		if (l <= 0)
			l = 1;
		if (uc < 0x80 ? ascii_space((unsigned char)uc) : uc_is_property_white_space(uc)) {
			if (!in_space)
				fm_buf_putc(out, ' ');
			in_space = true;
		} else {
			fm_buf_append(out, (const char *)s + i, (size_t)l);
			in_space = false;
		}
		i += (size_t)l;
	}
}

int fm_fold(struct fm_buf *out, const char *s, size_t n)
{
	if (out->oom)
		fm_buf_free(out); /* an earlier failure must not poison later documents */
	fm_buf_truncate(out, 0);
	size_t i = 0;
	while (i < n && !((unsigned char)s[i] & 0x80))
		i++;
	if (i == n) {
		fold_ascii(out, s, n);
	} else {
		/* u8_casefold allocates its result when the stack buffer is too small. */
		uint8_t stackbuf[4096];
		size_t len = sizeof(stackbuf);
		uint8_t *r = u8_casefold((const uint8_t *)s, n, NULL, UNINORM_NFC, stackbuf, &len);
		if (r) {
			collapse_space(out, r, len);
			if (r != stackbuf)
				free(r);
		} else if (errno == ENOMEM) {
			return -ENOMEM;
		} else {
			fold_ascii(out, s, n); /* EILSEQ: not UTF-8, keep going byte-wise */
		}
	}
	if (out->oom)
		return -ENOMEM;
	if (!out->data)
		fm_buf_puts(out, ""); /* never hand back NULL data */
	return out->oom ? -ENOMEM : 0;
}

static bool word_uc(ucs4_t uc)
{
	if (uc < 0x80)
		return (uc >= '0' && uc <= '9') || (uc >= 'a' && uc <= 'z') || (uc >= 'A' && uc <= 'Z') ||
		       uc == '_';
	/* Marks count as part of a word so that a keyword never matches a prefix of a
	 * letter + combining accent. */
	return uc_is_alnum(uc) || uc_is_general_category(uc, UC_CATEGORY_M);
}

bool fm_word_char_at(const char *s, size_t n, size_t i)
{
	if (i >= n)
		return false;
	ucs4_t uc;
	if (u8_mbtouc(&uc, (const uint8_t *)s + i, n - i) <= 0)
		return false;
	return word_uc(uc);
}

bool fm_word_char_before(const char *s, size_t i)
{
	if (i == 0)
		return false;
	const uint8_t *start = (const uint8_t *)s;
	const uint8_t *p = start + i;
	ucs4_t uc;
	/* Back over at most three continuation bytes to the lead byte. */
	const uint8_t *q = p - 1;
	while (q > start && (*q & 0xC0) == 0x80 && p - q < 4)
		q--;
	if (u8_mbtouc(&uc, q, (size_t)(p - q)) != (int)(p - q))
		return false;
	return word_uc(uc);
}

size_t fm_utf8_cut(const char *s, size_t n, size_t limit)
{
	if (n <= limit)
		return n;
	size_t i = limit;
	while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
		i--;
	return i;
}
