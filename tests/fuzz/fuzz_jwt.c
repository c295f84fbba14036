/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz_jwt: Cloudflare Access tokens (broker/auth/jwt.c) as a browser or anyone on the
 * network can send them. The first byte picks the mode:
 *   even: the rest is a token (the Cf-Access-Jwt-Assertion header, or after a NUL the
 *         Cookie header): jwt_from_request, jwt_decode, jwt_verify against our key;
 *   odd:  the rest is "header-JSON NUL payload-JSON", signed here with our key, so the
 *         claim checks behind the signature (iss, aud, exp/nbf/iat, their types and
 *         extremes) see fuzzed claims too.
 * A token verifies only when its signature is ours and every claim is in policy.
 */
#include <openssl/evp.h>

#include "fuzz.h"
#include "jwt.h"
#include "testkeys.h"

#define NOW_S 1800000000LL

static EVP_PKEY *key;
static const struct jwt_policy policy = {.aud = TK_AUD, .iss = TK_ISS, .skew_s = 60};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	key = tk_rsa(2048);
	return 0;
}

static void
decode_verify(const char *tok, size_t len, bool ours)
{
	struct jwt *t = NULL;
	struct ab_err err = {0};
	if (jwt_decode(tok, len, &t, &err) < 0) {
		FUZZ_CHECK(!ours || err.msg[0]);
		return;
	}
	(void)jwt_kid(t);
	(void)jwt_claim_string(t, "email");
	if (jwt_verify(t, key, &policy, NOW_S, &err) == 0) {
		/* what passed must really be in policy */
		const char *iss = jwt_claim_string(t, "iss");
		FUZZ_CHECK(iss && strcmp(iss, TK_ISS) == 0);
		json_t *exp = json_object_get(jwt_claims(t), "exp");
		FUZZ_CHECK(json_is_number(exp));
		FUZZ_CHECK(json_number_value(exp) >= (double)(NOW_S - 61));
	}
	jwt_free(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bool sign = data[0] & 1;
	char *f[2], *block;
	fuzz_split(data + 1, size - 1, f, 2, &block);
	if (!sign) {
		size_t n = 0;
		const char *tok = jwt_from_request(f[0][0] ? f[0] : NULL, f[1], &n);
		if (tok) {
			FUZZ_CHECK(n > 0 && n <= size);
			decode_verify(tok, n, false);
		}
		/* the raw bytes as a token, NULs and all */
		decode_verify((const char *)data + 1, size - 1, false);
	} else if (size < 4096) {
		char *tok = tk_sign(key, f[0], f[1]);
		decode_verify(tok, strlen(tok), true);
		free(tok);
	}
	free(block);
	return 0;
}
