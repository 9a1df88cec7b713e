/* publish:jsonl — what was written (jsonl_seen.h). */
#include "jsonl_seen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <feedmill/doc.h>

#include "atomic.h"
#include "idset.h"

static const char MAGIC[8] = {'F', 'M', 'J', 'S', 'E', 'E', 'N', '1'};

static uint64_t key_of(const char *id, size_t len, int64_t revision)
{
	uint64_t h = fm_id_hash(id, len);
	if (revision > 1) {
		h ^= (uint64_t)revision * 0x9E3779B97F4A7C15ull;
		h *= 0xbf58476d1ce4e5b9ull;
		h ^= h >> 31;
	}
	return h ? h : 1;
}

uint64_t jsonl_doc_key(const json_t *doc)
{
	json_t *v = json_object_get(doc, FM_DOC_ID);
	if (!json_is_string(v) || json_string_length(v) == 0)
		v = json_object_get(doc, FM_DOC_URL);
	if (!json_is_string(v) || json_string_length(v) == 0)
		return 0;
	return key_of(json_string_value(v), json_string_length(v),
	              fm_doc_int(doc, FM_DOC_REVISION, 1));
}

uint64_t jsonl_line_key(const char *s, size_t n)
{
	/* the common shape, {"id":"..." with no escape in it and no revision: no parse */
	static const char pre[] = "{\"id\":\"";
	size_t pl = sizeof(pre) - 1;
	if (n > pl && memcmp(s, pre, pl) == 0 && !memmem(s, n, "\"revision\":", 11)) {
		const char *q = memchr(s + pl, '"', n - pl);
		if (q && q > s + pl && !memchr(s + pl, '\\', (size_t)(q - (s + pl))))
			return key_of(s + pl, (size_t)(q - (s + pl)), 1);
	}
	json_t *doc = json_loadb(s, n, JSON_DISABLE_EOF_CHECK, NULL);
	uint64_t h = doc ? jsonl_doc_key(doc) : 0;
	json_decref(doc);
	return h;
}

/* ---- reading files ---- */

static int read_from(const char *path, uint64_t from, char **data, size_t *len)
{
	*data = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = S_ISREG(st.st_mode) ? -errno : -EINVAL;
		goto out;
	}
	size_t size = (uint64_t)st.st_size > from ? (size_t)((uint64_t)st.st_size - from) : 0;
	if (!(*data = malloc(size + 1))) {
		rc = -ENOMEM;
		goto out;
	}
	size_t got = 0;
	while (got < size) {
		ssize_t r = pread(fd, *data + got, size - got, (off_t)(from + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r < 0)
				rc = -errno;
			break;
		}
		got += (size_t)r;
	}
	*len = got;
out:
	close(fd);
	if (rc < 0) {
		free(*data);
		*data = NULL;
	}
	return rc;
}

/* Add the keys of the whole lines of path from byte `from` on, oldest first. */
static int scan_forward(struct fm_idset *set, const char *path, uint64_t from)
{
	char *data;
	size_t len;
	int rc = read_from(path, from, &data, &len);
	if (rc < 0)
		return rc == -ENOENT ? 0 : rc;
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		if (!nl)
			break;
		size_t n = (size_t)(nl - (data + pos));
		uint64_t h = n ? jsonl_line_key(data + pos, n) : 0;
		if (h)
			fm_idset_add(set, h);
		pos += n + 1;
	}
	free(data);
	return 0;
}

/* No checkpoint: the newest lines of the newest files until the set is full, added oldest
 * first so that the oldest are the ones evicted later. */
static int rebuild(struct fm_idset *set, const struct jf *f, long keep, size_t cap)
{
	uint64_t *hs = NULL;
	size_t n = 0, alloc = 0;
	int rc = 0;
	for (long i = 0; (keep <= 0 || i <= keep) && n < cap; i++) {
		char *name = jf_name(f->path, i), *data = NULL;
		size_t len = 0;
		rc = name ? read_from(name, 0, &data, &len) : -ENOMEM;
		free(name);
		if (rc == -ENOENT && i == 0)
			continue;
		if (rc == -ENOENT) {
			rc = 0;
			break;
		}
		if (rc < 0)
			break;
		for (size_t end = len; end > 0 && n < cap;) {
			size_t start = end - 1;
			while (start > 0 && data[start - 1] != '\n')
				start--;
			uint64_t h = end - start > 1 ? jsonl_line_key(data + start, end - start - 1) : 0;
			if (h && n == alloc) {
				alloc = alloc ? alloc * 2 : 4096;
				uint64_t *nh = realloc(hs, alloc * sizeof(*nh));
				if (!nh) {
					free(data);
					free(hs);
					return -ENOMEM;
				}
				hs = nh;
			}
			if (h)
				hs[n++] = h;
			end = start;
		}
		free(data);
	}
	for (size_t i = n; i > 0; i--)
		fm_idset_add(set, hs[i - 1]);
	free(hs);
	return rc;
}

