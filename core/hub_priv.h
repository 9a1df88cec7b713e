/*
 * The hub's insides, shared by its three parts:
 *   hub.c          the loop: new work in, answers routed on, the drain, the summary;
 *   ledger.c       what is in flight: every document on every hop (queued, sent, delayed,
 *                  held by an output until it is durable), and who is owed an
 *                  acknowledgement when the documents descending from a delivery settle;
 *   hub_workers.c  the stages' workers: threads, child processes, their start, watch,
 *                  restart and stop.
 * Other modules use hub.h.
 *
 * Delivery, end to end (README, "Nothing lost, nothing published twice"):
 *  - every document is a hop of the ledger from the moment it enters a stage's queue until it
 *    is settled: answered by a stage that passed it on (its children are new hops), dropped
 *    or failed, or, at an output, made durable (the output's worker says "synced" after its
 *    flush());
 *  - a delivery to a stage that takes acknowledgements (plugin.h, ack) starts a lineage: the
 *    hops that descend from it hold it, and when the last one settles the stage is told
 *    (settled, or failed when one of them failed); lineages nest when two such stages follow
 *    each other;
 *  - a fetch's documents are counted per source: when the last one settles the scheduler
 *    commits the fetch (its validators, its next poll), and not before.
 */
#ifndef FM_CORE_HUB_PRIV_H
#define FM_CORE_HUB_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <zmq.h>

#include "hub.h"
#include "instance.h"
#include "jsonio.h"
#include "worker.h"

enum hop_state {
	HOP_QUEUED,   /* waiting for its stage (st->q) */
	HOP_DELAYED,  /* to be delivered again not before not_before (h->delayed) */
	HOP_SENT,     /* handed to a worker, unanswered (st->sent, in the order sent) */
	HOP_UNSYNCED, /* taken by an output's worker, not yet durable (st->unsynced[worker]) */
};

/* How a hop leaves the ledger. */
enum hop_fate {
	FATE_DONE,      /* passed on, dropped on purpose, or durable at an output */
	FATE_ERROR,     /* failed for good (FM_ERROR, not a JSON object, too large) */
	FATE_GIVEN_UP,  /* retried max_attempts times: its fetch is not committed */
	FATE_ABANDONED, /* left behind by a stop: the next start fetches it again */
};

/* A delivery to a stage that takes acknowledgements, and the hops descending from it. */
struct lineage {
	uint64_t token;          /* the delivery's hop id: what the stage's ack() receives */
	struct lineage *parent;  /* the enclosing lineage (an earlier such stage), or NULL */
	uint32_t refs;           /* hops (and the sink's writes) holding it */
	int stage;
	bool failed;
};

struct hop {
	uint64_t id;
	int stage;
	int source;      /* scheduler index; the input's index (nsources) for pipe input */
	int64_t fetch;   /* origin: fetch number, or input line */
	zmq_msg_t doc;   /* kept until the hop settles, for redelivery */
	struct fm_json_raws raws; /* long strings of its parsed value, written out as in doc */
	int attempts;
	int64_t sent_at; /* monotonic ms: when sent (HOP_SENT) or taken (HOP_UNSYNCED) */
	int64_t not_before;
	bool request;    /* a fetch request from the scheduler */
	enum hop_state state;
	int worker;      /* HOP_UNSYNCED: the output worker holding it */
	struct lineage *lin;
	struct hop *tnext;         /* in the ledger's table */
	struct hop *qprev, *qnext; /* in the queue of its state */
};

struct queue {
	struct hop *head, *tail;
	size_t len;
};

struct stage_rt {
	struct fm_stage_cfg *cfg;
	int index;
	bool is_output;
	bool acks;          /* its plugin takes acknowledgements (and it has one worker) */
	void *push;
	char *work_ep;      /* what workers connect to for work */
	char *result_ep;    /* what workers connect to for results */
	char *state_dir;
	int64_t in_flight;  /* hops sent and unanswered */
	int64_t nlive;      /* hops of this stage in any state */
	struct queue q, sent;
	struct queue *unsynced; /* per worker */
	/* acknowledgements to send */
	uint64_t *ack_ok, *ack_failed;
	size_t n_ok, n_failed, cap_ok, cap_failed;
	/* thread workers */
	pthread_t *threads;
	bool *joined;
	fm_instance **insts;
	atomic_int stop;
	int nthreads;
	/* process workers */
	pid_t *pids;
	int64_t *restart_at;
	int *restarts;
	int64_t *started_at;
	bool stopped;       /* stopped for good (a stop, early for a stage already idle) */
	/* worker (re)connections: what was sent between a loss and the next hello may have gone
	 * to the dead peer's pipe, so it is delivered again when a worker says hello */
	int64_t hellos;
	bool lost_worker;
	/* what it did */
	int64_t n_in, n_out, n_pass, n_done, n_drop, n_retry, n_error, n_lost;
	json_t *counts;
};

