/*-------------------------------------------------------------------------
 *
 * pca.c
 *	  Principal component analysis of any embedding column: the aggregate
 *	  embed_pca_fit(embedding, k) and the function embed_pca_project().
 *
 * The aggregate gathers, in one pass and in double precision, the mean and
 * the scatter matrix (the sum of outer products of the rows' deviations
 * from the mean) with Welford's update, which stays accurate when the rows
 * sit far from the origin and close to each other, as word vectors often
 * do.  Only the upper triangle of the scatter matrix is updated per row.
 * The memory is dim * dim doubles, so the dimension is capped at
 * EMBED_PCA_MAX_DIM (128 MB of state); a wider column must be reduced
 * some other way first.
 *
 * The final function finds the k leading eigenvectors of the covariance
 * by subspace iteration with a Rayleigh-Ritz step: a block of p > k
 * orthonormal vectors is multiplied by the covariance and
 * re-orthonormalised until the Ritz pairs of the first k columns have
 * small residuals.  Each step costs dim * dim * p, far less than a full
 * eigendecomposition when k is small, and the extra p - k columns make
 * the k wanted ones converge at the rate of the gap to the (p+1)-th
 * eigenvalue instead of the (k+1)-th.  The p x p projected problem is
 * solved with cyclic Jacobi rotations, which are simple and accurate.
 *
 * The result is deterministic: the starting block comes from a fixed
 * seed, and each component is given the sign that makes its largest
 * element (by absolute value) positive.
 *
 * The fitted model is the composite type embed_pca_model:
 *	  (n bigint, mean embedding, components embedding[],
 *	   variance float8[], total_variance float8)
 * and embed_pca_project(v, model) returns the k coordinates of v - mean
 * along the components, as an embedding of k dimensions.
 *
 * Copyright (c) 2026, the embed authors
 *
 * src/pca.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "embedding.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

/* Widest column the aggregate accepts: the state is dim * dim doubles. */
#define EMBED_PCA_MAX_DIM		4096

/* Subspace iteration limits. */
#define PCA_MAX_ITERATIONS		1000
#define PCA_TOLERANCE			1e-9
#define PCA_EXTRA_COLUMNS		8

/* Cyclic Jacobi limits for the small projected problem. */
#define JACOBI_MAX_SWEEPS		100

/* Attribute numbers of embed_pca_model. */
#define PCA_ATTR_N				1
#define PCA_ATTR_MEAN			2
#define PCA_ATTR_COMPONENTS		3
#define PCA_ATTR_VARIANCE		4
#define PCA_ATTR_TOTAL			5
#define PCA_NATTS				5

typedef struct PcaStateData
{
	int			dim;			/* dimension of every row */
	int			k;				/* components wanted */
	int64		n;				/* rows seen */
	double	   *mean;			/* running mean, dim */
	double	   *scatter;		/* dim x dim, row-major, upper triangle */
	double	   *delta;			/* scratch: x - old mean, dim */
} PcaStateData;

typedef PcaStateData *PcaState;

/*
 * A small deterministic generator (xorshift64*) for the starting block.
 * Quality hardly matters, only that the block is not orthogonal to the
 * wanted eigenvectors, which a fixed pseudo-random block never is in
 * practice; a fixed seed keeps results repeatable.
 */
static double
pca_random(uint64 *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (double) ((*s * UINT64CONST(2685821657736338717)) >> 11) /
		(double) (UINT64CONST(1) << 53) - 0.5;
}

/* ---- the transition function ---- */

