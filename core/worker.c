#include "worker.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "envelope.h"
#include "jsonio.h"
#include "log.h"
#include "util.h"

#define TICK_MS 1000
#define IDLE_FLUSH_MS 1000
/* An output commits when no document came for this long: long enough to gather a burst into
 * one fsync, short enough that a pause acknowledges at once. And, in a stream that pauses
 * often, not more often than every COMMIT_GAP_MS: each commit is an fsync (and, for the
 * Atom feed, a whole file), and the first poll of 2,000 feeds spent more on them than on
 * its documents. */
#define COMMIT_IDLE_MS 20
#define COMMIT_GAP_MS 250
/* ... and at least every COMMIT_BATCH documents: until an output commits, the core keeps
 * every document it took (to deliver it again), so in a steady stream this bounds that
 * memory (about 2 KB a news item) rather than the commit_interval's worth of the stream. */
#define COMMIT_BATCH 2048

struct worker {
	fm_instance *inst;
	const struct fm_worker_spec *spec;
	void *pull, *push;
	bool dirty;             /* something to flush */
	bool unsynced;          /* an output answered documents not yet committed */
	int64_t unsynced_since; /* monotonic ms of the first of them */
	int n_unsynced;         /* how many */
	int64_t last_work;
	int64_t retry_at;       /* a commit failed: not before then */
	int64_t committed_at;   /* the last commit */
	bool waits;             /* the plugin answers documents later (ABI 1.4) */
	bool finish;            /* a stop message came */
};

static const char *origin_text(const struct fm_env *env, char *buf, size_t n)
{
	snprintf(buf, n, "%s#%lld", env->src ? env->src : "?", (long long)env->fetch);
	return buf;
}

/* To another process: the documents as JSON text. */
static int send_result(struct worker *w, const struct fm_env *res, const struct fm_emitted *out)
{
	zmq_msg_t *frames = calloc(out->n ? out->n : 1, sizeof(*frames));
	size_t kept = 0;
	int rc = -ENOMEM;
	if (!frames)
		goto done;
	for (size_t i = 0; i < out->n; i++) {
		int dr = fm_msg_init_doc(&frames[kept], out->v[i], w->spec->max_doc_size,
		                         fm_instance_name(w->inst), NULL);
		if (dr == -ENOMEM)
			goto done;
		if (dr == 0)
			kept++;
	}
	rc = fm_msg_send_frames(w->push, res, frames, kept, 0);
done:
	for (size_t i = 0; i < kept; i++)
		zmq_msg_close(&frames[i]);
	free(frames);
	return rc;
}

/* Send the answer to the document of m (hop): status, what goes on (out: cleared), what was
 * reported (rep: taken) and, for a thread's message, the input to give back (spent: taken). */
static void answer(struct worker *w, struct fm_msg *m, uint64_t hop, int status,
                   struct fm_emitted *out, json_t *rep, json_t *spent)
{
	struct fm_env res = {.type = FM_MSG_RES, .hop = hop, .stage = w->spec->stage,
	                     .w = w->spec->index, .pid = (long long)getpid(), .status = status,
	                     .rep = rep};
	res.ncounts = fm_instance_take_counts(w->inst, res.counts, FM_ENV_MAX_COUNTS);
	int rc;
	if (m->local) {
		rc = fm_msg_reply_local(w->push, m, &res, out->v, out->n, spent, 0);
		if (rc == 0) {
			res.rep = NULL; /* went with the answer, as did the documents */
			out->n = 0;
			spent = NULL;
		}
	} else {
		rc = send_result(w, &res, out);
	}
	if (rc != 0 && rc != -ETERM)
		fm_logf(fm_instance_name(w->inst), FM_LOG_ERR, "cannot send result: %s",
		        zmq_strerror(-rc));
	json_decref(res.rep);
	json_decref(spent);
	fm_emitted_clear(out);
}

/* A document the plugin answers later (ABI 1.4): what its answer needs. */
struct pending {
	struct worker *w;
	struct fm_msg m; /* the message it came in (a thread's: the answer goes in its block) */
	uint64_t hop;
	json_t *spent;
	int64_t busy_at; /* monotonic ms of the last "busy" sent for it; 0: none */
};

