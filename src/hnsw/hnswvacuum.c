/*-------------------------------------------------------------------------
 *
 * hnswvacuum.c
 *	  VACUUM for embed_hnsw: drop dead heap TIDs and repair the graph
 *	  around them.
 *
 * ambulkdelete works in four passes over the index:
 *
 *	1. find the elements whose heap tuple is dead (the callback says so)
 *	   and those deleted by an earlier pass; remember the surviving
 *	   element of the highest level;
 *	2. for every surviving element whose lists name one of those, rebuild
 *	   the list: the surviving old neighbours plus the surviving neighbours
 *	   of the dead ones, cut down to capacity by the selection heuristic;
 *	3. move the entry point to the best survivor if it was dead;
 *	4. mark the dead elements deleted and clear their heap TIDs.
 *
 * Pass 4 is what makes VACUUM safe: once it has run, no index tuple holds
 * the dead TIDs, so the heap may reuse them.  Passes 2 and 3 keep the
 * graph navigable.  A deleted element keeps its own lists, so a search (or
 * a concurrent insert) that still reaches it through a link made after
 * pass 2 walks on through it; scans never return it and inserts never
 * link to it.
 *
 * Space.  amvacuumcleanup, at the end of the same VACUUM, runs the passes
 * again with no new dead tuples: pass 1 then finds only the elements
 * deleted so far, pass 2 unlinks them from the lists that an insert
 * running alongside the first round may still have pointed at them, and
 * pass 4 marks them reusable and puts their pages in the free space map.
 * An insert takes such a page from the map and overwrites a reusable
 * element with its own (hnswinsert.c), so under steady churn the index
 * stops growing.  The life of an element is thus live -> deleted (first
 * round) -> reusable (second round) -> live again.  A reusable element is
 * not in the dead set of later rounds: nothing names it, and an insert may
 * be filling it while VACUUM runs.  An insert slow enough to span both
 * rounds could still link to an element that has since been reused; the
 * link then leads to another valid element, which costs the graph a
 * little quality and never a wrong answer.
 *
 * Reach.  Last, amvacuumcleanup links every live element that no level-0
 * path from the entry point leads to any more (an insert's pruning, or a
 * repair above, dropped its last incoming link): see hnswreach.c.
 *
 * src/hnsw/hnswvacuum.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/vacuum.h"
#include "postmaster/autovacuum.h"
#include "hnsw.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/indexfsm.h"
#include "utils/memutils.h"

typedef struct HnswVacuumState
{
	IndexVacuumInfo *info;
	Relation	index;
	HnswMetaPageData meta;
	HnswMetric	metric;
	uint64	   *dead;			/* sorted TID keys of dead elements */
	bool	   *isnew;			/* dead[i] died since the last round */
	int			ndead;
	int			maxdead;
	int			nnewdead;		/* of which dead since the last VACUUM */
	bool		promote;		/* pass 4 makes old dead elements reusable */
	BlockNumber *freepages;		/* pages holding reusable elements */
	int			nfree;
	int			maxfree;
	ItemPointerData best;		/* surviving element of the highest level */
	int			bestLevel;
	double		survivors;
	MemoryContext tmpCtx;
} HnswVacuumState;

static inline uint64
TidKey(ItemPointer tid)
{
	return ((uint64) ItemPointerGetBlockNumberNoCheck(tid) << 16) |
		ItemPointerGetOffsetNumberNoCheck(tid);
}

static bool
IsDead(HnswVacuumState *vs, ItemPointer tid)
{
	uint64		key = TidKey(tid);
	int			lo = 0;
	int			hi = vs->ndead - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;

		if (vs->dead[mid] == key)
			return true;
		if (vs->dead[mid] < key)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return false;
}

/* Remember that blkno holds reusable elements (pages come in order). */
static void
NoteFreePage(HnswVacuumState *vs, BlockNumber blkno)
{
	if (vs->nfree > 0 && vs->freepages[vs->nfree - 1] == blkno)
		return;
	if (vs->nfree == vs->maxfree)
	{
		vs->maxfree *= 2;
		vs->freepages = repalloc_huge(vs->freepages,
									  sizeof(BlockNumber) * vs->maxfree);
	}
	vs->freepages[vs->nfree++] = blkno;
}

/*
 * Pass 1.  Pages are read in block order and items in offset order, so
 * the dead keys come out sorted.
 */
