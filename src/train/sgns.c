/*-------------------------------------------------------------------------
 *
 * sgns.c
 *	  The word2vec update kernel: skip-gram and CBOW with negative
 *	  sampling, on plain float arrays.
 *
 * Nothing here calls PostgreSQL: the arrays may live in backend memory or
 * in dynamic shared memory, where several processes update them at once
 * without locks (Hogwild, as word2vec's threads do; a lost update now and
 * then costs nothing measurable, and the vectors are float4s written whole).
 *
 * For every centre position the effective window is drawn uniformly from
 * 1..window.  Skip-gram pairs the centre with each context word c inside
 * that window: the input vector of c is pushed towards the output vector
 * of the centre and away from the output vectors of `negative` words drawn
 * from the unigram^0.75 distribution.  CBOW averages the context's input
 * vectors and does the same for the average.  sigmoid(x) and -log
 * sigmoid(x) come from tables over [-SIGMOID_BOUND, SIGMOID_BOUND]; beyond
 * that the gradient is taken as saturated.
 *
 * The inner loops (dot product, and the fused "accumulate the error,
 * update the output vector" pass) exist twice: an AVX2+FMA version and a
 * portable one, both generated from sgns_kernel.h.  SgnsInit() picks one
 * with the same CPU test the distance kernels use.
 *
 * src/train/sgns.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "distance.h"
#include "train.h"

#define SIGMOID_BOUND	6.0f
#define SIGMOID_SIZE	1024

/* sigmoid(x) and -log(sigmoid(x)) sampled at SIGMOID_SIZE + 1 points */
static float sigmoid_table[SIGMOID_SIZE + 1];
static float nlogsig_table[SIGMOID_SIZE + 1];

typedef int (*SgnsRangeFn) (const SgnsModel *m, SgnsWork *w,
							 const int32 *sen, int len, int from, int to,
							 float alpha);

static SgnsRangeFn sgns_range_impl;

/* Draw a negative sample from the alias table. */
static inline int32
DrawNegative(const SgnsModel *m, uint64 *rng)
{
	uint64		r = TrainRandNext(rng);
	uint32		col = (uint32) (((r >> 32) * (uint64) m->vocab_size) >> 32);

	return ((uint32) r < m->alias_prob[col]) ? col : m->alias_index[col];
}

/*
 * Ask for the cache lines of a row of n floats ahead of use, for writing.
 * Rows are dim * 4 bytes and need not start on a line boundary, so the
 * line of the last byte is asked for as well.
 */
static inline void
SgnsPrefetchRow(const float *row, int n)
{
#ifdef __GNUC__
	const char *p = (const char *) row;
	const char *last = p + (int64) n * sizeof(float) - 1;

	for (; p < last; p += 64)
		__builtin_prefetch(p, 1, 3);
	__builtin_prefetch(last, 1, 3);
#else
	(void) row;
	(void) n;
#endif
}

/* ------------------------------------------------------------------ */
/* portable instantiation */
#define SGNS_FN_ATTR
#define SGNS_SUFFIX(name) name##_portable

static inline float
SgnsDot_portable(const float *restrict a, const float *restrict b, int n)
{
	float		s0 = 0,
				s1 = 0,
				s2 = 0,
				s3 = 0;
	int			i = 0;

	for (; i + 4 <= n; i += 4)
	{
		s0 += a[i] * b[i];
		s1 += a[i + 1] * b[i + 1];
		s2 += a[i + 2] * b[i + 2];
		s3 += a[i + 3] * b[i + 3];
	}
	for (; i < n; i++)
		s0 += a[i] * b[i];
	return (s0 + s1) + (s2 + s3);
}

#include "sgns_kernel.h"

#undef SGNS_FN_ATTR
#undef SGNS_SUFFIX

/* ------------------------------------------------------------------ */
/* AVX2 + FMA instantiation */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define SGNS_HAVE_AVX2 1
#define SGNS_FN_ATTR __attribute__((target("avx2,fma")))
#define SGNS_SUFFIX(name) name##_avx2

