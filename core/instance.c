#include "instance.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envelope.h"
#include "log.h"
#include "util.h"

#define MAX_COUNTERS 32

struct counter {
	const char *name;
	int64_t delta;
};

struct fm_instance {
	const struct fm_loaded_plugin *plugin;
	char *name;
	char *state_dir;
	bool state_dir_ready;
	int index, count;
	void *config;
	void *ctx;
	bool started;
	bool temporary_state;
	const atomic_int *stop; /* the stage's stop flag (host->stopping), or NULL */
	int lock;               /* holds the state folder's worker lock, or -1 */
	struct counter counters[MAX_COUNTERS];
	size_t ncounters;
	/* fm_instance_capture_log(): where the plugin's urgent lines go instead of stderr */
	void (*capture)(void *arg, const char *msg);
	void *capture_arg;
	int capture_level;
	/* documents held (ABI 1.4): answered through on_complete */
	struct fm_out *held;
	size_t nheld;
	fm_complete_fn on_complete;
	void *on_complete_arg;
	fm_progress_fn on_progress;
	int in_process; /* workers of the stage in this process */
};

struct fm_out {
	fm_instance *inst;
	struct fm_emitted *docs;
	json_t *report;
	void *prepared; /* prepare()'s result, lent to process() or until it takes it */
	uint64_t token; /* the delivery (host->delivery) */
	const char *text; /* the document's JSON text (host->doc_text), or NULL */
	size_t text_len;
	struct fm_out *held;  /* process()'s out: the handle host->hold() gave, or NULL */
	/* a held handle: */
	struct fm_emitted own;
	json_t *input;        /* the document, kept until complete() */
	void *user;           /* the caller's, for on_complete */
	struct fm_out *prev, *next; /* the instance's held handles */
};

/* ---------------------------------------------------------------- the host table */

static void host_vlog(fm_instance *inst, int level, const char *fmt, va_list ap)
{
	if (inst && inst->capture && level <= inst->capture_level) {
		char msg[1024];
		vsnprintf(msg, sizeof(msg), fmt, ap);
		inst->capture(inst->capture_arg, msg);
		return;
	}
	if (level > fm_log_get_level())
		return;
	fm_logv(inst ? inst->name : NULL, level, fmt, ap);
}

static void host_log(fm_instance *inst, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	host_vlog(inst, level, fmt, ap);
	va_end(ap);
}

static int host_log_level(void)
{
	return fm_log_get_level();
}

/* FEEDMILL_NOW_MS fixes the wall clock's start (tests); it then advances in real time. */
static int64_t host_now_ms(void)
{
	static int64_t offset = -1;
	if (offset < 0) {
		const char *fake = getenv("FEEDMILL_NOW_MS");
		offset = fake ? strtoll(fake, NULL, 10) - fm_monotonic_ms() : 0;
	}
	return offset ? fm_monotonic_ms() + offset : fm_now_ms();
}

