/* Small helpers shared by the core unit tests (header-only: each test is one executable). */
#ifndef FM_TEST_UNIT_H
#define FM_TEST_UNIT_H

#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "diag.h"
#include "harness.h"

/* FM_TEST_DATA_DIR/config/REL (test_env sets the variable). Caller frees. */
static inline char *unit_config_path(const char *rel)
{
	const char *dir = getenv("FM_TEST_DATA_DIR");
	char *p = NULL;
	if (asprintf(&p, "%s/config/%s", dir ? dir : "tests/data", rel) < 0)
		abort();
	return p;
}

/* Everything fm_diag_print would show, as one string. Caller frees. */
static inline char *unit_diag_text(struct fm_diag *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		abort();
	fm_diag_print(d, f);
	fclose(f);
	return buf;
}

/* Replace every occurrence of `from` in s by `to`. Takes s, returns a new string. */
static inline char *unit_replace(char *s, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to), n = 0;
	for (const char *p = strstr(s, from); p; p = strstr(p + fl, from))
		n++;
	char *out = malloc(strlen(s) + n * (tl > fl ? tl - fl : 0) + 1);
	if (!out)
		abort();
	char *o = out;
	const char *p = s;
	for (const char *q = strstr(p, from); q; q = strstr(p, from)) {
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		memcpy(o, to, tl);
		o += tl;
		p = q + fl;
	}
	strcpy(o, p);
	free(s);
	return out;
}

/* Read a whole file into a NUL-terminated string; NULL when it cannot be read. */
static inline char *unit_slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, m);
	fclose(m);
	fclose(f);
	return buf;
}

extern char **environ;

/* Run $FEEDMILL_BIN with args (NULL-terminated, at most 14); its exit status (128 + signal when
 * killed, -1 when it could not run), and what it wrote to stdout and stderr (caller frees). */
static inline int unit_run_feedmill(const char *const *args, char **out, char **err)
{
	const char *bin = getenv("FEEDMILL_BIN");
	if (!bin) {
		fprintf(stderr, "FEEDMILL_BIN is not set\n");
		abort();
	}
	char out_path[] = "/tmp/fm-test-out-XXXXXX";
	char err_path[] = "/tmp/fm-test-err-XXXXXX";
	int ofd = mkstemp(out_path), efd = mkstemp(err_path);
	if (ofd < 0 || efd < 0)
		abort();
	char *argv[16];
	size_t n = 0;
	argv[n++] = (char *)bin;
	for (size_t i = 0; args[i] && n < 15; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, ofd, 1);
	posix_spawn_file_actions_adddup2(&fa, efd, 2);
	pid_t pid;
	int status = -1;
	if (posix_spawn(&pid, bin, &fa, NULL, argv, environ) == 0 && waitpid(pid, &status, 0) == pid)
		status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	posix_spawn_file_actions_destroy(&fa);
	close(ofd);
	close(efd);
	*out = unit_slurp(out_path);
	*err = unit_slurp(err_path);
	unlink(out_path);
	unlink(err_path);
	return status;
}

#endif
