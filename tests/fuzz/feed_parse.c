/*
 * Fuzz target: the feed parser (every format, encodings, recovery), the sanitizer, the date
 * parser and URL resolution on arbitrary bytes. Invariants checked: a result object always
 * comes back with the contract's keys, its strings are valid UTF-8 (jansson re-validates on
 * dump), and sanitized HTML never carries script, style or embedding elements.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "date.h"
#include "feed.h"
#include "html_sanitize.h"
#include "url.h"

static void check_html(const char *s)
{
	if (!s)
		return;
	/* text never holds a raw '<' (it is escaped), so these can only be elements */
	if (strcasestr(s, "<script") || strcasestr(s, "<iframe") || strcasestr(s, "<object") ||
	    strcasestr(s, "<embed") || strcasestr(s, "<style"))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fm_feed_opts o = {.base_url = "https://fuzz.example/feed/", .max_items = 200};
	json_t *r = fm_feed_parse((const char *)data, size, &o);
	if (!r)
		return 0; /* out of memory */
	if (!json_is_string(json_object_get(r, "format")) ||
	    !json_is_array(json_object_get(r, "errors")) ||
	    !json_is_object(json_object_get(r, "feed")) || !json_is_array(json_object_get(r, "items")))
		abort();
	char *dump = json_dumps(r, JSON_COMPACT);
	if (!dump)
		abort(); /* a string that is not UTF-8 */
	free(dump);
	size_t i;
	json_t *it;
	json_array_foreach(json_object_get(r, "items"), i, it)
	{
		check_html(json_string_value(json_object_get(it, "summary")));
		check_html(json_string_value(json_object_get(it, "content")));
	}
	json_decref(r);
	(void)fm_feed_sniff((const char *)data, size);

	char *h = fm_html_sanitize((const char *)data, size, "https://fuzz.example/a/b");
	if (h) {
		check_html(h);
		free(h);
	}
	char *t = fm_html_to_text((const char *)data, size);
	free(t);

	/* dates and URLs read NUL-terminated text: use a bounded copy */
	size_t n = size < 256 ? size : 256;
	char *s = malloc(n + 1);
	if (!s)
		return 0;
	memcpy(s, data, n);
	s[n] = '\0';
	time_t d = fm_date_parse(s);
	if (d != -1) {
		char buf[21];
		fm_date_format(d, buf);
		if (strlen(buf) != 20)
			abort();
	}
	char *u = fm_url_resolve("http://a/b/c/d;p?q", s);
	free(u);
	u = fm_url_strip_tracking(s);
	free(u);
	free(s);
	return 0;
}
