/*
 * feedmill plugin SDK: what a plugin exports.
 *
 * A plugin is a shared object that exports exactly one symbol, FM_PLUGIN_ENTRY, a function
 * returning a pointer to a constant `struct fm_plugin`. Build with -fvisibility=hidden and mark
 * only that function FM_EXPORT:
 *
 *     FM_EXPORT const struct fm_plugin *FM_PLUGIN_ENTRY(void) { return &my_plugin; }
 *
 * The loader refuses a plugin whose abi_major differs from the host's, whose abi_minor is newer
 * than the host's, or whose struct_size is smaller than the 1.0 layout, naming the file and both
 * versions. Fields added in later minors go at the end; a host reads only struct_size bytes,
 * and none past the layout of the plugin's own abi_minor (those fields stay NULL).
 *
 * Threading: one instance (the ctx init() returns) is only ever called from one thread at a
 * time. Parallelism comes from `workers = N` instances, never from locks inside a plugin. A
 * plugin that keeps state across documents (FM_PLUGIN_SINGLETON, one instance) can still have
 * its per-document work done beside it: see prepare() below.
 */
#ifndef FEEDMILL_PLUGIN_H
#define FEEDMILL_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <feedmill/doc.h>
#include <feedmill/host.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FM_ABI_MAJOR 1
#define FM_ABI_MINOR 4

#define FM_PLUGIN_ENTRY fm_plugin_entry
#define FM_PLUGIN_ENTRY_NAME "fm_plugin_entry"

#if defined(__GNUC__)
#define FM_EXPORT __attribute__((visibility("default")))
#else
#define FM_EXPORT
#endif

/*
 * Options. A plugin describes its settings as a table; the core parses pipeline.conf (and
 * `--set STAGE.KEY=VALUE`) against it, reports bad keys and values as FILE:LINE errors before
 * anything runs, and fills a zeroed struct of `config_size` bytes at the given offsets:
 *
 *   FM_OPT_STR, FM_OPT_PATH, FM_OPT_ENUM   char *            (owned by the host; NULL if unset)
 *   FM_OPT_INT                             int64_t
 *   FM_OPT_BOOL                            bool              (yes/no, true/false, on/off, 1/0)
 *   FM_OPT_DOUBLE                          double
 *   FM_OPT_SIZE                            uint64_t bytes    ("512", "64K", "10M", "1G")
 *   FM_OPT_DURATION                        int64_t ms        ("250ms", "30s", "5m", "2h", "1d";
 *                                                             a bare number is seconds)
 *   FM_OPT_LIST                            struct fm_strlist (repeat the key, or separate
 *                                                             values with commas)
 *
 * FM_OPT_PATH values are resolved against the directory of the file that set them.
 * FM_OPT_ENUM values must be one of `choices` ("drop|mark").
 * Numeric options are checked against [min, max] unless both are 0.
 */
enum fm_opt_type {
	FM_OPT_STR = 1,
	FM_OPT_INT,
	FM_OPT_BOOL,
	FM_OPT_DOUBLE,
	FM_OPT_ENUM,
	FM_OPT_SIZE,
	FM_OPT_DURATION,
	FM_OPT_PATH,
	FM_OPT_LIST,
};

enum fm_opt_flags {
	FM_OPT_REQUIRED = 1u << 0,   /* no default: pipeline.conf must set it */
	FM_OPT_SECRET = 1u << 1,     /* never logged nor shown by `feedmill plugins` */
	FM_OPT_PER_SOURCE = 1u << 2, /* fetch plugins: a [source] section may override it; the
	                              * value travels in the request's "source_options" */
};

struct fm_strlist {
	size_t n;
	char **items; /* owned by the host */
};

struct fm_option {
	const char *key;
	enum fm_opt_type type;
	const char *def;     /* default, written as in pipeline.conf; NULL: none */
	size_t offset;       /* offsetof(your config struct, field) */
	unsigned flags;      /* enum fm_opt_flags */
	const char *choices; /* FM_OPT_ENUM: "a|b|c" */
	double min, max;     /* numeric range; both 0: unbounded */
	const char *doc;     /* one line for the option reference */
};