/* At most one "busy" a second per held document: the stage timeout is minutes. */
#define BUSY_GAP_MS 1000

/* fm_instance_on_progress: the plugin works on a held document; the hub restarts its
 * stage timeout. */
static void on_progress(void *arg, void *user)
{
	struct worker *w = arg;
	struct pending *p = user;
	int64_t now = fm_monotonic_ms();
	if (!p || (p->busy_at && now - p->busy_at < BUSY_GAP_MS))
		return;
	p->busy_at = now;
	struct fm_env busy = {.type = FM_MSG_BUSY, .stage = w->spec->stage, .w = w->spec->index,
	                      .pid = (long long)getpid(), .hop = p->hop};
	int rc = fm_msg_send(w->push, &busy, NULL, NULL, 0, 0);
	if (rc != 0 && rc != -ETERM)
		fm_logf(fm_instance_name(w->inst), FM_LOG_ERR, "cannot send to the hub: %s",
		        zmq_strerror(-rc));
}

/* fm_instance_on_complete: a held document is answered. */
static void on_complete(void *arg, void *user, int status, struct fm_emitted *docs,
                        json_t *report)
{
	struct worker *w = arg;
	struct pending *p = user;
	if (!p) { /* answered FM_RETRY already (no memory to wait) */
		json_decref(report);
		fm_emitted_clear(docs);
		return;
	}
	answer(w, &p->m, p->hop, status, docs, report, p->spent);
	fm_msg_free(&p->m);
	free(p);
	w->dirty = true;
}

static void handle(struct worker *w, struct fm_msg *m)
{
	const struct fm_env *in = m->env;
	if (in->type != FM_MSG_DOC || fm_msg_count(m) != 1)
		return;
	uint64_t hop = in->hop;
	json_error_t jerr;
	memset(&jerr, 0, sizeof(jerr));
	json_t *doc = m->local ? fm_msg_take_doc(m, 0)
	                       : fm_json_parse(fm_msg_data(m, 0), fm_msg_size(m, 0), &jerr);
	struct fm_emitted out;
	fm_emitted_init(&out);
	/* a local document goes back to the hub, which allocated it, even when it goes no
	 * further: it is released there */
	json_t *spent = m->local ? json_incref(doc) : NULL;
	json_t *rep = NULL;
	int status;
	fm_held *held = NULL;
	if (!json_is_object(doc)) {
		char where[256];
		fm_logf(fm_instance_name(w->inst), FM_LOG_ERR,
		        "document from %s is not a JSON object (%s at line %d column %d); skipped",
		        origin_text(in, where, sizeof(where)), doc ? "not an object" : jerr.text,
		        jerr.line, jerr.column);
		json_decref(doc);
		status = FM_ERROR;
	} else {
		/* what was prepared stays m's: it goes back with the answer, to be released where
		 * it was made */
		size_t text_len;
		const char *text = fm_msg_text(m, &text_len);
		status = fm_instance_process(w->inst, doc, text, text_len, hop, &m->prepared, &out,
		                             &rep, w->waits ? &held : NULL);
	}
	if (status == FM_PENDING) {
		struct pending *p = calloc(1, sizeof(*p));
		if (p) {
			p->w = w;
			p->m = *m;
			if (!p->m.local)
				p->m.env = &p->m.wire; /* it pointed into the struct just copied */
			memset(m, 0, sizeof(*m)); /* the caller's fm_msg_free() now frees nothing */
			p->hop = hop;
			p->spent = spent;
			fm_held_set_user(held, p);
			return;
		}
		/* no room to wait: the handle goes, and the hub delivers the document again */
		fm_held_set_user(held, NULL);
		status = FM_RETRY;
	}
	answer(w, m, hop, status, &out, rep, spent);
}

/* A second between commits that fail (a full disk): each one logs. */
#define COMMIT_RETRY_MS 1000

/* Tell the hub that what this worker answered so far is durable: commit (or flush), then
 * "synced". A commit that fails is tried again later; nothing is acknowledged meanwhile. */
