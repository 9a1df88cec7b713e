#include "envelope.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

void fm_msg_free(struct fm_msg *m)
{
	json_decref(m->env);
	for (size_t i = 0; i < m->nframes; i++)
		free(m->frames[i]);
	free(m->frames);
	free(m->lens);
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
	json_error_t jerr;
	m->env = json_loadb(zmq_msg_data(&part), zmq_msg_size(&part), 0, &jerr);
	if (!json_is_object(m->env) ||
	    json_integer_value(json_object_get(m->env, "v")) != FM_WIRE_VERSION)
		bad = 1;
	zmq_msg_close(&part);
	size_t cap = 0;
	while (more_frames(sock)) {
		zmq_msg_init(&part);
		if (zmq_msg_recv(&part, sock, 0) < 0) {
			zmq_msg_close(&part);
			fm_msg_free(m);
			return -EPROTO;
		}
		if (!bad) {
			if (m->nframes == cap) {
				cap = cap ? cap * 2 : 4;
				char **f = realloc(m->frames, cap * sizeof(*f));
				size_t *l = f ? realloc(m->lens, cap * sizeof(*l)) : NULL;
				if (f)
					m->frames = f;
				if (l)
					m->lens = l;
				if (!f || !l)
					bad = 1;
			}
		}
		if (!bad) {
			size_t n = zmq_msg_size(&part);
			char *copy = malloc(n + 1);
			if (!copy) {
				bad = 1;
			} else {
				memcpy(copy, zmq_msg_data(&part), n);
				copy[n] = '\0';
				m->frames[m->nframes] = copy;
				m->lens[m->nframes] = n;
				m->nframes++;
			}
		}
		zmq_msg_close(&part);
	}
	if (bad) {
		fm_msg_free(m);
		return -EPROTO;
	}
	return 0;
}

int fm_msg_send(void *sock, const json_t *env, char *const *frames, const size_t *lens, size_t n,
                int flags)
{
	char *head = json_dumps(env, JSON_COMPACT);
	if (!head)
		return -ENOMEM;
	/* The first frame decides: once it is accepted, ZeroMQ takes the rest atomically. */
	int rc = zmq_send(sock, head, strlen(head), flags | (n ? ZMQ_SNDMORE : 0));
	free(head);
	if (rc < 0)
		return -errno;
	for (size_t i = 0; i < n; i++) {
		if (zmq_send(sock, frames[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0) < 0)
			return -errno;
	}
	return 0;
}
