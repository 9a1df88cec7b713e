/*
 * Fuzz target: what fetch_http does with an untrusted HTML page before anything else sees it:
 * charset decoding to UTF-8 (fm_http_to_utf8), then the head scan for a feed link and the
 * title (fm_html_scan). The first input byte picks an HTTP charset to claim, so declared and
 * undeclared encodings are both covered. Invariants checked: the decoded text is valid UTF-8
 * without NUL (it becomes a JSON string), and a discovered feed URL is http(s).
 * Build: sources plugins/fetch_http/{http_charset,discover}.c + fmkit (text.c, url.c, buf.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "discover.h"
#include "http_charset.h"
#include "text.h"
#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const charsets[] = {NULL,         "utf-8",    "iso-8859-1",
	                                       "windows-1251", "shift_jis", "utf-16",
	                                       "x-unknown",  "koi8-r"};
	struct fm_utf8 u;
	struct fm_html_info info;

	if (size < 1)
		return 0;
	const char *cs = charsets[data[0] % (sizeof(charsets) / sizeof(charsets[0]))];
	if (fm_http_to_utf8((const char *)data + 1, size - 1, cs, &u) != 0)
		return 0;
	if (!fm_text_utf8_valid(u.s, u.len) || memchr(u.s, '\0', u.len))
		abort();
	if (fm_html_scan(u.s, u.len, "http://fuzz.example/dir/page.html", &info) == 0) {
		if (info.feed_url && !fm_url_is_http(info.feed_url))
			abort();
		if (info.title && !fm_text_utf8_valid(info.title, strlen(info.title)))
			abort();
		fm_html_info_free(&info);
	}
	free(u.owned);
	return 0;
}