static void commit(struct worker *w)
{
	if (!w->unsynced) {
		fm_instance_flush(w->inst);
		w->dirty = false;
		return;
	}
	w->committed_at = fm_monotonic_ms();
	if (fm_instance_commit(w->inst) < 0) {
		w->retry_at = w->committed_at + COMMIT_RETRY_MS;
		return;
	}
	w->dirty = false;
	struct fm_env synced = {.type = FM_MSG_SYNCED, .stage = w->spec->stage,
	                        .w = w->spec->index, .pid = (long long)getpid()};
	int rc = fm_msg_send(w->push, &synced, NULL, NULL, 0, 0);
	if (rc != 0 && rc != -ETERM)
		fm_logf(fm_instance_name(w->inst), FM_LOG_ERR, "cannot send to the hub: %s",
		        zmq_strerror(-rc));
	w->unsynced = false;
}

/* One message from the hub. only_acks: stopping, documents are left for the next run. */
static void dispatch_msg(struct worker *w, struct fm_msg *m, bool only_acks)
{
	const struct fm_env *env = m->env;
	switch (env->type) {
	case FM_MSG_DOC:
		if (only_acks)
			return;
		handle(w, m);
		w->dirty = true;
		w->last_work = fm_monotonic_ms();
		if (w->spec->output && !w->unsynced) {
			w->unsynced = true;
			w->unsynced_since = w->last_work;
			w->n_unsynced = 0;
		}
		w->n_unsynced++;
		return;
	case FM_MSG_ACK:
		fm_instance_ack(w->inst, env->acks, env->nacks, false);
		fm_instance_ack(w->inst, env->nfailed ? env->acks + env->nacks : NULL, env->nfailed,
		                true);
		w->dirty = true;
		return;
	case FM_MSG_STOP:
		w->finish = true;
		return;
	default:
		return;
	}
}

/* Take what is queued (at most a burst, to come back to the clock now and then; when only
 * acknowledgements count, all of it: a document left in the socket at close would be lost
 * with the memory a thread's message points to). Returns false when the sockets are gone. */
static bool take_burst(struct worker *w, bool only_acks)
{
	for (int burst = 0; (only_acks || burst < 256) && !w->finish; burst++) {
		if (!only_acks && atomic_load(w->spec->stop))
			return true;
		struct fm_msg m;
		int r = fm_msg_recv(w->pull, &m, ZMQ_DONTWAIT);
		if (r == -EAGAIN)
			return true;
		if (r == -EPROTO) {
			fm_logf(fm_instance_name(w->inst), FM_LOG_WARN,
			        "dropped a message of another wire version or malformed");
			continue;
		}
		if (r != 0)
			return false;
		dispatch_msg(w, &m, only_acks);
		fm_msg_free(&m);
	}
	return true;
}

/* How long to wait for work: an output with answers to commit wakes up for it. */
static long wait_ms(const struct worker *w, int64_t now)
{
	long t = 200;
	if (w->unsynced) {
		int64_t due = w->last_work + COMMIT_IDLE_MS;
		if (due < w->committed_at + COMMIT_GAP_MS)
			due = w->committed_at + COMMIT_GAP_MS;
		int64_t cap = w->unsynced_since + w->spec->commit_ms;
		if (cap < due)
			due = cap;
		if (due < w->retry_at)
			due = w->retry_at;
		t = due <= now ? 0 : (long)(due - now < t ? due - now : t);
	}
	return t;
}

/* Let a plugin that answers later (ABI 1.4) do what is ready, and say how long the next poll
 * may wait for it: *item gets its descriptor (fd -1: none), the return value the longest
 * wait in ms (-1: none). */
static long plugin_wait(struct worker *w, zmq_pollitem_t *item)
{
	struct fm_wait wt;
	fm_instance_wait(w->inst, &wt);
	*item = (zmq_pollitem_t){NULL, wt.fd, 0, 0};
	if (wt.fd >= 0)
		item->events = (short)((wt.events & POLLOUT ? ZMQ_POLLOUT : 0) |
		                       (wt.events & POLLIN || !(wt.events & POLLOUT) ? ZMQ_POLLIN : 0));
	return wt.timeout_ms < 0 ? -1 : wt.timeout_ms > 200 ? 200 : (long)wt.timeout_ms;
}