/* What process() returns. */
enum fm_status {
	FM_PASS = 0,  /* the (possibly modified) input goes on, ahead of anything emitted */
	FM_DONE = 1,  /* the input was consumed; only what was emitted goes on (e.g. fetch) */
	FM_DROP = 2,  /* the input stops here by design (a duplicate, a blocked document) */
	FM_RETRY = 3, /* transient failure: the core redelivers it later, up to a limit */
	FM_ERROR = 4, /* permanent failure for this document: logged, goes no further */
	FM_PENDING = 5, /* ABI 1.4: the plugin holds the document (host->hold()) and answers it
	                 * later with host->complete(): an I/O-bound stage keeps many at once */
};

/* What a plugin that answers later waits for (ABI 1.4, wait()): the host polls fd for events
 * (POLLIN, POLLOUT) and calls step() when it is ready, or when timeout_ms have passed. */
struct fm_wait {
	int fd;             /* -1: no descriptor */
	short events;
	int64_t timeout_ms; /* -1: no timeout; 0: step() at once */
};

/* A command-line tool provided by a plugin (`feedmill parse`, `feedmill extract`, ...), so the
 * tools run the same code as the stage. `config` is the plugin's settings as pipeline.conf
 * (or the defaults) give them. Returns the process exit status. */
struct fm_command {
	const char *name;
	const char *usage;   /* "parse [--base URL] FILE..." */
	const char *summary; /* one line for `feedmill --help` */
	int (*run)(const fm_host *host, fm_instance *inst, const void *config, int argc,
	           char **argv);
};

enum fm_plugin_flags {
	FM_PLUGIN_SINGLETON = 1u << 0, /* keeps shared state: the core refuses workers > 1 */
};

struct fm_plugin {
	/* --- ABI 1.0 --- */
	uint32_t abi_major;   /* FM_ABI_MAJOR */
	uint32_t abi_minor;   /* FM_ABI_MINOR */
	uint32_t struct_size; /* sizeof(struct fm_plugin) */
	const char *name;     /* "readable": with kind, gives the file name clean_readable.so */
	const char *kind;     /* "fetch", "clean", "dedupe", "classify", "publish", ... */
	const char *version;  /* the plugin's own version, "1.2.0" */
	const char *summary;  /* one line */
	unsigned flags;       /* enum fm_plugin_flags */

	const struct fm_option *options; /* terminated by an entry with key == NULL; may be NULL */
	size_t config_size;               /* size of the struct the options land in */

	/* Create an instance. config points to the filled option struct (owned by the host, valid
	 * until fini). Store host and inst for logging. Return 0 and set *ctx, or a negative errno
	 * after logging why. */
	int (*init)(void **ctx, const fm_host *host, fm_instance *inst, const void *config);

	/* Process one document (a JSON object the plugin may modify in place; the host owns it,
	 * and once process() returns the plugin must not change it or values inside it that it
	 * keeps). Emit new documents with host->emit(out, doc). Returns enum fm_status. */
	int (*process)(void *ctx, json_t *doc, fm_out *out);

	/* Optional: called about once a second with the wall clock, between documents. */
	void (*tick)(void *ctx, int64_t now_ms);

	/* Optional: persist what must survive a restart; the stream is idle or ending, or (for an
	 * output) it is time to commit. An output (a stage whose documents go nowhere further) is
	 * flushed at least every commit_interval while documents come, and soon after they pause:
	 * everything its process() took before must then be durable (written, and fsync'ed as its
	 * settings say), because the host then acknowledges those documents as published. */
	void (*flush)(void *ctx);

	/* Release the instance. Called once, after the last process()/tick()/flush(). */
	void (*fini)(void *ctx);

	/* Optional tools, terminated by an entry with name == NULL. */
	const struct fm_command *commands;

	/* --- ABI 1.1 --- */
	/* Optional: the part of process() that depends on the document and the settings alone
	 * (tokenizing, hashing, parsing a field). The host calls it before process() and hands
	 * the result over through host->prepared() (1.2, lent) or host->take_prepared() (given).
	 * For a stage of one thread worker it runs on the host's own thread, for a later document
	 * while process() works on an earlier one, which is how a stateful stage uses a second
	 * core. So it must touch no instance, may be called from several threads at once, and
	 * must not modify doc. It returns NULL when it prepared nothing (out of memory): process()
	 * must then do the work itself. */
	void *(*prepare)(const void *config, const json_t *doc);
	/* Frees what prepare() returned; required with prepare. The host calls it for a result
	 * that process() did not take, on the thread that prepared it when it can. */
	void (*release)(void *prepared);

