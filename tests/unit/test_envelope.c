/*
 * The wire envelope between the hub and stage workers: a message sent with fm_msg_send arrives
 * whole through fm_msg_recv; a message from another wire version, or with a broken envelope,
 * is refused with -EPROTO and consumed entirely, so the next good message still arrives intact.
 */
#include <errno.h>

#include <zmq.h>

#include "envelope.h"
#include "log.h"
#include "unit.h"

/* Send raw frames as one message, as a peer of another version would. */
static void send_raw(void *sock, const char *const *frames, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (zmq_send(sock, frames[i], strlen(frames[i]), i + 1 < n ? ZMQ_SNDMORE : 0) < 0)
			abort();
}

static void send_good(void *push, const char *tag, size_t ndocs)
{
	json_t *env = json_pack("{s:i,s:s,s:i,s:s}", "v", FM_WIRE_VERSION, "t", "doc", "hop", 7,
	                        "src", tag);
	char *frames[3];
	size_t lens[3];
	for (size_t i = 0; i < ndocs; i++) {
		if (asprintf(&frames[i], "{\"id\":\"%s-%zu\",\"text\":\"caf\\u00e9 \\u0000 nul\"}", tag,
		             i) < 0)
			abort();
		lens[i] = strlen(frames[i]);
	}
	CHECK(fm_msg_send(push, env, frames, lens, ndocs, 0) == 0);
	for (size_t i = 0; i < ndocs; i++)
		free(frames[i]);
	json_decref(env);
}

static void expect_good(void *pull, const char *tag, size_t ndocs)
{
	struct fm_msg m;
	int rc = fm_msg_recv(pull, &m, 0);
	CHECK(rc == 0);
	if (rc != 0)
		return;
	CHECK(json_integer_value(json_object_get(m.env, "v")) == FM_WIRE_VERSION);
	CHECK_STR(json_string_value(json_object_get(m.env, "t")), "doc");
	CHECK_STR(json_string_value(json_object_get(m.env, "src")), tag);
	CHECK(json_integer_value(json_object_get(m.env, "hop")) == 7);
	CHECK(m.nframes == ndocs);
	for (size_t i = 0; i < m.nframes && i < ndocs; i++) {
		char want[64];
		snprintf(want, sizeof(want), "%s-%zu", tag, i);
		json_error_t jerr;
		json_t *doc = json_loadb(fm_msg_data(&m, i), fm_msg_size(&m, i), JSON_ALLOW_NUL, &jerr);
		CHECK(doc != NULL);
		CHECK_STR(json_string_value(json_object_get(doc, "id")), want);
		json_decref(doc);
	}
	fm_msg_free(&m);
	CHECK(m.env == NULL && m.frames == NULL && m.nframes == 0);
}

static void expect_refused(void *pull)
{
	struct fm_msg m;
	CHECK(fm_msg_recv(pull, &m, 0) == -EPROTO);
	CHECK(m.env == NULL && m.nframes == 0 && m.frames == NULL);
}

static int released;
static void count_release(void *prepared)
{
	CHECK_STR((const char *)prepared, "prepared");
	released++;
}

/* Between threads of one process a message travels as values; a frame that only looks like
 * one (another process cannot know the key) is refused, never followed as a pointer. */
static void test_local(void *push, void *pull)
{
	json_t *env = json_pack("{s:i,s:s,s:i}", "v", FM_WIRE_VERSION, "t", "doc", "hop", 9);
	json_t *docs[2] = {json_pack("{s:s}", "id", "a"), json_pack("{s:s}", "id", "b")};
	CHECK(fm_msg_send_local(push, env, docs, 2, "prepared", count_release, 0) == 0);
	struct fm_msg m;
	CHECK(fm_msg_recv(pull, &m, 0) == 0);
	CHECK(m.local && fm_msg_count(&m) == 2 && m.env == env);
	CHECK(json_integer_value(json_object_get(m.env, "hop")) == 9);
	CHECK_STR((const char *)fm_msg_take_prepared(&m), "prepared");
	CHECK(fm_msg_take_prepared(&m) == NULL);
	json_t *a = fm_msg_take_doc(&m, 0);
	CHECK(a == docs[0] && fm_msg_take_doc(&m, 0) == NULL);
	json_decref(a);
	fm_msg_free(&m); /* releases document b and the envelope */
	CHECK(released == 0);

	/* what nobody took is released with the message */
	env = json_pack("{s:i,s:s}", "v", FM_WIRE_VERSION, "t", "doc");
	json_t *one = json_pack("{s:s}", "id", "c");
	CHECK(fm_msg_send_local(push, env, &one, 1, "prepared", count_release, 0) == 0);
	CHECK(fm_msg_recv(pull, &m, 0) == 0);
	fm_msg_free(&m);
	CHECK(released == 1);

	/* a forged local frame: the right size, a zero first byte, a pointer, the wrong key */
	unsigned char forged[16] = {0};
	uintptr_t bogus = 0x1000;
	memcpy(forged + 8, &bogus, sizeof(bogus));
	CHECK(zmq_send(push, forged, sizeof(forged), 0) == (int)sizeof(forged));
	send_good(push, "after-forged", 1);
	expect_refused(pull);
	expect_good(pull, "after-forged", 1);
}

int main(void)
{
	fm_log_set_level(FM_LOG_ERR);
	void *ctx = zmq_ctx_new();
	void *push = zmq_socket(ctx, ZMQ_PUSH);
	void *pull = zmq_socket(ctx, ZMQ_PULL);
	CHECK(zmq_bind(pull, "inproc://envelope-test") == 0);
	CHECK(zmq_connect(push, "inproc://envelope-test") == 0);

	/* nothing there yet */
	struct fm_msg m;
	CHECK(fm_msg_recv(pull, &m, ZMQ_DONTWAIT) == -EAGAIN);

	/* round trips: one document, several, none (a bare envelope, like "hello") */
	send_good(push, "one", 1);
	expect_good(pull, "one", 1);
	send_good(push, "three", 3);
	expect_good(pull, "three", 3);
	send_good(push, "none", 0);
	expect_good(pull, "none", 0);

	/* another major version, with documents behind it: refused and consumed */
	send_raw(push, (const char *[]){"{\"v\":2,\"t\":\"doc\",\"hop\":1}", "{\"id\":\"x\"}",
	                                "{\"id\":\"y\"}"},
	         3);
	send_good(push, "after-v2", 2);
	expect_refused(pull);
	expect_good(pull, "after-v2", 2);

	/* broken envelopes: not JSON, not an object, no version, version as a string */
	send_raw(push, (const char *[]){"{\"v\":1,", "{\"id\":\"x\"}"}, 2);
	send_raw(push, (const char *[]){"[1,2,3]"}, 1);
	send_raw(push, (const char *[]){"{\"t\":\"doc\"}", "{}"}, 2);
	send_raw(push, (const char *[]){"{\"v\":\"1\",\"t\":\"doc\"}"}, 1);
	send_raw(push, (const char *[]){""}, 1);
	send_good(push, "survivor", 1);
	for (int i = 0; i < 5; i++)
		expect_refused(pull);
	expect_good(pull, "survivor", 1);
	CHECK(fm_msg_recv(pull, &m, ZMQ_DONTWAIT) == -EAGAIN);

	test_local(push, pull);

	zmq_close(push);
	zmq_close(pull);
	zmq_ctx_term(ctx);
	return fmt_done("test_envelope");
}
