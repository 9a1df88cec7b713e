/* The hub's ledger: every document in flight, and the acknowledgements owed (hub_priv.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "hub_priv.h"
#include "log.h"
#include "util.h"

/* ------------------------------------------------------------------ queues */

void q_push(struct queue *q, struct hop *p)
{
	p->qnext = NULL;
	p->qprev = q->tail;
	if (q->tail)
		q->tail->qnext = p;
	else
		q->head = p;
	q->tail = p;
	q->len++;
}

void q_push_front(struct queue *q, struct hop *p)
{
	p->qprev = NULL;
	p->qnext = q->head;
	if (q->head)
		q->head->qprev = p;
	else
		q->tail = p;
	q->head = p;
	q->len++;
}

static void q_remove(struct queue *q, struct hop *p)
{
	if (p->qprev)
		p->qprev->qnext = p->qnext;
	else
		q->head = p->qnext;
	if (p->qnext)
		p->qnext->qprev = p->qprev;
	else
		q->tail = p->qprev;
	p->qprev = p->qnext = NULL;
	q->len--;
}

struct hop *q_pop(struct queue *q)
{
	struct hop *p = q->head;
	if (p)
		q_remove(q, p);
	return p;
}

/* ------------------------------------------------------------------ the table of hops */

static size_t slot_of(const struct fm_hub *h, uint64_t id)
{
	return (size_t)(id * 0x9E3779B97F4A7C15ull) & (h->tsize - 1);
}

static void table_grow(struct fm_hub *h)
{
	size_t nsize = h->tsize ? h->tsize * 2 : 1024;
	struct hop **nt = calloc(nsize, sizeof(*nt));
	if (!nt)
		return; /* stays correct, only slower */
	struct hop **old = h->table;
	size_t osize = h->tsize;
	h->table = nt;
	h->tsize = nsize;
	for (size_t i = 0; i < osize; i++) {
		struct hop *p = old[i];
		while (p) {
			struct hop *next = p->tnext;
			size_t s = slot_of(h, p->id);
			p->tnext = h->table[s];
			h->table[s] = p;
			p = next;
		}
	}
	free(old);
}

static void table_put(struct fm_hub *h, struct hop *p)
{
	if (h->tcount + 1 > h->tsize)
		table_grow(h);
	size_t s = slot_of(h, p->id);
	p->tnext = h->table[s];
	h->table[s] = p;
	h->tcount++;
}

static void table_remove(struct fm_hub *h, struct hop *p)
{
	for (struct hop **pp = &h->table[slot_of(h, p->id)]; *pp; pp = &(*pp)->tnext) {
		if (*pp == p) {
			*pp = p->tnext;
			p->tnext = NULL;
			h->tcount--;
			return;
		}
	}
}

struct hop *hop_find(const struct fm_hub *h, uint64_t id)
{
	if (!h->tsize)
		return NULL;
	for (struct hop *p = h->table[slot_of(h, id)]; p; p = p->tnext)
		if (p->id == id)
			return p;
	return NULL;
}

/* ------------------------------------------------------------------ hops */

const char *hub_source_name(const struct fm_hub *h, int source)
{
	if (source == h->nsources)
		return "stdin";
	const char *n = h->opts.sched ? fm_sched_source_name(h->opts.sched, source) : NULL;
	return n ? n : "?";
}

struct hop *hop_new(struct fm_hub *h, int stage, int source, int64_t fetch, zmq_msg_t *doc,
                    bool request, struct lineage *lin)
{
	struct hop *p = calloc(1, sizeof(*p));
	if (!p) {
		log_err("out of memory: dropped a document from %s", hub_source_name(h, source));
		zmq_msg_close(doc);
		if (lin) {
			lin_hold(lin);
			lin_release(h, lin, true);
		}
		return NULL;
	}
	p->id = ++h->next_hop;
	p->stage = stage;
	p->source = source;
	p->fetch = fetch;
	zmq_msg_init(&p->doc);
	zmq_msg_move(&p->doc, doc);
	p->request = request;
	p->lin = lin;
	if (lin)
		lin_hold(lin);
	p->state = HOP_QUEUED;
	q_push(&h->st[stage].q, p);
	table_put(h, p);
	h->st[stage].n_in++;
	h->st[stage].nlive++;
	h->live++;
	h->src[source].outstanding++;
	return p;
}

