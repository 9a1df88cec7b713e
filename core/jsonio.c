/*
 * Fast JSON text <-> jansson values for the hub/worker wire (see jsonio.h for the contract).
 *
 * Where the time goes in jansson on news documents: its lexer pulls one byte at a time through
 * a stream callback, validates UTF-8 per character and appends every byte of a string to a
 * growable buffer before copying it once more into the value; its dumper calls a callback per
 * escaped character and per run. Here a string is scanned for the only bytes that need a look
 * ('"', '\\', control bytes, non-ASCII) 16 bytes at a time (SSE2; 8 at a time elsewhere), a
 * string without escapes is handed to json_stringn_nocheck straight from the input, and
 * non-ASCII sequences are checked in place against the well-formed UTF-8 table (Unicode
 * Standard, chapter 3, table 3-7), which rejects exactly what jansson's utf8_check_full
 * rejects: overlong forms, surrogates, and code points past U+10FFFF.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "jsonio.h"

#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__) && !defined(FM_JSONIO_NO_SIMD)
#include <emmintrin.h>
#define FM_JSONIO_SSE2 1
#endif

typedef unsigned char uchar;

/* jansson 2.14 added the key-with-length calls; with 2.13 keys go NUL-terminated (a key
 * cannot hold a NUL anyway: "\u0000" is refused). */
#if JANSSON_VERSION_HEX >= 0x020e00
#define FM_JANSSON_KEYN 1
#else
#define FM_JANSSON_KEYN 0
#endif

#if JSON_INTEGER_IS_LONG_LONG
#define FM_JSON_INT_MAX LLONG_MAX
#else
#define FM_JSON_INT_MAX LONG_MAX
#endif

/*** buffer ***/

void fm_jbuf_free(struct fm_jbuf *b)
{
	free(b->data);
	fm_jbuf_init(b);
}

int fm_jbuf_reserve(struct fm_jbuf *b, size_t more)
{
	if (b->cap - b->len > more) /* cap >= len + 1 always holds while data != NULL */
		return 0;
	if (more > SIZE_MAX / 2 - b->len)
		return -ENOMEM;
	size_t need = b->len + more + 1;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	char *d = realloc(b->data, cap);
	if (!d)
		return -ENOMEM;
	if (!b->data)
		d[0] = '\0';
	b->data = d;
	b->cap = cap;
	return 0;
}

char *fm_jbuf_steal(struct fm_jbuf *b, size_t *len)
{
	char *d = b->data;
	if (len)
		*len = b->len;
	fm_jbuf_init(b);
	return d;
}

/*** scanning ***/

/* The first byte in [p, end) that a string cannot take over as it is: '"', '\\', a control
 * byte (< 0x20) or a non-ASCII byte (>= 0x80, to be validated). end when there is none. */
static inline const uchar *find_special(const uchar *p, const uchar *end)
{
#ifdef FM_JSONIO_SSE2
	const __m128i quote = _mm_set1_epi8('"');
	const __m128i bslash = _mm_set1_epi8('\\');
	const __m128i space = _mm_set1_epi8(0x20);
	while (end - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		/* signed compare: bytes >= 0x80 are negative, so "< 0x20" catches them too */
		__m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
		                                      _mm_cmpeq_epi8(v, bslash)),
		                         _mm_cmplt_epi8(v, space));
		unsigned bits = (unsigned)_mm_movemask_epi8(m);
		if (bits)
			return p + __builtin_ctz(bits);
		p += 16;
	}
#else
	/* Word at a time: only decides whether 8 bytes hold anything of interest (no false
	 * negatives); the byte loop below then finds which one. */
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
	while (end - p >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		uint64_t q = w ^ (ones * '"'), s = w ^ (ones * '\\');
		uint64_t hit = ((q - ones) & ~q) | ((s - ones) & ~s) | (w - ones * 0x20) | w;
		if (hit & highs)
			break;
		p += 8;
	}
