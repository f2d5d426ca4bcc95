/*-------------------------------------------------------------------------
 *
 * distance.h
 *	  Distance kernels on plain float arrays, with run-time SIMD dispatch.
 *
 * This is the bottom layer of embed: it knows nothing about PostgreSQL
 * types, memory contexts or error reporting, so it can be unit-tested and
 * benchmarked outside the server.  Every caller goes through the function
 * pointers below, which embed_kernels_init() points at the fastest
 * implementation the CPU supports.
 *
 * src/distance.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef EMBED_DISTANCE_H
#define EMBED_DISTANCE_H

#include <stdbool.h>

/* Which implementation the dispatcher may choose. */
typedef enum EmbedKernelChoice
{
	EMBED_KERNEL_AUTO,			/* best the CPU supports */
	EMBED_KERNEL_PORTABLE		/* plain C, any CPU */
} EmbedKernelChoice;

/* Sum of a[i] * b[i]. */
extern float (*embed_dot) (const float *a, const float *b, int n);

/* Sum of (a[i] - b[i])^2. */
extern float (*embed_l2sq) (const float *a, const float *b, int n);

/*
 * One pass for cosine: the dot product and both squared norms, so a
 * cosine distance reads each vector once.
 */
extern void (*embed_dot_norms) (const float *a, const float *b, int n,
								float *dot, float *aa, float *bb);

/* y[i] += alpha * x[i] (used by training). */
extern void (*embed_axpy) (float alpha, const float *x, float *y, int n);

extern void embed_kernels_init(EmbedKernelChoice choice);
extern const char *embed_kernels_name(void);
extern bool embed_cpu_has_avx2_fma(void);

/* The portable implementations, for tests that compare paths. */
extern float embed_dot_portable(const float *a, const float *b, int n);
extern float embed_l2sq_portable(const float *a, const float *b, int n);

#endif							/* EMBED_DISTANCE_H */
