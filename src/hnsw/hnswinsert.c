/*-------------------------------------------------------------------------
 *
 * hnswinsert.c
 *	  Inserting one vector into an embed_hnsw index on disk.
 *
 * The order of the steps is what makes an insert safe against crashes and
 * concurrent searches without holding more than one page lock at a time:
 *
 *	1. store the element and an empty neighbour tuple on a page, in the
 *	   place of an element that VACUUM made reusable if there is one of the
 *	   same level (see ReuseElement); nothing points at them yet, so no
 *	   search can meet a half-made element;
 *	2. search the graph for its neighbours, level by level;
 *	3. write its own neighbour lists, still unreachable;
 *	4. link it from each chosen neighbour (one WAL record each), which
 *	   makes it reachable;
 *	5. if its level is the highest, make it the entry point.
 *
 * A crash between steps leaves an element that is unreachable or reachable
 * from fewer neighbours than it should be, never a dangling link.
 *
 * src/hnsw/hnswinsert.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "embedding.h"
#include "hnsw.h"
#include "storage/indexfsm.h"
#include "utils/memutils.h"

/* Pages of the free space map an insert looks at before extending. */
#define HNSW_REUSE_TRIES	2

/*
 * Overwrite an element that VACUUM made reusable (HNSW_ELEMENT_REUSABLE)
 * with the new one: its pages come from the free space map, and an
 * element qualifies when its neighbour tuple is on the same page and of
 * the new element's level, so both tuples keep their sizes and the page
 * changes in one WAL record.  No neighbour list names a reusable element
 * (hnswvacuum.c), so, as with a new place, the element is unreachable
 * until step 4 links it.  A page that still holds reusable elements
 * after this goes back into the map.
 */
static bool
ReuseElement(Relation index, HnswElementTuple etup, Size esize, int m,
			 int level, ItemPointer etid, ItemPointer ntid)
{
	for (int tries = 0; tries < HNSW_REUSE_TRIES; tries++)
	{
		BlockNumber blkno = GetFreeIndexPage(index);
		Buffer		buf;
		Page		page;
		OffsetNumber maxoff;
		OffsetNumber found = InvalidOffsetNumber;
		bool		more = false;

		if (blkno == InvalidBlockNumber)
			return false;
		if (blkno == HNSW_METAPAGE_BLKNO ||
			blkno >= RelationGetNumberOfBlocks(index))
			continue;
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		maxoff = HnswElementPageMaxOffset(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			ItemId		iid = PageGetItemId(page, off);
			HnswElementTuple e;
			ItemId		niid;
			HnswNeighborTuple n;

			if (!ItemIdIsNormal(iid))
				continue;
			e = (HnswElementTuple) PageGetItem(page, iid);
			if (e->type != HNSW_TUPLE_ELEMENT ||
				!(e->flags & HNSW_ELEMENT_REUSABLE) ||
				ItemIdGetLength(iid) != esize ||
				ItemPointerGetBlockNumber(&e->ntid) != blkno ||
				ItemPointerGetOffsetNumber(&e->ntid) > maxoff)
				continue;
			niid = PageGetItemId(page, ItemPointerGetOffsetNumber(&e->ntid));
			n = NULL;
			if (ItemIdIsNormal(niid))
				n = (HnswNeighborTuple) PageGetItem(page, niid);
			if (found == InvalidOffsetNumber && n != NULL &&
				n->type == HNSW_TUPLE_NEIGHBORS && n->level == level)
				found = off;
			else
				more = true;
		}
		if (found != InvalidOffsetNumber)
		{
			GenericXLogState *state = GenericXLogStart(index);
			HnswElementTuple e;
			HnswNeighborTuple n;
			ItemPointerData keep;
			OffsetNumber noff;

			page = GenericXLogRegisterBuffer(state, buf, 0);
			e = (HnswElementTuple) PageGetItem(page, PageGetItemId(page, found));
			keep = e->ntid;
			memcpy(e, etup, esize);
			e->ntid = keep;
			noff = ItemPointerGetOffsetNumber(&keep);
			n = (HnswNeighborTuple) PageGetItem(page,
												PageGetItemId(page, noff));
			for (int i = 0; i < HnswNeighborSlots(m, level); i++)
				ItemPointerSetInvalid(&n->slots[i]);
			GenericXLogFinish(state);
			ItemPointerSet(etid, blkno, found);
			*ntid = keep;
		}
		UnlockReleaseBuffer(buf);
		if (more)
			RecordFreeIndexPage(index, blkno);
		if (found != InvalidOffsetNumber)
			return true;
	}
	return false;
}

/*
 * Insert a prepared vector (see HnswPrepareVector) pointing at heaptid.
 * The caller has checked the dimension against the metapage.
 */
