/* Text normalisation, UTF-8 helpers and a stopword-based language guesser. */
#include "text.h"

#include <errno.h>
#include <iconv.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#include "buf.h"

int fm_text_iconv_to_utf8(const char *from, const char *s, size_t len, char **out,
                          size_t *out_len, size_t *bad)
{
	iconv_t cd = iconv_open("UTF-8", from);
	if (cd == (iconv_t)-1)
		return -EINVAL;
	size_t cap = len + len / 2 + 16, used = 0, nbad = 0;
	char *buf = malloc(cap + 1);
	char *in = (char *)s;
	size_t inleft = len;
	while (buf && inleft > 0) {
		char *o = buf + used;
		size_t oleft = cap - used;
		size_t r = iconv(cd, &in, &inleft, &o, &oleft);
		int err = errno;
		used = (size_t)(o - buf);
		if (r != (size_t)-1)
			break;
		if (err == E2BIG || cap - used < 3) {
			char *nb = cap <= SIZE_MAX / 2 - 16 ? realloc(buf, cap * 2 + 1) : NULL;
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
			if (err == E2BIG)
				continue;
		}
		/* EILSEQ, or EINVAL (cut at the end): U+FFFD for a byte, and go on after it */
		memcpy(buf + used, "\xEF\xBF\xBD", 3);
		used += 3;
		nbad++;
		in++;
		inleft--;
		iconv(cd, NULL, NULL, NULL, NULL);
	}
	iconv_close(cd);
	if (!buf)
		return -ENOMEM;
	buf[used] = '\0';
	*out = buf;
	*out_len = used;
	if (bad)
		*bad = nbad;
	return 0;
}

