/* The hub: the loop that moves documents between stages (hub.h, hub_priv.h). */
#include "hub.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "envelope.h"
#include "fm_build_config.h"
#include "hub_priv.h"
#include "log.h"
#include "service.h"
#include "util.h"

#define LOOP_MS 200

static volatile sig_atomic_t stop_requested;

void fm_hub_request_stop(void)
{
	stop_requested = 1;
}

/* ------------------------------------------------------------------ sending */

static int send_hop(struct fm_hub *h, struct stage_rt *st, struct hop *p)
{
	struct fm_env env = {.type = FM_MSG_DOC, .hop = p->id, .src = hub_source_name(h, p->source),
	                     .fetch = p->fetch, .att = p->attempts + 1};
	int rc;
	zmq_msg_t frame;
	if (st->cfg->mode == FM_MODE_THREAD) {
		/* A worker thread gets the parsed document; the hop keeps the bytes. */
		json_error_t err;
		json_t *doc = fm_json_parse_raws(zmq_msg_data(&p->doc), zmq_msg_size(&p->doc), &err,
		                                 &p->raws);
		if (!json_is_object(doc)) {
			log_err("[%s] document from %s#%lld is not a JSON object (%s at line %d column "
			        "%d); skipped",
			        st->cfg->name, hub_source_name(h, p->source), (long long)p->fetch,
			        doc ? "not an object" : err.text, doc ? 0 : err.line,
			        doc ? 0 : err.column);
			json_decref(doc);
			return -EBADMSG;
		}
		/* The one worker of a stage keeps its core for process(): what the plugin can do
		 * with the document alone is done here, on the hub's (plugin.h, prepare). */
		const struct fm_plugin *pl = NULL;
		void *prep = NULL;
		if (st->nthreads == 1) {
			pl = &fm_instance_plugin(st->insts[0])->desc;
			prep = fm_plugin_prepare(pl, fm_instance_config(st->insts[0]), doc);
		}
		rc = fm_msg_send_local_text(st->push, &env, &doc, 1, prep, pl ? pl->release : NULL,
		                            &p->doc, ZMQ_DONTWAIT);
		if (rc == 0)
			return 0; /* doc and prep went with the message */
		if (pl)
			fm_plugin_release(pl, prep);
		json_decref(doc);
	} else {
		/* Send a copy (ZeroMQ shares the buffer); the hop keeps the document for redelivery. */
		zmq_msg_init(&frame);
		rc = zmq_msg_copy(&frame, &p->doc) == 0 ? 0 : -errno;
		if (rc == 0)
			rc = fm_msg_send_frames(st->push, &env, &frame, 1, ZMQ_DONTWAIT);
		zmq_msg_close(&frame);
	}
	return rc;
}

static void dispatch(struct fm_hub *h)
{
	int64_t now = fm_monotonic_ms();
	/* Delayed retries whose time has come go back to the front of their stage's queue. */
	struct queue keep = {0};
	struct hop *p;
	while ((p = q_pop(&h->delayed))) {
		if (p->not_before <= now) {
			hop_queue(h, p, true);
		} else {
			q_push(&keep, p);
		}
	}
	h->delayed = keep;
	h->blocked = false;

	for (int i = 0; i < h->nstages; i++) {
		struct stage_rt *st = &h->st[i];
		while (st->q.head && st->in_flight < st->cfg->max_in_flight && !st->stopped) {
			p = st->q.head;
			int rc = send_hop(h, st, p);
			if (rc == -EAGAIN) {
				h->blocked = true; /* no worker connected yet, or all are full */
				break;
			}
			hop_unlink(h, p);
			if (rc == -EBADMSG) {
				st->n_error++;
				hop_end(h, p, FATE_ERROR);
				continue;
			}
			if (rc != 0) {
				log_err("stage %s: cannot send: %s", st->cfg->name, zmq_strerror(-rc));
				hop_retry(h, p, "send failed", false);
				continue;
			}
			hop_set_sent(h, p, now);
		}
	}
	send_acks(h);
}

/* ------------------------------------------------------------------ the sink (pipe) */

/* The output cannot be written (the reader went away: EPIPE, a full disk): what comes next
 * would only be lost, so the pipe stops, with an error. err: the failed call's errno. */
