/*
 * core/jsonio.c, the wire codec between the hub and stage workers, must be a drop-in for
 * jansson: every input below is accepted or refused as json_loadb(flags 0) does it, and what
 * is accepted writes back as the bytes written here (checked against json_dumps(JSON_COMPACT)
 * too). Then the string scanner at every position around its 16-byte blocks, reals and
 * integers at their edges, and the buffer's contract (append, restore on error, steal).
 */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <locale.h>
#include <stdbool.h>
#include <stdint.h>

#include "harness.h"
#include "jsonio.h"

/* Expected: ACCEPT with the compact text, or REFUSE with the error code (-1: any). */
struct pcase {
	const char *in;
	size_t len;
	const char *dump;  /* NULL: refused */
	int code;          /* for refusals: enum json_error_code, or -1 */
	bool jansson_skip; /* jansson is known to differ (see jsonio.h) */
};
#define OK(in, out) {in, sizeof(in) - 1, out, -1, false}
#define BAD(in, code) {in, sizeof(in) - 1, NULL, code, false}

static const struct pcase cases[] = {
	/* structure */
	OK("{}", "{}"),
	OK("[]", "[]"),
	OK(" \t\r\n{ }\n", "{}"),
	OK("[ 1 , 2 ,\n3 ]", "[1,2,3]"),
	OK("[[],{},[[]],{\"a\":{}}]", "[[],{},[[]],{\"a\":{}}]"),
	OK("[true,false,null]", "[true,false,null]"),
	BAD("", json_error_premature_end_of_input),
	BAD("   ", json_error_premature_end_of_input),
	BAD("\"a bare string\"", json_error_invalid_syntax),
	BAD("1", json_error_invalid_syntax),
	BAD("true", json_error_invalid_syntax),
	BAD("null", -1),
	BAD("[1,]", -1),
	BAD("[,1]", -1),
	BAD("[1 2]", -1),
	BAD("{\"a\":1,}", -1),
	BAD("{\"a\" 1}", -1),
	BAD("{\"a\":}", -1),
	BAD("{1:2}", -1),
	BAD("{'a':1}", -1),
	BAD("{\"a\":1 \"b\":2}", -1),
	BAD("[", json_error_premature_end_of_input),
	BAD("[[]", -1),
	BAD("{\"a\"", -1),
	BAD("{}{}", json_error_end_of_input_expected),
	BAD("[] x", json_error_end_of_input_expected),
	BAD("[]]", json_error_end_of_input_expected),
	BAD("[tru]", -1),
	BAD("[True]", -1),
	BAD("[nul]", -1),
	BAD("[truefalse]", -1),
	BAD("[null1]", -1),
	BAD("/* note */[]", -1),
	BAD("[NaN]", -1),
	BAD("[Infinity]", -1),
	BAD("[\v1]", -1),
	BAD("\xef\xbb\xbf[]", -1), /* a byte order mark is not whitespace */
	BAD("[]\0", json_error_end_of_input_expected),
	BAD("[ \0]", -1),
	/* jansson 2.14 skips a NUL straight after a number or literal; we refuse it */
	{"[1\0]", 4, NULL, -1, true},
	{"[true\0]", 7, NULL, -1, true},

	/* strings: escapes */
	OK("[\"a\\\"b\\\\c\\/d\"]", "[\"a\\\"b\\\\c/d\"]"),
	OK("[\"\\b\\f\\n\\r\\t\"]", "[\"\\b\\f\\n\\r\\t\"]"),
	OK("[\"\\u0041\\u00e9\\u20AC\"]", "[\"A\xc3\xa9\xe2\x82\xac\"]"),
	OK("[\"\\u0001\\u001f\\u007f\"]", "[\"\\u0001\\u001F\x7f\"]"),
	OK("[\"\\u2028\\u2029\"]", "[\"\xe2\x80\xa8\xe2\x80\xa9\"]"),
	OK("[\"\\ud83d\\udcf0\"]", "[\"\xf0\x9f\x93\xb0\"]"),
	OK("[\"\\uD834\\uDD1E x\"]", "[\"\xf0\x9d\x84\x9e x\"]"),
	OK("[\"\\uDBFF\\uDFFF\"]", "[\"\xf4\x8f\xbf\xbf\"]"),
	OK("[\"\\uFFFF\"]", "[\"\xef\xbf\xbf\"]"),
	OK("[\"\"]", "[\"\"]"),
	OK("[\"/ slash stays\"]", "[\"/ slash stays\"]"),
	BAD("[\"\\ud800\"]", json_error_invalid_syntax),
	BAD("[\"\\ud800x\"]", json_error_invalid_syntax),
	BAD("[\"\\ud800\\u0041\"]", json_error_invalid_syntax),
	BAD("[\"\\ud800\\ud800\"]", json_error_invalid_syntax),
	BAD("[\"\\udc00\"]", json_error_invalid_syntax),
	BAD("[\"\\udc00\\ud800\"]", json_error_invalid_syntax),
	BAD("[\"\\ud800\\u12\"]", -1),
	BAD("[\"\\u0000\"]", json_error_null_character),
	BAD("[\"a\\u0000b\"]", json_error_null_character),
	BAD("{\"\\u0000\":1}", json_error_null_byte_in_key),
	BAD("[\"\\x\"]", -1),
	BAD("[\"\\U0041\"]", -1),
	BAD("[\"\\u12\"]", -1),
	BAD("[\"\\u12G4\"]", -1),
	BAD("[\"\\", -1),
	BAD("[\"\\u00", -1),
	BAD("[\"abc", json_error_premature_end_of_input),
	BAD("[\"abc\\\"]", -1),
	/* strings: raw bytes */
	OK("[\"tab\\tok\x7f\"]", "[\"tab\\tok\x7f\"]"),
	BAD("[\"a\tb\"]", json_error_invalid_syntax),
	BAD("[\"a\nb\"]", json_error_invalid_syntax),
	BAD("[\"a\x01\"]", json_error_invalid_syntax),
	BAD("[\"a\x1f\"]", json_error_invalid_syntax),
	BAD("[\"a\0b\"]", json_error_invalid_syntax),
	/* UTF-8 */
	OK("[\"\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80 \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf\"]",
	   "[\"\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80 \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf\"]"),
	BAD("[\"\xc0\xaf\"]", json_error_invalid_utf8),         /* overlong '/' */
	BAD("[\"\xc1\xbf\"]", json_error_invalid_utf8),         /* overlong */
	BAD("[\"\xe0\x80\xaf\"]", json_error_invalid_utf8),     /* overlong, 3 bytes */
	BAD("[\"\xe0\x9f\xbf\"]", json_error_invalid_utf8),     /* overlong U+07FF */
	BAD("[\"\xf0\x80\x80\xaf\"]", json_error_invalid_utf8), /* overlong, 4 bytes */
	BAD("[\"\xf0\x8f\xbf\xbf\"]", json_error_invalid_utf8), /* overlong U+FFFF */
	BAD("[\"\xed\xa0\x80\"]", json_error_invalid_utf8),     /* surrogate U+D800 */
	BAD("[\"\xed\xbf\xbf\"]", json_error_invalid_utf8),     /* surrogate U+DFFF */
	BAD("[\"\xf4\x90\x80\x80\"]", json_error_invalid_utf8), /* past U+10FFFF */
	BAD("[\"\xf5\x80\x80\x80\"]", json_error_invalid_utf8),
	BAD("[\"\xff\"]", json_error_invalid_utf8),
	BAD("[\"\x80\"]", json_error_invalid_utf8),             /* lone continuation */
	BAD("[\"\xc3\"]", json_error_invalid_utf8),             /* cut short by the quote */
	BAD("[\"\xe2\x82\"]", json_error_invalid_utf8),
	BAD("[\"\xe2\x82", -1),                                  /* cut short by the end */
	BAD("[\"\xf0\x9f\x93\"]", json_error_invalid_utf8),
	BAD("[\xc3\xa9]", -1),                                   /* valid UTF-8, not a token */
	BAD("[1]\xff", -1),

	/* numbers */
	OK("[0,-0,7,-7]", "[0,0,7,-7]"),
	OK("[0.0,-0.0,-0e0]", "[0.0,-0.0,-0.0]"),
	OK("[9223372036854775807,-9223372036854775808]",
	   "[9223372036854775807,-9223372036854775808]"),
	BAD("[9223372036854775808]", json_error_numeric_overflow),
	BAD("[-9223372036854775809]", json_error_numeric_overflow),
	BAD("[123456789012345678901234567890]", json_error_numeric_overflow),
	OK("[123456789012345678901234567890.0]", "[1.2345678901234568e29]"),
	OK("[1e5,1E+2,1e-0,2.5,1.5e-3]", "[100000.0,100.0,1.0,2.5,0.0015]"),
	OK("[0.1,0.00001,1e16,1e17,1e22,1e23]",
	   "[0.10000000000000001,1.0000000000000001e-5,10000000000000000.0,1e17,1e22,"
	   "9.9999999999999992e22]"),
	OK("[9007199254740993,9007199254740993.0]", "[9007199254740993,9007199254740992.0]"),
	OK("[0.1000000000000000055511151231257827021181583404541015625]",
	   "[0.10000000000000001]"),
	OK("[1.7976931348623157e308,-1.7976931348623157e308]",
	   "[1.7976931348623157e308,-1.7976931348623157e308]"),
	OK("[4.9e-324,2.2250738585072014e-308]",
	   "[4.9406564584124654e-324,2.2250738585072014e-308]"),
	OK("[1e-400,-1e-400,0e99999999999]", "[0.0,-0.0,0.0]"),
	BAD("[1e400]", json_error_numeric_overflow),
	BAD("[-1e400]", json_error_numeric_overflow),
	BAD("[1.8e308]", json_error_numeric_overflow),
	BAD("[01]", -1),
	BAD("[-01]", -1),
	BAD("[00]", -1),
	BAD("[+1]", -1),
	BAD("[.5]", -1),
	BAD("[1.]", -1),
	BAD("[1.e5]", -1),
	BAD("[1e]", -1),
	BAD("[1e+]", -1),
	BAD("[-]", -1),
	BAD("[- 1]", -1),
	BAD("[0x10]", -1),
	BAD("[1.5.2]", -1),
	BAD("[1", -1),
	BAD("[-", -1),

	/* objects */
	OK("{\"b\":1,\"a\":2,\"c\":3}", "{\"b\":1,\"a\":2,\"c\":3}"),
	OK("{\"a\":1,\"b\":2,\"a\":3}", "{\"a\":3,\"b\":2}"),
	OK("{\"\":0,\" \":1}", "{\"\":0,\" \":1}"),
	OK("{\"k\\n\\u00e9\\\"\":\"v\"}", "{\"k\\n\xc3\xa9\\\"\":\"v\"}"),
	OK("{\"a\\tb\":{\"c\\nd\":\"e\\rf\",\"a\\tb\":[\"x\\by\"]}}",
	   "{\"a\\tb\":{\"c\\nd\":\"e\\rf\",\"a\\tb\":[\"x\\by\"]}}"),
};

