/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz_services: the services registry loader (broker/services/registry.c), which reads the
 * "services" array of the config file and of every reload an admin triggers. The input is
 * JSON text: either the array itself or {"services": [...]}. Checks: an accepted registry
 * has unique, findable names, and each entry's network spec (what the desktops' nftables
 * rules are built from) is either refused or a bounded "tcp:a.b.c.d:port".
 */
#include "fuzz.h"
#include "services.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (!root)
		return 0;
	json_t *arr = json_is_object(root) ? json_object_get(root, "services") : root;
	struct services_registry *reg = NULL;
	struct ab_err err = {0};
	if (services_registry_load(arr, &reg, &err) < 0) {
		FUZZ_CHECK(err.msg[0]);
		json_decref(root);
		return 0;
	}
	for (size_t i = 0; i < reg->n; i++) {
		const struct services_entry *e = &reg->entries[i];
		FUZZ_CHECK(services_registry_find(reg, e->name) == e);
		char spec[64];
		int r = services_net_spec(e, spec, sizeof(spec));
		if (r == 0)
			FUZZ_CHECK(strncmp(spec, "tcp:", 4) == 0 && strlen(spec) < sizeof(spec));
	}
	services_registry_free(reg);
	json_decref(root);
	return 0;
}
