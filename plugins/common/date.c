/*
 * Lenient feed date parsing. Two readers: an ISO 8601 / RFC 3339 / W3C-DTF one for strings
 * that start with a year, and a token-based one for RFC 822 and its many broken relatives
 * ("Sun, 1 Feb 04 9:05 PDT", "January 5, 2004 10:00 am EST", asctime). Both produce a UTC
 * instant; the calendar arithmetic is the days-from-civil algorithm (H. Hinnant, "chrono-
 * Compatible Low-Level Date Algorithms"), so no timegm()/TZ dependence.
 */
#include "date.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static long long days_from_civil(long long y, unsigned m, unsigned d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

static bool is_leap(long y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(long y, int m)
{
	static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

struct dt {
	long year;
	int mon, day, hour, min, sec;
	long tz; /* seconds east of UTC */
};

static time_t make_time(const struct dt *t)
{
	if (t->year < 1 || t->year > 9999 || t->mon < 1 || t->mon > 12 || t->day < 1 ||
	    t->day > month_days(t->year, t->mon) || t->hour < 0 || t->hour > 24 || t->min < 0 ||
	    t->min > 59 || t->sec < 0 || t->sec > 60)
		return -1;
	if (t->hour == 24 && (t->min || t->sec))
		return -1;
	long long days = days_from_civil(t->year, (unsigned)t->mon, (unsigned)t->day);
	long long s = days * 86400LL + t->hour * 3600LL + t->min * 60LL + t->sec - t->tz;
	if ((long long)(time_t)s != s)
		return -1;
	return (time_t)s;
}

void fm_date_format(time_t t, char out[static 21])
{
	long long s = (long long)t;
	long long days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
	long long rem = s - days * 86400;
	/* civil_from_days (same source as above) */
	long long z = days + 719468;
	long long era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long long y = (long long)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	unsigned d = doy - (153 * mp + 2) / 5 + 1;
	unsigned m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	if (y < 0 || y > 9999) {
		memcpy(out, "1970-01-01T00:00:00Z", 21);
		return;
	}
	unsigned v[6] = {(unsigned)y, m, d, (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60),
	                 (unsigned)(rem % 60)};
	/* hand-formatted: this runs for every date of every item */
	char *o = out;
	o[0] = (char)('0' + v[0] / 1000);
	o[1] = (char)('0' + v[0] / 100 % 10);
	o[2] = (char)('0' + v[0] / 10 % 10);
	o[3] = (char)('0' + v[0] % 10);
	o += 4;
	static const char seps[] = "--T::Z";
	for (int i = 1; i < 6; i++) {
		*o++ = seps[i - 1];
		*o++ = (char)('0' + v[i] / 10 % 10);
		*o++ = (char)('0' + v[i] % 10);
	}
	*o++ = 'Z';
	*o = '\0';
}

/* ---- zones ---- */

static bool zone_name(const char *w, size_t n, long *tz)
{
	static const struct {
		const char *name;
		int hours; /* times 100 for half hours: use minutes below */
		int mins;
	} z[] = {
		{"UT", 0, 0}, {"UTC", 0, 0}, {"GMT", 0, 0}, {"Z", 0, 0}, {"WET", 0, 0},
		{"BST", 1, 0}, {"CET", 1, 0}, {"MET", 1, 0}, {"WEST", 1, 0}, {"CEST", 2, 0},
		{"MEST", 2, 0}, {"EET", 2, 0}, {"EEST", 3, 0}, {"MSK", 3, 0}, {"IST", 5, 30},
		{"HKT", 8, 0}, {"SGT", 8, 0}, {"AWST", 8, 0}, {"JST", 9, 0}, {"KST", 9, 0},
		{"ACST", 9, 30}, {"AEST", 10, 0}, {"AEDT", 11, 0}, {"NZST", 12, 0}, {"NZDT", 13, 0},
		{"EST", -5, 0}, {"EDT", -4, 0}, {"CST", -6, 0}, {"CDT", -5, 0}, {"MST", -7, 0},
		{"MDT", -6, 0}, {"PST", -8, 0}, {"PDT", -7, 0}, {"AST", -4, 0}, {"ADT", -3, 0},
		{"AKST", -9, 0}, {"AKDT", -8, 0}, {"HST", -10, 0}, {"NST", -3, -30},
		{"NDT", -2, -30},
	};
	for (size_t i = 0; i < sizeof(z) / sizeof(z[0]); i++) {
		if (strlen(z[i].name) == n && !strncasecmp(w, z[i].name, n)) {
			*tz = z[i].hours * 3600L + z[i].mins * 60L;
			return true;
		}
	}
	/* RFC 822 military zones: A-I, K-M east (+1..+12), N-Y west (-1..-12). Their sign was
	 * specified backwards in RFC 822 and is unreliable in practice (RFC 2822 section 4.3
	 * says treat as -0000), so read them as UTC. */
	if (n == 1 && isalpha((unsigned char)w[0]) && toupper((unsigned char)w[0]) != 'J') {
		*tz = 0;
		return true;
	}
	return false;
}

/* "+hh:mm", "+hhmm", "+hh", "-h" at p; advances *pp. */
static bool numeric_zone(const char **pp, long *tz)
{
	const char *p = *pp;
	if (*p != '+' && *p != '-' && *p != '\xe2')
		return false;
	int sign = 1;
	if (*p == '-')
		sign = -1;
	else if (!strncmp(p, "\xe2\x88\x92", 3)) { /* U+2212 MINUS SIGN */
		sign = -1;
		p += 2;
	} else if (*p != '+')
		return false;
	p++;
	int digits = 0, v = 0;
	while (isdigit((unsigned char)*p) && digits < 4) {
		v = v * 10 + (*p - '0');
		p++;
		digits++;
	}
	int h, m = 0;
	if (digits == 4) {
		h = v / 100;
		m = v % 100;
	} else if (digits == 3) {
		h = v / 100;
		m = v % 100;
	} else if (digits >= 1) {
		h = v;
		if (*p == ':' && isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2])) {
			m = (p[1] - '0') * 10 + (p[2] - '0');
			p += 3;
		}
	} else {
		return false;
	}
	if (h > 18 || m > 59)
		return false;
	*tz = sign * (h * 3600L + m * 60L);
	*pp = p;
	return true;
}

