/*
 * A stage worker: pulls documents from the hub, runs them through one plugin instance and
 * pushes the results back. The same loop runs as a thread of the main process, as a child
 * process, or as `feedmill stage NAME` on another host; only the endpoints differ.
 */
#ifndef FM_CORE_WORKER_H
#define FM_CORE_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "instance.h"

struct fm_worker_spec {
	const char *stage;
	int index;
	void *zctx;            /* the ZeroMQ context (the hub's, for inproc) */
	const char *work_ep;   /* where to pull documents from */
	const char *result_ep; /* where to push results to */
	uint64_t max_doc_size; /* a document serialized larger than this is dropped */
	atomic_int *stop;      /* set non-zero to make the loop finish at once; host->stopping()
	                        * then tells the plugin to cut long operations short */
	bool output;           /* an output: commit (flush, then "synced") soon after documents
	                        * pause, and at least every commit_ms while they come */
	int64_t commit_ms;
};

/* Run the loop until *stop is set or a "stop" message comes (after everything sent before
 * it); then flush the instance. The instance must be started (fm_instance_start). Returns 0,
 * or -errno when the sockets cannot be set up. */
int fm_worker_loop(fm_instance *inst, const struct fm_worker_spec *spec);

#endif
