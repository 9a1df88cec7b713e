/*
 * feedmill plugin SDK: the services the host passes to a plugin.
 *
 * A plugin never links against the feedmill binary: everything it needs from the host comes
 * through the versioned `struct fm_host` table given to init() and to commands. Check
 * `host->abi_minor` (or `host->struct_size`) before using a member added after 1.0.
 */
#ifndef FEEDMILL_HOST_H
#define FEEDMILL_HOST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Log levels: the syslog/journald priorities, written as "<N>" prefixes on stderr. */
enum fm_log_level {
	FM_LOG_ERR = 3,
	FM_LOG_WARN = 4,
	FM_LOG_NOTICE = 5,
	FM_LOG_INFO = 6,
	FM_LOG_DEBUG = 7,
};

/* One running instance of a plugin (a stage worker, or a command). Opaque. */
typedef struct fm_instance fm_instance;

/* Where a plugin puts what it produces for the document being processed. Opaque; valid only
 * during the process() call it was passed to. */
typedef struct fm_out fm_out;

#if defined(__GNUC__)
#define FM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define FM_PRINTF(a, b)
#endif

struct fm_host {
	uint32_t abi_major;
	uint32_t abi_minor;
	uint32_t struct_size; /* sizeof(struct fm_host) as the host was built */

	/* Log a line prefixed with the instance ("[clean:readable#2] ..."). inst may be NULL. */
	void (*log)(fm_instance *inst, int level, const char *fmt, ...) FM_PRINTF(3, 4);
	void (*vlog)(fm_instance *inst, int level, const char *fmt, va_list ap);
	/* The most verbose level that is written; skip expensive formatting above it. */
	int (*log_level)(void);

	/* Clocks, in milliseconds: wall (since the Unix epoch) and monotonic. Tests may fake them. */
	int64_t (*now_ms)(void);
	int64_t (*monotonic_ms)(void);

	/* Pass a new document downstream. Takes ownership of doc (a JSON object) in every case:
	 * afterwards the plugin must not change it, nor any value inside it that it also keeps
	 * (another thread may be serializing it).
	 * Returns 0, or -EINVAL when doc is not an object (it is freed). A document larger than
	 * the core's max_doc_size is dropped with a log line when it is sent on. */
	int (*emit)(fm_out *out, json_t *doc);

	/* Attach a status value for the core (e.g. the fetch stage's "etag", "http_status",
	 * "error", "retry_after"). Steals value. Keys are listed in feedmill/doc.h. */
	int (*report)(fm_out *out, const char *key, json_t *value);

	/* A directory private to this stage (shared by its workers), created on first call; the
	 * plugin keeps its persistent state there. Owned by the host; valid until fini(). */
	const char *(*state_dir)(fm_instance *inst);

	/* "STAGE:PLUGIN#N", for messages. Owned by the host. */
	const char *(*instance_name)(fm_instance *inst);

	/* Add delta to a named counter of this instance; the core sums them per stage and shows
	 * them in its summary and logs. name must be a static string. */
	void (*count)(fm_instance *inst, const char *name, int64_t delta);

	/* The worker index of this instance (0..workers-1) and the stage's worker count. */
	int (*worker_index)(fm_instance *inst);
	int (*worker_count)(fm_instance *inst);

	/* 1 when state_dir() outlives this run (`feedmill run`, `pipe --state-dir`); 0 when it is
	 * a temporary directory removed at exit (`feedmill pipe` by default): a plugin may then
	 * skip saving its state. */
	int (*state_persistent)(fm_instance *inst);

	/* --- ABI 1.1 (check struct_size before calling on a host that may be older) --- */
	/* In process(): what the plugin's prepare() returned for this document, or NULL (no
	 * prepare(), or it returned NULL). The caller owns it from then on and frees it with its
	 * own release(); a second call returns NULL. */
	void *(*take_prepared)(fm_out *out);

	/* --- ABI 1.2 --- */
	/* In process(): what the plugin's prepare() returned for this document, or NULL, lent for
	 * the call: valid until process() returns, then the host releases it, on the thread that
	 * prepared it. Prefer it to take_prepared(), which makes the plugin free on its own thread
	 * memory allocated on another (with glibc, under that thread's arena lock). */
	const void *(*prepared)(fm_out *out);

	/* --- ABI 1.3 --- */
	/* In process(): the token naming this delivery of the document, nonzero, for the plugin's
	 * ack() (plugin.h). A document delivered again after a worker was lost may come with the
	 * same token or a new one. */
	uint64_t (*delivery)(fm_out *out);
	/* Nonzero once the host stops this instance's stage: a long operation in process() (a
	 * transfer) should give up and return FM_RETRY; the document is delivered again in the
	 * next run, so nothing is lost. */
	int (*stopping)(fm_instance *inst);

	/* --- ABI 1.4 --- */
	/* In process(): keep the answer to this document open past the call (plugin.h, wait and
	 * step). Returns a handle that emit(), report() and complete() take like out, valid until
	 * complete(); process() then returns FM_PENDING. The document stays readable (and the
	 * plugin's to change) until complete(). NULL when out of memory: answer now. */
	fm_out *(*hold)(fm_out *out);
	/* Answer a held document, on the instance's thread (from step() or process()), as
	 * process() would have returned status: FM_PASS sends the document on ahead of what was
	 * emitted through the handle; FM_RETRY discards what was emitted. The handle is gone. */
	void (*complete)(fm_out *held, int status);
	/* The work on a held document goes on (it leaves the plugin's own queue, a next step of
	 * it starts): the stage timeout for it counts again from now. A plugin that queues what
	 * it holds (behind a per-host limit, a rate limit) calls it as each one leaves the
	 * queue, so a document that waited its turn is not delivered again while it is worked
	 * on. Cheap to call often: the host tells the core at most once a second per document. */
	void (*progress)(fm_out *held);
	/* How many workers of this instance's stage share its process: worker_count() for
	 * run_as = thread, 1 for a worker in a process of its own (run_as = process, remote).
	 * What a plugin shares between the instances of a process (a per-host connection limit)
	 * holds for the stage only when this equals worker_count(). */
	int (*workers_in_process)(fm_instance *inst);
	/* In process() (or until a held document is answered): the document as it was delivered,
	 * as compact JSON text (UTF-8, not NUL-terminated), when the host has it; NULL (*len 0)
	 * otherwise. Changes the plugin makes to doc are not in it. An output that writes the
	 * document unchanged writes this rather than serializing doc again. */
	const char *(*doc_text)(fm_out *out, size_t *len);
};

typedef struct fm_host fm_host;

/* Logging helpers. `h` is the host table, `i` the instance (may be NULL). */
#define fm_log(h, i, lvl, ...)                                                                   \
	do {                                                                                     \
		if ((h)->log_level() >= (lvl))                                                   \
			(h)->log((i), (lvl), __VA_ARGS__);                                       \
	} while (0)
#define fm_err(h, i, ...) fm_log(h, i, FM_LOG_ERR, __VA_ARGS__)
#define fm_warn(h, i, ...) fm_log(h, i, FM_LOG_WARN, __VA_ARGS__)
#define fm_notice(h, i, ...) fm_log(h, i, FM_LOG_NOTICE, __VA_ARGS__)
#define fm_info(h, i, ...) fm_log(h, i, FM_LOG_INFO, __VA_ARGS__)
#define fm_debug(h, i, ...) fm_log(h, i, FM_LOG_DEBUG, __VA_ARGS__)

#ifdef __cplusplus
}
#endif

#endif /* FEEDMILL_HOST_H */