/* ---- ISO 8601 ---- */

static int read_num(const char **pp, int maxdigits, int *ndig)
{
	const char *p = *pp;
	int v = 0, n = 0;
	while (n < maxdigits && isdigit((unsigned char)*p)) {
		v = v * 10 + (*p - '0');
		p++;
		n++;
	}
	*ndig = n;
	*pp = p;
	return v;
}

static void skip_ws(const char **pp)
{
	while (isspace((unsigned char)**pp))
		(*pp)++;
}

static bool read_zone_and_end(const char *p, struct dt *t)
{
	skip_ws(&p);
	if (!*p)
		return true;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (numeric_zone(&p, &t->tz)) {
		/* ok */
	} else if (isalpha((unsigned char)*p)) {
		const char *w = p;
		while (isalpha((unsigned char)*p))
			p++;
		if (!zone_name(w, (size_t)(p - w), &t->tz))
			return false;
	}
	/* trailing words ("(comment)", "GMT+1") are tolerated */
	return true;
}

static time_t parse_iso(const char *p)
{
	struct dt t = {0, 1, 1, 0, 0, 0, 0};
	int n;
	t.year = read_num(&p, 4, &n);
	if (n != 4)
		return -1;
	bool basic = false;
	if (*p == '-') {
		p++;
		if (*p == 'W') { /* week date YYYY-Www[-D] */
			p++;
			int week = read_num(&p, 2, &n);
			if (n != 2 || week < 1 || week > 53)
				return -1;
			int wd = 1;
			if (*p == '-') {
				p++;
				wd = read_num(&p, 1, &n);
				if (n != 1 || wd < 1 || wd > 7)
					return -1;
			}
			/* week 1 holds January 4th */
			long long jan4 = days_from_civil(t.year, 1, 4);
			int jan4_wd = (int)(((jan4 % 7) + 7 + 3) % 7) + 1; /* 1970-01-01 was Thursday */
			long long day = jan4 - (jan4_wd - 1) + (week - 1) * 7 + (wd - 1);
			struct dt base = {1970, 1, 1, 0, 0, 0, 0};
			time_t b = make_time(&base);
			long long secs = (long long)b + day * 86400;
			char buf[21];
			fm_date_format((time_t)secs, buf);
			sscanf(buf, "%4ld-%2d-%2d", &t.year, &t.mon, &t.day);
		} else {
			const char *q = p;
			int v = read_num(&p, 3, &n);
			if (n == 3) { /* ordinal YYYY-DDD */
				if (v < 1 || v > (is_leap(t.year) ? 366 : 365))
					return -1;
				t.mon = 1;
				while (v > month_days(t.year, t.mon)) {
					v -= month_days(t.year, t.mon);
					t.mon++;
				}
				t.day = v;
			} else if (n >= 1) {
				p = q;
				t.mon = read_num(&p, 2, &n);
				if (*p == '-') {
					p++;
					t.day = read_num(&p, 2, &n);
					if (n < 1)
						return -1;
				}
			} else {
				return -1;
			}
		}
	} else if (isdigit((unsigned char)*p)) {
		basic = true;
		t.mon = read_num(&p, 2, &n);
		if (n != 2)
			return -1;
		t.day = read_num(&p, 2, &n);
		if (n != 2)
			return -1;
	}
	if (*p == 'T' || *p == 't' || (*p == ' ' && isdigit((unsigned char)p[1]))) {
		p++;
		t.hour = read_num(&p, 2, &n);
		if (n < 1)
			return -1;
		if (*p == ':' || (basic && isdigit((unsigned char)*p))) {
			if (*p == ':')
				p++;
			t.min = read_num(&p, 2, &n);
			if (n < 1)
				return -1;
			if (*p == ':' || (basic && isdigit((unsigned char)*p))) {
				if (*p == ':')
					p++;
				t.sec = read_num(&p, 2, &n);
				if (n < 1)
					return -1;
			}
		}
		if (*p == '.' || *p == ',') {
			p++;
			while (isdigit((unsigned char)*p))
				p++;
		}
	}
	if (!read_zone_and_end(p, &t))
		return -1;
	return make_time(&t);
}

