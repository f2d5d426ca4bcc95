/*-------------------------------------------------------------------------
 *
 * sampling.c
 *	  The random parts of word2vec: frequent-word subsampling, the
 *	  negative-sampling distribution and the seeded generator behind both.
 *
 * Subsampling keeps a token of a word with count c in a corpus of T tokens
 * with probability min(1, (sqrt(c / (s T)) + 1) s T / c), the rule of the
 * word2vec paper's reference code; we store it as a 32-bit threshold so
 * the decision is one draw and one comparison.
 *
 * Negatives are drawn from counts^0.75.  word2vec fills a table of 1e8
 * word ids (400 MB) for this; we build Walker's alias table instead: two
 * arrays of vocabulary size, one draw gives a column and a coin, exact
 * probabilities, and it stays in cache.
 *
 * The generator is xorshift64* (train.h), seeded per stream through
 * splitmix64, so runs with the same seed and one worker are identical and
 * nothing depends on random() or on the platform's generator.
 *
 * src/train/sampling.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "train.h"

static inline uint64
SplitMix64(uint64 *x)
{
	uint64		z = (*x += UINT64CONST(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64CONST(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64CONST(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/*
 * A generator state for one independent stream of a run: streams are
 * identified by two numbers (for example epoch and chunk), so the draws a
 * chunk sees do not depend on which process trains it, or when.
 */
uint64
TrainRandSeed(uint64 seed, uint64 stream1, uint64 stream2)
{
	uint64		x = seed;
	uint64		s;

	s = SplitMix64(&x);
	x ^= stream1 * UINT64CONST(0xD6E8FEB86659FD93);
	s ^= SplitMix64(&x);
	x ^= stream2 * UINT64CONST(0xA0761D6478BD642F);
	s ^= SplitMix64(&x);
	return s ? s : UINT64CONST(0x853C49E6748FEA9B);
}

void
SubsampleThresholds(const int64 *counts, int32 vocab_size, int64 total,
					double sample, uint32 *keep)
{
	int32		w;

	for (w = 0; w < vocab_size; w++)
	{
		double		p = 1.0;

		if (sample > 0 && counts[w] > 0)
		{
			double		st = sample * (double) total;

			p = (sqrt((double) counts[w] / st) + 1.0) * st / (double) counts[w];
		}
		if (p >= 1.0)
			keep[w] = PG_UINT32_MAX;
		else
			keep[w] = (uint32) (p * 4294967296.0);
	}
}

/*
 * Vose's construction of Walker's alias table for weights counts^0.75.
 * Column i is kept with probability prob[i] / 2^32, else alias[i] is
 * returned.
 */
void
AliasTableBuild(const int64 *counts, int32 vocab_size, uint32 *prob,
				int32 *alias)
{
	double	   *q = palloc(sizeof(double) * vocab_size);
	int32	   *small = palloc(sizeof(int32) * vocab_size);
	int32	   *large = palloc(sizeof(int32) * vocab_size);
	int32		nsmall = 0,
				nlarge = 0;
	double		sum = 0;
	int32		w;

	for (w = 0; w < vocab_size; w++)
	{
		q[w] = pow((double) counts[w], 0.75);
		sum += q[w];
	}
	for (w = 0; w < vocab_size; w++)
	{
		q[w] = q[w] * vocab_size / sum;
		if (q[w] < 1.0)
			small[nsmall++] = w;
		else
			large[nlarge++] = w;
	}
	while (nsmall > 0 && nlarge > 0)
	{
		int32		s = small[--nsmall];
		int32		l = large[nlarge - 1];

		prob[s] = (uint32) (q[s] * 4294967296.0);
		alias[s] = l;
		q[l] = (q[l] + q[s]) - 1.0;
		if (q[l] < 1.0)
		{
			nlarge--;
			small[nsmall++] = l;
		}
	}
	/* what is left has weight 1 up to rounding */
	while (nlarge > 0)
	{
		int32		l = large[--nlarge];

		prob[l] = PG_UINT32_MAX;
		alias[l] = l;
	}
	while (nsmall > 0)
	{
		int32		s = small[--nsmall];

		prob[s] = PG_UINT32_MAX;
		alias[s] = s;
	}
	pfree(q);
	pfree(small);
	pfree(large);
}
