/*
 * The wire format between the hub and stage workers: ZeroMQ multipart messages whose first
 * frame is a small JSON envelope and whose other frames are documents as JSON text.
 *
 *   hub -> worker   {"v":1,"t":"doc","hop":H,"src":SOURCE,"fetch":F,"att":A}   + 1 document
 *   worker -> hub   {"v":1,"t":"res","stage":S,"w":I,"hop":H,"st":"pass|done|drop|retry|error",
 *                    "rep":{...reported...},"cnt":{...counter deltas...}}      + 0..n documents
 *   worker -> hub   {"v":1,"t":"hello","stage":S,"w":I,"pid":P}                 (on start)
 *
 * "src" and "fetch" name the document's origin (the source and the fetch it came from), so
 * that what happens to every document can be acknowledged back to the scheduler. A peer that
 * sees another major version drops the message with a log line. Minor additions are new keys.
 *
 * Document frames stay zmq_msg_t from socket to socket: ZeroMQ shares a large message's buffer
 * between copies (zmq_msg_copy) and hands it over without copying on inproc, so a document's
 * bytes are written once by the worker that serialized them and read in place by the next.
 *
 * Between the hub and its worker threads (inproc, one process) documents travel as parsed
 * values instead: the envelope carries "ptr":1 and each frame holds one json_t pointer whose
 * reference goes with the message. The hub parses and serializes, the worker thread only runs
 * the plugin, so the JSON work lands on the hub's core rather than on the stage's.
 */
#ifndef FM_CORE_ENVELOPE_H
#define FM_CORE_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <zmq.h>

#define FM_WIRE_VERSION 1

/* A received multipart message: frame 0 parsed, the others kept as ZeroMQ messages. */
struct fm_msg {
	json_t *env;
	size_t nframes;   /* document frames */
	zmq_msg_t *frames;
};

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
int fm_msg_send_frames(void *sock, const json_t *env, zmq_msg_t *frames, size_t n, int flags);

/* The same with documents given as bytes (copied). */
int fm_msg_send(void *sock, const json_t *env, char *const *docs, const size_t *lens, size_t n,
                int flags);

/* A message owning a malloc'd buffer (freed by ZeroMQ when the last copy is closed). */
int fm_msg_init_owned(zmq_msg_t *msg, char *data, size_t len);

/* A frame holding doc as JSON text. A document that cannot be written, or whose text is
 * longer than max_size, is refused with a log line naming `who` and the document's id:
 * -EINVAL / -E2BIG (frame left empty); -ENOMEM. */
int fm_msg_init_doc(zmq_msg_t *frame, const json_t *doc, uint64_t max_size, const char *who);

/* A pointer frame carrying doc (its reference moves into the frame). 0 or -errno (doc is
 * released on failure). Only between threads of one process. */
int fm_msg_init_ptr(zmq_msg_t *msg, json_t *doc);
/* True when the message's frames are pointer frames. */
bool fm_msg_has_ptrs(const struct fm_msg *m);
/* Take the document of pointer frame i (the caller owns the reference); NULL if taken. */
json_t *fm_msg_take_ptr(struct fm_msg *m, size_t i);
/* The same for one frame. */
json_t *fm_frame_take_ptr(zmq_msg_t *frame);
/* Release the documents of pointer frames in frames[0..n) (a message never sent). */
void fm_msg_release_ptr_frames(zmq_msg_t *frames, size_t n);

#endif
