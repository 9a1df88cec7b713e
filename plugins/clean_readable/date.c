/* Lenient dates as pages write them (meta tags, <time>, bylines, URLs). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "extract.h"

static const char *const months[] = {
	"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
};

/* month names and abbreviations in a few languages beside English, matched on a prefix */
static const struct { const char *w; int m; } month_words[] = {
	{"januar", 1}, {"janvier", 1}, {"enero", 1}, {"gennaio", 1}, {"janeiro", 1},
	{"februar", 2}, {"février", 2}, {"fevrier", 2}, {"febrero", 2}, {"febbraio", 2},
	{"fevereiro", 2}, {"märz", 3}, {"mars", 3}, {"marzo", 3}, {"março", 3},
	{"avril", 4}, {"abril", 4}, {"aprile", 4}, {"mai", 5}, {"mayo", 5}, {"maggio", 5},
	{"maio", 5}, {"juni", 6}, {"juin", 6}, {"junio", 6}, {"giugno", 6}, {"junho", 6},
	{"juli", 7}, {"juillet", 7}, {"julio", 7}, {"luglio", 7}, {"julho", 7}, {"août", 8},
	{"aout", 8}, {"agosto", 8}, {"septembre", 9}, {"septiembre", 9}, {"settembre", 9},
	{"setembro", 9}, {"oktober", 10}, {"octobre", 10}, {"octubre", 10}, {"ottobre", 10},
	{"outubro", 10}, {"novembre", 11}, {"noviembre", 11}, {"novembro", 11},
	{"dezember", 12}, {"décembre", 12}, {"decembre", 12}, {"diciembre", 12},
	{"dicembre", 12}, {"dezembro", 12},
};

static int month_of(const char *w, size_t n)
{
	char low[16];
	if (n < 3 || n >= sizeof(low))
		return 0;
	for (size_t i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)w[i]);
	low[n] = 0;
	for (size_t i = 0; i < sizeof(month_words) / sizeof(month_words[0]); i++)
		if (!strcmp(low, month_words[i].w))
			return month_words[i].m;
	static const char *const full[] = {
		"january", "february", "march", "april", "may", "june", "july", "august",
		"september", "october", "november", "december",
	};
	for (int m = 0; m < 12; m++)
		if ((n == 3 && !strcmp(low, months[m])) || !strcmp(low, full[m]) ||
		    (m == 8 && !strcmp(low, "sept")))
			return m + 1;
	return 0;
}

static int zone_of(const char *w, size_t n, int *off_min)
{
	static const struct { const char *z; int off; } zones[] = {
		{"utc", 0}, {"gmt", 0}, {"z", 0}, {"ut", 0}, {"est", -300}, {"edt", -240},
		{"cst", -360}, {"cdt", -300}, {"mst", -420}, {"mdt", -360}, {"pst", -480},
		{"pdt", -420}, {"bst", 60}, {"cet", 60}, {"cest", 120}, {"eet", 120},
		{"eest", 180}, {"ist", 330}, {"jst", 540}, {"aest", 600}, {"aedt", 660},
	};
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
		if (strlen(zones[i].z) == n && !strncasecmp(w, zones[i].z, n)) {
			*off_min = zones[i].off;
			return 1;
		}
	return 0;
}

static time_t make_time(int y, int mo, int d, int h, int mi, int s, int off_min)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (y < 1970 || y > 2100 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h < 0 ||
	    h > 24 || mi < 0 || mi > 59 || s < 0 || s > 60)
		return -1;
	struct tm tm = {0};
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	return t - (time_t)off_min * 60;
}

static int num(const char **pp, int maxdig, int *val)
{
	const char *p = *pp;
	int v = 0, k = 0;
	while (k < maxdig && isdigit((unsigned char)*p)) {
		v = v * 10 + (*p - '0');
		p++, k++;
	}
	if (!k)
		return 0;
	*pp = p;
	*val = v;
	return k;
}

/* ISO 8601 / RFC 3339 and the "YYYY-MM-DD HH:MM:SS" and "YYYY/MM/DD" variants. */
static time_t parse_iso(const char *p)
{
	int y, mo, d, h = 0, mi = 0, s = 0, off = 0;
	if (num(&p, 4, &y) != 4)
		return -1;
	char sep = *p;
	if (sep != '-' && sep != '/' && sep != '.')
		return -1;
	p++;
	if (!num(&p, 2, &mo) || *p != sep)
		return -1;
	p++;
	if (!num(&p, 2, &d))
		return -1;
	if ((*p == 'T' || *p == 't' || *p == ' ') && isdigit((unsigned char)p[1])) {
		p++;
		if (!num(&p, 2, &h) || *p != ':')
			goto done;
		p++;
		if (!num(&p, 2, &mi))
			return -1;
		if (*p == ':') {
			p++;
			num(&p, 2, &s);
			if (*p == '.' || *p == ',')
				for (p++; isdigit((unsigned char)*p); p++)
					;
		}
		while (*p == ' ')
			p++;
		if (*p == '+' || *p == '-') {
			int sign = *p == '-' ? -1 : 1, oh = 0, om = 0;
			p++;
			if (num(&p, 2, &oh) == 2) {
				if (*p == ':')
					p++;
				num(&p, 2, &om);
				off = sign * (oh * 60 + om);
			}
		} else if (isalpha((unsigned char)*p)) {
			const char *w = p;
			while (isalpha((unsigned char)*p))
				p++;
			zone_of(w, (size_t)(p - w), &off);
		}
	}
done:
	return make_time(y, mo, d, h, mi, s, off);
}

