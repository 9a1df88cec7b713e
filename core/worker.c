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

static const char *origin_text(const json_t *env, char *buf, size_t n)
{
	const char *src = json_string_value(json_object_get(env, "src"));
	snprintf(buf, n, "%s#%lld", src ? src : "?",
	         (long long)json_integer_value(json_object_get(env, "fetch")));
	return buf;
}

/* In the hub's process: hand the header and documents over as they are; the hub serializes
 * the documents. */
static int send_result_local(struct worker *w, json_t *hdr, json_t *docs)
{
	size_t n = json_array_size(docs);
	json_t *one[1], **v = n <= 1 ? one : malloc(n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(docs, i));
	json_incref(hdr);
	int rc = fm_msg_send_local(w->push, hdr, v, n, NULL, NULL, 0);
	if (rc != 0) {
		json_decref(hdr);
		for (size_t i = 0; i < n; i++)
			json_decref(v[i]);
	}
	if (v != one)
		free(v);
	return rc;
}

static int send_result(struct worker *w, json_t *hdr, json_t *docs)
{
	if (w->spec->in_process)
		return send_result_local(w, hdr, docs);
	size_t n = json_array_size(docs);
	zmq_msg_t *frames = calloc(n ? n : 1, sizeof(*frames));
	size_t kept = 0;
	int rc = -ENOMEM;
	if (!frames)
		goto out;
	for (size_t i = 0; i < n; i++) {
		int dr = fm_msg_init_doc(&frames[kept], json_array_get(docs, i), w->spec->max_doc_size,
		                         fm_instance_name(w->inst));
		if (dr == -ENOMEM)
			goto out;
		if (dr == 0)
			kept++;
	}
	rc = fm_msg_send_frames(w->push, hdr, frames, kept, 0);
out:
	for (size_t i = 0; i < kept; i++)
		zmq_msg_close(&frames[i]);
	free(frames);
	return rc;
}

static void handle(struct worker *w, struct fm_msg *m)
{
	const char *t = json_string_value(json_object_get(m->env, "t"));
	if (!t || strcmp(t, "doc") != 0 || fm_msg_count(m) != 1)
		return;
	json_t *hop = json_object_get(m->env, "hop");
	/* built directly: json_pack would parse its format string for every document */
	json_t *hdr = hop ? json_object() : NULL;
	if (!hdr)
		return;
	json_object_set_new_nocheck(hdr, "v", json_integer(FM_WIRE_VERSION));
	json_object_set_new_nocheck(hdr, "t", json_string_nocheck("res"));
	json_object_set_new_nocheck(hdr, "stage", json_string(w->spec->stage));
	json_object_set_new_nocheck(hdr, "w", json_integer(w->spec->index));
	json_object_set_nocheck(hdr, "hop", hop);
	json_error_t jerr;
	memset(&jerr, 0, sizeof(jerr));
	json_t *doc = m->local ? fm_msg_take_doc(m, 0)
	                       : fm_json_parse(fm_msg_data(m, 0), fm_msg_size(m, 0), &jerr);
	json_t *out = NULL, *rep = NULL;
	int status;
	if (!json_is_object(doc)) {
		char where[256];
		fm_logf(fm_instance_name(w->inst), FM_LOG_ERR,
		        "document from %s is not a JSON object (%s at line %d column %d); skipped",
		        origin_text(m->env, where, sizeof(where)), doc ? "not an object" : jerr.text,
		        jerr.line, jerr.column);
		json_decref(doc);
		status = FM_ERROR;
		out = json_array();
	} else {
		status = fm_instance_process(w->inst, doc, fm_msg_take_prepared(m), &out, &rep);
	}
	json_object_set_new_nocheck(hdr, "st", json_string_nocheck(fm_status_name(status)));
	if (rep)
		json_object_set_new_nocheck(hdr, "rep", rep);
	json_t *cnt = fm_instance_take_counts(w->inst);
	if (cnt)
		json_object_set_new_nocheck(hdr, "cnt", cnt);
	int rc = send_result(w, hdr, out);
	if (rc != 0 && rc != -ETERM)
		fm_logf(fm_instance_name(w->inst), FM_LOG_ERR, "cannot send result: %s",
		        zmq_strerror(-rc));
	json_decref(hdr);
	json_decref(out);
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
	json_t *hello = json_pack("{s:i,s:s,s:s,s:i,s:i}", "v", FM_WIRE_VERSION, "t", "hello",
	                          "stage", spec->stage, "w", spec->index, "pid", (int)getpid());
	fm_msg_send(w.push, hello, NULL, NULL, 0, 0);
	json_decref(hello);

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
