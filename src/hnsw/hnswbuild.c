/*-------------------------------------------------------------------------
 *
 * hnswbuild.c
 *	  CREATE INDEX for embed_hnsw: build the graph in memory, then write it
 *	  out page by page.
 *
 * Inserting into the graph on disk costs a buffer lookup and lock for
 * every element a search touches; in memory it costs a pointer chase.  So
 * the build scans the heap, inserts each vector into a graph held in
 * backend memory (plain arrays: a vector and the neighbour lists of each
 * element, links as array positions), and when the scan is done lays the
 * graph out on pages in element order, each element's tuple followed by
 * its neighbour tuple, and writes every page once with a full-page generic
 * WAL record.
 *
 * The graph must fit in maintenance_work_mem.  When the next element would
 * not fit, the graph built so far is written out as above, and every
 * remaining tuple is inserted on disk as aminsert would: slower, but the
 * build finishes and the result is the same kind of index.
 *
 * The in-memory insertion is the same algorithm as the on-disk one in
 * hnswinsert.c (greedy descent, search of ef_construction candidates per
 * level, heuristic selection of up to 2m neighbours on level 0 and m
 * above, links back with pruning);
 * only the storage differs.
 *
 * src/hnsw/hnswbuild.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>

#include "access/tableam.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "distance.h"
#include "embedding.h"
#include "hnsw.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"

/* Size of the blocks the element storage is carved from. */
#define HNSW_ARENA_BLOCK	(1024 * 1024)

/*
 * One element of the in-memory graph.  lists points at the neighbour
 * lists: for each level from 0 up, a count, then the capacity (2m for
 * level 0, m above) of element positions, then as many distances (float
 * bits) from this element to each.  Keeping the distances saves computing
 * them again each time a full list must choose what to keep.
 */
typedef struct HnswBuildElement
{
	float	   *vec;
	int32	   *lists;
	ItemPointerData heaptid;
	ItemPointerData tid;		/* where it goes on disk, once placed */
	ItemPointerData ntid;
	uint8		level;
} HnswBuildElement;

typedef struct HnswBuildState
{
	Relation	heap;
	Relation	index;
	HnswMetric	metric;
	int			dim;			/* 0 until the first vector */
	int			m;
	int			efc;
	int			maxLevel;
	double		indtuples;

	/* the graph */
	HnswBuildElement *elems;
	int			nelems;
	int			maxelems;
	int			entry;			/* position of the entry point, or -1 */
	int			entryLevel;
	uint32	   *visited;
	uint32		tag;
	HnswHeap	cand;
	HnswHeap	best;
	HnswHeapItem *found;

	/* memory */
	MemoryContext buildCtx;
	MemoryContext graphCtx;
	MemoryContext tmpCtx;
	char	   *arena;
	Size		arenaLeft;
	Size		memUsed;
	Size		memLimit;
	bool		onDisk;			/* graph written; inserting on disk now */

	float	   *scratch;		/* one prepared vector */
} HnswBuildState;

/* ---- the in-memory graph ---- */

static inline int32 *
BuildList(HnswBuildState *bs, HnswBuildElement *e, int lc)
{
	/* level 0 list is count + 2 x 2m slots; each higher one count + 2m */
	if (lc == 0)
		return e->lists;
	return e->lists + (1 + 4 * bs->m) + (lc - 1) * (1 + 2 * bs->m);
}

/* The distances of a list, after its positions. */
static inline float *
BuildListDists(int32 *list, int cap)
{
	return (float *) (list + 1 + cap);
}

static void *
BuildAlloc(HnswBuildState *bs, Size size)
{
	void	   *p;

	size = MAXALIGN(size);
	if (bs->arenaLeft < size)
	{
		Size		block = Max(HNSW_ARENA_BLOCK, size);

		bs->arena = MemoryContextAllocHuge(bs->graphCtx, block);
		bs->arenaLeft = block;
		bs->memUsed += block;
	}
	p = bs->arena;
	bs->arena += size;
	bs->arenaLeft -= size;
	return p;
}