static void output_failed(struct fm_hub *h, int err)
{
	if (h->output_failed)
		return;
	h->output_failed = true;
	log_err("cannot write the output: %s; stopping", strerror(err ? err : EIO));
	h->fatal = true;
}

/* A document leaves the pipeline through the sink: written to the pipe's output (settled
 * once that is flushed), or only counted (a run without outputs). */
static void sink_text(struct fm_hub *h, const void *text, size_t len, struct lineage *lin)
{
	if (h->opts.output) {
		FILE *out = h->opts.output;
		if (fwrite(text, 1, len, out) != len || fputc('\n', out) == EOF)
			output_failed(h, errno);
		sink_hold(h, lin);
	}
	h->published++;
}

/* Flush the sink, then acknowledge what it holds. */
static void sink_flush(struct fm_hub *h)
{
	if (!h->nsink_held && !h->opts.output)
		return;
	bool ok = true;
	if (h->opts.output && fflush(h->opts.output) != 0) {
		output_failed(h, errno);
		ok = false;
	}
	sink_settle(h, ok);
}

/* ------------------------------------------------------------------ results */

static void add_counts(struct stage_rt *st, const struct fm_env *env)
{
	if (!env->ncounts || (!st->counts && !(st->counts = json_object())))
		return;
	for (size_t i = 0; i < env->ncounts; i++) {
		const struct fm_count *c = &env->counts[i];
		json_t *v = json_object_get(st->counts, c->name);
		if (v)
			json_integer_set(v, json_integer_value(v) + c->delta);
		else
			json_object_set_new(st->counts, c->name, json_integer(c->delta));
	}
}

/* Whether what leaves stage i is the end of its way (the sink), not another stage's input. */
static bool to_sink(const struct fm_hub *h, int i)
{
	return i >= h->nchain || (i == h->nchain - 1 && h->nstages == h->nchain);
}

/* Where what leaves stage i goes: the next stage, every output, or the sink. */
static void route(struct fm_hub *h, int i, const struct hop *from, struct lineage *lin,
                  zmq_msg_t *doc)
{
	int next_first, next_last;
	if (to_sink(h, i)) {
		sink_text(h, zmq_msg_data(doc), zmq_msg_size(doc), lin);
		return;
	}
	if (i < h->nchain - 1) {
		next_first = next_last = i + 1;
	} else {
		next_first = h->nchain;
		next_last = h->nstages - 1;
	}
	for (int k = next_first; k <= next_last; k++) {
		if (k == next_last) {
			hop_new(h, k, from->source, from->fetch, doc, false, lin);
			break;
		}
		/* Every output gets the same bytes: a shared copy, not a duplicate buffer. */
		zmq_msg_t copy;
		zmq_msg_init(&copy);
		if (zmq_msg_copy(&copy, doc) != 0) {
			log_err("output %s misses a document: %s", h->st[k].cfg->name, zmq_strerror(errno));
			zmq_msg_close(&copy);
			if (lin) {
				lin_hold(lin);
				lin_release(h, lin, true);
			}
			continue;
		}
		hop_new(h, k, from->source, from->fetch, &copy, false, lin);
	}
}

/* A worker thread's document i (a parsed value) becomes its JSON text in frame. */
static int as_bytes(struct fm_hub *h, struct stage_rt *st, struct fm_msg *m, size_t i,
                    const struct hop *from, zmq_msg_t *frame)
{
	json_t *doc = fm_msg_take_doc(m, i);
	if (!doc)
		return -EINVAL;
	int rc = fm_msg_init_doc(frame, doc, h->cfg->max_doc_size, st->cfg->name, &from->raws);
	json_decref(doc);
	return rc;
}

static struct stage_rt *stage_named(struct fm_hub *h, const char *name)
{
	for (int i = 0; name && i < h->nstages; i++)
		if (strcmp(h->st[i].cfg->name, name) == 0)
			return &h->st[i];
	return NULL;
}

