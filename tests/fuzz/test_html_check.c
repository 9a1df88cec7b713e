/*
 * The extract fuzz target's safety oracle (html_check.c): a real finding is reported, what a
 * safe output legitimately holds (markup shown as text, https paths mentioning javascript:,
 * mailto and tel links, inline PNGs) is not.
 */
#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>

#include "check.h"
#include "html_check.h"

static const char *const safe[] = {
	"",
	"<p>Plain text.</p>",
	"<p>&lt;a href=javascript:alert(1)&gt;click&lt;/a&gt; is how the attack looked.</p>",
	"<pre><code>&lt;script&gt;alert(1)&lt;/script&gt;</code></pre>",
	"<p>The javascript: pseudo-scheme, explained.</p>",
	"<a href=\"https://example.org/%javascript:\">a</a>",
	"<a href=\"https://example.org/wiki/javascript:void(0)\">a</a>",
	"<a href=\"https://example.org/%6Aavascript:alert(1)\">a</a>",
	"<a href=\"https://example.org/?q=javascript:x&amp;r=data:text/html\">a</a>",
	"<a href=\"#notes\">a</a><a href=\"\">self</a>",
	"<a href=\"mailto:desk@example.org\">a</a><a href=\"tel:+441234567\">t</a>",
	"<a href=\"feed:https://example.org/rss\">f</a><a href=\"feed://example.org/rss\">g</a>",
	"<a title=\"javascript:alert(1)\" href=\"https://example.org/\">title is text</a>",
	"<figure><img src=\"data:image/png;base64,iVBORw0KGgo=\" alt=\"dot\" /></figure>",
	"<img srcset=\"https://example.org/a.jpg 1x, https://example.org/b.jpg 2x\" />",
	"<img srcset=\"data:image/png;base64,AA,BB 1x, https://example.org/b.jpg 2x\" />",
	"<blockquote cite=\"https://example.org/source\">q</blockquote>",
	"<svg xmlns=\"http://www.w3.org/2000/svg\"><use href=\"#shape\"></use></svg>",
	"<span style=\"color: red;\">red</span>",
	"<a href=\"https://example.org/a&amp;Tab;b\">an escaped reference after the host</a>",
	NULL,
};

/* Outputs a broken sanitizer or extractor could produce, each of which must be caught. */
static const char *const unsafe[] = {
	"<script>alert(1)</script>",
	"<p>x</p><SCRIPT SRC=\"https://evil.example/x.js\"></SCRIPT>",
	"<svg><script>alert(1)</script></svg>",
	"<img src=\"https://example.org/x.png\" onerror=\"alert(1)\" />",
	"<div OnMouseOver=\"alert(1)\">x</div>",
	"<a href=\"javascript:alert(1)\">a</a>",
	"<a href=\"JaVaScRiPt:alert(1)\">a</a>",
	"<a href=\" &#9;javascript:alert(1)\">a</a>",
	"<a href=\"java&#x09;script:alert(1)\">a</a>",
	"<a href=\"java&#x0A;script:alert(1)\">a</a>",
	"<a href=\"&#106;avascript:alert(1)\">a</a>",
	"<a href=\"&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A;alert(1)\">a</a>",
	"<a href=\"java&Tab;script&colon;alert(1)\">a</a>",
	"<a href=\"\x01javascript:alert(1)\">a</a>",
	"<a href=\"vbscript:msgbox(1)\">a</a>",
	"<a href=\"data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;\">a</a>",
	"<a href=\"feed:javascript:alert(1)\">a</a>",
	"<img src=\"data:image/svg+xml,&lt;svg onload=alert(1)&gt;\" />",
	"<img srcset=\"https://example.org/a.jpg 1x, javascript:alert(1) 2x\" />",
	"<form action=\"javascript:alert(1)\"><button>go</button></form>",
	"<button formaction=\"javascript:alert(1)\">go</button>",
	"<video poster=\"javascript:alert(1)\"></video>",
	"<blockquote cite=\"vbscript:msgbox(1)\">q</blockquote>",
	"<table background=\"javascript:alert(1)\"><tr><td>x</td></tr></table>",
	"<svg><a xlink:href=\"javascript:alert(1)\"><text>x</text></a></svg>",
	"<command icon=\"javascript:alert(1)\">c</command>",
	"<div style=\"width: expression(alert(1))\">x</div>",
	"<div style=\"background: url(JavaScript:alert(1))\">x</div>",
	"<iframe src=\"https://example.org/\"></iframe>",
	"<iframe srcdoc=\"&lt;p&gt;x\"></iframe>",
	"<object data=\"https://example.org/x.swf\"></object>",
	"<embed src=\"https://example.org/x.swf\">",
	"<base href=\"https://evil.example/\">",
	"<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
	"<link rel=\"stylesheet\" href=\"https://evil.example/x.css\">",
	"<p>deep</p>" "<div><div><div><div><div><a href=\"javascript:x\">a</a></div></div></div></div></div>",
	NULL,
};

int main(void)
{
	char why[256];
	for (size_t i = 0; safe[i]; i++) {
		bool ok = fmt_html_is_safe(safe[i], strlen(safe[i]), why, sizeof(why));
		if (!ok)
			fprintf(stderr, "  flagged: %s\n    because: %s\n", safe[i], why);
		CHECK(ok);
	}
	for (size_t i = 0; unsafe[i]; i++) {
		bool ok = fmt_html_is_safe(unsafe[i], strlen(unsafe[i]), why, sizeof(why));
		if (ok)
			fprintf(stderr, "  missed: %s\n", unsafe[i]);
		CHECK(!ok);
		CHECK(why[0] != '\0');
	}
	/* the finding says what and where */
	const char *h = "<p>ok</p><a href=\"java&#x09;script:alert(1)\">a</a>";
	CHECK(!fmt_html_is_safe(h, strlen(h), why, sizeof(why)));
	CHECK_STR(why, "a javascript URL in href of <a>");
	xmlCleanupParser();
	return fmt_done("fuzz_html_check");
}
