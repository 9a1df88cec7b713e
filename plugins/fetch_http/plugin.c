/*
 * fetch_http: the fetch stage. Turns a fetch request from the scheduler into article documents
 * (run.c): GET the source URL (conditional, bounded, http/https only), then
 *   - a feed: one document per item (optionally with the item's page fetched into page_html);
 *   - an HTML page: autodiscover its feed, or (source_type auto/html) one page document.
 *
 * One instance serves many requests at once (ABI 1.4): process() holds each one and queues
 * its GET on the instance's fetcher (fetcher.c, libcurl multi); the host waits on the
 * fetcher's descriptor (wait()) and calls step(), where transfers move and requests are
 * answered. `workers` is then how many threads parse; the sockets are the fetchers', within
 * max_transfers and per_host for the whole stage (host_gate.c). The parts: stage.h.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <feedmill/plugin.h>
#include <libxml/parser.h>

#include "doc_urls.h"
#include "fetcher.h"
#include "robots.h"
#include "run.h"

#define FH_VERSION "0.2.0"

#include "parse_cmd.h" /* the `feedmill parse` command */

#define PS FM_OPT_PER_SOURCE
#define OFF(f) offsetof(struct fh_config, f)
static const struct fm_option fh_options[] = {
	/* not "timeout": in a [stage] section that key is the core's delivery timeout */
	{"http_timeout", FM_OPT_DURATION, "30s", OFF(timeout), PS, NULL, 0, 0,
	 "Time limit for one HTTP fetch, redirects included (keep the stage's timeout above "
	 "it, and above what full_article adds)"},
	{"connect_timeout", FM_OPT_DURATION, "10s", OFF(connect_timeout), PS, NULL, 0, 0,
	 "Time limit for the TCP/TLS connection"},
	{"max_size", FM_OPT_SIZE, "10M", OFF(max_size), PS, NULL, 0, 0,
	 "Largest body accepted, after decompression; larger transfers are aborted"},
	{"max_redirects", FM_OPT_INT, "5", OFF(max_redirects), PS, NULL, 0, 50,
	 "Redirect hops followed (http/https only)"},
	{"max_items", FM_OPT_INT, "1000", OFF(max_items), PS, NULL, 1, 1000000,
	 "Items taken from one feed fetch"},
	{"user_agent", FM_OPT_STR, "feedmill/0.1", OFF(user_agent), PS, NULL, 0, 0,
	 "User-Agent header"},
	{"headers", FM_OPT_LIST, NULL, OFF(headers), PS | FM_OPT_SECRET, NULL, 0, 0,
	 "Extra request headers, \"Name: value\" (values are never logged)"},
	{"source_type", FM_OPT_ENUM, "auto", OFF(source_type), PS, "auto|feed|html", 0, 0,
	 "What a source URL is: a feed, an HTML page, or auto (feed if it is one, else "
	 "the page's autodiscovered feed, else the page)"},
	{"low_speed_limit", FM_OPT_SIZE, "100", OFF(low_speed_limit), 0, NULL, 0, 0,
	 "Bytes per second below which, for low_speed_time, a transfer is aborted"},
	{"low_speed_time", FM_OPT_DURATION, "20s", OFF(low_speed_time), PS, NULL, 0, 0,
	 "How long a transfer may stay under low_speed_limit; 0 disables the check"},
	{"full_article", FM_OPT_BOOL, "no", OFF(full_article), PS, NULL, 0, 0,
	 "Fetch the linked page of items that carry only a summary into page_html"},
	{"full_article_min_length", FM_OPT_INT, "500", OFF(full_article_min_length), PS, NULL, 0,
	 100000000, "Items whose content is shorter than this (bytes of HTML) get their page"},
	{"full_article_max", FM_OPT_INT, "20", OFF(full_article_max), PS, NULL, 0, 10000,
	 "Pages fetched for full articles in one fetch of a source"},
	{"full_article_per_host", FM_OPT_INT, "10", OFF(full_article_per_host), PS, NULL, 0,
	 10000, "Pages fetched from one host in one fetch of a source"},
	{"full_article_delay", FM_OPT_DURATION, "1s", OFF(full_article_delay), PS, NULL, 0, 0,
	 "Pause between two page requests to the same host"},
	{"allow_private_links", FM_OPT_BOOL, "no", OFF(allow_private_links), PS, NULL, 0, 0,
	 "Let redirects, discovered feeds and article links reach loopback, private and link-local "
	 "addresses on hosts other than the source's own"},
	{"max_transfers", FM_OPT_INT, "64", OFF(max_transfers), 0, NULL, 1, 100000,
	 "Transfers at once for the whole stage (all workers): its sockets and the response "
	 "bodies held in memory"},
	{"per_host", FM_OPT_INT, "4", OFF(per_host), 0, NULL, 1, 1000,
	 "Transfers at once to one host for the whole stage, feeds and full-article pages "
	 "alike; requests over it wait their turn (the stage timeout counts from their start)"},
	{"host_delay", FM_OPT_DURATION, "0", OFF(host_delay), 0, NULL, 0, 0,
	 "Least time between two requests started to one host, for the whole stage "
	 "(full_article_delay applies to pages when longer)"},
	{"robots", FM_OPT_BOOL, "yes", OFF(robots), PS, NULL, 0, 0,
	 "Fetch full-article pages only where the site's robots.txt allows it (RFC 9309), "
	 "spaced by its Crawl-delay; feeds are not subject to it"},
	{"robots_cache", FM_OPT_INT, "1000", OFF(robots_cache), 0, NULL, 1, 1000000,
	 "Sites whose robots.txt each worker remembers (the least recently used goes)"},
	{"robots_max_age", FM_OPT_DURATION, "1d", OFF(robots_max_age), 0, NULL, 60000, 86400000,
	 "How long a fetched robots.txt is used (RFC 9309: at most a day)"},
	{"robots_retry", FM_OPT_DURATION, "1h", OFF(robots_retry), 0, NULL, 1000, 86400000,
	 "How long a site whose robots.txt cannot be fetched (5xx, 429, no answer) gets no page "
	 "fetched before it is asked again"},
	{"robots_max_delay", FM_OPT_DURATION, "30s", OFF(robots_max_delay), 0, NULL, 0, 0,
	 "The longest Crawl-delay obeyed; the pages of a site asking more keep their summary"},
	{NULL, 0, NULL, 0, 0, NULL, 0, 0, NULL},
};
#undef OFF
#undef PS

