/*-------------------------------------------------------------------------
 *
 * hnswreach.c
 *	  Which elements of an embed_hnsw index a search can reach, and the
 *	  relinking of those it cannot, at the end of every VACUUM.
 *
 * Every search ends with a walk of level 0 that starts where the descent
 * from the entry point landed, so an element that no level-0 path from the
 * entry point leads to is never returned, however wide the search.  The
 * build links every such element before it writes the graph; afterwards
 * an insert can strand one: when a neighbour's full list takes the new
 * element, the selection heuristic drops another entry, and if that was
 * the last link to some element, nothing leads there any more (on
 * 32-dimensional Gaussian data, after inserting three times the built
 * rows: about one element in 3300 at m 16, one in nine at m 4).
 *
 * HnswReachCompute reads every page once to list the elements (the
 * reusable ones left out: nothing names them), then walks level 0
 * breadth-first from the entry point, through deleted elements too, as
 * searches do.  embed_hnsw_check reports what stays unreached.
 *
 * HnswRelinkUnreachable, called from amvacuumcleanup, links each
 * unreached live element x from a reached one: it searches for x's own
 * vector as an insert would and, among the elements found, closest first,
 * appends x to the first level-0 list with room.  When all are full, x
 * takes the place of the entry z farthest from the list's owner y in the
 * list of the closest one, and z moves into x's own list (where it takes
 * the place of x's farthest entry if that is full): y -> x -> z, so z
 * stays reachable, and nothing reached loses a way in, since nothing
 * reached went through x.  Then the walk goes on from x, which reaches
 * whatever hung below it.
 *
 * Like inserts, this changes one list at a time under one page lock and
 * one WAL record, after checking that the list is still what it read (a
 * list that an insert changed meanwhile is read again), and writes x's
 * own list before the link that makes x reachable: a crash in between
 * leaves one link more, never one less.  Elements inserted after the
 * page pass are not in the lists of elements and are neither checked nor
 * used.
 *
 * src/hnsw/hnswreach.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/vacuum.h"
#include "hnsw.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"

/* Found elements whose lists are tried for room, closest first. */
#define HNSW_RELINK_TRIES	8

/* Attempts at a list that concurrent inserts keep changing. */
#define HNSW_RELINK_RETRIES	5

static inline uint64
ReachKey(BlockNumber blkno, OffsetNumber off)
{
	return ((uint64) blkno << 16) | off;
}