#endif
	for (; p < end; p++)
		if (*p == '"' || *p == '\\' || *p < 0x20 || *p >= 0x80)
			break;
	return p;
}

/* Length of the well-formed UTF-8 sequence starting with the non-ASCII byte at p, 0 when it is
 * not one (Unicode table 3-7). */
static inline size_t utf8_seq(const uchar *p, const uchar *end)
{
	uchar c = p[0];
	size_t avail = (size_t)(end - p);
	if (c < 0xC2)
		return 0; /* continuation byte or overlong lead */
	if (c < 0xE0)
		return avail >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c < 0xF0) {
		if (avail < 3)
			return 0;
		uchar lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
		return p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 ? 3 : 0;
	}
	if (c < 0xF5) {
		if (avail < 4)
			return 0;
		uchar lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
		return p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 && (p[3] & 0xC0) == 0x80
		               ? 4
		               : 0;
	}
	return 0;
}

/*** parser ***/

struct parser {
	const uchar *start, *p, *end;
	json_error_t *err;
	bool failed;
	char *scratch; /* decoded text of strings with escapes, reused */
	size_t scap;
	struct fm_json_raws *raws; /* where to note long strings the dumper can copy (or NULL) */
};

static void fail(struct parser *ps, const uchar *at, enum json_error_code code, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));

/* Record the first error, with jansson's line (1-based) and column (characters, 1-based). */
static void fail(struct parser *ps, const uchar *at, enum json_error_code code, const char *fmt,
                 ...)
{
	if (ps->failed)
		return;
	ps->failed = true;
	json_error_t *e = ps->err;
	if (!e)
		return;
	if (at > ps->end)
		at = ps->end;
	int line = 1, col = 0;
	for (const uchar *q = ps->start; q < at; q++) {
		if (*q == '\n') {
			line++;
			col = 0;
		} else if ((*q & 0xC0) != 0x80) {
			col++;
		}
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->text, JSON_ERROR_TEXT_LENGTH - 1, fmt, ap);
	va_end(ap);
	e->text[JSON_ERROR_TEXT_LENGTH - 1] = (char)code;
	e->line = line;
	e->column = col + 1;
	e->position = (int)(at - ps->start);
}

static inline void skip_ws(struct parser *ps)
{
	const uchar *p = ps->p, *end = ps->end;
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	ps->p = p;
}

static int scratch_put(struct parser *ps, size_t *len, const void *src, size_t n)
{
	if (n == 0)
		return 0;
	if (ps->scap - *len < n) {
		/* a decoded string is never longer than the input: sized by it, the scratch is
		 * allocated once a document instead of growing from small */
		size_t cap = ps->scap ? ps->scap : (size_t)(ps->end - ps->start) + 1;
		if (cap < 256)
			cap = 256;
		while (cap - *len < n) {
			if (cap > SIZE_MAX / 2)
				return -ENOMEM;
			cap *= 2;
		}
		char *s = realloc(ps->scratch, cap);
		if (!s)
			return -ENOMEM;
		ps->scratch = s;
		ps->scap = cap;
	}
	memcpy(ps->scratch + *len, src, n);
	*len += n;
	return 0;
}

