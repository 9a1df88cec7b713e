/*
 * A fast JSON codec for documents on the wire between the hub and stage workers. It reads and
 * writes jansson values (the plugin SDK's document type) and is a drop-in for
 *   json_loadb(text, len, 0, &err)     -> fm_json_parse(text, len, &err)
 *   json_dumps(v, JSON_COMPACT)        -> fm_json_dump(v, &buf)
 * with the same acceptance and byte-identical output (tests/unit/test_jsonio.c and the
 * differential fuzz target tests/fuzz/jsonio.c hold it to that), only several times faster on
 * text-heavy documents: long string runs are scanned 16 bytes at a time, UTF-8 is validated
 * in bulk, and values are built with jansson's *_nocheck constructors.
 *
 * Known, deliberate differences from jansson:
 *  - jansson 2.14 silently skips a NUL byte that directly follows a number or true/false/null
 *    ("[1\0]" loads as [1]); fm_json_parse rejects it, as RFC 8259 says.
 *  - fm_json_dump writes any value, also a bare scalar (as JSON_ENCODE_ANY would); jansson's
 *    json_dumps without that flag refuses scalars.
 *  - fm_json_dump refuses values nested deeper than FM_JSON_DUMP_MAX_DEPTH, the parsing limit:
 *    the next stage could not read such text back anyway (this also stops a reference cycle,
 *    which jansson detects with a set of pointers).
 */
#ifndef FM_CORE_JSONIO_H
#define FM_CORE_JSONIO_H

#include <stddef.h>

#include <jansson.h>

/* As jansson's JSON_PARSER_MAX_DEPTH: every value counts, the outermost one is at depth 1. */
#define FM_JSON_PARSE_MAX_DEPTH 2048
#define FM_JSON_DUMP_MAX_DEPTH FM_JSON_PARSE_MAX_DEPTH

/* A growable byte buffer. While data is not NULL, data[len] is a NUL (so data is a C string
 * when the bytes hold none). Zero-initialised is a valid empty buffer. */
struct fm_jbuf {
	char *data;
	size_t len, cap;
};

#define FM_JBUF_INIT {NULL, 0, 0}

static inline void fm_jbuf_init(struct fm_jbuf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
}

/* Forget the contents, keep the allocation for the next use. */
static inline void fm_jbuf_reset(struct fm_jbuf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* Release the allocation; the buffer is empty and reusable afterwards. */
void fm_jbuf_free(struct fm_jbuf *b);

/* Make room for `more` bytes after len (plus the NUL). 0 or -ENOMEM (contents untouched). */
int fm_jbuf_reserve(struct fm_jbuf *b, size_t more);

/* Hand the bytes over: returns data (NUL-terminated, free() it; NULL when nothing was ever
 * written), stores the length in *len (may be NULL), and leaves b empty. */
char *fm_jbuf_steal(struct fm_jbuf *b, size_t *len);

/*
 * Parse one JSON document from text[0..len) (no NUL terminator needed). Accepts exactly what
 * json_loadb(text, len, 0, err) accepts: an object or array at the top, optional whitespace
 * around it and nothing else; strict RFC 8259 syntax; UTF-8 validated (overlong forms,
 * surrogates and code points past U+10FFFF refused); \u escapes with surrogate pairs, \u0000
 * refused; integers as json_integer (out of json_int_t range is an error), numbers with a
 * fraction or exponent as json_real (strtod's value; overflow to infinity is an error);
 * duplicate keys: the last value wins at the first key's position; at most
 * FM_JSON_PARSE_MAX_DEPTH levels.
 * Returns a new reference, or NULL with err (may be NULL) filled like jansson's: text (with
 * the json_error_code() in its last byte), source "<buffer>", line, column, position.
 */
json_t *fm_json_parse(const char *text, size_t len, json_error_t *err);

/*
 * Append v's compact JSON text to out: byte-identical to json_dumps(v, JSON_COMPACT) (keys in
 * the object's order, only '"', '\\' and control characters escaped, "\u00XX" in upper case,
 * reals as jansson's "%.17g" plus ".0" when that looks like an integer, exponent without '+'
 * or leading zeros). Returns 0; -ENOMEM; -EINVAL when a string holds invalid UTF-8 or v is
 * NULL or holds NULL (where json_dumps returns NULL); -ELOOP when nested deeper than
 * FM_JSON_DUMP_MAX_DEPTH. On error out->len is back where it was.
 */
int fm_json_dump(const json_t *v, struct fm_jbuf *out);

/*
 * Long strings written as they came. A document that goes through a stage comes back mostly
 * unchanged, and most of its bytes are one or two long strings (the text); escaping and
 * validating them again on the way out is most of the dump's work. fm_json_parse_raws notes,
 * for at most FM_JSON_RAWS string values of FM_JSON_RAW_MIN bytes or more whose JSON text in
 * the input is exactly what the dumper writes for them (raw UTF-8, and only the escapes the
 * dumper uses), the value and where its text is; fm_json_dump_raws copies that text for a
 * value that is still the same one: the same json_t, with the same buffer and length (a
 * string set anew gets a new buffer). raws holds a reference to each string, so that none is
 * freed and its address reused for another while noted; the input text must outlive the dump.
 * The output is byte-identical to fm_json_dump's.
 */
#define FM_JSON_RAWS 4
#define FM_JSON_RAW_MIN 256

struct fm_json_raw {
	const json_t *str;  /* a reference of raws' own */
	const char *value;  /* json_string_value(str) when noted */
	size_t len;
	const char *text;   /* its JSON text, quotes included, in the parsed input */
	size_t text_len;
};

struct fm_json_raws {
	size_t n;
	struct fm_json_raw r[FM_JSON_RAWS];
};

/* fm_json_parse, noting long strings in raws (released first; empty after a failure). */
json_t *fm_json_parse_raws(const char *text, size_t len, json_error_t *err,
                           struct fm_json_raws *raws);
/* fm_json_dump, copying noted strings that are unchanged (raws may be NULL). */
int fm_json_dump_raws(const json_t *v, struct fm_jbuf *out, const struct fm_json_raws *raws);
/* Drop the references; raws is empty (and may be reused). */
void fm_json_raws_release(struct fm_json_raws *raws);

#endif
