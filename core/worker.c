#include "worker.h"

#include <errno.h>
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

struct worker {
	fm_instance *inst;
	const struct fm_worker_spec *spec;
	void *pull, *push;
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

static void handle(struct worker *w, struct fm_msg *m)
{
	const struct fm_env *in = m->env;
	if (in->type != FM_MSG_DOC || fm_msg_count(m) != 1)
		return;
	struct fm_env res = {.type = FM_MSG_RES, .hop = in->hop, .stage = w->spec->stage,
	                     .w = w->spec->index};
	json_error_t jerr;
	memset(&jerr, 0, sizeof(jerr));
	json_t *doc = m->local ? fm_msg_take_doc(m, 0)
	                       : fm_json_parse(fm_msg_data(m, 0), fm_msg_size(m, 0), &jerr);
	struct fm_emitted out;
	fm_emitted_init(&out);
	/* a local document goes back to the hub, which allocated it, even when it goes no
	 * further: it is released there */
	json_t *spent = m->local ? json_incref(doc) : NULL;
	if (!json_is_object(doc)) {
		char where[256];
		fm_logf(fm_instance_name(w->inst), FM_LOG_ERR,
		        "document from %s is not a JSON object (%s at line %d column %d); skipped",
		        origin_text(in, where, sizeof(where)), doc ? "not an object" : jerr.text,
		        jerr.line, jerr.column);
		json_decref(doc);
		res.status = FM_ERROR;
	} else {
		/* what was prepared stays m's: it goes back with the answer, to be released where
		 * it was made */
		res.status = fm_instance_process(w->inst, doc, &m->prepared, &out, &res.rep);
	}
	res.ncounts = fm_instance_take_counts(w->inst, res.counts, FM_ENV_MAX_COUNTS);
	int rc;
	if (m->local) {
		rc = fm_msg_reply_local(w->push, m, &res, out.v, out.n, spent, 0);
		if (rc == 0) {
			res.rep = NULL; /* went with the answer, as did the documents */
			out.n = 0;
			spent = NULL;
		}
	} else {
		rc = send_result(w, &res, &out);
	}
	if (rc != 0 && rc != -ETERM)
		fm_logf(fm_instance_name(w->inst), FM_LOG_ERR, "cannot send result: %s",
		        zmq_strerror(-rc));
	json_decref(res.rep);
	json_decref(spent);
	fm_emitted_clear(&out);
}

int fm_worker_loop(fm_instance *inst, const struct fm_worker_spec *spec)
{
	struct worker w = {.inst = inst, .spec = spec};
	int rc = 0;
	int linger = 5000, hwm = 1000;
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

	int64_t last_tick = fm_monotonic_ms(), last_work = 0;
	bool dirty = false;
	while (!atomic_load(spec->stop)) {
		zmq_pollitem_t item = {w.pull, 0, ZMQ_POLLIN, 0};
		int n = zmq_poll(&item, 1, 200);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ETERM)
				break;
			rc = -errno;
			break;
		}
		/* Take what is queued, but come back to the clock now and then. */
		for (int burst = 0; n > 0 && burst < 256; burst++) {
			struct fm_msg m;
			int r = fm_msg_recv(w.pull, &m, ZMQ_DONTWAIT);
			if (r == -EAGAIN || r == -ETERM)
				break;
			if (r == -EPROTO) {
				fm_logf(fm_instance_name(inst), FM_LOG_WARN,
				        "dropped a message of another wire version or malformed");
				continue;
			}
			if (r != 0)
				break;
			handle(&w, &m);
			fm_msg_free(&m);
			dirty = true;
			last_work = fm_monotonic_ms();
		}
		int64_t now = fm_monotonic_ms();
		if (now - last_tick >= TICK_MS) {
			fm_instance_tick(inst, fm_host_table()->now_ms());
			last_tick = now;
		}
		if (dirty && now - last_work >= IDLE_FLUSH_MS) {
			fm_instance_flush(inst);
			dirty = false;
		}
	}
	fm_instance_flush(inst);
out:
	if (w.pull)
		zmq_close(w.pull);
	if (w.push)
		zmq_close(w.push);
	return rc;
}
