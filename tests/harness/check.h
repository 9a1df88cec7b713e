/*
 * Checks for every C test: count failures, print file:line and the condition, never abort.
 * Link with `check_dep` (tests/meson.build); harness.h includes this header, and tests of a
 * plugin's internals that do not load it through the host use it alone.
 */
#ifndef FM_TEST_CHECK_H
#define FM_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

extern int fmt_failures;

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
			fmt_failures++;                                                          \
		}                                                                                \
	} while (0)
#define CHECK_STR(a, b)                                                                          \
	do {                                                                                     \
		const char *a_ = (a), *b_ = (b);                                                 \
		if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                         \
			fprintf(stderr, "%s:%d: CHECK_STR failed: %s == %s\n  got:      %s\n  expected: %s\n", \
			        __FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
			fmt_failures++;                                                          \
		}                                                                                \
	} while (0)

/* End of main(): prints a summary, returns the exit status. */
int fmt_done(const char *test_name);

#endif
