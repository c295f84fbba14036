/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ab_list: the model of a scrolling list (selection, scroll offset, keyboard
 * navigation), free of X so it is unit-tested; ab_app_list_draw() in
 * ab_app.h draws it. The list does not own the rows: the app keeps them and
 * tells the list how many there are.
 */
#ifndef AB_LIST_H
#define AB_LIST_H
#include <stdbool.h>
#include <stddef.h>

enum ab_list_key {
	AB_LIST_UP,
	AB_LIST_DOWN,
	AB_LIST_PAGE_UP,
	AB_LIST_PAGE_DOWN,
	AB_LIST_HOME,
	AB_LIST_END,
	AB_LIST_KEY_MAX,
};

struct ab_list {
	size_t n;       /* rows */
	size_t sel;     /* selected row (< n when n > 0) */
	size_t top;     /* first visible row */
	size_t visible; /* rows that fit in the view (>= 1) */
	bool focused;   /* draws the focus ring */
};

/* Sets the row count, keeping the selection and scroll in range. */
void list_set_count(struct ab_list *l, size_t n);
/* Sets how many rows fit, keeping the selection visible. */
void list_set_visible(struct ab_list *l, size_t visible);
/* Moves the selection; returns true when it changed. */
bool list_key(struct ab_list *l, enum ab_list_key key);
/* Selects row i (clamped) and scrolls it into view. */
void list_select(struct ab_list *l, size_t i);
/* Scrolls by delta rows (wheel), clamped; the selection stays. */
void list_scroll(struct ab_list *l, long delta);
/* The row at view offset y for rows of height row_h, or -1 when past the end. */
long list_row_at(const struct ab_list *l, int y, int row_h);
#endif
