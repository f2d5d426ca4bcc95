/*-------------------------------------------------------------------------
 *
 * embedding.c
 *	  The embedding type: text and binary I/O, typmod, casts, distance
 *	  functions, arithmetic, comparison, hashing and aggregate support.
 *
 * Every value that enters through a door of this file (text, binary, array
 * cast, arithmetic result) is checked here: the dimension is within
 * 1..EMBED_MAX_DIM and every element is a finite float4.  Code elsewhere in
 * embed may therefore trust any embedding it is handed.
 *
 * src/embedding.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/shortest_dec.h"
#include "distance.h"
#include "embedding.h"
#include "parse.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

/*
 * Soft error reporting for the input function exists from PostgreSQL 16
 * on; before that an input error is an ordinary ERROR.
 */
#if PG_VERSION_NUM >= 160000
#define EMBED_INPUT_ERROR(ctx, ...) ereturn((ctx), (Datum) 0, __VA_ARGS__)
#else
#define EMBED_INPUT_ERROR(ctx, ...) ereport(ERROR, __VA_ARGS__)
#endif

#define EMBED_STATE_ELEMS(arr)	((float8 *) ARR_DATA_PTR(arr))

/* ---- helpers shared with the rest of embed ---- */

Embedding
InitEmbedding(int dim)
{
	Size		size = EMBEDDING_SIZE(dim);
	Embedding	e = (Embedding) palloc0(size);

	SET_VARSIZE(e, size);
	e->dim = dim;
	return e;
}

void
ReportDifferentDims(int a, int b)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("different embedding dimensions %d and %d", a, b)));
}

void
CheckDimRange(int dim)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("embedding must have at least 1 dimension")));
	if (dim > EMBED_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("embedding cannot have more than %d dimensions",
						EMBED_MAX_DIM)));
}

void
CheckElementFinite(float4 value)
{
	if (isnan(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("NaN is not allowed in an embedding")));
	if (isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("infinite value is not allowed in an embedding")));
}

void
CheckDimTypmod(int dim, int32 typmod)
{
	if (typmod >= 0 && dim != typmod)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", typmod, dim)));
}

/*
 * Narrow a double to float4, refusing what float4 cannot hold: overflow,
 * and (as the text input does) a non-zero value that would become zero.
 * Values in the denormal range are kept.
 */
static inline float4
float8_to_element(float8 v)
{
	float4		r;

	if (isnan(v))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("NaN is not allowed in an embedding")));
	if (isinf(v))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("infinite value is not allowed in an embedding")));
	r = (float4) v;
	if (isinf(r))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value %g is out of range for an embedding element", v)));
	if (r == 0.0f && v != 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value %g is out of range for an embedding element", v),
				 errdetail("It is too close to zero for a float4.")));
	return r;
}

/* ---- text I/O ---- */

