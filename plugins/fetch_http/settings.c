/* fetch_http: the settings of one request, the stage's overridden by its source_options. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stage.h"

static bool opt_int(json_t *so, const char *key, int64_t *dst)
{
	json_t *v = json_object_get(so, key);
	if (json_is_integer(v))
		*dst = json_integer_value(v);
	else if (json_is_real(v))
		*dst = (int64_t)json_real_value(v);
	else
		return false;
	return true;
}

static void opt_size(json_t *so, const char *key, uint64_t *dst)
{
	int64_t v;
	if (opt_int(so, key, &v) && v >= 0)
		*dst = (uint64_t)v;
}

static void opt_bool(json_t *so, const char *key, bool *dst)
{
	json_t *v = json_object_get(so, key);
	if (json_is_boolean(v))
		*dst = json_is_true(v);
}

static void opt_str(json_t *so, const char *key, const char **dst)
{
	const char *s = json_string_value(json_object_get(so, key));
	if (s)
		*dst = s;
}

bool fh_header_ok(const char *h)
{
	return h && strchr(h, ':') && !strpbrk(h, "\r\n") && h[0] != ':';
}

/* The source's own headers replace the stage's. */
static int source_headers(json_t *hv, struct settings *st, size_t *bad)
{
	size_t n = json_is_array(hv) ? json_array_size(hv) : 1;
	st->hdrs = calloc(n ? n : 1, sizeof(*st->hdrs));
	if (!st->hdrs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_is_array(hv) ? json_array_get(hv, i) : hv);
		if (!fh_header_ok(s)) {
			*bad = i + 1;
			return -EINVAL;
		}
		st->hdrs[i] = s;
	}
	st->lim.headers = st->hdrs;
	st->lim.n_headers = n;
	return 0;
}

/* fm_http_limits.cancelled: the host stops this stage (host->stopping). */
static int stopping(void *arg)
{
	const struct fh *fh = arg;
	return fh->host->stopping(fh->inst);
}

int fh_settings_load(struct fh *fh, json_t *req, struct settings *st, size_t *bad)
{
	const struct fh_config *c = fh->cfg;
	json_t *so = json_object_get(req, FM_DOC_SOURCE_OPTIONS);
	int64_t redirects = c->max_redirects;

	*st = (struct settings){
		.lim =
			{
				.timeout_ms = c->timeout,
				.connect_timeout_ms = c->connect_timeout,
				.max_size = c->max_size,
				.low_speed_limit = c->low_speed_limit,
				.low_speed_time_ms = c->low_speed_time,
				.user_agent = c->user_agent,
				.headers = (const char *const *)c->headers.items,
				.n_headers = c->headers.n,
				/* a stop cuts transfers short */
				.cancelled = stopping,
				.cancel_arg = fh,
			},
		.max_items = c->max_items,
		.source_type = c->source_type ? c->source_type : "auto",
		.full_article = c->full_article,
		.fa_min_length = c->full_article_min_length,
		.fa_max = c->full_article_max,
		.fa_per_host = c->full_article_per_host,
		.fa_delay = c->full_article_delay,
		.allow_private_links = c->allow_private_links,
		.robots = c->robots,
	};
	/* the request's own source_type (from the [source] section) beats the stage default */
	opt_str(req, FM_DOC_SOURCE_TYPE, &st->source_type);
	if (json_is_object(so)) {
		opt_int(so, "http_timeout", &st->lim.timeout_ms);
		opt_int(so, "connect_timeout", &st->lim.connect_timeout_ms);
		opt_size(so, "max_size", &st->lim.max_size);
		opt_int(so, "max_redirects", &redirects);
		opt_int(so, "max_items", &st->max_items);
		opt_str(so, "user_agent", &st->lim.user_agent);
		opt_str(so, "source_type", &st->source_type);
		opt_int(so, "low_speed_time", &st->lim.low_speed_time_ms);
		opt_bool(so, "full_article", &st->full_article);
		opt_int(so, "full_article_min_length", &st->fa_min_length);
		opt_int(so, "full_article_max", &st->fa_max);
		opt_int(so, "full_article_per_host", &st->fa_per_host);
		opt_int(so, "full_article_delay", &st->fa_delay);
		opt_bool(so, "allow_private_links", &st->allow_private_links);
		opt_bool(so, "robots", &st->robots);

		json_t *hv = json_object_get(so, "headers");
		if (json_is_string(hv) || json_is_array(hv)) {
			int rc = source_headers(hv, st, bad);
			if (rc < 0)
				return rc;
		}
	}
	if (st->lim.timeout_ms < 0)
		st->lim.timeout_ms = 0;
	st->lim.max_redirects = redirects < 0 ? 0 : (long)redirects;
	if (st->max_items < 1)
		st->max_items = 1;
	if (st->fa_delay < 0)
		st->fa_delay = 0;
	if (strcmp(st->source_type, "feed") != 0 && strcmp(st->source_type, "html") != 0)
		st->source_type = "auto";
	return 0;
}

void fh_settings_free(struct settings *st)
{
	free(st->hdrs);
	st->hdrs = NULL;
}