SGNS_FN_ATTR static inline float
SgnsDot_avx2(const float *restrict a, const float *restrict b, int n)
{
	/*
	 * The sum is on the critical path of every step (the update waits for
	 * it), so the chains are kept short: four accumulators, and the last
	 * four elements of a dimension like 100 in one 128-bit step rather
	 * than four dependent scalar ones.
	 */
	__m256		acc0 = _mm256_setzero_ps();
	__m256		acc1 = _mm256_setzero_ps();
	__m256		acc2 = _mm256_setzero_ps();
	__m256		acc3 = _mm256_setzero_ps();
	__m128		lo;
	float		s;
	int			i = 0;

	for (; i + 32 <= n; i += 32)
	{
		acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i),
							   _mm256_loadu_ps(b + i), acc0);
		acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8),
							   _mm256_loadu_ps(b + i + 8), acc1);
		acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16),
							   _mm256_loadu_ps(b + i + 16), acc2);
		acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24),
							   _mm256_loadu_ps(b + i + 24), acc3);
	}
	for (; i + 8 <= n; i += 8)
		acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i),
							   _mm256_loadu_ps(b + i), acc0);
	acc0 = _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3));
	lo = _mm_add_ps(_mm256_castps256_ps128(acc0),
					_mm256_extractf128_ps(acc0, 1));
	if (i + 4 <= n)
	{
		lo = _mm_fmadd_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i), lo);
		i += 4;
	}
	lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
	lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
	s = _mm_cvtss_f32(lo);
	for (; i < n; i++)
		s += a[i] * b[i];
	return s;
}

#include "sgns_kernel.h"

#undef SGNS_FN_ATTR
#undef SGNS_SUFFIX
#endif

/*
 * Fill the tables and choose the instantiation.  Called from _PG_init.
 */
void
SgnsInit(void)
{
	int			i;

	for (i = 0; i <= SIGMOID_SIZE; i++)
	{
		double		x = ((double) i / SIGMOID_SIZE * 2.0 - 1.0) * SIGMOID_BOUND;
		double		e = exp(x);

		sigmoid_table[i] = (float) (e / (e + 1.0));
		nlogsig_table[i] = (float) log1p(exp(-x));
	}
	sgns_range_impl = SgnsTrainRange_portable;
#ifdef SGNS_HAVE_AVX2
	if (embed_cpu_has_avx2_fma())
		sgns_range_impl = SgnsTrainRange_avx2;
#endif
}

/*
 * Train the centre positions [from, to) of the sentence sen[0..len), whose
 * tokens have already been through subsampling.  Context windows reach
 * outside [from, to) but never outside the sentence.
 *
 * Returns the position after the last centre trained: `to`, or less when
 * *m->stop became set, so that the caller can service the interrupt and
 * resume exactly where it stopped (at least one centre is always trained,
 * so the loop advances even if the flag stays set).
 */
int
SgnsTrainRange(const SgnsModel *m, SgnsWork *w, const int32 *sen, int len,
			   int from, int to, float alpha)
{
	return sgns_range_impl(m, w, sen, len, from, to, alpha);
}

/*
 * Fold a participant's private copy of hot rows back into the shared
 * matrix and refresh it.  base holds the shared values as of the previous
 * sync, so hot - base is this participant's own change since then; it is
 * added to the shared values (which meanwhile took the other
 * participants' changes), and hot and base restart from the sum.
 * Like every shared update here this takes no lock: two participants
 * folding the same row at the same instant may lose part of one change.
 */
static void
SgnsFold(float *restrict shared, float *restrict hot, float *restrict base,
		 int64 n)
{
	for (int64 i = 0; i < n; i++)
	{
		float		v = shared[i] + (hot[i] - base[i]);

		shared[i] = v;
		hot[i] = v;
		base[i] = v;
	}
}

/* Fold both matrices' hot rows (see TRAIN_HOT_BYTES in driver.c). */
void
SgnsHotSync(const SgnsModel *m, SgnsWork *w, int32 rows)
{
	int64		n = (int64) rows * m->dim;

	SgnsFold(m->syn1, w->hot, w->hot_base, n);
	SgnsFold(m->syn0, w->hot0, w->hot0_base, n);
}