static char *dump_str(const json_t *v)
{
	struct fm_jbuf b = FM_JBUF_INIT;
	if (fm_json_dump(v, &b) < 0) {
		fm_jbuf_free(&b);
		return NULL;
	}
	return fm_jbuf_steal(&b, NULL);
}

/* fm and jansson agree on this input; returns fm's value (or NULL when refused). */
static json_t *agree(const char *in, size_t len, const char *what)
{
	json_error_t fe, je;
	json_t *got = fm_json_parse(in, len, &fe);
	json_t *want = json_loadb(in, len, 0, &je);
	if (!got != !want) {
		fprintf(stderr, "%s: fm %s, jansson %s (%s)\n", what, got ? "accepts" : "refuses",
		        want ? "accepts" : "refuses", got ? je.text : fe.text);
		fmt_failures++;
	} else if (got) {
		char *a = dump_str(got), *b = json_dumps(want, JSON_COMPACT);
		CHECK(json_equal(got, want));
		CHECK_STR(a, b);
		free(a);
		free(b);
	}
	json_decref(want);
	return got;
}

static void test_table(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const struct pcase *c = &cases[i];
		json_error_t err;
		json_t *v = fm_json_parse(c->in, c->len, &err);
		if (!v != !c->dump) {
			fprintf(stderr, "case %zu %.*s: %s, expected the opposite (%s)\n", i,
			        (int)c->len, c->in, v ? "accepted" : "refused", v ? "" : err.text);
			fmt_failures++;
		} else if (v) {
			char *out = dump_str(v);
			CHECK_STR(out, c->dump);
			free(out);
		} else {
			CHECK(err.text[0] != '\0');
			CHECK(err.line >= 1 && err.column >= 1);
			if (c->code >= 0 && json_error_code(&err) != (enum json_error_code)c->code) {
				fprintf(stderr, "case %zu %.*s: error code %d (%s), expected %d\n", i,
				        (int)c->len, c->in, json_error_code(&err), err.text, c->code);
				fmt_failures++;
			}
		}
		json_decref(v);
		if (!c->jansson_skip) {
			char what[64];
			snprintf(what, sizeof what, "case %zu", i);
			json_decref(agree(c->in, c->len, what));
		} else {
			/* the quirk is still there in jansson, so the note in jsonio.h holds */
			json_t *j = json_loadb(c->in, c->len, 0, NULL);
			CHECK(j != NULL);
			json_decref(j);
		}
	}
}