/* Room for one more document in e. 0 or -ENOMEM. */
static int emitted_room(struct fm_emitted *e)
{
	if (e->n < e->cap)
		return 0;
	size_t cap = e->cap * 2;
	json_t **v = e->v == e->small ? malloc(cap * sizeof(*v)) : realloc(e->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (e->v == e->small)
		memcpy(v, e->small, e->n * sizeof(*v));
	e->v = v;
	e->cap = cap;
	return 0;
}

static int host_emit(fm_out *out, json_t *doc)
{
	if (out->held)
		out = out->held; /* held already: what comes now goes with the later answer */
	if (!json_is_object(doc)) {
		json_decref(doc);
		fm_logf(out->inst->name, FM_LOG_ERR, "plugin emitted a value that is not an object");
		return -EINVAL;
	}
	struct fm_emitted *e = out->docs;
	if (emitted_room(e) != 0) {
		json_decref(doc);
		return -ENOMEM;
	}
	e->v[e->n++] = doc;
	return 0;
}

void fm_emitted_init(struct fm_emitted *e)
{
	e->v = e->small;
	e->n = 0;
	e->cap = sizeof(e->small) / sizeof(e->small[0]);
}

void fm_emitted_clear(struct fm_emitted *e)
{
	for (size_t i = 0; i < e->n; i++)
		json_decref(e->v[i]);
	if (e->v != e->small)
		free(e->v);
	fm_emitted_init(e);
}

static int host_report(fm_out *out, const char *key, json_t *value)
{
	if (out->held)
		out = out->held;
	if (!out->report && !(out->report = json_object())) {
		json_decref(value);
		return -ENOMEM;
	}
	return json_object_set_new(out->report, key, value) == 0 ? 0 : -EINVAL;
}

static const char *host_state_dir(fm_instance *inst)
{
	if (!inst->state_dir)
		return NULL;
	if (!inst->state_dir_ready) {
		int rc = fm_mkdirs(inst->state_dir, 0750);
		if (rc != 0) {
			fm_logf(inst->name, FM_LOG_ERR, "cannot create state directory %s: %s",
			        inst->state_dir, strerror(-rc));
			return NULL;
		}
		inst->state_dir_ready = true;
	}
	return inst->state_dir;
}

static const char *host_instance_name(fm_instance *inst)
{
	return inst ? inst->name : "feedmill";
}

static void host_count(fm_instance *inst, const char *name, int64_t delta)
{
	for (size_t i = 0; i < inst->ncounters; i++) {
		if (inst->counters[i].name == name || strcmp(inst->counters[i].name, name) == 0) {
			inst->counters[i].delta += delta;
			return;
		}
	}
	if (inst->ncounters < MAX_COUNTERS)
		inst->counters[inst->ncounters++] = (struct counter){name, delta};
}

static int host_worker_index(fm_instance *inst)
{
	return inst->index;
}

static int host_worker_count(fm_instance *inst)
{
	return inst->count;
}

static int host_state_persistent(fm_instance *inst)
{
	return inst->state_dir && !inst->temporary_state;
}

static void *host_take_prepared(fm_out *out)
{
	void *p = out->prepared;
	out->prepared = NULL;
	return p;
}

static const void *host_prepared(fm_out *out)
{
	return out->prepared;
}

static uint64_t host_delivery(fm_out *out)
{
	return out->token;
}

static int host_stopping(fm_instance *inst)
{
	return inst && inst->stop && atomic_load(inst->stop) != 0;
}

static fm_out *host_hold(fm_out *out)
{
	if (out->held)
		return out->held;
	fm_instance *inst = out->inst;
	fm_out *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->inst = inst;
	fm_emitted_init(&h->own);
	h->docs = &h->own;
	h->token = out->token;
	h->text = out->text;
	h->text_len = out->text_len;
	/* what was emitted or reported before the hold goes with the answer too */
	for (size_t i = 0; i < out->docs->n; i++)
		host_emit(h, out->docs->v[i]);
	out->docs->n = 0;
	h->report = out->report;
	out->report = NULL;
	h->next = inst->held;
	if (inst->held)
		inst->held->prev = h;
	inst->held = h;
	inst->nheld++;
	out->held = h;
	return h;
}

static void held_unlink(fm_instance *inst, fm_out *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		inst->held = h->next;
	if (h->next)
		h->next->prev = h->prev;
	inst->nheld--;
}

static void held_free(fm_out *h)
{
	fm_emitted_clear(&h->own);
	json_decref(h->input);
	json_decref(h->report);
	free(h);
}

/* What process() does at its end, for any answer: the input first on FM_PASS, nothing
 * emitted goes on with FM_RETRY. Takes doc. Returns the status (an invalid one: FM_ERROR). */
static int finish_answer(fm_instance *inst, json_t *doc, int status, struct fm_emitted *out)
{
	if (status < FM_PASS || status > FM_ERROR) {
		fm_logf(inst->name, FM_LOG_ERR, "the plugin answered %d, not a status; treated as "
		        "error", status);
		status = FM_ERROR;
	}
	if (status == FM_RETRY)
		fm_emitted_clear(out); /* delivered again as it came: nothing emitted goes on */
	if (status == FM_PASS && emitted_room(out) != 0) {
		fm_logf(inst->name, FM_LOG_ERR, "out of memory passing a document on");
		status = FM_ERROR;
	}
	if (status == FM_PASS) {
		memmove(out->v + 1, out->v, out->n * sizeof(out->v[0]));
		out->v[0] = doc;
		out->n++;
	} else {
		json_decref(doc);
	}
	return status;
}

static void host_complete(fm_out *h, int status)
{
	fm_instance *inst = h->inst;
	if (!h->input || status == FM_PENDING) {
		fm_logf(inst->name, FM_LOG_ERR, "complete() of a handle that is not held, or with "
		        "FM_PENDING: ignored");
		return;
	}
	held_unlink(inst, h);
	json_t *doc = h->input;
	h->input = NULL;
	status = finish_answer(inst, doc, status, &h->own);
	json_t *rep = h->report;
	h->report = NULL;
	if (inst->on_complete)
		inst->on_complete(inst->on_complete_arg, h->user, status, &h->own, rep);
	else
		json_decref(rep);
	held_free(h);
}

static void host_progress(fm_out *h)
{
	fm_instance *inst = h ? h->inst : NULL;
	if (!inst || !h->input)
		return; /* not a held handle */
	if (inst->on_progress)
		inst->on_progress(inst->on_complete_arg, h->user);
}

static const char *host_doc_text(fm_out *out, size_t *len)
{
	*len = out && out->text ? out->text_len : 0;
	return out ? out->text : NULL;
}

static int host_workers_in_process(fm_instance *inst)
{
	return inst ? inst->in_process : 1;
}

static const fm_host host_table = {
	.abi_major = FM_ABI_MAJOR,
	.abi_minor = FM_ABI_MINOR,
	.struct_size = sizeof(fm_host),
	.log = host_log,
	.vlog = host_vlog,
	.log_level = host_log_level,
	.now_ms = host_now_ms,
	.monotonic_ms = fm_monotonic_ms,
	.emit = host_emit,
	.report = host_report,
	.state_dir = host_state_dir,
	.instance_name = host_instance_name,
	.count = host_count,
	.worker_index = host_worker_index,
	.worker_count = host_worker_count,
	.state_persistent = host_state_persistent,
	.take_prepared = host_take_prepared,
	.prepared = host_prepared,
	.delivery = host_delivery,
	.stopping = host_stopping,
	.hold = host_hold,
	.complete = host_complete,
	.progress = host_progress,
	.workers_in_process = host_workers_in_process,
	.doc_text = host_doc_text,
};

const fm_host *fm_host_table(void)
{
	return &host_table;
}

/* ---------------------------------------------------------------- instances */

void *fm_plugin_config_new(const struct fm_plugin *p, const struct fm_setting *settings,
                    struct fm_diag *diag)
{
	void *config = calloc(1, p->config_size ? p->config_size : 1);
	if (!config) {
		fm_diag_add(diag, NULL, 0, "out of memory");
		return NULL;
	}
	if (fm_options_fill(p, config, settings, diag) != 0) {
		fm_plugin_config_free(p, config);
		return NULL;
	}
	return config;
}

void fm_plugin_config_free(const struct fm_plugin *p, void *config)
{
	fm_options_release(p, config);
	free(config);
}

fm_instance *fm_instance_new(const struct fm_loaded_plugin *plugin, const char *stage, int index,
                             int count, const char *state_dir, void *config)
{
	fm_instance *inst = calloc(1, sizeof(*inst));
	if (!inst)
		return NULL;
	inst->plugin = plugin;
	inst->lock = -1;
	inst->index = index;
	inst->count = count;
	inst->in_process = count > 0 ? count : 1;
	inst->config = config;
	if (asprintf(&inst->name, "%s:%s#%d", stage, plugin->desc.name, index) < 0)
		inst->name = NULL;
	inst->state_dir = state_dir ? strdup(state_dir) : NULL;
	if (!inst->name || (state_dir && !inst->state_dir)) {
		inst->config = NULL;
		fm_instance_free(inst);
		return NULL;
	}
	return inst;
}

/* How long a worker waits for one of an earlier run still saving the same state (a child
 * process outliving a killed core finishes within seconds). */
#define LOCK_WAIT_MS 30000

/* One worker per state at a time: a worker process of an earlier run (its core killed, it
 * was told to stop and saves its state) must be gone before this one reads the same files,
 * or it could write after this one read them (an output's lines, a dedupe index). */
static int lock_state(fm_instance *inst)
{
	if (!inst->state_dir || inst->temporary_state || inst->lock >= 0)
		return 0;
	if (!host_state_dir(inst))
		return -EIO;
	char name[32], what[256];
	snprintf(name, sizeof(name), ".worker-%d.lock", inst->index);
	snprintf(what, sizeof(what), "an earlier worker of %s", inst->name);
	int fd = fm_lock_file(inst->state_dir, name, LOCK_WAIT_MS, what);
	if (fd < 0) {
		fm_logf(inst->name, FM_LOG_ERR, "cannot lock %s/%s: %s", inst->state_dir, name,
		        fd == -EWOULDBLOCK ? "still held by another process" : strerror(-fd));
		return fd;
	}
	inst->lock = fd;
	return 0;
}

int fm_instance_start(fm_instance *inst)
{
	int rc = lock_state(inst);
	if (rc < 0)
		return rc;
	rc = inst->plugin->desc.init(&inst->ctx, &host_table, inst, inst->config);
	if (rc != 0) {
		fm_logf(inst->name, FM_LOG_ERR, "init failed: %s", strerror(rc < 0 ? -rc : EINVAL));
		return rc < 0 ? rc : -EINVAL;
	}
	inst->started = true;
	return 0;
}

void *fm_plugin_prepare(const struct fm_plugin *p, const void *config, const json_t *doc)
{
	return p->prepare ? p->prepare(config, doc) : NULL;
}

void fm_plugin_release(const struct fm_plugin *p, void *prepared)
{
	if (prepared && p->release)
		p->release(prepared);
}

int fm_instance_process(fm_instance *inst, json_t *doc, const char *text, size_t text_len,
                        uint64_t token, void **prepared, struct fm_emitted *out,
                        json_t **report, fm_held **held)
{
	const struct fm_plugin *p = &inst->plugin->desc;
	void *lent = prepared ? *prepared : NULL, *own = NULL;
	if (!lent)
		lent = own = fm_plugin_prepare(p, inst->config, doc);
	struct fm_out o = {.inst = inst, .docs = out, .prepared = lent, .token = token ? token : 1,
	                   .text = text, .text_len = text_len};
	int status = p->process(inst->ctx, doc, &o);
	if (lent && !o.prepared) {
		/* taken: the plugin frees it */
		if (own)
			own = NULL;
		else
			*prepared = NULL;
	}
	fm_plugin_release(p, own);
	if (held)
		*held = NULL;
	if (status == FM_PENDING && o.held && held) {
		o.held->input = doc; /* the plugin reads it until complete() */
		*held = o.held;
		if (report)
			*report = NULL;
		return FM_PENDING;
	}
	if (o.held) {
		/* held but answered now (or the caller cannot wait): the handle's documents are
		 * this answer's */
		fm_out *h = o.held;
		held_unlink(inst, h);
		for (size_t i = 0; i < h->own.n; i++) {
			if (emitted_room(out) == 0)
				out->v[out->n++] = h->own.v[i];
			else
				json_decref(h->own.v[i]);
		}
		h->own.n = 0;
		o.report = h->report;
		h->report = NULL;
		held_free(h);
		if (status == FM_PENDING) {
			fm_logf(inst->name, FM_LOG_ERR, "process() held a document this host cannot "
			        "wait for; treated as a retry");
			status = FM_RETRY;
		}
	} else if (status == FM_PENDING) {
		fm_logf(inst->name, FM_LOG_ERR, "process() returned FM_PENDING without host->hold(); "
		        "treated as error");
		status = FM_ERROR;
	}
	status = finish_answer(inst, doc, status, out);
	if (report)
		*report = o.report;
	else
		json_decref(o.report);
	return status;
}

void fm_instance_on_complete(fm_instance *inst, fm_complete_fn fn, void *arg)
{
	inst->on_complete = fn;
	inst->on_complete_arg = arg;
}

void fm_instance_on_progress(fm_instance *inst, fm_progress_fn fn)
{
	inst->on_progress = fn;
}

void fm_instance_set_in_process(fm_instance *inst, int n)
{
	inst->in_process = n > 0 ? n : 1;
}

void fm_held_set_user(fm_held *h, void *user)
{
	h->user = user;
}

size_t fm_instance_held(const fm_instance *inst)
{
	return inst->nheld;
}

bool fm_instance_waits(const fm_instance *inst)
{
	const struct fm_plugin *p = &inst->plugin->desc;
	return p->wait && p->step;
}

void fm_instance_wait(fm_instance *inst, struct fm_wait *w)
{
	const struct fm_plugin *p = &inst->plugin->desc;
	*w = (struct fm_wait){.fd = -1, .timeout_ms = -1};
	if (inst->started && p->wait && p->step)
		p->wait(inst->ctx, w);
}

void fm_instance_step(fm_instance *inst)
{
	const struct fm_plugin *p = &inst->plugin->desc;
	if (inst->started && p->step)
		p->step(inst->ctx);
}

void fm_instance_tick(fm_instance *inst, int64_t now_ms)
{
	if (inst->started && inst->plugin->desc.tick)
		inst->plugin->desc.tick(inst->ctx, now_ms);
}

bool fm_instance_wants_acks(const fm_instance *inst)
{
	return inst->plugin->desc.ack != NULL;
}

void fm_instance_ack(fm_instance *inst, const uint64_t *tokens, size_t n, bool failed)
{
	if (inst->started && inst->plugin->desc.ack && n)
		inst->plugin->desc.ack(inst->ctx, tokens, n, failed);
}

void fm_instance_set_stop_flag(fm_instance *inst, const atomic_int *stop)
{
	inst->stop = stop;
}

int fm_instance_commit(fm_instance *inst)
{
	if (!inst->started)
		return 0;
	if (inst->plugin->desc.commit) {
		int rc = inst->plugin->desc.commit(inst->ctx);
		return rc < 0 ? rc : 0;
	}
	fm_instance_flush(inst);
	return 0;
}

void fm_instance_flush(fm_instance *inst)
{
	if (inst->started && inst->plugin->desc.flush)
		inst->plugin->desc.flush(inst->ctx);
}

void fm_instance_free(fm_instance *inst)
{
	if (!inst)
		return;
	if (inst->started)
		inst->plugin->desc.fini(inst->ctx);
	/* what the plugin held and never answered: its documents come again in the next run */
	while (inst->held) {
		fm_out *h = inst->held;
		held_unlink(inst, h);
		held_free(h);
	}
	if (inst->config)
		fm_plugin_config_free(&inst->plugin->desc, inst->config);
	if (inst->lock >= 0)
		close(inst->lock);
	free(inst->name);
	free(inst->state_dir);
	free(inst);
}

void fm_instance_capture_log(fm_instance *inst, int level,
                             void (*fn)(void *arg, const char *msg), void *arg)
{
	inst->capture = fn;
	inst->capture_arg = arg;
	inst->capture_level = level;
}

int fm_instance_check(fm_instance *inst)
{
	const struct fm_plugin *p = &inst->plugin->desc;
	return p->check ? p->check(&host_table, inst, inst->config) : 0;
}

void fm_instance_set_temporary_state(fm_instance *inst, bool temporary)
{
	inst->temporary_state = temporary;
}

const char *fm_instance_name(const fm_instance *inst)
{
	return inst->name;
}

const struct fm_loaded_plugin *fm_instance_plugin(const fm_instance *inst)
{
	return inst->plugin;
}

const void *fm_instance_config(const fm_instance *inst)
{
	return inst->config;
}

size_t fm_instance_take_counts(fm_instance *inst, struct fm_count *out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < inst->ncounters && n < max; i++) {
		if (!inst->counters[i].delta)
			continue;
		out[n++] = (struct fm_count){inst->counters[i].name, inst->counters[i].delta};
		inst->counters[i].delta = 0;
	}
	return n;
}
