#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

int64_t fm_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t fm_monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int fm_mkdirs(const char *path, unsigned mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) != 0 && errno != EEXIST)
		return -errno;
	/* EEXIST also comes for a file of that name: it is no directory to work in. */
	struct stat st;
	if (stat(buf, &st) != 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : remove(path);
}

int fm_remove_tree(const char *path)
{
	/* most often empty (a pipe whose stages kept nothing): one rmdir, no walk */
	if (rmdir(path) == 0)
		return 0;
	if (errno != ENOTEMPTY && errno != EEXIST)
		return -errno;
	if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		return -errno;
	return 0;
}

char *fm_path_join(const char *dir, const char *name)
{
	char *out = NULL;
	if (name[0] == '/' || !dir || !dir[0])
		return strdup(name);
	size_t dl = strlen(dir);
	if (asprintf(&out, "%s%s%s", dir, dir[dl - 1] == '/' ? "" : "/", name) < 0)
		return NULL;
	return out;
}

char *fm_path_tidy(const char *path)
{
	size_t n = strlen(path);
	char *out = malloc(n + 2);
	const char **parts = calloc(n / 2 + 2, sizeof(*parts));
	size_t *lens = calloc(n / 2 + 2, sizeof(*lens));
	size_t np = 0;
	if (!out || !parts || !lens) {
		free(out);
		free(parts);
		free(lens);
		return NULL;
	}
	bool abs = path[0] == '/';
	for (const char *p = path; *p;) {
		while (*p == '/')
			p++;
		const char *e = p + strcspn(p, "/");
		size_t l = (size_t)(e - p);
		if (l == 0 || (l == 1 && p[0] == '.')) {
			/* nothing */
		} else if (l == 2 && p[0] == '.' && p[1] == '.' && np &&
		           !(lens[np - 1] == 2 && parts[np - 1][0] == '.' && parts[np - 1][1] == '.')) {
			np--;
		} else if (!(l == 2 && p[0] == '.' && p[1] == '.' && abs)) {
			parts[np] = p;
			lens[np++] = l;
		}
		p = e;
	}
	size_t o = 0;
	if (abs)
		out[o++] = '/';
	for (size_t i = 0; i < np; i++) {
		if (i)
			out[o++] = '/';
		memcpy(out + o, parts[i], lens[i]);
		o += lens[i];
	}
	if (o == 0)
		out[o++] = '.';
	out[o] = '\0';
	free(parts);
	free(lens);
	return out;
}

char *fm_path_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

int fm_read_file(const char *path, size_t max, char **data, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fm_read_fd(fd, max, data, len);
	close(fd);
	return rc;
}

int fm_read_fd(int fd, size_t max, char **data, size_t *len)
{
	/* sized by the file when it says (a config of 5 KB took a 64 KB buffer, then a 128 KB
	 * one: 33 page faults), grown when it is longer than it said or is not a regular file */
	if (max > SIZE_MAX / 2)
		max = SIZE_MAX / 2;
	struct stat st;
	size_t cap = 4096;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0)
		cap = (size_t)st.st_size < max ? (size_t)st.st_size + 1 : max + 1;
	int rc = 0;
	size_t n = 0;
	char *buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (n == cap) {
			if (n > max) {
				rc = -EFBIG;
				break;
			}
			size_t nc = cap * 2 > max + 1 ? max + 1 : cap * 2;
			char *p = realloc(buf, nc + 1);
			if (!p) {
				rc = -ENOMEM;
				break;
			}
			buf = p;
			cap = nc;
		}
		ssize_t got = read(fd, buf + n, cap - n);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			rc = -EIO;
			break;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	if (rc == 0 && n > max)
		rc = -EFBIG;
	if (rc != 0) {
		free(buf);
		return rc;
	}
	buf[n] = '\0';
	*data = buf;
	if (len)
		*len = n;
	return 0;
}

int fm_write_file_atomic(const char *path, const void *data, size_t len)
{
	char *tmp = NULL;
	int rc = 0;
	if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0)
		return -ENOMEM;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	const char *p = data;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			close(fd);
			unlink(tmp);
			goto out;
		}
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		rc = -errno;
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path) != 0) {
		rc = -errno;
		unlink(tmp);
	}
