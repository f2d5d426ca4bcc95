/*-------------------------------------------------------------------------
 *
 * sgns_kernel.h
 *	  Body of the word2vec update kernel, included by sgns.c once per
 *	  instruction set with SGNS_FN_ATTR (a target attribute or nothing) and
 *	  SGNS_SUFFIX (the name suffix) defined, and SgnsDot_<suffix> declared.
 *
 * src/train/sgns_kernel.h
 *
 *-------------------------------------------------------------------------
 */

/*
 * One negative-sampling step for input vector `in` against target `t`:
 * returns the gradient scale g and updates the output vector and the
 * accumulated input error err (err += g * out; out += g * in).
 */
SGNS_FN_ATTR static inline void
SGNS_SUFFIX(SgnsStep) (const float *restrict in, float *restrict out,
					   float *restrict err, int dim, float label,
					   float alpha, SgnsWork *w)
{
	float		f = SGNS_SUFFIX(SgnsDot) (in, out, dim);
	float		g;
	int			i;

	if (f >= SIGMOID_BOUND)
	{
		g = (label - 1.0f) * alpha;
		w->loss += label > 0 ? nlogsig_table[SIGMOID_SIZE] : f;
	}
	else if (f <= -SIGMOID_BOUND)
	{
		g = label * alpha;
		w->loss += label > 0 ? -f : nlogsig_table[SIGMOID_SIZE];
	}
	else
	{
		int			idx = (int) ((f + SIGMOID_BOUND) *
								 (SIGMOID_SIZE / (2 * SIGMOID_BOUND)));

		g = (label - sigmoid_table[idx]) * alpha;
		w->loss += label > 0 ? nlogsig_table[idx] :
			nlogsig_table[SIGMOID_SIZE - idx];
	}
	w->pairs++;

	for (i = 0; i < dim; i++)
	{
		float		o = out[i];

		err[i] += g * o;
		out[i] = o + g * in[i];
	}
}

/* the vectors of word t: private copies for the hot words */
#define SGNS_OUT(t) \
	((t) < nhot ? hot + (int64) (t) * dim : syn1 + (int64) (t) * dim)
#define SGNS_IN(t) \
	((t) < nhot ? hot0 + (int64) (t) * dim : syn0 + (int64) (t) * dim)

SGNS_FN_ATTR static int
SGNS_SUFFIX(SgnsTrainRange) (const SgnsModel *m, SgnsWork *w,
							 const int32 *sen, int len, int from, int to,
							 float alpha)
{
	const int	dim = m->dim;
	const int	window = m->window;
	const int	negative = m->negative;
	float	   *restrict syn0 = m->syn0;
	float	   *restrict syn1 = m->syn1;
	const int32 nhot = w->nhot;
	float	   *restrict hot = w->hot;
	float	   *restrict hot0 = w->hot0;
	float	   *restrict neu1 = w->neu1;
	float	   *restrict neu1e = w->neu1e;
	int			pos;

	for (pos = from; pos < to; pos++)
	{
		int32		word = sen[pos];
		int			span = window -
			(int) (TrainRandNext(&w->rng) % (uint64) window);
		int			lo = Max(pos - span, 0);
		int			hi = Min(pos + span, len - 1);
		int			c,
					d,
					i;

		if (pos + 1 < len)
			SgnsPrefetchRow(SGNS_OUT(sen[pos + 1]), dim);

		if (!m->cbow)
		{
			/*
			 * The negatives of the next context word are drawn one step
			 * early, so that their rows can be fetched while this one is
			 * trained.  The random numbers are consumed in the same order
			 * as drawing each just before use would: the result does not
			 * depend on the look-ahead.
			 */
			int32	   *cur = w->negs;
			int32	   *next = w->negs + negative;

			c = (lo == pos) ? lo + 1 : lo;
			if (c <= hi)
				for (d = 0; d < negative; d++)
				{
					cur[d] = DrawNegative(m, &w->rng);
					SgnsPrefetchRow(SGNS_OUT(cur[d]), dim);
				}
			while (c <= hi)
			{
				int			cn = (c + 1 == pos) ? c + 2 : c + 1;
				float	   *in;
				int32	   *swap;

				if (cn <= hi)
				{
					SgnsPrefetchRow(SGNS_IN(sen[cn]), dim);
					for (d = 0; d < negative; d++)
					{
						next[d] = DrawNegative(m, &w->rng);
						SgnsPrefetchRow(SGNS_OUT(next[d]), dim);
					}
				}
				in = SGNS_IN(sen[c]);
				memset(neu1e, 0, sizeof(float) * dim);
				SGNS_SUFFIX(SgnsStep) (in, SGNS_OUT(word), neu1e,
									   dim, 1.0f, alpha, w);
				for (d = 0; d < negative; d++)
				{
					int32		t = cur[d];

					if (t == word)
						continue;
					SGNS_SUFFIX(SgnsStep) (in, SGNS_OUT(t), neu1e,
										   dim, 0.0f, alpha, w);
				}
				for (i = 0; i < dim; i++)
					in[i] += neu1e[i];
				swap = cur;
				cur = next;
				next = swap;
				c = cn;
			}
		}
		else
		{
			int32	   *negs = w->negs;
			int			cw = 0;
			float		scale;

			if (lo == hi)
				continue;		/* no context word: nothing to learn */

			/* draw the negatives first and fetch their rows meanwhile */
			for (d = 0; d < negative; d++)
			{
				negs[d] = DrawNegative(m, &w->rng);
				SgnsPrefetchRow(SGNS_OUT(negs[d]), dim);
			}
			memset(neu1, 0, sizeof(float) * dim);
			for (c = lo; c <= hi; c++)
			{
				const float *in;

				if (c == pos)
					continue;
				in = SGNS_IN(sen[c]);
				for (i = 0; i < dim; i++)
					neu1[i] += in[i];
				cw++;
			}
			if (cw == 0)
				continue;
			scale = 1.0f / cw;
			for (i = 0; i < dim; i++)
				neu1[i] *= scale;
			memset(neu1e, 0, sizeof(float) * dim);
			SGNS_SUFFIX(SgnsStep) (neu1, SGNS_OUT(word), neu1e,
								   dim, 1.0f, alpha, w);
			for (d = 0; d < negative; d++)
			{
				int32		t = negs[d];

				if (t == word)
					continue;
				SGNS_SUFFIX(SgnsStep) (neu1, SGNS_OUT(t), neu1e,
									   dim, 0.0f, alpha, w);
			}
			for (c = lo; c <= hi; c++)
			{
				float	   *in;

				if (c == pos)
					continue;
				in = SGNS_IN(sen[c]);
				for (i = 0; i < dim; i++)
					in[i] += neu1e[i];
			}
		}

		/* a pending interrupt: let the caller service it */
		if (*m->stop)
			return pos + 1;
	}
	return to;
}

#undef SGNS_OUT
#undef SGNS_IN
