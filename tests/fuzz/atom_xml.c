/* Fuzz target: the Atom publisher's XML output helpers (plugins/publish_atom/xmlout.c).
 * Whatever the bytes, text and attribute escaping must give well-formed XML that libxml2
 * parses, and the date / IRI / language checks must not crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "buf.h"
#include "xmlout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	xmlSetGenericErrorFunc(NULL, quiet);
	struct fm_buf b = FM_BUF_INIT;
	fm_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?><e a=\"");
	fm_xml_escape(&b, (const char *)data, size, true);
	fm_buf_puts(&b, "\">");
	fm_xml_escape(&b, (const char *)data, size, false);
	fm_buf_puts(&b, "</e>");
	if (b.oom)
		abort();
	xmlDocPtr d = xmlReadMemory(b.data, (int)b.len, "fuzz.xml", NULL, XML_PARSE_NONET);
	if (!d)
		abort(); /* the escaper let something through that breaks the XML */
	xmlFreeDoc(d);

	char *s = strndup((const char *)data, size);
	if (s) {
		(void)fm_is_rfc3339(s);
		(void)fm_is_lang_tag(s);
		if (fm_is_iri(s) && strpbrk(s, " <>\""))
			abort();
		fm_buf_truncate(&b, 0);
		fm_pct_encode(&b, s);
		if (strspn(fm_buf_str(&b), "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		                            "0123456789-._~%") != b.len)
			abort();
		free(s);
	}
	fm_buf_free(&b);
	return 0;
}