/* ------------------------------------------------------------------------------------------ */

static int fh_process(void *ctx, json_t *doc, fm_out *out)
{
	struct fh *fh = ctx;
	const char *type = fm_doc_str(doc, FM_DOC_TYPE);

	if (!type || strcmp(type, FM_DOC_TYPE_FETCH) != 0) {
		/* an article passing through (`feedmill pipe`): what leaves this stage holds only
		 * http(s) links, whoever made it */
		fh_strip_unsafe_urls(fh, doc);
		return FM_PASS;
	}
	if (!fh->fetcher || fh->host->stopping(fh->inst))
		return FM_RETRY; /* stopped: it comes again next run */
	return fh_run_start(fh, doc, out);
}

static void fh_wait(void *ctx, struct fm_wait *w)
{
	struct fh *fh = ctx;
	w->fd = fh->fetcher ? fm_fetcher_fd(fh->fetcher) : -1;
	w->events = POLLIN;
	w->timeout_ms = fh->fetcher ? fm_fetcher_timeout(fh->fetcher) : -1;
	/* stopping with requests in hand, or an answer owed: step at once */
	if (fh->runs && (fh->host->stopping(fh->inst) || fh_runs_deferred(fh)))
		w->timeout_ms = 0;
}

static void fh_step(void *ctx)
{
	struct fh *fh = ctx;
	if (fh->fetcher && fh->host->stopping(fh->inst)) {
		/* a stop: every GET ends cancelled, each request is answered FM_RETRY */
		struct fm_fetcher *f = fh->fetcher;
		fh->fetcher = NULL;
		fm_fetcher_free(f);
	}
	if (fh->fetcher)
		fm_fetcher_step(fh->fetcher);
	else
		fh_pages_cancel_parked(fh);
	fh_runs_answer_deferred(fh);
}

/* ------------------------------------------------------------------------------------------ */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	/* Process-wide and not thread-safe before curl 7.84: once, and never cleaned up (other
	 * libraries in the process may use curl too). libxml2 2.9 likewise wants its global
	 * state set up once before parsers run in several threads. */
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	xmlInitParser();
}

/* The stage-wide limits as this instance's fetcher applies them: the gate shares them
 * between the workers of one process; workers in processes of their own divide them. */