/* A stop with documents held: let the plugin answer them (a stopping plugin cuts its work
 * short and answers FM_RETRY), for at most a few seconds. */
#define HELD_STOP_MS 3000
static void settle_held(struct worker *w)
{
	int64_t deadline = fm_monotonic_ms() + HELD_STOP_MS;
	while (fm_instance_held(w->inst) && fm_monotonic_ms() < deadline) {
		zmq_pollitem_t item;
		long t = plugin_wait(w, &item);
		if (item.fd >= 0)
			zmq_poll(&item, 1, t < 0 || t > 50 ? 50 : t);
		else if (t != 0)
			usleep(10000);
		fm_instance_step(w->inst);
	}
}

int fm_worker_loop(fm_instance *inst, const struct fm_worker_spec *spec)
{
	struct worker w = {.inst = inst, .spec = spec, .waits = fm_instance_waits(inst)};
	int rc = 0;
	int linger = 5000, hwm = 1000;
	fm_instance_set_stop_flag(inst, spec->stop);
	fm_instance_on_complete(inst, on_complete, &w);
	fm_instance_on_progress(inst, on_progress);
	w.pull = zmq_socket(spec->zctx, ZMQ_PULL);
	w.push = zmq_socket(spec->zctx, ZMQ_PUSH);
	if (!w.pull || !w.push) {
		/* ETERM: the hub finished before this thread got going (empty input) */
		rc = errno == ETERM ? 0 : -errno;
		goto out;
	}
	zmq_setsockopt(w.push, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(w.pull, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	if (zmq_connect(w.pull, spec->work_ep) != 0 || zmq_connect(w.push, spec->result_ep) != 0) {
		if (errno == ETERM)
			goto out; /* as above */
		rc = -errno;
		fm_logf(fm_instance_name(inst), FM_LOG_ERR, "cannot connect to %s / %s: %s",
		        spec->work_ep, spec->result_ep, zmq_strerror(errno));
		goto out;
	}
	struct fm_env hello = {.type = FM_MSG_HELLO, .stage = spec->stage, .w = spec->index,
	                       .pid = (long long)getpid()};
	fm_msg_send(w.push, &hello, NULL, NULL, 0, 0);

	int64_t last_tick = fm_monotonic_ms();
	bool alive = true;
	while (alive && !w.finish && !atomic_load(spec->stop)) {
		zmq_pollitem_t items[2] = {{w.pull, 0, ZMQ_POLLIN, 0}};
		long t = wait_ms(&w, fm_monotonic_ms());
		int nitems = 1;
		if (w.waits) {
			long pt = plugin_wait(&w, &items[1]);
			if (pt >= 0 && pt < t)
				t = pt;
			nitems = items[1].fd >= 0 ? 2 : 1;
		}
		int64_t polled_at = fm_monotonic_ms();
		int n = zmq_poll(items, nitems, t);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != ETERM)
				rc = -errno;
			break;
		}
		if (n > 0 && (items[0].revents & ZMQ_POLLIN))
			alive = take_burst(&w, false);
		int64_t now = fm_monotonic_ms();
		/* the plugin's descriptor is ready, or its time came */
		if (w.waits && ((nitems == 2 && items[1].revents) || now - polled_at >= t))
			fm_instance_step(inst);
		if (now - last_tick >= TICK_MS) {
			fm_instance_tick(inst, fm_host_table()->now_ms());
			last_tick = now;
		}
		if (w.unsynced && now >= w.retry_at &&
		    ((now - w.last_work >= COMMIT_IDLE_MS && now - w.committed_at >= COMMIT_GAP_MS) ||
		     now - w.unsynced_since >= spec->commit_ms || w.n_unsynced >= COMMIT_BATCH))
			commit(&w);
		else if (!spec->output && w.dirty && now - w.last_work >= IDLE_FLUSH_MS)
			commit(&w);
	}
	if (w.waits)
		settle_held(&w);
	/* Stopped at once: acknowledgements already queued still count (they make the state
	 * that is saved now more exact); documents wait for the next run. */
	if (alive && !w.finish)
		take_burst(&w, true);
	commit(&w);
out:
	if (w.pull)
		zmq_close(w.pull);
	if (w.push)
		zmq_close(w.push);
	return rc;
}