static inline float
BuildDist(HnswBuildState *bs, const float *q, int i)
{
	return HnswDistance(bs->metric, q, bs->elems[i].vec, bs->dim);
}

/*
 * Search one level of the in-memory graph; see HnswSearchLayer for the
 * algorithm.  Fills bs->found with the best (at most ef), closest first.
 */
static int
BuildSearchLayer(HnswBuildState *bs, const float *q, HnswHeapItem *entries,
				 int nentries, int ef, int lc)
{
	HnswHeap   *cand = &bs->cand;
	HnswHeap   *best = &bs->best;
	int			n;

	if (++bs->tag == 0)
	{
		memset(bs->visited, 0, sizeof(uint32) * bs->maxelems);
		bs->tag = 1;
	}
	cand->n = 0;
	best->n = 0;
	for (int i = 0; i < nentries; i++)
	{
		if (bs->visited[entries[i].idx] == bs->tag)
			continue;
		bs->visited[entries[i].idx] = bs->tag;
		HnswHeapPush(cand, entries[i].dist, entries[i].idx);
		HnswHeapPush(best, entries[i].dist, entries[i].idx);
		if (best->n > ef)
			HnswHeapPop(best);
	}

	while (cand->n > 0)
	{
		HnswHeapItem c = HnswHeapPop(cand);
		int32	   *list;
		int			cnt;

		if (best->n >= ef && c.dist > HnswHeapTop(best).dist)
			break;
		list = BuildList(bs, &bs->elems[c.idx], lc);
		cnt = list[0];
		for (int i = 1; i <= cnt; i++)
		{
			int			j = list[i];
			float		d;

			if (i < cnt)
				__builtin_prefetch(bs->elems[list[i + 1]].vec);
			if (bs->visited[j] == bs->tag)
				continue;
			bs->visited[j] = bs->tag;
			d = BuildDist(bs, q, j);
			if (best->n < ef || d < HnswHeapTop(best).dist)
			{
				HnswHeapPush(cand, d, j);
				HnswHeapPush(best, d, j);
				if (best->n > ef)
					HnswHeapPop(best);
			}
		}
	}

	n = best->n;
	for (int i = n - 1; i >= 0; i--)
		bs->found[i] = HnswHeapPop(best);
	return n;
}

/*
 * Run the heuristic over candidates given as (distance to base, position)
 * and write the chosen into list (positions, then distances, as in
 * BuildListDists), setting its count.
 */
static void
BuildSelect(HnswBuildState *bs, const float *base, HnswHeapItem *c, int n,
			int cap, int32 *list)
{
	float	  **vecs = palloc(sizeof(float *) * n);
	float	   *dists = palloc(sizeof(float) * n);
	int		   *chosen = palloc(sizeof(int) * n);
	float	   *ldists = BuildListDists(list, cap);
	int			nchosen;

	for (int i = 0; i < n; i++)
	{
		vecs[i] = bs->elems[c[i].idx].vec;
		dists[i] = c[i].dist;
	}
	nchosen = HnswSelectNeighbors(bs->metric, bs->dim, base, vecs, dists, n,
								  cap, chosen);
	for (int i = 0; i < nchosen; i++)
	{
		list[1 + i] = c[chosen[i]].idx;
		ldists[i] = c[chosen[i]].dist;
	}
	list[0] = nchosen;
	pfree(vecs);
	pfree(dists);
	pfree(chosen);
}

/*
 * Add a link from element s to element t at distance dist at level lc.
 * When s's list is full, a candidate farther than everything in it would
 * be the first to go, so it is turned away at once; otherwise the
 * heuristic chooses among the old neighbours and t.
 */