/* The position of the element at tid in r, or -1. */
int
HnswReachFind(HnswReach *r, ItemPointer tid)
{
	BlockNumber blkno = ItemPointerGetBlockNumberNoCheck(tid);
	uint64		key = ReachKey(blkno, ItemPointerGetOffsetNumberNoCheck(tid));
	int			lo;
	int			hi;

	/* (a page holds a few dozen elements: search only those of its block) */
	if (blkno >= r->nblocks)
		return -1;
	lo = r->blockStart[blkno];
	hi = r->blockStart[blkno + 1] - 1;

	while (lo <= hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (r->keys[mid] == key)
			return mid;
		if (r->keys[mid] < key)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

static Buffer
ReachReadBuffer(HnswReach *r, BlockNumber blkno)
{
	return ReadBufferExtended(r->index, MAIN_FORKNUM, blkno, RBM_NORMAL,
							  r->strategy);
}

/* Bytes HnswReach holds per element. */
#define REACH_BYTES_PER_ELEMENT \
	(sizeof(uint64) + sizeof(ItemPointerData) + sizeof(uint8) + sizeof(int))

/*
 * List every element that is not reusable, in TID order.  Returns false,
 * having stopped, when the lists would take more than limit bytes (limit
 * 0: no limit).
 */
static bool
ReachListElements(HnswReach *r, Size limit)
{
	BlockNumber nblocks = r->nblocks;
	int			cap = 1024;

	r->keys = palloc(sizeof(uint64) * cap);
	r->ntids = palloc(sizeof(ItemPointerData) * cap);
	r->flags = palloc(sizeof(uint8) * cap);
	r->nelems = 0;
	r->blockStart = MemoryContextAllocHuge(CurrentMemoryContext,
										   sizeof(int) * ((Size) nblocks + 1));
	r->blockStart[HNSW_METAPAGE_BLKNO] = 0;

	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		OffsetNumber maxoff;

		r->blockStart[blkno] = r->nelems;
		if (r->strategy)
			vacuum_delay_point();
		else
			CHECK_FOR_INTERRUPTS();
		buf = ReachReadBuffer(r, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		maxoff = HnswElementPageMaxOffset(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			ItemId		iid = PageGetItemId(page, off);
			HnswElementTuple e;

			if (!ItemIdIsNormal(iid))
				continue;
			e = (HnswElementTuple) PageGetItem(page, iid);
			if (e->type != HNSW_TUPLE_ELEMENT ||
				(e->flags & HNSW_ELEMENT_REUSABLE))
				continue;
			if (r->nelems == cap)
			{
				if (limit > 0 &&
					(Size) cap * 2 * REACH_BYTES_PER_ELEMENT > limit)
				{
					UnlockReleaseBuffer(buf);
					return false;
				}
				cap *= 2;
				r->keys = repalloc_huge(r->keys, sizeof(uint64) * cap);
				r->ntids = repalloc_huge(r->ntids,
										 sizeof(ItemPointerData) * cap);
				r->flags = repalloc_huge(r->flags, sizeof(uint8) * cap);
			}
			r->keys[r->nelems] = ReachKey(blkno, off);
			r->ntids[r->nelems] = e->ntid;
			r->flags[r->nelems] = (e->flags & HNSW_ELEMENT_DELETED) ?
				HNSW_REACH_DELETED : 0;
			r->nelems++;
		}
		UnlockReleaseBuffer(buf);
	}
	r->blockStart[nblocks] = r->nelems;
	r->queue = MemoryContextAllocHuge(CurrentMemoryContext,
									  sizeof(int) * Max(r->nelems, 1));
	return true;
}

/*
 * Copy the level-0 list of element i into out and return its length; 0
 * when its neighbour tuple is not where the element says (the check
 * reports that on its own).
 */
static int
ReachReadList(HnswReach *r, int i, ItemPointerData *out)
{
	ItemPointer ntid = &r->ntids[i];
	BlockNumber blkno = ItemPointerGetBlockNumberNoCheck(ntid);
	OffsetNumber off = ItemPointerGetOffsetNumberNoCheck(ntid);
	int			cap = HnswListCapacity(r->m, 0);
	Buffer		buf;
	Page		page;
	int			n = 0;

	if (blkno == HNSW_METAPAGE_BLKNO || blkno >= r->nblocks)
		return 0;
	buf = ReachReadBuffer(r, blkno);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	if (!PageIsNew(page) && off >= FirstOffsetNumber &&
		off <= PageGetMaxOffsetNumber(page) &&
		ItemIdIsNormal(PageGetItemId(page, off)))
	{
		HnswNeighborTuple ntup = (HnswNeighborTuple)
			PageGetItem(page, PageGetItemId(page, off));

		if (ntup->type == HNSW_TUPLE_NEIGHBORS)
			while (n < cap &&
				   ItemPointerIsValid(&ntup->slots[HnswListOffset(r->m, 0) + n]))
			{
				out[n] = ntup->slots[HnswListOffset(r->m, 0) + n];
				n++;
			}
	}
	UnlockReleaseBuffer(buf);
	return n;
}

/*
 * Mark element start reached, if it is not, and walk level 0 from it,
 * marking what it leads to.
 */
void
HnswReachWalk(HnswReach *r, int start)
{
	ItemPointerData *list = palloc(sizeof(ItemPointerData) *
								   HnswListCapacity(r->m, 0));
	int			head = 0;
	int			tail = 0;

	r->flags[start] |= HNSW_REACH_REACHED;
	r->queue[tail++] = start;
	while (head < tail)
	{
		int			i = r->queue[head++];
		int			n = ReachReadList(r, i, list);

		if ((head & 1023) == 0)
		{
			if (r->strategy)
				vacuum_delay_point();
			else
				CHECK_FOR_INTERRUPTS();
		}
		for (int k = 0; k < n; k++)
		{
			int			j = HnswReachFind(r, &list[k]);

			if (j < 0 || j == i)
				continue;
			if (!(r->flags[j] & HNSW_REACH_REACHED))
			{
				r->flags[j] |= HNSW_REACH_REACHED;
				r->queue[tail++] = j;
			}
		}
	}
	pfree(list);
}

/*
 * List the elements of the index and walk level 0 from its entry point.
 * strategy is VACUUM's buffer access strategy, or NULL.  All memory is in
 * the current context; past limit bytes (0: no limit) nothing is walked
 * and NULL is returned.
 */
HnswReach *
HnswReachCompute(Relation index, BufferAccessStrategy strategy, Size limit)
{
	HnswReach  *r = palloc0(sizeof(HnswReach));
	HnswMetaPageData meta;
	int			entry;

	HnswReadMeta(index, &meta);
	r->index = index;
	r->strategy = strategy;
	r->m = meta.m;
	r->nblocks = RelationGetNumberOfBlocks(index);
	if (!ReachListElements(r, limit))
		return NULL;
	if (meta.entryLevel >= 0 && ItemPointerIsValid(&meta.entry) &&
		(entry = HnswReachFind(r, &meta.entry)) >= 0)
	{
		r->entry = entry;
		HnswReachWalk(r, entry);
	}
	else
		r->entry = -1;
	return r;
}

/*
 * The position among the n entries of list of the one farthest from base.
 */
static int
Farthest(HnswSearch *s, const float *base, ItemPointerData *list, int n)
{
	int			far = 0;
	float		fardist = -1;

	for (int t = 0; t < n; t++)
	{
		int			zi = HnswSearchLoad(s, &list[t]);
		float		d = HnswDistance(s->metric, base, s->cands[zi].vec, s->dim);

		if (d > fardist)
		{
			fardist = d;
			far = t;
		}
	}
	return far;
}

/*
 * Put z into the level-0 list of cands[xi], in place of its farthest entry
 * when it is full.  Returns whether the list now holds z.
 */
static bool
HandOver(HnswSearch *s, int xi, ItemPointer z, ItemPointerData *old,
		 ItemPointerData *list)
{
	int			cap = HnswListCapacity(s->m, 0);

	for (int attempt = 0; attempt < HNSW_RELINK_RETRIES; attempt++)
	{
		int			nold = HnswSearchNeighbors(s, &s->cands[xi], 0, old);
		int			nnew = nold;

		for (int t = 0; t < nold; t++)
			if (ItemPointerEquals(&old[t], z))
				return true;
		memcpy(list, old, sizeof(ItemPointerData) * nold);
		if (nold < cap)
			list[nnew++] = *z;
		else
			list[Farthest(s, s->cands[xi].vec, old, nold)] = *z;
		if (HnswReplaceList(s, &s->cands[xi], 0, old, nold, list, nnew))
			return true;
	}
	return false;
}

/*
 * Link unreached live element x from a reached live element of its
 * level-0 neighbourhood (see the top of the file).  Returns 1 when it
 * added a link, 2 when the link took another's place, 0 when it found
 * no way (or x was deleted meanwhile).
 */
static int
RelinkOne(HnswReach *r, HnswMetric metric, HnswMetaPageData *meta, int efc,
		  int x)
{
	ItemPointerData xtid;
	HnswSearch *s;
	int			xi;
	int			entries[HNSW_DESCENT_EF];
	int			nentries;
	int			ef = Max(efc, r->m);
	int		   *found = palloc(sizeof(int) * ef);
	int			nfound;
	int			cap = HnswListCapacity(r->m, 0);
	ItemPointerData *old = palloc(sizeof(ItemPointerData) * (cap + 1));
	ItemPointerData *list = palloc(sizeof(ItemPointerData) * (cap + 1));
	ItemPointerData *xold = palloc(sizeof(ItemPointerData) * (cap + 1));
	ItemPointerData *xlist = palloc(sizeof(ItemPointerData) * (cap + 1));
	int			tries = 0;
	int			closest = -1;

	ItemPointerSet(&xtid, (BlockNumber) (r->keys[x] >> 16),
				   (OffsetNumber) (r->keys[x] & 0xFFFF));
	s = HnswSearchCreate(r->index, metric, meta->dim, r->m, NULL, true);
	xi = HnswSearchLoad(s, &xtid);
	if (s->cands[xi].deleted)
		return 0;
	s->query = s->cands[xi].vec;
	nentries = HnswSearchDescend(s, meta, 0, entries);
	if (nentries == 0)
		return 0;
	nfound = HnswSearchLayer(s, entries, nentries, ef, 0, found);

	/* a list with room */
	for (int k = 0; k < nfound && tries < HNSW_RELINK_TRIES; k++)
	{
		int			ci = found[k];
		int			y = HnswReachFind(r, &s->cands[ci].tid);
		int			nold;

		if (ci == xi || s->cands[ci].deleted || y < 0 ||
			!(r->flags[y] & HNSW_REACH_REACHED) ||
			(r->flags[y] & HNSW_REACH_DELETED))
			continue;
		if (closest < 0)
			closest = ci;
		tries++;
		nold = HnswSearchNeighbors(s, &s->cands[ci], 0, old);
		for (int t = 0; t < nold; t++)
			if (ItemPointerEquals(&old[t], &xtid))
				return 1;		/* linked meanwhile */
		if (nold >= cap)
			continue;
		memcpy(list, old, sizeof(ItemPointerData) * nold);
		list[nold] = xtid;
		if (HnswReplaceList(s, &s->cands[ci], 0, old, nold, list, nold + 1))
			return 1;
	}
	if (closest < 0)
		return 0;

	/* all full: x takes the place of z in the closest's list, z moves on */
	for (int attempt = 0; attempt < HNSW_RELINK_RETRIES; attempt++)
	{
		int			nold = HnswSearchNeighbors(s, &s->cands[closest], 0, old);
		int			z;

		for (int t = 0; t < nold; t++)
			if (ItemPointerEquals(&old[t], &xtid))
				return 1;
		memcpy(list, old, sizeof(ItemPointerData) * nold);
		if (nold < cap)
		{
			list[nold] = xtid;
			if (HnswReplaceList(s, &s->cands[closest], 0, old, nold,
								list, nold + 1))
				return 1;
			continue;
		}
		z = Farthest(s, s->cands[closest].vec, old, nold);
		if (!HandOver(s, xi, &old[z], xold, xlist))
			return 0;
		list[z] = xtid;
		if (HnswReplaceList(s, &s->cands[closest], 0, old, nold, list, nold))
			return 2;
	}
	return 0;
}

/*
 * amvacuumcleanup's last step: link every live element that a search
 * cannot reach.  limit bounds the memory of the lists of elements (0: no
 * bound); a larger index is not looked at.  Returns how many elements
 * were relinked.
 */
int
HnswRelinkUnreachable(Relation index, BufferAccessStrategy strategy,
					  Size limit)
{
	MemoryContext ctx = AllocSetContextCreate(CurrentMemoryContext,
											  "embed_hnsw relink",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext one = AllocSetContextCreate(ctx, "embed_hnsw relink one",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(ctx);
	HnswMetaPageData meta;
	HnswMetric metric = HnswGetMetric(index);
	HnswReach  *r;
	int			efc;
	int			relinked = 0;
	int			replaced = 0;
	int			failed = 0;

	HnswReadMeta(index, &meta);
	HnswGetOptions(index, NULL, &efc);
	r = HnswReachCompute(index, strategy, limit);
	if (r == NULL)
		elog(DEBUG1, "index \"%s\" has too many elements to look for unreachable ones in %zu kB",
			 RelationGetRelationName(index), limit / 1024);
	else if (r->entry >= 0)
	{
		for (int x = 0; x < r->nelems; x++)
		{
			int			how;

			if (r->flags[x] & (HNSW_REACH_REACHED | HNSW_REACH_DELETED))
				continue;
			vacuum_delay_point();
			MemoryContextSwitchTo(one);
			how = RelinkOne(r, metric, &meta, efc, x);
			MemoryContextSwitchTo(ctx);
			MemoryContextReset(one);
			if (how == 0)
			{
				failed++;
				continue;
			}
			relinked++;
			if (how == 2)
				replaced++;
			HnswReachWalk(r, x);
		}
	}
	if (relinked > 0 || failed > 0)
		elog(DEBUG1, "index \"%s\": relinked %d unreachable elements (%d in another's place), %d could not be",
			 RelationGetRelationName(index), relinked, replaced, failed);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(ctx);
	return relinked;
}
