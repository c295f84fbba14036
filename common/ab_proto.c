/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "ab_proto.h"
#include "ab_util.h"

#include <errno.h>
#include <string.h>

void
ab_proto_reader_init(struct ab_proto_reader *r)
{
	memset(r, 0, sizeof(*r));
}

void
ab_proto_reader_free(struct ab_proto_reader *r)
{
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

void
ab_proto_reader_feed(struct ab_proto_reader *r, const void *data, size_t n)
{
	if (r->len + n > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		while (cap < r->len + n)
			cap *= 2;
		r->buf = ab_xrealloc(r->buf, cap);
		r->cap = cap;
	}
	memcpy(r->buf + r->len, data, n);
	r->len += n;
}

int
ab_proto_reader_next(struct ab_proto_reader *r, json_t **ret_msg, struct ab_err *err)
{
	if (r->len < 4)
		return 0;
	uint32_t n = (uint32_t)r->buf[0] << 24 | (uint32_t)r->buf[1] << 16 |
	             (uint32_t)r->buf[2] << 8 | r->buf[3];
	if (n == 0 || n > AB_PROTO_MAX_FRAME)
		return ab_err_set(err, EPROTO, "frame length %u outside [1, %u]", n,
		                  AB_PROTO_MAX_FRAME);
	if (r->len < 4 + (size_t)n)
		return 0;
	json_error_t je;
	json_t *msg = json_loadb((const char *)r->buf + 4, n, JSON_REJECT_DUPLICATES, &je);
	memmove(r->buf, r->buf + 4 + n, r->len - 4 - n);
	r->len -= 4 + n;
	if (!msg)
		return ab_err_set(err, EPROTO, "frame is not valid JSON: %s", je.text);
	if (!json_is_object(msg)) {
		json_decref(msg);
		return ab_err_set(err, EPROTO, "frame is not a JSON object");
	}
	json_t *v = json_object_get(msg, "v");
	json_t *type = json_object_get(msg, "type");
	if (!json_is_integer(v) || !json_is_string(type)) {
		json_decref(msg);
		return ab_err_set(err, EPROTO, "frame lacks an integer 'v' or a string 'type'");
	}
	*ret_msg = msg;
	return 1;
}

int
ab_proto_encode(json_t *msg, char **ret_buf, size_t *ret_len, struct ab_err *err)
{
	/* what ab_proto_reader_next() refuses (and closes the channel on) is never sent */
	if (!json_is_integer(json_object_get(msg, "v")) ||
	    !json_is_string(json_object_get(msg, "type")))
		return ab_err_set(err, EINVAL,
		                  "frame lacks an integer 'v' or a string 'type' (build it with "
		                  "ab_proto_msg)");
	size_t n = json_dumpb(msg, NULL, 0, JSON_COMPACT);
	if (n == 0)
		return ab_err_set(err, EINVAL, "message cannot be encoded as JSON");
	if (n > AB_PROTO_MAX_FRAME)
		return ab_err_set(err, EMSGSIZE, "message of %zu bytes exceeds the %u byte limit",
		                  n, AB_PROTO_MAX_FRAME);
	char *buf = ab_xmalloc(n + 4);
	size_t m = json_dumpb(msg, buf + 4, n, JSON_COMPACT);
	AB_ASSERT(m == n);
	buf[0] = (char)(n >> 24);
	buf[1] = (char)(n >> 16);
	buf[2] = (char)(n >> 8);
	buf[3] = (char)n;
	*ret_buf = buf;
	*ret_len = n + 4;
	return 0;
}

json_t *
ab_proto_msg(const char *type, json_t *fields)
{
	json_t *m = json_pack("{s:i, s:s}", "v", AB_PROTO_VERSION, "type", type);
	AB_ASSERT(m);
	if (fields) {
		json_object_update(m, fields);
		json_decref(fields);
		json_object_set_new(m, "v", json_integer(AB_PROTO_VERSION));
		json_object_set_new(m, "type", json_string(type));
	}
	return m;
}

const char *
ab_proto_type(json_t *msg)
{
	return json_string_value(json_object_get(msg, "type"));
}