static int hexval(uchar c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The 4 hex digits at p (p + 4 <= end checked by the caller), -1 when not hex. */
static long hex4(const uchar *p)
{
	long v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexval(p[i]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

static size_t utf8_put(char *o, unsigned long cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Decode the escape at q ('\\'), append its bytes to the scratch; returns the byte after it,
 * NULL on error (reported). */
static const uchar *decode_escape(struct parser *ps, const uchar *q, size_t *slen, bool is_key)
{
	const uchar *end = ps->end;
	if (q + 1 >= end) {
		fail(ps, end, json_error_premature_end_of_input, "premature end of input");
		return NULL;
	}
	char one;
	switch (q[1]) {
	case '"': one = '"'; break;
	case '\\': one = '\\'; break;
	case '/': one = '/'; break;
	case 'b': one = '\b'; break;
	case 'f': one = '\f'; break;
	case 'n': one = '\n'; break;
	case 'r': one = '\r'; break;
	case 't': one = '\t'; break;
	case 'u': {
		long cp = end - q >= 6 ? hex4(q + 2) : -1;
		if (cp < 0) {
			fail(ps, q, json_error_invalid_syntax, "invalid escape");
			return NULL;
		}
		const uchar *next = q + 6;
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			if (end - next < 2 || next[0] != '\\' || next[1] != 'u') {
				fail(ps, q, json_error_invalid_syntax, "invalid Unicode '\\u%04lX'", cp);
				return NULL;
			}
			long lo = end - next >= 6 ? hex4(next + 2) : -1;
			if (lo < 0) {
				fail(ps, next, json_error_invalid_syntax, "invalid escape");
				return NULL;
			}
			if (lo < 0xDC00 || lo > 0xDFFF) {
				fail(ps, q, json_error_invalid_syntax, "invalid Unicode '\\u%04lX\\u%04lX'",
				     cp, lo);
				return NULL;
			}
			cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			next += 6;
		} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
			fail(ps, q, json_error_invalid_syntax, "invalid Unicode '\\u%04lX'", cp);
			return NULL;
		} else if (cp == 0) {
			if (is_key)
				fail(ps, q, json_error_null_byte_in_key,
				     "NUL byte in object key not supported");
			else
				fail(ps, q, json_error_null_character,
				     "\\u0000 is not allowed without JSON_ALLOW_NUL");
			return NULL;
		}
		char enc[4];
		size_t n = utf8_put(enc, (unsigned long)cp);
		if (scratch_put(ps, slen, enc, n) < 0) {
			fail(ps, q, json_error_out_of_memory, "out of memory");
			return NULL;
		}
		return next;
	}
	default:
		fail(ps, q, json_error_invalid_syntax, "invalid escape");
		return NULL;
	}
	if (scratch_put(ps, slen, &one, 1) < 0) {
		fail(ps, q, json_error_out_of_memory, "out of memory");
		return NULL;
	}
	return q + 2;
}

/* The string whose opening quote is at ps->p. On success *out and *len give its decoded text:
 * either inside the input (no escapes) or in ps->scratch (valid until the next string), and
 * ps->p is past the closing quote. -1 on error (reported). */
/* Whether the escape at q (validated) is the one the dumper writes for its character: \" \\
 * \b \f \n \r \t, and \u00XX in upper case for the other control characters. */
static bool canonical_escape(const uchar *q)
{
	switch (q[1]) {
	case '"': case '\\': case 'b': case 'f': case 'n': case 'r': case 't':
		return true;
	case 'u':
		break;
	default:
		return false; /* \/ */
	}
	if (q[2] != '0' || q[3] != '0' || (q[4] != '0' && q[4] != '1'))
		return false;
	int v = (q[4] - '0') * 16;
	if (q[5] >= '0' && q[5] <= '9')
		v += q[5] - '0';
	else if (q[5] >= 'A' && q[5] <= 'F')
		v += q[5] - 'A' + 10;
	else
		return false;
	return v != '\b' && v != '\f' && v != '\n' && v != '\r' && v != '\t';
}

static int scan_string(struct parser *ps, const char **out, size_t *len, bool is_key,
                       bool *canonical)
{
	const uchar *end = ps->end;
	const uchar *run = ps->p + 1, *p = run;
	size_t slen = 0;
	bool escaped = false, canon = true;
	for (;;) {
		const uchar *q = find_special(p, end);
		if (q == end) {
			fail(ps, end, json_error_premature_end_of_input, "premature end of input");
			return -1;
		}
		uchar c = *q;
		if (c == '"') {
			if (!escaped) {
				*out = (const char *)run;
				*len = (size_t)(q - run);
			} else {
				if (scratch_put(ps, &slen, run, (size_t)(q - run)) < 0) {
					fail(ps, q, json_error_out_of_memory, "out of memory");
					return -1;
				}
				*out = ps->scratch;
				*len = slen;
			}
			ps->p = q + 1;
			if (canonical)
				*canonical = canon;
			return 0;
		}
		if (c >= 0x80) {
			size_t n = utf8_seq(q, end);
			if (!n) {
				fail(ps, q, json_error_invalid_utf8, "unable to decode byte 0x%x", c);
				return -1;
			}
			p = q + n;
			continue;
		}
		if (c < 0x20) {
			if (c == '\n')
				fail(ps, q, json_error_invalid_syntax, "unexpected newline");
			else
				fail(ps, q, json_error_invalid_syntax, "control character 0x%x", c);
			return -1;
		}
		/* backslash: from here on the text is assembled in the scratch */
		escaped = true;
		if (scratch_put(ps, &slen, run, (size_t)(q - run)) < 0) {
			fail(ps, q, json_error_out_of_memory, "out of memory");
			return -1;
		}
		p = run = decode_escape(ps, q, &slen, is_key);
		if (!p)
			return -1;
		canon = canon && canonical_escape(q);
	}
}

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void)
{
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* strtod of a JSON number whatever LC_NUMERIC the process set (jansson converts the '.' to
 * the locale's point instead; same value). */
static double strtod_c(const char *s, int *err)
{
	pthread_once(&c_locale_once, c_locale_init);
	errno = 0;
	double v = c_locale ? strtod_l(s, NULL, c_locale) : strtod(s, NULL);
	*err = errno;
	return v;
}

/* Powers of ten that are exact in a double. */
static const double exact_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static json_t *parse_number(struct parser *ps)
{
	const uchar *s = ps->p, *p = s, *end = ps->end;
	bool neg = false, real = false;
	uint64_t mant = 0; /* all digits, while they fit */
	int ndig = 0;      /* significant digits taken into mant */
	long exp10 = 0;

	if (*p == '-') {
		neg = true;
		p++;
	}
	if (p < end && *p == '0') {
		p++;
		if (p < end && *p >= '0' && *p <= '9')
			goto invalid;
	} else if (p < end && *p >= '1' && *p <= '9') {
		for (; p < end && *p >= '0' && *p <= '9'; p++) {
			if (ndig < 19) {
				mant = mant * 10 + (uint64_t)(*p - '0');
				ndig++;
			} else {
				ndig = 99; /* too many for the fast paths */
			}
		}
	} else {
		goto invalid;
	}

	if (p < end && *p == '.') {
		real = true;
		p++;
		if (!(p < end && *p >= '0' && *p <= '9'))
			goto invalid;
		for (; p < end && *p >= '0' && *p <= '9'; p++) {
			if (mant == 0 && *p == '0') {
				exp10--; /* leading zeros of 0.000x are not significant */
			} else if (ndig < 19) {
				mant = mant * 10 + (uint64_t)(*p - '0');
				ndig++;
				exp10--;
			} else {
				ndig = 99;
			}
		}
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		real = true;
		p++;
		bool eneg = false;
		if (p < end && (*p == '+' || *p == '-'))
			eneg = *p++ == '-';
		if (!(p < end && *p >= '0' && *p <= '9'))
			goto invalid;
		long e = 0;
		for (; p < end && *p >= '0' && *p <= '9'; p++)
			if (e < 100000)
				e = e * 10 + (*p - '0');
		exp10 += eneg ? -e : e;
	}
	ps->p = p;

	if (!real) {
		/* json_int_t is long long where jansson is built for it (JSON_INTEGER_IS_LONG_LONG) */
		uint64_t limit = neg ? (uint64_t)FM_JSON_INT_MAX + 1 : (uint64_t)FM_JSON_INT_MAX;
		uint64_t v = 0;
		for (const uchar *d = s + neg; d < p; d++) {
			unsigned dig = (unsigned)(*d - '0');
			if (v > (limit - dig) / 10) {
				fail(ps, s, json_error_numeric_overflow,
				     neg ? "too big negative integer" : "too big integer");
				return NULL;
			}
			v = v * 10 + dig;
		}
		json_int_t iv = neg ? (json_int_t)(0 - v) : (json_int_t)v;
		return json_integer(iv);
	}

	double d;
	if (ndig <= 19 && mant == 0) {
		d = 0.0; /* whatever the exponent */
	} else if (ndig <= 19 && mant <= (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
		/* Clinger's fast path ("How to read floating point numbers accurately", 1990): both
		 * operands are exact doubles, so one IEEE operation rounds correctly, as strtod. */
		d = (double)mant;
		d = exp10 < 0 ? d / exact_pow10[-exp10] : d * exact_pow10[exp10];
	} else {
		char small[64], *buf = small;
		size_t n = (size_t)(p - s);
		if (n >= sizeof small) {
			buf = malloc(n + 1);
			if (!buf) {
				fail(ps, s, json_error_out_of_memory, "out of memory");
				return NULL;
			}
		}
		memcpy(buf, s, n);
		buf[n] = '\0';
		int e;
		d = strtod_c(buf, &e);
		if (buf != small)
			free(buf);
		if (e == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL)) {
			fail(ps, s, json_error_numeric_overflow, "real number overflow");
			return NULL;
		}
		return json_real(d);
	}
	return json_real(neg ? -d : d);

invalid:
	fail(ps, s, json_error_invalid_syntax, "invalid token");
	return NULL;
}

static json_t *parse_value(struct parser *ps, int depth);

/* After a member or an element: a ',' (1: another follows, whitespace skipped), the closing
 * character (0, consumed) or an error (-1, reported). */
static int next_item(struct parser *ps, char close)
{
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ',') {
		ps->p++;
		skip_ws(ps);
		return 1;
	}
	if (ps->p < ps->end && *ps->p == (uchar)close) {
		ps->p++;
		return 0;
	}
	fail(ps, ps->p, ps->p >= ps->end ? json_error_premature_end_of_input
	                                 : json_error_invalid_syntax,
	     close == '}' ? "'}' expected" : "']' expected");
	return -1;
}

static json_t *parse_object(struct parser *ps, int depth)
{
	json_t *obj = json_object();
	if (!obj) {
		fail(ps, ps->p, json_error_out_of_memory, "out of memory");
		return NULL;
	}
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		return obj;
	}
	char small[128];
	for (;;) {
		if (ps->p >= ps->end || *ps->p != '"') {
			fail(ps, ps->p, ps->p >= ps->end ? json_error_premature_end_of_input
			                                 : json_error_invalid_syntax,
			     "string or '}' expected");
			goto error;
		}
		const char *key;
		size_t klen;
		if (scan_string(ps, &key, &klen, true, NULL) < 0)
			goto error;
		char *kcopy = NULL;
		/* the value's strings reuse the scratch: keep the key elsewhere */
		if (key == ps->scratch || !FM_JANSSON_KEYN) {
			if (klen < sizeof small) {
				memcpy(small, key, klen);
				small[klen] = '\0';
				key = small;
			} else {
				kcopy = malloc(klen + 1);
				if (!kcopy) {
					fail(ps, ps->p, json_error_out_of_memory, "out of memory");
					goto error;
				}
				memcpy(kcopy, key, klen);
				kcopy[klen] = '\0';
				key = kcopy;
			}
		}
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != ':') {
			free(kcopy);
			fail(ps, ps->p, ps->p >= ps->end ? json_error_premature_end_of_input
			                                 : json_error_invalid_syntax,
			     "':' expected");
			goto error;
		}
		ps->p++;
		skip_ws(ps);
		json_t *v = parse_value(ps, depth + 1);
		if (!v) {
			free(kcopy);
			goto error;
		}
		/* duplicate keys: jansson's set replaces the value in place, so the last one wins */
#if FM_JANSSON_KEYN
		int rc = json_object_setn_new_nocheck(obj, key, klen, v);
#else
		int rc = json_object_set_new_nocheck(obj, key, v);
#endif
		free(kcopy);
		if (rc) {
			fail(ps, ps->p, json_error_out_of_memory, "out of memory");
			goto error;
		}
		int more = next_item(ps, '}');
		if (more == 0)
			return obj;
		if (more < 0)
			goto error;
	}
error:
	json_decref(obj);
	return NULL;
}

