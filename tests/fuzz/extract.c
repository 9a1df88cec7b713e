/*
 * Fuzz target: clean_readable's page extraction (charset decoding, script stripping, libxml2
 * HTML parsing, segmentation, scoring, metadata, output) on untrusted bytes. The first input
 * byte picks small limits half of the time so the depth and node caps are exercised too.
 * Invariants checked: text and html are valid UTF-8 without NUL (they become JSON strings),
 * the html, parsed as HTML, can run nothing and links to nothing but http(s) and the like
 * (html_check.h: no <script>, no on* handler, no javascript:/vbscript:/data: URL attribute,
 * however spelled; text that shows such markup or an https path that mentions javascript: is
 * fine), and a second run gives the same text.
 * Build: plugins/clean_readable/{boiler,charset,date,extract}.c + fmkit + html_check.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extract.h"
#include "html_check.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd_limits lim = RD_LIMITS_DEFAULT;
	if (size < 1)
		return 0;
	if (data[0] & 1) {
		lim.max_depth = 16;
		lim.max_nodes = 200;
		lim.max_html_size = 4096;
	}
	struct rd_result r;
	if (rd_extract_page((const char *)data + 1, size - 1, "https://example.org/a/b.html", &lim,
	                    NULL, NULL, &r) < 0)
		return 0;
	if (!r.text || !r.html || !fm_text_utf8_valid(r.text, strlen(r.text)) ||
	    !fm_text_utf8_valid(r.html, strlen(r.html)))
		abort();
	char why[256];
	if (!fmt_html_is_safe(r.html, strlen(r.html), why, sizeof(why))) {
		fprintf(stderr, "extract: unsafe html output: %s\n", why);
		abort();
	}
	struct rd_result r2;
	if (rd_extract_page((const char *)data + 1, size - 1, "https://example.org/a/b.html", &lim,
	                    NULL, NULL, &r2) == 0) {
		if (strcmp(r.text, r2.text) != 0)
			abort();
		rd_result_free(&r2);
	}
	rd_result_free(&r);
	return 0;
}