PG_FUNCTION_INFO_V1(embedding_in);
Datum
embedding_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	Node	   *escontext = fcinfo->context;
	int			cap = Min(embed_text_count_bound(str), EMBED_MAX_DIM + 1);
	float4	   *buf = palloc(sizeof(float4) * cap);
	const char *bad = NULL;
	int			badlen = 0;
	int			n;
	Embedding	result;

	(void) escontext;			/* unused before PostgreSQL 16 */

	switch (embed_parse_text(str, buf, Min(cap, EMBED_MAX_DIM), &n,
							 &bad, &badlen))
	{
		case EMBED_PARSE_OK:
			break;
		case EMBED_PARSE_EMPTY:
			EMBED_INPUT_ERROR(escontext,
							  (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
							   errmsg("invalid input syntax for type embedding: \"%s\"", str),
							   errdetail("An embedding must have at least 1 dimension.")));
			break;
		case EMBED_PARSE_TOO_MANY:
			EMBED_INPUT_ERROR(escontext,
							  (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
							   errmsg("embedding cannot have more than %d dimensions",
									  EMBED_MAX_DIM)));
			break;
		case EMBED_PARSE_OUT_OF_RANGE:
			EMBED_INPUT_ERROR(escontext,
							  (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
							   errmsg("\"%.*s\" is out of range for an embedding element",
									  badlen, bad)));
			break;
		case EMBED_PARSE_NOT_FINITE:
			EMBED_INPUT_ERROR(escontext,
							  (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
							   errmsg("invalid input syntax for type embedding: \"%s\"", str),
							   errdetail("NaN and infinity are not allowed in an embedding.")));
			break;
		case EMBED_PARSE_JUNK:
			EMBED_INPUT_ERROR(escontext,
							  (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
							   errmsg("invalid input syntax for type embedding: \"%s\"", str),
							   errdetail("Junk after closing bracket.")));
			break;
		default:
			EMBED_INPUT_ERROR(escontext,
							  (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
							   errmsg("invalid input syntax for type embedding: \"%s\"", str),
							   errdetail("An embedding is written as [1,2,3].")));
			break;
	}
	if (typmod >= 0 && n != typmod)
		EMBED_INPUT_ERROR(escontext,
						  (errcode(ERRCODE_DATA_EXCEPTION),
						   errmsg("expected %d dimensions, not %d", typmod, n)));

	result = InitEmbedding(n);
	memcpy(result->x, buf, sizeof(float4) * n);
	pfree(buf);
	PG_RETURN_EMBEDDING_P(result);
}

PG_FUNCTION_INFO_V1(embedding_out);
Datum
embedding_out(PG_FUNCTION_ARGS)
{
	Embedding	e = PG_GETARG_EMBEDDING_P(0);
	char	   *out = palloc(e->dim * (FLOAT_SHORTEST_DECIMAL_LEN + 1) + 2);
	char	   *p = out;

	*p++ = '[';
	for (int i = 0; i < e->dim; i++)
	{
		if (i > 0)
			*p++ = ',';
		p += float_to_shortest_decimal_bufn(e->x[i], p);
	}
	*p++ = ']';
	*p = '\0';
	PG_FREE_IF_COPY(e, 0);
	PG_RETURN_CSTRING(out);
}

PG_FUNCTION_INFO_V1(embedding_typmod_in);
Datum
embedding_typmod_in(PG_FUNCTION_ARGS)
{
	ArrayType  *ta = PG_GETARG_ARRAYTYPE_P(0);
	int32	   *tl;
	int			n;

	tl = ArrayGetIntegerTypmods(ta, &n);
	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid type modifier"),
				 errdetail("The embedding type takes one modifier, its dimension.")));
	if (tl[0] < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type embedding must be at least 1")));
	if (tl[0] > EMBED_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("dimensions for type embedding cannot exceed %d",
						EMBED_MAX_DIM)));
	PG_RETURN_INT32(tl[0]);
}

PG_FUNCTION_INFO_V1(embedding_typmod_out);
Datum
embedding_typmod_out(PG_FUNCTION_ARGS)
{
	int32		typmod = PG_GETARG_INT32(0);

	if (typmod < 0)
		PG_RETURN_CSTRING(pstrdup(""));
	PG_RETURN_CSTRING(psprintf("(%d)", typmod));
}

/* ---- binary I/O: int16 dim, int16 zero, dim float4 ---- */

PG_FUNCTION_INFO_V1(embedding_recv);
Datum
embedding_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	const unsigned char *data = (const unsigned char *) buf->data + buf->cursor;
	size_t		len = buf->len - buf->cursor;
	int			room = 1;
	Embedding	result;
	int			dim;
	size_t		used;

	/*
	 * Size the result by the announced dimension (clamped to the valid
	 * range; the decoder rejects anything outside it).
	 */
	if (len >= 2)
		room = Max(1, Min((int16) ((data[0] << 8) | data[1]), EMBED_MAX_DIM));
	result = InitEmbedding(room);

	switch (embed_decode_binary(data, len, room, result->x, &dim, &used))
	{
		case EMBED_PARSE_OK:
			break;
		case EMBED_PARSE_BAD_HEADER:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("invalid binary data for type embedding"),
					 errdetail("The dimension must be 1 to %d and the reserved field 0.",
							   EMBED_MAX_DIM)));
			break;
		case EMBED_PARSE_NOT_FINITE:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("NaN and infinity are not allowed in an embedding")));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("invalid binary data for type embedding"),
					 errdetail("The value is shorter than its dimension says.")));
			break;
	}
	CheckDimTypmod(dim, typmod);
	buf->cursor += used;
	PG_RETURN_EMBEDDING_P(result);
}