PG_FUNCTION_INFO_V1(embed_pca_accum);
Datum
embed_pca_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	PcaState	state;
	Embedding	e;
	int			dim;
	double		n;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "embed_pca_accum called in non-aggregate context");

	state = PG_ARGISNULL(0) ? NULL : (PcaState) PG_GETARG_POINTER(0);

	/* Rows whose vector is NULL are skipped, as avg() skips them. */
	if (PG_ARGISNULL(1))
	{
		if (state == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(state);
	}
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("number of principal components must not be null")));

	e = PG_GETARG_EMBEDDING_P(1);

	if (state == NULL)
	{
		int			k = PG_GETARG_INT32(2);
		MemoryContext old;

		if (e->dim > EMBED_PCA_MAX_DIM)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("cannot compute principal components of embeddings with %d dimensions",
							e->dim),
					 errdetail("The limit is %d dimensions.",
							   EMBED_PCA_MAX_DIM)));
		if (k < 1 || k > e->dim)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("number of principal components must be between 1 and %d",
							e->dim),
					 errdetail("%d components were asked for embeddings of %d dimensions.",
							   k, e->dim)));

		old = MemoryContextSwitchTo(aggcontext);
		state = (PcaState) palloc0(sizeof(PcaStateData));
		state->dim = e->dim;
		state->k = k;
		state->mean = palloc0(sizeof(double) * e->dim);
		state->delta = palloc0(sizeof(double) * e->dim);
		state->scatter = MemoryContextAllocZero(aggcontext,
												sizeof(double) * e->dim * e->dim);
		MemoryContextSwitchTo(old);
	}
	else if (PG_GETARG_INT32(2) != state->k)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("number of principal components must be the same for every row")));

	if (e->dim != state->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different embedding dimensions %d and %d",
						state->dim, e->dim)));

	/*
	 * Welford: with d = x - old mean and the new mean m', the scatter grows
	 * by d (x - m')^T, which is symmetric because x - m' = d (n - 1) / n.
	 */
	dim = state->dim;
	state->n++;
	n = (double) state->n;
	for (int i = 0; i < dim; i++)
	{
		state->delta[i] = (double) e->x[i] - state->mean[i];
		state->mean[i] += state->delta[i] / n;
	}
	for (int i = 0; i < dim; i++)
	{
		double		di = state->delta[i];
		double	   *row = state->scatter + (Size) i * dim;

		if (di == 0.0)
			continue;
		for (int j = i; j < dim; j++)
			row[j] += di * ((double) e->x[j] - state->mean[j]);
	}

	PG_RETURN_POINTER(state);
}

/* ---- dense linear algebra on small column-major blocks ---- */

/*
 * Orthonormalise the p columns of q (each of length d, contiguous) by
 * modified Gram-Schmidt, twice over, which is enough for orthogonality to
 * working precision.  A column that vanishes (it lay in the span of the
 * earlier ones, or the covariance sent it to zero) is replaced by a fresh
 * pseudo-random one and orthonormalised again, so the result is always a
 * full orthonormal block.
 */
static void
orthonormalize(double *q, int d, int p, uint64 *seed)
{
	for (int j = 0; j < p; j++)
	{
		double	   *qj = q + (Size) j * d;
		int			attempts = 0;

		for (;;)
		{
			double		before = 0.0;
			double		after = 0.0;

			for (int r = 0; r < d; r++)
				before += qj[r] * qj[r];
			for (int pass = 0; pass < 2; pass++)
			{
				for (int i = 0; i < j; i++)
				{
					double	   *qi = q + (Size) i * d;
					double		dot = 0.0;

					for (int r = 0; r < d; r++)
						dot += qi[r] * qj[r];
					for (int r = 0; r < d; r++)
						qj[r] -= dot * qi[r];
				}
			}
			for (int r = 0; r < d; r++)
				after += qj[r] * qj[r];

			if (after > 0.0 && after > 1e-20 * before)
			{
				double		scale = 1.0 / sqrt(after);

				for (int r = 0; r < d; r++)
					qj[r] *= scale;
				break;
			}

			/* p <= d, so some direction is always left; this cannot loop */
			if (++attempts > 100)
				elog(ERROR, "could not orthonormalize a block of %d vectors in %d dimensions",
					 p, d);
			for (int r = 0; r < d; r++)
				qj[r] = pca_random(seed);
		}
	}
}

/*
 * Eigen-decompose the symmetric p x p matrix a (row-major, destroyed) by
 * cyclic Jacobi rotations.  On return values[] holds the eigenvalues in
 * decreasing order and the columns of vectors (row-major p x p: column c
 * is vectors[r * p + c]) the matching unit eigenvectors.
 */
