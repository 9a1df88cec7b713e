#include "regex.h"

#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "buf.h"

/* The bytes PCRE2 holds for one regex, counted by re_malloc/re_free. It must live as long as
 * the compiled code, which keeps a pointer to it for the free at the end. */
struct re_memory {
	size_t used;
	bool refused; /* an allocation was refused for the bound */
};

struct fm_re {
	struct re_memory mem;
	pcre2_code *code;
};

struct fm_re_scratch {
	pcre2_match_context *mctx;
	pcre2_match_data *md;
	pcre2_jit_stack *jit;
};

/* Room for the size in front of each block, keeping the block's alignment. */
#define HEADER (sizeof(max_align_t))

/* PCRE2's allocator for one regex: past FM_RE_MAX_MEMORY in all, it answers "no memory", and
 * PCRE2 gives up with an error instead of growing, whatever the pattern makes it do. */
static void *re_malloc(PCRE2_SIZE n, void *arg)
{
	struct re_memory *m = arg;
	if (n > FM_RE_MAX_MEMORY - m->used) {
		m->refused = true;
		return NULL;
	}
	unsigned char *p = malloc(HEADER + n);
	if (!p)
		return NULL;
	memcpy(p, &n, sizeof(n));
	m->used += n;
	return p + HEADER;
}

static void re_free(void *block, void *arg)
{
	if (!block)
		return;
	struct re_memory *m = arg;
	unsigned char *p = (unsigned char *)block - HEADER;
	PCRE2_SIZE n;
	memcpy(&n, p, sizeof(n));
	m->used -= n;
	free(p);
}

/* ---- the rules' syntax to PCRE2 ------------------------------------------------------------ */

/* Copy the class starting at *pp ('[') as it is: ']' first is a member, and neither a
 * backslash pair nor [:alpha:] ends it. */
static void copy_class(const char **pp, struct fm_buf *out)
{
	const char *p = *pp;
	fm_buf_putc(out, *p++);
	if (*p == '^')
		fm_buf_putc(out, *p++);
	if (*p == ']')
		fm_buf_putc(out, *p++);
	while (*p && *p != ']') {
		size_t n = 1;
		if (*p == '\\' && p[1]) {
			n = 2;
		} else if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
			const char close[3] = {p[1], ']', '\0'};
			const char *end = strstr(p + 2, close);
			n = end ? (size_t)(end + 2 - p) : 1;
		}
		fm_buf_append(out, p, n);
		p += n;
	}
	if (*p)
		fm_buf_putc(out, *p++);
	*pp = p;
}

/* PCRE2 reads the rules' POSIX extended syntax the same way but for two GNU forms it lacks:
 * \< and \> (start, end of a word) become lookarounds, and {,n} becomes {0,n} (PCRE2 10.42
 * would take it literally). Classes and \Q...\E are copied untouched. */
static int translate(const char *p, struct fm_buf *out)
{
	while (*p) {
		size_t n = 1;
		if (*p == '[') {
			copy_class(&p, out);
			continue;
		}
		if (p[0] == '\\' && p[1] == 'Q') {
			const char *end = strstr(p + 2, "\\E");
			n = end ? (size_t)(end + 2 - p) : strlen(p);
		} else if (p[0] == '\\' && (p[1] == '<' || p[1] == '>')) {
			fm_buf_puts(out, p[1] == '<' ? "\\b(?=\\w)" : "\\b(?<=\\w)");
			p += 2;
			continue;
		} else if (p[0] == '\\' && p[1]) {
			n = 2;
		} else if (p[0] == '{' && p[1] == ',' && p[2] >= '0' && p[2] <= '9' &&
		           p[2 + strspn(p + 2, "0123456789")] == '}') {
			fm_buf_puts(out, "{0");
			p++;
			continue;
		}
		fm_buf_append(out, p, n);
		p += n;
	}
	return out->oom ? -ENOMEM : 0;
}

/* ---- compiling ----------------------------------------------------------------------------- */

/* Options that keep the rules' meaning: '.' matches a newline and '$' only the end, as with
 * regcomp() before (categories are joined by newlines); UTF-8 with Unicode word characters and
 * case folding, as the keywords have; bytes that are not UTF-8 only fail to match. */
#define RE_OPTIONS                                                                               \
	(PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY | \
	 PCRE2_NEVER_BACKSLASH_C | PCRE2_NO_AUTO_CAPTURE)

