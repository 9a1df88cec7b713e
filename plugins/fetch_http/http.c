#include "http.h"

#include <ctype.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "http_xfer.h"
#include "url.h"

struct fm_http {
	CURL *curl;
};

/* curl's progress callback: a transfer of a stage that is stopping ends now. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
	struct xfer *x = arg;
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	if (x->lim->cancelled(x->lim->cancel_arg)) {
		x->cancelled = true;
		return 1;
	}
	return 0;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct fm_http *fm_http_new(void)
{
	struct fm_http *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->curl = curl_easy_init();
	if (!h->curl) {
		free(h);
		return NULL;
	}
	return h;
}

void fm_http_free(struct fm_http *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->curl);
	free(h);
}

void fm_http_response_reset(struct fm_http_response *resp)
{
	struct fm_buf body = resp->body;
	free(resp->url);
	free(resp->content_type);
	free(resp->charset);
	free(resp->etag);
	free(resp->last_modified);
	free(resp->retry_after);
	memset(resp, 0, sizeof(*resp));
	resp->body = body;
	fm_buf_truncate(&resp->body, 0);
	resp->body.oom = false;
}

void fm_http_response_free(struct fm_http_response *resp)
{
	fm_http_response_reset(resp);
	fm_buf_free(&resp->body);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct xfer *x = userdata;
	size_t n = size * nmemb;
	struct fm_buf *b = &x->resp->body;

	/* curl hands us decoded bytes, so this also bounds what a gzip bomb inflates to. */
	if (x->max_size && (uint64_t)b->len + n > x->max_size) {
		x->too_big = true;
		return 0;
	}
	fm_buf_append(b, ptr, n);
	if (b->oom) {
		x->oom = true;
		return 0;
	}
	return n;
}

static char *dup_trimmed(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return strndup(s, n);
}

static void set_field(char **field, const char *v, size_t n)
{
	free(*field);
	*field = dup_trimmed(v, n);
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata)
{
	struct xfer *x = userdata;
	struct fm_http_response *r = x->resp;
	size_t n = size * nitems;

	/* A new status line starts a new response (1xx, or a proxy's): forget the last one's. */
	if (n >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
		free(r->etag);
		free(r->last_modified);
		free(r->retry_after);
		r->etag = r->last_modified = r->retry_after = NULL;
		memset(&r->cache, 0, sizeof(r->cache));
		return n;
	}
	const char *colon = memchr(buf, ':', n);
	if (!colon)
		return n;
	size_t klen = (size_t)(colon - buf);
	const char *v = colon + 1;
	size_t vlen = n - klen - 1;
	if (klen == 4 && strncasecmp(buf, "etag", 4) == 0)
		set_field(&r->etag, v, vlen);
	else if (klen == 13 && strncasecmp(buf, "last-modified", 13) == 0)
		set_field(&r->last_modified, v, vlen);
	else if (klen == 11 && strncasecmp(buf, "retry-after", 11) == 0)
		set_field(&r->retry_after, v, vlen);
	else
		fm_http_cache_header(&r->cache, buf, klen, v, vlen);
	return n;
}

