/*-------------------------------------------------------------------------
 *
 * embedding.h
 *	  The on-disk layout of the embedding type and the helpers every other
 *	  part of embed uses to read, make and check embeddings.
 *
 * An embedding is a varlena: the usual 4-byte length word, a 16-bit
 * dimension, 16 bits reserved (always zero, so that a later version can use
 * them for flags without a new type), and the float4 elements.  The
 * elements start 8 bytes into the value, so they are 4-byte aligned wherever
 * the value is, and 8 bytes per value is all the overhead there is.
 *
 * src/embedding.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef EMBED_EMBEDDING_H
#define EMBED_EMBEDDING_H

#include "fmgr.h"

#define EMBED_MAX_DIM		16000

typedef struct EmbeddingData
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	int16		dim;			/* number of elements, 1..EMBED_MAX_DIM */
	int16		unused;			/* always zero */
	float4		x[FLEXIBLE_ARRAY_MEMBER];
} EmbeddingData;

typedef EmbeddingData *Embedding;

#define EMBEDDING_SIZE(dim)		(offsetof(EmbeddingData, x) + sizeof(float4) * (dim))
#define DatumGetEmbedding(d)	((Embedding) PG_DETOAST_DATUM(d))
#define PG_GETARG_EMBEDDING_P(n)	DatumGetEmbedding(PG_GETARG_DATUM(n))
#define PG_RETURN_EMBEDDING_P(e)	PG_RETURN_POINTER(e)

/* A zero-filled embedding of the given dimension, palloc'd. */
extern Embedding InitEmbedding(int dim);

/* Errors out (22000 class) unless a and b have the same dimension. */
extern void ReportDifferentDims(int a, int b) pg_attribute_noreturn();

static inline void
CheckSameDims(Embedding a, Embedding b)
{
	if (unlikely(a->dim != b->dim))
		ReportDifferentDims(a->dim, b->dim);
}

/* Errors out (22023/54000) unless dim is a valid dimension. */
extern void CheckDimRange(int dim);

/* Errors out (22000 class) if a value is NaN or infinite. */
extern void CheckElementFinite(float4 value);

/* Errors out if dim does not match the typmod (when the typmod is set). */
extern void CheckDimTypmod(int dim, int32 typmod);

#endif							/* EMBED_EMBEDDING_H */
