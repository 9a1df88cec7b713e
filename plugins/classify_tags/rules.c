/*
 * Rules file parser and matcher. Grammar (one rule a line; see config/rules.example):
 *
 *   line    := rule? comment?
 *   rule    := "tag" NAME matcher | "block" matcher
 *   matcher := ("keyword" | "keywords") TERM ("," TERM)* [in FIELDS]
 *            | "regex" "/" PATTERN "/" FLAGS [in FIELDS]
 *   TERM    := "quoted \"string\"" | bareword
 *   FIELDS  := field ("," field)*       title text url source categories summary all
 *
 * Keywords go into one Aho–Corasick automaton (ac.h) over case-folded text (fold.h) and must
 * match on word boundaries; regexes are POSIX extended, compiled by PCRE2 within hard bounds
 * (regex.h), and run on the raw field text.
 */
#include "rules.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <unistr.h>

#include "ac.h"
#include "fold.h"
#include "regex.h"
#include "regfile.h"

enum field {
	F_TITLE = 1u << 0,
	F_TEXT = 1u << 1,
	F_URL = 1u << 2,
	F_SOURCE = 1u << 3,
	F_CATEGORIES = 1u << 4,
	F_SUMMARY = 1u << 5,
	F_ALL = (1u << 6) - 1,
	F_DEFAULT = F_TITLE | F_TEXT,
};

