/* SPDX-License-Identifier: GPL-2.0-or-later */
/* jwt + jwks_parse: valid tokens and the attack suite, with keys generated here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "ab_test.h"

#include <errno.h>
#include <string.h>

#include "ab_util.h"
#include "jwks.h"
#include "jwt.h"
#include "testkeys.h"

#define NOW 1800000000LL

static EVP_PKEY *key, *other_key;
static const struct jwt_policy policy = {.aud = TK_AUD, .iss = TK_ISS, .skew_s = 60};

static int
setup(void **state)
{
	key = tk_rsa(2048);
	other_key = tk_rsa(2048);
	return 0;
}

static int
teardown(void **state)
{
	EVP_PKEY_free(key);
	EVP_PKEY_free(other_key);
	return 0;
}

/* Decodes and verifies with `k`; returns the result and copies the reason. */
static int
check(const char *tok, EVP_PKEY *k, char *why, size_t why_len)
{
	struct ab_err err = {0};
	struct jwt *t = NULL;
	int r = jwt_decode(tok, strlen(tok), &t, &err);
	if (r == 0) {
		r = jwt_verify(t, k, &policy, NOW, &err);
		jwt_free(t);
	}
	snprintf(why, why_len, "%s", err.msg);
	return r;
}

static void
expect_reject(const char *tok, EVP_PKEY *k, const char *reason_part)
{
	char why[1024];
	int r = check(tok, k, why, sizeof(why));
	if (r >= 0 || !strstr(why, reason_part))
		fail_msg("expected rejection containing '%s', got %d '%s'", reason_part, r, why);
}

static void
test_valid(void **state)
{
	char *tok = tk_token(key, "k1", NULL, NULL, NOW - 10, NOW + 300, "bea@argobox.example");
	struct ab_err err = {0};
	struct jwt *t = NULL;
	assert_int_equal(jwt_decode(tok, strlen(tok), &t, &err), 0);
	assert_string_equal(jwt_kid(t), "k1");
	assert_int_equal(jwt_verify(t, key, &policy, NOW, &err), 0);
	assert_string_equal(jwt_claim_string(t, "email"), "bea@argobox.example");
	assert_null(jwt_claim_string(t, "exp")); /* not a string */
	jwt_free(t);
	free(tok);

	/* "aud" as a plain string works too */
	char *h = "{\"alg\":\"RS256\",\"kid\":\"k1\"}";
	char *p = ab_xasprintf("{\"aud\":\"%s\",\"iss\":\"%s\",\"exp\":%lld,\"email\":\"a@b\"}",
	                       TK_AUD, TK_ISS, NOW + 5);
	tok = tk_sign(key, h, p);
	char why[1024];
	assert_int_equal(check(tok, key, why, sizeof(why)), 0);
	free(tok);
	free(p);
}