static void on_hello(struct fm_hub *h, struct fm_msg *m)
{
	const char *name = m->env->stage;
	log_info("stage %s worker %d is up (pid %lld)", name ? name : "?", m->env->w, m->env->pid);
	struct stage_rt *st = stage_named(h, name);
	if (!st)
		return;
	st->hellos++;
	bool reconnect = st->cfg->mode == FM_MODE_REMOTE && st->hellos > st->cfg->workers;
	if (st->lost_worker || reconnect) {
		/* ZeroMQ may have routed documents to the lost peer until it noticed: send again
		 * what is unanswered. An answer to a hop that comes late is still taken; a second
		 * answer to one is ignored. */
		st->lost_worker = false;
		hub_requeue_sent(h, st->index, "a worker came back after a loss",
		                 fm_monotonic_ms() + 1);
	}
}

/* Whether an output's answer or "synced" comes from the worker process alive now: what a
 * dead one took may not be durable, and is delivered again. */
static bool from_live_worker(const struct stage_rt *st, const struct fm_env *env)
{
	if (env->w < 0 || env->w >= st->cfg->workers)
		return false;
	if (st->cfg->mode == FM_MODE_PROCESS)
		return st->pids && st->pids[env->w] == (pid_t)env->pid;
	return true;
}

/* A worker works on a document it holds (it left the plugin's queue): its stage timeout
 * counts from now. */
static void on_busy(struct fm_hub *h, struct fm_msg *m)
{
	struct hop *p = hop_find(h, m->env->hop);
	if (!p || p->state != HOP_SENT || !m->env->stage ||
	    strcmp(m->env->stage, h->st[p->stage].cfg->name) != 0)
		return; /* answered, or delivered again meanwhile */
	hop_unlink(h, p);
	hop_set_sent(h, p, fm_monotonic_ms()); /* to the end of the stage's sent list */
}

static void on_synced(struct fm_hub *h, struct fm_msg *m)
{
	struct stage_rt *st = stage_named(h, m->env->stage);
	if (!st || !st->is_output || !from_live_worker(st, m->env))
		return;
	struct hop *p;
	while ((p = st->unsynced[m->env->w].head))
		hop_end(h, p, FATE_DONE);
}

/* The documents a stage answered with go on, each to where it goes next. */
static void route_answer(struct fm_hub *h, struct stage_rt *st, struct hop *p, struct fm_msg *m,
                         struct lineage *lin)
{
	for (size_t i = 0; i < fm_msg_count(m); i++) {
		if (m->local && to_sink(h, p->stage)) {
			/* The end of the way: the text goes out from the hub's own buffer, without a
			 * message (and a buffer) of its own. */
			json_t *doc = fm_msg_take_doc(m, i);
			fm_jbuf_reset(&h->sink_buf);
			if (doc &&
			    fm_doc_dump(doc, &h->sink_buf, h->cfg->max_doc_size, st->cfg->name,
			                &p->raws) == 0) {
				st->n_out++;
				sink_text(h, h->sink_buf.data, h->sink_buf.len, lin);
			}
			json_decref(doc);
		} else if (m->local) {
			zmq_msg_t frame;
			if (as_bytes(h, st, m, i, p, &frame) != 0)
				continue;
			st->n_out++;
			route(h, p->stage, p, lin, &frame);
			zmq_msg_close(&frame);
		} else {
			st->n_out++;
			route(h, p->stage, p, lin, &m->frames[i]);
		}
	}
}

static void count_status(struct stage_rt *st, int status)
{
	if (status == FM_PASS)
		st->n_pass++;
	else if (status == FM_DONE)
		st->n_done++;
	else if (status == FM_DROP)
		st->n_drop++;
	else
		st->n_error++;
}

