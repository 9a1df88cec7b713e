/*
 * The wire format between the hub and stage workers: ZeroMQ multipart messages whose first
 * frame is a small JSON envelope and whose other frames are documents as JSON text.
 *
 *   hub -> worker   {"v":1,"t":"doc","hop":H,"src":SOURCE,"fetch":F,"att":A}   + 1 document
 *   worker -> hub   {"v":1,"t":"res","stage":S,"w":I,"hop":H,"st":"pass|done|drop|retry|error",
 *                    "rep":{...reported...},"cnt":{...counter deltas...}}      + 0..n documents
 *   worker -> hub   {"v":1,"t":"hello","stage":S,"w":I,"pid":P}                 (on start)
 *   worker -> hub   {"v":1,"t":"synced","stage":S,"w":I,"pid":P}   everything answered before
 *                   is durable (the plugin's flush() returned): the hub may acknowledge it
 *   hub -> worker   {"v":1,"t":"ack","ok":[TOKEN...],"failed":[TOKEN...]}  acknowledgements
 *                   of deliveries (plugin.h, ack; the token is the delivery's hop)
 *   hub -> worker   {"v":1,"t":"stop"}   finish: what was sent before it is handled first
 *   worker -> hub   {"v":1,"t":"busy","stage":S,"w":I,"pid":P,"hop":H}   the plugin works on
 *                   hop H, which it holds (host->progress): its stage timeout starts again
 *
 * "src" and "fetch" name the document's origin (the source and the fetch it came from), so
 * that what happens to every document can be acknowledged back to the scheduler. A peer that
 * sees another major version drops the message with a log line. Minor additions are new keys.
 *
 * Document frames stay zmq_msg_t from socket to socket: ZeroMQ shares a large message's buffer
 * between copies (zmq_msg_copy) and hands it over without copying on inproc, so a document's
 * bytes are written once by the worker that serialized them and read in place by the next.
 *
 * Between the hub and its worker threads (one process) a message is not encoded at all: it is
 * a single frame holding this process's random key and a pointer to a block with the envelope
 * (struct fm_env, as is) and the documents as parsed values, whose references go with the
 * message (fm_msg_send_local). The worker answers in the same block (fm_msg_reply_local), so
 * a document's round trip allocates nothing for the envelopes and everything the hub
 * allocated comes back to the hub to be freed. The hub parses and serializes, the worker
 * thread only runs the plugin, so the JSON work lands on the hub's core rather than on the
 * stage's. A frame from another process cannot carry the key
 * (it is drawn at start from getrandom), so a peer on the network cannot make the hub follow a
 * pointer: its frame is read as JSON and refused.
 */
#ifndef FM_CORE_ENVELOPE_H
#define FM_CORE_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <zmq.h>

#include <feedmill/plugin.h> /* enum fm_status */

struct fm_jbuf;
struct fm_json_raws;

#define FM_WIRE_VERSION 1

enum fm_msg_type {
	FM_MSG_OTHER = 0, /* a "t" this version does not know: ignored */
	FM_MSG_DOC,
	FM_MSG_RES,
	FM_MSG_HELLO,
	FM_MSG_SYNCED,
	FM_MSG_ACK,
	FM_MSG_STOP,
	FM_MSG_BUSY,
};

/* Counters a result carries; an instance keeps at most as many (instance.c). */
#define FM_ENV_MAX_COUNTS 32

struct fm_count {
	const char *name; /* a plugin's static string, or a key of the received envelope */
	int64_t delta;
};

/* An envelope, decoded: the JSON of frame 0 between processes, this struct as it is between
 * the threads of one. Which fields mean something depends on the type (the table above). */
struct fm_env {
	enum fm_msg_type type;
	uint64_t hop;       /* doc, res, busy */
	const char *src;    /* doc */
	int64_t fetch;      /* doc */
	int att;            /* doc: 1 on the first delivery */
	const char *stage;  /* res, hello, synced, busy */
	int w;              /* res, hello, synced */
	long long pid;      /* res, hello, synced: the worker process */
	int status;         /* res: enum fm_status */
	json_t *rep;        /* res: what was reported, or NULL */
	size_t ncounts;     /* res: counter deltas */
	struct fm_count counts[FM_ENV_MAX_COUNTS];
	const uint64_t *acks; /* ack: nacks settled deliveries, then nfailed failed ones */
	size_t nacks, nfailed;
};

/* A received message: its envelope, and its documents as ZeroMQ messages (frames), or, from a
 * thread of this process, as the values that were sent (local). Strings and rep in env are
 * valid until fm_msg_free. */