static void
BuildLink(HnswBuildState *bs, int s, int t, float dist, int lc)
{
	HnswBuildElement *e = &bs->elems[s];
	int32	   *list = BuildList(bs, e, lc);
	int			cap = HnswListCapacity(bs->m, lc);
	float	   *ldists = BuildListDists(list, cap);
	HnswHeapItem c[2 * HNSW_MAX_M + 1];
	float		worst = -FLT_MAX;
	int			n;

	if (list[0] < cap)
	{
		list[1 + list[0]] = t;
		ldists[list[0]] = dist;
		list[0]++;
		return;
	}
	for (n = 0; n < cap; n++)
	{
		c[n].idx = list[1 + n];
		c[n].dist = ldists[n];
		worst = Max(worst, ldists[n]);
	}
	if (dist >= worst)
		return;
	c[n].idx = t;
	c[n].dist = dist;
	n++;
	BuildSelect(bs, e->vec, c, n, cap, list);
}

/*
 * Insert element i (already stored, lists empty) into the graph.
 */
static void
BuildInsert(HnswBuildState *bs, int i)
{
	HnswBuildElement *e = &bs->elems[i];
	const float *q = e->vec;
	HnswHeapItem ep;
	HnswHeapItem *entries;
	int			nentries;
	int			top;
	int			ef = Max(bs->efc, bs->m);

	if (bs->entry < 0)
	{
		bs->entry = i;
		bs->entryLevel = e->level;
		return;
	}

	ep.idx = bs->entry;
	ep.dist = BuildDist(bs, q, ep.idx);
	for (int lc = bs->entryLevel; lc > e->level; lc--)
	{
		if (BuildSearchLayer(bs, q, &ep, 1, 1, lc) > 0)
			ep = bs->found[0];
	}

	top = Min(e->level, bs->entryLevel);
	entries = palloc(sizeof(HnswHeapItem) * ef);
	entries[0] = ep;
	nentries = 1;
	for (int lc = top; lc >= 0; lc--)
	{
		int			nfound = BuildSearchLayer(bs, q, entries, nentries, ef, lc);
		int32	   *list = BuildList(bs, e, lc);
		int			cap = HnswListCapacity(bs->m, lc);

		BuildSelect(bs, q, bs->found, nfound, cap, list);
		for (int k = 1; k <= list[0]; k++)
			BuildLink(bs, list[k], i, BuildListDists(list, cap)[k - 1], lc);
		memcpy(entries, bs->found, sizeof(HnswHeapItem) * nfound);
		nentries = nfound;
	}
	pfree(entries);

	if (e->level > bs->entryLevel)
	{
		bs->entry = i;
		bs->entryLevel = e->level;
	}
}

/* ---- writing the graph out ---- */