out:
	free(tmp);
	return rc;
}

char *fm_exe_dir(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	return fm_path_dirname(buf);
}

void fm_format_time(int64_t ms, char *buf, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

char *fm_endpoint_next_port(const char *ep)
{
	const char *colon = strrchr(ep, ':');
	char *out = NULL;
	if (!colon || asprintf(&out, "%.*s:%ld", (int)(colon - ep), ep,
	                       strtol(colon + 1, NULL, 10) + 1) < 0)
		return NULL;
	return out;
}

char *fm_redact_url(const char *url)
{
	const char *scheme = strstr(url, "://");
	if (!scheme)
		return strdup(url);
	const char *host = scheme + 3;
	const char *end = host + strcspn(host, "/?#");
	const char *at = NULL;
	for (const char *p = host; p < end; p++)
		if (*p == '@')
			at = p;
	if (!at)
		return strdup(url);
	char *out = NULL;
	if (asprintf(&out, "%.*s***@%s", (int)(host - url), url, at + 1) < 0)
		return NULL;
	return out;
}

/*
 * A pipeline's working set is its documents in flight: the hub holds each one's line, parsed
 * values and prepared data until the answer comes, and the same few megabytes are used again
 * document after document. Left alone, glibc grows the heap with sbrk and the kernel maps it a
 * 4 KB page at a time as it is first written: ~500 page faults in the first 2 MB, which on a
 * virtual machine cost ~13 us each (2 MB touched page by page: 7 ms; the same 2 MB with
 * madvise(MADV_POPULATE_WRITE) first: 0.5 ms, and 1.4 ms to touch it after; measured on the
 * 2-core VM the benchmarks run on). That was ~4 ms of a 60 ms run of the dedupe benchmark.
 *
 * So the heap is grown at start by what the window needs and populated in one call (Linux
 * 5.14; on an older kernel madvise fails and the pages fault in as before), and glibc is told
 * to keep it: no trimming of the top of the heap below bytes + 8 MB, and blocks up to 4 MB (or
 * twice bytes) from the heap rather than from mmap (each mmap'd block is fresh pages again).
 * Setting these also turns off glibc's own moving thresholds (mallopt(3)), which would
 * otherwise do much the same after the first large free.
 */
void fm_heap_prefault(size_t bytes)
{
#if defined(__GLIBC__) && defined(M_TRIM_THRESHOLD) && defined(MADV_POPULATE_WRITE)
	const size_t page = 4096, most = (size_t)16 << 20;
	if (bytes == 0)
		return;
	if (bytes > most)
		bytes = most;
	/* above bytes, so that the block below comes from the heap (at most 32 MB: mallopt) */
	size_t mmap_min = bytes * 2 > ((size_t)4 << 20) ? bytes * 2 : (size_t)4 << 20;
	mallopt(M_MMAP_THRESHOLD, (int)mmap_min);
	mallopt(M_TRIM_THRESHOLD, (int)(bytes + ((size_t)8 << 20)));
	char *p = malloc(bytes);
	if (!p)
		return;
	uintptr_t a = ((uintptr_t)p + page - 1) & ~(uintptr_t)(page - 1);
	uintptr_t e = ((uintptr_t)p + bytes) & ~(uintptr_t)(page - 1);
	if (e > a)
		(void)madvise((void *)a, e - a, MADV_POPULATE_WRITE);
	free(p);
#else
	(void)bytes;
#endif
}

int fm_lock_file(const char *dir, const char *name, int64_t wait_ms, const char *what)
{
	char *path = fm_path_join(dir, name);
	if (!path)
		return -ENOMEM;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	int rc = fd < 0 ? -errno : 0;
	int64_t deadline = fm_monotonic_ms() + wait_ms;
	bool said = false;
	while (rc == 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			rc = -errno;
			break;
		}
		if (fm_monotonic_ms() >= deadline) {
			rc = -EWOULDBLOCK;
			break;
		}
		if (!said) {
			log_notice("waiting for %s to finish (%s is locked)", what, path);
			said = true;
		}
		usleep(20000);
	}
	free(path);
	if (rc < 0) {
		if (fd >= 0)
			close(fd);
		return rc;
	}
	return fd;
}