static json_t *parse_array(struct parser *ps, int depth)
{
	json_t *arr = json_array();
	if (!arr) {
		fail(ps, ps->p, json_error_out_of_memory, "out of memory");
		return NULL;
	}
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		return arr;
	}
	for (;;) {
		json_t *v = parse_value(ps, depth + 1);
		if (!v)
			goto error;
		if (json_array_append_new(arr, v)) {
			fail(ps, ps->p, json_error_out_of_memory, "out of memory");
			goto error;
		}
		int more = next_item(ps, ']');
		if (more == 0)
			return arr;
		if (more < 0)
			goto error;
	}
error:
	json_decref(arr);
	return NULL;
}

static json_t *parse_literal(struct parser *ps, const char *word, size_t n, json_t *value)
{
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) {
		fail(ps, ps->p, json_error_invalid_syntax, "invalid token");
		return NULL;
	}
	ps->p += n;
	return value;
}

/* One value at ps->p (whitespace skipped); depth counts every value, as jansson's does. */
static json_t *parse_value(struct parser *ps, int depth)
{
	if (depth > FM_JSON_PARSE_MAX_DEPTH) {
		fail(ps, ps->p, json_error_stack_overflow, "maximum parsing depth reached");
		return NULL;
	}
	if (ps->p >= ps->end) {
		fail(ps, ps->p, json_error_premature_end_of_input, "unexpected end of input");
		return NULL;
	}
	switch (*ps->p) {
	case '{':
		return parse_object(ps, depth);
	case '[':
		return parse_array(ps, depth);
	case '"': {
		const char *s;
		size_t n;
		const uchar *quote = ps->p;
		bool canonical;
		if (scan_string(ps, &s, &n, false, &canonical) < 0)
			return NULL;
		json_t *v = json_stringn_nocheck(s, n); /* validated above */
		if (!v)
			fail(ps, ps->p, json_error_out_of_memory, "out of memory");
		else if (ps->raws && canonical && n >= FM_JSON_RAW_MIN && ps->raws->n < FM_JSON_RAWS)
			ps->raws->r[ps->raws->n++] = (struct fm_json_raw){
				json_incref(v), json_string_value(v), n, (const char *)quote,
				(size_t)(ps->p - quote)};
		return v;
	}
	case 't':
		return parse_literal(ps, "true", 4, json_true());
	case 'f':
		return parse_literal(ps, "false", 5, json_false());
	case 'n':
		return parse_literal(ps, "null", 4, json_null());
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) {
			json_t *v = parse_number(ps);
			if (!v && !ps->failed)
				fail(ps, ps->p, json_error_out_of_memory, "out of memory");
			return v;
		}
		if (*ps->p >= 0x80 && !utf8_seq(ps->p, ps->end))
			fail(ps, ps->p, json_error_invalid_utf8, "unable to decode byte 0x%x", *ps->p);
		else
			fail(ps, ps->p, json_error_invalid_syntax, "invalid token");
		return NULL;
	}
}

