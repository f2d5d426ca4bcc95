/*-------------------------------------------------------------------------
 *
 * hnswbuild.c
 *	  CREATE INDEX for embed_hnsw: build the graph in memory, then write it
 *	  out page by page.
 *
 * Inserting into the graph on disk costs a buffer lookup and lock for
 * every element a search touches; in memory it costs a pointer chase.  So
 * the build scans the heap, inserts each vector into a graph held in
 * memory (an arena of vectors and neighbour lists, links as element
 * positions), and when the scan is done lays the graph out on pages in
 * breadth-first order, each element's tuple followed by its neighbour
 * tuple, and writes every page once with a full-page generic WAL record.
 *
 * The graph must fit in maintenance_work_mem.  When the next element would
 * not fit, the graph built so far is written out as above, and every
 * remaining tuple is inserted on disk as aminsert would: slower, but the
 * build finishes and the result is the same kind of index.
 *
 * With parallel workers the graph lives in dynamic shared memory and every
 * participant inserts into it while scanning its share of the heap; each
 * element's lists are guarded by an LWLock of its own (see BuildParallel).
 *
 * The in-memory insertion follows the on-disk one in hnswinsert.c (a
 * descent through the levels above the element's keeping HNSW_DESCENT_EF
 * elements of each, search of ef_construction candidates per level,
 * heuristic selection of up to 2m neighbours on level 0 and m above,
 * links back), except that links back update the neighbour's list
 * incrementally instead of rerunning the heuristic (see BuildLink).  On
 * 100 000 x 128 clustered vectors the beam in the descent, against a
 * greedy one, raised recall@10 at ef_search 160 from 0.9954-0.9960 to
 * 0.9994-0.9998 (two serial builds each, 7.0-7.3 s either way; Gaussian
 * data: no difference beyond noise).
 *
 * src/hnsw/hnswbuild.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "distance.h"
#include "embed.h"
#include "embedding.h"
#include "hnsw.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "optimizer/optimizer.h"
#include "pgstat.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/snapmgr.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"

/* DSM keys of a parallel build. */
#define HNSW_KEY_SHARED		UINT64CONST(0xE4B0000000000001)
#define HNSW_KEY_ELEMS		UINT64CONST(0xE4B0000000000002)
#define HNSW_KEY_LOCKS		UINT64CONST(0xE4B0000000000003)
#define HNSW_KEY_ARENA		UINT64CONST(0xE4B0000000000004)

/* The level of a position whose element was never stored (graph full). */
#define HNSW_HOLE			0xFF

/*
 * One element of the in-memory graph.  Its vector lies at off in the
 * arena, its neighbour lists right after: for each level from 0 up, a
 * count, then the capacity (2m for level 0, m above) of element positions,
 * then as many distances (float bits) from this element to each.  Keeping
 * the distances saves computing them again each time a full list must
 * choose what to keep.  The arena is addressed by offset, not pointer, so
 * the same graph can live in dynamic shared memory, mapped at a different
 * address in each process of a parallel build.
 */
typedef struct HnswBuildElement
{
	Size		off;
	ItemPointerData heaptid;
	ItemPointerData tid;		/* where it goes on disk, once placed */
	ItemPointerData ntid;
	uint8		level;			/* HNSW_HOLE: no element */
} HnswBuildElement;

/*
 * What the processes of a parallel build share, followed in the same
 * chunk by the parallel heap scan's descriptor.  The element positions,
 * their locks and the arena are separate chunks.  Each element's lists are
 * guarded by its LWLock (one element lock at a time, so no deadlock); the
 * entry point by the spinlock.
 */
typedef struct HnswShared
{
	/* set by the leader before launch */
	Oid			heaprelid;
	Oid			indexrelid;
	bool		isconcurrent;
	int			dim;
	int			m;
	int			efc;
	int			maxLevel;
	int			maxelems;
	Size		arenaSize;
	int			lwtranche;

	slock_t		mutex;
	int			entry;			/* under mutex */
	int			entryLevel;		/* under mutex */
	double		reltuples;		/* under mutex, summed at the end */
	double		indtuples;		/* under mutex, summed at the end */
	pg_atomic_uint32 nelems;	/* positions handed out */
	pg_atomic_uint64 arenaUsed;
	pg_atomic_uint32 full;		/* something did not fit */
} HnswShared;

#define ParallelTableScanFromHnswShared(shared) \
	((ParallelTableScanDesc) ((char *) (shared) + BUFFERALIGN(sizeof(HnswShared))))

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
	int32	   *listbuf;		/* a copy of one list, parallel builds */

	/* memory */
	MemoryContext buildCtx;
	MemoryContext graphCtx;
	MemoryContext tmpCtx;
	char	   *base;			/* the arena */
	Size		arenaUsed;
	Size		arenaSize;
	Size		memUsed;		/* arena and arrays, serial builds */
	Size		memLimit;
	bool		onDisk;			/* graph written; inserting on disk now */

	/* parallel builds: all of the above that is shared lives here */
	HnswShared *shared;
	LWLock	   *locks;
	bool		isLeader;

	float	   *scratch;		/* one prepared vector */
} HnswBuildState;

/* ---- the in-memory graph ---- */

static inline float *
BuildVec(HnswBuildState *bs, HnswBuildElement *e)
{
	return (float *) (bs->base + e->off);
}

static inline int32 *
BuildList(HnswBuildState *bs, HnswBuildElement *e, int lc)
{
	int32	   *lists = (int32 *) (bs->base + e->off +
								   MAXALIGN(sizeof(float) * bs->dim));

	/* level 0 list is count + 2 x 2m slots; each higher one count + 2m */
	if (lc == 0)
		return lists;
	return lists + (1 + 4 * bs->m) + (lc - 1) * (1 + 2 * bs->m);
}

/*
 * A list's first word holds its length in the low 16 bits and, in the
 * high 16, how many of its entries (the first ones) the selection
 * heuristic chose; the rest fill it up (see BuildLink).
 */