static struct fm_fetcher_limits fetcher_limits(const fm_host *host, fm_instance *inst,
                                               const struct fh_config *cfg)
{
	int workers = host->worker_count(inst);
	int local = host->workers_in_process(inst);
	struct fm_fetcher_limits fl = {.max_transfers = (int)cfg->max_transfers,
	                               .per_host = (int)cfg->per_host,
	                               .host_delay_ms = cfg->host_delay};
	if (workers > local && local > 0) {
		int64_t ph = cfg->per_host * local / workers;
		int64_t mt = cfg->max_transfers * local / workers;
		fl.per_host = ph < 1 ? 1 : (int)ph;
		fl.max_transfers = mt < 1 ? 1 : (int)mt;
		if (ph < 1 && host->worker_index(inst) == 0)
			fm_warn(host, inst, "per_host = %lld cannot hold across %d worker processes: "
			        "each keeps 1, so a host may see up to %d transfers at once (run the "
			        "stage's workers as threads to share the limit)",
			        (long long)cfg->per_host, workers / local, workers / local);
	}
	return fl;
}

static int fh_init(void **ctx, const fm_host *host, fm_instance *inst, const void *config)
{
	const struct fh_config *cfg = config;
	struct fh *fh;

	for (size_t i = 0; i < cfg->headers.n; i++) {
		if (!fh_header_ok(cfg->headers.items[i])) {
			fm_err(host, inst, "option headers: entry %zu is not a single \"Name: value\" "
			       "line", i + 1);
			return -EINVAL;
		}
	}
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		fm_err(host, inst, "libcurl initialisation failed: %s",
		       curl_easy_strerror(curl_init_rc));
		return -EIO;
	}
	fh = calloc(1, sizeof(*fh));
	if (!fh)
		return -ENOMEM;
	fh->host = host;
	fh->inst = inst;
	fh->cfg = cfg;
	struct fm_robots_limits rl = {.agent = cfg->user_agent,
	                              .max_entries = (size_t)cfg->robots_cache,
	                              .max_age_ms = cfg->robots_max_age,
	                              .retry_ms = cfg->robots_retry};
	int rc = fm_robots_cache_new(&rl, &fh->robots);
	if (rc < 0) {
		free(fh);
		fm_err(host, inst, "cannot set up the robots.txt cache: %s", strerror(-rc));
		return rc;
	}
	struct fm_fetcher_limits fl = fetcher_limits(host, inst, cfg);
	fh->fetcher = fm_fetcher_new(&fl);
	if (!fh->fetcher) {
		fm_robots_cache_free(fh->robots);
		free(fh);
		fm_err(host, inst, "cannot start the HTTP client (libcurl multi, its thread)");
		return -ENOMEM;
	}
	*ctx = fh;
	return 0;
}

static void fh_fini(void *ctx)
{
	struct fh *fh = ctx;
	if (!fh)
		return;
	/* what is still held ends unanswered: the host frees the handles, and the requests
	 * come again next run */
	fh->closing = true;
	struct fm_fetcher *f = fh->fetcher;
	fh->fetcher = NULL;
	fm_fetcher_free(f);
	fh_pages_cancel_parked(fh);
	fh_runs_answer_deferred(fh);
	fm_robots_cache_free(fh->robots);
	free(fh);
}

static const struct fm_command fh_commands[] = {
	{"parse", FM_FETCH_HTTP_PARSE_USAGE, FM_FETCH_HTTP_PARSE_SUMMARY, fm_fetch_http_parse_run},
	{NULL, NULL, NULL, NULL},
};

static const struct fm_plugin fh_plugin = {
	.abi_major = FM_ABI_MAJOR,
	.abi_minor = FM_ABI_MINOR,
	.struct_size = sizeof(struct fm_plugin),
	.name = "http",
	.kind = "fetch",
	.version = FH_VERSION,
	.summary = "Fetch feeds and pages over HTTP(S): conditional GET, autodiscovery, full "
	           "articles",
	.options = fh_options,
	.config_size = sizeof(struct fh_config),
	.init = fh_init,
	.process = fh_process,
	.fini = fh_fini,
	.wait = fh_wait,
	.step = fh_step,
	/* as many requests held as transfers run at once (max_transfers' default): the answers
	 * of more would wait in memory, a feed's documents each */
	.max_in_flight = 64,
	.commands = fh_commands,
};

FM_EXPORT const struct fm_plugin *FM_PLUGIN_ENTRY(void);
FM_EXPORT const struct fm_plugin *FM_PLUGIN_ENTRY(void)
{
	return &fh_plugin;
}
