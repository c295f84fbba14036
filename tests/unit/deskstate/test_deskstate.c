/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "ab_test.h"

#include <errno.h>
#include <string.h>

#include "ab_util.h"
#include "deskstate.h"

static const char *const good =
    "{\"version\":1,"
    "\"windows\":[{\"app\":{\"class\":\"XTerm\",\"instance\":\"xterm\","
    "\"desktop_id\":\"xterm.desktop\"},\"title\":\"caf\xc3\xa9\",\"workspace\":2,"
    "\"x\":-10,\"y\":20,\"w\":484,\"h\":316,\"maximized\":true,\"minimized\":false,"
    "\"fullscreen\":false,\"stack\":1},"
    "{\"app\":{\"class\":\"Chromium\"},\"workspace\":0,\"x\":0,\"y\":0,\"w\":800,\"h\":600,"
    "\"stack\":0}],"
    "\"wallpaper\":{\"image\":\"dusk.png\",\"fit\":\"fit\"},"
    "\"theme\":{\"mode\":\"light\",\"accent\":\"#E5484D\"},"
    "\"workspaces\":{\"count\":6,\"current\":5},"
    "\"taskbar\":{\"position\":\"top\",\"pinned\":[\"xterm.desktop\"],\"autohide\":true},"
    "\"keyboard\":{\"layout\":\"de(nodeadkeys)\",\"layouts\":[\"de(nodeadkeys)\",\"us\",\"fr\"]},"
    "\"prefs\":{\"xterm.desktop\":{\"font_size\":12,\"colors\":[\"#000\",\"#fff\"]}}}";

static void
test_round_trip(void **state)
{
	struct deskstate ds;
	struct ab_err err = {0};
	assert_int_equal(deskstate_parse(good, strlen(good), &ds, &err), 0);
	assert_int_equal(ds.n_windows, 2);
	assert_string_equal(ds.windows[0].wm_class, "XTerm");
	assert_string_equal(ds.windows[0].title, "caf\xc3\xa9");
	assert_int_equal(ds.windows[0].x, -10);
	assert_true(ds.windows[0].maximized);
	assert_int_equal(ds.windows[0].workspace, 2);
	assert_int_equal(ds.mode, DESKSTATE_LIGHT);
	assert_int_equal(ds.wallpaper_fit, DESKSTATE_FIT);
	assert_int_equal(ds.ws_count, 6);
	assert_int_equal(ds.ws_current, 5);
	assert_int_equal(ds.tb_position, DESKSTATE_TOP);
	assert_true(ds.tb_autohide);
	assert_int_equal(ds.n_pinned, 1);
	assert_string_equal(ds.kbd_layout, "de(nodeadkeys)");
	assert_int_equal(ds.n_kbd_layouts, 3);
	assert_string_equal(ds.kbd_layouts[2], "fr");
	/* encode and parse again: the same JSON */
	json_t *j1 = deskstate_to_json(&ds);
	char *s1 = json_dumps(j1, JSON_COMPACT | JSON_SORT_KEYS);
	struct deskstate ds2;
	assert_int_equal(deskstate_from_json(j1, &ds2, &err), 0);
	json_t *j2 = deskstate_to_json(&ds2);
	char *s2 = json_dumps(j2, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s1, s2);
	free(s1);
	free(s2);
	json_decref(j1);
	json_decref(j2);
	deskstate_free(&ds);
	deskstate_free(&ds2);
}

static void
test_defaults_validate(void **state)
{
	struct deskstate ds;
	deskstate_init_default(&ds);
	json_t *j = deskstate_to_json(&ds);
	assert_int_equal(deskstate_validate(j, NULL), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "version")), 1);
	json_decref(j);
	deskstate_free(&ds);
}