static void
BuildWritePage(HnswBuildState *bs, Page page, BlockNumber expect)
{
	Buffer		buf;
	GenericXLogState *state;
	Page		dst;

	LockRelationForExtension(bs->index, ExclusiveLock);
	buf = ReadBuffer(bs->index, P_NEW);
	UnlockRelationForExtension(bs->index, ExclusiveLock);
	if (BufferGetBlockNumber(buf) != expect)
		elog(ERROR, "unexpected block %u while building index \"%s\", expected %u",
			 BufferGetBlockNumber(buf), RelationGetRelationName(bs->index),
			 expect);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(bs->index);
	dst = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
	memcpy(dst, page, BLCKSZ);
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

/*
 * The order in which elements go onto pages: breadth first over level 0
 * from the entry point, then whatever that did not reach.  A breadth-first
 * order puts the neighbours of an element next to each other, often on one
 * page, and a search expanding that element then reads them with one
 * buffer access (see HnswSearchLoadMany) instead of one each.
 */
static int *
BuildLayoutOrder(HnswBuildState *bs)
{
	int		   *order = palloc_extended(sizeof(int) * Max(bs->nelems, 1),
										MCXT_ALLOC_HUGE);
	int			head = 0;
	int			tail = 0;

	if (bs->nelems == 0)
		return order;
	if (++bs->tag == 0)
	{
		memset(bs->visited, 0, sizeof(uint32) * bs->maxelems);
		bs->tag = 1;
	}
	order[tail++] = bs->entry;
	bs->visited[bs->entry] = bs->tag;
	for (int start = 0;; start++)
	{
		while (head < tail)
		{
			int32	   *list = BuildList(bs, &bs->elems[order[head++]], 0);

			for (int k = 1; k <= list[0]; k++)
			{
				if (bs->visited[list[k]] == bs->tag)
					continue;
				bs->visited[list[k]] = bs->tag;
				order[tail++] = list[k];
			}
		}
		/* the unreached, if any, seed further passes */
		while (start < bs->nelems && bs->visited[start] == bs->tag)
			start++;
		if (start >= bs->nelems)
			break;
		bs->visited[start] = bs->tag;
		order[tail++] = start;
	}
	Assert(tail == bs->nelems);
	return order;
}

/*
 * Lay out and write the whole in-memory graph, then point the metapage at
 * its entry.  Pass 1 gives every element its place (so links can be
 * written as item pointers), pass 2 fills and writes the pages in order.
 */
static void
BuildFlush(HnswBuildState *bs)
{
	BlockNumber blkno = RelationGetNumberOfBlocks(bs->index);
	BlockNumber first = blkno;
	Size		freespace = 0;
	OffsetNumber nextoff = FirstOffsetNumber;
	bool		open = false;
	Size		esize = HnswElementTupleSize(bs->dim);
	Page		page;
	BlockNumber pageblk = InvalidBlockNumber;
	char	   *ebuf;
	char	   *nbuf;
	Buffer		mbuf;
	GenericXLogState *state;
	HnswMetaPage meta;
	int		   *order;

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_WRITE);

	order = BuildLayoutOrder(bs);

	/* pass 1: places */
	blkno = first - 1;
	for (int i = 0; i < bs->nelems; i++)
	{
		HnswBuildElement *e = &bs->elems[order[i]];
		Size		nsize = HnswNeighborTupleSize(bs->m, e->level);
		Size		need = esize + nsize + 2 * sizeof(ItemIdData);

		if (!open || freespace < need)
		{
			blkno++;
			open = true;
			freespace = HnswPageCapacity();
			nextoff = FirstOffsetNumber;
		}
		if (need <= freespace)
		{
			ItemPointerSet(&e->tid, blkno, nextoff);
			ItemPointerSet(&e->ntid, blkno, nextoff + 1);
			nextoff += 2;
			freespace -= need;
		}
		else
		{
			/* too long to share a page: two pages of their own */
			ItemPointerSet(&e->tid, blkno, FirstOffsetNumber);
			ItemPointerSet(&e->ntid, blkno + 1, FirstOffsetNumber);
			blkno++;
			open = false;
		}
	}

	/* pass 2: pages */
	page = palloc(BLCKSZ);
	ebuf = palloc0(esize);
	nbuf = palloc0(HnswNeighborTupleSize(bs->m, HNSW_MAX_LEVEL));
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, bs->nelems);
	for (int i = 0; i < bs->nelems; i++)
	{
		HnswBuildElement *e = &bs->elems[order[i]];
		HnswElementTuple etup = (HnswElementTuple) ebuf;
		HnswNeighborTuple ntup = (HnswNeighborTuple) nbuf;
		Size		nsize = HnswNeighborTupleSize(bs->m, e->level);
		BlockNumber eblk = ItemPointerGetBlockNumber(&e->tid);
		BlockNumber nblk = ItemPointerGetBlockNumber(&e->ntid);

		CHECK_FOR_INTERRUPTS();

		memset(etup, 0, esize);
		etup->type = HNSW_TUPLE_ELEMENT;
		etup->level = e->level;
		etup->heaptid = e->heaptid;
		etup->ntid = e->ntid;
		memcpy(etup->vec, e->vec, sizeof(float) * bs->dim);

		memset(ntup, 0, nsize);
		ntup->type = HNSW_TUPLE_NEIGHBORS;
		ntup->level = e->level;
		for (int lc = 0; lc <= e->level; lc++)
		{
			int32	   *list = BuildList(bs, e, lc);
			int			off = HnswListOffset(bs->m, lc);

			for (int k = 0; k < HnswListCapacity(bs->m, lc); k++)
			{
				if (k < list[0])
					ntup->slots[off + k] = bs->elems[list[1 + k]].tid;
				else
					ItemPointerSetInvalid(&ntup->slots[off + k]);
			}
		}

		if (eblk != pageblk)
		{
			if (BlockNumberIsValid(pageblk))
				BuildWritePage(bs, page, pageblk);
			HnswInitPage(page, HNSW_PAGE_ELEMENT);
			pageblk = eblk;
		}
		if (PageAddItem(page, (Item) etup, esize,
						ItemPointerGetOffsetNumber(&e->tid), false, false) ==
			InvalidOffsetNumber)
			elog(ERROR, "failed to add element to index \"%s\"",
				 RelationGetRelationName(bs->index));
		if (nblk != eblk)
		{
			BuildWritePage(bs, page, pageblk);
			HnswInitPage(page, HNSW_PAGE_ELEMENT);
			pageblk = nblk;
		}
		if (PageAddItem(page, (Item) ntup, nsize,
						ItemPointerGetOffsetNumber(&e->ntid), false, false) ==
			InvalidOffsetNumber)
			elog(ERROR, "failed to add neighbours to index \"%s\"",
				 RelationGetRelationName(bs->index));
		if ((i & 1023) == 0)
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, i);
	}
	if (BlockNumberIsValid(pageblk))
		BuildWritePage(bs, page, pageblk);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, bs->nelems);

	/* the metapage */
	mbuf = ReadBuffer(bs->index, HNSW_METAPAGE_BLKNO);
	LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(bs->index);
	meta = HnswPageGetMeta(GenericXLogRegisterBuffer(state, mbuf, 0));
	meta->dim = bs->dim;
	if (bs->entry >= 0)
	{
		meta->entry = bs->elems[bs->entry].tid;
		meta->entryLevel = bs->entryLevel;
		meta->insertPage = pageblk;
	}
	GenericXLogFinish(state);
	UnlockReleaseBuffer(mbuf);

	pfree(page);
	pfree(ebuf);
	pfree(nbuf);
	pfree(order);
}

