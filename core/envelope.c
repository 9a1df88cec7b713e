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
	struct fm_env env; /* env.rep: a reference of the block's */
	json_t *spent;     /* an answer's: the input document, for its sender to release */
	void *prepared;
	void (*release)(void *prepared);
	zmq_msg_t text;    /* the document's JSON text, when has_text (a shared copy) */
	bool has_text;
	size_t n, cap;
	json_t *docs[];
};

static void block_drop_text(struct local_block *b)
{
	if (b->has_text) {
		zmq_msg_close(&b->text);
		b->has_text = false;
	}
}

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

static struct local_block *block_new(size_t cap)
{
	struct local_block *b = malloc(sizeof(*b) + (cap ? cap : 1) * sizeof(b->docs[0]));
	if (b) {
		b->cap = cap ? cap : 1;
		b->spent = NULL;
		b->has_text = false;
	}
	return b;
}

/* Fill b with env and docs (references as they are) and send it; on failure b is untouched
 * but for what was filled, which the caller takes back. */
static int send_block(void *sock, struct local_block *b, const struct fm_env *env,
                      json_t *const *docs, size_t n, int flags)
{
	pthread_once(&local_key_once, local_key_init);
	b->env = *env;
	b->n = n;
	for (size_t i = 0; i < n; i++)
		b->docs[i] = docs[i];
	zmq_msg_t f;
	if (zmq_msg_init_size(&f, LOCAL_FRAME_SIZE) != 0)
		return -errno;
	memcpy(zmq_msg_data(&f), local_key, LOCAL_KEY_SIZE);
	memcpy((char *)zmq_msg_data(&f) + LOCAL_KEY_SIZE, &b, sizeof(b));
	if (zmq_msg_send(&f, sock, flags) < 0) {
		int e = errno;
		zmq_msg_close(&f);
		return -e;
	}
	return 0;
}

int fm_msg_send_local_text(void *sock, const struct fm_env *env, json_t *const *docs, size_t n,
                           void *prepared, void (*release)(void *prepared), zmq_msg_t *text,
                           int flags)
{
	struct local_block *b = block_new(n);
	if (!b)
		return -ENOMEM;
	b->prepared = prepared;
	b->release = release;
	if (text) {
		zmq_msg_init(&b->text);
		b->has_text = zmq_msg_copy(&b->text, text) == 0;
		if (!b->has_text)
			zmq_msg_close(&b->text);
	}
	int rc = send_block(sock, b, env, docs, n, flags);
	if (rc != 0) {
		block_drop_text(b);
		free(b);
	}
	return rc;
}

int fm_msg_send_local(void *sock, const struct fm_env *env, json_t *const *docs, size_t n,
                      void *prepared, void (*release)(void *prepared), int flags)
{
	return fm_msg_send_local_text(sock, env, docs, n, prepared, release, NULL, flags);
}

const char *fm_msg_text(struct fm_msg *m, size_t *len)
{
	*len = 0;
	if (m->local) {
		struct local_block *b = m->block;
		if (!b || !b->has_text)
			return NULL;
		*len = zmq_msg_size(&b->text);
		return zmq_msg_data(&b->text);
	}
	if (!m->nframes)
		return NULL;
	*len = zmq_msg_size(&m->frames[0]);
	return zmq_msg_data(&m->frames[0]);
}

int fm_msg_reply_local(void *sock, struct fm_msg *m, const struct fm_env *env,
                       json_t *const *docs, size_t n, json_t *spent, int flags)
{
	struct local_block *b = m->block;
	if (!m->local || !b)
		return -EINVAL;
	/* what the answer replaces: the documents nobody took, the envelope's report, the text */
	block_drop_text(b);
	for (size_t i = 0; i < b->n; i++) {
		json_decref(b->docs[i]);
		b->docs[i] = NULL;
	}
	b->n = 0;
	m->ndocs = 0;
	json_decref(b->env.rep);
	b->env.rep = NULL;
	struct local_block *to = b;
	if (n > b->cap && !(to = block_new(n)))
		return -ENOMEM; /* more documents than the hub sent: a block of this thread's */
	to->prepared = m->prepared;
	to->release = m->release;
	to->spent = spent;
	int rc = send_block(sock, to, env, docs, n, flags);
	if (rc != 0) {
		for (size_t i = 0; i < n; i++)
			to->docs[i] = NULL;
		to->n = 0;
		to->env.rep = NULL;
		to->spent = NULL;
		if (to != b)
			free(to);
		return rc;
	}
	if (to != b)
		free(b);
	memset(m, 0, sizeof(*m));
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
	if (m->local && m->block) {
		struct local_block *b = m->block;
		json_decref(b->env.rep);
		json_decref(b->spent);
		block_drop_text(b);
	}
	free(m->block);
	free(m->ack_buf);
	json_decref(m->head);
	for (size_t i = 0; i < m->nframes; i++)
		zmq_msg_close(&m->frames[i]);
	free(m->frames);
	memset(m, 0, sizeof(*m));
}