#define BuildCount(list)	((list)[0] & 0xFFFF)
#define BuildGood(list)		((list)[0] >> 16)
#define BuildSetCount(list, n, good)	((list)[0] = (n) | ((good) << 16))

/* The distances of a list, after its positions. */
static inline float *
BuildListDists(int32 *list, int cap)
{
	return (float *) (list + 1 + cap);
}

/* Bytes of one element of a level in the arena. */
static inline Size
BuildElementSize(HnswBuildState *bs, int level)
{
	return MAXALIGN(sizeof(float) * bs->dim) +
		MAXALIGN(sizeof(int32) * ((1 + 4 * bs->m) + level * (1 + 2 * bs->m)));
}

static inline void
BuildLock(HnswBuildState *bs, int i, LWLockMode mode)
{
	if (bs->locks)
		LWLockAcquire(&bs->locks[i], mode);
}

static inline void
BuildUnlock(HnswBuildState *bs, int i)
{
	if (bs->locks)
		LWLockRelease(&bs->locks[i]);
}

static inline float
BuildDist(HnswBuildState *bs, const float *q, int i)
{
	return HnswDistance(bs->metric, q, BuildVec(bs, &bs->elems[i]), bs->dim);
}

/* How many distances ahead a neighbour's vector is asked for. */
#define BUILD_PREFETCH_AHEAD	3

/* Ask for every cache line of element i's vector. */
static inline void
BuildPrefetchVec(HnswBuildState *bs, int i)
{
	const char *v = (const char *) BuildVec(bs, &bs->elems[i]);
	int			bytes = (int) sizeof(float) * bs->dim;

	for (int off = 0; off < bytes; off += 64)
		__builtin_prefetch(v + off);
}

/*
 * A fresh visited tag: every element counts as unvisited again (the array
 * is cleared only when the counter wraps).
 */
static inline void
BuildNewTag(HnswBuildState *bs)
{
	if (++bs->tag == 0)
	{
		memset(bs->visited, 0, sizeof(uint32) * bs->maxelems);
		bs->tag = 1;
	}
}

/*
 * Search one level of the in-memory graph; see HnswSearchLayer for the
 * algorithm.  Fills bs->found with the best (at most ef), closest first.
 * In a parallel build each list is copied under its element's lock, as
 * another process may be changing it.
 */
static int
BuildSearchLayer(HnswBuildState *bs, const float *q, HnswHeapItem *entries,
				 int nentries, int ef, int lc)
{
	HnswHeap   *cand = &bs->cand;
	HnswHeap   *best = &bs->best;
	int32		pend[2 * HNSW_MAX_M];
	int			npend;
	int			n;

	BuildNewTag(bs);
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
		if (bs->locks)
		{
			LWLockAcquire(&bs->locks[c.idx], LW_SHARED);
			memcpy(bs->listbuf, list, sizeof(int32) * (1 + BuildCount(list)));
			LWLockRelease(&bs->locks[c.idx]);
			list = bs->listbuf;
		}
		/*
		 * The neighbours not met yet.  Their vectors are mostly out of
		 * cache (a graph of 100 000 x 128 is 80 MB), so the element headers
		 * are fetched for all of them first, then each vector
		 * BUILD_PREFETCH_AHEAD distances before it is needed.
		 */
		cnt = BuildCount(list);
		npend = 0;
		for (int i = 1; i <= cnt; i++)
		{
			int			j = list[i];

			if (bs->visited[j] == bs->tag)
				continue;
			bs->visited[j] = bs->tag;
			pend[npend++] = j;
		}
		for (int k = 0; k < npend; k++)
			__builtin_prefetch(&bs->elems[pend[k]]);
		for (int k = 0; k < Min(npend, BUILD_PREFETCH_AHEAD); k++)
			BuildPrefetchVec(bs, pend[k]);
		for (int k = 0; k < npend; k++)
		{
			int			j = pend[k];
			float		d;

			if (k + BUILD_PREFETCH_AHEAD < npend)
				BuildPrefetchVec(bs, pend[k + BUILD_PREFETCH_AHEAD]);
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
		vecs[i] = BuildVec(bs, &bs->elems[c[i].idx]);
		dists[i] = c[i].dist;
	}
	int			ngood;

	nchosen = HnswSelectNeighbors(bs->metric, bs->dim, base, vecs, dists, n,
								  cap, chosen, &ngood);
	for (int i = 0; i < nchosen; i++)
	{
		list[1 + i] = c[chosen[i]].idx;
		ldists[i] = c[chosen[i]].dist;
	}
	BuildSetCount(list, nchosen, ngood);
	pfree(vecs);
	pfree(dists);
	pfree(chosen);
}

/*
 * Add a link from element s to element t at distance dist at level lc.
 *
 * s's list keeps the heuristic's choice (the "good" entries, closest
 * first) followed by fillers (closest first).  Running the heuristic anew
 * over the whole list for every new link costs a distance for nearly
 * every pair of entries; instead only t's relations are worked out: t is
 * good if no good entry closer to s than t is closer to t than s is; if
 * so, each good entry farther than t that is closer to t than to s turns
 * filler, and the fillers get another look, since what kept one out may
 * be gone.  (Unlike a full rerun, a promoted filler demotes nothing.)
 * Then the farthest filler, or if none
 * the farthest entry, goes when the list is over capacity.  With force,
 * t is kept in any case.  Returns whether t is linked.
 */
