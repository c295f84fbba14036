/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ab_text: UTF-8 and byte helpers (no X). */
#include "ab_text.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

size_t
text_utf8_next(const char *s, size_t len, uint32_t *ret_cp)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t n;
	if (len == 0) {
		*ret_cp = 0;
		return 0;
	}
	if (p[0] < 0x80) {
		*ret_cp = p[0];
		return 1;
	} else if (p[0] >= 0xC2 && p[0] <= 0xDF) {
		n = 2;
		cp = p[0] & 0x1F;
	} else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
		n = 3;
		cp = p[0] & 0x0F;
	} else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		*ret_cp = 0xFFFD;
		return 1;
	}
	if (len < n) {
		*ret_cp = 0xFFFD;
		return 1;
	}
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80) {
			*ret_cp = 0xFFFD;
			return 1;
		}
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF)) {
		*ret_cp = 0xFFFD;
		return 1;
	}
	*ret_cp = cp;
	return n;
}

size_t
text_utf8_encode(uint32_t cp, char *out)
{
	unsigned char *o = (unsigned char *)out;
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	} else if (cp < 0x800) {
		o[0] = (unsigned char)(0xC0 | (cp >> 6));
		o[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	} else if (cp < 0x10000) {
		if (cp >= 0xD800 && cp <= 0xDFFF)
			return 0;
		o[0] = (unsigned char)(0xE0 | (cp >> 12));
		o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	} else if (cp <= 0x10FFFF) {
		o[0] = (unsigned char)(0xF0 | (cp >> 18));
		o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
		o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		o[3] = (unsigned char)(0x80 | (cp & 0x3F));
		return 4;
	}
	return 0;
}

size_t
text_utf8_prev(const char *s, size_t at)
{
	if (at == 0)
		return 0;
	size_t i = at - 1;
	/* at most 3 continuation bytes back */
	for (int k = 0; k < 3 && i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80; k++)
		i--;
	return i;
}

void
text_format_bytes(uint64_t n, char *out, size_t size)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	if (n < 1024) {
		snprintf(out, size, "%" PRIu64 " B", n);
		return;
	}
	double v = (double)n;
	size_t u = 0;
	while (v >= 1024 && u + 1 < sizeof(unit) / sizeof(unit[0])) {
		v /= 1024;
		u++;
	}
	if (v < 10)
		snprintf(out, size, "%.1f %s", v, unit[u]);
	else
		snprintf(out, size, "%.0f %s", v, unit[u]);
}

long
text_find_ci(const char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle);
	if (n == 0)
		return 0;
	if (n > len)
		return -1;
	for (size_t i = 0; i + n <= len; i++) {
		size_t j = 0;
		while (j < n &&
		       tolower((unsigned char)hay[i + j]) == tolower((unsigned char)needle[j]))
			j++;
		if (j == n)
			return (long)i;
	}
	return -1;
}

void
text_sanitize(char *s)
{
	size_t len = strlen(s), i = 0;
	while (i < len) {
		uint32_t cp;
		size_t n = text_utf8_next(s + i, len - i, &cp);
		if (cp == 0xFFFD && n == 1 && (unsigned char)s[i] >= 0x80) {
			s[i] = '?';
		} else if (cp < 0x20 || cp == 0x7F) {
			s[i] = ' ';
		}
		i += n;
	}
}

static bool
url_char(unsigned char c)
{
	return c > 0x20 && c != 0x7f && !strchr("\"'<>`{}|\\^", c);
}

bool
text_url_at(const char *line, size_t len, size_t at, size_t *ret_start, size_t *ret_end)
{
	if (at >= len || !url_char((unsigned char)line[at]))
		return false;
	size_t s = at, e = at;
	while (s > 0 && url_char((unsigned char)line[s - 1]))
		s--;
	while (e < len && url_char((unsigned char)line[e]))
		e++;
	/* the scheme may start inside the word ("see:https://...") */
	size_t k = s;
	bool found = false;
	for (; k < e; k++) {
		if ((e - k >= 8 && strncmp(line + k, "https://", 8) == 0) ||
		    (e - k >= 7 && strncmp(line + k, "http://", 7) == 0)) {
			found = true;
			break;
		}
	}
	if (!found || at < k)
		return false;
	int depth = 0;
	for (size_t i = k; i < e; i++)
		depth += line[i] == '(' ? 1 : line[i] == ')' ? -1 : 0;
	while (e > k) {
		char c = line[e - 1];
		if (strchr(".,;:!?", c)) {
			e--;
		} else if (c == ')' && depth < 0) {
			e--;
			depth++;
		} else {
			break;
		}
	}
	size_t scheme = line[k + 4] == 's' ? 8 : 7;
	if (e - k <= scheme || at >= e)
		return false;
	*ret_start = k;
	*ret_end = e;
	return true;
}