json_t *fm_json_parse(const char *text, size_t len, json_error_t *err)
{
	return fm_json_parse_raws(text, len, err, NULL);
}

void fm_json_raws_release(struct fm_json_raws *raws)
{
	for (size_t i = 0; i < raws->n; i++)
		json_decref((json_t *)raws->r[i].str);
	raws->n = 0;
}

json_t *fm_json_parse_raws(const char *text, size_t len, json_error_t *err,
                           struct fm_json_raws *raws)
{
	if (raws)
		fm_json_raws_release(raws);
	if (err) {
		memset(err, 0, sizeof *err);
		err->line = err->column = -1;
		snprintf(err->source, sizeof err->source, "<buffer>");
	}
	struct parser ps = {
		.start = (const uchar *)text,
		.p = (const uchar *)text,
		.end = (const uchar *)text + len,
		.err = err,
		.raws = raws,
	};
	json_t *v = NULL;
	if (!text) {
		ps.end = ps.start;
		fail(&ps, ps.p, json_error_invalid_argument, "wrong arguments");
		return NULL;
	}
	skip_ws(&ps);
	if (ps.p >= ps.end || (*ps.p != '{' && *ps.p != '[')) {
		fail(&ps, ps.p, ps.p >= ps.end ? json_error_premature_end_of_input
		                               : json_error_invalid_syntax,
		     "'[' or '{' expected");
		goto out;
	}
	v = parse_value(&ps, 1);
	if (!v)
		goto out;
	skip_ws(&ps);
	if (ps.p != ps.end) {
		fail(&ps, ps.p, json_error_end_of_input_expected, "end of file expected");
		json_decref(v);
		v = NULL;
		goto out;
	}
	if (err)
		err->position = (int)len;
out:
	free(ps.scratch);
	if (!v && raws)
		fm_json_raws_release(raws);
	return v;
}

