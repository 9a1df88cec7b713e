#include "http_cache.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

/* RFC 9111 section 1.2.2: a delta-seconds past what we can hold is 2^31. */
#define DELTA_MAX 2147483648LL
#define FRESH_CAP (365LL * 86400)

static bool name_is(const char *name, size_t nlen, const char *want)
{
	return nlen == strlen(want) && strncasecmp(name, want, nlen) == 0;
}

/* delta-seconds: digits only, else -1. */
static int64_t delta_seconds(const char *s, size_t n)
{
	int64_t v = 0;
	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		if (v < DELTA_MAX)
			v = v * 10 + (s[i] - '0');
	}
	return v > DELTA_MAX ? DELTA_MAX : v;
}

static void trim(const char **s, size_t *n)
{
	while (*n && isspace((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && isspace((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

/* An HTTP-date (or anything curl_getdate reads) as Unix seconds; -1 when not a date. */
static int64_t http_date(const char *s, size_t n)
{
	char buf[64];
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	time_t t = curl_getdate(buf, NULL);
	return t == (time_t)-1 ? -1 : (int64_t)t;
}

/* One Cache-Control directive: name, and its argument with any quotes removed (or NULL). */
static void directive(struct fm_http_cache *c, const char *name, size_t nlen, const char *arg,
                      size_t alen)
{
	if (name_is(name, nlen, "max-age")) {
		if (c->has_max_age)
			return;
		int64_t v = arg ? delta_seconds(arg, alen) : -1;
		c->has_max_age = true;
		c->max_age = v < 0 ? 0 : v; /* invalid: treat the response as stale */
	} else if ((name_is(name, nlen, "no-cache") && !arg) || name_is(name, nlen, "no-store")) {
		/* no-cache="field" only concerns the fields it names: not the response */
		c->no_cache = true;
	}
}

/* Cache-Control: a comma-separated list of name[=token|"quoted string"]; a quoted string
 * may hold commas. */
static void cache_control(struct fm_http_cache *c, const char *v, size_t n)
{
	size_t i = 0;
	while (i < n) {
		while (i < n && (isspace((unsigned char)v[i]) || v[i] == ','))
			i++;
		size_t ns = i;
		while (i < n && v[i] != '=' && v[i] != ',' && !isspace((unsigned char)v[i]))
			i++;
		size_t nlen = i - ns;
		while (i < n && isspace((unsigned char)v[i]))
			i++;
		const char *arg = NULL;
		size_t alen = 0;
		if (i < n && v[i] == '=') {
			i++;
			while (i < n && isspace((unsigned char)v[i]))
				i++;
			if (i < n && v[i] == '"') {
				arg = v + ++i;
				while (i < n && v[i] != '"')
					i += (v[i] == '\\' && i + 1 < n) ? 2 : 1;
				alen = (size_t)(v + i - arg);
				i++;
			} else {
				arg = v + i;
				while (i < n && v[i] != ',' && !isspace((unsigned char)v[i]))
					i++;
				alen = (size_t)(v + i - arg);
			}
		}
		if (nlen)
			directive(c, v + ns, nlen, arg, alen);
		while (i < n && v[i] != ',')
			i++;
	}
}

void fm_http_cache_header(struct fm_http_cache *c, const char *name, size_t nlen,
                          const char *value, size_t vlen)
{
	trim(&value, &vlen);
	if (name_is(name, nlen, "cache-control")) {
		cache_control(c, value, vlen);
	} else if (name_is(name, nlen, "expires") && !c->has_expires) {
		int64_t t = http_date(value, vlen);
		c->has_expires = true;
		c->expires = t < 0 ? 0 : t; /* "0" and other junk: already expired */
	} else if (name_is(name, nlen, "date") && !c->has_date) {
		int64_t t = http_date(value, vlen);
		if (t >= 0) {
			c->has_date = true;
			c->date = t;
		}
	} else if (name_is(name, nlen, "age") && c->age == 0) {
		int64_t a = delta_seconds(value, vlen);
		if (a > 0)
			c->age = a;
	}
}

int64_t fm_http_fresh_for(const struct fm_http_cache *c, int64_t now_s)
{
	int64_t lifetime;
	if (c->no_cache)
		return 0;
	if (c->has_max_age) /* max-age wins over Expires (section 5.3) */
		lifetime = c->max_age;
	else if (c->has_expires)
		lifetime = c->expires - (c->has_date ? c->date : now_s);
	else
		return -1;
	/* section 4.2.3: the age is the larger of what caches on the way said and how long ago
	 * the origin dated it (our clock against theirs: a skew only makes us come back sooner) */
	int64_t age = c->age;
	if (c->has_date && now_s - c->date > age)
		age = now_s - c->date;
	int64_t left = lifetime - age;
	return left < 0 ? 0 : left > FRESH_CAP ? FRESH_CAP : left;
}