/* Error positions point at the fault, so a bad document in a log can be found. */
static void test_error_position(void)
{
	json_error_t err;
	const char *in = "{\"a\": 1,\n \"b\": [tru]}";
	CHECK(fm_json_parse(in, strlen(in), &err) == NULL);
	CHECK(err.line == 2);
	CHECK(err.column == 8);
	CHECK(err.position == 16);
	CHECK_STR(err.source, "<buffer>");
	CHECK(fm_json_parse(NULL, 0, &err) == NULL);
	CHECK(json_error_code(&err) == json_error_invalid_argument);
	json_t *v = fm_json_parse("[]", 2, NULL); /* err may be NULL */
	CHECK(v != NULL);
	json_decref(v);
}

/* Nesting: jansson counts every value, the outermost at depth 1, and stops past 2048. */
static void test_depth(void)
{
	size_t n = FM_JSON_PARSE_MAX_DEPTH + 2;
	char *s = malloc(8 * n + 16);
	struct {
		size_t levels;
		bool scalar, ok;
	} t[] = {
		{FM_JSON_PARSE_MAX_DEPTH, false, true},
		{FM_JSON_PARSE_MAX_DEPTH + 1, false, false},
		{FM_JSON_PARSE_MAX_DEPTH - 1, true, true},
		{FM_JSON_PARSE_MAX_DEPTH, true, false},
	};
	for (size_t k = 0; k < sizeof t / sizeof *t; k++) {
		for (int obj = 0; obj < 2; obj++) {
			size_t len = 0;
			for (size_t i = 0; i < t[k].levels; i++) {
				if (obj && i)
					len += (size_t)sprintf(s + len, "\"k\":");
				s[len++] = obj ? '{' : '[';
			}
			if (obj) { /* the innermost object holds the scalar, or nothing */
				if (t[k].scalar)
					len += (size_t)sprintf(s + len, "\"k\":1");
				for (size_t i = 0; i < t[k].levels; i++)
					s[len++] = '}';
			} else {
				if (t[k].scalar)
					s[len++] = '1';
				for (size_t i = 0; i < t[k].levels; i++)
					s[len++] = ']';
			}
			json_error_t err;
			json_t *v = fm_json_parse(s, len, &err);
			if (!v != !t[k].ok) {
				fprintf(stderr, "depth %zu%s (%s): %s\n", t[k].levels,
				        t[k].scalar ? "+scalar" : "", obj ? "objects" : "arrays",
				        v ? "accepted" : err.text);
				fmt_failures++;
			}
			if (!v)
				CHECK(json_error_code(&err) == json_error_stack_overflow);
			json_decref(v);
			json_decref(agree(s, len, "depth"));
		}
	}
	free(s);
}