/* Split "Text/HTML; charset=\"ISO-8859-1\"" into "text/html" and "ISO-8859-1". */
static void parse_content_type(const char *ct, char **type, char **charset)
{
	*type = *charset = NULL;
	if (!ct)
		return;
	size_t tl = strcspn(ct, ";");
	char *t = dup_trimmed(ct, tl);
	if (t) {
		for (char *p = t; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if (*t)
			*type = t;
		else
			free(t);
	}
	for (const char *p = ct + tl; *p;) {
		p += strspn(p, "; \t");
		size_t nl = strcspn(p, "=;");
		const char *name = p;
		p += nl;
		if (*p != '=')
			continue;
		p++;
		const char *val = p;
		size_t vl;
		if (*val == '"') {
			val++;
			vl = strcspn(val, "\"");
			p = val + vl + (val[vl] == '"');
		} else {
			vl = strcspn(val, ";");
			p = val + vl;
		}
		char *nm = dup_trimmed(name, nl);
		if (nm && strcasecmp(nm, "charset") == 0 && !*charset) {
			char *cs = dup_trimmed(val, vl);
			if (cs && *cs)
				*charset = cs;
			else
				free(cs);
		}
		free(nm);
	}
}

/* Compare scheme and authority (without userinfo), case-insensitively: whether two URLs are of
 * the same origin, for deciding where the configured headers may go. */
static bool same_origin(const char *a, const char *b)
{
	const char *sa = strstr(a, "://"), *sb = strstr(b, "://");
	if (!sa || !sb || sa - a != sb - b || strncasecmp(a, b, (size_t)(sa - a)) != 0)
		return false;
	sa += 3;
	sb += 3;
	size_t la = strcspn(sa, "/?#"), lb = strcspn(sb, "/?#");
	for (const char *p = memchr(sa, '@', la); p; p = memchr(sa, '@', la)) {
		la -= (size_t)(p + 1 - sa);
		sa = p + 1;
	}
	for (const char *p = memchr(sb, '@', lb); p; p = memchr(sb, '@', lb)) {
		lb -= (size_t)(p + 1 - sb);
		sb = p + 1;
	}
	return la == lb && strncasecmp(sa, sb, la) == 0;
}

/* The host part of a URL (no userinfo, no port), for comparing trust. */
static size_t url_host(const char *url, const char **host)
{
	const char *s = strstr(url, "://");
	s = s ? s + 3 : url;
	size_t n = strcspn(s, "/?#");
	for (const char *p = memchr(s, '@', n); p; p = memchr(s, '@', n)) {
		n -= (size_t)(p + 1 - s);
		s = p + 1;
	}
	if (n && s[0] == '[') { /* [v6]:port */
		const char *close = memchr(s, ']', n);
		n = close ? (size_t)(close - s + 1) : n;
	} else {
		const char *colon = memchr(s, ':', n);
		if (colon)
			n = (size_t)(colon - s);
	}
	*host = s;
	return n;
}

static bool same_host(const char *a, const char *b)
{
	const char *ha, *hb;
	size_t la = url_host(a, &ha), lb = url_host(b, &hb);
	return la == lb && strncasecmp(ha, hb, la) == 0;
}

/* Public unicast addresses only: RFC 6890's special-purpose registries, the parts a
 * fetched link has no business reaching. */
static bool public_v4(const uint8_t *a)
{
	if (a[0] == 0 || a[0] == 10 || a[0] == 127 || a[0] >= 224)
		return false; /* this network, private, loopback, multicast and reserved */
	if (a[0] == 100 && (a[1] & 0xc0) == 64)
		return false; /* shared address space (carrier-grade NAT) */
	if (a[0] == 169 && a[1] == 254)
		return false; /* link-local: cloud metadata services live here */
	if (a[0] == 172 && (a[1] & 0xf0) == 16)
		return false;
	if (a[0] == 192 && a[1] == 168)
		return false;
	if (a[0] == 192 && a[1] == 0 && (a[2] == 0 || a[2] == 2))
		return false; /* IETF assignments, documentation */
	if (a[0] == 198 && (a[1] & 0xfe) == 18)
		return false; /* benchmarking */
	return true;
}

/*
 * IPv6 addresses that carry an IPv4 address deliver to it, through the host's own stack or a
 * translator or tunnel on the way, so each is judged as that IPv4 address: IPv4-compatible
 * ::a.b.c.d and IPv4-mapped ::ffff:a.b.c.d (RFC 4291), IPv4-translated ::ffff:0:a.b.c.d
 * (RFC 2765), NAT64's well-known prefix 64:ff9b::/96 (RFC 6052), 6to4 2002:AABB:CCDD::/48
 * (RFC 3056), Teredo 2001:0::/32 (RFC 4380: the client's address is the last 32 bits
 * inverted, the server's the 32 after the prefix). Writes the IPv4 addresses to v4 and returns
 * how many (0: none embedded). ISATAP is apart: its IPv4 address is in the interface
 * identifier, behind any prefix.
 */
static int embedded_v4(const uint8_t *a, uint8_t v4[2][4])
{
	static const uint8_t zero[12], mapped[12] = {[10] = 0xff, [11] = 0xff},
	                     translated[12] = {[8] = 0xff, [9] = 0xff},
	                     nat64[12] = {0x00, 0x64, 0xff, 0x9b};
	if (!memcmp(a, zero, 12) || !memcmp(a, mapped, 12) || !memcmp(a, translated, 12) ||
	    !memcmp(a, nat64, 12)) {
		memcpy(v4[0], a + 12, 4);
		return 1;
	}
	if (a[0] == 0x20 && a[1] == 0x02) { /* 6to4 */
		memcpy(v4[0], a + 2, 4);
		return 1;
	}
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0) { /* Teredo */
		for (int i = 0; i < 4; i++)
			v4[0][i] = (uint8_t)~a[12 + i];
		memcpy(v4[1], a + 4, 4);
		return 2;
	}
	return 0;
}