PG_FUNCTION_INFO_V1(embedding_send);
Datum
embedding_send(PG_FUNCTION_ARGS)
{
	Embedding	e = PG_GETARG_EMBEDDING_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, e->dim);
	pq_sendint16(&buf, 0);
	for (int i = 0; i < e->dim; i++)
		pq_sendfloat4(&buf, e->x[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ---- typmod coercion and casts ---- */

PG_FUNCTION_INFO_V1(embedding_coerce);
Datum
embedding_coerce(PG_FUNCTION_ARGS)
{
	Embedding	e = PG_GETARG_EMBEDDING_P(0);
	int32		typmod = PG_GETARG_INT32(1);

	CheckDimTypmod(e->dim, typmod);
	PG_RETURN_EMBEDDING_P(e);
}

/*
 * One function for every array cast: real[], double precision[],
 * integer[] and numeric[] arrive here and are told apart by element type.
 */
PG_FUNCTION_INFO_V1(array_to_embedding);
Datum
array_to_embedding(PG_FUNCTION_ARGS)
{
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	Oid			elemtype = ARR_ELEMTYPE(arr);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	Embedding	result;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("array must be one-dimensional to become an embedding")));
	if (ARR_NDIM(arr) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("embedding must have at least 1 dimension")));
	if (array_contains_nulls(arr))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("array must not contain nulls to become an embedding")));

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(arr, elemtype, typlen, typbyval, typalign,
					  &elems, &nulls, &n);
	CheckDimRange(n);
	CheckDimTypmod(n, typmod);

	result = InitEmbedding(n);
	for (int i = 0; i < n; i++)
	{
		float8		v;

		switch (elemtype)
		{
			case FLOAT4OID:
				v = DatumGetFloat4(elems[i]);
				break;
			case FLOAT8OID:
				v = DatumGetFloat8(elems[i]);
				break;
			case INT4OID:
				v = DatumGetInt32(elems[i]);
				break;
			case NUMERICOID:
				v = DatumGetFloat8(DirectFunctionCall1(numeric_float8, elems[i]));
				break;
			default:
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("cannot cast an array of type %s to embedding",
								format_type_be(elemtype))));
				v = 0;			/* keep the compiler quiet */
		}
		result->x[i] = float8_to_element(v);
	}
	PG_RETURN_EMBEDDING_P(result);
}

