/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ab_text: byte and UTF-8 helpers for the apps, free of X (unit-tested).
 */
#ifndef AB_TEXT_H
#define AB_TEXT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Decodes one UTF-8 character at s[0..len) into *ret_cp and returns its byte
 * length (>= 1). An invalid or truncated sequence decodes as U+FFFD and
 * consumes one byte, so a loop over binary data always advances.
 */
size_t text_utf8_next(const char *s, size_t len, uint32_t *ret_cp);
/* Encodes cp as UTF-8 into out (at least 4 bytes); returns the length (0 for an invalid cp). */
size_t text_utf8_encode(uint32_t cp, char *out);
/* The start of the character before byte offset `at` (0 when at <= 0). */
size_t text_utf8_prev(const char *s, size_t at);
/* "512 B", "1.5 KiB", "23 MiB", "4.0 GiB" into out. */
void text_format_bytes(uint64_t n, char *out, size_t size);
/*
 * Finds `needle` in hay[0..len) case-insensitively (ASCII folding; other bytes
 * compare exactly). Returns the offset or -1.
 */
long text_find_ci(const char *hay, size_t len, const char *needle);
/*
 * The http(s):// URL that covers byte offset `at` of line[0..len), if any: its bounds in
 * *ret_start, *ret_end (exclusive). Trailing punctuation that usually ends a sentence
 * (.,;:!?) and an unbalanced closing parenthesis are not part of it.
 */
bool text_url_at(const char *line, size_t len, size_t at, size_t *ret_start, size_t *ret_end);
/* Replaces control characters and invalid UTF-8 in place so a string can be drawn. */
void text_sanitize(char *s);
#endif
