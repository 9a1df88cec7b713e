#include "check.h"

int fmt_failures;

int fmt_done(const char *test_name)
{
	if (fmt_failures) {
		fprintf(stderr, "%s: %d check(s) failed\n", test_name, fmt_failures);
		return 1;
	}
	fprintf(stderr, "%s: all checks passed\n", test_name);
	return 0;
}