/* ---- RFC 822 and friends ---- */

static int month_of(const char *w, size_t n)
{
	static const char *const names[] = {"jan", "feb", "mar", "apr", "may", "jun",
	                                    "jul", "aug", "sep", "oct", "nov", "dec"};
	if (n < 3)
		return 0;
	for (int i = 0; i < 12; i++)
		if (!strncasecmp(w, names[i], 3))
			return i + 1;
	return 0;
}

static bool is_weekday(const char *w, size_t n)
{
	static const char *const names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
	if (n < 3)
		return false;
	for (int i = 0; i < 7; i++)
		if (!strncasecmp(w, names[i], 3))
			return true;
	return false;
}

static time_t parse_loose(const char *p)
{
	struct dt t = {-1, 0, 0, 0, 0, 0, 0};
	int nums[4];
	int nnum = 0, ndigits[4];
	bool have_time = false, have_zone = false, pm = false, am = false;

	while (*p) {
		if (isalpha((unsigned char)*p)) {
			const char *w = p;
			while (isalpha((unsigned char)*p))
				p++;
			size_t n = (size_t)(p - w);
			int m;
			if (is_weekday(w, n) && n <= 9) {
				continue;
			} else if ((m = month_of(w, n)) && n <= 9 && !t.mon) {
				t.mon = m;
			} else if (n == 2 && !strncasecmp(w, "am", 2)) {
				am = true;
			} else if (n == 2 && !strncasecmp(w, "pm", 2)) {
				pm = true;
			} else if (!have_zone && have_time && zone_name(w, n, &t.tz)) {
				have_zone = true;
				/* "GMT+0100" */
				long off;
				const char *q = p;
				if (numeric_zone(&q, &off)) {
					t.tz = off;
					p = q;
				}
			}
			/* other words ("at", "of", "Posted") are noise */
		} else if (isdigit((unsigned char)*p)) {
			const char *s = p;
			int n;
			int v = read_num(&p, 9, &n);
			if (*p == ':' && !have_time) {
				have_time = true;
				t.hour = v;
				p++;
				t.min = read_num(&p, 2, &n);
				if (n < 1)
					return -1;
				if (*p == ':') {
					p++;
					t.sec = read_num(&p, 2, &n);
				}
				if (*p == '.' || *p == ',')
					while (isdigit((unsigned char)*++p))
						;
			} else if (nnum < 4) {
				ndigits[nnum] = (int)(p - s);
				nums[nnum++] = v;
				/* "1st", "2nd" */
				if (isalpha((unsigned char)*p) && isalpha((unsigned char)p[1]) &&
				    !isalpha((unsigned char)p[2]) && strchr("snrtSNRT", *p))
					p += 2;
			} else {
				return -1;
			}
		} else if ((*p == '+' || *p == '-') && have_time && !have_zone &&
		           isdigit((unsigned char)p[1])) {
			if (!numeric_zone(&p, &t.tz))
				return -1;
			have_zone = true;
		} else if (*p == '(') {
			break; /* trailing comment */
		} else {
			p++;
		}
	}
	/* assign day / year / (numeric month) from the free numbers */
	int day = -1;
	long year = -1;
	for (int i = 0; i < nnum; i++) {
		if (ndigits[i] >= 3 || nums[i] > 31) {
			if (year < 0)
				year = nums[i];
			else
				return -1;
		} else if (day < 0 && t.mon) {
			day = nums[i];
		} else if (!t.mon && nums[i] <= 12 && day < 0 && i == 0 && nnum >= 3) {
			/* all-numeric "12/31/2003" reads month first (US style) */
			t.mon = nums[i];
		} else if (day < 0) {
			day = nums[i];
		} else if (year < 0) {
			year = nums[i];
			if (ndigits[i] <= 2)
				year += year < 50 ? 2000 : 1900;
		} else {
			return -1;
		}
	}
	if (year >= 0 && year < 100)
		year += year < 50 ? 2000 : 1900;
	else if (year >= 100 && year < 1000)
		year += 1900; /* struct tm style years ("103") */
	if (day < 0 || year < 0 || !t.mon)
		return -1;
	t.day = day;
	t.year = year;
	if (pm && t.hour < 12)
		t.hour += 12;
	if (am && t.hour == 12)
		t.hour = 0;
	return make_time(&t);
}

time_t fm_date_parse(const char *s)
{
	if (!s)
		return -1;
	while (isspace((unsigned char)*s))
		s++;
	if (!*s || strlen(s) > 200)
		return -1;
	if (isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) &&
	    isdigit((unsigned char)s[2]) && isdigit((unsigned char)s[3]) &&
	    (s[4] == '-' || isdigit((unsigned char)s[4]) || s[4] == '\0' || s[4] == 'T')) {
		time_t r = parse_iso(s);
		if (r != -1)
			return r;
	}
	return parse_loose(s);
}