int fm_text_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	int len;
	uint32_t v, min;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2, v = c & 0x1F, min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3, v = c & 0x0F, min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4, v = c & 0x07, min = 0x10000;
	} else {
		goto bad;
	}
	if ((size_t)len > n)
		goto bad;
	for (int i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			goto bad;
		v = (v << 6) | (s[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		goto bad;
	*cp = v;
	return len;
bad:
	*cp = 0xFFFD;
	return 1;
}

bool fm_text_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	while (p < end) {
		/* ASCII fast path, 8 bytes at a time */
		while (end - p >= 8) {
			uint64_t w;
			memcpy(&w, p, 8);
			if (w & 0x8080808080808080ull)
				break;
			p += 8;
		}
		if (p >= end)
			break;
		if (*p < 0x80) {
			p++;
			continue;
		}
		uint32_t cp;
		int n = fm_text_utf8_decode(p, (size_t)(end - p), &cp);
		if (cp == 0xFFFD && !(n == 3 && p[0] == 0xEF && p[1] == 0xBF && p[2] == 0xBD))
			return false;
		p += n;
	}
	return true;
}

static void put_cp(struct fm_buf *b, uint32_t cp)
{
	char tmp[4];
	size_t n;
	if (cp < 0x80) {
		tmp[0] = (char)cp, n = 1;
	} else if (cp < 0x800) {
		tmp[0] = (char)(0xC0 | (cp >> 6)), tmp[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
	} else if (cp < 0x10000) {
		tmp[0] = (char)(0xE0 | (cp >> 12)), tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		tmp[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
	} else {
		tmp[0] = (char)(0xF0 | (cp >> 18)), tmp[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		tmp[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), tmp[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	fm_buf_append(b, tmp, n);
}

char *fm_text_utf8_repair(const char *s, size_t len, size_t *out_len)
{
	if (!s)
		return NULL;
	struct fm_buf b = FM_BUF_INIT;
	fm_buf_reserve(&b, len + 1);
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	while (p < end) {
		const unsigned char *run = p;
		while (p < end && *p && *p < 0x80)
			p++;
		if (p > run)
			fm_buf_append(&b, (const char *)run, (size_t)(p - run));
		if (p >= end)
			break;
		if (!*p) {
			p++;
			continue;
		}
		uint32_t cp;
		int n = fm_text_utf8_decode(p, (size_t)(end - p), &cp);
		if (cp == 0xFFFD && n == 1)
			put_cp(&b, 0xFFFD);
		else
			fm_buf_append(&b, (const char *)p, (size_t)n);
		p += n;
	}
	if (out_len)
		*out_len = b.len;
	if (b.oom) {
		fm_buf_free(&b);
		return NULL;
	}
	if (!b.len) { /* reserved but never written: not terminated */
		fm_buf_free(&b);
		return strdup("");
	}
	return fm_buf_steal(&b);
}

/* The length of the sequence at p (n > 0 bytes available) and whether it is well-formed;
 * for an ill-formed one, the length of its maximal subpart: the lead byte and those that
 * follow it as long as they could still begin a well-formed sequence (Unicode Table 3-7). */
static size_t utf8_step(const unsigned char *p, size_t n, bool *ok)
{
	unsigned c = p[0], lo = 0x80, hi = 0xBF;
	size_t need;
	*ok = true;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 1;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 2;
		lo = c == 0xE0 ? 0xA0 : 0x80; /* no overlongs */
		hi = c == 0xED ? 0x9F : 0xBF; /* no surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3;
		lo = c == 0xF0 ? 0x90 : 0x80;
		hi = c == 0xF4 ? 0x8F : 0xBF; /* nothing above U+10FFFF */
	} else {
		*ok = false; /* 0x80..0xC1, 0xF5..0xFF never start a sequence */
		return 1;
	}
	size_t i = 1;
	for (; i <= need && i < n && p[i] >= lo && p[i] <= hi; i++) {
		lo = 0x80;
		hi = 0xBF;
	}
	*ok = i == need + 1;
	return i;
}

enum fm_utf8_fit fm_text_utf8_fit(const char *s, size_t len, size_t *invalid)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	size_t good = 0, bad = 0;
	while (p < end) {
		if (*p < 0x80) {
			p++;
			continue;
		}
		bool ok;
		p += utf8_step(p, (size_t)(end - p), &ok);
		if (ok)
			good++;
		else
			bad++;
	}
	if (invalid)
		*invalid = bad;
	return !bad ? FM_UTF8_VALID : bad <= good ? FM_UTF8_MOSTLY : FM_UTF8_NOT;
}

char *fm_text_utf8_replace(const char *s, size_t len, bool drop_nul, size_t *out_len,
                           size_t *replaced)
{
	if (!s)
		return NULL;
	struct fm_buf b = FM_BUF_INIT;
	size_t nrep = 0;
	fm_buf_reserve(&b, len + 1);
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	while (p < end) {
		const unsigned char *run = p;
		while (p < end && *p < 0x80 && (*p || !drop_nul))
			p++;
		if (p > run)
			fm_buf_append(&b, (const char *)run, (size_t)(p - run));
		if (p >= end)
			break;
		if (!*p) {
			p++; /* a NUL, dropped */
			continue;
		}
		bool ok;
		size_t n = utf8_step(p, (size_t)(end - p), &ok);
		if (ok) {
			fm_buf_append(&b, (const char *)p, n);
		} else {
			fm_buf_append(&b, "\xEF\xBF\xBD", 3);
			nrep++;
		}
		p += n;
	}
	if (b.oom) {
		fm_buf_free(&b);
		return NULL;
	}
	if (out_len)
		*out_len = b.len;
	if (replaced)
		*replaced = nrep;
	if (!b.len) { /* reserved but never written: not terminated */
		fm_buf_free(&b);
		return strdup("");
	}
	return fm_buf_steal(&b);
}

/* Characters that carry no text: soft hyphen, zero-width space and joiner, word joiner,
 * invisible operators, BOM, bidi marks/embeddings/isolates. ZWNJ (U+200C) is kept: it is
 * orthographic in Persian and several Indic scripts. */
static bool is_invisible(uint32_t c)
{
	return c == 0xAD || c == 0x200B || c == 0x200D || (c >= 0x2060 && c <= 0x2064) ||
	       c == 0xFEFF || c == 0x200E || c == 0x200F || (c >= 0x202A && c <= 0x202E) ||
	       (c >= 0x2066 && c <= 0x2069) || c == 0x180E;
}

static bool is_hspace(uint32_t c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == 0xA0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200A) || c == 0x202F || c == 0x205F || c == 0x3000;
}

static bool is_newline(uint32_t c)
{
	return c == '\n' || c == '\r' || c == 0x85 || c == 0x2028 || c == 0x2029;
}

static bool has_non_ascii(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

char *fm_text_normalize(const char *s, size_t len, unsigned flags, size_t *out_len)
{
	if (!s)
		return NULL;
	struct fm_buf b = FM_BUF_INIT;
	fm_buf_reserve(&b, len + 1);
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	unsigned pending_nl = 0;
	bool pending_sp = false;
	while (p < end) {
		uint32_t c;
		int n = fm_text_utf8_decode(p, (size_t)(end - p), &c);
		const unsigned char *at = p;
		p += n;
		if (is_newline(c)) {
			if (c == '\r' && p < end && *p == '\n')
				p++;
			pending_nl++;
			pending_sp = false;
			continue;
		}
		if (is_hspace(c)) {
			pending_sp = true;
			continue;
		}
		if (c < 0x20 || (c >= 0x7F && c <= 0x9F) || is_invisible(c))
			continue;
		if (b.len) {
			if (pending_nl && !(flags & FM_TEXT_ONE_LINE)) {
				if (pending_nl >= 2)
					fm_buf_append(&b, "\n\n", 2);
				else
					fm_buf_putc(&b, (flags & FM_TEXT_KEEP_LINES) ? '\n' : ' ');
			} else if (pending_nl || pending_sp) {
				fm_buf_putc(&b, ' ');
			}
		}
		pending_nl = 0;
		pending_sp = false;
		if (c == 0xFFFD && n == 1)
			put_cp(&b, 0xFFFD);
		else
			fm_buf_append(&b, (const char *)at, (size_t)n);
	}
	if (b.oom) {
		fm_buf_free(&b);
		return NULL;
	}
	if (!b.len) { /* reserved but never written: not terminated */
		fm_buf_free(&b);
		if (out_len)
			*out_len = 0;
		return strdup("");
	}
	if (!(flags & FM_TEXT_NO_NFC) && has_non_ascii(b.data, b.len)) {
		size_t nlen = 0;
		uint8_t *nfc = u8_normalize(UNINORM_NFC, (const uint8_t *)b.data, b.len, NULL, &nlen);
		if (nfc) {
			char *r = realloc(nfc, nlen + 1);
			if (!r) {
				free(nfc);
				fm_buf_free(&b);
				return NULL;
			}
			r[nlen] = 0;
			fm_buf_free(&b);
			if (out_len)
				*out_len = nlen;
			return r;
		}
		/* normalisation failed (EILSEQ cannot happen after repair; ENOMEM): keep as is */
	}
	if (out_len)
		*out_len = b.len;
	return fm_buf_steal(&b);
}

char *fm_text_casefold(const char *s, size_t len, size_t *out_len)
{
	if (!s)
		return NULL;
	size_t rlen;
	char *fixed = NULL;
	if (!fm_text_utf8_valid(s, len)) {
		fixed = fm_text_utf8_repair(s, len, &rlen);
		if (!fixed)
			return NULL;
		s = fixed, len = rlen;
	}
	size_t n = 0;
	uint8_t *r = u8_casefold((const uint8_t *)s, len, NULL, UNINORM_NFC, NULL, &n);
	free(fixed);
	if (!r)
		return NULL;
	char *out = realloc(r, n + 1);
	if (!out) {
		free(r);
		return NULL;
	}
	out[n] = 0;
	if (out_len)
		*out_len = n;
	return out;
}

static bool is_word_cp(uint32_t c)
{
	if (c < 0x80)
		return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
	return uc_is_general_category(c, UC_CATEGORY_L) ||
	       uc_is_general_category(c, UC_CATEGORY_N) ||
	       uc_is_general_category(c, UC_CATEGORY_M);
}

bool fm_text_next_word(const char *s, size_t len, size_t *pos, size_t *start, size_t *end)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = *pos;
	while (i < len) {
		uint32_t c;
		int n = fm_text_utf8_decode(u + i, len - i, &c);
		if (is_word_cp(c))
			break;
		i += (size_t)n;
	}
	if (i >= len) {
		*pos = len;
		return false;
	}
	*start = i;
	while (i < len) {
		uint32_t c;
		int n = fm_text_utf8_decode(u + i, len - i, &c);
		if (!is_word_cp(c))
			break;
		i += (size_t)n;
	}
	*end = i;
	*pos = i;
	return true;
}

size_t fm_text_count_words(const char *s, size_t len)
{
	size_t pos = 0, a, b, n = 0;
	while (fm_text_next_word(s, len, &pos, &a, &b))
		n++;
	return n;
}

/* ---- language guess ------------------------------------------------------------------
 * The idea is the classic "stopword" method (see e.g. Grefenstette, "Comparing two language
 * identification schemes", JADT 1995): the most frequent function words of a language make up
 * a large, stable share of any running text in it, and they differ between languages. We
 * count hits of each language's short list of function words and pick the clear winner.
 * Non-Latin scripts are told apart by their code point ranges first. The lists below are
 * written from general knowledge of each language's commonest words. */

enum lang_id {
	L_EN, L_DE, L_FR, L_ES, L_IT, L_PT, L_NL, L_SV, L_DA, L_NO, L_FI, L_PL, L_CS, L_RO, L_HU,
	L_TR, L_RU, L_UK, L_COUNT
};

static const char *const lang_tag[L_COUNT] = {
	"en", "de", "fr", "es", "it", "pt", "nl", "sv", "da", "no", "fi", "pl", "cs", "ro", "hu",
	"tr", "ru", "uk",
};

static const char *const lang_words[L_COUNT] = {
	[L_EN] = "the of and to in is that it was for on are with as his they be at one have "
	         "this from by but not what all were we when your can said there an which she do "
	         "their if will would about how them then these so some her has been who its had",
	[L_DE] = "der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als "
	         "auch es an er hat aus bei sind noch nach wird einer um wie über einen so zum war "
	         "haben nur oder aber vor zur bis mehr durch man sie wurde ich",
	[L_FR] = "le de la et les des en un une du est que pour qui dans il pas au sur par plus ne "
	         "se ce avec sont elle aux mais ou son été ont cette nous comme sa ses leur fait "
	         "être aussi dont tout",
	[L_ES] = "el la de que y en los del se las por un para con no una su al es lo como más "
	         "pero sus le ya o fue este ha sí porque esta entre cuando muy sin sobre también "
	         "me hasta hay donde desde todo nos",
	[L_IT] = "il di che e la per un in è del non una della le si da sono con dei alla ha gli "
	         "al nel più come anche ma lo ci questo delle nella essere se suo era dalla quando "
	         "perché molto",
	[L_PT] = "o de a que e do da em um para é com não uma os no se na por mais as dos como mas "
	         "foi ao ele das tem à seu sua ou ser quando muito há nos já está também pelo pela "
	         "até isso ela entre",
	[L_NL] = "de van het een en in is dat op te zijn voor met die niet aan er ook als bij om "
	         "door maar dan heeft werd nog naar wordt over uit worden hij tot wel geen kan zo "
	         "deze was",
	[L_SV] = "och i att det som en på är av för med till den har de inte om ett han men var "
	         "jag sig från vi så kan man när år säger hon under också efter eller nu sin där "
	         "vid mot ska",
	[L_DA] = "og i at det er en til på de med for af den som har ikke et han var sig men der "
	         "om fra jeg vi så kan efter også når skal eller mod være blev hun deres havde "
	         "ved hvor over",
	[L_NO] = "og i det som er en til på av for med at de ikke har den et han var seg men om "
	         "fra jeg vi så kan etter også når skal eller mot være ble hun deres hadde ved "
	         "hvor over ikkje",
	[L_FI] = "ja on ei se että hän oli ovat mutta kun niin myös tai joka jo sen ole sitä hänen "
	         "kanssa vain nyt ovat olla mukaan jälkeen sekä jos vielä kuin mitä tämä",
	[L_PL] = "i w nie na się z do to że jest o jak po a co ale tak od za przez jego już tylko "
	         "dla by są może być jej bardzo oraz lub przy gdy także który która które roku",
	[L_CS] = "a v se na je že s z to do o jako by ale jeho pro jsou které už jak byl po tak "
	         "také za který která bylo jejich nebo při podle než jsem byla",
	[L_RO] = "și de în la a cu să pe din nu o care pentru este un mai ca au fost sunt dar sau "
	         "ce lui prin după acest această se fi despre între își",
	[L_HU] = "a az és hogy nem is egy meg de volt van ez csak már még mint ha azt el kell "
	         "pedig vagy ki sem ami amely után szerint között lesz",
	[L_TR] = "ve bir bu da de için ile ne çok olarak daha gibi en o ama kadar sonra ki olan "
	         "var her mi değil ya göre şey bunu bile tarafından",
	[L_RU] = "и в не на что с по как это он к из но за то от у а же его о так для все она "
	         "был до уже или бы мы если было только есть при",
	[L_UK] = "і в не на що з до як це він за та від у а але його так для все вона був вже чи "
	         "б ми якщо було тільки є при також які який",
};

#define LANG_HASH_SIZE 2048 /* power of two, > 2x the number of distinct words */

struct lang_slot {
	char word[24];
	uint32_t mask;
};

static struct lang_slot lang_table[LANG_HASH_SIZE];
static pthread_once_t lang_once = PTHREAD_ONCE_INIT;

static uint32_t hash_bytes(const char *s, size_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static void lang_table_init(void)
{
	for (int l = 0; l < L_COUNT; l++) {
		const char *p = lang_words[l];
		while (*p) {
			while (*p == ' ')
				p++;
			const char *w = p;
			while (*p && *p != ' ')
				p++;
			size_t n = (size_t)(p - w);
			if (!n || n >= sizeof(lang_table[0].word))
				continue;
			uint32_t h = hash_bytes(w, n) & (LANG_HASH_SIZE - 1);
			while (lang_table[h].word[0] &&
			       !(strlen(lang_table[h].word) == n && !memcmp(lang_table[h].word, w, n)))
				h = (h + 1) & (LANG_HASH_SIZE - 1);
			memcpy(lang_table[h].word, w, n);
			lang_table[h].word[n] = 0;
			lang_table[h].mask |= 1u << l;
		}
	}
}

static uint32_t lang_lookup(const char *w, size_t n)
{
	if (n >= sizeof(lang_table[0].word))
		return 0;
	uint32_t h = hash_bytes(w, n) & (LANG_HASH_SIZE - 1);
	while (lang_table[h].word[0]) {
		if (strlen(lang_table[h].word) == n && !memcmp(lang_table[h].word, w, n))
			return lang_table[h].mask;
		h = (h + 1) & (LANG_HASH_SIZE - 1);
	}
	return 0;
}

enum script { S_LATIN, S_CYRILLIC, S_GREEK, S_ARABIC, S_HEBREW, S_HAN, S_KANA, S_HANGUL,
	      S_DEVANAGARI, S_THAI, S_COUNT };

static int script_of(uint32_t c)
{
	if (c < 0x250)
		return S_LATIN;
	if (c >= 0x370 && c < 0x400)
		return S_GREEK;
	if (c >= 0x400 && c < 0x530)
		return S_CYRILLIC;
	if (c >= 0x590 && c < 0x600)
		return S_HEBREW;
	if (c >= 0x600 && c < 0x780)
		return S_ARABIC;
	if (c >= 0x900 && c < 0x980)
		return S_DEVANAGARI;
	if (c >= 0xE00 && c < 0xE80)
		return S_THAI;
	if (c >= 0x3040 && c < 0x3100)
		return S_KANA;
	if ((c >= 0x4E00 && c < 0xA000) || (c >= 0x3400 && c < 0x4DC0))
		return S_HAN;
	if (c >= 0xAC00 && c < 0xD7B0)
		return S_HANGUL;
	return -1;
}

const char *fm_text_detect_lang(const char *s, size_t len)
{
	if (!s)
		return NULL;
	if (len > 16384)
		len = 16384;
	pthread_once(&lang_once, lang_table_init);

	unsigned scripts[S_COUNT] = {0}, letters = 0;
	unsigned hits[L_COUNT] = {0}, words = 0;
	size_t pos = 0, a, b;
	while (fm_text_next_word(s, len, &pos, &a, &b)) {
		char low[24];
		size_t n = b - a, k = 0;
		bool ascii = true;
		for (size_t i = a; i < b;) {
			uint32_t c;
			int m = fm_text_utf8_decode((const unsigned char *)s + i, b - i, &c);
			int sc = script_of(c);
			if (sc >= 0 && !(c >= '0' && c <= '9')) {
				scripts[sc]++;
				letters++;
			}
			if (c >= 0x80)
				ascii = false;
			i += (size_t)m;
		}
		words++;
		if (n >= sizeof(low))
			continue;
		if (ascii) {
			for (size_t i = a; i < b; i++)
				low[k++] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
		} else {
			size_t m = sizeof(low) - 1;
			uint8_t *r = u8_tolower((const uint8_t *)s + a, n, NULL, UNINORM_NFC,
			                        (uint8_t *)low, &m);
			if (!r)
				continue;
			if (r != (uint8_t *)low) { /* did not fit */
				free(r);
				continue;
			}
			k = m;
		}
		uint32_t mask = lang_lookup(low, k);
		for (int l = 0; mask && l < L_COUNT; l++)
			if (mask & (1u << l))
				hits[l]++;
	}
	if (letters < 20)
		return NULL;
	int top = S_LATIN;
	for (int i = 0; i < S_COUNT; i++)
		if (scripts[i] > scripts[top])
			top = i;
	switch (top) {
	case S_GREEK: return "el";
	case S_ARABIC: return "ar";
	case S_HEBREW: return "he";
	case S_HANGUL: return "ko";
	case S_DEVANAGARI: return "hi";
	case S_THAI: return "th";
	case S_KANA: return "ja";
	case S_HAN: return scripts[S_KANA] * 20 > scripts[S_HAN] ? "ja" : "zh";
	default: break;
	}
	int best = -1, second = -1;
	for (int l = 0; l < L_COUNT; l++) {
		if (top == S_CYRILLIC && l != L_RU && l != L_UK)
			continue;
		if (top != S_CYRILLIC && (l == L_RU || l == L_UK))
			continue;
		if (best < 0 || hits[l] > hits[best]) {
			second = best;
			best = l;
		} else if (second < 0 || hits[l] > hits[second]) {
			second = l;
		}
	}
	if (best < 0 || hits[best] < 3 || hits[best] * 10 < words)
		return NULL;
	/* a clear lead; Danish and Norwegian share most function words, so a narrow lead
	 * between those two still picks one rather than nothing */
	if (second >= 0 && hits[best] * 10 < hits[second] * 11 &&
	    !((best == L_DA && second == L_NO) || (best == L_NO && second == L_DA)))
		return NULL;
	return lang_tag[best];
}
