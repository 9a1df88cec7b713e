#include "envelope.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "jsonio.h"
#include "log.h"

int fm_msg_init_ptr(zmq_msg_t *msg, json_t *doc)
{
	if (zmq_msg_init_size(msg, sizeof(doc)) != 0) {
		json_decref(doc);
		return -errno;
	}
	memcpy(zmq_msg_data(msg), &doc, sizeof(doc));
	return 0;
}

bool fm_msg_has_ptrs(const struct fm_msg *m)
{
	return json_is_true(json_object_get(m->env, "ptr"));
}

json_t *fm_frame_take_ptr(zmq_msg_t *f)
{
	json_t *doc = NULL;
	if (zmq_msg_size(f) != sizeof(doc))
		return NULL;
	memcpy(&doc, zmq_msg_data(f), sizeof(doc));
	json_t *none = NULL;
	memcpy(zmq_msg_data(f), &none, sizeof(none));
	return doc;
}

json_t *fm_msg_take_ptr(struct fm_msg *m, size_t i)
{
	return i < m->nframes ? fm_frame_take_ptr(&m->frames[i]) : NULL;
}

void fm_msg_release_ptr_frames(zmq_msg_t *frames, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(fm_frame_take_ptr(&frames[i]));
}

void fm_msg_free(struct fm_msg *m)
{
	/* Documents nobody took (an answer the hub ignores) are released here. */
	if (m->env && fm_msg_has_ptrs(m))
		fm_msg_release_ptr_frames(m->frames, m->nframes);
	json_decref(m->env);
	for (size_t i = 0; i < m->nframes; i++)
		zmq_msg_close(&m->frames[i]);
	free(m->frames);
	memset(m, 0, sizeof(*m));
}

static int more_frames(void *sock)
{
	int more = 0;
	size_t sz = sizeof(more);
	zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz);
	return more;
}

int fm_msg_recv(void *sock, struct fm_msg *m, int flags)
{
	memset(m, 0, sizeof(*m));
	zmq_msg_t part;
	zmq_msg_init(&part);
	if (zmq_msg_recv(&part, sock, flags) < 0) {
		int e = errno;
		zmq_msg_close(&part);
		return -e;
	}
	int bad = 0;
	m->env = fm_json_parse(zmq_msg_data(&part), zmq_msg_size(&part), NULL);
	if (!json_is_object(m->env) ||
	    json_integer_value(json_object_get(m->env, "v")) != FM_WIRE_VERSION)
		bad = 1;
	zmq_msg_close(&part);
	size_t cap = 0;
	while (more_frames(sock)) {
		if (!bad && m->nframes == cap) {
			cap = cap ? cap * 2 : 4;
			zmq_msg_t *f = realloc(m->frames, cap * sizeof(*f));
			if (f)
				m->frames = f;
			else
				bad = 1;
		}
		zmq_msg_t *slot = bad ? &part : &m->frames[m->nframes];
		zmq_msg_init(slot);
		if (zmq_msg_recv(slot, sock, 0) < 0) {
			zmq_msg_close(slot);
			fm_msg_free(m);
			return -EPROTO;
		}
		if (bad)
			zmq_msg_close(slot);
		else
			m->nframes++;
	}
	if (bad) {
		fm_msg_free(m);
		return -EPROTO;
	}
	return 0;
}

static void free_buffer(void *data, void *hint)
{
	(void)hint;
	free(data);
}

int fm_msg_init_owned(zmq_msg_t *msg, char *data, size_t len)
{
	if (zmq_msg_init_data(msg, data, len, free_buffer, NULL) != 0) {
		free(data);
		return -errno;
	}
	return 0;
}

int fm_msg_init_doc(zmq_msg_t *frame, const json_t *doc, uint64_t max_size, const char *who)
{
	struct fm_jbuf text = FM_JBUF_INIT;
	int rc = fm_json_dump(doc, &text);
	const char *id = json_string_value(json_object_get(doc, "id"));
	if (rc == -ENOMEM) {
		fm_jbuf_free(&text);
		return rc;
	}
	if (rc != 0) {
		fm_logf(who, FM_LOG_ERR, "dropped document %s: it cannot be written as JSON (%s)",
		        id ? id : "?", strerror(-rc));
	} else if (text.len > max_size) {
		fm_logf(who, FM_LOG_ERR, "dropped document %s: %zu bytes is over max_doc_size (%llu)",
		        id ? id : "?", text.len, (unsigned long long)max_size);
		rc = -E2BIG;
	}
	if (rc != 0) {
		fm_jbuf_free(&text);
		zmq_msg_init(frame);
		return rc;
	}
	size_t len;
	char *data = fm_jbuf_steal(&text, &len);
	if (!data) {
		zmq_msg_init(frame);
		return -ENOMEM;
	}
	rc = fm_msg_init_owned(frame, data, len);
	if (rc != 0)
		zmq_msg_init(frame);
	return rc;
}

static int send_head(void *sock, const json_t *env, bool more, int flags)
{
	struct fm_jbuf b = FM_JBUF_INIT;
	if (fm_json_dump(env, &b) != 0) {
		fm_jbuf_free(&b);
		return -ENOMEM;
	}
	int rc = zmq_send(sock, b.data, b.len, flags | (more ? ZMQ_SNDMORE : 0));
	int e = errno;
	fm_jbuf_free(&b);
	return rc < 0 ? -e : 0;
}

int fm_msg_send_frames(void *sock, const json_t *env, zmq_msg_t *frames, size_t n, int flags)
{
	/* The first frame decides: once it is accepted, ZeroMQ takes the rest atomically. */
	int rc = send_head(sock, env, n > 0, flags);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (zmq_msg_send(&frames[i], sock, i + 1 < n ? ZMQ_SNDMORE : 0) < 0)
			return -errno;
	}
	return 0;
}

int fm_msg_send(void *sock, const json_t *env, char *const *docs, const size_t *lens, size_t n,
                int flags)
{
	int rc = send_head(sock, env, n > 0, flags);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (zmq_send(sock, docs[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0) < 0)
			return -errno;
	}
	return 0;
}