static struct queue *queue_of(struct fm_hub *h, struct hop *p)
{
	struct stage_rt *st = &h->st[p->stage];
	switch (p->state) {
	case HOP_QUEUED:
		return &st->q;
	case HOP_DELAYED:
		return &h->delayed;
	case HOP_SENT:
		return &st->sent;
	case HOP_UNSYNCED:
		return &st->unsynced[p->worker];
	}
	return NULL;
}

void hop_unlink(struct fm_hub *h, struct hop *p)
{
	struct queue *q = queue_of(h, p);
	if (!q || (!p->qprev && !p->qnext && q->head != p))
		return; /* not in it (unlinked already) */
	q_remove(q, p);
	if (p->state == HOP_SENT)
		h->st[p->stage].in_flight--;
	p->state = HOP_QUEUED;
	p->sent_at = 0;
}

void hop_queue(struct fm_hub *h, struct hop *p, bool front)
{
	p->state = HOP_QUEUED;
	if (front)
		q_push_front(&h->st[p->stage].q, p);
	else
		q_push(&h->st[p->stage].q, p);
}

void hop_set_sent(struct fm_hub *h, struct hop *p, int64_t now)
{
	p->state = HOP_SENT;
	p->sent_at = now;
	q_push(&h->st[p->stage].sent, p);
	h->st[p->stage].in_flight++;
}

void hop_set_unsynced(struct fm_hub *h, struct hop *p, int worker, int64_t now)
{
	p->state = HOP_UNSYNCED;
	p->worker = worker;
	p->sent_at = now;
	q_push(&h->st[p->stage].unsynced[worker], p);
}

static void hop_free(struct hop *p)
{
	fm_json_raws_release(&p->raws);
	zmq_msg_close(&p->doc);
	free(p);
}

void hop_end(struct fm_hub *h, struct hop *p, enum hop_fate fate)
{
	hop_unlink(h, p);
	table_remove(h, p);
	if (p->lin)
		lin_release(h, p->lin, fate != FATE_DONE);
	struct src_rt *s = &h->src[p->source];
	if (fate == FATE_GIVEN_UP)
		s->unsettled = true;
	else if (fate == FATE_ABANDONED)
		s->abandoned = true;
	h->st[p->stage].nlive--;
	h->live--;
	if (--s->outstanding == 0) {
		if (h->opts.sched && p->source < h->nsources && !s->abandoned)
			fm_sched_fetch_complete(h->opts.sched, p->source, !s->unsettled, fm_now_ms());
		s->unsettled = s->abandoned = false;
	}
	hop_free(p);
}

void hop_retry(struct fm_hub *h, struct hop *p, const char *why, bool quiet)
{
	struct stage_rt *st = &h->st[p->stage];
	p->attempts++;
	if (p->attempts >= h->cfg->max_attempts) {
		log_err("stage %s: gave up on a document from %s#%lld after %d attempts (%s)",
		        st->cfg->name, hub_source_name(h, p->source), (long long)p->fetch,
		        p->attempts, why);
		h->given_up++;
		if (p->request && h->opts.sched) {
			json_t *rep = json_pack("{s:s}", "error", why);
			fm_sched_done(h->opts.sched, p->source, rep, true, fm_now_ms());
			json_decref(rep);
		}
		hop_end(h, p, FATE_GIVEN_UP);
		return;
	}
	int64_t delay = 500LL << (p->attempts > 6 ? 6 : p->attempts);
	p->not_before = fm_monotonic_ms() + delay;
	if (!quiet)
		log_warn("stage %s: a document from %s#%lld will be delivered again in %lldms (%s)",
		         st->cfg->name, hub_source_name(h, p->source), (long long)p->fetch,
		         (long long)delay, why);
	p->state = HOP_DELAYED;
	q_push(&h->delayed, p);
}

/* ------------------------------------------------------------------ lineages and acks */