static void
VacuumFindDead(HnswVacuumState *vs, IndexBulkDeleteCallback callback,
			   void *callback_state)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(vs->index);

	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		OffsetNumber maxoff;
		bool		hasfree = false;

		vacuum_delay_point();
		buf = ReadBufferExtended(vs->index, MAIN_FORKNUM, blkno, RBM_NORMAL,
								 vs->info->strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		maxoff = PageIsNew(page) ? InvalidOffsetNumber : PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			ItemId		iid = PageGetItemId(page, off);
			HnswElementTuple etup;
			bool		dead;
			bool		isnew;

			if (!ItemIdIsNormal(iid))
				continue;
			etup = (HnswElementTuple) PageGetItem(page, iid);
			if (etup->type != HNSW_TUPLE_ELEMENT)
				continue;
			isnew = false;
			if (etup->flags & HNSW_ELEMENT_REUSABLE)
			{
				/* unlinked already, and maybe being refilled: not dead */
				hasfree = true;
				continue;
			}
			if (etup->flags & HNSW_ELEMENT_DELETED)
				dead = true;
			else if (callback && callback(&etup->heaptid, callback_state))
			{
				dead = true;
				isnew = true;
				vs->nnewdead++;
			}
			else
			{
				dead = false;
				vs->survivors++;
				if (etup->level > vs->bestLevel)
				{
					vs->bestLevel = etup->level;
					ItemPointerSet(&vs->best, blkno, off);
				}
			}
			if (dead)
			{
				if (vs->ndead == vs->maxdead)
				{
					vs->maxdead *= 2;
					vs->dead = repalloc_huge(vs->dead,
											 sizeof(uint64) * vs->maxdead);
					vs->isnew = repalloc_huge(vs->isnew,
											  sizeof(bool) * vs->maxdead);
				}
				vs->isnew[vs->ndead] = isnew;
				vs->dead[vs->ndead++] = ((uint64) blkno << 16) | off;
			}
		}
		UnlockReleaseBuffer(buf);
		if (hasfree)
			NoteFreePage(vs, blkno);
	}
}

/*
 * Rebuild list lc of element c, which names dead elements.
 */
static void
VacuumRepairList(HnswVacuumState *vs, HnswSearch *s, int ci, int lc)
{
	int			cap = HnswListCapacity(vs->meta.m, lc);
	ItemPointerData *old = palloc(sizeof(ItemPointerData) * cap);
	ItemPointerData *nbrs = palloc(sizeof(ItemPointerData) * cap);
	int			maxc = cap * (cap + 1);
	ItemPointerData *ctids = palloc(sizeof(ItemPointerData) * maxc);
	float	  **vecs = palloc(sizeof(float *) * maxc);
	float	   *dists = palloc(sizeof(float) * maxc);
	int		   *chosen = palloc(sizeof(int) * maxc);

	for (int attempt = 0; attempt < 5; attempt++)
	{
		int			nold = HnswSearchNeighbors(s, &s->cands[ci], lc, old);
		int			n = 0;
		bool		anyDead = false;
		ItemPointerData *list;
		int			nnew;

		/* the old neighbours that survive, then those of the dead ones */
		for (int pass = 0; pass < 2; pass++)
		{
			for (int i = 0; i < nold; i++)
			{
				bool		dead = IsDead(vs, &old[i]);

				if (pass == 0 && !dead)
					ctids[n++] = old[i];
				else if (pass == 1 && dead)
				{
					int			di = HnswSearchLoad(s, &old[i]);
					int			nn = HnswSearchNeighbors(s, &s->cands[di], lc, nbrs);

					anyDead = true;
					for (int j = 0; j < nn && n < maxc; j++)
					{
						bool		dup = ItemPointerEquals(&nbrs[j], &s->cands[ci].tid);

						for (int k = 0; k < n && !dup; k++)
							dup = ItemPointerEquals(&ctids[k], &nbrs[j]);
						if (!dup && !IsDead(vs, &nbrs[j]))
							ctids[n++] = nbrs[j];
					}
				}
			}
		}
		if (!anyDead)
			break;

		if (n <= cap)
		{
			list = ctids;
			nnew = n;
		}
		else
		{
			for (int i = 0; i < n; i++)
			{
				int			idx = HnswSearchLoad(s, &ctids[i]);

				vecs[i] = s->cands[idx].vec;
				dists[i] = HnswDistance(vs->metric, s->cands[ci].vec, vecs[i],
										vs->meta.dim);
			}
			nnew = HnswSelectNeighbors(vs->metric, vs->meta.dim,
									   s->cands[ci].vec, vecs, dists, n, cap,
									   chosen, NULL);
			list = palloc(sizeof(ItemPointerData) * cap);
			for (int i = 0; i < nnew; i++)
				list[i] = ctids[chosen[i]];
		}
		if (HnswReplaceList(s, &s->cands[ci], lc, old, nold, list, nnew))
			break;
	}
}

