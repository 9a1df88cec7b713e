/*
 * Tag and block rules for the classify stage: the file format is documented in
 * config/rules.example; this is its parser and matcher.
 *
 * A rule set is immutable once loaded; per-instance scratch memory lives in struct
 * fm_rules_scratch so that several workers could share one set.
 */
#ifndef FM_CLASSIFY_RULES_H
#define FM_CLASSIFY_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "buf.h"

struct fm_rules;

/* Receives one "FILE:LINE: message" per problem found while loading. */
typedef void (*fm_rules_err_fn)(void *arg, const char *msg);

/* Bounds on what a rules file may hold, so a mistaken path (a log file, a binary) fails fast. */
#define FM_RULES_MAX_FILE (16u << 20)
#define FM_RULES_MAX_LINE 65536u

/* Parse rules from text[0..len); name is used in messages. Every bad line is reported through
 * err before returning -EINVAL; -ENOMEM on allocation failure. On success *out is a new set
 * (free with fm_rules_free), possibly with no rules. */
int fm_rules_parse(const char *text, size_t len, const char *name, struct fm_rules **out,
                   fm_rules_err_fn err, void *arg);
/* Read and parse a file; I/O errors are reported through err too (returns -errno). */
int fm_rules_load(const char *path, struct fm_rules **out, fm_rules_err_fn err, void *arg);
void fm_rules_free(struct fm_rules *r);

size_t fm_rules_count(const struct fm_rules *r);
size_t fm_rules_keywords(const struct fm_rules *r);

struct fm_re_scratch; /* regex.h */

struct fm_rules_scratch {
	struct fm_buf folded;
	struct fm_buf joined;
	unsigned char *matched; /* one flag per rule: matched this document */
	unsigned char *gave_up; /* one flag per rule: reached a regex limit once (reported) */
	size_t nmatched;
	struct fm_re_scratch *re;
};

#define FM_RULES_SCRATCH_INIT {FM_BUF_INIT, FM_BUF_INIT, NULL, NULL, 0, NULL}

struct fm_rules_result {
	bool blocked;
	int block_line;   /* line of the block rule that fired */
	size_t tags_added;
	size_t limit_hits; /* regexes that reached a limit on this document (not matching) */
	int limit_line;    /* a rule that did so for the first time with this scratch, or 0 */
};

/* Evaluate the rules on doc, reading at most field_limit bytes of each field (0: no limit).
 * When no block rule fires, the tags of matching rules are merged into doc's "tags" array
 * (created if absent; kept in rule order; none twice). A regex that reaches a limit of
 * regex.h counts as not matching (res says so). Returns 0 or -ENOMEM. */
int fm_rules_apply(const struct fm_rules *r, struct fm_rules_scratch *s, json_t *doc,
                   size_t field_limit, struct fm_rules_result *res);
void fm_rules_scratch_free(struct fm_rules_scratch *s);

#endif
