/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ab_list: scrolling list model (no X). */
#include "ab_list.h"

static size_t
max_top(const struct ab_list *l)
{
	size_t v = l->visible ? l->visible : 1;
	return l->n > v ? l->n - v : 0;
}

static void
keep_visible(struct ab_list *l)
{
	size_t v = l->visible ? l->visible : 1;
	if (l->sel < l->top)
		l->top = l->sel;
	else if (l->sel >= l->top + v)
		l->top = l->sel - v + 1;
	if (l->top > max_top(l))
		l->top = max_top(l);
}

void
list_set_count(struct ab_list *l, size_t n)
{
	l->n = n;
	if (n == 0) {
		l->sel = l->top = 0;
		return;
	}
	if (l->sel >= n)
		l->sel = n - 1;
	if (l->top > max_top(l))
		l->top = max_top(l);
}

void
list_set_visible(struct ab_list *l, size_t visible)
{
	l->visible = visible ? visible : 1;
	if (l->n)
		keep_visible(l);
}

void
list_select(struct ab_list *l, size_t i)
{
	if (l->n == 0)
		return;
	l->sel = i < l->n ? i : l->n - 1;
	keep_visible(l);
}

bool
list_key(struct ab_list *l, enum ab_list_key key)
{
	if (l->n == 0)
		return false;
	size_t old = l->sel, v = l->visible ? l->visible : 1;
	switch (key) {
	case AB_LIST_UP:
		if (l->sel > 0)
			l->sel--;
		break;
	case AB_LIST_DOWN:
		if (l->sel + 1 < l->n)
			l->sel++;
		break;
	case AB_LIST_PAGE_UP:
		l->sel = l->sel > v ? l->sel - v : 0;
		break;
	case AB_LIST_PAGE_DOWN:
		l->sel = l->sel + v < l->n ? l->sel + v : l->n - 1;
		break;
	case AB_LIST_HOME:
		l->sel = 0;
		break;
	case AB_LIST_END:
		l->sel = l->n - 1;
		break;
	case AB_LIST_KEY_MAX:
		break;
	}
	keep_visible(l);
	return l->sel != old;
}

void
list_scroll(struct ab_list *l, long delta)
{
	long t = (long)l->top + delta;
	if (t < 0)
		t = 0;
	if ((size_t)t > max_top(l))
		t = (long)max_top(l);
	l->top = (size_t)t;
}

long
list_row_at(const struct ab_list *l, int y, int row_h)
{
	if (y < 0 || row_h <= 0)
		return -1;
	size_t i = l->top + (size_t)(y / row_h);
	return i < l->n ? (long)i : -1;
}