struct thread_arg {
	fm_instance *inst;
	struct fm_worker_spec spec;
};

/* Per source (and one more for pipe input): its documents in the pipeline. */
struct src_rt {
	int64_t outstanding;
	bool unsettled; /* one was given up: the fetch is not committed */
	bool abandoned; /* left behind by a stop: nothing is committed */
};

struct fm_hub {
	struct fm_config *cfg;
	struct fm_hub_opts opts;
	void *zctx;
	void *results;
	struct stage_rt *st;
	int nchain, nstages; /* chain stages first, then outputs */
	/* the ledger */
	struct hop **table;
	size_t tsize, tcount;
	struct queue delayed;
	uint64_t next_hop;
	int64_t live;          /* hops in the ledger */
	struct src_rt *src;
	int nsources;
	struct lineage **sink_held; /* written to the sink, settled once it is flushed */
	size_t nsink_held, sink_held_cap;
	int64_t published, given_up, abandoned, fetch_seq;
	/* workers */
	struct thread_arg *targs;
	size_t ntargs;
	/* pipe input */
	int in_fd;
	bool in_eof;
	bool in_skip; /* inside an input line longer than max_doc_size: drop up to its end */
	char *in_buf;
	size_t in_len, in_cap;
	int64_t in_line;
	struct fm_jbuf sink_buf; /* the text of the document being written out */
	int64_t started_ms;
	bool draining;
	bool fatal;
	bool output_failed;
	bool blocked; /* a stage could not take a document: look again soon */
};

/* ---- ledger.c ---- */
void q_push(struct queue *q, struct hop *p);
void q_push_front(struct queue *q, struct hop *p);
struct hop *q_pop(struct queue *q);

/* A new document for stage `stage`, queued; takes doc (moved out of *doc) and a reference on
 * lin (may be NULL). */
struct hop *hop_new(struct fm_hub *h, int stage, int source, int64_t fetch, zmq_msg_t *doc,
                    bool request, struct lineage *lin);
struct hop *hop_find(const struct fm_hub *h, uint64_t id);
/* Take p out of the queue its state puts it in (a sent hop: the stage's in_flight too). */
void hop_unlink(struct fm_hub *h, struct hop *p);
/* p (unlinked) waits for its stage again: at the back, or the front. */
void hop_queue(struct fm_hub *h, struct hop *p, bool front);
void hop_set_sent(struct fm_hub *h, struct hop *p, int64_t now);
void hop_set_unsynced(struct fm_hub *h, struct hop *p, int worker, int64_t now);
/* p leaves the pipeline (unlinked or not): its lineage and its source are told. */
void hop_end(struct fm_hub *h, struct hop *p, enum hop_fate fate);
/* p (unlinked) is delivered again later, or given up after max_attempts. quiet: the caller
 * logs for a batch. */
void hop_retry(struct fm_hub *h, struct hop *p, const char *why, bool quiet);
const char *hub_source_name(const struct fm_hub *h, int source);

/* A lineage for a delivery (hop id token) to stage, inside parent (may be NULL); the caller
 * holds the one reference it starts with. */
struct lineage *lin_new(struct fm_hub *h, int stage, uint64_t token, struct lineage *parent);
void lin_hold(struct lineage *l);
void lin_release(struct fm_hub *h, struct lineage *l, bool failed);
/* The sink (pipe's output) wrote a document of l: settled when the sink is flushed. */
void sink_hold(struct fm_hub *h, struct lineage *l);
void sink_settle(struct fm_hub *h, bool ok);
/* Send the acknowledgements owed to stages. */
void send_acks(struct fm_hub *h);
/* Free every hop and lineage left (teardown). */
void ledger_free(struct fm_hub *h);

/* ---- hub_workers.c ---- */
int hub_setup_stage(struct fm_hub *h, struct stage_rt *st, const char *run_dir);
int hub_start_workers(struct fm_hub *h, struct stage_rt *st);
/* Reap dead children, redeliver what they had, restart them with a growing delay. */
void hub_watch_processes(struct fm_hub *h);
/* Redeliver what stage's workers had (sent before older_than; 0: all). */
void hub_requeue_sent(struct fm_hub *h, int stage, const char *why, int64_t older_than);
/* Stop a stage's workers now (the stop flag, SIGTERM): transfers are cut short. */
void hub_stop_stage(struct fm_hub *h, struct stage_rt *st);
/* Let every worker finish what was sent to it (a stop message after it), then wait for the
 * threads and processes, insisting after a while. */
void hub_finish_workers(struct fm_hub *h);
void hub_free_workers(struct fm_hub *h, struct stage_rt *st);

#endif