void
HnswInsertVector(Relation index, HnswMetric metric, int m, int efc,
				 const float *vec, int dim, ItemPointer heaptid)
{
	int			level = HnswRandomLevel(m, HnswMaxLevel(m, dim));
	Size		esize = HnswElementTupleSize(dim);
	Size		nsize = HnswNeighborTupleSize(m, level);
	HnswElementTuple etup = palloc0(esize);
	HnswNeighborTuple ntup = palloc0(nsize);
	ItemPointerData etid;
	ItemPointerData ntid;
	HnswMetaPageData meta;
	HnswSearch *s;
	HnswCand	self;
	int			ef = Max(efc, m);
	int		   *entries;
	int			nentries;
	int		   *found;
	ItemPointerData *lists[HNSW_MAX_LEVEL + 1];
	int		   *chosenIdx[HNSW_MAX_LEVEL + 1];
	int			nchosen[HNSW_MAX_LEVEL + 1];
	int			top;

	/* 1. the element, unreachable */
	etup->type = HNSW_TUPLE_ELEMENT;
	etup->level = level;
	etup->heaptid = *heaptid;
	memcpy(etup->vec, vec, sizeof(float) * dim);
	ntup->type = HNSW_TUPLE_NEIGHBORS;
	ntup->level = level;
	for (int i = 0; i < HnswNeighborSlots(m, level); i++)
		ItemPointerSetInvalid(&ntup->slots[i]);
	if (!ReuseElement(index, etup, esize, m, level, &etid, &ntid))
		HnswPlaceTuples(index, etup, esize, ntup, nsize, &etid, &ntid);

	HnswReadMeta(index, &meta);
	if (meta.entryLevel < 0)
	{
		if (HnswUpdateEntry(index, &etid, level, HNSW_ENTRY_IF_EMPTY))
			return;
		/* someone else inserted the first element meanwhile */
		HnswReadMeta(index, &meta);
	}

	/* 2. the neighbours, level by level */
	s = HnswSearchCreate(index, metric, dim, m, vec, true);
	top = Min(level, meta.entryLevel);
	entries = palloc(sizeof(int) * ef);
	found = palloc(sizeof(int) * ef);
	nentries = HnswSearchDescend(s, &meta, top, entries);
	for (int lc = top; lc >= 0; lc--)
	{
		int			nfound = HnswSearchLayer(s, entries, nentries, ef, lc, found);
		float	  **vecs = palloc(sizeof(float *) * nfound);
		float	   *dists = palloc(sizeof(float) * nfound);
		int		   *cidx = palloc(sizeof(int) * nfound);
		int			n = 0;
		int			keep = HnswListCapacity(m, lc);
		int		   *chosen = palloc(sizeof(int) * keep);

		for (int i = 0; i < nfound; i++)
		{
			HnswCand   *c = &s->cands[found[i]];

			if (c->deleted || ItemPointerEquals(&c->tid, &etid) ||
				c->level < lc)
				continue;
			vecs[n] = c->vec;
			dists[n] = c->dist;
			cidx[n] = found[i];
			n++;
		}
		nchosen[lc] = HnswSelectNeighbors(metric, dim, vec, vecs, dists, n,
										  keep, chosen, NULL);
		lists[lc] = palloc(sizeof(ItemPointerData) * Max(nchosen[lc], 1));
		chosenIdx[lc] = palloc(sizeof(int) * Max(nchosen[lc], 1));
		for (int i = 0; i < nchosen[lc]; i++)
		{
			chosenIdx[lc][i] = cidx[chosen[i]];
			lists[lc][i] = s->cands[cidx[chosen[i]]].tid;
		}
		memcpy(entries, found, sizeof(int) * nfound);
		nentries = nfound;
	}

	/* 3. its own lists */
	memset(&self, 0, sizeof(self));
	self.tid = etid;
	self.ntid = ntid;
	self.level = level;
	for (int lc = top; lc >= 0; lc--)
	{
		if (nchosen[lc] > 0 &&
			!HnswReplaceList(s, &self, lc, NULL, 0, lists[lc], nchosen[lc]))
			elog(ERROR, "neighbour list of a new element changed under us");
	}

	/* 4. links from the neighbours */
	for (int lc = top; lc >= 0; lc--)
	{
		for (int i = 0; i < nchosen[lc]; i++)
			HnswLinkNeighbor(s, chosenIdx[lc][i], lc, &etid, vec);
	}

	/* 5. the entry point */
	if (level > meta.entryLevel)
		HnswUpdateEntry(index, &etid, level, HNSW_ENTRY_IF_HIGHER);
}

/*
 * aminsert: index one heap tuple.  NULL vectors are not indexed, nor zero
 * vectors under cosine (they have no direction; see HnswPrepareVector).
 */
bool
hnswinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
		   Relation heap, IndexUniqueCheck checkUnique,
#if PG_VERSION_NUM >= 140000
		   bool indexUnchanged,
#endif
		   struct IndexInfo *indexInfo)
{
	MemoryContext ctx;
	MemoryContext old;
	Embedding	e;
	HnswMetric	metric;
	HnswMetaPageData meta;
	int			m;
	int			efc;
	float	   *vec;

	if (isnull[0])
		return false;

	ctx = AllocSetContextCreate(CurrentMemoryContext, "embed_hnsw insert",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(ctx);

	e = DatumGetEmbedding(values[0]);
	if (e->dim > HNSW_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("embedding of %d dimensions is too long for an embed_hnsw index",
						e->dim),
				 errdetail("The index stores at most %d dimensions.",
						   HNSW_MAX_DIM)));
	metric = HnswGetMetric(index);
	vec = palloc(sizeof(float) * e->dim);
	if (HnswPrepareVector(metric, e->x, e->dim, vec))
	{
		HnswCheckDim(index, e->dim);
		HnswReadMeta(index, &meta);
		HnswGetOptions(index, NULL, &efc);
		m = meta.m;
		HnswInsertVector(index, metric, m, efc, vec, e->dim, heap_tid);
	}

	MemoryContextSwitchTo(old);
	MemoryContextDelete(ctx);
	return false;
}
