/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz_jwks: the Access signing key set (broker/auth/jwks.c's jwks_parse), as the certs
 * endpoint, or whoever answers in its place, returns it. Every key it keeps is an RSA key
 * findable by its kid, and never more than JWKS_MAX_KEYS of them.
 */
#include <openssl/evp.h>

#include "fuzz.h"
#include "jwks.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jwks_keyset *ks = NULL;
	struct ab_err err = {0};
	if (jwks_parse((const char *)data, size, &ks, &err) < 0) {
		FUZZ_CHECK(err.msg[0]);
		return 0;
	}
	FUZZ_CHECK(jwks_keyset_count(ks) <= JWKS_MAX_KEYS);
	/* the kids the seeds and the dictionary use */
	static const char *const kids[] = {"k1", "k2", "", "key-2026"};
	for (size_t i = 0; i < sizeof(kids) / sizeof(kids[0]); i++) {
		EVP_PKEY *k = jwks_keyset_find(ks, kids[i]);
		if (k)
			FUZZ_CHECK(EVP_PKEY_is_a(k, "RSA"));
	}
	jwks_keyset_free(ks);
	return 0;
}
