/*-------------------------------------------------------------------------
 *
 * parse.h
 *	  The embedding's text and binary decoders, as pure C.
 *
 * These know nothing about PostgreSQL, so the fuzzing harness in test/fuzz
 * can drive them without a server; embedding.c turns their result codes
 * into errors.
 *
 * src/parse.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef EMBED_PARSE_H
#define EMBED_PARSE_H

#include <stddef.h>

typedef enum EmbedParseResult
{
	EMBED_PARSE_OK = 0,
	EMBED_PARSE_SYNTAX,			/* not of the form [n, n, ...] */
	EMBED_PARSE_EMPTY,			/* [] */
	EMBED_PARSE_TOO_MANY,		/* more elements than the caller allows */
	EMBED_PARSE_OUT_OF_RANGE,	/* an element overflows or underflows float4 */
	EMBED_PARSE_NOT_FINITE,		/* NaN or infinity */
	EMBED_PARSE_JUNK,			/* text after the closing bracket */
	EMBED_PARSE_SHORT,			/* binary: fewer bytes than announced */
	EMBED_PARSE_BAD_HEADER		/* binary: bad dimension or reserved field */
} EmbedParseResult;

/*
 * An upper bound on the number of elements in a text embedding: one more
 * than the number of commas.  Callers size the output array with it.
 */
extern int	embed_text_count_bound(const char *str);

/*
 * Parse "[1, 2.5e3, -4]" into out[0..cap-1].  On success *ndim is the
 * number of elements.  On EMBED_PARSE_OUT_OF_RANGE, *bad and *badlen point
 * at the offending number in str.
 */
extern EmbedParseResult embed_parse_text(const char *str, float *out, int cap,
										 int *ndim, const char **bad,
										 int *badlen);

/*
 * Decode the binary form: int16 dimension, int16 reserved (zero), then
 * that many IEEE float4, all big-endian.  *used is the number of bytes
 * consumed; *ndim the dimension.  maxdim bounds the dimension; out must
 * hold maxdim floats.
 */
extern EmbedParseResult embed_decode_binary(const unsigned char *buf,
											size_t len, int maxdim,
											float *out, int *ndim,
											size_t *used);

#endif							/* EMBED_PARSE_H */