/*
 * Write the graph out and free it; from now on tuples go to disk.
 */
static void
BuildSpill(HnswBuildState *bs)
{
	ereport(NOTICE,
			(errmsg("embed_hnsw graph no longer fits into maintenance_work_mem"),
			 errdetail("The graph was written out after %d tuples; the remaining tuples are inserted one by one, which is much slower.",
					   bs->nelems),
			 errhint("Increase maintenance_work_mem to build the index faster.")));
	BuildFlush(bs);
	MemoryContextReset(bs->graphCtx);
	bs->elems = NULL;
	bs->visited = NULL;
	bs->arenaLeft = 0;
	bs->onDisk = true;
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_LOAD);
}

/*
 * Room for one more element: grow the arrays (doubling), or spill to disk
 * when the memory limit would be passed.  Returns false after a spill.
 */
static bool
BuildReserve(HnswBuildState *bs, Size elemSize)
{
	if (bs->nelems == bs->maxelems)
	{
		int			newmax = Max(1024, bs->maxelems * 2);
		Size		extra = (Size) (newmax - bs->maxelems) *
			(sizeof(HnswBuildElement) + sizeof(uint32));
		MemoryContext old;

		if (bs->memUsed + extra + elemSize > bs->memLimit && bs->nelems > 0)
		{
			BuildSpill(bs);
			return false;
		}
		old = MemoryContextSwitchTo(bs->graphCtx);
		if (bs->elems == NULL)
		{
			bs->elems = palloc_extended(sizeof(HnswBuildElement) * newmax,
										MCXT_ALLOC_HUGE);
			bs->visited = palloc_extended(sizeof(uint32) * newmax,
										  MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
		}
		else
		{
			bs->elems = repalloc_huge(bs->elems,
									  sizeof(HnswBuildElement) * newmax);
			bs->visited = repalloc_huge(bs->visited, sizeof(uint32) * newmax);
			memset(bs->visited + bs->maxelems, 0,
				   sizeof(uint32) * (newmax - bs->maxelems));
		}
		MemoryContextSwitchTo(old);
		bs->memUsed += extra;
		bs->maxelems = newmax;
	}
	if (bs->memUsed + elemSize > bs->memLimit && bs->arenaLeft < elemSize &&
		bs->nelems > 0)
	{
		BuildSpill(bs);
		return false;
	}
	return true;
}

/*
 * Add one prepared vector to the build.
 */
static void
BuildAddVector(HnswBuildState *bs, const float *vec, ItemPointer heaptid)
{
	int			level;
	Size		lsize;
	HnswBuildElement *e;
	char	   *p;

	if (bs->onDisk)
	{
		HnswInsertVector(bs->index, bs->metric, bs->m, bs->efc, vec, bs->dim,
						 heaptid);
		return;
	}

	level = HnswRandomLevel(bs->m, bs->maxLevel);
	lsize = sizeof(int32) * ((1 + 4 * bs->m) + level * (1 + 2 * bs->m));
	if (!BuildReserve(bs, MAXALIGN(sizeof(float) * bs->dim) + MAXALIGN(lsize)))
	{
		HnswInsertVector(bs->index, bs->metric, bs->m, bs->efc, vec, bs->dim,
						 heaptid);
		return;
	}

	e = &bs->elems[bs->nelems];
	p = BuildAlloc(bs, MAXALIGN(sizeof(float) * bs->dim) + MAXALIGN(lsize));
	e->vec = (float *) p;
	memcpy(e->vec, vec, sizeof(float) * bs->dim);
	e->lists = (int32 *) (p + MAXALIGN(sizeof(float) * bs->dim));
	e->lists[0] = 0;
	for (int lc = 1; lc <= level; lc++)
		BuildList(bs, e, lc)[0] = 0;
	e->level = level;
	e->heaptid = *heaptid;
	ItemPointerSetInvalid(&e->tid);
	bs->nelems++;
	BuildInsert(bs, bs->nelems - 1);
}

/*
 * The heap scan's callback: one heap tuple (NULLs are skipped).
 */
static void
BuildCallback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
			  bool tupleIsAlive, void *state)
{
	HnswBuildState *bs = (HnswBuildState *) state;
	MemoryContext old;
	Embedding	e;

	if (isnull[0])
		return;

	old = MemoryContextSwitchTo(bs->tmpCtx);
	e = DatumGetEmbedding(values[0]);
	if (bs->dim == 0)
	{
		if (e->dim > HNSW_MAX_DIM)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("embedding of %d dimensions is too long for an embed_hnsw index",
							e->dim),
					 errdetail("The index stores at most %d dimensions.",
							   HNSW_MAX_DIM)));
		bs->dim = e->dim;
		bs->maxLevel = HnswMaxLevel(bs->m, bs->dim);
		bs->scratch = MemoryContextAlloc(bs->buildCtx,
										 sizeof(float) * bs->dim);
		if (bs->onDisk)
			HnswCheckDim(bs->index, bs->dim);
	}
	if (e->dim != bs->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", bs->dim, e->dim)));

	if (HnswPrepareVector(bs->metric, e->x, e->dim, bs->scratch))
	{
		BuildAddVector(bs, bs->scratch, tid);
		bs->indtuples++;
		if (((int64) bs->indtuples & 255) == 0)
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE,
										 (int64) bs->indtuples);
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmpCtx);
}