static void on_result(struct fm_hub *h, struct fm_msg *m)
{
	if (m->env->type == FM_MSG_HELLO) {
		on_hello(h, m);
		return;
	}
	if (m->env->type == FM_MSG_SYNCED) {
		on_synced(h, m);
		return;
	}
	if (m->env->type == FM_MSG_BUSY) {
		on_busy(h, m);
		return;
	}
	if (m->env->type != FM_MSG_RES)
		return;
	struct hop *p = hop_find(h, m->env->hop);
	struct stage_rt *st = p ? &h->st[p->stage] : NULL;
	/* Answered already (a copy delivered again), not this stage's hop, or from an output's
	 * worker that died since: keep the first answer only. A late answer to a hop that waits
	 * to be delivered again is as good as the next one. */
	if (!p || p->state == HOP_UNSYNCED || !m->env->stage ||
	    strcmp(m->env->stage, st->cfg->name) != 0 ||
	    (st->is_output && !from_live_worker(st, m->env))) {
		log_debug("ignored a late answer for hop %llu", (unsigned long long)m->env->hop);
		return;
	}
	hop_unlink(h, p);
	add_counts(st, m->env);
	int status = m->env->status;
	if (status == FM_RETRY) {
		st->n_retry++;
		hop_retry(h, p, "the plugin asked to retry", false);
		return;
	}
	count_status(st, status);
	if (p->request && h->opts.sched)
		fm_sched_done(h->opts.sched, p->source, m->env->rep, status == FM_ERROR,
		              fm_now_ms());
	if (st->is_output && (status == FM_PASS || status == FM_DONE)) {
		/* taken: settled once the worker has made it durable ("synced") */
		st->n_out++;
		hop_set_unsynced(h, p, m->env->w, fm_monotonic_ms());
		return;
	}
	/* A stage that takes acknowledgements hears of this delivery when all that comes of it
	 * has settled. */
	struct lineage *own = st->acks ? lin_new(h, p->stage, p->id, p->lin) : NULL;
	route_answer(h, st, p, m, own ? own : p->lin);
	if (own)
		lin_release(h, own, false);
	hop_end(h, p, status == FM_ERROR ? FATE_ERROR : FATE_DONE);
}

static void drain_results(struct fm_hub *h)
{
	for (int burst = 0; burst < 4096; burst++) {
		struct fm_msg m;
		int rc = fm_msg_recv(h->results, &m, ZMQ_DONTWAIT);
		if (rc == -EAGAIN || rc == -ETERM)
			return;
		if (rc == -EPROTO) {
			log_warn("dropped a message from a worker: malformed or of another wire version");
			continue;
		}
		if (rc != 0)
			return;
		on_result(h, &m);
		fm_msg_free(&m);
	}
}

/* Documents unanswered for longer than their stage's timeout, and documents an output took
 * and did not make durable in that time, are delivered again. */
static void check_timeouts(struct fm_hub *h)
{
	int64_t now = fm_monotonic_ms();
	for (int i = 0; i < h->nstages; i++) {
		struct stage_rt *st = &h->st[i];
		int64_t older = now - st->cfg->timeout_ms;
		if (st->sent.head && st->sent.head->sent_at < older)
			hub_requeue_sent(h, i, "no answer within the stage timeout", older);
		for (int w = 0; st->unsynced && w < st->cfg->workers; w++) {
			struct hop *p;
			while ((p = st->unsynced[w].head) && p->sent_at < older) {
				hop_unlink(h, p);
				hop_retry(h, p, "not made durable within the stage timeout", false);
			}
		}
	}
}

/* ------------------------------------------------------------------ setup */

