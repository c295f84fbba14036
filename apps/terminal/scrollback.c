/* SPDX-License-Identifier: GPL-2.0-or-later */
/* scrollback: ring of lines (see scrollback.h). */
#include "scrollback.h"
#include "ab_text.h"
#include "ab_util.h"

#include <string.h>

void
sb_init(struct scrollback *sb, size_t cap)
{
	memset(sb, 0, sizeof(*sb));
	sb->cap = cap ? cap : 1;
	sb->ring = ab_xcalloc(sb->cap, sizeof(*sb->ring));
}

void
sb_free(struct scrollback *sb)
{
	if (!sb->ring)
		return;
	for (size_t i = 0; i < sb->cap; i++)
		free(sb->ring[i]);
	free(sb->ring);
	sb->ring = NULL;
	sb->count = 0;
}

void
sb_push(struct scrollback *sb, const struct sb_cell *cells, size_t cols)
{
	if (cols > 65535)
		cols = 65535;
	struct sb_line *l = ab_xmalloc(sizeof(*l) + cols * sizeof(l->cells[0]));
	l->cols = (uint16_t)cols;
	memcpy(l->cells, cells, cols * sizeof(l->cells[0]));
	size_t slot = (sb->head + sb->count) % sb->cap;
	if (sb->count == sb->cap) {
		free(sb->ring[sb->head]);
		sb->head = (sb->head + 1) % sb->cap;
	} else {
		sb->count++;
	}
	sb->ring[slot] = l;
}

struct sb_line *
sb_pop(struct scrollback *sb)
{
	if (sb->count == 0)
		return NULL;
	size_t slot = (sb->head + sb->count - 1) % sb->cap;
	sb->count--;
	return TAKE_PTR(sb->ring[slot]);
}

const struct sb_line *
sb_get(const struct scrollback *sb, size_t i)
{
	if (i >= sb->count)
		return NULL;
	return sb->ring[(sb->head + i) % sb->cap];
}

bool
sb_cell_text(const struct sb_cell *cell, char *out, size_t size, size_t *o, size_t *keep)
{
	if (cell->width == 0)
		return true;
	for (int k = 0; k < 2; k++) {
		uint32_t cp = cell->ch[k];
		if (k == 0 && cp == 0)
			cp = ' ';
		if (cp == 0)
			break;
		char u[4];
		size_t n = text_utf8_encode(cp, u);
		if (*o + n + 1 > size)
			return false;
		memcpy(out + *o, u, n);
		*o += n;
	}
	if (cell->ch[0] && cell->ch[0] != ' ')
		*keep = *o;
	return true;
}

size_t
sb_line_text(const struct sb_line *l, char *out, size_t size)
{
	size_t o = 0, keep = 0;
	if (size == 0)
		return 0;
	for (size_t c = 0; l && c < l->cols; c++) {
		if (!sb_cell_text(&l->cells[c], out, size, &o, &keep))
			break;
	}
	out[keep] = '\0';
	return keep;
}
