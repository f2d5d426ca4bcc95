/*-------------------------------------------------------------------------
 *
 * hnswscan.c
 *	  Ordered index scans of embed_hnsw: ORDER BY v <op> constant.
 *
 * The first call of amgettuple runs the search: a greedy descent through
 * the upper levels, then a search of level 0 keeping the embed.ef_search
 * best elements, which are returned closest first.  That is all a plain
 * scan returns, so a LIMIT above ef_search, or a filter that rejects most
 * rows, sees fewer rows than it asked for.
 *
 * With embed.iterative_scan = relaxed_order the search does not end
 * there.  It keeps its frontier (the found elements not yet expanded) and
 * the elements it found but did not return, and each further round
 * returns the next ef_search best of those, expanding the frontier as
 * needed.  Within a round rows come closest first; a later round may
 * return a row closer than one of an earlier round, hence "relaxed".  With
 * strict_order such a row is skipped instead: every row returned is at
 * least as far as the one before, as a sequential scan's sort would have
 * them, at the price of the skipped rows (a search of a graph meets some
 * close elements late, and no bound says when it has met them all).  The
 * rounds stop when the graph is exhausted or after embed.max_scan_tuples
 * distance computations.
 *
 * src/hnsw/hnswscan.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/relscan.h"
#include "embedding.h"
#include "hnsw.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/float.h"
#include "utils/memutils.h"

typedef struct HnswScanOpaqueData
{
	MemoryContext ctx;
	HnswMetric	metric;
	bool		started;
	bool		exhausted;		/* no further rounds */
	bool		iterative;
	bool		strict;			/* skip rows closer than one returned */
	float		last;			/* internal distance of the last row returned */
	HnswSearch *search;
	float	   *query;
	int		   *results;		/* positions in search->cands, closest first */
	int			nresults;
	int			pos;
} HnswScanOpaqueData;

typedef HnswScanOpaqueData *HnswScanOpaque;

/*
 * ambeginscan
 */
IndexScanDesc
hnswbeginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	HnswScanOpaque so = palloc0(sizeof(HnswScanOpaqueData));

	so->ctx = AllocSetContextCreate(CurrentMemoryContext, "embed_hnsw scan",
									ALLOCSET_DEFAULT_SIZES);
	so->metric = HnswGetMetric(index);
	scan->opaque = so;

	/* the executor reads these only when asked to recheck, but be exact */
	if (norderbys > 0)
	{
		scan->xs_orderbyvals = palloc0(sizeof(Datum) * norderbys);
		scan->xs_orderbynulls = palloc(sizeof(bool) * norderbys);
		memset(scan->xs_orderbynulls, true, sizeof(bool) * norderbys);
	}
	return scan;
}

/*
 * amrescan: forget the previous search; the next amgettuple starts anew.
 */
void
hnswrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys,
		   int norderbys)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	MemoryContextReset(so->ctx);
	so->started = false;
	so->exhausted = false;
	so->search = NULL;
	so->query = NULL;
	so->results = NULL;
	so->nresults = 0;
	so->pos = 0;
	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys,
				scan->numberOfOrderBys * sizeof(ScanKeyData));
}

/*
 * One round of the level-0 search (see the file header).  The first round
 * starts from the frontier holding only the entry; later ones from what
 * the earlier rounds left.  Fills so->results.
 */
static void
HnswScanRound(HnswScanOpaque so, int ef)
{
	HnswSearch *s = so->search;
	HnswHeap	best;
	int			n;

	HnswHeapInit(&best, true, ef + 1);

	/* the best found and not yet returned come first */
	while (s->pending.n > 0 && best.n < ef)
	{
		HnswHeapItem it = HnswHeapPop(&s->pending);

		HnswHeapPush(&best, it.dist, it.idx);
	}

	while (s->frontier.n > 0)
	{
		HnswHeapItem c = HnswHeapTop(&s->frontier);
		int			nn;

		if (best.n >= ef && c.dist > HnswHeapTop(&best).dist)
			break;
		if (so->iterative && s->evaluated >= hnsw_max_scan_tuples)
		{
			so->exhausted = true;
			break;
		}
		CHECK_FOR_INTERRUPTS();
		HnswHeapPop(&s->frontier);
		nn = HnswSearchExpand(s, c.idx, 0, s->ibuf);
		for (int i = 0; i < nn; i++)
		{
			int			idx = s->ibuf[i];
			HnswCand   *e = &s->cands[idx];

			if (e->visitTag == s->tag)
				continue;
			e->visitTag = s->tag;
			s->evaluated++;

			/*
			 * No closer than the ef-th best: this round will neither
			 * expand nor return it.  A plain scan forgets it; an
			 * iterative one keeps it for the later rounds.
			 */
			if (best.n >= ef && e->dist >= HnswHeapTop(&best).dist)
			{
				if (so->iterative)
				{
					HnswHeapPush(&s->frontier, e->dist, idx);
					HnswHeapPush(&s->pending, e->dist, idx);
				}
				continue;
			}
			HnswHeapPush(&s->frontier, e->dist, idx);
			HnswHeapPush(&best, e->dist, idx);
			if (best.n > ef)
			{
				HnswHeapItem out = HnswHeapPop(&best);

				if (so->iterative)
					HnswHeapPush(&s->pending, out.dist, out.idx);
			}
		}
	}

	n = best.n;
	so->results = palloc(sizeof(int) * Max(n, 1));
	for (int i = n - 1; i >= 0; i--)
		so->results[i] = HnswHeapPop(&best).idx;
	so->nresults = n;
	so->pos = 0;
	pfree(best.items);

	if (s->frontier.n == 0)
		so->exhausted = true;
	if (!so->iterative)
		so->exhausted = true;
}

