#include "hub.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zmq.h>

#include "envelope.h"
#include "fm_build_config.h"
#include "instance.h"
#include "jsonio.h"
#include "log.h"
#include "service.h"
#include "util.h"
#include "worker.h"


#define LOOP_MS 200
#define RESTART_MIN_MS 500
#define RESTART_MAX_MS 30000

/* One document on one hop: queued for a stage, or handed to it and not yet answered. */
struct hop {
	uint64_t id;
	int stage;
	int source;      /* scheduler index; the input's index (nsources) for pipe input */
	int64_t fetch;   /* origin: fetch number, or input line */
	zmq_msg_t doc;   /* kept until the hop is answered, for redelivery */
	struct fm_json_raws raws; /* long strings of its parsed value, written out as in doc */
	int attempts;
	int64_t sent_at; /* monotonic ms; 0 while queued */
	int64_t not_before;
	bool request;    /* a fetch request from the scheduler */
	struct hop *tnext; /* in the in-flight table */
	struct hop *qnext; /* in a queue */
};

struct queue {
	struct hop *head, *tail;
	size_t len;
};

struct stage_rt {
	struct fm_stage_cfg *cfg;
	int index;
	bool is_output;
	void *push;
	char *work_ep;      /* what workers connect to for work */
	char *result_ep;    /* what workers connect to for results */
	char *state_dir;
	int64_t in_flight;
	struct queue q;
	/* thread workers */
	pthread_t *threads;
	fm_instance **insts;
	atomic_int stop;
	int nthreads;
	/* process workers */
	pid_t *pids;
	int64_t *restart_at;
	int *restarts;
	int64_t *started_at;
	/* worker (re)connections: what was sent between a loss and the next hello may have gone
	 * to the dead peer's pipe, so it is delivered again when a worker says hello */
	int64_t hellos;
	bool lost_worker;
	/* what it did */
	int64_t n_in, n_out, n_pass, n_done, n_drop, n_retry, n_error, n_lost;
	json_t *counts;
};

struct thread_arg {
	fm_instance *inst;
	struct fm_worker_spec spec;
};

struct fm_hub {
	struct fm_config *cfg;
	struct fm_hub_opts opts;
	void *zctx;
	void *results;
	struct stage_rt *st;
	int nchain, nstages; /* chain stages first, then outputs */
	struct hop **table;
	size_t tsize, tcount;
	struct queue delayed;
	uint64_t next_hop;
	int64_t live;          /* documents in the pipeline */
	int64_t *outstanding;  /* per source (+1 for the input) */
	int nsources;
	int64_t published, given_up, fetch_seq;
	struct thread_arg *targs;
	size_t ntargs;
	/* pipe input */
	int in_fd;
	bool in_eof;
	bool in_skip; /* inside an input line longer than max_doc_size: drop up to its end */
	char *in_buf;
	size_t in_len, in_cap;
	int64_t in_line;
	struct fm_jbuf sink_buf; /* the text of the document being written out */
	int64_t started_ms;
	bool fatal;
	bool output_failed;
	bool blocked; /* a stage could not take a document: look again soon */
};

static volatile sig_atomic_t stop_requested;

void fm_hub_request_stop(void)
{
	stop_requested++;
}

/* ------------------------------------------------------------------ hop table and queues */

static size_t slot_of(const struct fm_hub *h, uint64_t id)
{
	return (size_t)(id * 0x9E3779B97F4A7C15ull) & (h->tsize - 1);
}

static void table_grow(struct fm_hub *h)
{
	size_t nsize = h->tsize ? h->tsize * 2 : 1024;
	struct hop **nt = calloc(nsize, sizeof(*nt));
	if (!nt)
		return; /* stays correct, only slower */
	struct hop **old = h->table;
	size_t osize = h->tsize;
	h->table = nt;
	h->tsize = nsize;
	for (size_t i = 0; i < osize; i++) {
		struct hop *p = old[i];
		while (p) {
			struct hop *next = p->tnext;
			size_t s = slot_of(h, p->id);
			p->tnext = h->table[s];
			h->table[s] = p;
			p = next;
		}
	}
	free(old);
}

static void table_put(struct fm_hub *h, struct hop *p)
{
	if (h->tcount + 1 > h->tsize)
		table_grow(h);
	size_t s = slot_of(h, p->id);
	p->tnext = h->table[s];
	h->table[s] = p;
	h->tcount++;
}

static struct hop *table_take(struct fm_hub *h, uint64_t id)
{
	if (!h->tsize)
		return NULL;
	for (struct hop **pp = &h->table[slot_of(h, id)]; *pp; pp = &(*pp)->tnext) {
		if ((*pp)->id == id) {
			struct hop *p = *pp;
			*pp = p->tnext;
			p->tnext = NULL;
			h->tcount--;
			return p;
		}
	}
	return NULL;
}

static void q_push(struct queue *q, struct hop *p)
{
	p->qnext = NULL;
	if (q->tail)
		q->tail->qnext = p;
	else
		q->head = p;
	q->tail = p;
	q->len++;
}

static void q_push_front(struct queue *q, struct hop *p)
{
	p->qnext = q->head;
	q->head = p;
	if (!q->tail)
		q->tail = p;
	q->len++;
}

static struct hop *q_pop(struct queue *q)
{
	struct hop *p = q->head;
	if (!p)
		return NULL;
	q->head = p->qnext;
	if (!q->head)
		q->tail = NULL;
	q->len--;
	p->qnext = NULL;
	return p;
}

static const char *source_name(const struct fm_hub *h, int source)
{
	if (source == h->nsources)
		return "stdin";
	const char *n = h->opts.sched ? fm_sched_source_name(h->opts.sched, source) : NULL;
	return n ? n : "?";
}