static bool
BuildLink(HnswBuildState *bs, int s, int t, float dist, int lc, bool force)
{
	HnswBuildElement *e = &bs->elems[s];
	int32	   *list = BuildList(bs, e, lc);
	int			cap = HnswListCapacity(bs->m, lc);
	float	   *ldists = BuildListDists(list, cap);
	const float *tvec = BuildVec(bs, &bs->elems[t]);
	int32		gidx[2 * HNSW_MAX_M + 1];
	float		gdist[2 * HNSW_MAX_M + 1];
	int32		fidx[2 * HNSW_MAX_M + 1];
	float		fdist[2 * HNSW_MAX_M + 1];
	int			ng = 0;
	int			nf = 0;
	int			n;
	int			good;
	bool		tgood = true;
	bool		linked = true;
	bool		demoted = false;

	BuildLock(bs, s, LW_EXCLUSIVE);
	n = BuildCount(list);
	good = BuildGood(list);


	/* the loops below read the vectors of the good entries */
	for (int k = 0; k < good; k++)
		__builtin_prefetch(&bs->elems[list[1 + k]]);
	for (int k = 0; k < good; k++)
		BuildPrefetchVec(bs, list[1 + k]);

	/* is t good? only good entries closer to s than t can say no */
	for (int k = 0; k < good && ldists[k] < dist; k++)
	{
		if (HnswDistance(bs->metric, tvec,
						 BuildVec(bs, &bs->elems[list[1 + k]]), bs->dim) < dist)
		{
			tgood = false;
			break;
		}
	}

	/* split the old entries, t inserted in order among its kind */
	for (int k = 0; k < n; k++)
	{
		bool		isgood = k < good;

		if (isgood && tgood && ldists[k] > dist &&
			HnswDistance(bs->metric, tvec,
						 BuildVec(bs, &bs->elems[list[1 + k]]), bs->dim) < ldists[k])
		{
			isgood = false;
			demoted = true;
		}
		if (isgood)
		{
			gidx[ng] = list[1 + k];
			gdist[ng++] = ldists[k];
		}
		else
		{
			fidx[nf] = list[1 + k];
			fdist[nf++] = ldists[k];
		}
	}
	{
		int32	   *xi = tgood ? gidx : fidx;
		float	   *xd = tgood ? gdist : fdist;
		int		   *xn = tgood ? &ng : &nf;
		int			j = *xn;

		/* demoted entries keep their order among fillers: sort them in */
		while (j > 0 && xd[j - 1] > dist)
		{
			xi[j] = xi[j - 1];
			xd[j] = xd[j - 1];
			j--;
		}
		xi[j] = t;
		xd[j] = dist;
		(*xn)++;
	}
	/* fillers came from two sorted runs: restore their order */
	for (int i = 1; i < nf; i++)
	{
		int32		ii = fidx[i];
		float		dd = fdist[i];
		int			j = i;

		while (j > 0 && fdist[j - 1] > dd)
		{
			fidx[j] = fidx[j - 1];
			fdist[j] = fdist[j - 1];
			j--;
		}
		fidx[j] = ii;
		fdist[j] = dd;
	}

	/*
	 * A filler may have been kept out only by an entry just demoted: give
	 * the fillers, closest first, another look against the good entries
	 * that remain (a promoted one counts for those after it).
	 */
	if (demoted)
	{
		int			k = 0;

		while (k < nf)
		{
			bool		ok = true;

			for (int g = 0; g < ng && gdist[g] < fdist[k]; g++)
			{
				if (HnswDistance(bs->metric,
								 BuildVec(bs, &bs->elems[fidx[k]]),
								 BuildVec(bs, &bs->elems[gidx[g]]),
								 bs->dim) < fdist[k])
				{
					ok = false;
					break;
				}
			}
			if (!ok)
			{
				k++;
				continue;
			}
			/* move fidx[k] into the good run, in order */
			{
				int			j = ng;

				while (j > 0 && gdist[j - 1] > fdist[k])
				{
					gidx[j] = gidx[j - 1];
					gdist[j] = gdist[j - 1];
					j--;
				}
				gidx[j] = fidx[k];
				gdist[j] = fdist[k];
				ng++;
			}
			for (int i = k; i < nf - 1; i++)
			{
				fidx[i] = fidx[i + 1];
				fdist[i] = fdist[i + 1];
			}
			nf--;
		}
	}

	/* over capacity: drop the farthest filler, else the farthest good */
	if (ng + nf > cap)
	{
		if (nf > 0 && !(force && fidx[nf - 1] == t && nf == 1))
		{
			int			drop = nf - 1;

			if (force && fidx[drop] == t)
				drop--;
			linked = fidx[drop] != t;
			for (int i = drop; i < nf - 1; i++)
			{
				fidx[i] = fidx[i + 1];
				fdist[i] = fdist[i + 1];
			}
			nf--;
		}
		else
		{
			int			drop = ng - 1;

			if (force && gidx[drop] == t)
				drop--;
			linked = gidx[drop] != t;
			for (int i = drop; i < ng - 1; i++)
			{
				gidx[i] = gidx[i + 1];
				gdist[i] = gdist[i + 1];
			}
			ng--;
		}
	}

	for (int i = 0; i < ng; i++)
	{
		list[1 + i] = gidx[i];
		ldists[i] = gdist[i];
	}
	for (int i = 0; i < nf; i++)
	{
		list[1 + ng + i] = fidx[i];
		ldists[ng + i] = fdist[i];
	}
	BuildSetCount(list, ng + nf, ng);
	BuildUnlock(bs, s);
	return linked;
}

/*
 * Insert element i (already stored, lists empty) into the graph: search
 * every level first, then write its own lists, then link it from its
 * neighbours.  In a parallel build that order matters: the element is
 * unreachable until the first link, so its lists are complete before any
 * other process can read them or add to them.
 */
