/*-------------------------------------------------------------------------
 *
 * distance.c
 *	  Dot product, squared Euclidean distance and the cosine parts, in a
 *	  portable version and an AVX2+FMA version chosen at run time.
 *
 * The portable loops keep eight independent partial sums.  That is not only
 * for speed: without -ffast-math the compiler may not reorder a single
 * running sum, so it could not vectorize it, while eight separate sums map
 * onto SIMD lanes directly.  The AVX2 versions do the same with four 8-lane
 * registers, which hides the latency of the fused multiply-adds.  Both
 * orders of summation differ from a naive left-to-right sum only by
 * rounding, and from each other by the same order of magnitude.
 *
 * Nothing here may call into PostgreSQL: the file is also linked into the
 * stand-alone kernel benchmark and tests.
 *
 * src/distance.c
 *
 *-------------------------------------------------------------------------
 */
#include <stddef.h>

#include "distance.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define EMBED_HAVE_X86_DISPATCH 1
#include <immintrin.h>
#endif

/* ---- portable ---- */

float
embed_dot_portable(const float *a, const float *b, int n)
{
	float		s[8] = {0};
	int			i = 0;

	for (; i + 8 <= n; i += 8)
		for (int j = 0; j < 8; j++)
			s[j] += a[i + j] * b[i + j];
	for (; i < n; i++)
		s[0] += a[i] * b[i];
	return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

float
embed_l2sq_portable(const float *a, const float *b, int n)
{
	float		s[8] = {0};
	int			i = 0;

	for (; i + 8 <= n; i += 8)
		for (int j = 0; j < 8; j++)
		{
			float		d = a[i + j] - b[i + j];

			s[j] += d * d;
		}
	for (; i < n; i++)
	{
		float		d = a[i] - b[i];

		s[0] += d * d;
	}
	return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

/*
 * Three passes of the dot kernel: compilers vectorize each pass, while a
 * single loop with three sets of partial sums is left scalar by gcc.
 */
static void
embed_dot_norms_portable(const float *a, const float *b, int n,
						 float *dot, float *aa, float *bb)
{
	*dot = embed_dot_portable(a, b, n);
	*aa = embed_dot_portable(a, a, n);
	*bb = embed_dot_portable(b, b, n);
}

static void
embed_axpy_portable(float alpha, const float *x, float *y, int n)
{
	for (int i = 0; i < n; i++)
		y[i] += alpha * x[i];
}

/* ---- AVX2 + FMA ---- */

#ifdef EMBED_HAVE_X86_DISPATCH

#define EMBED_AVX2 __attribute__((target("avx2,fma")))

EMBED_AVX2 static inline float
hsum256(__m256 v)
{
	__m128		lo = _mm256_castps256_ps128(v);
	__m128		hi = _mm256_extractf128_ps(v, 1);

	lo = _mm_add_ps(lo, hi);
	lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
	lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
	return _mm_cvtss_f32(lo);
}

EMBED_AVX2 static float
embed_dot_avx2(const float *a, const float *b, int n)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	__m256		s2 = _mm256_setzero_ps();
	__m256		s3 = _mm256_setzero_ps();
	int			i = 0;
	float		tail = 0.0f;

#define LOADS(p, k)	_mm256_loadu_ps((p) + i + (k))
	for (; i + 32 <= n; i += 32)
	{
		s0 = _mm256_fmadd_ps(LOADS(a, 0), LOADS(b, 0), s0);
		s1 = _mm256_fmadd_ps(LOADS(a, 8), LOADS(b, 8), s1);
		s2 = _mm256_fmadd_ps(LOADS(a, 16), LOADS(b, 16), s2);
		s3 = _mm256_fmadd_ps(LOADS(a, 24), LOADS(b, 24), s3);
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm256_fmadd_ps(LOADS(a, 0), LOADS(b, 0), s0);
	for (; i < n; i++)
		tail += a[i] * b[i];
	s0 = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
	return hsum256(s0) + tail;
}

EMBED_AVX2 static float
embed_l2sq_avx2(const float *a, const float *b, int n)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	__m256		s2 = _mm256_setzero_ps();
	__m256		s3 = _mm256_setzero_ps();
	int			i = 0;
	float		tail = 0.0f;

	for (; i + 32 <= n; i += 32)
	{
		__m256		d0 = _mm256_sub_ps(LOADS(a, 0), LOADS(b, 0));
		__m256		d1 = _mm256_sub_ps(LOADS(a, 8), LOADS(b, 8));
		__m256		d2 = _mm256_sub_ps(LOADS(a, 16), LOADS(b, 16));
		__m256		d3 = _mm256_sub_ps(LOADS(a, 24), LOADS(b, 24));

		s0 = _mm256_fmadd_ps(d0, d0, s0);
		s1 = _mm256_fmadd_ps(d1, d1, s1);
		s2 = _mm256_fmadd_ps(d2, d2, s2);
		s3 = _mm256_fmadd_ps(d3, d3, s3);
	}
	for (; i + 8 <= n; i += 8)
	{
		__m256		d0 = _mm256_sub_ps(LOADS(a, 0), LOADS(b, 0));

		s0 = _mm256_fmadd_ps(d0, d0, s0);
	}
	for (; i < n; i++)
	{
		float		d = a[i] - b[i];

		tail += d * d;
	}
	s0 = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
	return hsum256(s0) + tail;
}

EMBED_AVX2 static void
embed_dot_norms_avx2(const float *a, const float *b, int n,
					 float *dot, float *aa, float *bb)
{
	__m256		d0 = _mm256_setzero_ps();
	__m256		d1 = _mm256_setzero_ps();
	__m256		x0 = _mm256_setzero_ps();
	__m256		x1 = _mm256_setzero_ps();
	__m256		y0 = _mm256_setzero_ps();
	__m256		y1 = _mm256_setzero_ps();
	float		td = 0.0f,
				tx = 0.0f,
				ty = 0.0f;
	int			i = 0;

	for (; i + 16 <= n; i += 16)
	{
		__m256		va0 = _mm256_loadu_ps(a + i);
		__m256		vb0 = _mm256_loadu_ps(b + i);
		__m256		va1 = _mm256_loadu_ps(a + i + 8);
		__m256		vb1 = _mm256_loadu_ps(b + i + 8);

		d0 = _mm256_fmadd_ps(va0, vb0, d0);
		x0 = _mm256_fmadd_ps(va0, va0, x0);
		y0 = _mm256_fmadd_ps(vb0, vb0, y0);
		d1 = _mm256_fmadd_ps(va1, vb1, d1);
		x1 = _mm256_fmadd_ps(va1, va1, x1);
		y1 = _mm256_fmadd_ps(vb1, vb1, y1);
	}
	for (; i + 8 <= n; i += 8)
	{
		__m256		va0 = _mm256_loadu_ps(a + i);
		__m256		vb0 = _mm256_loadu_ps(b + i);

		d0 = _mm256_fmadd_ps(va0, vb0, d0);
		x0 = _mm256_fmadd_ps(va0, va0, x0);
		y0 = _mm256_fmadd_ps(vb0, vb0, y0);
	}
	for (; i < n; i++)
	{
		td += a[i] * b[i];
		tx += a[i] * a[i];
		ty += b[i] * b[i];
	}
	*dot = hsum256(_mm256_add_ps(d0, d1)) + td;
	*aa = hsum256(_mm256_add_ps(x0, x1)) + tx;
	*bb = hsum256(_mm256_add_ps(y0, y1)) + ty;
}

EMBED_AVX2 static void
embed_axpy_avx2(float alpha, const float *x, float *y, int n)
{
	__m256		va = _mm256_set1_ps(alpha);
	int			i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i),
												_mm256_loadu_ps(y + i)));
	for (; i < n; i++)
		y[i] += alpha * x[i];
}
#undef LOADS
#endif							/* EMBED_HAVE_X86_DISPATCH */