struct lineage *lin_new(struct fm_hub *h, int stage, uint64_t token, struct lineage *parent)
{
	(void)h;
	struct lineage *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL; /* no acknowledgement then: the stage's state stays tentative */
	l->token = token;
	l->stage = stage;
	l->refs = 1;
	l->parent = parent;
	if (parent)
		lin_hold(parent);
	return l;
}

void lin_hold(struct lineage *l)
{
	l->refs++;
}

static int push_token(uint64_t **v, size_t *n, size_t *cap, uint64_t t)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 256;
		uint64_t *nv = realloc(*v, nc * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = t;
	return 0;
}

void lin_release(struct fm_hub *h, struct lineage *l, bool failed)
{
	while (l) {
		l->failed |= failed;
		if (--l->refs > 0)
			return;
		struct stage_rt *st = &h->st[l->stage];
		/* a lost acknowledgement only keeps the stage's state tentative */
		if (l->failed)
			push_token(&st->ack_failed, &st->n_failed, &st->cap_failed, l->token);
		else
			push_token(&st->ack_ok, &st->n_ok, &st->cap_ok, l->token);
		struct lineage *parent = l->parent;
		failed = l->failed;
		free(l);
		l = parent;
	}
}

void sink_hold(struct fm_hub *h, struct lineage *l)
{
	if (!l)
		return;
	if (h->nsink_held == h->sink_held_cap) {
		size_t nc = h->sink_held_cap ? h->sink_held_cap * 2 : 256;
		struct lineage **nv = realloc(h->sink_held, nc * sizeof(*nv));
		if (!nv)
			return; /* not acknowledged: stays tentative */
		h->sink_held = nv;
		h->sink_held_cap = nc;
	}
	lin_hold(l);
	h->sink_held[h->nsink_held++] = l;
}

void sink_settle(struct fm_hub *h, bool ok)
{
	for (size_t i = 0; i < h->nsink_held; i++)
		lin_release(h, h->sink_held[i], !ok);
	h->nsink_held = 0;
}

#define ACK_BATCH 4096

/* One message of at most ACK_BATCH tokens, settled ones first. 0, or -EAGAIN / -errno. */
static int send_ack_batch(struct stage_rt *st)
{
	size_t nok = st->n_ok < ACK_BATCH ? st->n_ok : ACK_BATCH;
	size_t nf = st->n_failed < ACK_BATCH - nok ? st->n_failed : ACK_BATCH - nok;
	uint64_t buf[ACK_BATCH];
	if (nok)
		memcpy(buf, st->ack_ok + st->n_ok - nok, nok * sizeof(*buf));
	if (nf)
		memcpy(buf + nok, st->ack_failed + st->n_failed - nf, nf * sizeof(*buf));
	struct fm_env env = {.type = FM_MSG_ACK, .acks = buf, .nacks = nok, .nfailed = nf};
	int rc = fm_msg_send(st->push, &env, NULL, NULL, 0, ZMQ_DONTWAIT);
	if (rc == 0) {
		st->n_ok -= nok;
		st->n_failed -= nf;
	}
	return rc;
}

void send_acks(struct fm_hub *h)
{
	for (int i = 0; i < h->nstages; i++) {
		struct stage_rt *st = &h->st[i];
		while ((st->n_ok || st->n_failed) && st->push) {
			int rc = send_ack_batch(st);
			if (rc == -EAGAIN)
				break;
			if (rc != 0) {
				log_warn("stage %s: cannot send acknowledgements: %s (its state stays "
				         "tentative for those documents)",
				         st->cfg->name, zmq_strerror(-rc));
				st->n_ok = st->n_failed = 0;
			}
		}
	}
}

void ledger_free(struct fm_hub *h)
{
	/* Teardown: what is left is abandoned; lineages go with the hops. */
	for (size_t i = 0; i < h->tsize; i++) {
		while (h->table && h->table[i]) {
			struct hop *p = h->table[i];
			hop_unlink(h, p);
			table_remove(h, p);
			if (p->lin)
				lin_release(h, p->lin, true);
			hop_free(p);
		}
	}
	sink_settle(h, false);
	free(h->table);
	h->table = NULL;
	h->tsize = h->tcount = 0;
	free(h->sink_held);
	h->sink_held = NULL;
}