static void
jacobi_eigen(double *a, int p, double *values, double *vectors)
{
	int		   *order;
	double	   *sorted;

	memset(vectors, 0, sizeof(double) * p * p);
	for (int i = 0; i < p; i++)
		vectors[i * p + i] = 1.0;

	for (int sweep = 0; sweep < JACOBI_MAX_SWEEPS; sweep++)
	{
		double		off = 0.0;
		double		all = 0.0;

		for (int i = 0; i < p; i++)
			for (int j = 0; j < p; j++)
			{
				all += a[i * p + j] * a[i * p + j];
				if (i != j)
					off += a[i * p + j] * a[i * p + j];
			}
		if (off <= 1e-30 * all || off == 0.0)
			break;

		for (int s = 0; s < p - 1; s++)
			for (int t = s + 1; t < p; t++)
			{
				double		ast = a[s * p + t];
				double		theta,
							tn,
							c,
							sn;

				if (ast == 0.0)
					continue;

				/*
				 * The rotation J (c at ss and tt, sn at st, -sn at ts) makes
				 * element st of J^T A J zero when tan = tn solves
				 * tn^2 + 2 theta tn - 1 = 0; the smaller root keeps the
				 * rotation under 45 degrees, which is what makes the
				 * method converge.
				 */
				theta = (a[t * p + t] - a[s * p + s]) / (2.0 * ast);
				tn = (theta >= 0.0 ? 1.0 : -1.0) /
					(fabs(theta) + sqrt(theta * theta + 1.0));
				c = 1.0 / sqrt(tn * tn + 1.0);
				sn = tn * c;

				for (int r = 0; r < p; r++)
				{
					double		ars = a[r * p + s];
					double		art = a[r * p + t];

					a[r * p + s] = c * ars - sn * art;
					a[r * p + t] = sn * ars + c * art;
				}
				for (int r = 0; r < p; r++)
				{
					double		asr = a[s * p + r];
					double		atr = a[t * p + r];

					a[s * p + r] = c * asr - sn * atr;
					a[t * p + r] = sn * asr + c * atr;
				}
				for (int r = 0; r < p; r++)
				{
					double		vrs = vectors[r * p + s];
					double		vrt = vectors[r * p + t];

					vectors[r * p + s] = c * vrs - sn * vrt;
					vectors[r * p + t] = sn * vrs + c * vrt;
				}
			}
	}

	/* Sort by decreasing eigenvalue (selection sort: p is small). */
	order = palloc(sizeof(int) * p);
	for (int i = 0; i < p; i++)
		order[i] = i;
	for (int i = 0; i < p; i++)
	{
		int			best = i;

		for (int j = i + 1; j < p; j++)
			if (a[order[j] * p + order[j]] > a[order[best] * p + order[best]])
				best = j;
		if (best != i)
		{
			int			tmp = order[i];

			order[i] = order[best];
			order[best] = tmp;
		}
	}
	sorted = palloc(sizeof(double) * p * p);
	for (int c = 0; c < p; c++)
	{
		values[c] = a[order[c] * p + order[c]];
		for (int r = 0; r < p; r++)
			sorted[r * p + c] = vectors[r * p + order[c]];
	}
	memcpy(vectors, sorted, sizeof(double) * p * p);
	pfree(sorted);
	pfree(order);
}

/* out = q w, with out and q d x p column-major, w p x p row-major */
static void
block_times_small(const double *q, const double *w, double *out, int d, int p)
{
	memset(out, 0, sizeof(double) * d * p);
	for (int c = 0; c < p; c++)
	{
		double	   *oc = out + (Size) c * d;

		for (int j = 0; j < p; j++)
		{
			double		wjc = w[j * p + c];
			const double *qj = q + (Size) j * d;

			if (wjc == 0.0)
				continue;
			for (int r = 0; r < d; r++)
				oc[r] += wjc * qj[r];
		}
	}
}

/*
 * The k leading eigenpairs of the symmetric d x d matrix cov (row-major,
 * full).  values[] gets k eigenvalues in decreasing order, comps (k x d,
 * one component after the other) the unit eigenvectors.
 */