/* An ISATAP interface identifier ::0:5efe:a.b.c.d or ::200:5efe:a.b.c.d (RFC 5214): the
 * prefix's router tunnels to a.b.c.d, an address inside its site. */
static bool isatap(const uint8_t *a)
{
	return (a[8] == 0x00 || a[8] == 0x02) && a[9] == 0 && a[10] == 0x5e && a[11] == 0xfe;
}

bool fm_http_public_address(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return public_v4((const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr);
	if (sa->sa_family != AF_INET6)
		return false;
	const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	uint8_t v4[2][4];
	int n = embedded_v4(a, v4);
	if (n > 0) {
		/* :: and ::1 fall here too, as 0.0.0.0 and 0.0.0.1: "this network", refused */
		for (int i = 0; i < n; i++)
			if (!public_v4(v4[i]))
				return false;
		return true;
	}
	if (a[0] == 0x00 && a[1] == 0x64 && a[2] == 0xff && a[3] == 0x9b && a[4] == 0 && a[5] == 1)
		return false;                  /* local-use NAT64 64:ff9b:1::/48 (RFC 8215): where
		                                * the IPv4 address sits is the operator's choice */
	if ((a[0] & 0xfe) == 0xfc)
		return false;                  /* unique local fc00::/7 */
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return false;                  /* link-local fe80::/10 */
	if (a[0] == 0xff)
		return false;                  /* multicast */
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
		return false;                  /* documentation */
	return !isatap(a) || public_v4(a + 12);
}

static curl_socket_t open_socket(void *data, curlsocktype purpose, struct curl_sockaddr *addr)
{
	struct xfer *x = data;
	(void)purpose;
	if (x->public_only && !fm_http_public_address(&addr->addr)) {
		x->blocked = true;
		if (addr->family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&addr->addr)->sin_addr, x->where,
			          sizeof(x->where));
		else if (addr->family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&addr->addr)->sin6_addr, x->where,
			          sizeof(x->where));
		return CURL_SOCKET_BAD;
	}
	return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

static bool is_redirect(long status)
{
	return status == 301 || status == 302 || status == 303 || status == 307 ||
	       status == 308;
}

/* The request headers. with_extra: include the configured `headers` (credentials, often),
 * which are only for the origin the source URL names. */
static struct curl_slist *build_headers(const struct fm_http_limits *lim,
                                        const struct fm_http_request *req, bool with_extra,
                                        bool *oom)
{
	struct curl_slist *list = NULL, *tmp;
	char line[1024];

#define ADD(s)                                                                                   \
	do {                                                                                     \
		tmp = curl_slist_append(list, (s));                                              \
		if (!tmp) {                                                                      \
			*oom = true;                                                             \
			return list;                                                             \
		}                                                                                \
		list = tmp;                                                                      \
	} while (0)

	*oom = false;
	for (size_t i = 0; with_extra && i < lim->n_headers; i++)
		if (lim->headers[i] && strchr(lim->headers[i], ':'))
			ADD(lim->headers[i]);
	/* Validators longer than a line are not real validators; skip rather than truncate. */
	if (req->etag && *req->etag &&
	    (size_t)snprintf(line, sizeof(line), "If-None-Match: %s", req->etag) < sizeof(line))
		ADD(line);
	if (req->last_modified && *req->last_modified &&
	    (size_t)snprintf(line, sizeof(line), "If-Modified-Since: %s", req->last_modified) <
	            sizeof(line))
		ADD(line);
	if (req->accept && (size_t)snprintf(line, sizeof(line), "Accept: %s", req->accept) <
	                           sizeof(line))
		ADD(line);
#undef ADD
	return list;
}