/* Every kind of special byte at every offset of strings around the scanner's 16-byte blocks,
 * in values and in keys. */
static void test_scanner_positions(void)
{
	static const char *const specials[] = {
		"\\n", "\\\"", "\\\\", "\\u00e9", "\\ud83d\\udcf0", "\xc3\xa9", "\xe2\x82\xac",
		"\xf0\x9f\x93\xb0", "\x7f", "\x01", "\x1f", "\xff", "\xc3", "\xe2\x82", "\xed\xa0\x80",
		"\xc0\x80", "\"", "\\",
	};
	char in[256], what[64];
	for (size_t k = 0; k < sizeof specials / sizeof *specials; k++) {
		for (size_t len = 0; len <= 48; len++) {
			for (size_t pos = 0; pos <= len; pos++) {
				for (int key = 0; key < 2; key++) {
					size_t n = 0;
					n += (size_t)sprintf(in + n, key ? "{\"" : "[\"");
					memset(in + n, 'a', pos);
					n += pos;
					n += (size_t)sprintf(in + n, "%s", specials[k]);
					memset(in + n, 'b', len - pos);
					n += len - pos;
					n += (size_t)sprintf(in + n, key ? "\":0}" : "\"]");
					snprintf(what, sizeof what, "special %zu len %zu pos %zu key %d", k,
					         len, pos, key);
					json_decref(agree(in, n, what));
				}
			}
		}
	}
}

