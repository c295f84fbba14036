/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz_deskstate: the desktop-state validator (lib/deskstate), which the broker runs on every
 * state a window manager sends or the KV store hands back, and the window manager on what the
 * broker gives it at boot. A state it accepts must survive the round trip: encoded again it
 * validates, and encodes to the same JSON (what the wm writes is what it reads back).
 */
#include "deskstate.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct deskstate ds;
	struct ab_err err = {0};
	if (deskstate_parse((const char *)data, size, &ds, &err) < 0) {
		FUZZ_CHECK(err.msg[0] != '\0'); /* a refusal says why */
		return 0;
	}
	json_t *j = deskstate_to_json(&ds);
	FUZZ_CHECK(j);
	FUZZ_CHECK(deskstate_validate(j, &err) == 0);
	char *text = json_dumps(j, JSON_COMPACT);
	FUZZ_CHECK(text);
	struct deskstate again;
	FUZZ_CHECK(deskstate_parse(text, strlen(text), &again, &err) == 0);
	json_t *j2 = deskstate_to_json(&again);
	FUZZ_CHECK(json_equal(j, j2));
	json_decref(j2);
	deskstate_free(&again);
	free(text);
	json_decref(j);
	deskstate_free(&ds);
	return 0;
}