static void
leading_eigenpairs(const double *cov, int d, int k, double *values,
				   double *comps)
{
	int			p = Min(d, k + Max(k, PCA_EXTRA_COLUMNS));
	uint64		seed = UINT64CONST(0x9E3779B97F4A7C15);
	double	   *q = palloc(sizeof(double) * d * p);
	double	   *z = palloc(sizeof(double) * d * p);
	double	   *qr = palloc(sizeof(double) * d * p);
	double	   *zr = palloc(sizeof(double) * d * p);
	double	   *h = palloc(sizeof(double) * p * p);
	double	   *w = palloc(sizeof(double) * p * p);
	double	   *theta = palloc(sizeof(double) * p);
	int			iter;

	for (Size i = 0; i < (Size) d * p; i++)
		q[i] = pca_random(&seed);
	orthonormalize(q, d, p, &seed);

	for (iter = 0; iter < PCA_MAX_ITERATIONS; iter++)
	{
		double		worst = 0.0;
		double		scale;

		CHECK_FOR_INTERRUPTS();

		/*
		 * z = cov q, one pass over cov per iteration: each row of cov is
		 * read once and met with all p columns, which stay in cache, so a
		 * wide covariance matrix is streamed from memory once, not p times.
		 */
		for (int r = 0; r < d; r++)
		{
			const double *row = cov + (Size) r * d;

			for (int c = 0; c < p; c++)
			{
				const double *qc = q + (Size) c * d;
				double		sum = 0.0;

				for (int j = 0; j < d; j++)
					sum += row[j] * qc[j];
				z[(Size) c * d + r] = sum;
			}
		}

		/* h = q^T z, symmetrised against rounding */
		for (int i = 0; i < p; i++)
			for (int j = 0; j <= i; j++)
			{
				const double *qi = q + (Size) i * d;
				const double *zj = z + (Size) j * d;
				const double *qj = q + (Size) j * d;
				const double *zi = z + (Size) i * d;
				double		s1 = 0.0;
				double		s2 = 0.0;

				for (int r = 0; r < d; r++)
				{
					s1 += qi[r] * zj[r];
					s2 += qj[r] * zi[r];
				}
				h[i * p + j] = h[j * p + i] = 0.5 * (s1 + s2);
			}

		/* Ritz pairs: qr = q w, zr = z w = cov qr */
		jacobi_eigen(h, p, theta, w);
		block_times_small(q, w, qr, d, p);
		block_times_small(z, w, zr, d, p);

		/* residuals |cov v - theta v| of the k wanted pairs */
		scale = Max(fabs(theta[0]), DBL_MIN);
		for (int c = 0; c < k; c++)
		{
			const double *qc = qr + (Size) c * d;
			const double *zc = zr + (Size) c * d;
			double		res = 0.0;

			for (int r = 0; r < d; r++)
			{
				double		diff = zc[r] - theta[c] * qc[r];

				res += diff * diff;
			}
			worst = Max(worst, sqrt(res) / scale);
		}
		if (worst <= PCA_TOLERANCE || theta[0] <= 0.0)
			break;

		/* next block: the images, orthonormalised */
		memcpy(q, zr, sizeof(double) * d * p);
		orthonormalize(q, d, p, &seed);
	}
	if (iter >= PCA_MAX_ITERATIONS)
		elog(DEBUG1, "principal components did not converge in %d iterations",
			 PCA_MAX_ITERATIONS);
	else
		elog(DEBUG1, "principal components converged in %d iterations",
			 iter + 1);

	for (int c = 0; c < k; c++)
	{
		const double *qc = qr + (Size) c * d;
		double	   *out = comps + (Size) c * d;
		int			argmax = 0;
		double		sign;

		for (int r = 1; r < d; r++)
			if (fabs(qc[r]) > fabs(qc[argmax]))
				argmax = r;
		sign = qc[argmax] < 0.0 ? -1.0 : 1.0;
		for (int r = 0; r < d; r++)
			out[r] = sign * qc[r];
		values[c] = Max(theta[c], 0.0);
	}
}

/* ---- the final function ---- */

static Embedding
doubles_to_embedding(const double *v, int dim)
{
	Embedding	e = InitEmbedding(dim);

	for (int i = 0; i < dim; i++)
		e->x[i] = (float4) v[i];
	return e;
}