time_t rd_parse_date(const char *str)
{
	if (!str)
		return -1;
	while (isspace((unsigned char)*str))
		str++;
	if (!*str)
		return -1;
	time_t t = parse_iso(str);
	if (t != -1)
		return t;
	/* a bare Unix timestamp (seconds or milliseconds) */
	size_t nd = strspn(str, "0123456789");
	if ((nd == 10 || nd == 13) && !str[nd]) {
		long long v = atoll(str);
		if (nd == 13)
			v /= 1000;
		return v > 0 ? (time_t)v : -1;
	}

	/* free form: collect numbers, a month word, a time, am/pm and a zone */
	int nums[6], nlen[6], nn = 0, month = 0, h = -1, mi = 0, s = 0, off = 0;
	bool pm = false, am = false;
	const char *p = str;
	int guard = 0;
	while (*p && guard++ < 64) {
		if (isdigit((unsigned char)*p)) {
			int v = 0, k = num(&p, 4, &v);
			while (isdigit((unsigned char)*p))
				p++;
			if (*p == ':' && h < 0 && k <= 2) {
				h = v;
				p++;
				num(&p, 2, &mi);
				if (*p == ':') {
					p++;
					num(&p, 2, &s);
				}
				continue;
			}
			if (nn < 6) {
				nums[nn] = v;
				nlen[nn++] = k;
			}
			/* ordinal suffixes: 1st 2nd 3rd 19th */
			if (isalpha((unsigned char)p[0]) && isalpha((unsigned char)p[1]) &&
			    !isalpha((unsigned char)p[2]) &&
			    (!strncasecmp(p, "st", 2) || !strncasecmp(p, "nd", 2) ||
			     !strncasecmp(p, "rd", 2) || !strncasecmp(p, "th", 2)))
				p += 2;
			continue;
		}
		if (isalpha((unsigned char)*p) || (unsigned char)*p >= 0x80) {
			const char *w = p;
			while (isalpha((unsigned char)*p) || (unsigned char)*p >= 0x80)
				p++;
			size_t n = (size_t)(p - w);
			int m;
			if (!month && (m = month_of(w, n)))
				month = m;
			else if (n == 2 && !strncasecmp(w, "pm", 2))
				pm = true;
			else if (n == 2 && !strncasecmp(w, "am", 2))
				am = true;
			else
				zone_of(w, n, &off);
			continue;
		}
		if ((*p == '+' || *p == '-') && h >= 0 && isdigit((unsigned char)p[1])) {
			int sign = *p == '-' ? -1 : 1, v = 0;
			p++;
			int k = num(&p, 4, &v);
			if (k == 4)
				off = sign * ((v / 100) * 60 + v % 100);
			else if (k == 2) {
				int om = 0;
				if (*p == ':') {
					p++;
					num(&p, 2, &om);
				}
				off = sign * (v * 60 + om);
			}
			continue;
		}
		p++;
	}
	if (h >= 0) {
		if (pm && h < 12)
			h += 12;
		if (am && h == 12)
			h = 0;
	} else {
		h = 0;
	}
	int y = -1, d = -1;
	int yi = -1;
	for (int i = 0; i < nn; i++)
		if (nlen[i] == 4) {
			y = nums[i];
			yi = i;
			break;
		}
	if (y < 0)
		return -1;
	if (month) {
		for (int i = 0; i < nn; i++)
			if (i != yi && nums[i] >= 1 && nums[i] <= 31) {
				d = nums[i];
				break;
			}
	} else {
		/* numeric: D.M.Y / M/D/Y with the year last; a first part over 12 is the day */
		int a = -1, b = -1;
		for (int i = 0; i < nn; i++) {
			if (i == yi)
				continue;
			if (a < 0)
				a = nums[i];
			else if (b < 0)
				b = nums[i];
		}
		if (a < 0 || b < 0)
			return -1;
		bool slash = strchr(str, '/') != NULL;
		if (a > 12 || (!slash && b <= 12))
			d = a, month = b;
		else
			month = a, d = b;
	}
	if (d < 0)
		return -1;
	return make_time(y, month, d, h, mi, s, off);
}

time_t rd_url_date(const char *url)
{
	if (!url)
		return -1;
	const char *p = strstr(url, "://");
	p = p ? strchr(p + 3, '/') : url;
	if (!p)
		return -1;
	const char *q = strpbrk(p, "?#");
	size_t n = q ? (size_t)(q - p) : strlen(p);
	for (size_t i = 0; i + 8 <= n; i++) {
		const char *s = p + i;
		if (i && isdigit((unsigned char)s[-1]))
			continue;
		if (!isdigit((unsigned char)s[0]) || !(s[0] == '1' || s[0] == '2'))
			continue;
		int y, mo, d;
		const char *t = s;
		if (num(&t, 4, &y) != 4 || y < 1990 || y > 2100)
			continue;
		if (*t == '/' || *t == '-' || *t == '_') {
			char sep = *t++;
			if (num(&t, 2, &mo) != 2 || *t != sep)
				continue;
			t++;
			if (num(&t, 2, &d) != 2 || isdigit((unsigned char)*t))
				continue;
		} else if (isdigit((unsigned char)*t)) {
			if (num(&t, 2, &mo) != 2 || num(&t, 2, &d) != 2 || isdigit((unsigned char)*t))
				continue;
		} else {
			continue;
		}
		time_t r = make_time(y, mo, d, 0, 0, 0, 0);
		if (r != -1)
			return r;
	}
	return -1;
}

void rd_format_date(time_t t, char out[32])
{
	struct tm tm;
	if (!gmtime_r(&t, &tm)) {
		out[0] = 0;
		return;
	}
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
