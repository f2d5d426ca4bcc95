/*-------------------------------------------------------------------------
 *
 * fuzz_binary.c
 *	  libFuzzer target for embed_decode_binary(), the embedding's binary
 *	  (COPY BINARY and protocol) decoder.
 *
 * Only src/parse.c is linked in.  The input is the bytes a client sends;
 * the first byte of the fuzz input also picks the dimension limit, so the
 * limit check is exercised at small sizes as well as at the real one.  The
 * output array holds exactly that many floats, so AddressSanitizer catches
 * a write past it.  Checked on every input:
 *
 *	- the result code is one of the enum's values;
 *	- on success the dimension is within 1..maxdim, the bytes consumed are
 *	  exactly 4 + 4 * dim and no more than were given, no element is NaN or
 *	  infinite, and encoding the result again gives back the bytes consumed;
 *	- on failure nothing is reported as consumed.
 *
 * test/fuzz/fuzz_binary.c
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

#define FUZZ_MAX_DIM	16000	/* EMBED_MAX_DIM, which needs postgres.h */

static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_binary: property violated: %s\n", what);
	abort();
}

/* Limits tried: small ones to reach the bound, and the real one. */
static const int maxdims[] = {1, 2, 3, 4, 8, 100, FUZZ_MAX_DIM, FUZZ_MAX_DIM};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int			maxdim;
	unsigned char *buf;
	float	   *out;
	int			n = -1;
	size_t		used = 12345;
	EmbedParseResult r;

	if (size < 1)
		return 0;
	maxdim = maxdims[data[0] & 7];
	data++;
	size--;

	/* An exactly sized copy, so a read past the end is caught. */
	buf = malloc(size ? size : 1);
	out = malloc(sizeof(float) * maxdim);
	if (buf == NULL || out == NULL)
		fail("out of memory");
	memcpy(buf, data, size);

	r = embed_decode_binary(buf, size, maxdim, out, &n, &used);
	switch (r)
	{
		case EMBED_PARSE_OK:
			if (n < 1 || n > maxdim)
				fail("dimension out of bounds");
			if (used != 4 + 4 * (size_t) n || used > size)
				fail("wrong byte count consumed");
			for (int i = 0; i < n; i++)
			{
				uint32_t	u;
				unsigned char be[4];

				if (isnan(out[i]) || isinf(out[i]))
					fail("accepted a NaN or infinite element");
				memcpy(&u, &out[i], sizeof(u));
				be[0] = u >> 24;
				be[1] = u >> 16;
				be[2] = u >> 8;
				be[3] = u;
				if (memcmp(be, buf + 4 + 4 * (size_t) i, 4) != 0)
					fail("element does not encode back to its bytes");
			}
			if (buf[0] != (n >> 8) || buf[1] != (n & 0xff) ||
				buf[2] != 0 || buf[3] != 0)
				fail("header does not encode back to its bytes");
			break;
		case EMBED_PARSE_SHORT:
		case EMBED_PARSE_BAD_HEADER:
		case EMBED_PARSE_NOT_FINITE:
			if (used != 0 || n != 0)
				fail("failed decode reported a result");
			break;
		default:
			fail("unexpected result code");
	}

	free(out);
	free(buf);
	return 0;
}