PG_FUNCTION_INFO_V1(embed_pca_final);
Datum
embed_pca_final(PG_FUNCTION_ARGS)
{
	PcaState	state;
	TupleDesc	tupdesc;
	Oid			embedding_oid;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	MemoryContext work,
				old;
	double	   *cov,
			   *values,
			   *comps;
	double		total = 0.0;
	double		denom;
	int			dim,
				k;
	Datum		fields[PCA_NATTS];
	bool		nulls[PCA_NATTS] = {false};
	Datum	   *comp_datums;
	Datum	   *var_datums;
	HeapTuple	tuple;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = (PcaState) PG_GETARG_POINTER(0);

	/* Like var_samp(), one row has no spread to analyse. */
	if (state->n < 2)
		PG_RETURN_NULL();

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type of embed_pca_final must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	if (tupdesc->natts != PCA_NATTS)
		elog(ERROR, "embed_pca_model has %d attributes, expected %d",
			 tupdesc->natts, PCA_NATTS);
	embedding_oid = TupleDescAttr(tupdesc, PCA_ATTR_MEAN - 1)->atttypid;
	get_typlenbyvalalign(embedding_oid, &typlen, &typbyval, &typalign);

	dim = state->dim;
	k = state->k;
	denom = (double) (state->n - 1);

	/*
	 * The state must survive: a window aggregate may call us again after
	 * more rows.  Work on a full symmetric copy of the covariance in a
	 * context of our own.
	 */
	work = AllocSetContextCreate(CurrentMemoryContext, "embed pca",
								 ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(work);
	cov = MemoryContextAllocHuge(work, sizeof(double) * dim * dim);
	for (int i = 0; i < dim; i++)
		for (int j = i; j < dim; j++)
		{
			double		v = state->scatter[(Size) i * dim + j] / denom;

			cov[(Size) i * dim + j] = v;
			cov[(Size) j * dim + i] = v;
		}
	for (int i = 0; i < dim; i++)
		total += cov[(Size) i * dim + i];
	values = palloc(sizeof(double) * k);
	comps = MemoryContextAllocHuge(work, sizeof(double) * dim * k);
	leading_eigenpairs(cov, dim, k, values, comps);
	MemoryContextSwitchTo(old);

	comp_datums = palloc(sizeof(Datum) * k);
	var_datums = palloc(sizeof(Datum) * k);
	for (int c = 0; c < k; c++)
	{
		Embedding	comp = doubles_to_embedding(comps + (Size) c * dim, dim);

		comp_datums[c] = PointerGetDatum(comp);
		var_datums[c] = Float8GetDatum(values[c]);
	}

	fields[PCA_ATTR_N - 1] = Int64GetDatum(state->n);
	fields[PCA_ATTR_MEAN - 1] =
		PointerGetDatum(doubles_to_embedding(state->mean, dim));
	fields[PCA_ATTR_COMPONENTS - 1] =
		PointerGetDatum(construct_array(comp_datums, k, embedding_oid,
										typlen, typbyval, typalign));
	fields[PCA_ATTR_VARIANCE - 1] =
		PointerGetDatum(construct_array(var_datums, k, FLOAT8OID,
										sizeof(float8), FLOAT8PASSBYVAL,
										TYPALIGN_DOUBLE));
	fields[PCA_ATTR_TOTAL - 1] = Float8GetDatum(total);
	MemoryContextDelete(work);

	tuple = heap_form_tuple(tupdesc, fields, nulls);
	PG_RETURN_DATUM(HeapTupleGetDatum(tuple));
}

/* ---- projection ---- */

/*
 * embed_pca_project(v, model): the coordinates of v - mean along each
 * component, as an embedding of k dimensions.  Computed in double; the
 * components are unit vectors, so a coordinate is bounded by |v - mean|
 * and the float4 result cannot overflow unless v itself is near the float4
 * limit.
 */
PG_FUNCTION_INFO_V1(embed_pca_project);
Datum
embed_pca_project(PG_FUNCTION_ARGS)
{
	Embedding	v = PG_GETARG_EMBEDDING_P(0);
	HeapTupleHeader model = PG_GETARG_HEAPTUPLEHEADER(1);
	bool		isnull;
	Datum		d;
	Embedding	mean;
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *elem_nulls;
	int			nelems;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	double	   *centred;
	Embedding	result;

	d = GetAttributeByNum(model, PCA_ATTR_MEAN, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("principal component model has no mean")));
	mean = DatumGetEmbedding(d);
	d = GetAttributeByNum(model, PCA_ATTR_COMPONENTS, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("principal component model has no components")));
	arr = DatumGetArrayTypeP(d);

	if (v->dim != mean->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different embedding dimensions %d and %d",
						mean->dim, v->dim)));

	get_typlenbyvalalign(ARR_ELEMTYPE(arr), &typlen, &typbyval, &typalign);
	deconstruct_array(arr, ARR_ELEMTYPE(arr), typlen, typbyval, typalign,
					  &elems, &elem_nulls, &nelems);
	if (nelems < 1 || ARR_NDIM(arr) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("principal component model must have at least one component")));
	CheckDimRange(nelems);

	centred = palloc(sizeof(double) * v->dim);
	for (int i = 0; i < v->dim; i++)
		centred[i] = (double) v->x[i] - (double) mean->x[i];

	result = InitEmbedding(nelems);
	for (int c = 0; c < nelems; c++)
	{
		Embedding	comp;
		double		sum = 0.0;

		if (elem_nulls[c])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("principal component model has a null component")));
		comp = DatumGetEmbedding(elems[c]);
		if (comp->dim != v->dim)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("different embedding dimensions %d and %d",
							comp->dim, v->dim)));
		for (int i = 0; i < v->dim; i++)
			sum += centred[i] * (double) comp->x[i];
		result->x[c] = (float4) sum;
		CheckElementFinite(result->x[c]);
	}
	pfree(centred);
	PG_RETURN_EMBEDDING_P(result);
}
