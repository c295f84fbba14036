/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * scrollback: the lines that scrolled off the top of the terminal, in a ring
 * of at most `cap` lines (oldest dropped). No X, no vterm: unit-tested.
 */
#ifndef TERM_SCROLLBACK_H
#define TERM_SCROLLBACK_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SB_DEFAULT (1u << 24) /* fg/bg: the theme's default colour, not an RGB value */
enum {
	SB_BOLD = 1,
	SB_ITALIC = 2,
	SB_UNDERLINE = 4,
	SB_REVERSE = 8,
};

struct sb_cell {
	uint32_t ch[2];  /* base character and one combining mark (0: none) */
	uint32_t fg, bg; /* 0xRRGGBB or SB_DEFAULT */
	uint8_t width;   /* 1, 2 (wide) or 0 (the right half of a wide character) */
	uint8_t attr;
};

struct sb_line {
	uint16_t cols;
	struct sb_cell cells[];
};

struct scrollback {
	struct sb_line **ring;
	size_t cap, head, count; /* head: index of the oldest line */
};

void sb_init(struct scrollback *sb, size_t cap);
void sb_free(struct scrollback *sb);
/* Appends a copy of cells[0..cols) (cols clamped to 65535), dropping the oldest line when full. */
void sb_push(struct scrollback *sb, const struct sb_cell *cells, size_t cols);
/* Removes the newest line and returns it (the caller frees it), or NULL when empty. */
struct sb_line *sb_pop(struct scrollback *sb);
/* Line i, 0 = oldest; NULL when out of range. */
const struct sb_line *sb_get(const struct scrollback *sb, size_t i);
/* The line's text as UTF-8 into out (NUL-terminated, trailing blanks cut); returns its length. */
size_t sb_line_text(const struct sb_line *l, char *out, size_t size);
/*
 * Appends one cell's text (a blank for an empty cell, nothing for the right half of a wide
 * character) at out + *o, keeping room for a NUL within size, and moves *keep past it when
 * the cell is not blank. False when it does not fit (*o then ends at a whole character).
 */
bool sb_cell_text(const struct sb_cell *cell, char *out, size_t size, size_t *o, size_t *keep);
#endif