PG_FUNCTION_INFO_V1(embedding_to_real_array);
Datum
embedding_to_real_array(PG_FUNCTION_ARGS)
{
	Embedding	e = PG_GETARG_EMBEDDING_P(0);
	Datum	   *d = palloc(sizeof(Datum) * e->dim);

	for (int i = 0; i < e->dim; i++)
		d[i] = Float4GetDatum(e->x[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(d, e->dim, FLOAT4OID,
										  sizeof(float4), true, TYPALIGN_INT));
}

/* ---- distances ---- */

/*
 * Hint the CPU to fetch what is likely the next row's vector.
 *
 * A sequential scan visits the tuples of a heap page in line-pointer order,
 * and tuples are placed from the end of the page towards its start, so the
 * next row usually sits just below the current one in memory.  The CPU's
 * own prefetcher cannot see that far ahead while we compute, and a ranking
 * scan spends much of its time waiting for vectors to arrive from memory.
 * A prefetch never faults, so a wrong guess costs only the hint.
 */
static inline void
prefetch_preceding(const void *p, Size size)
{
#if defined(__GNUC__) || defined(__clang__)
	const char *c = (const char *) p;
	Size		span = Min(size, 2048);

	for (Size off = 64; off <= span; off += 64)
		__builtin_prefetch(c - off, 0, 3);
#endif
}

/*
 * The kernels sum in float4.  With elements near the float4 limits a sum
 * can overflow although the true result fits a double; these rare cases
 * are redone here in double precision.
 */
static float8
dot_double(const float4 *a, const float4 *b, int n)
{
	float8		s = 0.0;

	for (int i = 0; i < n; i++)
		s += (float8) a[i] * b[i];
	return s;
}

static float8
l2sq_double(const float4 *a, const float4 *b, int n)
{
	float8		s = 0.0;

	for (int i = 0; i < n; i++)
	{
		float8		d = (float8) a[i] - b[i];

		s += d * d;
	}
	return s;
}

static inline float8
embedding_dot(Embedding a, Embedding b)
{
	float		r;

	CheckSameDims(a, b);
	prefetch_preceding(a, VARSIZE(a));
	prefetch_preceding(b, VARSIZE(b));
	r = embed_dot(a->x, b->x, a->dim);

	return likely(isfinite(r)) ? r : dot_double(a->x, b->x, a->dim);
}

static inline float8
embedding_l2sq(Embedding a, Embedding b)
{
	float		r;

	CheckSameDims(a, b);
	prefetch_preceding(a, VARSIZE(a));
	prefetch_preceding(b, VARSIZE(b));
	r = embed_l2sq(a->x, b->x, a->dim);

	return likely(isfinite(r)) ? r : l2sq_double(a->x, b->x, a->dim);
}

/*
 * Cosine similarity in double from the float partial sums.  A zero vector
 * has no direction, so the similarity is undefined: NaN, which sorts after
 * every number in ORDER BY.
 */
static inline float8
cosine_similarity_internal(Embedding a, Embedding b)
{
	float		fdot,
				faa,
				fbb;
	float8		dot,
				aa,
				bb,
				sim;

	CheckSameDims(a, b);
	prefetch_preceding(a, VARSIZE(a));
	prefetch_preceding(b, VARSIZE(b));
	embed_dot_norms(a->x, b->x, a->dim, &fdot, &faa, &fbb);
	dot = fdot;
	aa = faa;
	bb = fbb;
	if (unlikely(!isfinite(fdot) || !isfinite(faa) || !isfinite(fbb)))
	{
		dot = dot_double(a->x, b->x, a->dim);
		aa = dot_double(a->x, a->x, a->dim);
		bb = dot_double(b->x, b->x, b->dim);
	}
	if (aa == 0.0 || bb == 0.0)
		return get_float8_nan();
	sim = dot / sqrt(aa * bb);
	if (sim > 1.0)
		sim = 1.0;
	else if (sim < -1.0)
		sim = -1.0;
	return sim;
}

PG_FUNCTION_INFO_V1(embedding_cosine_distance);
Datum
embedding_cosine_distance(PG_FUNCTION_ARGS)
{
	Embedding	a = PG_GETARG_EMBEDDING_P(0);
	Embedding	b = PG_GETARG_EMBEDDING_P(1);

	PG_RETURN_FLOAT8(1.0 - cosine_similarity_internal(a, b));
}

PG_FUNCTION_INFO_V1(embedding_cosine_similarity);
Datum
embedding_cosine_similarity(PG_FUNCTION_ARGS)
{
	Embedding	a = PG_GETARG_EMBEDDING_P(0);
	Embedding	b = PG_GETARG_EMBEDDING_P(1);

	PG_RETURN_FLOAT8(cosine_similarity_internal(a, b));
}

PG_FUNCTION_INFO_V1(embedding_inner_product);
Datum
embedding_inner_product(PG_FUNCTION_ARGS)
{
	Embedding	a = PG_GETARG_EMBEDDING_P(0);
	Embedding	b = PG_GETARG_EMBEDDING_P(1);

	PG_RETURN_FLOAT8(embedding_dot(a, b));
}

PG_FUNCTION_INFO_V1(embedding_negative_inner_product);
Datum
embedding_negative_inner_product(PG_FUNCTION_ARGS)
{
	Embedding	a = PG_GETARG_EMBEDDING_P(0);
	Embedding	b = PG_GETARG_EMBEDDING_P(1);

	PG_RETURN_FLOAT8(-embedding_dot(a, b));
}

PG_FUNCTION_INFO_V1(embedding_l2_distance);
Datum
embedding_l2_distance(PG_FUNCTION_ARGS)
{
	Embedding	a = PG_GETARG_EMBEDDING_P(0);
	Embedding	b = PG_GETARG_EMBEDDING_P(1);

	PG_RETURN_FLOAT8(sqrt(embedding_l2sq(a, b)));
}

PG_FUNCTION_INFO_V1(embedding_l2_squared_distance);
Datum
embedding_l2_squared_distance(PG_FUNCTION_ARGS)
{
	Embedding	a = PG_GETARG_EMBEDDING_P(0);
	Embedding	b = PG_GETARG_EMBEDDING_P(1);

	PG_RETURN_FLOAT8(embedding_l2sq(a, b));
}

/* ---- properties and arithmetic ---- */

PG_FUNCTION_INFO_V1(embedding_dims);
Datum
embedding_dims(PG_FUNCTION_ARGS)
{
	Embedding	a = PG_GETARG_EMBEDDING_P(0);

	PG_RETURN_INT32(a->dim);
}

PG_FUNCTION_INFO_V1(embedding_norm);
Datum
embedding_norm(PG_FUNCTION_ARGS)
{
	Embedding	a = PG_GETARG_EMBEDDING_P(0);
	float8		s = 0.0;

	/* In double: the norm is reported to the user, not ranked. */
	for (int i = 0; i < a->dim; i++)
		s += (float8) a->x[i] * a->x[i];
	PG_RETURN_FLOAT8(sqrt(s));
}

PG_FUNCTION_INFO_V1(embedding_normalize);
Datum
embedding_normalize(PG_FUNCTION_ARGS)
{
	Embedding	a = PG_GETARG_EMBEDDING_P(0);
	Embedding	r = InitEmbedding(a->dim);
	float8		s = 0.0;

	for (int i = 0; i < a->dim; i++)
		s += (float8) a->x[i] * a->x[i];
	/* A zero vector has no direction; it stays zero. */
	if (s > 0.0)
	{
		float8		inv = 1.0 / sqrt(s);

		for (int i = 0; i < a->dim; i++)
			r->x[i] = (float4) (a->x[i] * inv);
	}
	PG_RETURN_EMBEDDING_P(r);
}

static inline void
check_result_finite(Embedding r)
{
	for (int i = 0; i < r->dim; i++)
		if (unlikely(isinf(r->x[i])))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("value out of range: overflow")));
}

