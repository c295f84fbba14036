/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "testkeys.h"
#include "ab_util.h"
#include "jwt.h"

#include <inttypes.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <string.h>

EVP_PKEY *
tk_rsa(int bits)
{
	EVP_PKEY *k = EVP_RSA_gen((unsigned)bits);
	AB_ASSERT(k);
	return k;
}

static char *
bn_b64(EVP_PKEY *k, const char *name)
{
	BIGNUM *bn = NULL;
	AB_ASSERT(EVP_PKEY_get_bn_param(k, name, &bn) == 1);
	int n = BN_num_bytes(bn);
	unsigned char *buf = ab_xmalloc((size_t)n);
	BN_bn2bin(bn, buf);
	char *out = NULL;
	jwt_b64url_encode(buf, (size_t)n, &out);
	free(buf);
	BN_free(bn);
	return out;
}

char *
tk_jwk(EVP_PKEY *k, const char *kid)
{
	char *n = bn_b64(k, OSSL_PKEY_PARAM_RSA_N), *e = bn_b64(k, OSSL_PKEY_PARAM_RSA_E);
	char *s = ab_xasprintf(
	    "{\"kty\":\"RSA\",\"kid\":\"%s\",\"alg\":\"RS256\",\"use\":\"sig\",\"n\":\"%s\","
	    "\"e\":\"%s\"}",
	    kid, n, e);
	free(n);
	free(e);
	return s;
}

char *
tk_jwks(EVP_PKEY **keys, const char *const *kids, size_t n)
{
	char *s = ab_xstrdup("{\"keys\":[");
	for (size_t i = 0; i < n; i++) {
		char *j = tk_jwk(keys[i], kids[i]);
		char *t = ab_xasprintf("%s%s%s", s, i ? "," : "", j);
		free(s);
		free(j);
		s = t;
	}
	char *t = ab_xasprintf("%s]}", s);
	free(s);
	return t;
}

static char *
signing_input(const char *header_json, const char *payload_json)
{
	char *h = NULL, *p = NULL;
	jwt_b64url_encode(header_json, strlen(header_json), &h);
	jwt_b64url_encode(payload_json, strlen(payload_json), &p);
	char *s = ab_xasprintf("%s.%s", h, p);
	free(h);
	free(p);
	return s;
}

static char *
finish(char *input, const unsigned char *sig, size_t len)
{
	char *b = NULL;
	jwt_b64url_encode(sig, len, &b);
	char *s = ab_xasprintf("%s.%s", input, b);
	free(b);
	free(input);
	return s;
}

char *
tk_sign(EVP_PKEY *k, const char *header_json, const char *payload_json)
{
	char *input = signing_input(header_json, payload_json);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t len = 0;
	AB_ASSERT(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k) == 1);
	AB_ASSERT(EVP_DigestSign(ctx, NULL, &len, (unsigned char *)input, strlen(input)) == 1);
	unsigned char *sig = ab_xmalloc(len);
	AB_ASSERT(EVP_DigestSign(ctx, sig, &len, (unsigned char *)input, strlen(input)) == 1);
	EVP_MD_CTX_free(ctx);
	char *s = finish(input, sig, len);
	free(sig);
	return s;
}

char *
tk_sign_hs256(const void *secret, size_t len, const char *header_json, const char *payload_json)
{
	char *input = signing_input(header_json, payload_json);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned mlen = 0;
	AB_ASSERT(HMAC(EVP_sha256(), secret, (int)len, (unsigned char *)input, strlen(input), mac,
	               &mlen));
	return finish(input, mac, mlen);
}

char *
tk_token(EVP_PKEY *k, const char *kid, const char *aud, const char *iss, int64_t iat, int64_t exp,
         const char *email)
{
	char *h = ab_xasprintf("{\"alg\":\"RS256\",\"kid\":\"%s\",\"typ\":\"JWT\"}", kid);
	char *p = ab_xasprintf("{\"aud\":[\"%s\"],\"email\":\"%s\",\"exp\":%" PRId64
	                       ",\"iat\":%" PRId64 ",\"nbf\":%" PRId64
	                       ",\"iss\":\"%s\",\"type\":\"app\",\"sub\":\"0000-1111\"}",
	                       aud ? aud : TK_AUD, email, exp, iat, iat, iss ? iss : TK_ISS);
	char *t = tk_sign(k, h, p);
	free(h);
	free(p);
	return t;
}

char *
tk_pubkey_pem(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	AB_ASSERT(PEM_write_bio_PUBKEY(b, k) == 1);
	char *data = NULL;
	long n = BIO_get_mem_data(b, &data);
	char *s = ab_xstrndup(data, (size_t)n);
	BIO_free(b);
	return s;
}