/* ---- dispatch ---- */

float		(*embed_dot) (const float *a, const float *b, int n) =
			embed_dot_portable;
float		(*embed_l2sq) (const float *a, const float *b, int n) =
			embed_l2sq_portable;
void		(*embed_dot_norms) (const float *a, const float *b, int n,
								float *dot, float *aa, float *bb) =
			embed_dot_norms_portable;
void		(*embed_axpy) (float alpha, const float *x, float *y, int n) =
			embed_axpy_portable;

static const char *kernels_name = "portable";

bool
embed_cpu_has_avx2_fma(void)
{
#ifdef EMBED_HAVE_X86_DISPATCH
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
	return false;
#endif
}

void
embed_kernels_init(EmbedKernelChoice choice)
{
	embed_dot = embed_dot_portable;
	embed_l2sq = embed_l2sq_portable;
	embed_dot_norms = embed_dot_norms_portable;
	embed_axpy = embed_axpy_portable;
	kernels_name = "portable";

#ifdef EMBED_HAVE_X86_DISPATCH
	if (choice == EMBED_KERNEL_AUTO && embed_cpu_has_avx2_fma())
	{
		embed_dot = embed_dot_avx2;
		embed_l2sq = embed_l2sq_avx2;
		embed_dot_norms = embed_dot_norms_avx2;
		embed_axpy = embed_axpy_avx2;
		kernels_name = "avx2_fma";
	}
#endif
}

const char *
embed_kernels_name(void)
{
	return kernels_name;
}