PG_FUNCTION_INFO_V1(embedding_add);
Datum
embedding_add(PG_FUNCTION_ARGS)
{
	Embedding	a = PG_GETARG_EMBEDDING_P(0);
	Embedding	b = PG_GETARG_EMBEDDING_P(1);
	Embedding	r;

	CheckSameDims(a, b);
	r = InitEmbedding(a->dim);
	for (int i = 0; i < a->dim; i++)
		r->x[i] = a->x[i] + b->x[i];
	check_result_finite(r);
	PG_RETURN_EMBEDDING_P(r);
}

PG_FUNCTION_INFO_V1(embedding_sub);
Datum
embedding_sub(PG_FUNCTION_ARGS)
{
	Embedding	a = PG_GETARG_EMBEDDING_P(0);
	Embedding	b = PG_GETARG_EMBEDDING_P(1);
	Embedding	r;

	CheckSameDims(a, b);
	r = InitEmbedding(a->dim);
	for (int i = 0; i < a->dim; i++)
		r->x[i] = a->x[i] - b->x[i];
	check_result_finite(r);
	PG_RETURN_EMBEDDING_P(r);
}

static Datum
scale_embedding(Embedding a, float8 k)
{
	Embedding	r = InitEmbedding(a->dim);

	if (isnan(k) || isinf(k))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("cannot multiply an embedding by %g", k)));
	for (int i = 0; i < a->dim; i++)
		r->x[i] = (float4) (a->x[i] * k);
	check_result_finite(r);
	PG_RETURN_EMBEDDING_P(r);
}