/* A new document enters stage `stage`; takes doc (moved out of *doc). */
static void hop_new(struct fm_hub *h, int stage, int source, int64_t fetch, zmq_msg_t *doc,
                    bool request)
{
	struct hop *p = calloc(1, sizeof(*p));
	if (!p) {
		log_err("out of memory: dropped a document from %s", source_name(h, source));
		zmq_msg_close(doc);
		return;
	}
	p->id = ++h->next_hop;
	p->stage = stage;
	p->source = source;
	p->fetch = fetch;
	zmq_msg_init(&p->doc);
	zmq_msg_move(&p->doc, doc);
	p->request = request;
	q_push(&h->st[stage].q, p);
	h->st[stage].n_in++;
	h->live++;
	h->outstanding[source]++;
}

static void hop_free(struct hop *p)
{
	fm_json_raws_release(&p->raws);
	zmq_msg_close(&p->doc);
	free(p);
}

/* A document leaves the pipeline (published, dropped, failed or given up). */
static void hop_end(struct fm_hub *h, struct hop *p)
{
	int source = p->source;
	hop_free(p);
	h->live--;
	if (--h->outstanding[source] == 0 && h->opts.sched && source < h->nsources)
		fm_sched_fetch_complete(h->opts.sched, source, fm_now_ms());
}

/* Deliver again later, or give up after max_attempts. quiet: the caller logs for a batch. */
static void hop_retry(struct fm_hub *h, struct hop *p, const char *why, bool quiet)
{
	struct stage_rt *st = &h->st[p->stage];
	p->attempts++;
	p->sent_at = 0;
	if (p->attempts >= h->cfg->max_attempts) {
		log_err("stage %s: gave up on a document from %s#%lld after %d attempts (%s)",
		        st->cfg->name, source_name(h, p->source), (long long)p->fetch, p->attempts,
		        why);
		h->given_up++;
		if (p->request && h->opts.sched) {
			json_t *rep = json_pack("{s:s}", "error", why);
			fm_sched_done(h->opts.sched, p->source, rep, true, fm_now_ms());
			json_decref(rep);
		}
		hop_end(h, p);
		return;
	}
	int64_t delay = 500LL << (p->attempts > 6 ? 6 : p->attempts);
	p->not_before = fm_monotonic_ms() + delay;
	if (!quiet)
		log_warn("stage %s: a document from %s#%lld will be delivered again in %lldms (%s)",
		         st->cfg->name, source_name(h, p->source), (long long)p->fetch,
		         (long long)delay, why);
	q_push(&h->delayed, p);
}

/* ------------------------------------------------------------------ sending */

static int send_hop(struct fm_hub *h, struct stage_rt *st, struct hop *p)
{
	struct fm_env env = {.type = FM_MSG_DOC, .hop = p->id, .src = source_name(h, p->source),
	                     .fetch = p->fetch, .att = p->attempts + 1};
	int rc;
	zmq_msg_t frame;
	if (st->cfg->mode == FM_MODE_THREAD) {
		/* A worker thread gets the parsed document; the hop keeps the bytes. */
		json_error_t err;
		json_t *doc = fm_json_parse_raws(zmq_msg_data(&p->doc), zmq_msg_size(&p->doc), &err,
		                                 &p->raws);
		if (!json_is_object(doc)) {
			log_err("[%s] document from %s#%lld is not a JSON object (%s at line %d column "
			        "%d); skipped",
			        st->cfg->name, source_name(h, p->source), (long long)p->fetch,
			        doc ? "not an object" : err.text, doc ? 0 : err.line,
			        doc ? 0 : err.column);
			json_decref(doc);
			return -EBADMSG;
		}
		/* The one worker of a stage keeps its core for process(): what the plugin can do
		 * with the document alone is done here, on the hub's (plugin.h, prepare). */
		const struct fm_plugin *pl = NULL;
		void *prep = NULL;
		if (st->nthreads == 1) {
			pl = &fm_instance_plugin(st->insts[0])->desc;
			prep = fm_plugin_prepare(pl, fm_instance_config(st->insts[0]), doc);
		}
		rc = fm_msg_send_local(st->push, &env, &doc, 1, prep, pl ? pl->release : NULL,
		                       ZMQ_DONTWAIT);
		if (rc == 0)
			return 0; /* doc and prep went with the message */
		if (pl)
			fm_plugin_release(pl, prep);
		json_decref(doc);
	} else {
		/* Send a copy (ZeroMQ shares the buffer); the hop keeps the document for redelivery. */
		zmq_msg_init(&frame);
		rc = zmq_msg_copy(&frame, &p->doc) == 0 ? 0 : -errno;
		if (rc == 0)
			rc = fm_msg_send_frames(st->push, &env, &frame, 1, ZMQ_DONTWAIT);
		zmq_msg_close(&frame);
	}
	return rc;
}

static void dispatch(struct fm_hub *h)
{
	int64_t now = fm_monotonic_ms();
	/* Delayed retries whose time has come go back to the front of their stage's queue. */
	struct queue keep = {0};
	struct hop *p;
	while ((p = q_pop(&h->delayed))) {
		if (p->not_before <= now)
			q_push_front(&h->st[p->stage].q, p);
		else
			q_push(&keep, p);
	}
	h->delayed = keep;
	h->blocked = false;

	for (int i = 0; i < h->nstages; i++) {
		struct stage_rt *st = &h->st[i];
		while (st->q.head && st->in_flight < st->cfg->max_in_flight) {
			p = st->q.head;
			int rc = send_hop(h, st, p);
			if (rc == -EAGAIN) {
				h->blocked = true; /* no worker connected yet, or all are full */
				break;
			}
			q_pop(&st->q);
			if (rc == -EBADMSG) {
				st->n_error++;
				hop_end(h, p);
				continue;
			}
			if (rc != 0) {
				log_err("stage %s: cannot send: %s", st->cfg->name, zmq_strerror(-rc));
				hop_retry(h, p, "send failed", false);
				continue;
			}
			p->sent_at = now;
			st->in_flight++;
			table_put(h, p);
		}
	}
}