static void setup(CURL *c, char *errbuf, const struct fm_http_limits *lim, const char *url,
                  struct curl_slist *headers, struct xfer *x, int64_t timeout_ms)
{
	curl_easy_reset(c); /* keeps live connections, DNS and TLS session caches */
	errbuf[0] = '\0';
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0: the _STR forms; the bitmask ones are deprecated */
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	/* Redirects are followed by fm_http_get, hop by hop, so each is checked. */
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, ""); /* every encoding curl can decode */
	if (lim->user_agent && *lim->user_agent)
		curl_easy_setopt(c, CURLOPT_USERAGENT, lim->user_agent);
	if (headers)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	if (timeout_ms > 0)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	if (lim->connect_timeout_ms > 0)
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)lim->connect_timeout_ms);
	if (lim->low_speed_time_ms > 0 && lim->low_speed_limit > 0) {
		long secs = (long)((lim->low_speed_time_ms + 999) / 1000);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, (long)lim->low_speed_limit);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, secs);
	}
	if (lim->max_size)
		curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)lim->max_size);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, x);
	x->lim = lim;
	if (lim->cancelled) {
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	}
	/* A connection kept from another host's request was never checked for this one. */
	if (x->public_only)
		curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
}

/* Turn a failed transfer into an errno and a one-line cause. */
static int fail(const char *errbuf, CURLcode rc, const struct xfer *x,
                const struct fm_http_limits *lim, struct fm_http_response *resp)
{
	const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
	size_t dl = strlen(detail);
	char *e = resp->error;
	size_t n = sizeof(resp->error);

	/* curl's messages end with a newline sometimes; keep the report to one line */
	while (dl && (detail[dl - 1] == '\n' || detail[dl - 1] == '\r'))
		dl--;
	if (x->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
		snprintf(e, n, "body larger than max_size (%" PRIu64 " bytes)", lim->max_size);
		return -EFBIG;
	}
	if (x->oom) {
		snprintf(e, n, "out of memory reading the body");
		return -ENOMEM;
	}
	if (x->cancelled) {
		snprintf(e, n, "cancelled: the stage is stopping");
		return -ECANCELED;
	}
	if (x->blocked) {
		snprintf(e, n,
		         "refused to connect to %s: not a public address, and this host is not the "
		         "source's own (allow_private_links = yes allows it)",
		         x->where[0] ? x->where : "the address");
		return -EACCES;
	}
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(e, n, "timed out: %.*s", (int)dl, detail);
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		snprintf(e, n, "cannot connect: %.*s", (int)dl, detail);
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
		snprintf(e, n, "cannot resolve host: %.*s", (int)dl, detail);
		return -EHOSTUNREACH;
	case CURLE_UNSUPPORTED_PROTOCOL:
		snprintf(e, n, "refused: only http and https are fetched (%.*s)", (int)dl, detail);
		return -EPROTONOSUPPORT;
	case CURLE_PARTIAL_FILE:
		snprintf(e, n, "truncated body: %.*s", (int)dl, detail);
		return -EIO;
	default:
		snprintf(e, n, "transfer failed: %.*s", (int)dl, detail);
		return -EIO;
	}
}

/* Set up t's current hop (resp->url) on t->easy: 0, or a negative errno (cause in resp). */
static int begin_hop(struct fm_http_xfer *t)
{
	struct fm_http_response *resp = t->resp;
	const struct fm_http_limits *lim = t->lim;
	if (!fm_url_is_http(resp->url)) {
		char scheme[16] = "";
		fm_url_scheme(resp->url, scheme, sizeof(scheme));
		snprintf(resp->error, sizeof(resp->error),
		         "refused %s URL with scheme \"%s\": only http and https are fetched",
		         resp->redirects ? "a redirect to a" : "a", scheme);
		return -EPROTONOSUPPORT;
	}
	int64_t left = 0;
	if (lim->timeout_ms > 0) {
		left = lim->timeout_ms - (mono_ms() - t->start);
		if (left <= 0) {
			snprintf(resp->error, sizeof(resp->error),
			         "timed out after %" PRId64 " ms (redirects included)", lim->timeout_ms);
			return -ETIMEDOUT;
		}
	}
	fm_buf_truncate(&resp->body, 0);
	t->x.too_big = t->x.oom = t->x.blocked = false;
	t->x.where[0] = '\0';
	t->x.public_only = t->req.trusted_url && !same_host(resp->url, t->req.trusted_url);
	/* a redirect to another origin does not get the configured headers: they may be
	 * credentials for the source's host only (curl's CURLOPT_UNRESTRICTED_AUTH rule) */
	bool home = !lim->n_headers || same_origin(resp->url, t->req.url);
	setup(t->easy, t->errbuf, lim, resp->url, home ? t->headers : t->foreign, &t->x, left);
	return 0;
}

