/*-------------------------------------------------------------------------
 *
 * kernels.c
 *	  Micro benchmark of the distance kernels, outside the server.
 *
 * For each dimension from 64 to 4096 it times every kernel, portable and
 * SIMD, over a working set that fits in L1/L2 cache (so it measures the
 * arithmetic, not memory), and prints GFLOP/s and GB/s.  Counting: a dot
 * product does 2 flops an element, squared L2 3, the cosine parts 6; bytes
 * are the two input vectors.
 *
 *   make -C test/bench kernels && test/bench/kernels
 *
 * test/bench/kernels.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "distance.h"

#define PAIRS 16

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static volatile float sink;

static float
run_dot(int n, float **a, float **b, long reps)
{
	float		s = 0;

	for (long r = 0; r < reps; r++)
		s += embed_dot(a[r % PAIRS], b[r % PAIRS], n);
	return s;
}

static float
run_l2(int n, float **a, float **b, long reps)
{
	float		s = 0;

	for (long r = 0; r < reps; r++)
		s += embed_l2sq(a[r % PAIRS], b[r % PAIRS], n);
	return s;
}

static float
run_cos(int n, float **a, float **b, long reps)
{
	float		s = 0;

	for (long r = 0; r < reps; r++)
	{
		float		d,
					x,
					y;

		embed_dot_norms(a[r % PAIRS], b[r % PAIRS], n, &d, &x, &y);
		s += d + x + y;
	}
	return s;
}

int
main(void)
{
	static const int dims[] = {64, 128, 256, 384, 768, 1024, 1536, 4096};
	static const struct
	{
		const char *name;
		float		(*fn) (int, float **, float **, long);
		int			flops;
	}			kernels[] = {
		{"dot", run_dot, 2},
		{"l2sq", run_l2, 3},
		{"cosine", run_cos, 6},
	};

	printf("%-9s %-7s %6s %10s %9s %9s\n",
		   "path", "kernel", "dim", "ns/call", "GFLOP/s", "GB/s");
	for (int p = 0; p < 2; p++)
	{
		embed_kernels_init(p == 0 ? EMBED_KERNEL_PORTABLE : EMBED_KERNEL_AUTO);
		for (size_t di = 0; di < sizeof(dims) / sizeof(dims[0]); di++)
		{
			int			n = dims[di];
			float	   *a[PAIRS],
					   *b[PAIRS];

			for (int i = 0; i < PAIRS; i++)
			{
				a[i] = malloc(sizeof(float) * n);
				b[i] = malloc(sizeof(float) * n);
				for (int j = 0; j < n; j++)
				{
					a[i][j] = (float) rand() / RAND_MAX - 0.5f;
					b[i][j] = (float) rand() / RAND_MAX - 0.5f;
				}
			}
			for (size_t k = 0; k < sizeof(kernels) / sizeof(kernels[0]); k++)
			{
				long		reps = 1000;
				double		t;

				/* grow until a run takes 0.2 s */
				for (;;)
				{
					double		t0 = now();

					sink = kernels[k].fn(n, a, b, reps);
					t = now() - t0;
					if (t > 0.2)
						break;
					reps *= 4;
				}
				printf("%-9s %-7s %6d %10.1f %9.2f %9.2f\n",
					   embed_kernels_name(), kernels[k].name, n,
					   t / reps * 1e9,
					   (double) kernels[k].flops * n * reps / t / 1e9,
					   (double) 2 * sizeof(float) * n * reps / t / 1e9);
			}
			for (int i = 0; i < PAIRS; i++)
			{
				free(a[i]);
				free(b[i]);
			}
		}
	}
	return 0;
}
