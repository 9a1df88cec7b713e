/* dedupe_similar: the index on disk (see state.h). */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "sketch.h"

static const char MAGIC[8] = {'F', 'M', 'D', 'E', 'D', 'U', 'P', '\n'};

/* sane bounds for what a file may claim, so a damaged count cannot ask for gigabytes */
#define MAX_STR (1u << 20)
#define MAX_SAMPLES (1u << 24)

static void put_u32(struct fm_buf *b, uint32_t v)
{
	unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
	                      (unsigned char)(v >> 24)};
	fm_buf_append(b, (const char *)x, 4);
}

static void put_u64(struct fm_buf *b, uint64_t v)
{
	put_u32(b, (uint32_t)v);
	put_u32(b, (uint32_t)(v >> 32));
}

static void put_str(struct fm_buf *b, const char *s)
{
	size_t n = strlen(s);
	put_u32(b, (uint32_t)n);
	fm_buf_append(b, s, n);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int dd_state_save(const struct dd_index *ix, const char *dir, char *err, size_t errlen)
{
	struct fm_buf b = FM_BUF_INIT;
	char *path = NULL, *tmp = NULL;
	int fd = -1, rc = 0;

	fm_buf_append(&b, MAGIC, sizeof(MAGIC));
	put_u32(&b, DD_STATE_VERSION);
	put_u32(&b, DD_REVFP_VERSION);
	put_u64(&b, ix->next_seq);
	put_u64(&b, (uint64_t)ix->newest_ms);
	/* number the clusters of the live slots; a story whose documents all left is not saved */
	uint32_t ncl = 0;
	for (uint32_t i = 0; i < ix->fifo_len; i++)
		ix->slots[dd_index_fifo_at(ix, i)].cl->save_index = UINT32_MAX;
	size_t ncl_at = b.len;
	put_u32(&b, 0);
	put_u32(&b, ix->fifo_len);
	for (uint32_t i = 0; i < ix->fifo_len; i++) {
		struct dd_cluster *cl = ix->slots[dd_index_fifo_at(ix, i)].cl;
		if (cl->save_index != UINT32_MAX)
			continue;
		cl->save_index = ncl++;
		put_str(&b, cl->key);
		put_u64(&b, cl->seq);
		put_u32(&b, cl->nsources);
		for (uint32_t k = 0; k < cl->nsources; k++)
			put_str(&b, cl->sources[k]);
	}
	for (uint32_t i = 0; i < ix->fifo_len; i++) {
		const struct dd_slot *s = &ix->slots[dd_index_fifo_at(ix, i)];
		put_u64(&b, s->seq);
		put_u64(&b, (uint64_t)s->time_ms);
		put_u32(&b, s->cl->save_index);
		put_u64(&b, s->idkey);
		put_u64(&b, s->urlkey);
		put_u64(&b, s->fp);
		put_u32(&b, s->nsamples);
		put_u32(&b, s->nanchors);
		put_u32(&b, s->rate);
		/* version 2: what a reader saw, its revision and its standing; a delivery in flight
		 * is not known to be published: saved as tentative */
		put_u64(&b, s->srckey);
		put_u64(&b, s->revfp);
		put_u32(&b, s->rev);
		put_u32(&b, s->flags & DD_SAVED_FLAGS);
		for (uint32_t k = 0; k < s->nsamples + s->nanchors; k++)
			put_u32(&b, s->samples[k]);
	}
	if (b.oom) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	unsigned char *cnt = (unsigned char *)b.data + ncl_at;
	cnt[0] = (unsigned char)ncl;
	cnt[1] = (unsigned char)(ncl >> 8);
	cnt[2] = (unsigned char)(ncl >> 16);
	cnt[3] = (unsigned char)(ncl >> 24);
	put_u64(&b, dd_hash_bytes(b.data, b.len, 0));

	if (asprintf(&path, "%s/%s", dir, DD_STATE_FILE) < 0 ||
	    asprintf(&tmp, "%s/.%s.%ld.tmp", dir, DD_STATE_FILE, (long)getpid()) < 0) {
		path = tmp = NULL;
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	rc = write_all(fd, b.data, b.len);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	fd = -1;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		unlink(tmp);
		goto out;
	}
	/* make the rename itself durable */
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
out:
	if (fd >= 0)
		close(fd);
	free(path);
	free(tmp);
	fm_buf_free(&b);
	return rc;
}

/* --- reading: every read checked against the end --- */

struct reader {
	const unsigned char *p, *end;
	const char *why;
};

static uint32_t get_u32(struct reader *r)
{
	if (r->why || r->end - r->p < 4) {
		r->why = r->why ? r->why : "truncated";
		return 0;
	}
	uint32_t v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
	             (uint32_t)r->p[3] << 24;
	r->p += 4;
	return v;
}

static uint64_t get_u64(struct reader *r)
{
	uint64_t lo = get_u32(r);
	return lo | (uint64_t)get_u32(r) << 32;
}

static char *get_str(struct reader *r)
{
	uint32_t n = get_u32(r);
	if (r->why)
		return NULL;
	if (n > MAX_STR || (size_t)(r->end - r->p) < n) {
		r->why = "bad string length";
		return NULL;
	}
	char *s = strndup((const char *)r->p, n);
	if (!s) {
		r->why = "out of memory";
		return NULL;
	}
	if (strlen(s) != n) {
		free(s);
		r->why = "NUL inside a string";
		return NULL;
	}
	r->p += n;
	return s;
}

static int read_file(const char *path, unsigned char **data, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	size_t n = (size_t)st.st_size;
	unsigned char *buf = malloc(n ? n : 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	*data = buf;
	*len = got;
	return 0;
}

int dd_state_load(struct dd_index *ix, const char *dir, int *found, char *err, size_t errlen)
{
	char *path = NULL;
	unsigned char *data = NULL;
	size_t len = 0;
	struct dd_cluster **cls = NULL;
	uint32_t ncl = 0, made = 0;
	int rc = 0;

	*found = 0;
	if (asprintf(&path, "%s/%s", dir, DD_STATE_FILE) < 0)
		return -ENOMEM;
	rc = read_file(path, &data, &len);
	if (rc == -ENOENT) {
		rc = 0;
		goto out;
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		goto out;
	}
	*found = 1;
	struct reader r = {data, data + len, NULL};
	if (len < sizeof(MAGIC) + 8 + 8 || memcmp(data, MAGIC, sizeof(MAGIC)) != 0) {
		r.why = "not a feedmill dedupe index";
		goto bad;
	}
	uint64_t sum = dd_hash_bytes(data, len - 8, 0);
	struct reader tail = {data + len - 8, data + len, NULL};
	if (get_u64(&tail) != sum) {
		r.why = "checksum mismatch";
		goto bad;
	}
	r.end = data + len - 8;
	r.p += sizeof(MAGIC);
	uint32_t version = get_u32(&r);
	if (version != DD_STATE_VERSION && version != 1) {
		snprintf(err, errlen, "%s: format version %u, this plugin reads %u", path, version,
		         DD_STATE_VERSION);
		rc = -EINVAL;
		goto out;
	}
	/* fingerprints of another way of computing them would all read as revisions */
	bool revfp_ok = get_u32(&r) == DD_REVFP_VERSION;
	uint64_t next_seq = get_u64(&r);
	int64_t newest = (int64_t)get_u64(&r);
	ncl = get_u32(&r);
	uint32_t nslots = get_u32(&r);
	if (r.why)
		goto bad;
	/* each cluster takes at least 16 bytes and each slot 60: counts beyond that are lies */
	if ((uint64_t)ncl * 16 > (uint64_t)(r.end - r.p) ||
	    (uint64_t)nslots * 60 > (uint64_t)(r.end - r.p)) {
		r.why = "counts larger than the file";
		goto bad;
	}
	cls = calloc(ncl ? ncl : 1, sizeof(*cls));
	if (!cls) {
		rc = -ENOMEM;
		goto out;
	}
	for (; made < ncl && !r.why; made++) {
		char *key = get_str(&r);
		uint64_t cseq = get_u64(&r);
		uint32_t ns = get_u32(&r);
		char *first = ns ? get_str(&r) : NULL;
		if (r.why || ns == 0 || ns > 4096) {
			free(key);
			free(first);
			r.why = r.why ? r.why : "bad source count";
			break;
		}
		cls[made] = dd_cluster_new(ix, key, first);
		free(key);
		free(first);
		if (!cls[made]) {
			rc = -ENOMEM;
			goto out;
		}
		cls[made]->seq = cseq;
		for (uint32_t k = 1; k < ns && !r.why; k++) {
			char *src = get_str(&r);
			if (src && dd_cluster_add_source(ix, cls[made], src, UINT32_MAX) < 0)
				r.why = "out of memory";
			free(src);
		}
	}
	if (r.why)
		goto bad;
	for (uint32_t i = 0; i < nslots; i++) {
		uint64_t seq = get_u64(&r);
		int64_t t = (int64_t)get_u64(&r);
		uint32_t ci = get_u32(&r);
		uint64_t idk = get_u64(&r), urlk = get_u64(&r), fp = get_u64(&r);
		uint32_t ns = get_u32(&r), na = get_u32(&r), rate = get_u32(&r);
		/* version 1 kept no standing: its documents were taken as published then */
		uint64_t srckey = version >= 2 ? get_u64(&r) : 0;
		uint64_t revfp = version >= 2 ? get_u64(&r) : 0;
		uint32_t rev = version >= 2 ? get_u32(&r) : 1;
		uint32_t flags = version >= 2 ? get_u32(&r) & DD_SAVED_FLAGS : DD_ACKED;
		if (r.why)
			goto bad;
		if (ci >= ncl || (rate != 1 && rate != 2 && rate != 4) || ns > MAX_SAMPLES || na > MAX_SAMPLES ||
		    ((uint64_t)ns + na) * 4 > (uint64_t)(r.end - r.p)) {
			r.why = "bad document record";
			goto bad;
		}
		uint32_t *v = malloc(((size_t)ns + na + 1) * sizeof(uint32_t));
		if (!v) {
			rc = -ENOMEM;
			goto out;
		}
		for (uint32_t k = 0; k < ns + na; k++)
			v[k] = get_u32(&r);
		uint32_t si = dd_index_add(ix, seq, t, cls[ci], idk, urlk, fp, v, ns, rate, v + ns, na);
		free(v);
		if (si == DD_NONE) {
			rc = -ENOMEM;
			goto out;
		}
		ix->slots[si].srckey = srckey;
		ix->slots[si].revfp = revfp_ok ? revfp : 0;
		ix->slots[si].rev = rev ? rev : 1;
		ix->slots[si].flags = flags;
	}
	if (r.p != r.end) {
		r.why = "trailing bytes";
		goto bad;
	}
	if (next_seq > ix->next_seq)
		ix->next_seq = next_seq;
	if (newest > ix->newest_ms)
		ix->newest_ms = newest;
	goto out;
bad:
	snprintf(err, errlen, "%s: corrupt (%s)", path, r.why ? r.why : "?");
	rc = -EINVAL;
out:
	for (uint32_t i = 0; i < made; i++)
		dd_cluster_unref(ix, cls[i]);
	free(cls);
	if (rc < 0) {
		/* leave nothing half-loaded */
		dd_index_fini(ix);
		dd_index_init(ix);
	}
	free(data);
	free(path);
	return rc;
}