PG_FUNCTION_INFO_V1(embedding_mul);
Datum
embedding_mul(PG_FUNCTION_ARGS)
{
	return scale_embedding(PG_GETARG_EMBEDDING_P(0), PG_GETARG_FLOAT8(1));
}

PG_FUNCTION_INFO_V1(embedding_mul_commuted);
Datum
embedding_mul_commuted(PG_FUNCTION_ARGS)
{
	return scale_embedding(PG_GETARG_EMBEDDING_P(1), PG_GETARG_FLOAT8(0));
}

/* ---- comparison and hashing ---- */

/*
 * Order: element by element, then the shorter vector first.  This is a
 * total order over valid embeddings (no NaN can be stored) and is
 * consistent with equality: -0 and +0 compare equal, so hashing treats
 * them alike too.
 */
static int
embedding_cmp_internal(Embedding a, Embedding b)
{
	int			n = Min(a->dim, b->dim);

	for (int i = 0; i < n; i++)
	{
		if (a->x[i] < b->x[i])
			return -1;
		if (a->x[i] > b->x[i])
			return 1;
	}
	if (a->dim < b->dim)
		return -1;
	if (a->dim > b->dim)
		return 1;
	return 0;
}

#define EMBED_CMP_FUNC(name, test) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	Embedding	a = PG_GETARG_EMBEDDING_P(0); \
	Embedding	b = PG_GETARG_EMBEDDING_P(1); \
	int			c = embedding_cmp_internal(a, b); \
\
	PG_FREE_IF_COPY(a, 0); \
	PG_FREE_IF_COPY(b, 1); \
	PG_RETURN_BOOL(test); \
}

EMBED_CMP_FUNC(embedding_eq, c == 0)
EMBED_CMP_FUNC(embedding_ne, c != 0)
EMBED_CMP_FUNC(embedding_lt, c < 0)
EMBED_CMP_FUNC(embedding_le, c <= 0)
EMBED_CMP_FUNC(embedding_gt, c > 0)
EMBED_CMP_FUNC(embedding_ge, c >= 0)

PG_FUNCTION_INFO_V1(embedding_cmp);
Datum
embedding_cmp(PG_FUNCTION_ARGS)
{
	Embedding	a = PG_GETARG_EMBEDDING_P(0);
	Embedding	b = PG_GETARG_EMBEDDING_P(1);
	int			c = embedding_cmp_internal(a, b);

	PG_FREE_IF_COPY(a, 0);
	PG_FREE_IF_COPY(b, 1);
	PG_RETURN_INT32(c);
}

static inline uint32
element_bits(float4 v)
{
	union
	{
		float4		f;
		uint32		u;
	}			x;

	x.f = (v == 0.0f) ? 0.0f : v;	/* -0 hashes as +0 */
	return x.u;
}

PG_FUNCTION_INFO_V1(embedding_hash);
Datum
embedding_hash(PG_FUNCTION_ARGS)
{
	Embedding	a = PG_GETARG_EMBEDDING_P(0);
	uint32		h = hash_bytes_uint32((uint32) a->dim);

	for (int i = 0; i < a->dim; i++)
		h = hash_combine(h, hash_bytes_uint32(element_bits(a->x[i])));
	PG_RETURN_UINT32(h);
}

PG_FUNCTION_INFO_V1(embedding_hash_extended);
Datum
embedding_hash_extended(PG_FUNCTION_ARGS)
{
	Embedding	a = PG_GETARG_EMBEDDING_P(0);
	uint64		seed = PG_GETARG_INT64(1);
	uint64		h = hash_bytes_uint32_extended((uint32) a->dim, seed);

	for (int i = 0; i < a->dim; i++)
		h = hash_combine64(h, hash_bytes_uint32_extended(element_bits(a->x[i]), seed));
	PG_RETURN_UINT64(h);
}

/* ---- aggregates: state is float8[] {count, sum_1, ..., sum_dim} ---- */