static void
test_time_and_skew(void **state)
{
	char why[1024];
	/* expired 59 s ago: inside the 60 s skew */
	char *tok = tk_token(key, "k1", NULL, NULL, NOW - 600, NOW - 59, "a@b");
	assert_int_equal(check(tok, key, why, sizeof(why)), 0);
	free(tok);
	tok = tk_token(key, "k1", NULL, NULL, NOW - 600, NOW - 61, "a@b");
	expect_reject(tok, key, "expired");
	free(tok);
	/* nbf/iat 59 s ahead pass, 61 s ahead do not */
	tok = tk_token(key, "k1", NULL, NULL, NOW + 59, NOW + 600, "a@b");
	assert_int_equal(check(tok, key, why, sizeof(why)), 0);
	free(tok);
	tok = tk_token(key, "k1", NULL, NULL, NOW + 61, NOW + 600, "a@b");
	expect_reject(tok, key, "not valid yet");
	free(tok);
	/* a policy asking for more skew is clamped to 60 s */
	struct jwt_policy loose = policy;
	loose.skew_s = 3600;
	tok = tk_token(key, "k1", NULL, NULL, NOW - 900, NOW - 120, "a@b");
	struct jwt *t = NULL;
	struct ab_err err = {0};
	assert_int_equal(jwt_decode(tok, strlen(tok), &t, &err), 0);
	assert_int_equal(jwt_verify(t, key, &loose, NOW, &err), -EACCES);
	jwt_free(t);
	free(tok);
	/* no exp at all */
	char *p = ab_xasprintf("{\"aud\":\"%s\",\"iss\":\"%s\"}", TK_AUD, TK_ISS);
	tok = tk_sign(key, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", p);
	expect_reject(tok, key, "no \"exp\"");
	free(tok);
	free(p);
	/* exp not a number */
	p = ab_xasprintf("{\"aud\":\"%s\",\"iss\":\"%s\",\"exp\":\"soon\"}", TK_AUD, TK_ISS);
	tok = tk_sign(key, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", p);
	expect_reject(tok, key, "not a number");
	free(tok);
	free(p);
}

/*
 * fuzz_jwt's finding: "exp" of INT64_MAX overflowed exp + skew (undefined behaviour, which
 * in practice wrapped to a token long expired), INT64_MIN overflowed now - exp in the
 * message. Times beyond +-1e15 s are refused as out of range, whatever the claim.
 */
static void
test_time_extremes(void **state)
{
	static const char *const claims[] = {
	    "\"exp\":9223372036854775807",
	    "\"exp\":-9223372036854775808",
	    "\"exp\":1000000000000000",
	    "\"exp\":2000000000,\"nbf\":-9223372036854775808",
	    "\"exp\":2000000000,\"iat\":9223372036854775807",
	    "\"exp\":1e300",
	};
	for (size_t i = 0; i < sizeof(claims) / sizeof(claims[0]); i++) {
		char *p =
		    ab_xasprintf("{\"aud\":\"%s\",\"iss\":\"%s\",%s}", TK_AUD, TK_ISS, claims[i]);
		char *tok = tk_sign(key, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", p);
		expect_reject(tok, key, "out of range");
		free(tok);
		free(p);
	}
	/* the largest accepted: far future, fine */
	char *p =
	    ab_xasprintf("{\"aud\":\"%s\",\"iss\":\"%s\",\"exp\":999999999999999}", TK_AUD, TK_ISS);
	char *tok = tk_sign(key, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", p);
	char why[1024];
	assert_int_equal(check(tok, key, why, sizeof(why)), 0);
	free(tok);
	free(p);
}

static void
test_attacks(void **state)
{
	char *p = ab_xasprintf("{\"aud\":[\"%s\"],\"iss\":\"%s\",\"exp\":%lld,\"email\":\"x@y\"}",
	                       TK_AUD, TK_ISS, NOW + 300);
	char *h = NULL, *pl = NULL;

	/* alg none, with and without a signature */
	const char *none_hdr = "{\"alg\":\"none\",\"kid\":\"k1\"}";
	jwt_b64url_encode(none_hdr, strlen(none_hdr), &h);
	jwt_b64url_encode(p, strlen(p), &pl);
	char *tok = ab_xasprintf("%s.%s.", h, pl);
	expect_reject(tok, key, "unsigned");
	free(tok);
	tok = ab_xasprintf("%s.%s.AAAA", h, pl);
	expect_reject(tok, key, "alg 'none' is not allowed");
	free(tok);
	free(h);
	/* "None", "RS256 " and friends */
	const char *algs[] = {"None", "RS256 ", "rs256", "RS512", "PS256", "ES256", "HS256"};
	for (size_t i = 0; i < AB_ARRAY_SIZE(algs); i++) {
		char *hj = ab_xasprintf("{\"alg\":\"%s\",\"kid\":\"k1\"}", algs[i]);
		tok = tk_sign(key, hj, p);
		expect_reject(tok, key, "is not allowed, only RS256");
		free(tok);
		free(hj);
	}
	/* HS256 keyed with the RSA public key (the classic confusion attack) */
	char *pem = tk_pubkey_pem(key);
	tok = tk_sign_hs256(pem, strlen(pem), "{\"alg\":\"HS256\",\"kid\":\"k1\"}", p);
	expect_reject(tok, key, "alg 'HS256' is not allowed");
	free(tok);
	free(pem);
	/* missing alg */
	tok = tk_sign(key, "{\"kid\":\"k1\"}", p);
	expect_reject(tok, key, "no \"alg\"");
	free(tok);
	/* crit header */
	tok = tk_sign(key, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"crit\":[\"b64\"]}", p);
	expect_reject(tok, key, "crit");
	free(tok);

	/* wrong aud / iss */
	tok = tk_token(key, "k1", "someone-else", NULL, NOW, NOW + 300, "a@b");
	expect_reject(tok, key, "wrong audience");
	free(tok);
	tok = tk_token(key, "k1", NULL, "https://evil.cloudflareaccess.com", NOW, NOW + 300, "a@b");
	expect_reject(tok, key, "wrong issuer");
	free(tok);
	/* iss prefix trick */
	tok = tk_token(key, "k1", NULL, TK_ISS ".evil.com", NOW, NOW + 300, "a@b");
	expect_reject(tok, key, "wrong issuer");
	free(tok);

	/* signed by another key; one bit flipped in the signature; payload swapped */
	tok = tk_token(other_key, "k1", NULL, NULL, NOW, NOW + 300, "a@b");
	expect_reject(tok, key, "bad signature");
	free(tok);
	tok = tk_token(key, "k1", NULL, NULL, NOW, NOW + 300, "a@b");
	size_t n = strlen(tok);
	tok[n - 5] = tok[n - 5] == 'A' ? 'B' : 'A';
	expect_reject(tok, key, "bad signature");
	char *good = tk_token(key, "k1", NULL, NULL, NOW, NOW + 300, "admin@argobox.example");
	char *forged_payload = NULL;
	const char *fp = "{\"email\":\"daniel@argobox.example\"}";
	jwt_b64url_encode(fp, strlen(fp), &forged_payload);
	char *d1 = strchr(good, '.'), *d2 = strchr(d1 + 1, '.');
	char *forged = ab_xasprintf("%.*s.%s%s", (int)(d1 - good), good, forged_payload, d2);
	expect_reject(forged, key, "bad signature");
	free(forged);
	free(forged_payload);

	/* truncated at every interesting place */
	expect_reject(good, NULL, "not an RSA key");
	char *t2 = ab_xstrndup(good, strlen(good) - 10);
	expect_reject(t2, key, "bad signature");
	free(t2);
	t2 = ab_xstrndup(good, (size_t)(d2 - good));
	expect_reject(t2, key, "three");
	free(t2);
	t2 = ab_xstrndup(good, (size_t)(d1 - good) + 5);
	expect_reject(t2, key, "three");
	free(t2);
	t2 = ab_xstrndup(good, (size_t)(d2 - good) + 1);
	expect_reject(t2, key, "unsigned");
	free(t2);
	free(good);
	free(tok);

	/* garbage */
	const char *junk[] = {"",
	                      "garbage",
	                      "a.b.c",
	                      "....",
	                      "e30.e30.e30",
	                      "!!!.???.$$$",
	                      "eyJhbGciOiJSUzI1NiJ9",
	                      "W10.e30.AAAA",
	                      "e30.W10.AAAA"};
	for (size_t i = 0; i < AB_ARRAY_SIZE(junk); i++) {
		char why[1024];
		assert_true(check(junk[i], key, why, sizeof(why)) < 0);
		assert_true(why[0] != '\0');
	}
	/* duplicate keys in the header (parser differential) */
	tok = tk_sign(key, "{\"alg\":\"RS256\",\"alg\":\"none\",\"kid\":\"k1\"}", p);
	expect_reject(tok, key, "not JSON");
	free(tok);

	/* 1 MB and just over the limit: rejected before parsing */
	char *big = ab_xmalloc((1 << 20) + 1);
	memset(big, 'A', 1 << 20);
	big[1 << 20] = '\0';
	big[100] = '.';
	big[200] = '.';
	expect_reject(big, key, "more than the 16384 allowed");
	big[JWT_MAX_LEN + 1] = '\0';
	expect_reject(big, key, "more than");
	free(big);
	free(pl);
	free(p);
}

static void
test_weak_key(void **state)
{
	EVP_PKEY *weak = tk_rsa(1024);
	char *tok = tk_token(weak, "k1", NULL, NULL, NOW, NOW + 300, "a@b");
	expect_reject(tok, weak, "at least 2048");
	free(tok);
	/* and a JWKS offering it has no usable key */
	const char *kid = "weak";
	char *js = tk_jwks(&weak, &kid, 1);
	struct jwks_keyset *ks = NULL;
	struct ab_err err = {0};
	assert_int_equal(jwks_parse(js, strlen(js), &ks, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "no usable RS256 key"));
	free(js);
	EVP_PKEY_free(weak);
}

static void
test_b64url(void **state)
{
	unsigned char *out = NULL;
	assert_int_equal(jwt_b64url_decode("aGk", 3, &out), 2);
	assert_memory_equal(out, "hi", 2);
	free(out);
	assert_int_equal(jwt_b64url_decode("aGk=", 4, &out), -EINVAL); /* padding */
	assert_int_equal(jwt_b64url_decode("a+k", 3, &out), -EINVAL);  /* base64, not url */
	assert_int_equal(jwt_b64url_decode("a", 1, &out), -EINVAL);
	assert_int_equal(jwt_b64url_decode("aGl", 3, &out), -EINVAL); /* non-canonical */
	char *enc = NULL;
	assert_int_equal(jwt_b64url_encode("\xfb\xff", 2, &enc), 3);
	assert_string_equal(enc, "-_8");
	free(enc);
}

static void
test_from_request(void **state)
{
	size_t n = 0;
	const char *t = jwt_from_request("  abc.def.ghi ", "CF_Authorization=zzz", &n);
	assert_non_null(t);
	assert_int_equal(n, 11);
	assert_memory_equal(t, "abc.def.ghi", 11);
	t = jwt_from_request(NULL, "a=1; CF_Authorization=x.y.z; b=2", &n);
	assert_non_null(t);
	assert_int_equal(n, 5);
	assert_memory_equal(t, "x.y.z", 5);
	t = jwt_from_request("", "XCF_Authorization=x.y.z", &n);
	assert_null(t);
	assert_null(jwt_from_request(NULL, NULL, &n));
}

static void
test_jwks_parse(void **state)
{
	EVP_PKEY *keys[2] = {key, other_key};
	const char *kids[2] = {"k1", "k2"};
	char *js = tk_jwks(keys, kids, 2);
	struct jwks_keyset *ks = NULL;
	struct ab_err err = {0};
	assert_int_equal(jwks_parse(js, strlen(js), &ks, &err), 0);
	assert_int_equal(jwks_keyset_count(ks), 2);
	assert_int_equal(EVP_PKEY_eq(jwks_keyset_find(ks, "k1"), key), 1);
	assert_int_equal(EVP_PKEY_eq(jwks_keyset_find(ks, "k2"), other_key), 1);
	assert_null(jwks_keyset_find(ks, "k3"));
	jwks_keyset_free(ks);
	free(js);

	/* Cloudflare's shape: extra members, and non-RSA keys are skipped */
	char *k1 = tk_jwk(key, "k1");
	js = ab_xasprintf("{\"keys\":[{\"kty\":\"EC\",\"kid\":\"e\",\"crv\":\"P-256\"},%s],"
	                  "\"public_cert\":{\"kid\":\"k1\",\"cert\":\"...\"},\"public_certs\":[]}",
	                  k1);
	assert_int_equal(jwks_parse(js, strlen(js), &ks, &err), 0);
	assert_int_equal(jwks_keyset_count(ks), 1);
	jwks_keyset_free(ks);
	free(js);
	free(k1);

	const char *bad[] = {
	    "",
	    "junk",
	    "[]",
	    "{}",
	    "{\"keys\":{}}",
	    "{\"keys\":[]}",
	    "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"a\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
	    "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}"};
	for (size_t i = 0; i < AB_ARRAY_SIZE(bad); i++) {
		ks = NULL;
		assert_true(jwks_parse(bad[i], strlen(bad[i]), &ks, &err) < 0);
		assert_null(ks);
	}
}

/* Deterministic mutation fuzzing of decode + verify and of jwks_parse: nothing is accepted
 * that was changed, nothing crashes (ASan/UBSan builds). */
static void
test_mutations(void **state)
{
	char *good = tk_token(key, "k1", NULL, NULL, NOW, NOW + 300, "bea@argobox.example");
	size_t n = strlen(good);
	unsigned seed = 12345;
	static const char alphabet[] = "AZaz09-_.=+/\"{}\x00\xff ";
	int accepted = 0;
	for (int i = 0; i < 20000; i++) {
		char *m = ab_xstrdup(good);
		size_t len = n;
		int edits = 1 + (int)(rand_r(&seed) % 4);
		for (int e = 0; e < edits; e++) {
			size_t pos = (size_t)rand_r(&seed) % len;
			switch (rand_r(&seed) % 3) {
			case 0:
				m[pos] = alphabet[(size_t)rand_r(&seed) % (sizeof(alphabet) - 1)];
				break;
			case 1: /* delete */
				if (len > 1) {
					memmove(m + pos, m + pos + 1, len - pos);
					len--;
				}
				break;
			default: /* truncate */
				len = pos ? pos : 1;
				m[len] = '\0';
			}
		}
		struct jwt *t = NULL;
		struct ab_err err = {0};
		if (jwt_decode(m, len, &t, &err) == 0) {
			if (jwt_verify(t, key, &policy, NOW, &err) == 0 &&
			    (len != n || memcmp(m, good, n)))
				accepted++;
			jwt_free(t);
		} else {
			assert_true(err.msg[0] != '\0');
		}
		free(m);
	}
	assert_int_equal(accepted, 0);
	free(good);

	char *js = tk_jwk(key, "k1");
	size_t jn = strlen(js);
	for (int i = 0; i < 5000; i++) {
		char *m = ab_xstrdup(js);
		m[(size_t)rand_r(&seed) % jn] =
		    alphabet[(size_t)rand_r(&seed) % (sizeof(alphabet) - 1)];
		char *doc = ab_xasprintf("{\"keys\":[%s]}", m);
		struct jwks_keyset *ks = NULL;
		if (jwks_parse(doc, strlen(doc), &ks, NULL) == 0)
			jwks_keyset_free(ks);
		free(doc);
		free(m);
	}
	free(js);
}

AB_TEST_MAIN(setup, teardown, test_valid, test_time_and_skew, test_time_extremes, test_attacks,
             test_weak_key, test_b64url, test_from_request, test_jwks_parse, test_mutations);
