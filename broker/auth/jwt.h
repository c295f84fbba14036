/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * jwt: verification of Cloudflare Access JSON Web Tokens (RS256 only).
 *
 * Two steps, so the key can be chosen (and fetched, see jwks.h) by `kid`:
 *
 *   struct jwt *t = NULL;
 *   jwt_decode(token, len, &t, &err);      size, shape, base64url, JSON, alg
 *   key = lookup(jwt_kid(t));
 *   jwt_verify(t, key, &policy, now, &err); signature, iss, aud, exp/nbf/iat
 *   email = jwt_claim_string(t, "email");
 *
 * Every rejection returns -EACCES (-EINVAL for malformed input, -E2BIG for
 * oversized input) with a short reason in err ("token expired 75 s ago",
 * "alg 'none' is not allowed, only RS256", ...). Nothing here allocates
 * before the size check, so a 1 MB token costs nothing.
 */
#ifndef BROKER_JWT_H
#define BROKER_JWT_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "ab_err.h"

#define JWT_MAX_LEN        16384 /* bytes; larger tokens are rejected before parsing */
#define JWT_DEFAULT_SKEW_S 60
#define JWT_MAX_SKEW_S     60

struct jwt;

struct jwt_policy {
	const char *aud; /* the Access application's AUD tag; must be in "aud" */
	const char *iss; /* "https://<team>.cloudflareaccess.com" */
	int64_t skew_s;  /* clock skew allowed for exp/nbf/iat, clamped to [0, 60] */
};

/*
 * Splits and decodes a compact JWS (header.payload.signature). Checks the
 * size, the base64url alphabet, that header and payload are JSON objects
 * without duplicate keys, and that "alg" is RS256 (so "none", HS256 and
 * everything else is refused here, before any key is looked up).
 * On success *ret owns the token; free it with jwt_free().
 */
int jwt_decode(const char *token, size_t len, struct jwt **ret, struct ab_err *err);
void jwt_free(struct jwt *t);

/* The header's "kid", or NULL when absent. Valid while t lives. */
const char *jwt_kid(const struct jwt *t);

/*
 * Verifies the RS256 signature with `key` (an RSA public key of at least 2048
 * bits) and the claims against `policy` at wall-clock time `now_s` (seconds
 * since the epoch). Returns 0, or -EACCES with the reason in err.
 */
int jwt_verify(const struct jwt *t, EVP_PKEY *key, const struct jwt_policy *policy, int64_t now_s,
               struct ab_err *err);

/* A string claim ("email", "sub", ...), NULL when absent or not a string. */
const char *jwt_claim_string(const struct jwt *t, const char *name);
/* The claims object (borrowed). */
json_t *jwt_claims(const struct jwt *t);

/*
 * Finds the token in a request: the Cf-Access-Jwt-Assertion header value
 * first, else the CF_Authorization cookie in the Cookie header. Either may be
 * NULL. Returns a pointer into one of the inputs and its length in *ret_len,
 * or NULL when neither carries a token. Surrounding blanks are trimmed.
 */
const char *jwt_from_request(const char *assertion_header, const char *cookie_header,
                             size_t *ret_len);

/*
 * Strict base64url (RFC 4648 §5) without padding. Returns the decoded length
 * or -EINVAL; *ret owns a buffer with one spare NUL byte.
 */
long jwt_b64url_decode(const char *in, size_t len, unsigned char **ret);
/* Encodes; *ret owns a NUL-terminated string. Returns its length. */
size_t jwt_b64url_encode(const void *in, size_t len, char **ret);

#endif
