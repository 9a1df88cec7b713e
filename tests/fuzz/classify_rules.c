/* Fuzz target: the classify rules parser and matcher (plugins/classify_tags/rules.c).
 * The input is a rules file; when it parses, the same bytes are also matched as a document's
 * title and text. Invariants: no crash, no leak, and a failed parse never returns a set. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unistr.h>

#include "rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ignore(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fm_rules *r = NULL;
	int rc = fm_rules_parse((const char *)data, size, "fuzz.rules", &r, ignore, NULL);
	if (rc < 0) {
		if (r)
			abort();
		return 0;
	}
	/* Documents carry valid UTF-8 (jansson checks it); feed the input when it is. */
	const char *text = u8_check(data, size) || memchr(data, 0, size) ? "plain text" : NULL;
	json_t *doc = text ? json_pack("{s:s, s:s}", "title", text, "text", text)
	                   : json_pack("{s:s%, s:s%, s:[s%]}", "title", (const char *)data, size,
	                               "text", (const char *)data, size, "categories",
	                               (const char *)data, size);
	struct fm_rules_scratch s = FM_RULES_SCRATCH_INIT;
	struct fm_rules_result res;
	if (doc && fm_rules_apply(r, &s, doc, 4096, &res) == 0 && res.blocked && res.tags_added)
		abort(); /* a blocked document gets no tags */
	json_decref(doc);
	fm_rules_scratch_free(&s);
	fm_rules_free(r);
	return 0;
}
