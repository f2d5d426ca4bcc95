/*-------------------------------------------------------------------------
 *
 * fuzz_text.c
 *	  libFuzzer target for embed_parse_text(), the embedding's text decoder.
 *
 * Only src/parse.c is linked in: the decoder is pure C, so it can be driven
 * millions of times a second without a server.  Besides what the sanitizers
 * catch (reads past the string, writes past the output array, undefined
 * arithmetic), every input is checked against the decoder's contract:
 *
 *	- the result code is one of the enum's values;
 *	- on success the dimension is within 1..cap and within the comma bound
 *	  that callers use to size their buffer, and no element is NaN or
 *	  infinite;
 *	- on success the value survives a round trip: each element written with
 *	  "%.9g" (enough digits for any float4) and parsed again gives the same
 *	  bits;
 *	- the same text parsed with a cap one smaller than its dimension reports
 *	  EMBED_PARSE_TOO_MANY rather than writing past the array;
 *	- on EMBED_PARSE_OUT_OF_RANGE the reported span lies inside the input.
 *
 * A broken property calls abort(), which libFuzzer records as a crash.
 *
 * test/fuzz/fuzz_text.c
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
	fprintf(stderr, "fuzz_text: property violated: %s\n", what);
	abort();
}

static uint32_t
bits_of(float f)
{
	uint32_t	u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

/*
 * Write the elements as "[a,b,...]" with "%.9g" into a fresh buffer and
 * parse that back; every element must come back bit for bit.
 */
static void
check_round_trip(const float *v, int n)
{
	size_t		room = (size_t) n * 20 + 3;
	char	   *text = malloc(room);
	float	   *back = malloc(sizeof(float) * n);
	size_t		off = 0;
	const char *bad = NULL;
	int			badlen = 0;
	int			m = 0;

	if (text == NULL || back == NULL)
		fail("out of memory");
	text[off++] = '[';
	for (int i = 0; i < n; i++)
		off += snprintf(text + off, room - off, "%s%.9g", i ? "," : "",
						(double) v[i]);
	text[off++] = ']';
	text[off] = '\0';

	if (embed_parse_text(text, back, n, &m, &bad, &badlen) != EMBED_PARSE_OK)
		fail("formatted value does not parse again");
	if (m != n)
		fail("round trip changed the dimension");
	for (int i = 0; i < n; i++)
		if (bits_of(back[i]) != bits_of(v[i]))
			fail("round trip changed an element's bits");
	free(text);
	free(back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *str;
	float	   *out;
	int			bound;
	int			cap;
	int			n = -1;
	const char *bad = NULL;
	int			badlen = 0;
	EmbedParseResult r;

	/* The server hands the decoder a NUL-terminated string, exactly sized. */
	str = malloc(size + 1);
	if (str == NULL)
		return 0;
	memcpy(str, data, size);
	str[size] = '\0';

	/* Size the output as embedding_in() does: by the comma bound. */
	bound = embed_text_count_bound(str);
	if (bound < 1)
		fail("comma bound below 1");
	cap = bound < FUZZ_MAX_DIM ? bound : FUZZ_MAX_DIM;
	out = malloc(sizeof(float) * cap);
	if (out == NULL)
	{
		free(str);
		return 0;
	}

	r = embed_parse_text(str, out, cap, &n, &bad, &badlen);
	switch (r)
	{
		case EMBED_PARSE_OK:
			if (n < 1 || n > cap || n > bound)
				fail("dimension out of bounds");
			for (int i = 0; i < n; i++)
				if (isnan(out[i]) || isinf(out[i]))
					fail("accepted a NaN or infinite element");
			check_round_trip(out, n);

			/* One slot fewer than needed must be refused, not overrun. */
			if (n > 1)
			{
				float	   *small = malloc(sizeof(float) * (n - 1));
				int			m = -1;

				if (small == NULL)
					fail("out of memory");
				if (embed_parse_text(str, small, n - 1, &m, &bad, &badlen) !=
					EMBED_PARSE_TOO_MANY)
					fail("a too small cap was not reported");
				free(small);
			}
			break;
		case EMBED_PARSE_OUT_OF_RANGE:
			if (bad == NULL || bad < str || badlen < 1 ||
				bad + badlen > str + size)
				fail("out-of-range span lies outside the input");
			/* FALLTHROUGH */
		case EMBED_PARSE_SYNTAX:
		case EMBED_PARSE_EMPTY:
		case EMBED_PARSE_TOO_MANY:
		case EMBED_PARSE_NOT_FINITE:
		case EMBED_PARSE_JUNK:
			if (n != 0)
				fail("failed parse left a dimension");
			break;
		default:
			fail("unexpected result code");
	}

	free(out);
	free(str);
	return 0;
}