	/* --- ABI 1.3 --- */
	/* Optional, for `feedmill check`: load and verify every file the settings name (rules,
	 * models, an output read back at start-up), as init() would, without side effects:
	 * nothing is created, written or started, and host->state_dir() returns NULL. Log each
	 * problem at error level, naming the file (and its line): the host reports every such
	 * message as a problem of the configuration, at the line of the option whose value the
	 * message contains (else at the section). Returns 0, or a negative errno when init()
	 * would fail with these settings. Never called with settings the option table refused. */
	int (*check)(const fm_host *host, fm_instance *inst, const void *config);

	/* Optional: acknowledgements, for a stage that keeps state about the documents it passes
	 * (a dedupe index, a set of ids seen), so that the state never runs ahead of the outputs.
	 * tokens[0..n) name deliveries (host->delivery() in process(), see host.h).
	 *
	 * failed == 0: those deliveries are settled. What process() passed on or emitted for
	 * each, and whatever later stages made of it, was made durable by every output that took
	 * it, or dropped by a later stage on purpose (a delivery the stage itself dropped is
	 * settled once answered). The document will not come back but as new news (a re-poll).
	 * failed != 0: a document of those deliveries failed or was given up downstream: nothing
	 * says it was published, so the same document arriving again is to pass again.
	 *
	 * Called between process() calls, on the instance's thread, in batches; only for a stage
	 * of one worker (with several, documents are spread round-robin and no acknowledgement is
	 * sent). A delivery may stay unacknowledged for ever (a crash, a restart: tokens are valid
	 * for the life of the instance, do not persist them). So state kept for a document is
	 * tentative until acknowledged: saved, it must come back as "not known to be published",
	 * and the same document arriving again while so is a replay of the same delivery, to be
	 * given the same verdict (passed again), never "already seen". A document delivered again
	 * with the token of a delivery still pending is the same delivery (the host lost the
	 * answer): give it the same verdict too. After a crash, the documents that had passed but
	 * were not published then pass again, and the outputs, which write a document once per
	 * revision, write those they had not. */
	void (*ack)(void *ctx, const uint64_t *tokens, size_t n, int failed);

	/* Optional, for an output: make everything process() took durable (write it out, fsync
	 * as its settings say), as flush() does, but say whether it worked. 0, or a negative
	 * errno after logging why: then nothing is acknowledged, commit() is called again a
	 * second later, and what the host holds for the output is delivered again after the
	 * stage timeout (an output writes a document once, so that is safe). An output without
	 * commit() has flush() called instead, which is taken as success. */
	int (*commit)(void *ctx);

	/* --- ABI 1.4 --- */
	/* Optional, for a plugin that answers documents later: an I/O-bound stage (a fetcher, a
	 * webhook, a database, an enrichment API) keeps many documents at once in one instance.
	 * process() calls host->hold(out), starts the work and returns FM_PENDING; the host
	 * then goes on giving it documents (up to the stage's max_in_flight) and, between them,
	 * asks wait() what to wait for (one descriptor: an epoll set, a timerfd, a socket; and
	 * a timeout) and calls step() when it is ready. step() (or a later process()) answers
	 * with host->complete(). Redelivery and acknowledgements are as for any answer: a held
	 * document not answered within the stage's timeout is delivered again, a worker that
	 * dies has its held documents delivered again, and a stop asks host->stopping() so that
	 * the plugin completes what it holds with FM_RETRY. At fini() the plugin must have
	 * completed, or forget, what it holds: the host frees the handles. */
	void (*wait)(void *ctx, struct fm_wait *w);
	void (*step)(void *ctx);
	/* The stage's max_in_flight when pipeline.conf does not set it (0: the core's, 256). A
	 * plugin that holds documents knows its window: the fetch stage's is its transfers at
	 * once, since every answer it holds back is a feed's worth of documents in memory. */
	uint32_t max_in_flight;
};

/* The one symbol a plugin exports. */
typedef const struct fm_plugin *(*fm_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* FEEDMILL_PLUGIN_H */
