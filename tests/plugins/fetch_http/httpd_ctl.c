#include "httpd_ctl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef HTTPD_PY
#define HTTPD_PY "tests/integration/httpd.py"
#endif

static const char *script(void)
{
	static char path[1024];
	const char *root = getenv("FM_SOURCE_ROOT");
	if (root) {
		snprintf(path, sizeof(path), "%s/tests/integration/httpd.py", root);
		if (access(path, R_OK) == 0)
			return path;
	}
	return HTTPD_PY;
}

const char *httpd_fixtures(void)
{
	static char path[1024];
	const char *d = getenv("FM_TEST_DATA_DIR");
	snprintf(path, sizeof(path), "%s/http", d ? d : "tests/data");
	return path;
}

int httpd_start(struct httpd *d, const char *root)
{
	char portfile[300];

	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/fm-httpd-XXXXXX");
	if (!mkdtemp(d->dir)) {
		perror("mkdtemp");
		return -1;
	}
	snprintf(portfile, sizeof(portfile), "%s/port", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/log", d->dir);

	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return -1;
	}
	if (pid == 0) {
		execlp("python3", "python3", script(), "--root", root, "--port-file", portfile,
		       "--log", d->log, "--max-seconds", "300", (char *)NULL);
		perror("exec python3");
		_exit(127);
	}
	d->pid = pid;
	/* wait up to 15 s for the server to say its port */
	for (int i = 0; i < 300; i++) {
		FILE *f = fopen(portfile, "r");
		if (f) {
			int ok = fscanf(f, "%d", &d->port) == 1;
			fclose(f);
			if (ok && d->port > 0) {
				snprintf(d->base, sizeof(d->base), "http://127.0.0.1:%d", d->port);
				return 0;
			}
		}
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			fprintf(stderr, "httpd.py exited before listening\n");
			d->pid = 0;
			return -1;
		}
		struct timespec ts = {0, 50 * 1000000};
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "httpd.py did not write its port file\n");
	httpd_stop(d);
	return -1;
}

void httpd_stop(struct httpd *d)
{
	char path[400];
	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		int st;
		for (int i = 0; i < 100; i++) {
			if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
				d->pid = 0;
				break;
			}
			struct timespec ts = {0, 50 * 1000000};
			nanosleep(&ts, NULL);
		}
		if (d->pid > 0) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, &st, 0);
			d->pid = 0;
		}
	}
	if (d->dir[0]) {
		snprintf(path, sizeof(path), "%s/port", d->dir);
		unlink(path);
		unlink(d->log);
		rmdir(d->dir);
	}
}

const char *httpd_url(const struct httpd *d, const char *path)
{
	static char slots[8][1024];
	static int next;
	char *s = slots[next++ % 8];
	snprintf(s, sizeof(slots[0]), "%s%s", d->base, path);
	return s;
}

static int count(const struct httpd *d, const char *s, int prefix)
{
	FILE *f = fopen(d->log, "r");
	char line[2048];
	int n = 0;
	size_t sl = strlen(s);
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (prefix ? strncmp(line, s, sl) == 0 : strcmp(line, s) == 0)
			n++;
	}
	fclose(f);
	return n;
}

int httpd_count(const struct httpd *d, const char *line)
{
	return count(d, line, 0);
}

int httpd_count_prefix(const struct httpd *d, const char *prefix)
{
	return count(d, prefix, 1);
}

int httpd_dead_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int port = 1;
	if (fd < 0)
		return port;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &al) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}
