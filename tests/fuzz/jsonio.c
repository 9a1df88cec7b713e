/* Fuzz target: core/jsonio.c against jansson, the codec it stands in for on the wire.
 *  - fm_json_parse accepts exactly what json_loadb(flags 0) accepts, and builds an equal value;
 *    the one deliberate difference (jansson skips a NUL byte right after a number or literal)
 *    is checked by parsing the input without its NULs;
 *  - fm_json_dump writes the very bytes json_dumps(JSON_COMPACT) writes, of what either parser
 *    built, and reads back to an equal value; so does fm_json_dump_raws, copying long strings
 *    as fm_json_parse_raws found them;
 *  - the input taken as one string (any bytes, via json_stringn_nocheck), and its first bytes
 *    taken as a real and an integer, dump identically too, or fail in both.
 * Any difference aborts. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsonio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fm_json_dump and json_dumps agree on v: same bytes, or both fail. */
static void same_dump(const json_t *v, size_t jansson_flags)
{
	char *want = json_dumps(v, JSON_COMPACT | jansson_flags);
	struct fm_jbuf b = FM_JBUF_INIT;
	int rc = fm_json_dump(v, &b);
	if (rc == -ENOMEM)
		abort();
	if (!want != (rc != 0))
		abort();
	if (want && (b.len != strlen(want) || memcmp(b.data, want, b.len) != 0))
		abort();
	if (want && (json_is_array(v) || json_is_object(v))) {
		/* what was written reads back as jansson reads it back (a NUL in a string does
		 * not: "\u0000" is refused without JSON_ALLOW_NUL) */
		json_t *jback = json_loadb(want, strlen(want), 0, NULL);
		json_t *back = fm_json_parse(b.data, b.len, NULL);
		if (!jback != !back || (back && (!json_equal(back, v) || !json_equal(back, jback))))
			abort();
		json_decref(back);
		json_decref(jback);
	}
	free(want);
	fm_jbuf_free(&b);
}

static void check_parse(const uint8_t *data, size_t size)
{
	json_error_t je, fe;
	json_t *want = json_loadb((const char *)data, size, 0, &je);
	json_t *got = fm_json_parse((const char *)data, size, &fe);
	if (want && !got) {
		/* jansson's NUL quirk: then the input without NULs must parse to the same */
		if (!memchr(data, 0, size))
			abort();
		char *clean = malloc(size ? size : 1);
		size_t n = 0;
		if (!clean)
			abort();
		for (size_t i = 0; i < size; i++)
			if (data[i])
				clean[n++] = (char)data[i];
		got = fm_json_parse(clean, n, NULL);
		free(clean);
		if (!got)
			abort();
	}
	if (!want && got)
		abort();
	if (want) {
		if (!json_equal(want, got))
			abort();
		same_dump(want, 0);
		same_dump(got, 0);
		/* long strings copied as they came write the same bytes */
		struct fm_json_raws raws = {0};
		json_t *again = fm_json_parse_raws((const char *)data, size, NULL, &raws);
		if (again) {
			char *text = json_dumps(want, JSON_COMPACT);
			struct fm_jbuf b = FM_JBUF_INIT;
			if (!text || fm_json_dump_raws(again, &b, &raws) != 0 || b.len != strlen(text) ||
			    memcmp(b.data, text, b.len) != 0)
				abort();
			free(text);
			fm_jbuf_free(&b);
		}
		fm_json_raws_release(&raws);
		json_decref(again);
	}
	json_decref(want);
	json_decref(got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_parse(data, size);

	json_t *s = json_stringn_nocheck((const char *)data, size);
	json_t *arr = json_array();
	if (!s || !arr || json_array_append(arr, s))
		abort();
	same_dump(arr, 0);
	same_dump(s, JSON_ENCODE_ANY);
	json_decref(arr);
	json_decref(s);

	if (size >= 8) {
		double d;
		json_int_t i;
		memcpy(&d, data, 8);
		memcpy(&i, data, 8);
		json_t *r = json_real(d); /* NULL for NaN and infinities, as jansson wants */
		if (r)
			same_dump(r, JSON_ENCODE_ANY);
		json_decref(r);
		json_t *n = json_integer(i);
		same_dump(n, JSON_ENCODE_ANY);
		json_decref(n);
	}
	return 0;
}