/*
 * Create the metapage of an empty index (block 0).
 */
static void
BuildMetaPage(Relation index, ForkNumber fork, int dim, int m, int efc,
			  HnswMetric metric)
{
	Buffer		buf;

	buf = ReadBufferExtended(index, fork, P_NEW, RBM_NORMAL, NULL);
	if (BufferGetBlockNumber(buf) != HNSW_METAPAGE_BLKNO)
		elog(ERROR, "index \"%s\" is not empty", RelationGetRelationName(index));
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	if (fork == INIT_FORKNUM)
	{
		/* unlogged index: the init fork must be WAL-logged all the same */
		START_CRIT_SECTION();
		HnswInitMetaPage(BufferGetPage(buf), dim, m, efc, metric);
		MarkBufferDirty(buf);
		log_newpage_buffer(buf, true);
		END_CRIT_SECTION();
	}
	else
	{
		GenericXLogState *state = GenericXLogStart(index);
		Page		page = GenericXLogRegisterBuffer(state, buf,
													 GENERIC_XLOG_FULL_IMAGE);

		HnswInitMetaPage(page, dim, m, efc, metric);
		GenericXLogFinish(state);
	}
	UnlockReleaseBuffer(buf);
}

/* The dimension fixed by the column's type modifier, or 0. */
static int
BuildTypmodDim(Relation index)
{
	int32		typmod = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;

	if (typmod > 0 && typmod <= HNSW_MAX_DIM)
		return typmod;
	if (typmod > HNSW_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("column of %d dimensions is too long for an embed_hnsw index",
						typmod),
				 errdetail("The index stores at most %d dimensions.",
						   HNSW_MAX_DIM)));
	return 0;
}