static const struct {
	const char *name;
	unsigned bit;
	const char *key; /* the document field */
} fields[] = {
	{"title", F_TITLE, "title"},
	{"text", F_TEXT, "text"},
	{"url", F_URL, "url"},
	{"source", F_SOURCE, "source"},
	{"categories", F_CATEGORIES, "categories"},
	{"summary", F_SUMMARY, "summary"},
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

struct rule {
	char *tag;       /* NULL: a block rule */
	unsigned fields; /* enum field bits */
	int line;
	struct fm_re *re; /* NULL: a keyword rule */
};

struct keyword {
	uint32_t rule;
	uint32_t len;      /* folded length in bytes */
	bool bound_start;  /* the keyword starts with a word character: need a boundary before */
	bool bound_end;
};

struct fm_rules {
	struct rule *rules;
	size_t nrules;
	struct keyword *kws;
	size_t nkws;
	struct fm_ac *ac;
	unsigned kw_fields; /* fields some keyword rule reads */
	unsigned re_fields; /* fields some regex rule reads */
};

/* ---- parsing ---------------------------------------------------------------------------- */

struct parser {
	const char *name;
	int line;
	const char *p; /* cursor in the current line (NUL-terminated copy) */
	fm_rules_err_fn err;
	void *arg;
	int nerr;
	struct fm_rules *r;
	struct fm_buf tmp;
	struct fm_buf fold;
};

/* Past this many, further messages are counted rather than logged. */
#define MAX_REPORTED 100

static void perr(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void perr(struct parser *ps, const char *fmt, ...)
{
	ps->nerr++;
	if (ps->nerr > MAX_REPORTED || !ps->err)
		return;
	char msg[512];
	int off = snprintf(msg, sizeof(msg), "%s:%d: ", ps->name, ps->line);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg + off, sizeof(msg) - (size_t)off, fmt, ap);
	va_end(ap);
	ps->err(ps->arg, msg);
}

static void skip_ws(struct parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r')
		ps->p++;
}

static bool at_end(struct parser *ps)
{
	skip_ws(ps);
	return *ps->p == '\0' || *ps->p == '#';
}

static bool is_bare(char c)
{
	return c && c != ' ' && c != '\t' && c != '\r' && c != ',' && c != '"' && c != '#';
}

/* A bare word into ps->tmp; false (nothing consumed) when none is here. */
static bool read_word(struct parser *ps)
{
	skip_ws(ps);
	fm_buf_truncate(&ps->tmp, 0);
	const char *s = ps->p;
	while (is_bare(*ps->p))
		ps->p++;
	fm_buf_append(&ps->tmp, s, (size_t)(ps->p - s));
	return ps->p > s;
}

/* A double-quoted string (\" and \\ escapes) or a bare word into ps->tmp. Returns 1, 0 when
 * there is no term here, -1 after reporting an error. */
static int read_term(struct parser *ps)
{
	skip_ws(ps);
	if (*ps->p != '"')
		return read_word(ps) ? 1 : 0;
	fm_buf_truncate(&ps->tmp, 0);
	ps->p++;
	for (;;) {
		char c = *ps->p;
		if (c == '\0') {
			perr(ps, "unterminated string (missing closing '\"')");
			return -1;
		}
		ps->p++;
		if (c == '"')
			break;
		if (c == '\\') {
			if (*ps->p != '"' && *ps->p != '\\') {
				perr(ps, "bad escape '\\%c' in string (only \\\" and \\\\)", *ps->p ? *ps->p : ' ');
				return -1;
			}
			c = *ps->p++;
		}
		fm_buf_putc(&ps->tmp, c);
	}
	return 1;
}

static bool expect_comma(struct parser *ps)
{
	skip_ws(ps);
	if (*ps->p != ',')
		return false;
	ps->p++;
	return true;
}

/* "in FIELD[, FIELD]..." if present; returns the field bits (F_DEFAULT when absent), 0 after an
 * error. */
static unsigned parse_in(struct parser *ps)
{
	if (at_end(ps))
		return F_DEFAULT;
	const char *save = ps->p;
	if (!read_word(ps) || strcmp(fm_buf_str(&ps->tmp), "in") != 0) {
		ps->p = save;
		read_word(ps);
		perr(ps, "unexpected '%.40s' (expected 'in FIELD, ...' or the end of the line)",
		     ps->tmp.len ? fm_buf_str(&ps->tmp) : save);
		return 0;
	}
	unsigned bits = 0;
	do {
		if (!read_word(ps)) {
			perr(ps, "missing field name after 'in' or ','");
			return 0;
		}
		const char *w = fm_buf_str(&ps->tmp);
		unsigned bit = 0;
		if (strcmp(w, "all") == 0)
			bit = F_ALL;
		for (size_t i = 0; i < NFIELDS && !bit; i++)
			if (strcmp(w, fields[i].name) == 0)
				bit = fields[i].bit;
		if (!bit) {
			perr(ps, "unknown field '%.40s' (fields: title, text, url, source, categories, "
			         "summary, all)", w);
			return 0;
		}
		bits |= bit;
	} while (expect_comma(ps));
	if (!at_end(ps)) {
		perr(ps, "unexpected '%.40s' after the field list", ps->p);
		return 0;
	}
	return bits;
}

static int push_rule(struct parser *ps, const char *tag, unsigned fieldbits, size_t *idx)
{
	struct fm_rules *r = ps->r;
	struct rule *nr = realloc(r->rules, (r->nrules + 1) * sizeof(*nr));
	if (!nr)
		return -ENOMEM;
	r->rules = nr;
	struct rule *ru = &r->rules[r->nrules];
	memset(ru, 0, sizeof(*ru));
	if (tag && !(ru->tag = strdup(tag)))
		return -ENOMEM;
	ru->fields = fieldbits;
	ru->line = ps->line;
	*idx = r->nrules++;
	return 0;
}

struct pending_kw {
	char *folded;
	size_t len;
};

/* Terms of a keyword rule, folded and checked; returned in *kws (caller frees each). */
static int parse_keywords(struct parser *ps, struct pending_kw **kws, size_t *nkws)
{
	*kws = NULL;
	*nkws = 0;
	do {
		int rc = read_term(ps);
		if (rc < 0)
			return -EINVAL;
		if (rc == 0) {
			perr(ps, "missing keyword (write \"a phrase\" or a bare word)");
			return -EINVAL;
		}
		if (u8_check((const uint8_t *)ps->tmp.data, ps->tmp.len)) {
			perr(ps, "keyword is not valid UTF-8");
			return -EINVAL;
		}
		if (fm_fold(&ps->fold, fm_buf_str(&ps->tmp), ps->tmp.len) < 0)
			return -ENOMEM;
		/* Folding collapsed white space; trim what is left at the ends. */
		const char *f = fm_buf_str(&ps->fold);
		size_t len = ps->fold.len;
		while (len && f[len - 1] == ' ')
			len--;
		while (len && *f == ' ')
			f++, len--;
		if (len == 0) {
			perr(ps, "empty keyword");
			return -EINVAL;
		}
		struct pending_kw *n = realloc(*kws, (*nkws + 1) * sizeof(*n));
		if (!n)
			return -ENOMEM;
		*kws = n;
		if (!(n[*nkws].folded = strndup(f, len)))
			return -ENOMEM;
		n[(*nkws)++].len = len;
	} while (expect_comma(ps));
	return 0;
}

static int add_keywords(struct parser *ps, size_t rule, struct pending_kw *kws, size_t nkws)
{
	struct fm_rules *r = ps->r;
	struct keyword *nk = realloc(r->kws, (r->nkws + nkws) * sizeof(*nk));
	if (!nk)
		return -ENOMEM;
	r->kws = nk;
	for (size_t i = 0; i < nkws; i++) {
		const char *s = kws[i].folded;
		size_t n = kws[i].len;
		struct keyword *k = &r->kws[r->nkws];
		k->rule = (uint32_t)rule;
		k->len = (uint32_t)n;
		k->bound_start = fm_word_char_at(s, n, 0);
		k->bound_end = fm_word_char_before(s, n);
		if (fm_ac_add(r->ac, s, n, (uint32_t)r->nkws) < 0)
			return -ENOMEM;
		r->nkws++;
	}
	return 0;
}

/* "/pattern/flags": '\/' stands for '/', other escapes go to the regex unchanged. */
static int parse_regex(struct parser *ps, bool *icase)
{
	skip_ws(ps);
	if (*ps->p != '/') {
		perr(ps, "expected /pattern/ after 'regex'");
		return -EINVAL;
	}
	ps->p++;
	fm_buf_truncate(&ps->tmp, 0);
	for (;;) {
		char c = *ps->p;
		if (c == '\0') {
			perr(ps, "unterminated regex (missing closing '/')");
			return -EINVAL;
		}
		ps->p++;
		if (c == '/')
			break;
		if (c == '\\' && *ps->p) {
			char e = *ps->p++;
			if (e >= '1' && e <= '9') {
				/* Back-references make matching time exponential: refuse them. */
				perr(ps, "back-references (\\%c) are not allowed in regexes", e);
				return -EINVAL;
			}
			if (e != '/')
				fm_buf_putc(&ps->tmp, '\\');
			fm_buf_putc(&ps->tmp, e);
			continue;
		}
		fm_buf_putc(&ps->tmp, c);
	}
	*icase = false;
	while (is_bare(*ps->p)) {
		if (*ps->p == 'i') {
			*icase = true;
		} else {
			perr(ps, "unknown regex flag '%c' (only 'i')", *ps->p);
			return -EINVAL;
		}
		ps->p++;
	}
	if (ps->tmp.len == 0) {
		perr(ps, "empty regex");
		return -EINVAL;
	}
	return 0;
}

static void free_pending(struct pending_kw *kws, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(kws[i].folded);
	free(kws);
}

/* One line (NUL-terminated). Returns 0 (also after reporting a syntax error) or -ENOMEM. */
static int parse_line(struct parser *ps, const char *line)
{
	ps->p = line;
	if (at_end(ps))
		return 0;
	char *tag = NULL;
	struct pending_kw *kws = NULL;
	size_t nkws = 0;
	int rc = 0;

	read_word(ps);
	const char *w = fm_buf_str(&ps->tmp);
	if (strcmp(w, "block") == 0) {
		/* a block rule has no tag */
	} else if (strcmp(w, "tag") == 0) {
		int t = read_term(ps);
		if (t <= 0) {
			if (t == 0)
				perr(ps, "missing tag name after 'tag'");
			goto out;
		}
		if (u8_check((const uint8_t *)ps->tmp.data, ps->tmp.len) || ps->tmp.len == 0 ||
		    strlen(fm_buf_str(&ps->tmp)) != ps->tmp.len) {
			perr(ps, "tag name must be non-empty UTF-8 text");
			goto out;
		}
		if (strcmp(fm_buf_str(&ps->tmp), "keyword") == 0 ||
		    strcmp(fm_buf_str(&ps->tmp), "regex") == 0) {
			perr(ps, "missing tag name after 'tag' (write: tag NAME keyword ...)");
			goto out;
		}
		if (!(tag = strdup(fm_buf_str(&ps->tmp)))) {
			rc = -ENOMEM;
			goto out;
		}
	} else {
		perr(ps, "unknown rule '%.40s' (expected 'tag NAME ...' or 'block ...')",
		     *w ? w : ps->p);
		goto out;
	}

	if (!read_word(ps)) {
		perr(ps, "missing matcher: 'keyword \"...\"' or 'regex /.../'");
		goto out;
	}
	w = fm_buf_str(&ps->tmp);
	if (strcmp(w, "keyword") == 0 || strcmp(w, "keywords") == 0) {
		rc = parse_keywords(ps, &kws, &nkws);
		if (rc == -EINVAL)
			rc = 0;
		if (rc < 0 || !kws)
			goto out;
		unsigned fb = parse_in(ps);
		if (!fb)
			goto out;
		size_t idx;
		if ((rc = push_rule(ps, tag, fb, &idx)) < 0 ||
		    (rc = add_keywords(ps, idx, kws, nkws)) < 0)
			goto out;
		ps->r->kw_fields |= fb;
	} else if (strcmp(w, "regex") == 0) {
		bool icase;
		if (parse_regex(ps, &icase) < 0)
			goto out;
		struct fm_re *re;
		char msg[200];
		int e = fm_re_compile(fm_buf_str(&ps->tmp), icase, &re, msg, sizeof(msg));
		if (e == -ENOMEM) {
			rc = e;
			goto out;
		}
		if (e < 0) {
			perr(ps, "bad regex /%.60s/: %s", fm_buf_str(&ps->tmp), msg);
			goto out;
		}
		unsigned fb = parse_in(ps);
		size_t idx;
		if (!fb || (rc = push_rule(ps, tag, fb, &idx)) < 0) {
			fm_re_free(re);
			goto out;
		}
		ps->r->rules[idx].re = re;
		ps->r->re_fields |= fb;
	} else {
		perr(ps, "unknown matcher '%.40s' (expected 'keyword' or 'regex')", w);
	}
out:
	free(tag);
	free_pending(kws, nkws);
	return rc;
}

int fm_rules_parse(const char *text, size_t len, const char *name, struct fm_rules **out,
                   fm_rules_err_fn err, void *arg)
{
	*out = NULL;
	struct parser ps = {.name = name, .err = err, .arg = arg};
	int rc = -ENOMEM;
	struct fm_buf line = FM_BUF_INIT;
	ps.r = calloc(1, sizeof(*ps.r));
	if (!ps.r || !(ps.r->ac = fm_ac_new()))
		goto fail;

	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		ps.line++;
		if (n > FM_RULES_MAX_LINE) {
			perr(&ps, "line longer than %u bytes", FM_RULES_MAX_LINE);
		} else if (memchr(text + pos, '\0', n)) {
			perr(&ps, "NUL byte in line (is this a text file?)");
		} else {
			fm_buf_truncate(&line, 0);
			fm_buf_append(&line, text + pos, n);
			if (line.oom || parse_line(&ps, fm_buf_str(&line)) < 0)
				goto fail;
		}
		pos += n + 1;
	}
	if (ps.tmp.oom || ps.fold.oom)
		goto fail;
	if (ps.nerr) {
		if (ps.nerr > MAX_REPORTED && err) {
			char msg[200];
			snprintf(msg, sizeof(msg), "%s: %d more errors not shown", name,
			         ps.nerr - MAX_REPORTED);
			err(arg, msg);
		}
		rc = -EINVAL;
		goto fail;
	}
	if (fm_ac_build(ps.r->ac) < 0)
		goto fail;
	*out = ps.r;
	ps.r = NULL;
	rc = 0;
fail:
	fm_rules_free(ps.r);
	fm_buf_free(&line);
	fm_buf_free(&ps.tmp);
	fm_buf_free(&ps.fold);
	return rc;
}