/* ------------------------------------------------------------------ results */

/* The output cannot be written (the reader went away: EPIPE, a full disk): what comes next
 * would only be lost, so the pipe stops, with an error. err: the failed call's errno. */
static void output_failed(struct fm_hub *h, int err)
{
	if (h->output_failed)
		return;
	h->output_failed = true;
	log_err("cannot write the output: %s; stopping", strerror(err ? err : EIO));
	h->fatal = true;
}

static void sink_text(struct fm_hub *h, const void *text, size_t len)
{
	if (h->opts.output) {
		FILE *out = h->opts.output;
		if (fwrite(text, 1, len, out) != len || fputc('\n', out) == EOF)
			output_failed(h, errno);
	}
	h->published++;
}

static void sink(struct fm_hub *h, zmq_msg_t *doc)
{
	sink_text(h, zmq_msg_data(doc), zmq_msg_size(doc));
	zmq_msg_close(doc);
	zmq_msg_init(doc); /* the message it came in still closes it */
}

static void add_counts(struct stage_rt *st, const struct fm_env *env)
{
	if (!env->ncounts || (!st->counts && !(st->counts = json_object())))
		return;
	for (size_t i = 0; i < env->ncounts; i++) {
		const struct fm_count *c = &env->counts[i];
		json_t *v = json_object_get(st->counts, c->name);
		if (v)
			json_integer_set(v, json_integer_value(v) + c->delta);
		else
			json_object_set_new(st->counts, c->name, json_integer(c->delta));
	}
}

/* Whether what leaves stage i is the end of its way (the sink), not another stage's input. */
static bool to_sink(const struct fm_hub *h, int i)
{
	return i >= h->nchain || (i == h->nchain - 1 && h->nstages == h->nchain);
}

/* Where what leaves stage i goes: the next stage, every output, or the sink. */
static void route(struct fm_hub *h, int i, const struct hop *from, zmq_msg_t *doc)
{
	int next_first, next_last;
	if (to_sink(h, i)) {
		sink(h, doc);
		return;
	}
	if (i < h->nchain - 1) {
		next_first = next_last = i + 1;
	} else {
		next_first = h->nchain;
		next_last = h->nstages - 1;
	}
	for (int k = next_first; k <= next_last; k++) {
		if (k == next_last) {
			hop_new(h, k, from->source, from->fetch, doc, false);
			break;
		}
		/* Every output gets the same bytes: a shared copy, not a duplicate buffer. */
		zmq_msg_t copy;
		zmq_msg_init(&copy);
		if (zmq_msg_copy(&copy, doc) != 0) {
			log_err("output %s misses a document: %s", h->st[k].cfg->name, zmq_strerror(errno));
			zmq_msg_close(&copy);
			continue;
		}
		hop_new(h, k, from->source, from->fetch, &copy, false);
	}
}

/* A worker thread's document i (a parsed value) becomes its JSON text in frame. */
static int as_bytes(struct fm_hub *h, struct stage_rt *st, struct fm_msg *m, size_t i,
                    const struct hop *from, zmq_msg_t *frame)
{
	json_t *doc = fm_msg_take_doc(m, i);
	if (!doc)
		return -EINVAL;
	int rc = fm_msg_init_doc(frame, doc, h->cfg->max_doc_size, st->cfg->name, &from->raws);
	json_decref(doc);
	return rc;
}

static void requeue_stage(struct fm_hub *h, int stage, const char *why, int64_t older_than);

static void on_hello(struct fm_hub *h, struct fm_msg *m)
{
	const char *name = m->env->stage;
	log_info("stage %s worker %d is up (pid %lld)", name ? name : "?", m->env->w, m->env->pid);
	for (int i = 0; name && i < h->nstages; i++) {
		struct stage_rt *st = &h->st[i];
		if (strcmp(st->cfg->name, name) != 0)
			continue;
		st->hellos++;
		bool reconnect = st->cfg->mode == FM_MODE_REMOTE && st->hellos > st->cfg->workers;
		if (st->lost_worker || reconnect) {
			/* ZeroMQ may have routed documents to the lost peer until it noticed: send
			 * again what is unanswered; a second answer to a hop is ignored. */
			st->lost_worker = false;
			requeue_stage(h, i, "a worker came back after a loss", fm_monotonic_ms() + 1);
		}
	}
}

static void on_result(struct fm_hub *h, struct fm_msg *m)
{
	if (m->env->type == FM_MSG_HELLO) {
		on_hello(h, m);
		return;
	}
	if (m->env->type != FM_MSG_RES)
		return;
	uint64_t id = m->env->hop;
	struct hop *p = table_take(h, id);
	if (!p) {
		/* Answered already (a redelivered copy) or unknown: keep the first answer only. */
		log_debug("ignored a late answer for hop %llu", (unsigned long long)id);
		return;
	}
	struct stage_rt *st = &h->st[p->stage];
	st->in_flight--;
	add_counts(st, m->env);
	int status = m->env->status;
	if (status == FM_RETRY) {
		st->n_retry++;
		hop_retry(h, p, "the plugin asked to retry", false);
		return;
	}
	if (status == FM_PASS)
		st->n_pass++;
	else if (status == FM_DONE)
		st->n_done++;
	else if (status == FM_DROP)
		st->n_drop++;
	else
		st->n_error++;
	if (p->request && h->opts.sched)
		fm_sched_done(h->opts.sched, p->source, m->env->rep, status == FM_ERROR,
		              fm_now_ms());
	for (size_t i = 0; i < fm_msg_count(m); i++) {
		if (m->local && to_sink(h, p->stage)) {
			/* The end of the way: the text goes out from the hub's own buffer, without a
			 * message (and a buffer) of its own. */
			json_t *doc = fm_msg_take_doc(m, i);
			fm_jbuf_reset(&h->sink_buf);
			if (doc &&
			    fm_doc_dump(doc, &h->sink_buf, h->cfg->max_doc_size, st->cfg->name,
			                &p->raws) == 0) {
				st->n_out++;
				sink_text(h, h->sink_buf.data, h->sink_buf.len);
			}
			json_decref(doc);
		} else if (m->local) {
			zmq_msg_t frame;
			if (as_bytes(h, st, m, i, p, &frame) != 0)
				continue;
			st->n_out++;
			route(h, p->stage, p, &frame);
			zmq_msg_close(&frame);
		} else {
			st->n_out++;
			route(h, p->stage, p, &m->frames[i]);
		}
	}
	hop_end(h, p);
}