struct fm_msg {
	const struct fm_env *env;
	size_t nframes;   /* document frames */
	zmq_msg_t *frames;
	bool local;       /* docs[0..ndocs) instead of frames */
	json_t **docs;    /* NULL where taken */
	size_t ndocs;
	void *block;      /* local: what holds env and docs */
	void *prepared;   /* local: what the hub prepared for the document (plugin.h) */
	void (*release)(void *prepared);
	json_t *head;     /* from another process: frame 0, parsed (owns env's strings) */
	uint64_t *ack_buf; /* from another process: what env.acks points to */
	struct fm_env wire; /* from another process: env points here */
};

/* Documents in the message, whichever way they came. */
static inline size_t fm_msg_count(const struct fm_msg *m)
{
	return m->local ? m->ndocs : m->nframes;
}

static inline const char *fm_msg_data(struct fm_msg *m, size_t i)
{
	return (const char *)zmq_msg_data(&m->frames[i]);
}

static inline size_t fm_msg_size(struct fm_msg *m, size_t i)
{
	return zmq_msg_size(&m->frames[i]);
}

/* Receive one whole multipart message (non-blocking when flags has ZMQ_DONTWAIT).
 * 0, -EAGAIN, or another negative errno. A malformed or other-version message gives -EPROTO
 * after being consumed entirely. */
int fm_msg_recv(void *sock, struct fm_msg *m, int flags);
void fm_msg_free(struct fm_msg *m);

/* Send the envelope and n document frames as one message; the frames are handed over (each
 * is left empty) when it returns 0. -EAGAIN when the peer cannot take it now and flags has
 * ZMQ_DONTWAIT: nothing was sent and the frames are untouched. */
int fm_msg_send_frames(void *sock, const struct fm_env *env, zmq_msg_t *frames, size_t n,
                       int flags);

/* The same with documents given as bytes (copied). */
int fm_msg_send(void *sock, const struct fm_env *env, char *const *docs, const size_t *lens,
                size_t n, int flags);

/* A message owning a malloc'd buffer (freed by ZeroMQ when the last copy is closed). */
int fm_msg_init_owned(zmq_msg_t *msg, char *data, size_t len);

/* A frame holding doc as JSON text. A document that cannot be written, or whose text is
 * longer than max_size, is refused with a log line naming `who` and the document's id:
 * -EINVAL / -E2BIG (frame left empty); -ENOMEM. raws (may be NULL): strings noted when doc
 * was parsed, written as they came (jsonio.h). */
int fm_msg_init_doc(zmq_msg_t *frame, const json_t *doc, uint64_t max_size, const char *who,
                    const struct fm_json_raws *raws);

/* The same check, with the text appended to text (whose buffer the caller reuses). */
int fm_doc_dump(const json_t *doc, struct fm_jbuf *text, uint64_t max_size, const char *who,
                const struct fm_json_raws *raws);

/* Send env and docs[0..n) to a thread of this process, as values, with what was prepared for
 * them (or NULL) and how to free it: the references (docs, env->rep) and prepared move into the
 * message when it returns 0; on failure (-EAGAIN as above) the caller keeps them. */
int fm_msg_send_local(void *sock, const struct fm_env *env, json_t *const *docs, size_t n,
                      void *prepared, void (*release)(void *prepared), int flags);
/* The same, with the document's JSON text (a message the sender keeps: the block holds a
 * copy of it, which ZeroMQ shares, until the block is freed or answered). */
int fm_msg_send_local_text(void *sock, const struct fm_env *env, json_t *const *docs, size_t n,
                           void *prepared, void (*release)(void *prepared), zmq_msg_t *text,
                           int flags);
/* The JSON text of a message's (first) document: a frame from another process, or what the
 * sender of a local one attached. NULL when there is none (*len 0). Valid until m is freed
 * or answered. */
const char *fm_msg_text(struct fm_msg *m, size_t *len);
/* Answer local message m with env and docs[0..n), references moving as above. The answer
 * travels in m's own block when they fit, with what was prepared for m and not taken, and
 * with spent (a reference, or NULL): the input document, for the receiver to release. So the
 * block, the prepared value and the document, even one that goes no further, go back to the
 * thread that allocated them and are freed there, never by this one (with glibc a free into
 * another thread's arena takes that arena's lock). m is left empty on success; on failure the
 * caller keeps spent, and fm_msg_free(m) still frees m. */
int fm_msg_reply_local(void *sock, struct fm_msg *m, const struct fm_env *env,
                       json_t *const *docs, size_t n, json_t *spent, int flags);
/* Take document i of a local message (the caller owns the reference); NULL if taken. */
json_t *fm_msg_take_doc(struct fm_msg *m, size_t i);
/* Take what was prepared for a local message's document (the caller frees it); NULL if none. */
void *fm_msg_take_prepared(struct fm_msg *m);

/* enum fm_status on the wire: "pass", "done", "drop", "retry", "error". A name this version
 * does not know parses as FM_ERROR; a number out of range is named "invalid". */
const char *fm_status_name(int status);
int fm_status_parse(const char *name);

#endif