/* Replaces the first occurrence of `from` in the good state by `to` and expects rejection. */
static void
expect_reject(const char *from, const char *to, const char *msg_part)
{
	const char *p = strstr(good, from);
	assert_non_null(p);
	size_t n = strlen(good) - strlen(from) + strlen(to);
	char *buf = ab_xmalloc(n + 1);
	size_t pre = (size_t)(p - good);
	memcpy(buf, good, pre);
	strcpy(buf + pre, to);
	strcat(buf, p + strlen(from));
	struct deskstate ds;
	memset(&ds, 0x5a, sizeof(ds));
	struct ab_err err = {0};
	int r = deskstate_parse(buf, strlen(buf), &ds, &err);
	if (r != -EINVAL)
		fail_msg("accepted (%d) after replacing '%s' by '%s'", r, from, to);
	if (msg_part && !strstr(err.msg, msg_part))
		fail_msg("message '%s' lacks '%s'", err.msg, msg_part);
	/* untouched on failure */
	assert_int_equal(ds.n_windows, (size_t)0x5a5a5a5a5a5a5a5aULL);
	free(buf);
}

/* Hostile states: {replace the first `from` in the good state, by `to`, rejected with a
 * message containing `msg` (NULL: any)}. */
static const struct {
	const char *from, *to, *msg;
} hostile[] = {
    {"\"version\":1", "\"version\":2", "version"},
    {"\"version\":1", "\"version\":\"1\"", "version"},
    {"\"workspace\":2", "\"workspace\":6", "windows[0].workspace"},
    {"\"workspace\":2", "\"workspace\":-1", "workspace"},
    {"\"x\":-10", "\"x\":99999", "windows[0].x"},
    {"\"w\":484", "\"w\":0", "windows[0].w"},
    {"\"w\":484", "\"w\":1.5", "integer"},
    {"\"h\":316", "\"h\":\"316\"", "integer"},
    {"\"maximized\":true", "\"maximized\":1", "true or false"},
    {"\"stack\":1", "\"stack\":0", "stack"},
    {"\"stack\":1", "\"stack\":7", "stack"},
    {"\"desktop_id\":\"xterm.desktop\"", "\"desktop_id\":\"../../bin/sh.desktop\"",
     "desktop file id"},
    {"\"desktop_id\":\"xterm.desktop\"", "\"desktop_id\":\"xterm\"", "desktop"},
    {"\"image\":\"dusk.png\"", "\"image\":\"../../etc/shadow\"", "plain file"},
    {"\"image\":\"dusk.png\"", "\"image\":\".hidden\"", "plain file"},
    {"\"accent\":\"#E5484D\"", "\"accent\":\"red\"", "accent"},
    {"\"mode\":\"light\"", "\"mode\":\"neon\"", "theme.mode"},
    {"\"count\":6", "\"count\":17", "workspaces.count"},
    {"\"count\":6", "\"count\":5", "workspaces.current"},
    {"\"position\":\"top\"", "\"position\":\"left\"", "taskbar.position"},
    {"\"pinned\":[\"xterm.desktop\"]", "\"pinned\":[1]", "pinned"},
    {"\"autohide\":true", "\"autohide\":true,\"evil\":1", "unknown key 'evil'"},
    {"\"class\":\"XTerm\"", "\"class\":\"XTerm\",\"exec\":\"rm -rf /\"", "unknown key 'exec'"},
    {"\"class\":\"XTerm\",", "", "class: missing"},
    {"\"class\":\"XTerm\"", "\"class\":\"a\\u0000b\"", NULL}, /* NUL */
    {"\"windows\":[", "\"windows\":{}, \"x\":[", NULL},
    {"\"prefs\":{\"xterm.desktop\":{",
     "\"prefs\":{\"xterm.desktop\":{\"a\":{\"b\":{\"c\":{\"d\":1}}}},\"x.desktop\":{", "deeper"},
    {"\"prefs\":{\"xterm.desktop\":{", "\"prefs\":{\"xterm.desktop\":7,\"y\":{",
     "must be an object"},
    {"\"title\":\"caf\xc3\xa9\"", "\"title\":\"caf\xc3\"", NULL}, /* bad UTF-8 */
    {"\"version\":1,", "\"version\":1,\"version\":1,", NULL},     /* duplicate */
    /* keyboard layouts: XKB names only, never a path or a command */
    {"\"layout\":\"de(nodeadkeys)\"", "\"layout\":\"../../etc/passwd\"", "keyboard.layout"},
    {"\"layout\":\"de(nodeadkeys)\"", "\"layout\":\"de;rm -rf /\"", "keyboard.layout"},
    {"\"layout\":\"de(nodeadkeys)\"", "\"layout\":\"DE\"", "keyboard.layout"},
    {"\"layout\":\"de(nodeadkeys)\"", "\"layout\":\"de(\"", "keyboard.layout"},
    {"\"layout\":\"de(nodeadkeys)\"", "\"layout\":\"de()\"", "keyboard.layout"},
    {"\"layout\":\"de(nodeadkeys)\"", "\"layout\":7", "keyboard.layout"},
    {"\"us\",\"fr\"]", "\"us\",\"fr(x/y)\"]", "keyboard.layouts[2]"},
    {"[\"de(nodeadkeys)\",\"us\",\"fr\"]",
     "[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"]", "keyboard.layouts"},
    {"\"layouts\":[", "\"extra\":1,\"layouts\":[", "unknown key 'extra'"},
};