int fm_rules_load(const char *path, struct fm_rules **out, fm_rules_err_fn err, void *arg)
{
	char msg[600];
	int rc;
	char *data = NULL;
	*out = NULL;
	struct stat st;
	int fd = fm_open_regular(path, &st);
	if (fd == -EINVAL || (fd >= 0 && st.st_size > (off_t)FM_RULES_MAX_FILE)) {
		if (fd < 0)
			snprintf(msg, sizeof(msg), "%s: not a regular file (%s)", path, fm_file_kind(&st));
		else
			snprintf(msg, sizeof(msg), "%s: larger than %u bytes: not a rules file", path,
			         FM_RULES_MAX_FILE);
		if (err)
			err(arg, msg);
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	if (fd < 0) {
		rc = fd;
		goto ioerr;
	}
	size_t size = (size_t)st.st_size, got = 0;
	if (!(data = malloc(size + 1))) {
		close(fd);
		return -ENOMEM;
	}
	while (got < size) {
		ssize_t n = read(fd, data + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto ioerr;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	fd = -1;
	rc = fm_rules_parse(data, got, path, out, err, arg);
	free(data);
	return rc;
ioerr:
	snprintf(msg, sizeof(msg), "%s: %s", path, strerror(-rc));
	if (err)
		err(arg, msg);
	if (fd >= 0)
		close(fd);
	free(data);
	return rc;
}

void fm_rules_free(struct fm_rules *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nrules; i++) {
		free(r->rules[i].tag);
		fm_re_free(r->rules[i].re);
	}
	free(r->rules);
	free(r->kws);
	fm_ac_free(r->ac);
	free(r);
}

size_t fm_rules_count(const struct fm_rules *r)
{
	return r ? r->nrules : 0;
}

size_t fm_rules_keywords(const struct fm_rules *r)
{
	return r ? r->nkws : 0;
}

/* ---- matching --------------------------------------------------------------------------- */

struct scan {
	const struct fm_rules *r;
	struct fm_rules_scratch *s;
	const char *text;
	size_t n;
	unsigned field;
	int block_rule; /* index of the block rule that fired, -1 */
};

static int on_hit(void *arg, uint32_t pattern, size_t end)
{
	struct scan *sc = arg;
	const struct keyword *k = &sc->r->kws[pattern];
	const struct rule *ru = &sc->r->rules[k->rule];
	if (!(ru->fields & sc->field) || sc->s->matched[k->rule])
		return 0;
	size_t start = end - k->len;
	if (k->bound_start && fm_word_char_before(sc->text, start))
		return 0;
	if (k->bound_end && fm_word_char_at(sc->text, sc->n, end))
		return 0;
	sc->s->matched[k->rule] = 1;
	if (!ru->tag) {
		sc->block_rule = (int)k->rule;
		return 1; /* blocked: nothing else matters */
	}
	return 0;
}

/* The raw text of a field: a string member, or the strings of an array joined by newlines. */
static const char *field_text(json_t *doc, const char *key, struct fm_buf *join, size_t *len)
{
	json_t *v = json_object_get(doc, key);
	if (json_is_string(v)) {
		*len = json_string_length(v);
		return json_string_value(v);
	}
	if (!json_is_array(v))
		return NULL;
	fm_buf_truncate(join, 0);
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e) {
		if (!json_is_string(e))
			continue;
		if (join->len)
			fm_buf_putc(join, '\n');
		fm_buf_append(join, json_string_value(e), json_string_length(e));
	}
	*len = join->len;
	return join->len ? fm_buf_str(join) : NULL;
}

static bool has_tag(json_t *tags, const char *tag)
{
	size_t i;
	json_t *e;
	json_array_foreach(tags, i, e) {
		const char *s = json_string_value(e);
		if (s && strcmp(s, tag) == 0)
			return true;
	}
	return false;
}

static int merge_tags(const struct fm_rules *r, struct fm_rules_scratch *s, json_t *doc,
                      size_t *added)
{
	*added = 0;
	json_t *tags = json_object_get(doc, "tags");
	bool any = false;
	for (size_t i = 0; i < r->nrules && !any; i++)
		any = s->matched[i];
	if (!any)
		return 0;
	if (!json_is_array(tags)) {
		/* A non-array "tags" breaks the contract; replace it rather than fail the document. */
		tags = json_array();
		if (!tags || json_object_set_new(doc, "tags", tags) < 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < r->nrules; i++) {
		if (!s->matched[i] || !r->rules[i].tag || has_tag(tags, r->rules[i].tag))
			continue;
		if (json_array_append_new(tags, json_string(r->rules[i].tag)) < 0)
			return -ENOMEM;
		(*added)++;
	}
	return 0;
}

/* The flags of s sized for r's rules; the per-document ones cleared. 0 or -ENOMEM. */
static int scratch_fit(const struct fm_rules *r, struct fm_rules_scratch *s)
{
	if (s->nmatched < r->nrules) {
		unsigned char *m = realloc(s->matched, r->nrules);
		unsigned char *g = m ? realloc(s->gave_up, r->nrules) : NULL;
		if (m)
			s->matched = m;
		if (!g)
			return -ENOMEM;
		memset(g + s->nmatched, 0, r->nrules - s->nmatched);
		s->gave_up = g;
		s->nmatched = r->nrules;
	}
	memset(s->matched, 0, r->nrules);
	return 0;
}

/* The regex rules that read this field. A regex that reaches a limit (regex.h) counts as not
 * matching; the first time a rule does so in this scratch, res names its line. */
static int match_regexes(struct scan *sc, unsigned bit, const char *raw, size_t len,
                         struct fm_rules_result *res)
{
	const struct fm_rules *r = sc->r;
	struct fm_rules_scratch *s = sc->s;
	if (!s->re && !(s->re = fm_re_scratch_new()))
		return -ENOMEM;
	for (size_t i = 0; i < r->nrules && sc->block_rule < 0; i++) {
		const struct rule *ru = &r->rules[i];
		if (!ru->re || !(ru->fields & bit) || s->matched[i])
			continue;
		int m = fm_re_match(ru->re, s->re, raw, len);
		if (m == -ENOMEM)
			return m;
		if (m == -E2BIG) {
			res->limit_hits++;
			if (!s->gave_up[i] && !res->limit_line)
				res->limit_line = ru->line;
			s->gave_up[i] = 1;
		} else if (m == 1) {
			s->matched[i] = 1;
			if (!ru->tag)
				sc->block_rule = (int)i;
		}
	}
	return 0;
}

int fm_rules_apply(const struct fm_rules *r, struct fm_rules_scratch *s, json_t *doc,
                   size_t field_limit, struct fm_rules_result *res)
{
	memset(res, 0, sizeof(*res));
	if (!r || r->nrules == 0)
		return 0;
	if (scratch_fit(r, s) < 0)
		return -ENOMEM;
	struct scan sc = {.r = r, .s = s, .block_rule = -1};

	for (size_t f = 0; f < NFIELDS && sc.block_rule < 0; f++) {
		unsigned bit = fields[f].bit;
		if (!((r->kw_fields | r->re_fields) & bit))
			continue;
		size_t len;
		const char *raw = field_text(doc, fields[f].key, &s->joined, &len);
		if (!raw)
			continue;
		if (field_limit)
			len = fm_utf8_cut(raw, len, field_limit);
		if (r->kw_fields & bit) {
			if (fm_fold(&s->folded, raw, len) < 0)
				return -ENOMEM;
			sc.text = fm_buf_str(&s->folded);
			sc.n = s->folded.len;
			sc.field = bit;
			fm_ac_scan(r->ac, sc.text, sc.n, on_hit, &sc);
		}
		if ((r->re_fields & bit) && match_regexes(&sc, bit, raw, len, res) < 0)
			return -ENOMEM;
	}
	if (sc.block_rule >= 0) {
		res->blocked = true;
		res->block_line = r->rules[sc.block_rule].line;
		return 0;
	}
	return merge_tags(r, s, doc, &res->tags_added);
}

void fm_rules_scratch_free(struct fm_rules_scratch *s)
{
	fm_buf_free(&s->folded);
	fm_buf_free(&s->joined);
	free(s->matched);
	free(s->gave_up);
	fm_re_scratch_free(s->re);
	s->matched = NULL;
	s->gave_up = NULL;
	s->re = NULL;
	s->nmatched = 0;
}