/*
 * ambuild
 */
IndexBuildResult *
hnswbuild(Relation heap, Relation index, struct IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	HnswBuildState bs;
	double		reltuples;
	MemoryContext buildCtx;
	MemoryContext old;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data",
			 RelationGetRelationName(index));

	buildCtx = AllocSetContextCreate(CurrentMemoryContext,
									 "embed_hnsw build",
									 ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(buildCtx);

	memset(&bs, 0, sizeof(bs));
	bs.heap = heap;
	bs.index = index;
	bs.metric = HnswGetMetric(index);
	HnswGetOptions(index, &bs.m, &bs.efc);
	bs.dim = BuildTypmodDim(index);
	bs.maxLevel = bs.dim > 0 ? HnswMaxLevel(bs.m, bs.dim) : 0;
	bs.entry = -1;
	bs.entryLevel = -1;
	bs.memLimit = (Size) maintenance_work_mem * 1024;
	bs.buildCtx = buildCtx;
	bs.graphCtx = AllocSetContextCreate(buildCtx, "embed_hnsw graph",
										ALLOCSET_DEFAULT_SIZES);
	bs.tmpCtx = AllocSetContextCreate(buildCtx, "embed_hnsw build tuple",
									  ALLOCSET_DEFAULT_SIZES);
	HnswHeapInit(&bs.cand, false, 1024);
	HnswHeapInit(&bs.best, true, Max(bs.efc, bs.m) + 1);
	bs.found = palloc(sizeof(HnswHeapItem) * (Max(bs.efc, bs.m) + 1));
	if (bs.dim > 0)
		bs.scratch = palloc(sizeof(float) * bs.dim);

	BuildMetaPage(index, MAIN_FORKNUM, bs.dim, bs.m, bs.efc, bs.metric);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_LOAD);
	if (heap->rd_rel->reltuples > 0)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL,
									 (int64) heap->rd_rel->reltuples);
	reltuples = table_index_build_scan(heap, index, indexInfo, true, true,
									   BuildCallback, &bs, NULL);

	if (!bs.onDisk)
		BuildFlush(&bs);

	result = palloc(sizeof(IndexBuildResult));
	result->heap_tuples = reltuples;
	result->index_tuples = bs.indtuples;

	MemoryContextSwitchTo(old);
	result = memcpy(MemoryContextAlloc(old, sizeof(IndexBuildResult)),
					result, sizeof(IndexBuildResult));
	MemoryContextDelete(buildCtx);
	return result;
}

/*
 * ambuildempty: the init fork of an unlogged index, a lone metapage.
 */
void
hnswbuildempty(Relation index)
{
	int			m;
	int			efc;

	HnswGetOptions(index, &m, &efc);
	BuildMetaPage(index, INIT_FORKNUM, BuildTypmodDim(index), m, efc,
				  HnswGetMetric(index));
}

/*
 * ambuildphasename
 */
char *
hnswbuildphasename(int64 phasenum)
{
	switch (phasenum)
	{
		case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
			return "initializing";
		case HNSW_PHASE_LOAD:
			return "building graph";
		case HNSW_PHASE_WRITE:
			return "writing index pages";
		default:
			return NULL;
	}
}