static ArrayType *
new_state(int dim)
{
	Datum	   *d = palloc(sizeof(Datum) * (dim + 1));
	ArrayType  *arr;

	for (int i = 0; i <= dim; i++)
		d[i] = Float8GetDatum(0.0);
	arr = construct_array(d, dim + 1, FLOAT8OID, sizeof(float8),
						  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	pfree(d);
	return arr;
}

static int
state_dim(ArrayType *state)
{
	if (ARR_NDIM(state) != 1 || ARR_HASNULL(state) ||
		ARR_ELEMTYPE(state) != FLOAT8OID || ARR_DIMS(state)[0] < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("invalid embedding aggregate state")));
	return ARR_DIMS(state)[0] - 1;
}

/*
 * The state array is modified in place when we are called as an aggregate
 * transition function (it then belongs to the aggregate's memory context);
 * otherwise a copy is made, so a direct call cannot scribble on its input.
 */
PG_FUNCTION_INFO_V1(embedding_accum);
Datum
embedding_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *state;
	Embedding	e = PG_GETARG_EMBEDDING_P(1);
	MemoryContext aggcontext;
	float8	   *s;
	int			dim;

	if (AggCheckCallContext(fcinfo, &aggcontext))
		state = PG_GETARG_ARRAYTYPE_P(0);
	else
	{
		state = PG_GETARG_ARRAYTYPE_P_COPY(0);
		aggcontext = CurrentMemoryContext;
	}
	dim = state_dim(state);
	if (dim == 0)
	{
		MemoryContext old = MemoryContextSwitchTo(aggcontext);

		state = new_state(e->dim);
		MemoryContextSwitchTo(old);
		dim = e->dim;
	}
	else if (dim != e->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different embedding dimensions %d and %d", dim, e->dim)));

	s = EMBED_STATE_ELEMS(state);
	s[0] += 1.0;
	for (int i = 0; i < dim; i++)
		s[i + 1] += e->x[i];
	PG_RETURN_ARRAYTYPE_P(state);
}

PG_FUNCTION_INFO_V1(embedding_combine);
Datum
embedding_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *b = PG_GETARG_ARRAYTYPE_P(1);
	int			da = state_dim(a);
	int			db = state_dim(b);
	ArrayType  *r;
	float8	   *sa,
			   *sb,
			   *sr;

	if (db == 0)
		PG_RETURN_ARRAYTYPE_P(a);
	if (da == 0)
		PG_RETURN_ARRAYTYPE_P(b);
	if (da != db)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different embedding dimensions %d and %d", da, db)));
	r = new_state(da);
	sa = EMBED_STATE_ELEMS(a);
	sb = EMBED_STATE_ELEMS(b);
	sr = EMBED_STATE_ELEMS(r);
	for (int i = 0; i <= da; i++)
		sr[i] = sa[i] + sb[i];
	PG_RETURN_ARRAYTYPE_P(r);
}

static Datum
state_final(FunctionCallInfo fcinfo, bool average)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	int			dim = state_dim(state);
	float8	   *s = EMBED_STATE_ELEMS(state);
	Embedding	r;

	if (dim == 0 || s[0] == 0.0)
		PG_RETURN_NULL();
	r = InitEmbedding(dim);
	for (int i = 0; i < dim; i++)
	{
		float8		v = average ? s[i + 1] / s[0] : s[i + 1];

		/*
		 * No aggregate builds a NaN into its state, but the support
		 * functions can be called directly with any float8[].
		 */
		if (isnan(v))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("invalid embedding aggregate state")));
		r->x[i] = (float4) v;
		if (isinf(r->x[i]))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("value out of range: overflow")));
	}
	PG_RETURN_EMBEDDING_P(r);
}

PG_FUNCTION_INFO_V1(embedding_avg_final);
Datum
embedding_avg_final(PG_FUNCTION_ARGS)
{
	return state_final(fcinfo, true);
}

PG_FUNCTION_INFO_V1(embedding_sum_final);
Datum
embedding_sum_final(PG_FUNCTION_ARGS)
{
	return state_final(fcinfo, false);
}
