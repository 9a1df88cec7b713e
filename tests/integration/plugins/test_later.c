/*
 * A plugin for the integration tests of ABI 1.4 (documents answered later): "test:later"
 * holds every document for `delay` and answers it then, from step(), with one timerfd for
 * all of them. It counts the most it held at once ("held_max"), so a test can tell an
 * instance kept many documents at once rather than one after the other. When the host
 * stops the stage (host->stopping), it answers what it holds with FM_RETRY.
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <feedmill/plugin.h>

struct later_config {
	int64_t delay; /* ms */
};

static const struct fm_option later_options[] = {
	{"delay", FM_OPT_DURATION, "200ms", offsetof(struct later_config, delay), 0, NULL, 0, 0,
	 "how long each document is held"},
	{NULL, 0, NULL, 0, 0, NULL, 0, 0, NULL},
};

struct held {
	fm_out *out;
	int64_t due;
};

struct later {
	const fm_host *host;
	fm_instance *inst;
	int64_t delay;
	int tfd;
	struct held *v; /* in arrival order: the earliest due first */
	size_t n, cap, head;
	size_t max;
};

static void arm(struct later *l)
{
	struct itimerspec its = {0};
	if (l->head < l->n) {
		int64_t left = l->v[l->head].due - l->host->monotonic_ms();
		if (left < 1)
			left = 1;
		its.it_value.tv_sec = left / 1000;
		its.it_value.tv_nsec = (long)(left % 1000) * 1000000L;
	}
	timerfd_settime(l->tfd, 0, &its, NULL);
}

static int later_init(void **ctx, const fm_host *host, fm_instance *inst, const void *config)
{
	const struct later_config *cfg = config;
	struct later *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->host = host;
	l->inst = inst;
	l->delay = cfg->delay;
	l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (l->tfd < 0) {
		free(l);
		return -errno;
	}
	*ctx = l;
	return 0;
}

static int later_process(void *ctx, json_t *doc, fm_out *out)
{
	struct later *l = ctx;
	(void)doc;
	if (l->n == l->cap) {
		/* compact what was answered, then grow */
		if (l->v)
			memmove(l->v, l->v + l->head, (l->n - l->head) * sizeof(*l->v));
		l->n -= l->head;
		l->head = 0;
		if (l->n == l->cap) {
			size_t cap = l->cap ? l->cap * 2 : 64;
			struct held *v = realloc(l->v, cap * sizeof(*v));
			if (!v)
				return FM_RETRY;
			l->v = v;
			l->cap = cap;
		}
	}
	fm_out *h = l->host->hold(out);
	if (!h)
		return FM_RETRY;
	l->v[l->n++] = (struct held){h, l->host->monotonic_ms() + l->delay};
	if (l->n - l->head > l->max) {
		l->host->count(l->inst, "held_max", (int64_t)(l->n - l->head - l->max));
		l->max = l->n - l->head;
	}
	if (l->n - l->head == 1)
		arm(l);
	return FM_PENDING;
}

static void later_wait(void *ctx, struct fm_wait *w)
{
	struct later *l = ctx;
	w->fd = l->tfd;
	w->events = POLLIN;
	/* stopping: answer at once */
	w->timeout_ms = l->head < l->n && l->host->stopping(l->inst) ? 0 : -1;
}

static void later_step(void *ctx)
{
	struct later *l = ctx;
	uint64_t ticks;
	while (read(l->tfd, &ticks, sizeof(ticks)) > 0)
		;
	int64_t now = l->host->monotonic_ms();
	bool stop = l->host->stopping(l->inst);
	while (l->head < l->n && (stop || l->v[l->head].due <= now)) {
		fm_out *h = l->v[l->head++].out;
		l->host->complete(h, stop ? FM_RETRY : FM_PASS);
	}
	arm(l);
}

static void later_fini(void *ctx)
{
	struct later *l = ctx;
	close(l->tfd);
	free(l->v);
	free(l);
}

static const struct fm_plugin later_plugin = {
	.abi_major = FM_ABI_MAJOR,
	.abi_minor = FM_ABI_MINOR,
	.struct_size = sizeof(struct fm_plugin),
	.name = "later",
	.kind = "test",
	.version = "1.0.0",
	.summary = "holds each document for a while, then passes it (tests of ABI 1.4)",
	.flags = FM_PLUGIN_SINGLETON,
	.options = later_options,
	.config_size = sizeof(struct later_config),
	.init = later_init,
	.process = later_process,
	.fini = later_fini,
	.wait = later_wait,
	.step = later_step,
};

FM_EXPORT const struct fm_plugin *FM_PLUGIN_ENTRY(void);
FM_EXPORT const struct fm_plugin *FM_PLUGIN_ENTRY(void)
{
	return &later_plugin;
}
