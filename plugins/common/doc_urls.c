/* The URL fields of a document: only http(s) URLs stay. See doc_urls.h. */
#include "doc_urls.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <feedmill/doc.h>

#include "url.h"

/* Top-level fields holding one URL. "image" and "live_of" are not in feedmill/doc.h's list of
 * the contract's fields, but the feed parser sets the first and a stage may set the second:
 * both are links a consumer would follow. */
static const char *const top_fields[] = {FM_DOC_URL, FM_DOC_COMMENTS, "image", "live_of"};

/* The document's id for a log line: at most n-1 bytes, controls shown as '?', and when it is
 * a URL its userinfo replaced by "***" (an id is often the item's link). */
static void id_for_log(const json_t *doc, char *out, size_t n)
{
	const char *id = fm_doc_str(doc, FM_DOC_ID);
	if (!id || !*id)
		id = "(no id)";
	const char *auth = strstr(id, "://");
	const char *at = NULL;
	if (auth) {
		auth += 3;
		size_t alen = strcspn(auth, "/?#");
		for (const char *p = auth; p < auth + alen; p++)
			if (*p == '@')
				at = p;
	}
	size_t k = 0;
	const char *p = id;
	while (*p && k + 1 < n) {
		if (at && p == auth) {
			for (const char *m = "***"; *m && k + 1 < n; m++)
				out[k++] = *m;
			p = at; /* go on from the '@' */
			at = NULL;
			continue;
		}
		unsigned char c = (unsigned char)*p++;
		out[k++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	out[k] = '\0';
}

/* Is v acceptable in a URL field? why: what to log when it is not. */
static bool url_value_ok(const json_t *v, char *why, size_t n)
{
	if (json_is_null(v))
		return true;
	if (!json_is_string(v)) {
		snprintf(why, n, "not a string");
		return false;
	}
	const char *s = json_string_value(v);
	if (strlen(s) != json_string_length(v)) {
		snprintf(why, n, "a NUL byte inside");
		return false;
	}
	if (fm_url_is_safe_http(s))
		return true;
	char scheme[24];
	enum fm_url_kind k = fm_url_classify(s, scheme, sizeof(scheme), NULL);
	if (k == FM_URL_OTHER && scheme[0])
		snprintf(why, n, "scheme %s%s", scheme,
		         strcmp(scheme, "http") && strcmp(scheme, "https") ? "" : ", malformed");
	else if (k == FM_URL_OTHER)
		snprintf(why, n, "a long scheme");
	else
		snprintf(why, n, "not an absolute URL");
	return false;
}

static void log_removed(const json_t *doc, const fm_host *host, fm_instance *inst,
                        const char *field, size_t index, const char *sub, const char *why)
{
	if (!host || host->log_level() < FM_LOG_DEBUG)
		return;
	char id[160], where[64];
	id_for_log(doc, id, sizeof(id));
	if (sub)
		snprintf(where, sizeof(where), "%s[%zu].%s", field, index, sub);
	else
		snprintf(where, sizeof(where), "%s", field);
	host->log(inst, FM_LOG_DEBUG, "%s: removed %s: not an http(s) URL (%s)", id, where, why);
}

int fm_doc_strip_unsafe_urls(json_t *doc, const fm_host *host, fm_instance *inst)
{
	char why[64];
	int removed = 0;
	if (!json_is_object(doc))
		return 0;

	for (size_t i = 0; i < sizeof(top_fields) / sizeof(top_fields[0]); i++) {
		json_t *v = json_object_get(doc, top_fields[i]);
		if (v && !url_value_ok(v, why, sizeof(why))) {
			log_removed(doc, host, inst, top_fields[i], 0, NULL, why);
			json_object_del(doc, top_fields[i]);
			removed++;
		}
	}

	json_t *feed = json_object_get(doc, FM_DOC_FEED);
	json_t *link = json_object_get(feed, "link");
	if (link && !url_value_ok(link, why, sizeof(why))) {
		log_removed(doc, host, inst, "feed.link", 0, NULL, why);
		json_object_del(feed, "link");
		removed++;
	}

	json_t *authors = json_object_get(doc, FM_DOC_AUTHORS);
	for (size_t i = 0; i < json_array_size(authors); i++) {
		json_t *a = json_array_get(authors, i);
		json_t *uri = json_object_get(a, "uri");
		if (uri && !url_value_ok(uri, why, sizeof(why))) {
			log_removed(doc, host, inst, FM_DOC_AUTHORS, i, "uri", why);
			json_object_del(a, "uri");
			removed++;
		}
	}

	json_t *encl = json_object_get(doc, FM_DOC_ENCLOSURES);
	for (size_t i = 0, orig = 0; i < json_array_size(encl); orig++) {
		json_t *e = json_array_get(encl, i);
		json_t *url = json_object_get(e, "url");
		if (url && !url_value_ok(url, why, sizeof(why))) {
			log_removed(doc, host, inst, FM_DOC_ENCLOSURES, orig, "url", why);
			json_array_remove(encl, i);
			removed++;
		} else {
			i++;
		}
	}
	return removed;
}