static void
test_hostile(void **state)
{
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
		expect_reject(hostile[i].from, hostile[i].to, hostile[i].msg);
}

static void
test_limits(void **state)
{
	/* 65 windows: too many */
	json_t *root = json_pack("{s:i, s:[]}", "version", 1, "windows");
	json_t *wins = json_object_get(root, "windows");
	for (int i = 0; i < 65; i++)
		json_array_append_new(wins, json_pack("{s:{s:s}, s:i, s:i, s:i, s:i, s:i, s:i}",
		                                      "app", "class", "X", "workspace", 0, "x", 0,
		                                      "y", 0, "w", 10, "h", 10, "stack", i));
	struct ab_err err = {0};
	assert_int_equal(deskstate_validate(root, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "at most 64"));
	/* 64 is fine */
	json_array_remove(wins, 64);
	assert_int_equal(deskstate_validate(root, &err), 0);
	/* a title over 512 bytes */
	char big[600];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	json_object_set_new(json_array_get(wins, 3), "title", json_string(big));
	assert_int_equal(deskstate_validate(root, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "windows[3].title"));
	json_decref(root);
	/* not an object, not JSON, too big */
	json_t *arr = json_array();
	assert_int_equal(deskstate_validate(arr, NULL), -EINVAL);
	json_decref(arr);
	struct deskstate ds;
	assert_int_equal(deskstate_parse("{", 1, &ds, NULL), -EINVAL);
	assert_int_equal(deskstate_parse(good, DESKSTATE_MAX_BYTES + 1, &ds, NULL), -EFBIG);
}

static void
test_helpers(void **state)
{
	AB_ASSERT_EACH(deskstate_valid_kbd_layout, true, "us", "us(intl)", "de(nodeadkeys)",
	               "gb(extd)");
	AB_ASSERT_EACH(deskstate_valid_kbd_layout, false, "u", "us(intl", "us(intl)x", "us+de", "");
	char s[] = "ok \xff\xfe then \xc3\xa9 and \xe2\x82";
	deskstate_sanitize_utf8(s);
	assert_true(ab_utf8_valid(s, strlen(s)));
	assert_string_equal(s, "ok ?? then \xc3\xa9 and ??");
	AB_ASSERT_EACH(deskstate_valid_desktop_id, true, "org.gnome.Terminal.desktop");
	AB_ASSERT_EACH(deskstate_valid_desktop_id, false, ".desktop", "a/b.desktop");
	AB_ASSERT_EACH(deskstate_valid_colour, true, "#00aaFF");
	AB_ASSERT_EACH(deskstate_valid_colour, false, "#00aaF");
	AB_ASSERT_EACH(deskstate_valid_file_name, false, "..");
	AB_ASSERT_EACH(deskstate_valid_file_name, true, "calm-dusk.png");
}

AB_TEST_MAIN(NULL, NULL, test_round_trip, test_defaults_validate, test_hostile, test_limits,
             test_helpers);
