/* Start and stop tests/integration/httpd.py on loopback for the fetch_http tests. */
#ifndef FM_TEST_HTTPD_CTL_H
#define FM_TEST_HTTPD_CTL_H

#include <stddef.h>
#include <sys/types.h>

struct httpd {
	pid_t pid;
	int port;
	char dir[256];      /* temporary folder for the port file and the log */
	char log[300];      /* request log: "METHOD PATH STATUS" per line */
	char base[64];      /* "http://127.0.0.1:PORT" */
};

/* Serve root (a folder) on an ephemeral loopback port. Returns 0, or -1 after printing why. */
int httpd_start(struct httpd *d, const char *root);
void httpd_stop(struct httpd *d);

/* "http://127.0.0.1:PORT" + path, in a static rotating buffer (8 slots). */
const char *httpd_url(const struct httpd *d, const char *path);

/* How many log lines equal `line` exactly (e.g. "GET /feed.rss 304"). */
int httpd_count(const struct httpd *d, const char *line);
/* How many log lines start with `prefix`. */
int httpd_count_prefix(const struct httpd *d, const char *prefix);

/* A loopback port with nothing listening (bound then closed). */
int httpd_dead_port(void);

/* Folder of the HTTP fixtures: $FM_TEST_DATA_DIR/http. Static buffer. */
const char *httpd_fixtures(void);

#endif
