/*
 * HTTP GET for the fetch stage, on libcurl.
 *
 * One struct fm_http per plugin instance wraps one CURL easy handle, so connections (and DNS,
 * TLS sessions) are reused across requests to the same host. Only http:// and https:// are
 * ever fetched, also across redirects, which are followed here (not by curl) so every hop is
 * checked and counted. Bodies are bounded by max_size after decompression; a body that trickles
 * slower than the low-speed limit is aborted.
 */
#ifndef FM_FETCH_HTTP_HTTP_H
#define FM_FETCH_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include "buf.h"
#include "http_cache.h"

struct fm_http;

struct fm_http_limits {
	int64_t timeout_ms;         /* whole transfer, per hop; 0: none */
	int64_t connect_timeout_ms; /* 0: curl's default */
	uint64_t max_size;          /* decoded body bytes; 0: unbounded */
	long max_redirects;         /* hops followed; more is an error */
	uint64_t low_speed_limit;   /* bytes/s ... */
	int64_t low_speed_time_ms;  /* ... below which for this long aborts; 0: off */
	const char *user_agent;
	const char *const *headers; /* "Name: value" extra request headers; n_headers of them.
	                             * Sent to the request URL's origin only, not to another
	                             * host a redirect leads to */
	size_t n_headers;
	/* Asked now and then during a transfer (NULL: never): nonzero cuts it short, and
	 * fm_http_get() returns -ECANCELED (the stage is stopping). */
	int (*cancelled)(void *arg);
	void *cancel_arg;
};

struct fm_http_request {
	const char *url;
	const char *etag;          /* If-None-Match; NULL: none */
	const char *last_modified; /* If-Modified-Since; NULL: none */
	const char *accept;        /* Accept header; NULL: curl's default */
	/* Connections to this URL's host may go to any address. Any other host (a redirect
	 * elsewhere, a link found in fetched content) is only connected to at a public address:
	 * not loopback, private, link-local (cloud metadata), shared, multicast or reserved, so
	 * a hostile feed cannot make feedmill reach internal services. NULL: no restriction. */
	const char *trusted_url;
};

struct fm_http_response {
	long status;         /* final HTTP status; 0 when no response arrived */
	char *url;           /* final URL after redirects (malloc'd) */
	char *content_type;  /* media type, lower-case, no parameters; NULL if none */
	char *charset;       /* charset= parameter of Content-Type; NULL if none */
	char *etag;          /* validators of the final response; NULL if none */
	char *last_modified;
	char *retry_after;   /* raw Retry-After value; NULL if none */
	struct fm_http_cache cache; /* caching headers of the final response (http_cache.h) */
	long redirects;      /* hops followed */
	long connects;       /* new connections opened (0: an open one was reused) */
	struct fm_buf body;  /* decoded body (NUL-terminated) */
	char error[256];     /* on failure: the cause, one line, no URL */
};

/* Create a client. Returns NULL on OOM or when libcurl cannot initialise. */
struct fm_http *fm_http_new(void);
void fm_http_free(struct fm_http *h);

/* GET req->url with the limits. Returns 0 when an HTTP response was received (any status,
 * including 304, 4xx and 5xx: look at resp->status), or a negative errno-style code after
 * writing the cause into resp->error: -ETIMEDOUT, -ECONNREFUSED, -EFBIG (body over max_size),
 * -ELOOP (too many redirects), -EPROTONOSUPPORT (a non-http(s) URL or redirect), -EACCES (a
 * host other than trusted_url's resolved to a non-public address), -ECANCELED
 * (lim->cancelled said so), -EIO (other transfer failure). resp must be zeroed or reset; fill it with fm_http_response_reset(). */
int fm_http_get(struct fm_http *h, const struct fm_http_limits *lim,
                const struct fm_http_request *req, struct fm_http_response *resp);

/* Free what a response holds and zero it (keeps the body buffer's memory for reuse). */
void fm_http_response_reset(struct fm_http_response *resp);
void fm_http_response_free(struct fm_http_response *resp);

/* Whether a connection to sa stays on the public Internet (the rule trusted_url relaxes):
 * not loopback, private, link-local, shared, multicast or reserved IPv4, and the same for the
 * IPv4 address an IPv6 address embeds (mapped, compatible, translated, NAT64, 6to4, Teredo,
 * ISATAP), besides IPv6's own non-public ranges. */
bool fm_http_public_address(const struct sockaddr *sa);

/* Seconds to wait from a Retry-After value: delta-seconds or an HTTP-date (relative to
 * now_s, the wall clock in seconds). Returns -1 when value is NULL or not understood. */
int64_t fm_http_retry_after(const char *value, int64_t now_s);

/* A copy of url fit for logs and reports: userinfo ("user:pass@") is replaced by "***@".
 * Returns malloc'd (NULL on OOM). */
char *fm_http_redact(const char *url);

#endif
