/* The hub's stage workers: threads, child processes, their start, watch, restart and stop
 * (hub_priv.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "envelope.h"
#include "hub_priv.h"
#include "log.h"
#include "util.h"

#define RESTART_MIN_MS 500
#define RESTART_MAX_MS 30000
/* How long workers get to finish what was sent to them before they are made to stop, and
 * how long a stopped child gets to save its state before SIGKILL. */
#define FINISH_MS 10000
#define KILL_MS 10000

static void *thread_main(void *arg)
{
	struct thread_arg *a = arg;
	/* "STAGE#N" in top -H, perf and /proc (15 bytes at most) */
	char name[16];
	snprintf(name, sizeof(name), "%s#%d", a->spec.stage, a->spec.index);
	pthread_setname_np(pthread_self(), name);
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
	st->joined = calloc((size_t)n, sizeof(*st->joined));
	st->insts = calloc((size_t)n, sizeof(*st->insts));
	if (!st->threads || !st->joined || !st->insts)
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
			.output = st->is_output,
			.commit_ms = h->cfg->commit_interval_ms,
		};
		if (pthread_create(&st->threads[w], NULL, thread_main, a) != 0)
			return -EAGAIN;
		st->nthreads++;
	}
	return 0;
}


static pid_t spawn_process(struct fm_hub *h, struct stage_rt *st, int w)
{
	char buf[4096];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
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
		/* The child must not outlive us, nor keep our stdout (the pipe output) open. SIGHUP,
		 * not SIGTERM: when a process of several threads dies, the kernel hands its children
		 * from thread to thread and sends the signal at each step, and a second SIGTERM would
		 * make the stage exit at once, without saving its state (cmd_stage.c). */
		prctl(PR_SET_PDEATHSIG, SIGHUP);
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
		execv(buf, argv);
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

int hub_start_workers(struct fm_hub *h, struct stage_rt *st)
{
	switch (st->cfg->mode) {
	case FM_MODE_THREAD:
		return start_threads(h, st);
	case FM_MODE_PROCESS:
		return start_processes(h, st);
	case FM_MODE_REMOTE:
		break;
	}
	return 0;
}

void hub_requeue_sent(struct fm_hub *h, int stage, const char *why, int64_t older_than)
{
	struct stage_rt *st = &h->st[stage];
	int64_t n = 0;
	/* oldest first: stop at the first one sent after older_than */
	while (st->sent.head && (older_than == 0 || st->sent.head->sent_at < older_than)) {
		struct hop *p = st->sent.head;
		hop_unlink(h, p);
		st->n_lost++;
		hop_retry(h, p, why, true);
		n++;
	}
	if (n)
		log_warn("stage %s: %lld document%s will be delivered again (%s)", st->cfg->name,
		         (long long)n, n == 1 ? "" : "s", why);
}

/* What an output's worker had taken but not made durable is delivered again. */
static void requeue_unsynced(struct fm_hub *h, struct stage_rt *st, int w, const char *why)
{
	if (!st->unsynced)
		return;
	int64_t n = 0;
	struct hop *p;
	while ((p = st->unsynced[w].head)) {
		hop_unlink(h, p);
		hop_retry(h, p, why, true);
		n++;
	}
	if (n)
		log_warn("output %s: %lld document%s not yet durable will be delivered again (%s)",
		         st->cfg->name, (long long)n, n == 1 ? "" : "s", why);
}

static void on_child_exit(struct fm_hub *h, int i, int w, pid_t pid, int status, int64_t now)
{
	struct stage_rt *st = &h->st[i];
	st->pids[w] = 0;
	if (st->stopped)
		return; /* stopped on purpose */
	if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
		log_err("stage %s: worker %d cannot start (configuration error); not restarting",
		        st->cfg->name, w);
		h->fatal = true;
		return;
	}
	if (WIFSIGNALED(status))
		log_err("stage %s: worker %d (pid %d) was killed by signal %d", st->cfg->name, w,
		        (int)pid, WTERMSIG(status));
	else
		log_err("stage %s: worker %d (pid %d) exited with status %d", st->cfg->name, w,
		        (int)pid, WEXITSTATUS(status));
	/* A worker that lived a while gets a fresh start; a crash loop slows down. */
	if (now - st->started_at[w] > 60000)
		st->restarts[w] = 0;
	int64_t delay = (int64_t)RESTART_MIN_MS << (st->restarts[w] > 6 ? 6 : st->restarts[w]);
	if (delay > RESTART_MAX_MS)
		delay = RESTART_MAX_MS;
	st->restarts[w]++;
	st->restart_at[w] = now + delay;
	st->lost_worker = true;
	hub_requeue_sent(h, i, "its worker process died", 0);
	requeue_unsynced(h, st, w, "its worker process died");
}

