/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "jwt.h"
#include "ab_util.h"
#include "auth_local.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/rsa.h>
#include <string.h>

struct jwt {
	json_t *header;
	json_t *claims;
	const char *kid;   /* in header */
	char *signed_part; /* "header.payload" as received */
	size_t signed_len;
	unsigned char *sig;
	size_t sig_len;
};

static int8_t
b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return (int8_t)(c - 'A');
	if (c >= 'a' && c <= 'z')
		return (int8_t)(c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (int8_t)(c - '0' + 52);
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

long
jwt_b64url_decode(const char *in, size_t len, unsigned char **ret)
{
	if (len % 4 == 1)
		return -EINVAL;
	unsigned char *out = ab_xmalloc(len * 3 / 4 + 2);
	size_t o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;
	for (size_t i = 0; i < len; i++) {
		int8_t v = b64url_value((unsigned char)in[i]);
		if (v < 0) {
			free(out);
			return -EINVAL;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	/* leftover bits must be zero (canonical encoding) */
	if (bits && (acc & ((1u << bits) - 1))) {
		free(out);
		return -EINVAL;
	}
	out[o] = '\0';
	*ret = out;
	return (long)o;
}

size_t
jwt_b64url_encode(const void *in, size_t len, char **ret)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *p = in;
	char *out = ab_xmalloc(len * 4 / 3 + 4);
	size_t o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;
	for (size_t i = 0; i < len; i++) {
		acc = (acc << 8) | p[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = tab[(acc >> bits) & 63];
		}
	}
	if (bits)
		out[o++] = tab[(acc << (6 - bits)) & 63];
	out[o] = '\0';
	*ret = out;
	return o;
}

void
jwt_free(struct jwt *t)
{
	if (!t)
		return;
	json_decref(t->header);
	json_decref(t->claims);
	free(t->signed_part);
	free(t->sig);
	free(t);
}

static int
decode_json_part(const char *part, size_t len, const char *what, json_t **ret, struct ab_err *err)
{
	unsigned char *raw = NULL;
	long n = jwt_b64url_decode(part, len, &raw);
	if (n < 0)
		return ab_err_set(err, EINVAL, "malformed token: %s is not base64url", what);
	json_error_t je;
	json_t *j = json_loadb((const char *)raw, (size_t)n, JSON_REJECT_DUPLICATES, &je);
	free(raw);
	if (!j)
		return ab_err_set(err, EINVAL, "malformed token: %s is not JSON (%s)", what,
		                  je.text);
	if (!json_is_object(j)) {
		json_decref(j);
		return ab_err_set(err, EINVAL, "malformed token: %s is not a JSON object", what);
	}
	*ret = j;
	return 0;
}

int
jwt_decode(const char *token, size_t len, struct jwt **ret, struct ab_err *err)
{
	if (!token || len == 0)
		return ab_err_set(err, EINVAL, "no token");
	if (len > JWT_MAX_LEN)
		return ab_err_set(err, E2BIG, "token is %zu bytes, more than the %d allowed", len,
		                  JWT_MAX_LEN);
	const char *dot1 = memchr(token, '.', len);
	const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	if (!dot1 || !dot2)
		return ab_err_set(err, EINVAL,
		                  "malformed token: expected three dot-separated parts");
	if (memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
		return ab_err_set(err, EINVAL, "malformed token: more than three parts");
	size_t hlen = (size_t)(dot1 - token), plen = (size_t)(dot2 - dot1 - 1),
	       slen = len - (size_t)(dot2 + 1 - token);
	if (hlen == 0 || plen == 0)
		return ab_err_set(err, EINVAL, "malformed token: empty header or payload");
	if (slen == 0)
		return ab_err_set(err, EACCES, "unsigned token (empty signature)");

	struct jwt *t = ab_xcalloc(1, sizeof(*t));
	int r = decode_json_part(token, hlen, "header", &t->header, err);
	if (r < 0)
		goto fail;
	json_t *alg = json_object_get(t->header, "alg");
	if (!json_is_string(alg)) {
		r = ab_err_set(err, EACCES, "header has no \"alg\"");
		goto fail;
	}
	if (strcmp(json_string_value(alg), "RS256") != 0 ||
	    json_string_length(alg) != strlen("RS256")) {
		r = ab_err_set(err, EACCES, "alg '%.32s' is not allowed, only RS256",
		               json_string_value(alg));
		goto fail;
	}
	if (json_object_get(t->header, "crit")) {
		r = ab_err_set(err, EACCES, "header has \"crit\" extensions, none are supported");
		goto fail;
	}
	json_t *kid = json_object_get(t->header, "kid");
	if (kid) {
		if (!json_is_string(kid) || json_string_length(kid) == 0 ||
		    json_string_length(kid) > 256 ||
		    strlen(json_string_value(kid)) != json_string_length(kid)) {
			r = ab_err_set(err, EINVAL,
			               "malformed token: \"kid\" must be a short string");
			goto fail;
		}
		t->kid = json_string_value(kid);
	}
	r = decode_json_part(dot1 + 1, plen, "payload", &t->claims, err);
	if (r < 0)
		goto fail;
	long n = jwt_b64url_decode(dot2 + 1, slen, &t->sig);
	if (n < 0) {
		r = ab_err_set(err, EINVAL, "malformed token: signature is not base64url");
		goto fail;
	}
	t->sig_len = (size_t)n;
	t->signed_len = (size_t)(dot2 - token);
	t->signed_part = ab_xstrndup(token, t->signed_len);
	*ret = t;
	return 0;
fail:
	jwt_free(t);
	return r;
}

const char *
jwt_kid(const struct jwt *t)
{
	return t->kid;
}

json_t *
jwt_claims(const struct jwt *t)
{
	return t->claims;
}

const char *
jwt_claim_string(const struct jwt *t, const char *name)
{
	json_t *v = json_object_get(t->claims, name);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int
verify_signature(const struct jwt *t, EVP_PKEY *key, struct ab_err *err)
{
	if (!key || !EVP_PKEY_is_a(key, "RSA"))
		return ab_err_set(err, EACCES, "key is not an RSA key");
	if (EVP_PKEY_get_bits(key) < 2048)
		return ab_err_set(err, EACCES, "RSA key has %d bits, at least 2048 required",
		                  EVP_PKEY_get_bits(key));
	if (t->sig_len != (size_t)EVP_PKEY_get_size(key))
		return ab_err_set(err, EACCES, "bad signature (length %zu, expected %d)",
		                  t->sig_len, EVP_PKEY_get_size(key));
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	AB_ASSERT(ctx);
	EVP_PKEY_CTX *pctx = NULL;
	int ok = EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, key) == 1 &&
	         EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 &&
	         EVP_DigestVerify(ctx, t->sig, t->sig_len, (const unsigned char *)t->signed_part,
	                          t->signed_len) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return ab_err_set(err, EACCES, "bad signature");
	return 0;
}

/* A NumericDate claim: *ret untouched and 0 when absent, -EACCES when not a number. */
static int
time_claim(const struct jwt *t, const char *name, bool required, int64_t *ret, struct ab_err *err)
{
	json_t *v = json_object_get(t->claims, name);
	if (!v) {
		if (required)
			return ab_err_set(err, EACCES, "token has no \"%s\" claim", name);
		return 0;
	}
	/*
	 * Within +-1e15 s (30 million years) either way: the checks below add the skew and
	 * subtract now, which overflowed for "exp": 9223372036854775807 (found by fuzzing).
	 */
	if (json_is_integer(v) && json_integer_value(v) > -1000000000000000LL &&
	    json_integer_value(v) < 1000000000000000LL) {
		*ret = json_integer_value(v);
	} else if (json_is_real(v) && json_real_value(v) > -1e15 && json_real_value(v) < 1e15) {
		*ret = (int64_t)json_real_value(v);
	} else if (json_is_number(v)) {
		return ab_err_set(err, EACCES, "\"%s\" claim is out of range", name);
	} else {
		return ab_err_set(err, EACCES, "\"%s\" claim is not a number", name);
	}
	return 1;
}

int
jwt_verify(const struct jwt *t, EVP_PKEY *key, const struct jwt_policy *policy, int64_t now_s,
           struct ab_err *err)
{
	int r = verify_signature(t, key, err);
	if (r < 0)
		return r;

	int64_t skew = AB_MAX(0, AB_MIN(policy->skew_s, JWT_MAX_SKEW_S));
	const char *iss = jwt_claim_string(t, "iss");
	if (!iss)
		return ab_err_set(err, EACCES, "token has no \"iss\" claim");
	if (!policy->iss || strcmp(iss, policy->iss) != 0)
		return ab_err_set(err, EACCES, "wrong issuer '%.200s'", iss);

	json_t *aud = json_object_get(t->claims, "aud");
	bool aud_ok = false;
	if (json_is_string(aud)) {
		aud_ok = policy->aud && strcmp(json_string_value(aud), policy->aud) == 0;
	} else if (json_is_array(aud)) {
		size_t i;
		json_t *a;
		json_array_foreach(aud, i, a)
		{
			if (json_is_string(a) && policy->aud &&
			    strcmp(json_string_value(a), policy->aud) == 0)
				aud_ok = true;
		}
	} else {
		return ab_err_set(err, EACCES, "token has no \"aud\" claim");
	}
	if (!aud_ok)
		return ab_err_set(err, EACCES, "wrong audience (our AUD tag is not in \"aud\")");

	int64_t exp = 0, nbf = 0, iat = 0;
	if ((r = time_claim(t, "exp", true, &exp, err)) < 0)
		return r;
	if (now_s > exp + skew)
		return ab_err_set(err, EACCES, "token expired %" PRId64 " s ago", now_s - exp);
	if ((r = time_claim(t, "nbf", false, &nbf, err)) < 0)
		return r;
	if (r > 0 && now_s + skew < nbf)
		return ab_err_set(err, EACCES, "token not valid yet (nbf is %" PRId64 " s ahead)",
		                  nbf - now_s);
	if ((r = time_claim(t, "iat", false, &iat, err)) < 0)
		return r;
	if (r > 0 && now_s + skew < iat)
		return ab_err_set(err, EACCES,
		                  "token issued in the future (iat is %" PRId64 " s ahead)",
		                  iat - now_s);
	return 0;
}

static const char *
trim(const char *s, size_t *len)
{
	while (*len && (*s == ' ' || *s == '\t')) {
		s++;
		(*len)--;
	}
	while (*len && (s[*len - 1] == ' ' || s[*len - 1] == '\t'))
		(*len)--;
	return s;
}

const char *
jwt_from_request(const char *assertion_header, const char *cookie_header, size_t *ret_len)
{
	if (assertion_header) {
		size_t n = strlen(assertion_header);
		const char *s = trim(assertion_header, &n);
		if (n) {
			*ret_len = n;
			return s;
		}
	}
	size_t n = 0;
	const char *c = auth_local_cookie_find(cookie_header, "CF_Authorization", &n);
	if (c && n) {
		*ret_len = n;
		return c;
	}
	return NULL;
}