/* Values built in code (what plugins emit) write exactly as json_dumps writes them. */
static void test_dump_values(void)
{
	/* a NUL inside a string (json_stringn allows it) */
	json_t *a = json_pack("[s%]", "a\0b", (size_t)3);
	char *s = dump_str(a);
	CHECK_STR(s, "[\"a\\u0000b\"]");
	free(s);
	json_decref(a);

	/* every control byte, and the bytes around them */
	char all[129];
	for (int i = 0; i < 128; i++)
		all[i] = (char)i;
	a = json_array();
	json_array_append_new(a, json_stringn(all, 128));
	s = dump_str(a);
	char *want = json_dumps(a, JSON_COMPACT);
	CHECK_STR(s, want);
	CHECK(s && strstr(s, "\\u0000\\u0001") && strstr(s, "\\b\\t\\n\\u000B\\f\\r\\u000E"));
	free(s);
	free(want);
	json_decref(a);

	/* scalars on their own (json_dumps needs JSON_ENCODE_ANY for these) */
	struct {
		json_t *v;
		const char *text;
	} sc[] = {
		{json_integer(INT64_MIN), "-9223372036854775808"},
		{json_integer(INT64_MAX), "9223372036854775807"},
		{json_integer(0), "0"},
		{json_real(100.0), "100.0"},
		{json_real(-0.0), "-0.0"},
		{json_real(1e300), "1.0000000000000001e300"},
		{json_real(1e-300), "1e-300"},
		{json_real(DBL_TRUE_MIN), "4.9406564584124654e-324"},
		{json_real(1.0 / 3), "0.33333333333333331"},
		{json_real(-2.5e-7), "-2.4999999999999999e-7"},
		{json_string("caf\xc3\xa9 \"x\""), "\"caf\xc3\xa9 \\\"x\\\"\""},
		{json_null(), "null"},
		{json_true(), "true"},
		{json_false(), "false"},
	};
	for (size_t i = 0; i < sizeof sc / sizeof *sc; i++) {
		s = dump_str(sc[i].v);
		CHECK_STR(s, sc[i].text);
		want = json_dumps(sc[i].v, JSON_COMPACT | JSON_ENCODE_ANY);
		CHECK_STR(s, want);
		free(s);
		free(want);
		json_decref(sc[i].v);
	}

	/* reals over the whole range, from bit patterns of a fixed pseudo-random sequence */
	uint64_t x = 0x9E3779B97F4A7C15u;
	for (int i = 0; i < 20000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		double d;
		memcpy(&d, &x, sizeof d);
		json_t *r = json_real(d);
		if (!r)
			continue; /* NaN and infinities cannot be held */
		s = dump_str(r);
		want = json_dumps(r, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!s || !want || strcmp(s, want) != 0) {
			fprintf(stderr, "real %a: %s, jansson %s\n", d, s ? s : "(fail)",
			        want ? want : "(fail)");
			fmt_failures++;
		}
		/* and the text reads back to the same double */
		char doc[96];
		snprintf(doc, sizeof doc, "[%s]", s ? s : "");
		json_t *back = fm_json_parse(doc, strlen(doc), NULL);
		CHECK(back && json_real_value(json_array_get(back, 0)) == d);
		json_decref(back);
		free(s);
		free(want);
		json_decref(r);
	}

	/* integers: powers of ten and their neighbours, both signs */
	json_int_t p = 1;
	/* 10^0 .. 10^18; stop multiplying before 10^19 overflows json_int_t */
	for (int i = 0; i < 19; i++, p = i < 19 ? p * 10 : p) {
		json_int_t vals[] = {p, p - 1, p + 1, -p, -p + 1, -p - 1};
		for (size_t k = 0; k < sizeof vals / sizeof *vals; k++) {
			json_t *v = json_integer(vals[k]);
			s = dump_str(v);
			want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			CHECK_STR(s, want);
			free(s);
			free(want);
			json_decref(v);
		}
	}
}

