#include "envelope.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "jsonio.h"
#include "log.h"

/* --- in-process messages --- */

struct local_block {
	json_t *env;
	void *prepared;
	void (*release)(void *prepared);
	size_t n;
	json_t *docs[];
};

#define LOCAL_KEY_SIZE 8
#define LOCAL_FRAME_SIZE (LOCAL_KEY_SIZE + sizeof(struct local_block *))

static unsigned char local_key[LOCAL_KEY_SIZE];
static pthread_once_t local_key_once = PTHREAD_ONCE_INIT;

static void local_key_init(void)
{
	/* Not a JSON text's first byte, so a key never reads as an envelope either. */
	ssize_t got;
	do
		got = getrandom(local_key, sizeof(local_key), 0);
	while (got < 0 && errno == EINTR);
	if (got != (ssize_t)sizeof(local_key)) {
		/* no getrandom (a kernel before 3.17): this process's own, less secret, numbers */
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		uint64_t x = ((uint64_t)t.tv_nsec << 32) ^ (uint64_t)t.tv_sec ^ (uint64_t)getpid() ^
		             (uint64_t)(uintptr_t)&got;
		memcpy(local_key, &x, sizeof(local_key));
	}
	local_key[0] = 0;
}

int fm_msg_send_local(void *sock, json_t *env, json_t *const *docs, size_t n, void *prepared,
                      void (*release)(void *prepared), int flags)
{
	pthread_once(&local_key_once, local_key_init);
	struct local_block *b = malloc(sizeof(*b) + n * sizeof(b->docs[0]));
	if (!b)
		return -ENOMEM;
	b->env = env;
	b->prepared = prepared;
	b->release = release;
	b->n = n;
	for (size_t i = 0; i < n; i++)
		b->docs[i] = docs[i];
	zmq_msg_t f;
	if (zmq_msg_init_size(&f, LOCAL_FRAME_SIZE) != 0) {
		free(b);
		return -errno;
	}
	memcpy(zmq_msg_data(&f), local_key, LOCAL_KEY_SIZE);
	memcpy((char *)zmq_msg_data(&f) + LOCAL_KEY_SIZE, &b, sizeof(b));
	if (zmq_msg_send(&f, sock, flags) < 0) {
		int e = errno;
		zmq_msg_close(&f);
		free(b);
		return -e;
	}
	return 0;
}

/* The block a frame points at when it is a local message of this process, else NULL. */
static struct local_block *local_of(zmq_msg_t *f)
{
	if (zmq_msg_size(f) != LOCAL_FRAME_SIZE)
		return NULL;
	pthread_once(&local_key_once, local_key_init);
	if (memcmp(zmq_msg_data(f), local_key, LOCAL_KEY_SIZE) != 0)
		return NULL;
	struct local_block *b;
	memcpy(&b, (char *)zmq_msg_data(f) + LOCAL_KEY_SIZE, sizeof(b));
	return b;
}

json_t *fm_msg_take_doc(struct fm_msg *m, size_t i)
{
	if (!m->local || i >= m->ndocs)
		return NULL;
	json_t *d = m->docs[i];
	m->docs[i] = NULL;
	return d;
}

void *fm_msg_take_prepared(struct fm_msg *m)
{
	void *p = m->prepared;
	m->prepared = NULL;
	return p;
}

void fm_msg_free(struct fm_msg *m)
{
	if (m->prepared && m->release)
		m->release(m->prepared);
	/* Documents nobody took (an answer the hub ignores) are released here. */
	for (size_t i = 0; m->local && i < m->ndocs; i++)
		json_decref(m->docs[i]);
	free(m->block);
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
	struct local_block *b = local_of(&part);
	if (b) {
		zmq_msg_close(&part);
		m->local = true;
		m->block = b;
		m->env = b->env;
		m->docs = b->docs;
		m->ndocs = b->n;
		m->prepared = b->prepared;
		m->release = b->release;
		return 0;
	}
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

int fm_doc_dump(const json_t *doc, struct fm_jbuf *text, uint64_t max_size, const char *who)
{
	int rc = fm_json_dump(doc, text);
	if (rc == -ENOMEM)
		return rc;
	const char *id = json_string_value(json_object_get(doc, "id"));
	if (rc != 0) {
		fm_logf(who, FM_LOG_ERR, "dropped document %s: it cannot be written as JSON (%s)",
		        id ? id : "?", strerror(-rc));
	} else if (text->len > max_size) {
		fm_logf(who, FM_LOG_ERR, "dropped document %s: %zu bytes is over max_doc_size (%llu)",
		        id ? id : "?", text->len, (unsigned long long)max_size);
		rc = -E2BIG;
	}
	return rc;
}

int fm_msg_init_doc(zmq_msg_t *frame, const json_t *doc, uint64_t max_size, const char *who)
{
	struct fm_jbuf text = FM_JBUF_INIT;
	int rc = fm_doc_dump(doc, &text, max_size, who);
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
