/*
 * The regexes of tag and block rules, compiled by PCRE2 within hard bounds.
 *
 * glibc's regcomp() (the rules' engine before) builds automata whose size is not bounded by
 * the pattern's: 24 '+' in a row made one 30-byte rule take 3.8 GB. PCRE2 compiles in time and
 * memory linear in the pattern, and its matcher takes limits. Here every byte PCRE2 allocates
 * for one regex (while compiling it, its compiled form, the JIT's working memory) is counted
 * and refused past FM_RE_MAX_MEMORY, the JIT's code is held to the same bound, and a match is
 * bounded in steps and in stack or heap, so a hostile rule costs bounded memory and time.
 *
 * The syntax is the rules file's (config/rules.example): POSIX extended regular expressions
 * with the GNU \b \B \< \> \w \W \s \S, which PCRE2 reads the same way but for \< \> and
 * {,n}, translated here. Perl's additions (\d, lookarounds, lazy x*?) work too.
 */
#ifndef FM_CLASSIFY_REGEX_H
#define FM_CLASSIFY_REGEX_H

#include <stdbool.h>
#include <stddef.h>

/* Memory one regex may take: compiling it (all of PCRE2's allocations), its compiled form and
 * its JIT code, each bounded by this. */
#define FM_RE_MAX_MEMORY (1u << 20)
/* Steps (PCRE2's match limit) one regex may take on one field before it gives up. */
#define FM_RE_MATCH_LIMIT 1000000u
/* Stack of the JIT matcher, per worker; heap of the interpreter (used where there is no JIT),
 * in KiB. */
#define FM_RE_JIT_STACK (1u << 20)
#define FM_RE_HEAP_LIMIT_KIB 4096u

struct fm_re;
struct fm_re_scratch;

/* Compile pattern (a rule's regex, '\/' already unescaped). Returns 0 and *out (the caller's,
 * freed with fm_re_free), or -EINVAL with a message (no location) in err, or -ENOMEM. A
 * compiled regex may be matched from several threads at once, each with its own scratch. */
int fm_re_compile(const char *pattern, bool icase, struct fm_re **out, char *err,
                  size_t errlen);
void fm_re_free(struct fm_re *re);

/* Per-instance matching memory (match data, limits, JIT stack), made on first use. */
struct fm_re_scratch *fm_re_scratch_new(void);
void fm_re_scratch_free(struct fm_re_scratch *s);

/* Does re match somewhere in text[0..len) (valid or not UTF-8)? 1 or 0; -E2BIG when a limit
 * was reached first (the caller counts it as no match); -ENOMEM. */
int fm_re_match(const struct fm_re *re, struct fm_re_scratch *s, const char *text, size_t len);

#endif