/*
 * Pass 2.  The elements of a page are collected under a share lock, then
 * repaired one by one with no lock held (HnswReplaceList takes its own).
 */
static void
VacuumRepair(HnswVacuumState *vs)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(vs->index);
	ItemPointerData *elems = palloc(sizeof(ItemPointerData) * MaxOffsetNumber);

	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		OffsetNumber maxoff;
		int			nelems = 0;
		MemoryContext old;
		HnswSearch *s;

		vacuum_delay_point();
		buf = ReadBufferExtended(vs->index, MAIN_FORKNUM, blkno, RBM_NORMAL,
								 vs->info->strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		maxoff = PageIsNew(page) ? InvalidOffsetNumber : PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			ItemId		iid = PageGetItemId(page, off);
			HnswElementTuple etup;

			if (!ItemIdIsNormal(iid))
				continue;
			etup = (HnswElementTuple) PageGetItem(page, iid);
			if (etup->type != HNSW_TUPLE_ELEMENT ||
				(etup->flags & HNSW_ELEMENT_DELETED))
				continue;
			ItemPointerSet(&elems[nelems], blkno, off);
			if (!IsDead(vs, &elems[nelems]))
				nelems++;
		}
		UnlockReleaseBuffer(buf);

		old = MemoryContextSwitchTo(vs->tmpCtx);
		s = HnswSearchCreate(vs->index, vs->metric, vs->meta.dim, vs->meta.m,
							 NULL, true);
		for (int i = 0; i < nelems; i++)
		{
			int			ci = HnswSearchLoad(s, &elems[i]);

			for (int lc = 0; lc <= s->cands[ci].level; lc++)
			{
				int			nn = HnswSearchNeighbors(s, &s->cands[ci], lc, s->nbuf);
				bool		touches = false;

				for (int j = 0; j < nn && !touches; j++)
					touches = IsDead(vs, &s->nbuf[j]);
				if (touches)
					VacuumRepairList(vs, s, ci, lc);
			}
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(vs->tmpCtx);
	}
}

/*
 * Pass 3: if the entry point is dead, the surviving element of the highest
 * level takes over (or none, if nothing survives).  Only if the entry is
 * still the dead one: a concurrent insert may have replaced it.
 */