/* A string holding invalid UTF-8 (json_string_nocheck lets a plugin make one) cannot be
 * written, as with json_dumps; what the buffer held before stays intact. */
static void test_dump_errors(void)
{
	struct fm_jbuf b = FM_JBUF_INIT;
	CHECK(fm_json_dump(json_null(), &b) == 0);
	CHECK_STR(b.data, "null");
	json_t *a = json_pack("{s:i,s:[o]}", "x", 1, "y", json_stringn_nocheck("ok\xff", 3));
	CHECK(a != NULL);
	char *j = json_dumps(a, JSON_COMPACT);
	CHECK(j == NULL);
	free(j);
	CHECK(fm_json_dump(a, &b) == -EINVAL);
	CHECK(b.len == 4);
	CHECK_STR(b.data, "null");
	json_decref(a);

	a = json_pack("[o]", json_stringn_nocheck("\xed\xa0\x80", 3)); /* a surrogate */
	CHECK(fm_json_dump(a, &b) == -EINVAL);
	json_decref(a);
	CHECK(fm_json_dump(NULL, &b) == -EINVAL);

	/* nesting deeper than FM_JSON_DUMP_MAX_DEPTH: refused, not a stack overflow */
	json_t *root = json_array(), *cur = root;
	for (int i = 0; i < FM_JSON_DUMP_MAX_DEPTH + 10; i++) {
		json_t *n = json_array();
		json_array_append_new(cur, n);
		cur = n;
	}
	CHECK(fm_json_dump(root, &b) == -ELOOP);
	CHECK_STR(b.data, "null");
	json_decref(root);

	/* at the limit exactly: written, and it reads back; one more level is refused */
	for (int extra = 0; extra < 2; extra++) {
		root = json_array();
		cur = root;
		for (int i = 1; i < FM_JSON_DUMP_MAX_DEPTH - 1 + extra; i++) {
			json_t *n = json_array();
			json_array_append_new(cur, n);
			cur = n;
		}
		json_array_append_new(cur, json_integer(1));
		struct fm_jbuf d = FM_JBUF_INIT;
		int rc = fm_json_dump(root, &d);
		CHECK(rc == (extra ? -ELOOP : 0));
		if (rc == 0) {
			json_t *back = fm_json_parse(d.data, d.len, NULL);
			CHECK(back && json_equal(back, root));
			json_decref(back);
		}
		fm_jbuf_free(&d);
		json_decref(root);
	}

	/* appending: a second value lands after the first */
	a = json_pack("{s:s}", "k", "v");
	CHECK(fm_json_dump(a, &b) == 0);
	CHECK_STR(b.data, "null{\"k\":\"v\"}");
	json_decref(a);
	size_t len;
	char *stolen = fm_jbuf_steal(&b, &len);
	CHECK_STR(stolen, "null{\"k\":\"v\"}");
	CHECK(len == 13);
	CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
	free(stolen);
	fm_jbuf_reset(&b);
	CHECK(fm_jbuf_reserve(&b, 1000) == 0 && b.cap > 1000);
	fm_jbuf_free(&b);
}

/* Long documents, with strings past any internal buffer size, round-trip exactly. */
static void test_large(void)
{
	size_t n = 300000;
	char *text = malloc(n * 2 + 64), *p = text;
	p += sprintf(p, "{\"text\":\"");
	for (size_t i = 0; i < n / 10; i++) {
		static const char *const bits[] = {"plain word", "\\n", "caf\xc3\xa9", "\\\"q\\\"",
		                                   "\xe2\x80\x9c", "\\u00e9", "\\t"};
		p += sprintf(p, "%s ", bits[i % 7]);
	}
	p += sprintf(p, "\",\"n\":[1,2.5,-3]}");
	json_t *v = agree(text, (size_t)(p - text), "large");
	CHECK(v != NULL);
	char *back = dump_str(v);
	json_t *again = back ? fm_json_parse(back, strlen(back), NULL) : NULL;
	CHECK(again && json_equal(v, again));
	json_decref(again);
	free(back);
	json_decref(v);
	free(text);
}

