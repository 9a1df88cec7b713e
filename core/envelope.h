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
 */
#ifndef FM_CORE_ENVELOPE_H
#define FM_CORE_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define FM_WIRE_VERSION 1

/* A received multipart message: frame 0 parsed, the others kept as bytes. */
struct fm_msg {
	json_t *env;
	size_t nframes; /* document frames */
	char **frames;  /* each NUL-terminated, malloc'd */
	size_t *lens;
};

/* Receive one whole multipart message (non-blocking when flags has ZMQ_DONTWAIT).
 * 0, -EAGAIN, or another negative errno. A malformed or other-version message gives -EPROTO
 * after being consumed entirely. */
int fm_msg_recv(void *sock, struct fm_msg *m, int flags);
void fm_msg_free(struct fm_msg *m);

/* Send the envelope and n document frames as one message. 0 or -errno (-EAGAIN when the peer
 * cannot take it now and flags has ZMQ_DONTWAIT: nothing was sent). */
int fm_msg_send(void *sock, const json_t *env, char *const *frames, const size_t *lens, size_t n,
                int flags);

#endif