void hub_watch_processes(struct fm_hub *h)
{
	int status;
	pid_t pid;
	int64_t now = fm_monotonic_ms();
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < h->nstages; i++) {
			struct stage_rt *st = &h->st[i];
			for (int w = 0; st->pids && w < st->cfg->workers; w++)
				if (st->pids[w] == pid)
					on_child_exit(h, i, w, pid, status, now);
		}
	}
	for (int i = 0; i < h->nstages; i++) {
		struct stage_rt *st = &h->st[i];
		for (int w = 0; st->pids && w < st->cfg->workers; w++) {
			if (st->pids[w] == 0 && st->restart_at[w] && st->restart_at[w] <= now &&
			    !h->fatal && !st->stopped) {
				st->restart_at[w] = 0;
				st->started_at[w] = now;
				st->pids[w] = spawn_process(h, st, w);
				if (st->pids[w] < 0)
					st->pids[w] = 0;
			}
		}
	}
}

void hub_stop_stage(struct fm_hub *h, struct stage_rt *st)
{
	(void)h;
	if (st->stopped)
		return;
	st->stopped = true;
	atomic_store(&st->stop, 1);
	for (int w = 0; st->pids && w < st->cfg->workers; w++)
		if (st->pids[w] > 0)
			kill(st->pids[w], SIGTERM);
}

/* Wait for child pid until deadline (monotonic ms); true when it is gone. */
static bool wait_child(pid_t pid, int64_t deadline)
{
	int status;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			return true;
		if (fm_monotonic_ms() >= deadline)
			return false;
		usleep(5000);
	}
}

/* Wait for thread w until deadline; true when joined. */
static bool join_thread(struct stage_rt *st, int w, int64_t deadline)
{
	if (st->joined[w])
		return true;
	for (;;) {
		int64_t left = deadline - fm_monotonic_ms();
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		if (left > 0) {
			ts.tv_sec += left / 1000;
			ts.tv_nsec += (left % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
		}
		int rc = pthread_timedjoin_np(st->threads[w], NULL, &ts);
		if (rc == 0) {
			st->joined[w] = true;
			return true;
		}
		if (rc != EINTR)
			return false;
	}
}

/* A stop message per worker, behind whatever was sent before (acknowledgements above all).
 * Where it cannot go (no worker connected yet), the stop flag or SIGTERM does it. */
static void send_stops(struct stage_rt *st)
{
	struct fm_env stop = {.type = FM_MSG_STOP};
	for (int w = 0; w < st->cfg->workers; w++) {
		if (st->push && fm_msg_send(st->push, &stop, NULL, NULL, 0, ZMQ_DONTWAIT) == 0)
			continue;
		atomic_store(&st->stop, 1);
		for (int k = 0; st->pids && k < st->cfg->workers; k++)
			if (st->pids[k] > 0)
				kill(st->pids[k], SIGTERM);
		return;
	}
}

void hub_finish_workers(struct fm_hub *h)
{
	for (int i = 0; i < h->nstages; i++)
		if (!h->st[i].stopped)
			send_stops(&h->st[i]);
	int64_t deadline = fm_monotonic_ms() + FINISH_MS;
	for (int i = 0; i < h->nstages; i++) {
		struct stage_rt *st = &h->st[i];
		for (int w = 0; w < st->nthreads; w++) {
			if (join_thread(st, w, deadline))
				continue;
			/* not listening (a stop message went to a sibling): the flag, then wait */
			atomic_store(&st->stop, 1);
			join_thread(st, w, deadline + KILL_MS);
		}
		for (int w = 0; st->pids && w < st->cfg->workers; w++) {
			if (st->pids[w] <= 0 || wait_child(st->pids[w], deadline))
				continue;
			kill(st->pids[w], SIGTERM);
			if (!wait_child(st->pids[w], fm_monotonic_ms() + KILL_MS)) {
				log_warn("stage %s: worker %d (pid %d) does not stop; killed",
				         st->cfg->name, w, (int)st->pids[w]);
				kill(st->pids[w], SIGKILL);
				wait_child(st->pids[w], fm_monotonic_ms() + KILL_MS);
			}
		}
		st->stopped = true;
	}
}

void hub_free_workers(struct fm_hub *h, struct stage_rt *st)
{
	(void)h;
	atomic_store(&st->stop, 1);
	for (int w = 0; w < st->nthreads; w++)
		if (!st->joined[w])
			pthread_join(st->threads[w], NULL);
	for (int w = 0; st->insts && w < st->cfg->workers; w++)
		fm_instance_free(st->insts[w]);
	free(st->threads);
	free(st->joined);
	free(st->insts);
	free(st->pids);
	free(st->restart_at);
	free(st->restarts);
	free(st->started_at);
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

int hub_setup_stage(struct fm_hub *h, struct stage_rt *st, const char *run_dir)
{
	const char *name = st->cfg->name;
	int hwm = 100000, linger = 0;
	st->push = zmq_socket(h->zctx, ZMQ_PUSH);
	if (!st->push)
		return -errno;
	zmq_setsockopt(st->push, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(st->push, ZMQ_LINGER, &linger, sizeof(linger));
	st->state_dir = stage_state_dir(h, name);
	st->acks = !st->is_output && st->cfg->workers == 1 && st->cfg->loaded &&
	           st->cfg->loaded->desc.ack;
	if (st->is_output && !(st->unsynced = calloc((size_t)st->cfg->workers,
	                                             sizeof(*st->unsynced))))
		return -ENOMEM;
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