/*
 * Start the search: the query, the descent, the first round.
 */
static void
HnswScanStart(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	Relation	index = scan->indexRelation;
	HnswMetaPageData meta;
	Embedding	q;
	HnswSearch *s;
	int			entries[HNSW_DESCENT_EF];
	int			nentries;

	so->started = true;
	so->exhausted = true;
	so->iterative = (hnsw_iterative_scan != HNSW_ITERATIVE_OFF);
	so->strict = (hnsw_iterative_scan == HNSW_ITERATIVE_STRICT);
	so->last = -INFINITY;

	if (scan->numberOfOrderBys == 0 ||
		(scan->orderByData[0].sk_flags & SK_ISNULL))
		return;

	HnswReadMeta(index, &meta);
	if (meta.entryLevel < 0)
		return;

	q = DatumGetEmbedding(scan->orderByData[0].sk_argument);
	if (q->dim != meta.dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", meta.dim, q->dim)));
	so->query = palloc(sizeof(float) * q->dim);

	/*
	 * A zero query has no direction: every cosine distance to it is NaN,
	 * so any order is right.  The prepared zero vector gives every element
	 * the same internal distance, and the search returns some of them.
	 */
	(void) HnswPrepareVector(so->metric, q->x, q->dim, so->query);

	s = HnswSearchCreate(index, so->metric, meta.dim, meta.m, so->query,
						 false);
	/* a level-0 search meets about 2m elements per ef; room up front */
	HnswSearchReserve(s, Min(2 * meta.m * hnsw_ef_search + 256, 1 << 14));
	so->search = s;
	nentries = HnswSearchDescend(s, &meta, 0, entries);
	if (nentries == 0)
		return;

	HnswHeapInit(&s->frontier, false, 256);
	HnswHeapInit(&s->pending, false, 256);
	s->tag++;
	s->evaluated = nentries;
	for (int i = 0; i < nentries; i++)
	{
		int			ep = entries[i];

		s->cands[ep].visitTag = s->tag;
		HnswHeapPush(&s->frontier, s->cands[ep].dist, ep);
		HnswHeapPush(&s->pending, s->cands[ep].dist, ep);
	}
	so->exhausted = false;
	HnswScanRound(so, hnsw_ef_search);
}

/*
 * The value of the ORDER BY operator for an internal distance.
 */
static double
HnswOrderValue(HnswMetric metric, float dist)
{
	if (metric == HNSW_METRIC_L2)
		return sqrt((double) Max(dist, 0.0f));
	return (double) dist;
}

/*
 * amgettuple
 */
bool
hnswgettuple(IndexScanDesc scan, ScanDirection dir)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	MemoryContext old = MemoryContextSwitchTo(so->ctx);

	if (!ScanDirectionIsForward(dir))
		elog(ERROR, "embed_hnsw scans only forward");

	if (!so->started)
	{
		HnswScanStart(scan);
		pgstat_count_index_scan(scan->indexRelation);
	}

	for (;;)
	{
		while (so->pos < so->nresults)
		{
			HnswCand   *c = &so->search->cands[so->results[so->pos++]];

			if (c->deleted || !ItemPointerIsValid(&c->heaptid))
				continue;
			if (so->strict)
			{
				if (c->dist < so->last)
					continue;	/* found after a farther row was returned */
				so->last = c->dist;
			}
			scan->xs_heaptid = c->heaptid;
			scan->xs_recheck = false;
			scan->xs_recheckorderby = false;
			if (scan->numberOfOrderBys > 0)
			{
				scan->xs_orderbyvals[0] =
					Float8GetDatum(HnswOrderValue(so->metric, c->dist));
				scan->xs_orderbynulls[0] = false;
			}
			MemoryContextSwitchTo(old);
			return true;
		}
		if (so->exhausted)
			break;
		HnswScanRound(so, hnsw_ef_search);
	}
	MemoryContextSwitchTo(old);
	return false;
}

/*
 * amendscan
 */
void
hnswendscan(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	MemoryContextDelete(so->ctx);
	pfree(so);
	scan->opaque = NULL;
}
