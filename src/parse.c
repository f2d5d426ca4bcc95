/*-------------------------------------------------------------------------
 *
 * parse.c
 *	  Text and binary decoding of embeddings, with no server dependencies.
 *
 * The text grammar is deliberately narrow: optional white space, '[', one
 * or more decimal numbers separated by commas, ']', optional white space.
 * strtof() alone would also accept "nan", "inf" and hexadecimal floats,
 * so each element must first look like a decimal number.
 *
 * src/parse.c
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parse.h"

static inline int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		c == '\v' || c == '\f';
}

static inline int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Does p start a decimal number (not nan, inf or 0x...)? */
static int
starts_decimal(const char *p)
{
	if (*p == '+' || *p == '-')
		p++;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		return 0;
	return is_digit(p[0]) || (p[0] == '.' && is_digit(p[1]));
}

/* Does p spell NaN or infinity, as strtof would accept them? */
static int
names_non_finite(const char *p)
{
	if (*p == '+' || *p == '-')
		p++;
	return strncasecmp(p, "nan", 3) == 0 || strncasecmp(p, "inf", 3) == 0;
}

int
embed_text_count_bound(const char *str)
{
	int			n = 1;

	for (const char *p = str; *p; p++)
		if (*p == ',')
			n++;
	return n;
}

EmbedParseResult
embed_parse_text(const char *str, float *out, int cap, int *ndim,
				 const char **bad, int *badlen)
{
	const char *p = str;
	int			n = 0;

	*ndim = 0;
	while (is_space(*p))
		p++;
	if (*p++ != '[')
		return EMBED_PARSE_SYNTAX;
	while (is_space(*p))
		p++;
	if (*p == ']')
		return EMBED_PARSE_EMPTY;

	for (;;)
	{
		char	   *end;
		float		v;

		while (is_space(*p))
			p++;
		if (!starts_decimal(p))
			return names_non_finite(p) ? EMBED_PARSE_NOT_FINITE : EMBED_PARSE_SYNTAX;
		if (n == cap)
			return EMBED_PARSE_TOO_MANY;

		errno = 0;
		v = strtof(p, &end);
		if (end == p)
			return EMBED_PARSE_SYNTAX;

		/*
		 * Like the real type: overflow is an error, and so is underflow to
		 * zero from a non-zero literal; denormals are kept.
		 */
		if (errno == ERANGE && (v == 0.0f || isinf(v)))
		{
			*bad = p;
			*badlen = (int) (end - p);
			return EMBED_PARSE_OUT_OF_RANGE;
		}
		if (isnan(v) || isinf(v))
			return EMBED_PARSE_NOT_FINITE;
		out[n++] = v;
		p = end;

		while (is_space(*p))
			p++;
		if (*p == ',')
		{
			p++;
			continue;
		}
		if (*p == ']')
		{
			p++;
			break;
		}
		return EMBED_PARSE_SYNTAX;
	}
	while (is_space(*p))
		p++;
	if (*p != '\0')
		return EMBED_PARSE_JUNK;
	*ndim = n;
	return EMBED_PARSE_OK;
}

static inline uint32_t
read_be32(const unsigned char *b)
{
	return ((uint32_t) b[0] << 24) | ((uint32_t) b[1] << 16) |
		((uint32_t) b[2] << 8) | (uint32_t) b[3];
}

EmbedParseResult
embed_decode_binary(const unsigned char *buf, size_t len, int maxdim,
					float *out, int *ndim, size_t *used)
{
	int			dim;

	*ndim = 0;
	*used = 0;
	if (len < 4)
		return EMBED_PARSE_SHORT;
	dim = (int16_t) (((uint16_t) buf[0] << 8) | buf[1]);
	if (buf[2] != 0 || buf[3] != 0 || dim < 1 || dim > maxdim)
		return EMBED_PARSE_BAD_HEADER;
	if ((len - 4) / 4 < (size_t) dim)
		return EMBED_PARSE_SHORT;
	for (int i = 0; i < dim; i++)
	{
		union
		{
			uint32_t	u;
			float		f;
		}			x;

		x.u = read_be32(buf + 4 + 4 * (size_t) i);
		if (isnan(x.f) || isinf(x.f))
			return EMBED_PARSE_NOT_FINITE;
		out[i] = x.f;
	}
	*ndim = dim;
	*used = 4 + 4 * (size_t) dim;
	return EMBED_PARSE_OK;
}
