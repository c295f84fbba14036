/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz: what every fuzz target shares (docs/fuzzing.md). A target defines
 * LLVMFuzzerTestOneInput (and may define LLVMFuzzerInitialize); with clang and
 * -DARGOBOX_FUZZ=ON it links libFuzzer, in the normal build replay.c's main().
 *
 * A target calls the product's own parser on the bytes, checks what must hold
 * whatever the input (FUZZ_CHECK: an abort that libFuzzer reports as a crash),
 * and frees everything: a leak is a finding too.
 */
#ifndef TESTS_FUZZ_H
#define TESTS_FUZZ_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the parser: a violation is a finding, reported as a crash. */
#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__,       \
			        #cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* A NUL-terminated copy of the input (malloc'd, the caller frees). */
static inline char *
fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/*
 * Splits the input at the first `n - 1` NUL bytes into n NUL-terminated strings (missing
 * ones are ""), all in one malloc'd block *ret_block (the caller frees it). Lets one input
 * carry several fields (a method and a path, headers) that the dictionary can reach.
 */
static inline void
fuzz_split(const uint8_t *data, size_t size, char **fields, size_t n, char **ret_block)
{
	char *s = fuzz_cstr(data, size);
	char *p = s, *end = s + size;
	for (size_t i = 0; i < n; i++) {
		fields[i] = p;
		p += strlen(p); /* stops at end at the latest: *end is the NUL added */
		if (p < end)
			p++;
	}
	*ret_block = s;
}

#endif
