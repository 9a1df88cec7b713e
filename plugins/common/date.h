/* Lenient date parsing: the one date reader of the bundled plugins (feeds, documents). */
#ifndef FMKIT_DATE_H
#define FMKIT_DATE_H

#include <stddef.h>
#include <time.h>

/* Parse a feed date: RFC 822/1123/2822 ("Sat, 07 Sep 2002 00:00:01 GMT", two-digit years,
 * missing seconds, named zones EST/PDT/..., military zones), RFC 3339 / ISO 8601 (basic and
 * extended, week/ordinal dates, missing zone = UTC), W3C-DTF partial dates ("2003", "2003-12"),
 * and common broken variants (extra words, single-digit fields, "T" or space separators).
 * Returns the instant as seconds since the epoch (UTC), or -1 when it cannot be understood. */
time_t fm_date_parse(const char *s);

/* Format t as RFC 3339 UTC ("2004-01-01T19:48:21Z") into out (at least 21 bytes). */
void fm_date_format(time_t t, char out[static 21]);

#endif
