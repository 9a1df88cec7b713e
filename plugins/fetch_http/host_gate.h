/*
 * fetch_http: per-host politeness shared by every fetcher of the process. A stage's workers
 * are threads of one process (run_as = thread), each with its own fetcher (fetcher.h); the
 * gate is what makes "at most per_host transfers to one host, and a gap between two requests
 * started to it" hold across all of them, feeds and full-article pages alike, and "at most
 * max_transfers at once" for the stage as a whole.
 *
 * A host is its lower-case name (no scheme, no port, no userinfo): the politeness is for the
 * server, whichever port or scheme it is asked on.
 *
 * A fetcher that is refused because the host (or the whole gate) is full joins the gate as a
 * waiter: its descriptor (an eventfd) becomes readable when a slot it may want is released.
 * A refusal for the gap says when to ask again instead.
 *
 * Thread-safe (one mutex; the work under it is a hash lookup).
 */
#ifndef FM_FETCH_HTTP_HOST_GATE_H
#define FM_FETCH_HTTP_HOST_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fm_gate_waiter;

/* Join: a waiter with its eventfd. NULL on OOM or when no eventfd can be made. */
struct fm_gate_waiter *fm_gate_join(void);
void fm_gate_leave(struct fm_gate_waiter *w);
/* Readable when a slot was released after a refusal for fullness; fm_gate_woken() reads it. */
int fm_gate_fd(const struct fm_gate_waiter *w);
void fm_gate_woken(struct fm_gate_waiter *w);

struct fm_gate_ask {
	const char *host;      /* lower-case host name */
	int per_host;          /* at once to host, across the process */
	int max_total;         /* at once in all, across the process; 0: no limit */
	int64_t gap_ms;        /* since the last request started to host */
	int64_t now;           /* monotonic ms */
};

enum fm_gate_answer {
	FM_GATE_TAKEN,     /* a slot: release it with fm_gate_release() */
	FM_GATE_GAP,       /* not before *retry_at (monotonic ms) */
	FM_GATE_HOST_FULL, /* not until a transfer to the host ends (w's fd says when) */
	FM_GATE_ALL_FULL,  /* not until any transfer ends (w's fd says when) */
};

enum fm_gate_answer fm_gate_acquire(struct fm_gate_waiter *w, const struct fm_gate_ask *a,
                                    int64_t *retry_at);
void fm_gate_release(const char *host);

/* Transfers holding a slot to host now (for tests and counters). */
int fm_gate_active(const char *host);

/* The host part of url, lower case, into buf (empty when url has none). */
void fm_gate_host(const char *url, char *buf, size_t n);

#endif