static void drain_results(struct fm_hub *h)
{
	for (int burst = 0; burst < 4096; burst++) {
		struct fm_msg m;
		int rc = fm_msg_recv(h->results, &m, ZMQ_DONTWAIT);
		if (rc == -EAGAIN || rc == -ETERM)
			return;
		if (rc == -EPROTO) {
			log_warn("dropped a message from a worker: malformed or of another wire version");
			continue;
		}
		if (rc != 0)
			return;
		on_result(h, &m);
		fm_msg_free(&m);
	}
}

/* Redeliver what a dead worker or a silent remote had. */
static void requeue_stage(struct fm_hub *h, int stage, const char *why, int64_t older_than)
{
	int64_t n = 0;
	for (size_t i = 0; i < h->tsize; i++) {
		struct hop **pp = &h->table[i];
		while (*pp) {
			struct hop *p = *pp;
			if (p->stage == stage && (older_than == 0 || p->sent_at < older_than)) {
				*pp = p->tnext;
				h->tcount--;
				h->st[stage].in_flight--;
				h->st[stage].n_lost++;
				hop_retry(h, p, why, true);
				n++;
			} else {
				pp = &p->tnext;
			}
		}
	}
	if (n)
		log_warn("stage %s: %lld document%s will be delivered again (%s)",
		         h->st[stage].cfg->name, (long long)n, n == 1 ? "" : "s", why);
}

static void check_timeouts(struct fm_hub *h)
{
	int64_t now = fm_monotonic_ms();
	for (int i = 0; i < h->nstages; i++)
		if (h->st[i].in_flight > 0)
			requeue_stage(h, i, "no answer within the stage timeout",
			              now - h->st[i].cfg->timeout_ms);
}

/* ------------------------------------------------------------------ workers */

static void *thread_main(void *arg)
{
	struct thread_arg *a = arg;
	fm_worker_loop(a->inst, &a->spec);
	return NULL;
}

static char *stage_state_dir(struct fm_hub *h, const char *name)
{
	char *rel = NULL;
	if (asprintf(&rel, "stages/%s", name) < 0)
		return NULL;
	char *p = fm_path_join(h->opts.state_dir, rel);
	free(rel);
	return p;
}

static int start_threads(struct fm_hub *h, struct stage_rt *st)
{
	int n = st->cfg->workers;
	st->threads = calloc((size_t)n, sizeof(*st->threads));
	st->insts = calloc((size_t)n, sizeof(*st->insts));
	if (!st->threads || !st->insts)
		return -ENOMEM;
	for (int w = 0; w < n; w++) {
		struct fm_diag diag = {0};
		const struct fm_plugin *p = &st->cfg->loaded->desc;
		void *config = fm_plugin_config_new(p, st->cfg->options, &diag);
		if (!config) {
			fm_diag_print(&diag, stderr);
			fm_diag_free(&diag);
			return -EINVAL;
		}
		fm_diag_free(&diag);
		st->insts[w] = fm_instance_new(st->cfg->loaded, st->cfg->name, w, n, st->state_dir,
		                               config);
		if (!st->insts[w])
			return -ENOMEM;
		fm_instance_set_temporary_state(st->insts[w], h->opts.temporary_state);
		int rc = fm_instance_start(st->insts[w]);
		if (rc != 0) {
			log_err("stage %s: plugin %s could not start", st->cfg->name, st->cfg->plugin);
			return rc;
		}
		struct thread_arg *a = &h->targs[h->ntargs++];
		a->inst = st->insts[w];
		a->spec = (struct fm_worker_spec){
			.stage = st->cfg->name,
			.index = w,
			.zctx = h->zctx,
			.work_ep = st->work_ep,
			.result_ep = st->result_ep,
			.max_doc_size = h->cfg->max_doc_size,
			.stop = &st->stop,
		};
		if (pthread_create(&st->threads[w], NULL, thread_main, a) != 0)
			return -EAGAIN;
		st->nthreads++;
	}
	return 0;
}