/*** dumper ***/

/* Appends without a capacity check: the caller reserved. */
static inline void put_raw(struct fm_jbuf *b, const void *s, size_t n)
{
	memcpy(b->data + b->len, s, n);
	b->len += n;
}

static inline int put(struct fm_jbuf *b, const void *s, size_t n)
{
	if (fm_jbuf_reserve(b, n) < 0)
		return -ENOMEM;
	put_raw(b, s, n);
	return 0;
}

static int dump_string(const char *str, size_t len, struct fm_jbuf *b)
{
	static const char hex[] = "0123456789ABCDEF";
	const uchar *p = (const uchar *)str, *end = p + len, *run = p;
	/* the plain bytes and the quotes; escapes reserve their extra bytes as they come */
	if (fm_jbuf_reserve(b, len + 2) < 0)
		return -ENOMEM;
	put_raw(b, "\"", 1);
	for (;;) {
		const uchar *q = find_special(p, end);
		if (q == end)
			break;
		uchar c = *q;
		if (c >= 0x80) {
			size_t n = utf8_seq(q, end);
			if (!n)
				return -EINVAL; /* json_dumps fails on such a string too */
			p = q + n;
			continue;
		}
		put_raw(b, run, (size_t)(q - run));
		/* this byte becomes up to 6, the rest of the string and the quote still follow */
		if (fm_jbuf_reserve(b, (size_t)(end - q) + 6) < 0)
			return -ENOMEM;
		char esc[6] = {'\\', 0, 0, 0, 0, 0};
		size_t n = 2;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
		}
		put_raw(b, esc, n);
		run = p = q + 1;
	}
	put_raw(b, run, (size_t)(end - run));
	put_raw(b, "\"", 1);
	return 0;
}

