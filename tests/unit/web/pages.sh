#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The pages the broker serves (web/*.html) are web/pages/ composed with their partials
# (cmake/WebPages.cmake): every page is there and current, begins with the shared head, keeps
# every line of its own, is not rewritten when nothing changed (its ETag stays), and an include
# naming no partial is refused, naming the page.
. "${AB_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}/tests/lib/sh/lib.sh"
need_tools cmake
ab_tmpdir ab-pages
compose() { cmake -DPAGES="$1" -DOUT="$2" -P "$S/cmake/WebPages.cmake"; }

mkdir "$T/out"
compose "$S/web/pages" "$T/out" >"$T/log" 2>&1 && ok "web/pages/ composes" || bad "compose: $(cat "$T/log")"
head_lines=$(grep -c . "$S/web/pages/head.html")
n=0
for src in "$S"/web/pages/*.html; do
	name=$(basename "$src")
	[ "$name" = head.html ] && continue
	n=$((n + 1))
	if cmp -s "$T/out/$name" "$S/web/$name"; then
		ok "web/$name is web/pages/$name composed (the build wrote it)"
	else
		bad "web/$name differs from web/pages/$name composed: rebuild, or the composer broke"
	fi
	[ "$(head -n 1 "$T/out/$name")" = '<!doctype html>' ] &&
		grep -qF '<meta charset="utf-8">' "$T/out/$name" &&
		grep -qF '<meta name="viewport"' "$T/out/$name" &&
		grep -qF "composed from web/pages/$name" "$T/out/$name" &&
		ok "$name: begins with the doctype, charset and viewport of head.html" ||
		bad "$name: the shared head is missing: $(head -n 8 "$T/out/$name")"
	# every line of the page but its SPDX line and the include is in the composed page, in order
	tail -n +3 "$src" >"$T/own"
	tail -n "$(wc -l <"$T/own")" "$T/out/$name" | cmp -s - "$T/own" &&
		ok "$name: the page's own lines follow the head unchanged" ||
		bad "$name: the page's own lines changed in composing"
	[ "$(wc -l <"$T/out/$name")" -eq $(($(wc -l <"$T/own") + head_lines + 1)) ] &&
		ok "$name: the head once, the page's lines, the note: nothing more" ||
		bad "$name: $(wc -l <"$T/out/$name") lines"
done
[ "$n" -ge 5 ] && ok "$n pages" || bad "only $n pages in web/pages/"

# Unchanged text: the page is not written again (same mtime, so the broker's ETag stays).
before=$(stat -c %Y.%y "$T/out/index.html")
sleep 1.1
compose "$S/web/pages" "$T/out" >/dev/null 2>&1
[ "$(stat -c %Y.%y "$T/out/index.html")" = "$before" ] && ok "an unchanged page is not rewritten" ||
	bad "index.html rewritten with the same text"

# An include that names no partial: refused, the page named, nothing written for it.
mkdir "$T/bad" "$T/badout"
cp "$S/web/pages/head.html" "$T/bad/"
printf '<!-- SPDX-License-Identifier: GPL-2.0-or-later -->\n<!--#include head.html -->\n<!--#include nohead.html -->\n<body></body>\n' >"$T/bad/p.html"
if compose "$T/bad" "$T/badout" >"$T/log" 2>&1; then
	bad "an include of a missing partial was accepted"
else
	grep -q "p.html: an include that names no partial" "$T/log" &&
		ok "an include of a missing partial is refused, naming the page" ||
		bad "refused without naming it: $(cat "$T/log")"
fi
[ ! -e "$T/badout/p.html" ] && ok "nothing written for the refused page" || bad "p.html written"
finish web_pages
