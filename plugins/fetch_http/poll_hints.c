#include "poll_hints.h"

#include <string.h>

#include <feedmill/doc.h>

#include "date.h"
#include "http_cache.h"

void fm_hints_report_fresh(const fm_host *h, fm_out *out, const struct fm_http_response *resp,
                           bool replace)
{
	int64_t fresh = fm_http_fresh_for(&resp->cache, h->now_ms() / 1000);
	if (fresh >= 0)
		h->report(out, FM_REPORT_MAX_AGE, json_integer(fresh));
	else if (replace)
		h->report(out, FM_REPORT_MAX_AGE, json_null());
}

/* Seconds in one sy:updatePeriod. A month and a year are nominal: the schedule is a hint. */
static int64_t period_seconds(const char *p)
{
	static const struct {
		const char *name;
		int64_t s;
	} periods[] = {{"hourly", 3600}, {"daily", 86400}, {"weekly", 7 * 86400},
	               {"monthly", 30 * 86400}, {"yearly", 365 * 86400}};
	for (size_t i = 0; p && i < sizeof(periods) / sizeof(periods[0]); i++)
		if (strcmp(p, periods[i].name) == 0)
			return periods[i].s;
	return -1;
}

void fm_hints_report_feed(const fm_host *h, fm_out *out, const json_t *feed)
{
	json_t *ttl = json_object_get(feed, "ttl");
	if (json_is_integer(ttl) && json_integer_value(ttl) > 0)
		h->report(out, FM_REPORT_FEED_TTL, json_integer(json_integer_value(ttl) * 60));

	/* The module's defaults: a channel naming only one of the two means daily, once. */
	const char *period = json_string_value(json_object_get(feed, "update_period"));
	json_t *freq = json_object_get(feed, "update_frequency");
	if (!period && !json_is_integer(freq))
		return;
	int64_t every = period_seconds(period ? period : "daily");
	json_int_t n = json_is_integer(freq) ? json_integer_value(freq) : 1;
	if (every <= 0 || n < 1)
		return;
	every /= n;
	h->report(out, FM_REPORT_UPDATE_PERIOD, json_integer(every > 0 ? every : 1));
	time_t base = fm_date_parse(json_string_value(json_object_get(feed, "update_base")));
	if (base != (time_t)-1)
		h->report(out, FM_REPORT_UPDATE_BASE, json_integer((json_int_t)base));
}

uint32_t fm_hints_item_key(const char *id)
{
	uint32_t hsh = 2166136261u;
	for (const char *p = id ? id : ""; *p; p++) {
		hsh ^= (unsigned char)*p;
		hsh *= 16777619u;
	}
	return hsh;
}

void fm_hints_add_key(json_t *keys, uint32_t key)
{
	if (keys && json_array_size(keys) < FM_REPORT_ITEM_KEYS_MAX)
		json_array_append_new(keys, json_integer(key));
}