static int dump_integer(json_int_t v, struct fm_jbuf *b)
{
	char tmp[24], *e = tmp + sizeof tmp, *s = e;
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	do {
		*--s = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--s = '-';
	return put(b, s, (size_t)(e - s));
}

/* jansson (built without dtoa) writes "%.17g", turns the locale's decimal point into '.',
 * appends ".0" when there is neither a point nor an exponent, and drops the exponent's '+' and
 * leading zeros. */
static int dump_real(double v, struct fm_jbuf *b)
{
	char raw[64], out[72];
	int n = snprintf(raw, sizeof raw, "%.17g", v);
	if (n < 0 || (size_t)n >= sizeof raw)
		return -EINVAL;
	size_t o = 0;
	bool point = false, expo = false;
	for (int i = 0; i < n; i++) {
		char c = raw[i];
		if ((c >= '0' && c <= '9') || c == '-') {
			out[o++] = c;
		} else if (c == 'e') {
			out[o++] = 'e';
			expo = true;
			i++;
			if (i < n && raw[i] == '-')
				out[o++] = raw[i++];
			else if (i < n && raw[i] == '+')
				i++;
			while (i + 1 < n && raw[i] == '0')
				i++;
			while (i < n)
				out[o++] = raw[i++];
		} else if (!point) {
			/* the decimal point, whatever the locale made of it (one or more bytes) */
			out[o++] = '.';
			point = true;
		}
	}
	if (!point && !expo) {
		out[o++] = '.';
		out[o++] = '0';
	}
	return put(b, out, o);
}

static int dump_value(const json_t *v, struct fm_jbuf *b, int depth,
                      const struct fm_json_raws *raws)
{
	if (!v)
		return -EINVAL;
	if (depth > FM_JSON_DUMP_MAX_DEPTH)
		return -ELOOP; /* counted as the parser counts, so what is written reads back */
	switch (json_typeof(v)) {
	case JSON_NULL:
		return put(b, "null", 4);
	case JSON_TRUE:
		return put(b, "true", 4);
	case JSON_FALSE:
		return put(b, "false", 5);
	case JSON_INTEGER:
		return dump_integer(json_integer_value(v), b);
	case JSON_REAL:
		return dump_real(json_real_value(v), b);
	case JSON_STRING:
		/* as it came: the same value (a string set anew has a new buffer, and the reference
		 * raws holds keeps this one from being freed and its address reused) */
		for (size_t i = 0; raws && i < raws->n; i++)
			if (raws->r[i].str == v && raws->r[i].value == json_string_value(v) &&
			    raws->r[i].len == json_string_length(v))
				return put(b, raws->r[i].text, raws->r[i].text_len);
		return dump_string(json_string_value(v), json_string_length(v), b);
	default:
		break;
	}
	int rc;
	if (json_is_array(v)) {
		size_t n = json_array_size(v);
		if ((rc = put(b, "[", 1)) < 0)
			return rc;
		for (size_t i = 0; i < n; i++) {
			if (i && (rc = put(b, ",", 1)) < 0)
				return rc;
			if ((rc = dump_value(json_array_get(v, i), b, depth + 1, raws)) < 0)
				return rc;
		}
		return put(b, "]", 1);
	}
	if (json_is_object(v)) {
		json_t *obj = (json_t *)v; /* the iterator API is not const, it does not write */
		if ((rc = put(b, "{", 1)) < 0)
			return rc;
		bool first = true;
		for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
			if (!first && (rc = put(b, ",", 1)) < 0)
				return rc;
			first = false;
			const char *key = json_object_iter_key(it);
#if FM_JANSSON_KEYN
			size_t klen = json_object_iter_key_len(it);
#else
			size_t klen = strlen(key);
#endif
			if ((rc = dump_string(key, klen, b)) < 0)
				return rc;
			if ((rc = put(b, ":", 1)) < 0)
				return rc;
			if ((rc = dump_value(json_object_iter_value(it), b, depth + 1, raws)) < 0)
				return rc;
		}
		return put(b, "}", 1);
	}
	return -EINVAL;
}

int fm_json_dump(const json_t *v, struct fm_jbuf *out)
{
	return fm_json_dump_raws(v, out, NULL);
}

int fm_json_dump_raws(const json_t *v, struct fm_jbuf *out, const struct fm_json_raws *raws)
{
	size_t mark = out->len;
	int rc = dump_value(v, out, 1, raws);
	if (rc < 0) {
		out->len = mark;
		if (out->data)
			out->data[mark] = '\0';
		return rc;
	}
	/* every put left room for this */
	out->data[out->len] = '\0';
	return 0;
}
