/*
 * fetch_http: one GET, hop by hop (each redirect checked before it is followed), driven
 * either by fm_http_get() (curl_easy_perform, one at a time) or by the fetcher (fetcher.h:
 * many at once on a curl multi handle). Private to the plugin.
 */
#ifndef FM_FETCH_HTTP_XFER_H
#define FM_FETCH_HTTP_XFER_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "http.h"

/* State of one hop, for curl's callbacks. */
struct xfer {
	struct fm_http_response *resp;
	uint64_t max_size;
	bool too_big;
	bool oom;
	bool public_only;   /* this hop may only connect to public addresses */
	bool blocked;       /* ... and it tried another: the address is in `where` */
	bool cancelled;     /* lim->cancelled cut it short */
	const struct fm_http_limits *lim;
	char where[64];
};

/* One GET with its hops. lim and the strings of req are borrowed until fm_http_xfer_end. */
struct fm_http_xfer {
	CURL *easy;
	char errbuf[CURL_ERROR_SIZE];
	struct xfer x;
	const struct fm_http_limits *lim;
	struct fm_http_request req;
	struct fm_http_response *resp;
	struct curl_slist *headers, *foreign;
	int64_t start;
};

/* Set up the first hop on easy. 0: ready to perform; or a negative errno with the cause in
 * resp->error (nothing to perform then, but fm_http_xfer_end still). */
int fm_http_xfer_start(struct fm_http_xfer *t, CURL *easy, const struct fm_http_limits *lim,
                       const struct fm_http_request *req, struct fm_http_response *resp);
/* The hop's transfer ended with rc. Returns true when the next hop is set up on t->easy (a
 * redirect), false when the GET is over, its result in *ret (0: a response, any status;
 * else a negative errno as fm_http_get's, the cause in resp->error). */
bool fm_http_xfer_next(struct fm_http_xfer *t, CURLcode rc, int *ret);
void fm_http_xfer_end(struct fm_http_xfer *t);

#endif