/* --- the envelope as JSON (between processes) --- */

static const char *const status_names[] = {
	[FM_PASS] = "pass", [FM_DONE] = "done", [FM_DROP] = "drop", [FM_RETRY] = "retry",
	[FM_ERROR] = "error",
};

const char *fm_status_name(int status)
{
	if (status < FM_PASS || status > FM_ERROR)
		return "invalid";
	return status_names[status];
}

int fm_status_parse(const char *name)
{
	for (int s = FM_PASS; name && s <= FM_ERROR; s++)
		if (strcmp(name, status_names[s]) == 0)
			return s;
	return FM_ERROR;
}

static const char *const type_names[] = {
	[FM_MSG_DOC] = "doc", [FM_MSG_RES] = "res", [FM_MSG_HELLO] = "hello",
	[FM_MSG_SYNCED] = "synced", [FM_MSG_ACK] = "ack", [FM_MSG_STOP] = "stop",
	[FM_MSG_BUSY] = "busy",
};
#define LAST_TYPE FM_MSG_BUSY

/* An ack's token lists, ok then failed, into one array m->ack_buf. -1 when malformed. */
static int decode_acks(const json_t *o, struct fm_msg *m)
{
	const json_t *ok = json_object_get(o, "ok"), *failed = json_object_get(o, "failed");
	size_t nok = json_array_size(ok), nf = json_array_size(failed);
	if (nok + nf == 0)
		return 0;
	if (!(m->ack_buf = malloc((nok + nf) * sizeof(*m->ack_buf))))
		return -1;
	for (size_t i = 0; i < nok + nf; i++) {
		const json_t *v = i < nok ? json_array_get(ok, i) : json_array_get(failed, i - nok);
		if (!json_is_integer(v))
			return -1;
		m->ack_buf[i] = (uint64_t)json_integer_value(v);
	}
	m->wire.acks = m->ack_buf;
	m->wire.nacks = nok;
	m->wire.nfailed = nf;
	return 0;
}