int fm_http_xfer_start(struct fm_http_xfer *t, CURL *easy, const struct fm_http_limits *lim,
                       const struct fm_http_request *req, struct fm_http_response *resp)
{
	bool oom = false;
	memset(t, 0, sizeof(*t));
	t->easy = easy;
	t->lim = lim;
	t->req = *req;
	t->resp = resp;
	t->x.resp = resp;
	t->x.max_size = lim->max_size;
	t->start = mono_ms();
	resp->url = strdup(req->url ? req->url : "");
	if (!resp->url)
		return -ENOMEM;
	t->headers = build_headers(lim, req, true, &oom);
	if (!oom && lim->n_headers)
		t->foreign = build_headers(lim, req, false, &oom);
	if (oom) {
		snprintf(resp->error, sizeof(resp->error), "out of memory");
		return -ENOMEM;
	}
	return begin_hop(t);
}

bool fm_http_xfer_next(struct fm_http_xfer *t, CURLcode rc, int *ret)
{
	struct fm_http_response *resp = t->resp;
	long conns = 0;
	if (curl_easy_getinfo(t->easy, CURLINFO_NUM_CONNECTS, &conns) == CURLE_OK)
		resp->connects += conns;
	if (rc != CURLE_OK) {
		*ret = fail(t->errbuf, rc, &t->x, t->lim, resp);
		return false;
	}
	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &resp->status);
	char *loc = NULL;
	curl_easy_getinfo(t->easy, CURLINFO_REDIRECT_URL, &loc);
	if (!is_redirect(resp->status) || !loc || !*loc) {
		char *ct = NULL;
		curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &ct);
		parse_content_type(ct, &resp->content_type, &resp->charset);
		*ret = 0;
		return false;
	}
	if (resp->redirects >= t->lim->max_redirects) {
		snprintf(resp->error, sizeof(resp->error),
		         "too many redirects (more than max_redirects = %ld)", t->lim->max_redirects);
		*ret = -ELOOP;
		return false;
	}
	char *next = strdup(loc);
	if (!next) {
		*ret = -ENOMEM;
		return false;
	}
	free(resp->url);
	resp->url = next;
	resp->redirects++;
	*ret = begin_hop(t);
	return *ret == 0;
}

void fm_http_xfer_end(struct fm_http_xfer *t)
{
	curl_slist_free_all(t->headers);
	curl_slist_free_all(t->foreign);
	t->headers = t->foreign = NULL;
}

int fm_http_get(struct fm_http *h, const struct fm_http_limits *lim,
                const struct fm_http_request *req, struct fm_http_response *resp)
{
	struct fm_http_xfer t;
	int ret = fm_http_xfer_start(&t, h->curl, lim, req, resp);
	while (ret == 0 && fm_http_xfer_next(&t, curl_easy_perform(h->curl), &ret))
		;
	fm_http_xfer_end(&t);
	return ret;
}

int64_t fm_http_retry_after(const char *value, int64_t now_s)
{
	/* RFC 9110 section 10.2.3: delay-seconds or an HTTP-date. Cap at 30 days: a server asking
	 * for more is broken, and the scheduler should try again at some point. */
	const int64_t cap = 30 * 86400;
	if (!value)
		return -1;
	while (isspace((unsigned char)*value))
		value++;
	if (isdigit((unsigned char)*value)) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(value, &end, 10);
		while (isspace((unsigned char)*end))
			end++;
		if (*end == '\0') {
			if (errno == ERANGE || v > (unsigned long long)cap)
				return cap;
			return (int64_t)v;
		}
	}
	time_t t = curl_getdate(value, NULL);
	if (t == (time_t)-1)
		return -1;
	int64_t d = (int64_t)t - now_s;
	return d < 0 ? 0 : d > cap ? cap : d;
}

char *fm_http_redact(const char *url)
{
	if (!url)
		return NULL;
	const char *sep = strstr(url, "://");
	if (!sep)
		return strdup(url);
	const char *auth = sep + 3;
	size_t alen = strcspn(auth, "/?#");
	const char *at = NULL;
	for (const char *p = auth; p < auth + alen; p++)
		if (*p == '@')
			at = p;
	if (!at)
		return strdup(url);
	size_t head = (size_t)(auth - url);
	size_t tail = strlen(at);
	char *out = malloc(head + 3 + tail + 1);
	if (!out)
		return NULL;
	memcpy(out, url, head);
	memcpy(out + head, "***", 3);
	memcpy(out + head + 3, at, tail + 1);
	return out;
}