static void compile_error(int code, size_t offset, const struct fm_re *re, char *err,
                          size_t errlen)
{
	if (re->mem.refused || code == PCRE2_ERROR_PATTERN_TOO_LARGE) {
		snprintf(err, errlen, "too large: a regex may take %u KiB compiled (nested or large "
		         "counted repetitions?)", FM_RE_MAX_MEMORY >> 10);
		return;
	}
	PCRE2_UCHAR msg[160];
	if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0)
		snprintf((char *)msg, sizeof(msg), "error %d", code);
	/* POSIX allowed x++ (as x+); Perl syntax reads it as possessive, and refuses x+++. */
	snprintf(err, errlen, "%s (at offset %zu)%s", (const char *)msg, offset,
	         code == PCRE2_ERROR_QUANTIFIER_INVALID
	                 ? ": one quantifier at a time (x+? and x++ are lazy and possessive)"
	                 : "");
}

/* The JIT makes matching several times faster; without it (no JIT on this machine, or its
 * code would pass the bound) the interpreter runs, bounded by its heap limit. */
static void jit_compile(struct fm_re *re)
{
	size_t jit_size = 0;
	if (pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) != 0)
		return;
	if (pcre2_pattern_info(re->code, PCRE2_INFO_JITSIZE, &jit_size) == 0 &&
	    jit_size <= FM_RE_MAX_MEMORY)
		return;
	/* Recompiling without the JIT is the only way to drop its code. */
	pcre2_code *plain = pcre2_code_copy(re->code);
	if (plain) {
		pcre2_code_free(re->code);
		re->code = plain;
	}
}

int fm_re_compile(const char *pattern, bool icase, struct fm_re **out, char *err,
                  size_t errlen)
{
	struct fm_buf pcre = FM_BUF_INIT;
	pcre2_general_context *gc = NULL;
	pcre2_compile_context *cc = NULL;
	int rc = -ENOMEM, code;
	PCRE2_SIZE offset;
	*out = NULL;
	struct fm_re *re = calloc(1, sizeof(*re));
	if (!re || translate(pattern, &pcre) < 0)
		goto out;
	if (!(gc = pcre2_general_context_create(re_malloc, re_free, &re->mem)) ||
	    !(cc = pcre2_compile_context_create(gc)))
		goto out;
	re->code = pcre2_compile((PCRE2_SPTR)fm_buf_str(&pcre), pcre.len,
	                         RE_OPTIONS | (icase ? PCRE2_CASELESS : 0), &code, &offset, cc);
	if (!re->code) {
		compile_error(code, offset, re, err, errlen);
		rc = -EINVAL;
		goto out;
	}
	jit_compile(re);
	*out = re;
	re = NULL;
	rc = 0;
out:
	pcre2_compile_context_free(cc);
	pcre2_general_context_free(gc);
	fm_re_free(re);
	fm_buf_free(&pcre);
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	return rc;
}

void fm_re_free(struct fm_re *re)
{
	if (!re)
		return;
	pcre2_code_free(re->code);
	free(re);
}

/* ---- matching ------------------------------------------------------------------------------ */

struct fm_re_scratch *fm_re_scratch_new(void)
{
	struct fm_re_scratch *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	/* One pair of offsets: the rules ask whether, not where. */
	s->md = pcre2_match_data_create(1, NULL);
	s->mctx = pcre2_match_context_create(NULL);
	s->jit = pcre2_jit_stack_create(32u << 10, FM_RE_JIT_STACK, NULL);
	if (!s->md || !s->mctx) {
		fm_re_scratch_free(s);
		return NULL;
	}
	pcre2_set_match_limit(s->mctx, FM_RE_MATCH_LIMIT);
	pcre2_set_depth_limit(s->mctx, FM_RE_MATCH_LIMIT);
	pcre2_set_heap_limit(s->mctx, FM_RE_HEAP_LIMIT_KIB);
	/* Without a stack of its own the JIT uses 32 KiB of the thread's. */
	if (s->jit)
		pcre2_jit_stack_assign(s->mctx, NULL, s->jit);
	return s;
}

void fm_re_scratch_free(struct fm_re_scratch *s)
{
	if (!s)
		return;
	pcre2_match_data_free(s->md);
	pcre2_match_context_free(s->mctx);
	pcre2_jit_stack_free(s->jit);
	free(s);
}

int fm_re_match(const struct fm_re *re, struct fm_re_scratch *s, const char *text, size_t len)
{
	int rc = pcre2_match(re->code, (PCRE2_SPTR)text, len, 0, 0, s->md, s->mctx);
	if (rc >= 0)
		return 1;
	switch (rc) {
	case PCRE2_ERROR_NOMATCH:
		return 0;
	case PCRE2_ERROR_NOMEMORY:
		return -ENOMEM;
	default:
		/* PCRE2_ERROR_MATCHLIMIT, DEPTHLIMIT, HEAPLIMIT, JIT_STACKLIMIT */
		return -E2BIG;
	}
}