struct fm_hub *fm_hub_new(struct fm_config *cfg, struct fm_stage_cfg *chain,
                          const struct fm_hub_opts *opts)
{
	struct fm_hub *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->cfg = cfg;
	h->opts = *opts;
	h->in_fd = opts->input_fd;
	h->started_ms = fm_monotonic_ms();
	/* Hop ids are the tokens acknowledgements carry: start each run somewhere else, so that
	 * a token of an earlier run can hardly name a delivery of this one. */
	h->next_hop = ((uint64_t)((unsigned)fm_now_ms() ^ ((unsigned)getpid() << 16)) & 0x3fffffffu)
	              << 32;
	h->nsources = opts->sched ? (int)fm_sched_count(opts->sched) : 0;
	h->src = calloc((size_t)h->nsources + 1, sizeof(*h->src));
	for (struct fm_stage_cfg *s = chain; s; s = s->next)
		h->nchain++;
	h->nstages = h->nchain;
	if (opts->output == NULL)
		for (struct fm_stage_cfg *s = cfg->outputs; s; s = s->next)
			h->nstages++;
	h->st = calloc((size_t)h->nstages + 1, sizeof(*h->st));
	int workers = 0;
	int i = 0;
	for (struct fm_stage_cfg *s = chain; s; s = s->next, i++) {
		h->st[i].cfg = s;
		workers += s->workers;
	}
	for (struct fm_stage_cfg *s = cfg->outputs; i < h->nstages && s; s = s->next, i++) {
		h->st[i].cfg = s;
		h->st[i].is_output = true;
		workers += s->workers;
	}
	h->targs = calloc((size_t)workers + 1, sizeof(*h->targs));
	/* The documents in flight live on the hub's heap: map what they take at once (util.c).
	 * ~4 KB a document: the heap grew by 2.2 MB for the 512 a pipe of one stage holds (its
	 * window and as many queued) on the dedupe benchmark's news items. */
	size_t window = 0;
	for (i = 0; i < h->nstages; i++)
		window += (size_t)h->st[i].cfg->max_in_flight;
	if (h->nstages)
		window += (size_t)h->st[0].cfg->max_in_flight;
	fm_heap_prefault(window * 4096);
	h->zctx = zmq_ctx_new();
	if (!h->src || !h->st || !h->targs || !h->zctx)
		goto fail;
	/* inproc needs no I/O thread: without ipc or tcp stages, do not start one. */
	bool networked = false;
	for (i = 0; i < h->nstages; i++)
		networked |= h->st[i].cfg->mode != FM_MODE_THREAD;
	if (!networked)
		zmq_ctx_set(h->zctx, ZMQ_IO_THREADS, 0);

	h->results = zmq_socket(h->zctx, ZMQ_PULL);
	int hwm = 100000;
	zmq_setsockopt(h->results, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	if (zmq_bind(h->results, "inproc://fm-results") != 0) {
		log_err("cannot bind inproc://fm-results: %s", zmq_strerror(errno));
		goto fail;
	}
	char *run_dir = fm_path_join(opts->state_dir, "run");
	bool any_process = false;
	for (i = 0; i < h->nstages; i++)
		any_process |= h->st[i].cfg->mode == FM_MODE_PROCESS;
	if (any_process) {
		char *ep = NULL;
		fm_mkdirs(run_dir, 0750);
		if (asprintf(&ep, "ipc://%s/results", run_dir) < 0 || zmq_bind(h->results, ep) != 0) {
			log_err("cannot bind %s: %s", ep ? ep : "results", zmq_strerror(errno));
			free(ep);
			free(run_dir);
			goto fail;
		}
		free(ep);
	}
	for (i = 0; i < h->nstages; i++) {
		h->st[i].index = i;
		if (hub_setup_stage(h, &h->st[i], run_dir) != 0) {
			free(run_dir);
			goto fail;
		}
	}
	free(run_dir);
	for (i = 0; i < h->nstages; i++) {
		if (hub_start_workers(h, &h->st[i]) != 0) {
			log_err("stage %s could not start", h->st[i].cfg->name);
			goto fail;
		}
	}
	return h;
fail:
	fm_hub_free(h);
	return NULL;
}

/* ------------------------------------------------------------------ input (pipe) */

static void read_input(struct fm_hub *h)
{
	if (h->in_cap - h->in_len < 65536) {
		size_t cap = h->in_cap ? h->in_cap * 2 : 256 << 10;
		char *p = realloc(h->in_buf, cap);
		if (!p)
			return;
		h->in_buf = p;
		h->in_cap = cap;
	}
	ssize_t n = read(h->in_fd, h->in_buf + h->in_len, h->in_cap - h->in_len - 1);
	if (n < 0) {
		if (errno != EINTR && errno != EAGAIN) {
			log_err("cannot read input: %s", strerror(errno));
			h->in_eof = true;
		}
		return;
	}
	if (n == 0)
		h->in_eof = true;
	h->in_len += (size_t)n;
	size_t start = 0;
	if (h->in_skip) {
		char *nl = memchr(h->in_buf, '\n', h->in_len);
		if (!nl) {
			h->in_len = 0;
			return;
		}
		h->in_skip = false;
		start = (size_t)(nl - h->in_buf) + 1;
	}
	for (;;) {
		char *nl = memchr(h->in_buf + start, '\n', h->in_len - start);
		size_t end = nl ? (size_t)(nl - h->in_buf) : h->in_len;
		if (!nl && !h->in_eof)
			break;
		size_t len = end - start;
		if (len > 0 && h->in_buf[start + len - 1] == '\r')
			len--;
		if (nl || len)
			h->in_line++;
		bool blank = true;
		for (size_t k = 0; k < len && blank; k++)
			blank = h->in_buf[start + k] == ' ' || h->in_buf[start + k] == '\t';
		if (!blank) {
			zmq_msg_t doc;
			if (zmq_msg_init_size(&doc, len) == 0) {
				memcpy(zmq_msg_data(&doc), h->in_buf + start, len);
				hop_new(h, 0, h->nsources, h->in_line, &doc, false, NULL);
			} else {
				log_err("out of memory: input line %lld skipped", (long long)h->in_line);
			}
		}
		start = nl ? end + 1 : h->in_len;
		if (!nl)
			break;
	}
	memmove(h->in_buf, h->in_buf + start, h->in_len - start);
	h->in_len -= start;
	if (h->in_len > h->cfg->max_doc_size) {
		/* Bounded memory: a line this long cannot become a document anyway. */
		h->in_line++;
		log_err("input line %lld is longer than max_doc_size (%llu bytes); skipped",
		        (long long)h->in_line, (unsigned long long)h->cfg->max_doc_size);
		h->in_len = 0;
		h->in_skip = true;
	}
}


/* ------------------------------------------------------------------ the loop */

/* Whether every stage holding documents has enough of them queued that it cannot run dry
 * before the hub looks again: then there is no hurry to hear each result as it comes. */
static bool saturated(const struct fm_hub *h)
{
	bool any = false;
	for (int i = 0; i < h->nstages; i++) {
		const struct stage_rt *st = &h->st[i];
		if (!st->in_flight)
			continue;
		if (st->in_flight * 2 < st->cfg->max_in_flight || st->in_flight < 16)
			return false;
		any = true;
	}
	return any;
}

/* Results of a busy pipeline are taken in batches: waking the hub for each one costs a
 * context switch on each side (ZeroMQ signals a reader that found its pipe empty), which on
 * a virtual machine is dearer than the work on a small document. */
#define COALESCE_US 200
static void coalesce_wait(void)
{
	struct timespec ts = {0, COALESCE_US * 1000L};
	nanosleep(&ts, NULL);
}

/* Whether an answer is waiting already: then there is nothing to wait for. */
static bool results_ready(struct fm_hub *h)
{
	int ev = 0;
	size_t sz = sizeof(ev);
	return zmq_getsockopt(h->results, ZMQ_EVENTS, &ev, &sz) == 0 && (ev & ZMQ_POLLIN);
}

static void notify(struct fm_hub *h, const char *what)
{
	if (h->opts.systemd)
		fm_service_notify(what);
}

/* New work: due sources, while the pipeline has room. */
static void take_due_sources(struct fm_hub *h)
{
	int src;
	json_t *req;
	while (h->live < h->cfg->queue_limit &&
	       (req = fm_sched_take_due(h->opts.sched, fm_now_ms(), &src))) {
		struct fm_jbuf text = FM_JBUF_INIT;
		zmq_msg_t doc;
		int jr = fm_json_dump(req, &text);
		json_decref(req);
		size_t len = 0;
		char *data = jr == 0 ? fm_jbuf_steal(&text, &len) : NULL;
		fm_jbuf_free(&text);
		if (data && fm_msg_init_owned(&doc, data, len) == 0)
			hop_new(h, 0, src, ++h->fetch_seq, &doc, true, NULL);
	}
}

/* Leave behind every hop in the given set: what is left is fetched again at the next start. */
static int64_t abandon(struct fm_hub *h, bool requests_only)
{
	int64_t n = 0;
	for (size_t i = 0; i < h->tsize; i++) {
		struct hop *p = h->table[i];
		while (p) {
			struct hop *next = p->tnext;
			if (!requests_only || p->request) {
				hop_end(h, p, FATE_ABANDONED);
				n++;
			}
			p = next;
		}
	}
	h->abandoned += n;
	return n;
}

/* A stop: take no new work, leave the fetches that have not answered (their transfers are
 * cut short: the fetch stage is stopped as soon as it holds nothing else), and let what was
 * fetched go through. */
static void begin_drain(struct fm_hub *h)
{
	h->draining = true;
	notify(h, "STOPPING=1");
	int64_t n = abandon(h, true);
	log_notice("stopping: %lld fetches in progress cancelled (polled again at the next "
	           "start); draining %lld documents in flight (at most %llds)",
	           (long long)n, (long long)h->live, (long long)(h->cfg->drain_timeout_ms / 1000));
}

/* While draining: a stage that holds nothing, after stages that hold nothing, gets no more:
 * stop it now (a fetch stage then cuts its transfers short). */
static void stop_idle_stages(struct fm_hub *h)
{
	for (int i = 0; i < h->nchain; i++) {
		struct stage_rt *st = &h->st[i];
		if (st->nlive > 0)
			return;
		hub_stop_stage(h, st);
	}
}

/* How long the poll may wait. */
static long poll_timeout(struct fm_hub *h)
{
	long timeout = LOOP_MS;
	if (h->opts.sched && !h->draining) {
		int64_t due = fm_sched_next_due(h->opts.sched) - fm_now_ms();
		if (due < timeout)
			timeout = due < 0 ? 0 : (long)due;
	}
	if (h->delayed.head)
		timeout = timeout > 50 ? 50 : timeout;
	if (h->blocked)
		timeout = timeout > 5 ? 5 : timeout;
	return timeout;
}

/* Whether the work is done: 1 done, 0 not yet. */
static bool finished(struct fm_hub *h)
{
	if (h->live > 0)
		return false;
	if (h->draining)
		return true;
	bool input_done = h->in_fd < 0 || h->in_eof;
	bool sched_done = !h->opts.sched || fm_sched_finished(h->opts.sched);
	return input_done && sched_done && (h->opts.sched || h->in_fd >= 0);
}

/* One turn: wait for answers or input, take them. -1 on a poll failure. */
static int turn(struct fm_hub *h)
{
	zmq_pollitem_t items[2] = {{h->results, 0, ZMQ_POLLIN, 0}, {NULL, h->in_fd, ZMQ_POLLIN, 0}};
	int nitems = 1;
	/* Read input only while the first stage's queue is short: what waits in the hub stays
	 * small, and freed messages are reused instead of fresh memory. */
	if (h->in_fd >= 0 && !h->in_eof && !h->draining && h->live < h->cfg->queue_limit &&
	    (int64_t)h->st[0].q.len < h->st[0].cfg->max_in_flight)
		nitems = 2;
	if (saturated(h) && !results_ready(h))
		coalesce_wait();
	int n = zmq_poll(items, nitems, poll_timeout(h));
	if (n < 0 && errno != EINTR) {
		log_err("poll failed: %s", zmq_strerror(errno));
		return -1;
	}
	if (n > 0 && (items[0].revents & ZMQ_POLLIN))
		drain_results(h);
	if (nitems == 2 && (items[1].revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
		read_input(h);
	if (h->nsink_held)
		sink_flush(h);
	return 0;
}

int fm_hub_run(struct fm_hub *h)
{
	int64_t drain_deadline = 0, last_check = 0;
	uint64_t watchdog_usec = h->opts.systemd ? fm_service_watchdog_usec() : 0;
	int64_t last_watchdog = 0;
	notify(h, "READY=1");

	for (;;) {
		int64_t now_mono = fm_monotonic_ms();
		if (stop_requested && !h->draining) {
			begin_drain(h);
			drain_deadline = now_mono + h->cfg->drain_timeout_ms;
		}
		if (h->fatal)
			return 1;
		if (!h->draining && h->opts.sched && h->live < h->cfg->queue_limit)
			take_due_sources(h);
		if (h->draining)
			stop_idle_stages(h);
		dispatch(h);
		if (finished(h))
			return h->given_up ? 1 : 0;
		if (h->draining && now_mono >= drain_deadline) {
			int64_t n = abandon(h, false);
			log_warn("drain timeout: %lld documents in flight left behind; their sources "
			         "are polled again at the next start",
			         (long long)n);
			return 0;
		}
		if (turn(h) < 0)
			return 1;
		now_mono = fm_monotonic_ms();
		if (now_mono - last_check >= 250) {
			last_check = now_mono;
			hub_watch_processes(h);
			check_timeouts(h);
			if (h->opts.output && fflush(h->opts.output) != 0)
				output_failed(h, errno);
		}
		if (watchdog_usec && (uint64_t)(now_mono - last_watchdog) * 1000 >= watchdog_usec / 2) {
			notify(h, "WATCHDOG=1");
			last_watchdog = now_mono;
		}
	}
}

/* ------------------------------------------------------------------ summary and teardown */

/* The output's "path" setting, resolved as the plugin sees it. Caller frees. */
static char *output_path(const struct stage_rt *st)
{
	const struct fm_setting *found = NULL;
	for (const struct fm_setting *s = st->cfg->options; s; s = s->next)
		if (strcmp(s->key, "path") == 0)
			found = s;
	if (!found)
		return NULL;
	char *dir = found->file ? fm_path_dirname(found->file) : NULL;
	char *p = fm_path_join(dir, found->value);
	free(dir);
	char *tidy = p ? fm_path_tidy(p) : NULL;
	free(p);
	return tidy;
}

void fm_hub_summary(struct fm_hub *h, FILE *out)
{
	double secs = (double)(fm_monotonic_ms() - h->started_ms) / 1000.0;
	fprintf(out, "feedmill: finished in %.1fs\n", secs);
	if (h->opts.sched) {
		struct fm_sched_totals t = fm_sched_totals(h->opts.sched);
		fprintf(out, "  %-10s %lld polled, %lld not modified, %lld failed, %lld items\n",
		        "sources", (long long)t.polled, (long long)t.not_modified, (long long)t.failed,
		        (long long)t.items);
	}
	for (int i = 0; i < h->nstages; i++) {
		struct stage_rt *st = &h->st[i];
		fprintf(out, "  %-10s %lld in, %lld out", st->cfg->name, (long long)st->n_in,
		        (long long)st->n_out);
		if (st->n_drop)
			fprintf(out, ", %lld dropped", (long long)st->n_drop);
		if (st->n_error)
			fprintf(out, ", %lld failed", (long long)st->n_error);
		if (st->n_retry)
			fprintf(out, ", %lld retried", (long long)st->n_retry);
		if (st->n_lost)
			fprintf(out, ", %lld redelivered", (long long)st->n_lost);
		const char *k;
		json_t *v;
		json_object_foreach(st->counts, k, v)
		{
			fprintf(out, ", %s %lld", k, (long long)json_integer_value(v));
		}
		char *path = st->is_output ? output_path(st) : NULL;
		if (path)
			fprintf(out, " -> %s", path);
		free(path);
		fputc('\n', out);
	}
	if (h->given_up)
		fprintf(out, "  %lld documents given up after %lld attempts (see the log)\n",
		        (long long)h->given_up, (long long)h->cfg->max_attempts);
	if (h->abandoned)
		fprintf(out, "  %lld documents left behind by the stop (polled again at the next "
		        "start)\n", (long long)h->abandoned);
}


void fm_hub_free(struct fm_hub *h)
{
	if (!h)
		return;
	/* What the sink holds is acknowledged, then every stage hears what it is owed before
	 * its stop message, so that the state it saves now is exact. */
	sink_flush(h);
	send_acks(h);
	if (h->st)
		hub_finish_workers(h);
	/* Answers that came after the loop (a fetch cut short by the stop) still hold what a
	 * worker thread's message points to: free them before the sockets go. */
	for (int rc = 0; h->results && (rc == 0 || rc == -EPROTO);) {
		struct fm_msg m;
		if ((rc = fm_msg_recv(h->results, &m, ZMQ_DONTWAIT)) == 0)
			fm_msg_free(&m);
	}
	if (h->zctx)
		zmq_ctx_shutdown(h->zctx);
	for (int i = 0; h->st && i < h->nstages; i++)
		hub_free_workers(h, &h->st[i]);
	ledger_free(h);
	for (int i = 0; h->st && i < h->nstages; i++) {
		struct stage_rt *st = &h->st[i];
		if (st->push)
			zmq_close(st->push);
		free(st->unsynced);
		free(st->ack_ok);
		free(st->ack_failed);
		free(st->work_ep);
		free(st->result_ep);
		free(st->state_dir);
		json_decref(st->counts);
	}
	if (h->results)
		zmq_close(h->results);
	if (h->zctx)
		zmq_ctx_term(h->zctx);
	free(h->st);
	free(h->targs);
	free(h->src);
	free(h->in_buf);
	fm_jbuf_free(&h->sink_buf);
	free(h);
}