/* Numbers read and write the same under a locale whose decimal point is a comma. */
static void test_locale(void)
{
	static const char *const names[] = {"de_DE.UTF-8", "fr_FR.UTF-8", "de_DE", "fr_FR"};
	const char *set = NULL;
	for (size_t i = 0; i < 4 && !set; i++)
		set = setlocale(LC_NUMERIC, names[i]);
	if (!set) {
		printf("test_jsonio: no comma-decimal locale installed, locale check skipped\n");
		return;
	}
	const char *in = "[0.5,1e-5,123456789.125,1.7976931348623157e308]";
	json_t *v = fm_json_parse(in, strlen(in), NULL);
	CHECK(v && json_real_value(json_array_get(v, 0)) == 0.5);
	char *s = dump_str(v);
	CHECK_STR(s, "[0.5,1.0000000000000001e-5,123456789.125,1.7976931348623157e308]");
	free(s);
	json_decref(v);
	setlocale(LC_NUMERIC, "C");
}

/* A long string the parser noted is written as it came only while it is the same value:
 * output identical to a fresh dump whatever the input's escapes, whatever was changed. */
static void test_raws(void)
{
	char body[600];
	for (size_t i = 0; i < sizeof(body) - 1; i++)
		body[i] = (char)('a' + i % 26);
	body[sizeof(body) - 1] = '\0';
	char *text = NULL;
	/* noted: plain, and the dumper's own escapes; not noted: "\/", a lower-case \u001f, a
	 * \u escape of a character the dumper writes as it is, a short string */
	if (asprintf(&text,
	             "{\"a\":\"%s\\n\\\"q\\\" \\u001F caf\xc3\xa9\",\"b\":\"%s\\/\",\"c\":\"%s\\u001f\","
	             "\"d\":\"%s\\u2019\",\"e\":\"short\"}",
	             body, body, body, body) < 0)
		abort();
	struct fm_json_raws raws = {0};
	json_t *doc = fm_json_parse_raws(text, strlen(text), NULL, &raws);
	CHECK(doc != NULL);
	CHECK(raws.n == 1);
	CHECK(raws.n == 1 && raws.r[0].str == json_object_get(doc, "a"));
	CHECK(raws.n == 1 && raws.r[0].text[0] == '"' &&
	      raws.r[0].text[raws.r[0].text_len - 1] == '"');

	struct fm_jbuf fresh = FM_JBUF_INIT, copied = FM_JBUF_INIT;
	CHECK(fm_json_dump(doc, &fresh) == 0);
	CHECK(fm_json_dump_raws(doc, &copied, &raws) == 0);
	CHECK(fresh.len == copied.len && memcmp(fresh.data, copied.data, fresh.len) == 0);

	/* changed in place, to a value of the same length: the new value is written */
	char *other = strdup(json_string_value(json_object_get(doc, "a")));
	other[0] = 'Z';
	CHECK(json_string_set(json_object_get(doc, "a"), other) == 0);
	fm_jbuf_reset(&fresh);
	fm_jbuf_reset(&copied);
	CHECK(fm_json_dump(doc, &fresh) == 0);
	CHECK(fm_json_dump_raws(doc, &copied, &raws) == 0);
	CHECK(fresh.len == copied.len && memcmp(fresh.data, copied.data, fresh.len) == 0);
	CHECK(strstr(copied.data, "\"a\":\"Zbcd") != NULL);

	/* replaced by a new string of the same length (which may take the old one's place in
	 * memory once freed, were it not for the reference raws holds) */
	other[0] = 'Y';
	CHECK(json_object_set_new(doc, "a", json_string(other)) == 0);
	fm_jbuf_reset(&copied);
	CHECK(fm_json_dump_raws(doc, &copied, &raws) == 0);
	CHECK(strstr(copied.data, "\"a\":\"Ybcd") != NULL);
	free(other);

	fm_json_raws_release(&raws);
	CHECK(raws.n == 0);
	json_decref(doc);

	/* a failed parse leaves nothing noted */
	text[strlen(text) - 1] = ',';
	CHECK(fm_json_parse_raws(text, strlen(text), NULL, &raws) == NULL);
	CHECK(raws.n == 0);
	fm_jbuf_free(&fresh);
	fm_jbuf_free(&copied);
	free(text);
}

int main(void)
{
	test_table();
	test_error_position();
	test_depth();
	test_scanner_positions();
	test_dump_values();
	test_dump_errors();
	test_large();
	test_locale();
	test_raws();
	return fmt_done("test_jsonio");
}