/* ---- the checkpoint ---- */

struct ckpt {
	uint64_t ino, size, n;
	const unsigned char *keys;
};

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* The checkpoint read into c (keys point into data). 0, -ENOENT, or -EINVAL (damaged). */
static int read_ckpt(const char *path, char **data, struct ckpt *c)
{
	size_t len;
	int rc = read_from(path, 0, data, &len);
	if (rc < 0)
		return rc;
	const unsigned char *p = (const unsigned char *)*data;
	if (len < 32 || memcmp(p, MAGIC, 8) != 0)
		return -EINVAL;
	c->ino = get64(p + 8);
	c->size = get64(p + 16);
	c->n = get64(p + 24);
	if (c->n > (len - 32) / 8 || len != 32 + c->n * 8)
		return -EINVAL;
	c->keys = p + 32;
	return 0;
}

static bool same_file(const char *path, uint64_t ino, uint64_t *size)
{
	struct stat st;
	if (stat(path, &st) != 0 || (uint64_t)st.st_ino != ino)
		return false;
	*size = (uint64_t)st.st_size;
	return true;
}

int jsonl_seen_load(struct fm_idset *set, const char *checkpoint, const struct jf *f,
                    long keep)
{
	char *data = NULL;
	struct ckpt c;
	int rc = read_ckpt(checkpoint, &data, &c);
	uint64_t size = 0;
	char *first = jf_name(f->path, 1);
	if (!first) {
		free(data);
		return -ENOMEM;
	}
	/* the checkpoint covers the current file up to c.size, or the one just rotated away */
	bool current = rc == 0 && (uint64_t)f->ino == c.ino && f->size >= c.size;
	bool rotated = rc == 0 && !current && same_file(first, c.ino, &size) && size >= c.size;
	if (current || rotated) {
		for (uint64_t i = 0; i < c.n; i++)
			fm_idset_add(set, get64(c.keys + i * 8));
		rc = rotated ? scan_forward(set, first, c.size) : 0;
		if (rc == 0)
			rc = scan_forward(set, f->path, current ? c.size : 0);
	} else {
		if (rc == -EINVAL)
			fm_warn(f->host, f->inst, "ignoring the damaged checkpoint %s; reading %s",
			        checkpoint, f->path);
		else if (rc == 0)
			fm_info(f->host, f->inst, "%s was replaced since the last checkpoint; reading "
			        "it", f->path);
		rc = rebuild(set, f, keep, fm_idset_capacity(set));
	}
	free(first);
	free(data);
	if (rc < 0)
		fm_err(f->host, f->inst, "cannot read what %s holds: %s", f->path, strerror(-rc));
	return rc;
}

int jsonl_seen_save(const struct fm_idset *set, const char *checkpoint, const struct jf *f)
{
	size_t n = fm_idset_size(set);
	unsigned char *buf = malloc(32 + n * 8);
	uint64_t *keys = malloc((n ? n : 1) * sizeof(*keys));
	int rc = -ENOMEM;
	if (buf && keys) {
		memcpy(buf, MAGIC, 8);
		put64(buf + 8, (uint64_t)f->ino);
		put64(buf + 16, f->size);
		put64(buf + 24, n);
		fm_idset_export(set, keys);
		for (size_t i = 0; i < n; i++)
			put64(buf + 32 + i * 8, keys[i]);
		rc = fm_atomic_write(checkpoint, buf, 32 + n * 8, f->fsync);
	}
	free(buf);
	free(keys);
	if (rc < 0)
		fm_warn(f->host, f->inst, "cannot save %s: %s (the next start reads more of %s)",
		        checkpoint, strerror(-rc), f->path);
	return rc;
}
