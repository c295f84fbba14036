/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * extclip: the RFB extended clipboard pseudo-encoding (0xC0A1E5CE), the wire
 * part only. Pure functions, no sockets.
 *
 * A message is a ServerCutText (3) or ClientCutText (6) whose length is
 * negative: -length bytes follow, a big-endian flags word (formats in bits
 * 0..15, one action in bits 24..31) and the action's payload:
 *   caps     one u32 size limit per format bit set
 *   request, peek, notify   nothing
 *   provide  a zlib stream holding, per format bit set, u32 size + data
 * Text is UTF-8 with CRLF line ends and a terminating NUL; we speak text only
 * and use LF inside (the X side's convention).
 */
#ifndef SESSION_EXTCLIP_H
#define SESSION_EXTCLIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EXTCLIP_ENCODING 0xC0A1E5CEu

#define EXTCLIP_TEXT    (1u << 0)
#define EXTCLIP_FORMATS 0x0000ffffu
#define EXTCLIP_CAPS    (1u << 24)
#define EXTCLIP_REQUEST (1u << 25)
#define EXTCLIP_PEEK    (1u << 26)
#define EXTCLIP_NOTIFY  (1u << 27)
#define EXTCLIP_PROVIDE (1u << 28)
#define EXTCLIP_ACTIONS 0xff000000u

/*
 * A whole ServerCutText carrying `flags` and `payload` (n bytes). Returns the
 * message (ab_xmalloc'd, the caller's) and its length in *ret_len.
 */
uint8_t *extclip_message(uint32_t flags, const void *payload, size_t n, size_t *ret_len);

/* Our caps: text, with `text_max` bytes as the most we take; all five actions. */
uint8_t *extclip_caps_message(uint32_t text_max, size_t *ret_len);

/*
 * A provide message for UTF-8 text (LF line ends are sent as CRLF). The zlib
 * stream is flushed, not finished, as TigerVNC and noVNC send it (libvncclient
 * treats the stream end as an error).
 */
uint8_t *extclip_provide_message(const char *utf8, size_t len, size_t *ret_len);

/*
 * Reads the text out of a provide payload (the bytes after the flags word;
 * `flags` says which formats it holds). At most `max` bytes of text (after
 * CRLF -> LF) are accepted. On success *ret is the text (NUL-terminated, the
 * caller's) and *ret_len its length. Returns 0, -ENOENT when the message holds
 * no text, -EMSGSIZE beyond max, -EBADMSG for a broken stream or text that is
 * not UTF-8.
 */
int extclip_provide_text(uint32_t flags, const uint8_t *payload, size_t n, size_t max, char **ret,
                         size_t *ret_len);

/*
 * The text size limit out of a caps payload (0 when text is not among the
 * formats). Returns -EBADMSG when the payload is shorter than the formats
 * promise.
 */
int extclip_caps_text_max(uint32_t flags, const uint8_t *payload, size_t n, uint32_t *ret_text_max);

/*
 * A client's ClientCutText header (type, 3 bytes of padding, s32 length): the number of
 * bytes that follow it, and in *ret_extended whether it is an extended message (a negative
 * length: at least the 4-byte flags word follows). Returns -EMSGSIZE beyond `limit` and
 * -EBADMSG for an extended one too short for its flags; the caller drops the client.
 */
long long extclip_cut_text_len(const uint8_t hdr[8], size_t limit, bool *ret_extended);

/* CRLF (and a lone CR) -> LF, in place; returns the new length. Pure. */
size_t extclip_to_lf(char *s, size_t len);

#endif