static json_t *token_array(const uint64_t *t, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_integer((json_int_t)t[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_int_t int_of(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* Frame 0 (parsed) into env, whose strings and rep then point into it. -1: not an envelope of
 * this wire version. */
static int decode_env(const json_t *o, struct fm_env *env)
{
	memset(env, 0, sizeof(*env));
	if (!json_is_object(o) || !json_is_integer(json_object_get(o, "v")) ||
	    int_of(o, "v") != FM_WIRE_VERSION)
		return -1;
	const char *t = json_string_value(json_object_get(o, "t"));
	for (int k = FM_MSG_DOC; t && k <= LAST_TYPE; k++)
		if (strcmp(t, type_names[k]) == 0)
			env->type = (enum fm_msg_type)k;
	env->hop = (uint64_t)int_of(o, "hop");
	env->src = json_string_value(json_object_get(o, "src"));
	env->fetch = int_of(o, "fetch");
	env->att = (int)int_of(o, "att");
	env->stage = json_string_value(json_object_get(o, "stage"));
	env->w = (int)int_of(o, "w");
	env->pid = int_of(o, "pid");
	env->status = fm_status_parse(json_string_value(json_object_get(o, "st")));
	env->rep = json_object_get(o, "rep");
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)json_object_get(o, "cnt"), k, v)
	{
		if (env->ncounts == FM_ENV_MAX_COUNTS || !json_is_integer(v))
			continue;
		env->counts[env->ncounts++] = (struct fm_count){k, json_integer_value(v)};
	}
	return 0;
}

static json_t *encode_env(const struct fm_env *env)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	const char *stage = env->stage ? env->stage : "";
	bool ok = json_object_set_new(o, "v", json_integer(FM_WIRE_VERSION)) == 0;
	if (env->type >= FM_MSG_DOC && env->type <= LAST_TYPE)
		ok = ok && json_object_set_new(o, "t", json_string(type_names[env->type])) == 0;
	switch (env->type) {
	case FM_MSG_DOC:
		ok = ok && json_object_set_new(o, "hop", json_integer((json_int_t)env->hop)) == 0 &&
		     json_object_set_new(o, "src", json_string(env->src ? env->src : "")) == 0 &&
		     json_object_set_new(o, "fetch", json_integer(env->fetch)) == 0 &&
		     json_object_set_new(o, "att", json_integer(env->att)) == 0;
		break;
	case FM_MSG_RES:
		ok = ok && json_object_set_new(o, "stage", json_string(stage)) == 0 &&
		     json_object_set_new(o, "w", json_integer(env->w)) == 0 &&
		     json_object_set_new(o, "pid", json_integer(env->pid)) == 0 &&
		     json_object_set_new(o, "hop", json_integer((json_int_t)env->hop)) == 0 &&
		     json_object_set_new(o, "st", json_string(fm_status_name(env->status))) == 0;
		if (ok && env->rep)
			ok = json_object_set(o, "rep", env->rep) == 0;
		if (ok && env->ncounts) {
			json_t *cnt = json_object();
			ok = cnt && json_object_set_new(o, "cnt", cnt) == 0;
			for (size_t i = 0; ok && i < env->ncounts; i++)
				ok = json_object_set_new(cnt, env->counts[i].name,
				                         json_integer(env->counts[i].delta)) == 0;
		}
		break;
	case FM_MSG_ACK:
		ok = ok && json_object_set_new(o, "ok", token_array(env->acks, env->nacks)) == 0 &&
		     json_object_set_new(o, "failed",
		                         token_array(env->nfailed ? env->acks + env->nacks : NULL,
		                                     env->nfailed)) == 0;
		break;
	case FM_MSG_HELLO:
	case FM_MSG_SYNCED:
	case FM_MSG_BUSY:
		ok = ok && json_object_set_new(o, "stage", json_string(stage)) == 0 &&
		     json_object_set_new(o, "w", json_integer(env->w)) == 0 &&
		     json_object_set_new(o, "pid", json_integer(env->pid)) == 0;
		if (ok && env->type == FM_MSG_BUSY)
			ok = json_object_set_new(o, "hop", json_integer((json_int_t)env->hop)) == 0;
		break;
	default:
		break;
	}
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
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
		m->env = &b->env;
		m->docs = b->docs;
		m->ndocs = b->n;
		m->prepared = b->prepared;
		m->release = b->release;
		return 0;
	}
	m->head = fm_json_parse(zmq_msg_data(&part), zmq_msg_size(&part), NULL);
	if (decode_env(m->head, &m->wire) != 0 ||
	    (m->wire.type == FM_MSG_ACK && decode_acks(m->head, m) != 0))
		bad = 1;
	m->env = &m->wire;
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

int fm_doc_dump(const json_t *doc, struct fm_jbuf *text, uint64_t max_size, const char *who,
                const struct fm_json_raws *raws)
{
	int rc = fm_json_dump_raws(doc, text, raws);
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

/* A thread's buffer for writing documents: it keeps its size from one to the next, and what a
 * frame keeps is a copy of the exact length (a buffer grown by doubling is on average a third
 * empty, and a queue of thousands of documents waiting for an output is most of the memory
 * the core holds). */
static __thread struct fm_jbuf scratch = FM_JBUF_INIT;
#define SCRATCH_KEEP (1u << 20) /* larger is freed after use */
static pthread_key_t scratch_key; /* frees a thread's buffer when it ends */
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p)
{
	free(p);
}

static void scratch_key_make(void)
{
	pthread_key_create(&scratch_key, scratch_free);
}

int fm_msg_init_doc(zmq_msg_t *frame, const json_t *doc, uint64_t max_size, const char *who,
                    const struct fm_json_raws *raws)
{
	pthread_once(&scratch_once, scratch_key_make);
	scratch.len = 0;
	int rc = fm_doc_dump(doc, &scratch, max_size, who, raws);
	char *data = rc == 0 ? malloc(scratch.len + 1) : NULL;
	size_t len = scratch.len;
	if (data)
		memcpy(data, scratch.data, len + 1);
	if (scratch.cap > SCRATCH_KEEP)
		fm_jbuf_free(&scratch);
	pthread_setspecific(scratch_key, scratch.data);
	if (!data) {
		zmq_msg_init(frame);
		return rc != 0 ? rc : -ENOMEM;
	}
	rc = fm_msg_init_owned(frame, data, len);
	if (rc != 0)
		zmq_msg_init(frame);
	return rc;
}

static int send_head(void *sock, const struct fm_env *env, bool more, int flags)
{
	json_t *o = encode_env(env);
	struct fm_jbuf b = FM_JBUF_INIT;
	if (!o || fm_json_dump(o, &b) != 0) {
		json_decref(o);
		fm_jbuf_free(&b);
		return -ENOMEM;
	}
	json_decref(o);
	int rc = zmq_send(sock, b.data, b.len, flags | (more ? ZMQ_SNDMORE : 0));
	int e = errno;
	fm_jbuf_free(&b);
	return rc < 0 ? -e : 0;
}

int fm_msg_send_frames(void *sock, const struct fm_env *env, zmq_msg_t *frames, size_t n,
                       int flags)
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

int fm_msg_send(void *sock, const struct fm_env *env, char *const *docs, const size_t *lens,
                size_t n, int flags)
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