static pid_t spawn_process(struct fm_hub *h, struct stage_rt *st, int w)
{
	char *exe = NULL;
	char buf[4096];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	exe = buf;
	char windex[16];
	snprintf(windex, sizeof(windex), "%d", w);
	size_t argc = 0;
	char **argv = calloc(20 + 2 * (size_t)h->opts.nset, sizeof(*argv));
	if (!argv)
		return -1;
	argv[argc++] = "feedmill";
	argv[argc++] = "stage";
	argv[argc++] = st->cfg->name;
	if (h->opts.config_path) {
		argv[argc++] = "-c";
		argv[argc++] = (char *)h->opts.config_path;
	} else {
		argv[argc++] = "--no-config";
	}
	for (int i = 0; i < h->opts.nset; i++) {
		argv[argc++] = "--set";
		argv[argc++] = h->opts.set_args[i];
	}
	argv[argc++] = "--worker";
	argv[argc++] = windex;
	argv[argc++] = "--work";
	argv[argc++] = st->work_ep;
	argv[argc++] = "--results";
	argv[argc++] = st->result_ep;
	argv[argc++] = "--state-dir";
	argv[argc++] = (char *)h->opts.state_dir;
	if (h->opts.temporary_state)
		argv[argc++] = "--temporary-state";
	argv[argc] = NULL;

	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		/* The child must not outlive us, nor keep our stdout (the pipe output) open. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		int fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			close(fd);
		}
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		execv(exe, argv);
		_exit(127);
	}
	free(argv);
	if (pid > 0)
		log_info("stage %s: started worker %d as process %d", st->cfg->name, w, (int)pid);
	return pid;
}

static int start_processes(struct fm_hub *h, struct stage_rt *st)
{
	int n = st->cfg->workers;
	st->pids = calloc((size_t)n, sizeof(*st->pids));
	st->restart_at = calloc((size_t)n, sizeof(*st->restart_at));
	st->restarts = calloc((size_t)n, sizeof(*st->restarts));
	st->started_at = calloc((size_t)n, sizeof(*st->started_at));
	if (!st->pids || !st->restart_at || !st->restarts || !st->started_at)
		return -ENOMEM;
	for (int w = 0; w < n; w++) {
		st->pids[w] = spawn_process(h, st, w);
		st->started_at[w] = fm_monotonic_ms();
		if (st->pids[w] < 0)
			return -errno;
	}
	return 0;
}

/* Reap dead children, redeliver their documents, restart them with a growing delay. */
static void watch_processes(struct fm_hub *h)
{
	int status;
	pid_t pid;
	int64_t now = fm_monotonic_ms();
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < h->nstages; i++) {
			struct stage_rt *st = &h->st[i];
			for (int w = 0; st->pids && w < st->cfg->workers; w++) {
				if (st->pids[w] != pid)
					continue;
				st->pids[w] = 0;
				if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
					log_err("stage %s: worker %d cannot start (configuration error); "
					        "not restarting",
					        st->cfg->name, w);
					h->fatal = true;
					continue;
				}
				if (WIFSIGNALED(status))
					log_err("stage %s: worker %d (pid %d) was killed by signal %d",
					        st->cfg->name, w, (int)pid, WTERMSIG(status));
				else
					log_err("stage %s: worker %d (pid %d) exited with status %d",
					        st->cfg->name, w, (int)pid, WEXITSTATUS(status));
				/* A worker that lived a while gets a fresh start; a crash loop slows down. */
				if (now - st->started_at[w] > 60000)
					st->restarts[w] = 0;
				int64_t delay = (int64_t)RESTART_MIN_MS << (st->restarts[w] > 6 ? 6 : st->restarts[w]);
				if (delay > RESTART_MAX_MS)
					delay = RESTART_MAX_MS;
				st->restarts[w]++;
				st->restart_at[w] = now + delay;
				st->lost_worker = true;
				requeue_stage(h, i, "its worker process died", 0);
			}
		}
	}
	for (int i = 0; i < h->nstages; i++) {
		struct stage_rt *st = &h->st[i];
		for (int w = 0; st->pids && w < st->cfg->workers; w++) {
			if (st->pids[w] == 0 && st->restart_at[w] && st->restart_at[w] <= now &&
			    !h->fatal) {
				st->restart_at[w] = 0;
				st->started_at[w] = now;
				st->pids[w] = spawn_process(h, st, w);
				if (st->pids[w] < 0)
					st->pids[w] = 0;
			}
		}
	}
}

/* ------------------------------------------------------------------ setup */

static int bind_or_log(void *sock, const char *ep)
{
	if (zmq_bind(sock, ep) != 0) {
		log_err("cannot bind %s: %s", ep, zmq_strerror(errno));
		return -errno;
	}
	return 0;
}

