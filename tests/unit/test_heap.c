/*
 * fm_heap_prefault: after it, the heap holds the promised room already mapped, so the documents
 * that then fill it cost no page fault each; and glibc keeps it (freeing a large block does not
 * hand the pages back to be faulted in again).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "unit.h"
#include "util.h"

static long minor_faults(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/* Fill n blocks of size bytes each (the way documents in flight fill the hub's heap), then
 * free them; the minor page faults that took. */
static long fill(size_t n, size_t size)
{
	char **v = calloc(n, sizeof(*v));
	if (!v)
		abort();
	long before = minor_faults();
	for (size_t i = 0; i < n; i++) {
		v[i] = malloc(size);
		if (!v[i])
			abort();
		memset(v[i], 'x', size);
	}
	long faults = minor_faults() - before;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return faults;
}

int main(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	/* a sanitizer's allocator is not glibc's: nothing here applies */
	return fmt_done("test_heap");
#else
	/* 256 documents of 3 KB: 768 KB, ~190 pages the first time */
	fm_heap_prefault((size_t)2 << 20);
	long first = fill(256, 3000);
	CHECK(first < 40);
	/* a block larger than glibc's default mmap threshold comes from the kept heap too, and
	 * once freed its pages stay: the second time costs nothing either */
	char *big = malloc((size_t)1 << 20);
	CHECK(big != NULL);
	memset(big, 'y', (size_t)1 << 20);
	free(big);
	long again = fill(256, 3000);
	CHECK(again < 40);
	return fmt_done("test_heap");
#endif
}