static void
VacuumFixEntry(HnswVacuumState *vs)
{
	Buffer		buf;
	HnswMetaPage meta;
	GenericXLogState *state;

	buf = ReadBuffer(vs->index, HNSW_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	meta = HnswPageGetMeta(BufferGetPage(buf));
	if (meta->entryLevel < 0 || !IsDead(vs, &meta->entry))
	{
		UnlockReleaseBuffer(buf);
		return;
	}
	state = GenericXLogStart(vs->index);
	meta = HnswPageGetMeta(GenericXLogRegisterBuffer(state, buf, 0));
	if (vs->bestLevel >= 0)
	{
		meta->entry = vs->best;
		meta->entryLevel = vs->bestLevel;
	}
	else
	{
		ItemPointerSetInvalid(&meta->entry);
		meta->entryLevel = -1;
	}
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

/*
 * Pass 4: mark the newly dead elements deleted, page by page, and when
 * promoting, the elements deleted before this round reusable.  Neither
 * kind can have been refilled since pass 1: only reusable elements are.
 */
static void
VacuumMarkDeleted(HnswVacuumState *vs, IndexBulkDeleteResult *stats)
{
	int			i = 0;

	while (i < vs->ndead)
	{
		BlockNumber blkno = (BlockNumber) (vs->dead[i] >> 16);
		Buffer		buf;
		Page		page;
		GenericXLogState *state;
		bool		changed = false;
		bool		freed = false;

		vacuum_delay_point();
		buf = ReadBufferExtended(vs->index, MAIN_FORKNUM, blkno, RBM_NORMAL,
								 vs->info->strategy);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		state = GenericXLogStart(vs->index);
		page = GenericXLogRegisterBuffer(state, buf, 0);
		for (; i < vs->ndead && (BlockNumber) (vs->dead[i] >> 16) == blkno; i++)
		{
			OffsetNumber off = (OffsetNumber) (vs->dead[i] & 0xFFFF);
			HnswElementTuple etup;

			etup = (HnswElementTuple) PageGetItem(page, PageGetItemId(page, off));
			if (vs->isnew[i])
			{
				if (etup->flags & HNSW_ELEMENT_DELETED)
					continue;
				etup->flags |= HNSW_ELEMENT_DELETED;
				ItemPointerSetInvalid(&etup->heaptid);
				stats->tuples_removed++;
				changed = true;
			}
			else if (vs->promote && (etup->flags & HNSW_ELEMENT_DELETED) &&
					 !(etup->flags & HNSW_ELEMENT_REUSABLE) &&
					 ItemPointerGetBlockNumber(&etup->ntid) == blkno)
			{
				/* (a neighbour tuple on a page of its own is not reused) */
				etup->flags |= HNSW_ELEMENT_REUSABLE;
				changed = true;
				freed = true;
			}
		}
		if (changed)
			GenericXLogFinish(state);
		else
			GenericXLogAbort(state);
		UnlockReleaseBuffer(buf);
		if (freed)
			NoteFreePage(vs, blkno);
	}
}

/*
 * One round of passes; callback NULL: no new dead tuples, only the
 * elements deleted so far (then promote makes them reusable).  The pages
 * holding reusable elements go into the free space map at the end.
 */
static void
VacuumRound(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
			IndexBulkDeleteCallback callback, void *callback_state,
			bool promote)
{
	HnswVacuumState vs;
	MemoryContext ctx;
	MemoryContext old;

	ctx = AllocSetContextCreate(CurrentMemoryContext, "embed_hnsw vacuum",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(ctx);

	memset(&vs, 0, sizeof(vs));
	vs.info = info;
	vs.index = info->index;
	vs.metric = HnswGetMetric(info->index);
	HnswReadMeta(info->index, &vs.meta);
	vs.maxdead = 1024;
	vs.dead = palloc(sizeof(uint64) * vs.maxdead);
	vs.isnew = palloc(sizeof(bool) * vs.maxdead);
	vs.maxfree = 64;
	vs.freepages = palloc(sizeof(BlockNumber) * vs.maxfree);
	vs.promote = promote;
	vs.bestLevel = -1;
	vs.tmpCtx = AllocSetContextCreate(ctx, "embed_hnsw vacuum page",
									  ALLOCSET_DEFAULT_SIZES);

	VacuumFindDead(&vs, callback, callback_state);
	if (vs.ndead > 0)
	{
		VacuumRepair(&vs);
		VacuumFixEntry(&vs);
		VacuumMarkDeleted(&vs, stats);
	}
	for (int i = 0; i < vs.nfree; i++)
		RecordFreeIndexPage(info->index, vs.freepages[i]);

	stats->num_pages = RelationGetNumberOfBlocks(info->index);
	stats->num_index_tuples = vs.survivors;
	stats->estimated_count = false;

	MemoryContextSwitchTo(old);
	MemoryContextDelete(ctx);
}

/*
 * ambulkdelete
 */
IndexBulkDeleteResult *
hnswbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
			   IndexBulkDeleteCallback callback, void *callback_state)
{
	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));
	VacuumRound(info, stats, callback, callback_state, false);
	return stats;
}

/*
 * amvacuumcleanup: the second round (see the top of this file), which
 * also counts the live elements.
 */
IndexBulkDeleteResult *
hnswvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	if (info->analyze_only)
		return stats;
	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));
	VacuumRound(info, stats, NULL, NULL, true);
	IndexFreeSpaceMapVacuum(info->index);
	{
		int			mem_kb = maintenance_work_mem;

		if (IsAutoVacuumWorkerProcess() && autovacuum_work_mem != -1)
			mem_kb = autovacuum_work_mem;
		HnswRelinkUnreachable(info->index, info->strategy,
							  (Size) mem_kb * 1024);
	}
	return stats;
}