static int setup_stage(struct fm_hub *h, struct stage_rt *st, const char *run_dir)
{
	const char *name = st->cfg->name;
	int hwm = 100000, linger = 0;
	st->push = zmq_socket(h->zctx, ZMQ_PUSH);
	if (!st->push)
		return -errno;
	zmq_setsockopt(st->push, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(st->push, ZMQ_LINGER, &linger, sizeof(linger));
	st->state_dir = stage_state_dir(h, name);
	int rc = 0;
	switch (st->cfg->mode) {
	case FM_MODE_THREAD:
		if (asprintf(&st->work_ep, "inproc://fm-work-%d", st->index) < 0 ||
		    !(st->result_ep = strdup("inproc://fm-results")))
			return -ENOMEM;
		rc = bind_or_log(st->push, st->work_ep);
		break;
	case FM_MODE_PROCESS:
		if (asprintf(&st->work_ep, "ipc://%s/%d.work", run_dir, st->index) < 0 ||
		    asprintf(&st->result_ep, "ipc://%s/results", run_dir) < 0)
			return -ENOMEM;
		if (strlen(st->work_ep) > 100) {
			log_err("stage %s: the state directory's path is too long for an ipc socket "
			        "(%s); choose a shorter state_dir",
			        name, st->work_ep);
			return -ENAMETOOLONG;
		}
		rc = bind_or_log(st->push, st->work_ep);
		break;
	case FM_MODE_REMOTE:
		st->work_ep = strdup(st->cfg->connect);
		st->result_ep = fm_endpoint_next_port(st->cfg->connect);
		if (!st->work_ep || !st->result_ep)
			return -ENOMEM;
		rc = bind_or_log(st->push, st->cfg->bind);
		if (rc == 0) {
			char *res = fm_endpoint_next_port(st->cfg->bind);
			rc = res ? bind_or_log(h->results, res) : -ENOMEM;
			free(res);
		}
		if (rc == 0)
			log_notice("stage %s is remote: start `feedmill stage %s -c CONFIG` on its host; "
			           "it connects to %s",
			           name, name, st->cfg->connect);
		break;
	}
	return rc;
}

struct fm_hub *fm_hub_new(struct fm_config *cfg, struct fm_stage_cfg *chain,
                          const struct fm_hub_opts *opts)
{
	struct fm_hub *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->cfg = cfg;
	h->opts = *opts;
	h->in_fd = opts->input_fd;
	h->started_ms = fm_monotonic_ms();
	h->nsources = opts->sched ? (int)fm_sched_count(opts->sched) : 0;
	h->outstanding = calloc((size_t)h->nsources + 1, sizeof(*h->outstanding));
	for (struct fm_stage_cfg *s = chain; s; s = s->next)
		h->nchain++;
	h->nstages = h->nchain;
	if (opts->output == NULL)
		for (struct fm_stage_cfg *s = cfg->outputs; s; s = s->next)
			h->nstages++;
	h->st = calloc((size_t)h->nstages + 1, sizeof(*h->st));
	int workers = 0;
	int i = 0;
	for (struct fm_stage_cfg *s = chain; s; s = s->next, i++) {
		h->st[i].cfg = s;
		workers += s->workers;
	}
	for (struct fm_stage_cfg *s = cfg->outputs; i < h->nstages && s; s = s->next, i++) {
		h->st[i].cfg = s;
		h->st[i].is_output = true;
		workers += s->workers;
	}
	h->targs = calloc((size_t)workers + 1, sizeof(*h->targs));
	/* The documents in flight live on the hub's heap: map what they take at once (util.c).
	 * ~4 KB a document: the heap grew by 2.2 MB for the 512 a pipe of one stage holds (its
	 * window and as many queued) on the dedupe benchmark's news items. */
	size_t window = 0;
	for (i = 0; i < h->nstages; i++)
		window += (size_t)h->st[i].cfg->max_in_flight;
	if (h->nstages)
		window += (size_t)h->st[0].cfg->max_in_flight;
	fm_heap_prefault(window * 4096);
	h->zctx = zmq_ctx_new();
	if (!h->outstanding || !h->st || !h->targs || !h->zctx)
		goto fail;
	/* inproc needs no I/O thread: without ipc or tcp stages, do not start one. */
	bool networked = false;
	for (i = 0; i < h->nstages; i++)
		networked |= h->st[i].cfg->mode != FM_MODE_THREAD;
	if (!networked)
		zmq_ctx_set(h->zctx, ZMQ_IO_THREADS, 0);

	h->results = zmq_socket(h->zctx, ZMQ_PULL);
	int hwm = 100000;
	zmq_setsockopt(h->results, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	if (bind_or_log(h->results, "inproc://fm-results") != 0)
		goto fail;
	char *run_dir = fm_path_join(opts->state_dir, "run");
	bool any_process = false;
	for (i = 0; i < h->nstages; i++)
		any_process |= h->st[i].cfg->mode == FM_MODE_PROCESS;
	if (any_process) {
		char *ep = NULL;
		fm_mkdirs(run_dir, 0750);
		if (asprintf(&ep, "ipc://%s/results", run_dir) < 0 || bind_or_log(h->results, ep) != 0) {
			free(ep);
			free(run_dir);
			goto fail;
		}
		free(ep);
	}
	for (i = 0; i < h->nstages; i++) {
		h->st[i].index = i;
		if (setup_stage(h, &h->st[i], run_dir) != 0) {
			free(run_dir);
			goto fail;
		}
	}
	free(run_dir);
	for (i = 0; i < h->nstages; i++) {
		struct stage_rt *st = &h->st[i];
		int rc = st->cfg->mode == FM_MODE_THREAD    ? start_threads(h, st)
		         : st->cfg->mode == FM_MODE_PROCESS ? start_processes(h, st)
		                                            : 0;
		if (rc != 0) {
			log_err("stage %s could not start", st->cfg->name);
			goto fail;
		}
	}
	return h;
fail:
	fm_hub_free(h);
	return NULL;
}

/* ------------------------------------------------------------------ input (pipe) */

static void read_input(struct fm_hub *h)
{
	if (h->in_cap - h->in_len < 65536) {
		size_t cap = h->in_cap ? h->in_cap * 2 : 256 << 10;
		char *p = realloc(h->in_buf, cap);
		if (!p)
			return;
		h->in_buf = p;
		h->in_cap = cap;
	}
	ssize_t n = read(h->in_fd, h->in_buf + h->in_len, h->in_cap - h->in_len - 1);
	if (n < 0) {
		if (errno != EINTR && errno != EAGAIN) {
			log_err("cannot read input: %s", strerror(errno));
			h->in_eof = true;
		}
		return;
	}
	if (n == 0)
		h->in_eof = true;
	h->in_len += (size_t)n;
	size_t start = 0;
	if (h->in_skip) {
		char *nl = memchr(h->in_buf, '\n', h->in_len);
		if (!nl) {
			h->in_len = 0;
			return;
		}
		h->in_skip = false;
		start = (size_t)(nl - h->in_buf) + 1;
	}
	for (;;) {
		char *nl = memchr(h->in_buf + start, '\n', h->in_len - start);
		size_t end = nl ? (size_t)(nl - h->in_buf) : h->in_len;
		if (!nl && !h->in_eof)
			break;
		size_t len = end - start;
		if (len > 0 && h->in_buf[start + len - 1] == '\r')
			len--;
		if (nl || len)
			h->in_line++;
		bool blank = true;
		for (size_t k = 0; k < len && blank; k++)
			blank = h->in_buf[start + k] == ' ' || h->in_buf[start + k] == '\t';
		if (!blank) {
			zmq_msg_t doc;
			if (zmq_msg_init_size(&doc, len) == 0) {
				memcpy(zmq_msg_data(&doc), h->in_buf + start, len);
				hop_new(h, 0, h->nsources, h->in_line, &doc, false);
			} else {
				log_err("out of memory: input line %lld skipped", (long long)h->in_line);
			}
		}
		start = nl ? end + 1 : h->in_len;
		if (!nl)
			break;
	}
	memmove(h->in_buf, h->in_buf + start, h->in_len - start);
	h->in_len -= start;
	if (h->in_len > h->cfg->max_doc_size) {
		/* Bounded memory: a line this long cannot become a document anyway. */
		h->in_line++;
		log_err("input line %lld is longer than max_doc_size (%llu bytes); skipped",
		        (long long)h->in_line, (unsigned long long)h->cfg->max_doc_size);
		h->in_len = 0;
		h->in_skip = true;
	}
}

/* ------------------------------------------------------------------ the loop */

/* Whether every stage holding documents has enough of them queued that it cannot run dry
 * before the hub looks again: then there is no hurry to hear each result as it comes. */
static bool saturated(const struct fm_hub *h)
{
	bool any = false;
	for (int i = 0; i < h->nstages; i++) {
		const struct stage_rt *st = &h->st[i];
		if (!st->in_flight)
			continue;
		if (st->in_flight * 2 < st->cfg->max_in_flight || st->in_flight < 16)
			return false;
		any = true;
	}
	return any;
}

/* Results of a busy pipeline are taken in batches: waking the hub for each one costs a
 * context switch on each side (ZeroMQ signals a reader that found its pipe empty), which on
 * a virtual machine is dearer than the work on a small document. */
#define COALESCE_US 200
static void coalesce_wait(void)
{
	struct timespec ts = {0, COALESCE_US * 1000L};
	nanosleep(&ts, NULL);
}

/* Whether an answer is waiting already: then there is nothing to wait for. */
static bool results_ready(struct fm_hub *h)
{
	int ev = 0;
	size_t sz = sizeof(ev);
	return zmq_getsockopt(h->results, ZMQ_EVENTS, &ev, &sz) == 0 && (ev & ZMQ_POLLIN);
}

static void notify(struct fm_hub *h, const char *what)
{
	if (h->opts.systemd)
		fm_service_notify(what);
}

int fm_hub_run(struct fm_hub *h)
{
	bool draining = false;
	int64_t drain_deadline = 0, last_check = 0;
	uint64_t watchdog_usec = h->opts.systemd ? fm_service_watchdog_usec() : 0;
	int64_t last_watchdog = 0;
	notify(h, "READY=1");

	for (;;) {
		int64_t now_mono = fm_monotonic_ms();
		if (stop_requested && !draining) {
			draining = true;
			drain_deadline = now_mono + h->cfg->drain_timeout_ms;
			notify(h, "STOPPING=1");
			log_notice("stopping: draining %lld documents in flight (at most %llds)",
			           (long long)h->live, (long long)(h->cfg->drain_timeout_ms / 1000));
		}
		if (stop_requested > 1 && draining) {
			log_warn("second stop request: exiting now with %lld documents in flight",
			         (long long)h->live);
			return 1;
		}
		if (h->fatal)
			return 1;

		/* New work: due sources, or input lines, while the pipeline has room. */
		if (!draining && h->opts.sched && h->live < h->cfg->queue_limit) {
			int src;
			json_t *req;
			while (h->live < h->cfg->queue_limit &&
			       (req = fm_sched_take_due(h->opts.sched, fm_now_ms(), &src))) {
				struct fm_jbuf text = FM_JBUF_INIT;
				zmq_msg_t doc;
				int jr = fm_json_dump(req, &text);
				json_decref(req);
				size_t len = 0;
				char *data = jr == 0 ? fm_jbuf_steal(&text, &len) : NULL;
				fm_jbuf_free(&text);
				if (data && fm_msg_init_owned(&doc, data, len) == 0)
					hop_new(h, 0, src, ++h->fetch_seq, &doc, true);
			}
		}
		dispatch(h);

		/* Finished? */
		bool input_done = h->in_fd < 0 || h->in_eof;
		bool sched_done = !h->opts.sched || fm_sched_finished(h->opts.sched);
		if (h->live == 0 && (draining || (input_done && sched_done &&
		                                  (h->opts.sched || h->in_fd >= 0))))
			return h->given_up ? 1 : 0;
		if (draining && now_mono >= drain_deadline) {
			log_err("drain timeout: %lld documents still in flight are abandoned",
			        (long long)h->live);
			return 1;
		}

		zmq_pollitem_t items[2] = {{h->results, 0, ZMQ_POLLIN, 0}, {NULL, h->in_fd, ZMQ_POLLIN, 0}};
		int nitems = 1;
		/* Read input only while the first stage's queue is short: what waits in the hub
		 * stays small, and freed messages are reused instead of fresh memory. */
		if (h->in_fd >= 0 && !h->in_eof && !draining && h->live < h->cfg->queue_limit &&
		    (int64_t)h->st[0].q.len < h->st[0].cfg->max_in_flight)
			nitems = 2;
		long timeout = LOOP_MS;
		if (h->opts.sched && !draining) {
			int64_t due = fm_sched_next_due(h->opts.sched) - fm_now_ms();
			if (due < timeout)
				timeout = due < 0 ? 0 : (long)due;
		}
		if (h->delayed.head)
			timeout = timeout > 50 ? 50 : timeout;
		if (h->blocked)
			timeout = timeout > 5 ? 5 : timeout;
		if (saturated(h) && !results_ready(h))
			coalesce_wait();
		int n = zmq_poll(items, nitems, timeout);
		if (n < 0 && errno != EINTR) {
			log_err("poll failed: %s", zmq_strerror(errno));
			return 1;
		}
		if (n > 0 && (items[0].revents & ZMQ_POLLIN))
			drain_results(h);
		if (nitems == 2 && (items[1].revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
			read_input(h);

		now_mono = fm_monotonic_ms();
		if (now_mono - last_check >= 250) {
			last_check = now_mono;
			watch_processes(h);
			check_timeouts(h);
			if (h->opts.output && fflush(h->opts.output) != 0)
				output_failed(h, errno);
		}
		if (watchdog_usec && (uint64_t)(now_mono - last_watchdog) * 1000 >= watchdog_usec / 2) {
			notify(h, "WATCHDOG=1");
			last_watchdog = now_mono;
		}
	}
}

/* ------------------------------------------------------------------ summary and teardown */

/* The output's "path" setting, resolved as the plugin sees it. Caller frees. */
static char *output_path(const struct stage_rt *st)
{
	const struct fm_setting *found = NULL;
	for (const struct fm_setting *s = st->cfg->options; s; s = s->next)
		if (strcmp(s->key, "path") == 0)
			found = s;
	if (!found)
		return NULL;
	char *dir = found->file ? fm_path_dirname(found->file) : NULL;
	char *p = fm_path_join(dir, found->value);
	free(dir);
	char *tidy = p ? fm_path_tidy(p) : NULL;
	free(p);
	return tidy;
}

void fm_hub_summary(struct fm_hub *h, FILE *out)
{
	double secs = (double)(fm_monotonic_ms() - h->started_ms) / 1000.0;
	fprintf(out, "feedmill: finished in %.1fs\n", secs);
	if (h->opts.sched) {
		struct fm_sched_totals t = fm_sched_totals(h->opts.sched);
		fprintf(out, "  %-10s %lld polled, %lld not modified, %lld failed, %lld items\n",
		        "sources", (long long)t.polled, (long long)t.not_modified, (long long)t.failed,
		        (long long)t.items);
	}
	for (int i = 0; i < h->nstages; i++) {
		struct stage_rt *st = &h->st[i];
		fprintf(out, "  %-10s %lld in, %lld out", st->cfg->name, (long long)st->n_in,
		        (long long)st->n_out);
		if (st->n_drop)
			fprintf(out, ", %lld dropped", (long long)st->n_drop);
		if (st->n_error)
			fprintf(out, ", %lld failed", (long long)st->n_error);
		if (st->n_retry)
			fprintf(out, ", %lld retried", (long long)st->n_retry);
		if (st->n_lost)
			fprintf(out, ", %lld redelivered", (long long)st->n_lost);
		const char *k;
		json_t *v;
		json_object_foreach(st->counts, k, v)
		{
			fprintf(out, ", %s %lld", k, (long long)json_integer_value(v));
		}
		char *path = st->is_output ? output_path(st) : NULL;
		if (path)
			fprintf(out, " -> %s", path);
		free(path);
		fputc('\n', out);
	}
	if (h->given_up)
		fprintf(out, "  %lld documents given up after %lld attempts (see the log)\n",
		        (long long)h->given_up, (long long)h->cfg->max_attempts);
}

static void free_queue(struct queue *q)
{
	struct hop *p;
	while ((p = q_pop(q)))
		hop_free(p);
}

void fm_hub_free(struct fm_hub *h)
{
	if (!h)
		return;
	for (int i = 0; h->st && i < h->nstages; i++) {
		struct stage_rt *st = &h->st[i];
		atomic_store(&st->stop, 1);
		for (int w = 0; st->pids && w < st->cfg->workers; w++)
			if (st->pids[w] > 0)
				kill(st->pids[w], SIGTERM);
	}
	/* Wake the worker threads out of their polls at once: they flush and close. */
	if (h->zctx)
		zmq_ctx_shutdown(h->zctx);
	for (int i = 0; h->st && i < h->nstages; i++) {
		struct stage_rt *st = &h->st[i];
		for (int w = 0; w < st->nthreads; w++)
			pthread_join(st->threads[w], NULL);
		for (int w = 0; st->insts && w < st->cfg->workers; w++)
			fm_instance_free(st->insts[w]);
		for (int w = 0; st->pids && w < st->cfg->workers; w++) {
			if (st->pids[w] <= 0)
				continue;
			/* Give a child the time to flush its state, then insist. */
			int status;
			int64_t deadline = fm_monotonic_ms() + 10000;
			while (waitpid(st->pids[w], &status, WNOHANG) == 0) {
				if (fm_monotonic_ms() > deadline) {
					kill(st->pids[w], SIGKILL);
					waitpid(st->pids[w], &status, 0);
					break;
				}
				usleep(20000);
			}
		}
		if (st->push)
			zmq_close(st->push);
		free_queue(&st->q);
		free(st->threads);
		free(st->insts);
		free(st->pids);
		free(st->restart_at);
		free(st->restarts);
		free(st->started_at);
		free(st->work_ep);
		free(st->result_ep);
		free(st->state_dir);
		json_decref(st->counts);
	}
	for (size_t i = 0; i < h->tsize; i++) {
		struct hop *p = h->table[i];
		while (p) {
			struct hop *next = p->tnext;
			hop_free(p);
			p = next;
		}
	}
	free_queue(&h->delayed);
	if (h->results)
		zmq_close(h->results);
	if (h->zctx)
		zmq_ctx_term(h->zctx);
	free(h->table);
	free(h->st);
	free(h->targs);
	free(h->outstanding);
	free(h->in_buf);
	fm_jbuf_free(&h->sink_buf);
	free(h);
}