static void
BuildInsert(HnswBuildState *bs, int i)
{
	HnswBuildElement *e = &bs->elems[i];
	const float *q = BuildVec(bs, e);
	HnswHeapItem ep;
	HnswHeapItem *entries;
	int			nentries;
	int			top;
	int			ef = Max(bs->efc, bs->m);
	int			entry;
	int			entryLevel;
	int32	   *chosen[HNSW_MAX_LEVEL + 1];

	if (bs->shared)
	{
		SpinLockAcquire(&bs->shared->mutex);
		if (bs->shared->entry < 0)
		{
			bs->shared->entry = i;
			bs->shared->entryLevel = e->level;
			SpinLockRelease(&bs->shared->mutex);
			return;
		}
		entry = bs->shared->entry;
		entryLevel = bs->shared->entryLevel;
		SpinLockRelease(&bs->shared->mutex);
	}
	else
	{
		if (bs->entry < 0)
		{
			bs->entry = i;
			bs->entryLevel = e->level;
			return;
		}
		entry = bs->entry;
		entryLevel = bs->entryLevel;
	}

	ep.idx = entry;
	ep.dist = BuildDist(bs, q, ep.idx);
	entries = palloc(sizeof(HnswHeapItem) * Max(ef, HNSW_DESCENT_EF));
	entries[0] = ep;
	nentries = 1;
	for (int lc = entryLevel; lc > e->level; lc--)
	{
		int			nfound = BuildSearchLayer(bs, q, entries, nentries,
											  HNSW_DESCENT_EF, lc);

		if (nfound > 0)
		{
			memcpy(entries, bs->found, sizeof(HnswHeapItem) * nfound);
			nentries = nfound;
		}
	}

	top = Min(e->level, entryLevel);
	for (int lc = top; lc >= 0; lc--)
	{
		int			nfound = BuildSearchLayer(bs, q, entries, nentries, ef, lc);
		int			cap = HnswListCapacity(bs->m, lc);

		chosen[lc] = palloc(sizeof(int32) * (1 + 2 * cap));
		BuildSelect(bs, q, bs->found, nfound, cap, chosen[lc]);
		memcpy(entries, bs->found, sizeof(HnswHeapItem) * nfound);
		nentries = nfound;
	}
	pfree(entries);

	BuildLock(bs, i, LW_EXCLUSIVE);
	for (int lc = top; lc >= 0; lc--)
	{
		int			cap = HnswListCapacity(bs->m, lc);

		memcpy(BuildList(bs, e, lc), chosen[lc], sizeof(int32) * (1 + 2 * cap));
	}
	BuildUnlock(bs, i);

	for (int lc = top; lc >= 0; lc--)
	{
		int			cap = HnswListCapacity(bs->m, lc);
		int32	   *list = chosen[lc];
		bool		linked = false;

		for (int k = 1; k <= BuildCount(list); k++)
			linked |= BuildLink(bs, list[k], i,
								BuildListDists(list, cap)[k - 1], lc, false);

		/*
		 * If every neighbour turned the new element away, nothing leads to
		 * it: make its nearest neighbour link to it all the same.
		 */
		if (!linked && BuildCount(list) > 0)
			BuildLink(bs, list[1], i, BuildListDists(list, cap)[0], lc, true);
		pfree(list);
	}

	if (e->level > entryLevel)
	{
		if (bs->shared)
		{
			SpinLockAcquire(&bs->shared->mutex);
			if (e->level > bs->shared->entryLevel)
			{
				bs->shared->entry = i;
				bs->shared->entryLevel = e->level;
			}
			SpinLockRelease(&bs->shared->mutex);
		}
		else
		{
			bs->entry = i;
			bs->entryLevel = e->level;
		}
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
 * Breadth first over level 0: queue[head, tail) holds visited elements not
 * yet expanded; appends every element they reach that the current tag has
 * not marked, marks it, and returns the new tail.  queue needs room for
 * every element.
 */
static int
BuildWalk(HnswBuildState *bs, int *queue, int head, int tail)
{
	while (head < tail)
	{
		int32	   *list = BuildList(bs, &bs->elems[queue[head++]], 0);

		for (int k = 1; k <= BuildCount(list); k++)
		{
			if (bs->visited[list[k]] == bs->tag)
				continue;
			bs->visited[list[k]] = bs->tag;
			queue[tail++] = list[k];
		}
		if ((head & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	return tail;
}

/*
 * Put t into s's full level-0 list in the place of the farthest entry that
 * some other list also names (fillers before good entries), so that the
 * element pushed out stays reachable.  t goes in as a filler, in distance
 * order.  Returns false if every entry is named by s alone.
 */
static bool
BuildReplaceShared(HnswBuildState *bs, int s, int t, float dist, int32 *indeg)
{
	int32	   *list = BuildList(bs, &bs->elems[s], 0);
	int			cap = HnswListCapacity(bs->m, 0);
	float	   *ldists = BuildListDists(list, cap);
	int			n = BuildCount(list);
	int			good = BuildGood(list);
	int			victim = -1;
	int			pos;

	for (int k = n - 1; k >= good && victim < 0; k--)
		if (indeg[list[1 + k]] > 1)
			victim = k;
	for (int k = good - 1; k >= 0 && victim < 0; k--)
		if (indeg[list[1 + k]] > 1)
			victim = k;
	if (victim < 0)
		return false;

	indeg[list[1 + victim]]--;
	for (int k = victim; k < n - 1; k++)
	{
		list[1 + k] = list[2 + k];
		ldists[k] = ldists[k + 1];
	}
	if (victim < good)
		good--;
	n--;
	/* t among the fillers, by distance */
	pos = n;
	while (pos > good && ldists[pos - 1] > dist)
	{
		list[1 + pos] = list[pos];
		ldists[pos] = ldists[pos - 1];
		pos--;
	}
	list[1 + pos] = t;
	ldists[pos] = dist;
	BuildSetCount(list, n + 1, good);
	indeg[t]++;
	return true;
}

/*
 * Later links can push an element out of the last list that named it, so
 * that no search from the entry point reaches it on level 0 (about one
 * element in a hundred on 32-dimensional Gaussian data, none measured on
 * 128-dimensional).  Before the graph is written, every such element gets
 * a link from an element of its own level-0 list that is reached: the
 * nearest whose list has room, else the nearest whose list holds an entry
 * that another list names too, which makes way for it.  A new link can
 * make reachable what was not, so this goes round until nothing is
 * stranded or a round links nothing, at most BUILD_RECONNECT_ROUNDS
 * times.  It runs in the leader alone, after any workers are done.
 */
#define BUILD_RECONNECT_ROUNDS	4

static void
BuildReconnect(HnswBuildState *bs)
{
	int		   *queue;
	int32	   *indeg;
	int			cap = HnswListCapacity(bs->m, 0);

	if (bs->entry < 0)
		return;
	queue = palloc_extended(sizeof(int) * Max(bs->nelems, 1),
							MCXT_ALLOC_HUGE);
	indeg = palloc_extended(sizeof(int32) * Max(bs->nelems, 1),
							MCXT_ALLOC_HUGE);
	for (int round = 0; round < BUILD_RECONNECT_ROUNDS; round++)
	{
		int			linked = 0;
		int			unreached = 0;

		BuildNewTag(bs);
		memset(indeg, 0, sizeof(int32) * bs->nelems);
		for (int i = 0; i < bs->nelems; i++)
		{
			int32	   *list;

			if (bs->elems[i].level == HNSW_HOLE)
				continue;
			list = BuildList(bs, &bs->elems[i], 0);
			for (int k = 1; k <= BuildCount(list); k++)
				indeg[list[k]]++;
		}
		queue[0] = bs->entry;
		bs->visited[bs->entry] = bs->tag;
		BuildWalk(bs, queue, 0, 1);

		for (int i = 0; i < bs->nelems; i++)
		{
			int32	   *list;
			float	   *dists;
			bool		done = false;

			if (bs->visited[i] == bs->tag || bs->elems[i].level == HNSW_HOLE)
				continue;
			unreached++;
			list = BuildList(bs, &bs->elems[i], 0);
			dists = BuildListDists(list, cap);
			/* a reached neighbour with room */
			for (int k = 1; k <= BuildCount(list) && !done; k++)
			{
				int			v = list[k];

				if (bs->visited[v] == bs->tag &&
					BuildCount(BuildList(bs, &bs->elems[v], 0)) < cap)
				{
					BuildLink(bs, v, i, dists[k - 1], 0, true);
					indeg[i]++;
					done = true;
				}
			}
			/* else one that can make way */
			for (int k = 1; k <= BuildCount(list) && !done; k++)
			{
				int			v = list[k];

				if (bs->visited[v] == bs->tag)
					done = BuildReplaceShared(bs, v, i, dists[k - 1], indeg);
			}
			if (done)
				linked++;
		}
		elog(DEBUG1,
			 "embed_hnsw build: reconnect round %d: %d of %d unreached, %d linked",
			 round + 1, unreached, bs->nelems, linked);
		if (unreached == 0 || linked == 0)
			break;
		CHECK_FOR_INTERRUPTS();
	}
	pfree(indeg);
	pfree(queue);
}

/*
 * The order in which elements go onto pages: breadth first over level 0
 * from the entry point, then whatever that did not reach.  A breadth-first
 * order puts the neighbours of an element next to each other, often on one
 * page, and a search expanding that element then reads them with one
 * buffer access (see HnswSearchLoadMany) instead of one each.
 */
static int *
BuildLayoutOrder(HnswBuildState *bs, int *norder)
{
	int		   *order = palloc_extended(sizeof(int) * Max(bs->nelems, 1),
										MCXT_ALLOC_HUGE);
	int			head = 0;
	int			tail = 0;

	*norder = 0;
	if (bs->entry < 0)
		return order;
	BuildNewTag(bs);
	order[tail++] = bs->entry;
	bs->visited[bs->entry] = bs->tag;
	for (int start = 0;; start++)
	{
		tail = BuildWalk(bs, order, head, tail);
		head = tail;
		/* the unreached, if any, seed further passes; holes are skipped */
		while (start < bs->nelems &&
			   (bs->visited[start] == bs->tag ||
				bs->elems[start].level == HNSW_HOLE))
			start++;
		if (start >= bs->nelems)
			break;
		bs->visited[start] = bs->tag;
		order[tail++] = start;
	}
	*norder = tail;
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
	int			norder;

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_WRITE);

	BuildReconnect(bs);
	order = BuildLayoutOrder(bs, &norder);

	/* pass 1: places */
	blkno = first - 1;
	for (int i = 0; i < norder; i++)
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
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, norder);
	for (int i = 0; i < norder; i++)
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
		memcpy(etup->vec, BuildVec(bs, e), sizeof(float) * bs->dim);

		memset(ntup, 0, nsize);
		ntup->type = HNSW_TUPLE_NEIGHBORS;
		ntup->level = e->level;
		for (int lc = 0; lc <= e->level; lc++)
		{
			int32	   *list = BuildList(bs, e, lc);
			int			off = HnswListOffset(bs->m, lc);

			for (int k = 0; k < HnswListCapacity(bs->m, lc); k++)
			{
				if (k < BuildCount(list))
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
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, norder);

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
	bs->base = NULL;
	bs->onDisk = true;
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_LOAD);
}

/*
 * A serial build's room for one more element of size bytes: grow the
 * arrays and the arena (doubling; the arena is addressed by offsets, so
 * it may move), or spill to disk when maintenance_work_mem would be
 * passed.  Returns the element's offset, or -1 after a spill.
 */
static int64
BuildReserve(HnswBuildState *bs, Size size)
{
	MemoryContext old = MemoryContextSwitchTo(bs->graphCtx);
	int64		off;

	if (bs->nelems == bs->maxelems)
	{
		int			newmax = Max(1024, bs->maxelems * 2);
		Size		extra = (Size) (newmax - bs->maxelems) *
			(sizeof(HnswBuildElement) + sizeof(uint32));

		if (bs->memUsed + extra + size > bs->memLimit && bs->nelems > 0)
		{
			MemoryContextSwitchTo(old);
			BuildSpill(bs);
			return -1;
		}
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
		bs->memUsed += extra;
		bs->maxelems = newmax;
	}
	if (bs->arenaUsed + size > bs->arenaSize)
	{
		Size		newsize = Max(bs->arenaSize * 2, (Size) 1024 * 1024);

		while (newsize < bs->arenaUsed + size)
			newsize *= 2;
		if (bs->memUsed + (newsize - bs->arenaSize) > bs->memLimit)
			newsize = bs->arenaSize + (bs->memLimit - Min(bs->memLimit, bs->memUsed));
		if (newsize < bs->arenaUsed + size)
		{
			MemoryContextSwitchTo(old);
			BuildSpill(bs);
			return -1;
		}
		bs->base = bs->base ? repalloc_huge(bs->base, newsize) :
			palloc_extended(newsize, MCXT_ALLOC_HUGE);
		/* the search reads the arena at random: see EmbedAdviseHugePages */
		EmbedAdviseHugePages(bs->base, newsize);
		bs->memUsed += newsize - bs->arenaSize;
		bs->arenaSize = newsize;
	}
	off = bs->arenaUsed;
	bs->arenaUsed += size;
	MemoryContextSwitchTo(old);
	return off;
}

/*
 * A parallel build's room for one more element: a position and arena
 * space handed out atomically.  Returns the position, or -1 when the
 * shared graph is full; a position taken without space is left a hole.
 */
static int
BuildReserveShared(HnswBuildState *bs, Size size, Size *off)
{
	HnswShared *shared = bs->shared;
	uint32		i;

	if (pg_atomic_read_u32(&shared->full))
		return -1;
	i = pg_atomic_fetch_add_u32(&shared->nelems, 1);
	if (i >= (uint32) shared->maxelems)
	{
		pg_atomic_write_u32(&shared->full, 1);
		return -1;
	}
	*off = pg_atomic_fetch_add_u64(&shared->arenaUsed, size);
	if (*off + size > shared->arenaSize)
	{
		bs->elems[i].level = HNSW_HOLE;
		pg_atomic_write_u32(&shared->full, 1);
		return -1;
	}
	return (int) i;
}

/*
 * Add one prepared vector to the build.
 */
static void
BuildAddVector(HnswBuildState *bs, const float *vec, ItemPointer heaptid)
{
	int			level;
	Size		size;
	HnswBuildElement *e;
	int			i;
	Size		off;

	if (bs->onDisk)
	{
		HnswInsertVector(bs->index, bs->metric, bs->m, bs->efc, vec, bs->dim,
						 heaptid);
		bs->indtuples++;
		return;
	}

	level = HnswRandomLevel(bs->m, bs->maxLevel);
	size = BuildElementSize(bs, level);
	if (bs->shared)
	{
		/* a tuple that does not fit is added after the graph is written */
		i = BuildReserveShared(bs, size, &off);
		if (i < 0)
			return;
	}
	else
	{
		int64		o = BuildReserve(bs, size);

		if (o < 0)
		{
			HnswInsertVector(bs->index, bs->metric, bs->m, bs->efc, vec,
							 bs->dim, heaptid);
			bs->indtuples++;
			return;
		}
		off = (Size) o;
		i = bs->nelems++;
	}

	e = &bs->elems[i];
	e->off = off;
	memcpy(BuildVec(bs, e), vec, sizeof(float) * bs->dim);
	e->level = level;
	for (int lc = 0; lc <= level; lc++)
		BuildList(bs, e, lc)[0] = 0;
	e->heaptid = *heaptid;
	ItemPointerSetInvalid(&e->tid);
	bs->indtuples++;
	BuildInsert(bs, i);
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
		if (bs->isLeader && ((int64) bs->indtuples & 255) == 0)
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE,
										 bs->shared ?
										 (int64) pg_atomic_read_u32(&bs->shared->nelems) :
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
 * Set up the parts of a build state every participant needs.
 */
static void
BuildInitState(HnswBuildState *bs, Relation heap, Relation index)
{
	memset(bs, 0, sizeof(HnswBuildState));
	bs->heap = heap;
	bs->index = index;
	bs->metric = HnswGetMetric(index);
	HnswGetOptions(index, &bs->m, &bs->efc);
	bs->dim = BuildTypmodDim(index);
	bs->maxLevel = bs->dim > 0 ? HnswMaxLevel(bs->m, bs->dim) : 0;
	bs->entry = -1;
	bs->entryLevel = -1;
	bs->memLimit = (Size) maintenance_work_mem * 1024;
	bs->buildCtx = CurrentMemoryContext;
	bs->graphCtx = AllocSetContextCreate(CurrentMemoryContext,
										 "embed_hnsw graph",
										 ALLOCSET_DEFAULT_SIZES);
	bs->tmpCtx = AllocSetContextCreate(CurrentMemoryContext,
									   "embed_hnsw build tuple",
									   ALLOCSET_DEFAULT_SIZES);
	HnswHeapInit(&bs->cand, false, 1024);
	HnswHeapInit(&bs->best, true, Max(bs->efc, bs->m) + 1);
	bs->found = palloc(sizeof(HnswHeapItem) * (Max(bs->efc, bs->m) + 1));
	if (bs->dim > 0)
		bs->scratch = palloc(sizeof(float) * bs->dim);
}

/*
 * Make a participant's build state work on the shared graph.
 */
static void
BuildAttachShared(HnswBuildState *bs, HnswShared *shared,
				  HnswBuildElement *elems, LWLock *locks, char *arena)
{
	bs->shared = shared;
	bs->elems = elems;
	bs->locks = locks;
	bs->base = arena;
	bs->maxelems = shared->maxelems;
	bs->visited = palloc_extended(sizeof(uint32) * shared->maxelems,
								  MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	bs->listbuf = palloc(sizeof(int32) * (1 + 4 * bs->m));
}

/*
 * A participant's share of a parallel build: the blocks of the heap the
 * parallel scan hands it, each tuple inserted into the shared graph.
 */
static void
BuildParallelScan(HnswBuildState *bs, IndexInfo *indexInfo, bool progress)
{
	HnswShared *shared = bs->shared;
	TableScanDesc scan;
	double		reltuples;

	scan = table_beginscan_parallel(bs->heap,
									ParallelTableScanFromHnswShared(shared));
	reltuples = table_index_build_scan(bs->heap, bs->index, indexInfo, true,
									   progress, BuildCallback, bs, scan);
	SpinLockAcquire(&shared->mutex);
	shared->reltuples += reltuples;
	shared->indtuples += bs->indtuples;
	SpinLockRelease(&shared->mutex);
}

/*
 * The entry point of a parallel build's worker processes.
 */
PGDLLEXPORT void EmbedHnswParallelBuildMain(dsm_segment *seg, shm_toc *toc);

void
EmbedHnswParallelBuildMain(dsm_segment *seg, shm_toc *toc)
{
	HnswShared *shared = shm_toc_lookup(toc, HNSW_KEY_SHARED, false);
	HnswBuildElement *elems = shm_toc_lookup(toc, HNSW_KEY_ELEMS, false);
	LWLock	   *locks = shm_toc_lookup(toc, HNSW_KEY_LOCKS, false);
	char	   *arena = shm_toc_lookup(toc, HNSW_KEY_ARENA, false);
	LOCKMODE	heapLockmode;
	Relation	heap;
	Relation	index;
	IndexInfo  *indexInfo;
	HnswBuildState bs;

	/* the same locks as the leader's, as a parallel btree build takes */
	heapLockmode = shared->isconcurrent ? ShareUpdateExclusiveLock : ShareLock;
	heap = table_open(shared->heaprelid, heapLockmode);
	index = index_open(shared->indexrelid, RowExclusiveLock);
	indexInfo = BuildIndexInfo(index);
	indexInfo->ii_Concurrent = shared->isconcurrent;
	LWLockRegisterTranche(shared->lwtranche, "embed_hnsw_build");

	BuildInitState(&bs, heap, index);
	BuildAttachShared(&bs, shared, elems, locks, arena);
	BuildParallelScan(&bs, indexInfo, false);

	index_close(index, RowExclusiveLock);
	table_close(heap, heapLockmode);
}

static int
BuildTidCmp(const void *a, const void *b)
{
	return ItemPointerCompare((ItemPointer) a, (ItemPointer) b);
}

typedef struct BuildMissingState
{
	HnswBuildState *bs;
	ItemPointerData *tids;		/* sorted heap TIDs already in the graph */
	int			ntids;
} BuildMissingState;

static void
BuildMissingCallback(Relation index, ItemPointer tid, Datum *values,
					 bool *isnull, bool tupleIsAlive, void *state)
{
	BuildMissingState *ms = (BuildMissingState *) state;

	if (isnull[0] ||
		bsearch(tid, ms->tids, ms->ntids, sizeof(ItemPointerData), BuildTidCmp))
		return;
	BuildCallback(index, tid, values, isnull, tupleIsAlive, ms->bs);
}

/*
 * After a parallel build whose shared graph filled up: a second, serial
 * scan of the heap inserts on disk every tuple the graph lacks.
 */
static void
BuildAddMissing(HnswBuildState *bs, IndexInfo *indexInfo)
{
	BuildMissingState ms;

	ereport(NOTICE,
			(errmsg("embed_hnsw graph no longer fits into maintenance_work_mem"),
			 errdetail("The graph was written out after %d tuples; the remaining tuples are inserted one by one, which is much slower.",
					   bs->nelems),
			 errhint("Increase maintenance_work_mem to build the index faster.")));
	ms.bs = bs;
	ms.tids = palloc_extended(sizeof(ItemPointerData) * Max(bs->nelems, 1),
							  MCXT_ALLOC_HUGE);
	ms.ntids = 0;
	for (int i = 0; i < bs->nelems; i++)
		if (bs->elems[i].level != HNSW_HOLE)
			ms.tids[ms.ntids++] = bs->elems[i].heaptid;
	qsort(ms.tids, ms.ntids, sizeof(ItemPointerData), BuildTidCmp);

	bs->onDisk = true;
	bs->shared = NULL;
	bs->isLeader = true;
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_LOAD);
	table_index_build_scan(bs->heap, bs->index, indexInfo, true, true,
						   BuildMissingCallback, &ms, NULL);
}

/*
 * The graph of a parallel build: leader and workers scan the heap in
 * parallel and insert into one graph in dynamic shared memory, each
 * element's lists under its own LWLock; the leader writes it out.  The
 * shared graph has a fixed size, taken from the table's size and
 * maintenance_work_mem; tuples that do not fit are inserted on disk
 * afterwards.  Returns false (nothing done) when no shared memory could
 * be had, and the caller builds serially.
 */
static bool
BuildParallel(HnswBuildState *bs, IndexInfo *indexInfo, int nworkers,
			  double *reltuples)
{
	Relation	heap = bs->heap;
	ParallelContext *pcxt;
	Snapshot	snapshot;
	Size		estshared;
	Size		elemSize = BuildElementSize(bs, 0);
	double		est;
	Size		arenaSize;
	int			maxelems;
	HnswShared *shared;
	HnswBuildElement *elems;
	LWLock	   *locks;
	char	   *arena;

	/* enough for the table's tuples with their upper levels, and some */
	est = heap->rd_rel->reltuples;
	if (est <= 0)
		est = (double) RelationGetNumberOfBlocks(heap) *
			(BLCKSZ / (sizeof(float) * bs->dim + 40.0));
	arenaSize = (Size) Min((double) bs->memLimit,
						   (est * 1.1 + 1000) *
						   (elemSize + BuildElementSize(bs, 1) / (bs->m - 1)));
	maxelems = (int) Min((double) INT_MAX / 2, arenaSize / elemSize + 1);
	if ((Size) maxelems * (sizeof(HnswBuildElement) + sizeof(LWLock)) +
		arenaSize > bs->memLimit)
		arenaSize = bs->memLimit -
			Min(bs->memLimit, (Size) maxelems * (sizeof(HnswBuildElement) + sizeof(LWLock)));
	if (arenaSize < elemSize * 64)
		return false;

	EnterParallelMode();
	pcxt = CreateParallelContext("embed", "EmbedHnswParallelBuildMain",
								 nworkers);
	snapshot = indexInfo->ii_Concurrent ?
		RegisterSnapshot(GetTransactionSnapshot()) : SnapshotAny;

	estshared = BUFFERALIGN(sizeof(HnswShared)) +
		table_parallelscan_estimate(heap, snapshot);
	shm_toc_estimate_chunk(&pcxt->estimator, estshared);
	shm_toc_estimate_chunk(&pcxt->estimator,
						   sizeof(HnswBuildElement) * (Size) maxelems);
	shm_toc_estimate_chunk(&pcxt->estimator, sizeof(LWLock) * (Size) maxelems);
	shm_toc_estimate_chunk(&pcxt->estimator, arenaSize);
	shm_toc_estimate_keys(&pcxt->estimator, 4);
	InitializeParallelDSM(pcxt);
	if (pcxt->seg == NULL)
	{
		if (IsMVCCSnapshot(snapshot))
			UnregisterSnapshot(snapshot);
		DestroyParallelContext(pcxt);
		ExitParallelMode();
		return false;
	}

	shared = shm_toc_allocate(pcxt->toc, estshared);
	memset(shared, 0, sizeof(HnswShared));
	shared->heaprelid = RelationGetRelid(heap);
	shared->indexrelid = RelationGetRelid(bs->index);
	shared->isconcurrent = indexInfo->ii_Concurrent;
	shared->dim = bs->dim;
	shared->m = bs->m;
	shared->efc = bs->efc;
	shared->maxLevel = bs->maxLevel;
	shared->maxelems = maxelems;
	shared->arenaSize = arenaSize;
	shared->lwtranche = LWLockNewTrancheId();
	SpinLockInit(&shared->mutex);
	shared->entry = -1;
	shared->entryLevel = -1;
	pg_atomic_init_u32(&shared->nelems, 0);
	pg_atomic_init_u64(&shared->arenaUsed, 0);
	pg_atomic_init_u32(&shared->full, 0);
	table_parallelscan_initialize(heap, ParallelTableScanFromHnswShared(shared),
								  snapshot);
	LWLockRegisterTranche(shared->lwtranche, "embed_hnsw_build");

	elems = shm_toc_allocate(pcxt->toc, sizeof(HnswBuildElement) * (Size) maxelems);
	locks = shm_toc_allocate(pcxt->toc, sizeof(LWLock) * (Size) maxelems);
	for (int i = 0; i < maxelems; i++)
		LWLockInitialize(&locks[i], shared->lwtranche);
	arena = shm_toc_allocate(pcxt->toc, arenaSize);
	shm_toc_insert(pcxt->toc, HNSW_KEY_SHARED, shared);
	shm_toc_insert(pcxt->toc, HNSW_KEY_ELEMS, elems);
	shm_toc_insert(pcxt->toc, HNSW_KEY_LOCKS, locks);
	shm_toc_insert(pcxt->toc, HNSW_KEY_ARENA, arena);

	LaunchParallelWorkers(pcxt);
	ereport(DEBUG1,
			(errmsg_internal("embed_hnsw build: %d workers launched, %d elements, %zu bytes of graph",
							 pcxt->nworkers_launched, maxelems, arenaSize)));

	/* the leader takes part */
	BuildAttachShared(bs, shared, elems, locks, arena);
	bs->isLeader = true;
	BuildParallelScan(bs, indexInfo, true);
	WaitForParallelWorkersToFinish(pcxt);

	/* every participant is done: the graph is the leader's alone now */
	bs->locks = NULL;
	bs->nelems = Min((int) pg_atomic_read_u32(&shared->nelems), maxelems);
	bs->entry = shared->entry;
	bs->entryLevel = shared->entryLevel;
	bs->indtuples = shared->indtuples;
	*reltuples = shared->reltuples;
	BuildFlush(bs);
	if (pg_atomic_read_u32(&shared->full))
		BuildAddMissing(bs, indexInfo);

	if (IsMVCCSnapshot(snapshot))
		UnregisterSnapshot(snapshot);
	DestroyParallelContext(pcxt);
	ExitParallelMode();
	return true;
}

/*
 * ambuild
 */
IndexBuildResult *
hnswbuild(Relation heap, Relation index, struct IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	HnswBuildState bs;
	double		reltuples = 0;
	MemoryContext buildCtx;
	MemoryContext old;
	int			nworkers = 0;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data",
			 RelationGetRelationName(index));

	buildCtx = AllocSetContextCreate(CurrentMemoryContext,
									 "embed_hnsw build",
									 ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(buildCtx);
	BuildInitState(&bs, heap, index);
	bs.isLeader = true;

	BuildMetaPage(index, MAIN_FORKNUM, bs.dim, bs.m, bs.efc, bs.metric);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_LOAD);
	if (heap->rd_rel->reltuples > 0)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL,
									 (int64) heap->rd_rel->reltuples);

	/*
	 * A parallel build needs the dimension before the first tuple, to size
	 * the shared graph: the column must be declared embedding(n).
	 */
#if PG_VERSION_NUM >= 170000
	nworkers = indexInfo->ii_ParallelWorkers;
#else
	if (IsNormalProcessingMode() && !IsBootstrapProcessingMode())
		nworkers = plan_create_index_workers(RelationGetRelid(heap),
											 RelationGetRelid(index));
#endif
	if (nworkers > 0 && bs.dim > 0 &&
		BuildParallel(&bs, indexInfo, nworkers, &reltuples))
	{
		/* done */
	}
	else
	{
		reltuples = table_index_build_scan(heap, index, indexInfo, true, true,
										   BuildCallback, &bs, NULL);
		if (!bs.onDisk)
			BuildFlush(&bs);
	}

	MemoryContextSwitchTo(old);
	result = palloc(sizeof(IndexBuildResult));
	result->heap_tuples = reltuples;
	result->index_tuples = bs.indtuples;
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
