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
	struct fm_env env = {.type = FM_MSG_DOC, .hop = 7, .src = tag, .fetch = 12, .att = 2};
	char *frames[3] = {NULL};
	size_t lens[3] = {0};
	for (size_t i = 0; i < ndocs; i++) {
		if (asprintf(&frames[i], "{\"id\":\"%s-%zu\",\"text\":\"caf\\u00e9 \\u0000 nul\"}", tag,
		             i) < 0)
			abort();
		lens[i] = strlen(frames[i]);
	}
	CHECK(fm_msg_send(push, &env, frames, lens, ndocs, 0) == 0);
	for (size_t i = 0; i < ndocs; i++)
		free(frames[i]);
}

static void expect_good(void *pull, const char *tag, size_t ndocs)
{
	struct fm_msg m;
	int rc = fm_msg_recv(pull, &m, 0);
	CHECK(rc == 0);
	if (rc != 0)
		return;
	CHECK(m.env->type == FM_MSG_DOC);
	CHECK_STR(m.env->src, tag);
	CHECK(m.env->hop == 7 && m.env->fetch == 12 && m.env->att == 2);
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

/* A result crosses processes as JSON and arrives as the same envelope: status, report and
 * counters; a status this version does not know is an error, an unknown type is ignored. */
static void test_result(void *push, void *pull)
{
	struct fm_env res = {.type = FM_MSG_RES, .hop = 41, .stage = "dedupe", .w = 1,
	                     .status = FM_DROP, .rep = json_pack("{s:i}", "items", 3), .ncounts = 2};
	res.counts[0] = (struct fm_count){"dedupe_duplicate", 1};
	res.counts[1] = (struct fm_count){"dedupe_by_url", 5};
	char *doc = "{\"id\":\"r\"}";
	size_t len = strlen(doc);
	CHECK(fm_msg_send(push, &res, &doc, &len, 1, 0) == 0);
	json_decref(res.rep);
	struct fm_msg m;
	CHECK(fm_msg_recv(pull, &m, 0) == 0);
	CHECK(m.env->type == FM_MSG_RES && m.env->hop == 41 && m.env->w == 1);
	CHECK_STR(m.env->stage, "dedupe");
	CHECK(m.env->status == FM_DROP);
	CHECK(json_integer_value(json_object_get(m.env->rep, "items")) == 3);
	CHECK(m.env->ncounts == 2);
	int64_t dup = 0, url = 0;
	for (size_t i = 0; i < m.env->ncounts; i++) {
		if (strcmp(m.env->counts[i].name, "dedupe_duplicate") == 0)
			dup = m.env->counts[i].delta;
		if (strcmp(m.env->counts[i].name, "dedupe_by_url") == 0)
			url = m.env->counts[i].delta;
	}
	CHECK(dup == 1 && url == 5);
	CHECK(m.nframes == 1);
	fm_msg_free(&m);

	send_raw(push, (const char *[]){"{\"v\":1,\"t\":\"res\",\"hop\":2,\"st\":\"exploded\"}"}, 1);
	CHECK(fm_msg_recv(pull, &m, 0) == 0);
	CHECK(m.env->type == FM_MSG_RES && m.env->status == FM_ERROR && m.env->ncounts == 0);
	fm_msg_free(&m);
	send_raw(push, (const char *[]){"{\"v\":1,\"t\":\"gossip\",\"hop\":2}"}, 1);
	CHECK(fm_msg_recv(pull, &m, 0) == 0);
	CHECK(m.env->type == FM_MSG_OTHER);
	fm_msg_free(&m);
	CHECK(strcmp(fm_status_name(FM_RETRY), "retry") == 0 &&
	      fm_status_parse(fm_status_name(FM_RETRY)) == FM_RETRY);
}

/* Between threads of one process a message travels as values; a frame that only looks like
 * one (another process cannot know the key) is refused, never followed as a pointer. */
static void test_local(void *push, void *pull)
{
	struct fm_env env = {.type = FM_MSG_DOC, .hop = 9, .src = "here"};
	json_t *docs[2] = {json_pack("{s:s}", "id", "a"), json_pack("{s:s}", "id", "b")};
	CHECK(fm_msg_send_local(push, &env, docs, 2, "prepared", count_release, 0) == 0);
	struct fm_msg m;
	CHECK(fm_msg_recv(pull, &m, 0) == 0);
	CHECK(m.local && fm_msg_count(&m) == 2 && m.env != &env);
	CHECK(m.env->type == FM_MSG_DOC && m.env->hop == 9);
	CHECK_STR(m.env->src, "here");
	CHECK_STR((const char *)fm_msg_take_prepared(&m), "prepared");
	CHECK(fm_msg_take_prepared(&m) == NULL);
	json_t *a = fm_msg_take_doc(&m, 0);
	CHECK(a == docs[0] && fm_msg_take_doc(&m, 0) == NULL);
	json_decref(a);
	fm_msg_free(&m); /* releases document b and the envelope */
	CHECK(released == 0);

	/* what nobody took is released with the message */
	json_t *one = json_pack("{s:s}", "id", "c");
	CHECK(fm_msg_send_local(push, &env, &one, 1, "prepared", count_release, 0) == 0);
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

/* A worker thread answers in the block it was sent: what was prepared and not taken comes
 * back and is released by whoever frees the answer (the hub, which made it), not by the
 * worker; an answer with more documents than the block holds still arrives whole. */
static void test_reply(void *push, void *pull)
{
	released = 0;
	struct fm_env env = {.type = FM_MSG_DOC, .hop = 5};
	json_t *doc = json_pack("{s:s}", "id", "in");
	CHECK(fm_msg_send_local(push, &env, &doc, 1, "prepared", count_release, 0) == 0);
	struct fm_msg m;
	CHECK(fm_msg_recv(pull, &m, 0) == 0);
	json_t *in = fm_msg_take_doc(&m, 0);
	struct fm_env res = {.type = FM_MSG_RES, .hop = 5, .status = FM_PASS,
	                     .rep = json_pack("{s:b}", "seen", 1), .ncounts = 1};
	res.counts[0] = (struct fm_count){"passed", 1};
	CHECK(fm_msg_reply_local(push, &m, &res, &in, 1, NULL, 0) == 0);
	fm_msg_free(&m); /* empty now: releases nothing */
	CHECK(released == 0);
	CHECK(fm_msg_recv(pull, &m, 0) == 0);
	CHECK(m.local && m.env->type == FM_MSG_RES && m.env->hop == 5 && m.env->status == FM_PASS);
	CHECK(json_is_true(json_object_get(m.env->rep, "seen")));
	CHECK(m.env->ncounts == 1 && strcmp(m.env->counts[0].name, "passed") == 0);
	json_t *back = fm_msg_take_doc(&m, 0);
	CHECK(back == in);
	json_decref(back);
	fm_msg_free(&m);
	CHECK(released == 1);

	/* three documents out of one: a bigger block; a taken prepared value is not released */
	doc = json_pack("{s:s}", "id", "in2");
	CHECK(fm_msg_send_local(push, &env, &doc, 1, "prepared", count_release, 0) == 0);
	CHECK(fm_msg_recv(pull, &m, 0) == 0);
	CHECK_STR((const char *)fm_msg_take_prepared(&m), "prepared");
	json_t *outs[3] = {fm_msg_take_doc(&m, 0), json_pack("{s:s}", "id", "x"),
	                   json_pack("{s:s}", "id", "y")};
	res.rep = NULL;
	CHECK(fm_msg_reply_local(push, &m, &res, outs, 3, NULL, 0) == 0);
	CHECK(fm_msg_recv(pull, &m, 0) == 0);
	CHECK(fm_msg_count(&m) == 3);
	CHECK_STR(json_string_value(json_object_get(m.docs[2], "id")), "y");
	fm_msg_free(&m);
	CHECK(released == 1);

	/* a dropped document comes back as spent, released by whoever frees the answer */
	doc = json_pack("{s:s}", "id", "dropped");
	CHECK(fm_msg_send_local(push, &env, &doc, 1, NULL, NULL, 0) == 0);
	CHECK(fm_msg_recv(pull, &m, 0) == 0);
	json_t *gone = fm_msg_take_doc(&m, 0);
	json_incref(gone); /* the test's own look after the answer is freed */
	res.status = FM_DROP;
	CHECK(fm_msg_reply_local(push, &m, &res, NULL, 0, gone, 0) == 0);
	CHECK(gone->refcount == 2);
	CHECK(fm_msg_recv(pull, &m, 0) == 0);
	CHECK(fm_msg_count(&m) == 0 && m.env->status == FM_DROP);
	fm_msg_free(&m);
	CHECK(gone->refcount == 1);
	json_decref(gone);
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

	test_result(push, pull);
	test_local(push, pull);
	test_reply(push, pull);

	zmq_close(push);
	zmq_close(pull);
	zmq_ctx_term(ctx);
	return fmt_done("test_envelope");
}
