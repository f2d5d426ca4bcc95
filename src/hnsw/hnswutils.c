/*-------------------------------------------------------------------------
 *
 * hnswutils.c
 *	  Pages, tuples, distances and the graph search on disk, shared by
 *	  insert, scan and vacuum.
 *
 * Locking: a backend never holds more than one buffer lock of an
 * embed_hnsw index at a time, except VACUUM, which may share-lock pages
 * while holding the exclusive lock of one neighbour page (see
 * hnswvacuum.c).  Searches copy what they need out of a page and release
 * it at once.  A neighbour list is changed by reading it, deciding the new
 * list without any lock, then locking the page exclusively and writing
 * only if the list is still what was read (else the decision is made
 * again).  Every page change goes through generic WAL, so a crash leaves
 * each page either before or after one such change.
 *
 * src/hnsw/hnswutils.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "distance.h"
#include "hnsw.h"
#include "storage/buf_internals.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
#if PG_VERSION_NUM >= 150000
#include "common/pg_prng.h"
#endif

/* ---- pages ---- */

/*
 * Initialise an index page: empty, with our special space.
 */
void
HnswInitPage(Page page, uint16 flags)
{
	HnswPageOpaque opaque;

	PageInit(page, BLCKSZ, sizeof(HnswPageOpaqueData));
	opaque = HnswPageGetOpaque(page);
	opaque->flags = flags;
	opaque->page_id = HNSW_PAGE_ID;
}

/*
 * Initialise the metapage of an empty index.  pd_lower is moved past the
 * metadata so that a full-page image keeps it (the hole between pd_lower
 * and pd_upper is not logged).
 */
void
HnswInitMetaPage(Page page, int dim, int m, int efc, HnswMetric metric)
{
	HnswMetaPage meta;

	HnswInitPage(page, HNSW_PAGE_META);
	meta = HnswPageGetMeta(page);
	memset(meta, 0, sizeof(HnswMetaPageData));
	meta->magic = HNSW_MAGIC;
	meta->version = HNSW_VERSION;
	meta->dim = dim;
	meta->m = m;
	meta->efConstruction = efc;
	meta->metric = metric;
	meta->entryLevel = -1;
	ItemPointerSetInvalid(&meta->entry);
	meta->insertPage = InvalidBlockNumber;
	((PageHeader) page)->pd_lower =
		((char *) meta + sizeof(HnswMetaPageData)) - (char *) page;
}

/*
 * Copy the metapage out, checking that this is an index of ours.
 */
void
HnswReadMeta(Relation index, HnswMetaPageData *meta)
{
	Buffer		buf;
	Page		page;
	HnswMetaPage m;

	buf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	m = HnswPageGetMeta(page);
	if (PageIsNew(page) || m->magic != HNSW_MAGIC)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" is not an embed_hnsw index",
						RelationGetRelationName(index))));
	if (m->version != HNSW_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has format version %u, expected %u",
						RelationGetRelationName(index), m->version,
						HNSW_VERSION),
				 errhint("REINDEX the index.")));
	memcpy(meta, m, sizeof(HnswMetaPageData));
	UnlockReleaseBuffer(buf);
}

/*
 * The highest level an element may have: its neighbour tuple must fit on
 * an empty page.
 */
int
HnswMaxLevel(int m, int dim)
{
	int			level = HNSW_MAX_LEVEL;

	while (level > 0 &&
		   HnswNeighborTupleSize(m, level) + sizeof(ItemIdData) >
		   HnswPageCapacity())
		level--;
	return level;
}

/*
 * Draw a level from the exponential distribution of the HNSW paper, with
 * normalisation factor 1 / ln(m): each level holds about 1/m of the
 * elements of the level below.
 */
int
HnswRandomLevel(int m, int maxLevel)
{
	double		u;
	int			level;

#if PG_VERSION_NUM >= 150000
	u = pg_prng_double(&pg_global_prng_state);
#else
	u = (double) random() / ((double) MAX_RANDOM_VALUE + 1.0);
#endif
	/* u is in [0, 1); 1 - u is in (0, 1], so the logarithm is finite */
	level = (int) floor(-log(1.0 - u) / log((double) m));
	return Min(level, maxLevel);
}

/* ---- vectors and distances ---- */

/*
 * Copy a vector into the form the index stores.  For cosine that is the
 * unit vector; a zero vector has no direction, so it cannot be placed in a
 * cosine graph and the function returns false (the caller skips it).
 */
bool
HnswPrepareVector(HnswMetric metric, const float *in, int dim, float *out)
{
	memcpy(out, in, sizeof(float) * dim);
	if (metric == HNSW_METRIC_COSINE)
	{
		double		norm = sqrt((double) embed_dot(in, in, dim));

		if (norm == 0.0 || !isfinite(norm))
			return false;
		for (int i = 0; i < dim; i++)
			out[i] = (float) (in[i] / norm);
	}
	return true;
}

/*
 * The index's internal distance.  It orders pairs the same way as the
 * operator of the metric but is cheaper: squared L2 instead of L2, and for
 * cosine one dot product of stored unit vectors.
 */
float
HnswDistance(HnswMetric metric, const float *a, const float *b, int dim)
{
	switch (metric)
	{
		case HNSW_METRIC_L2:
			return embed_l2sq(a, b, dim);
		case HNSW_METRIC_IP:
			return -embed_dot(a, b, dim);
		case HNSW_METRIC_COSINE:
			return 1.0f - embed_dot(a, b, dim);
	}
	return 0.0f;				/* keep compiler quiet */
}

/* ---- binary heaps of (distance, index) ---- */

void
HnswHeapInit(HnswHeap *h, bool max, int cap)
{
	h->cap = Max(cap, 16);
	h->items = palloc(sizeof(HnswHeapItem) * h->cap);
	h->n = 0;
	h->max = max;
}

static inline bool
HnswHeapAbove(HnswHeap *h, float a, float b)
{
	return h->max ? a > b : a < b;
}

void
HnswHeapPush(HnswHeap *h, float dist, int32 idx)
{
	int			i;

	if (h->n == h->cap)
	{
		h->cap *= 2;
		h->items = repalloc(h->items, sizeof(HnswHeapItem) * h->cap);
	}
	i = h->n++;
	while (i > 0)
	{
		int			parent = (i - 1) / 2;

		if (!HnswHeapAbove(h, dist, h->items[parent].dist))
			break;
		h->items[i] = h->items[parent];
		i = parent;
	}
	h->items[i].dist = dist;
	h->items[i].idx = idx;
}

HnswHeapItem
HnswHeapPop(HnswHeap *h)
{
	HnswHeapItem top = h->items[0];
	HnswHeapItem last = h->items[--h->n];
	int			i = 0;

	for (;;)
	{
		int			child = 2 * i + 1;

		if (child >= h->n)
			break;
		if (child + 1 < h->n &&
			HnswHeapAbove(h, h->items[child + 1].dist, h->items[child].dist))
			child++;
		if (!HnswHeapAbove(h, h->items[child].dist, last.dist))
			break;
		h->items[i] = h->items[child];
		i = child;
	}
	if (h->n > 0)
		h->items[i] = last;
	return top;
}

/* ---- the search state ---- */

static inline uint64
HnswTidKey(ItemPointer tid)
{
	return ((uint64) ItemPointerGetBlockNumberNoCheck(tid) << 16) |
		ItemPointerGetOffsetNumberNoCheck(tid);
}

static inline uint32
HnswHashKey(uint64 key)
{
	return (uint32) ((key * UINT64CONST(0x9E3779B97F4A7C15)) >> 32);
}

static void
HnswHashGrow(HnswSearch *s)
{
	uint32		oldsize = s->hmask + 1;
	uint64	   *oldkeys = s->hkeys;
	int32	   *oldvals = s->hvals;
	uint32		newsize = oldsize * 2;

	s->hkeys = palloc(sizeof(uint64) * newsize);
	s->hvals = palloc(sizeof(int32) * newsize);
	memset(s->hvals, -1, sizeof(int32) * newsize);
	s->hmask = newsize - 1;
	for (uint32 i = 0; i < oldsize; i++)
	{
		uint32		h;

		if (oldvals[i] < 0)
			continue;
		h = HnswHashKey(oldkeys[i]) & s->hmask;
		while (s->hvals[h] >= 0)
			h = (h + 1) & s->hmask;
		s->hkeys[h] = oldkeys[i];
		s->hvals[h] = oldvals[i];
	}
	pfree(oldkeys);
	pfree(oldvals);
}

/*
 * A search for query (already prepared with HnswPrepareVector, or NULL when
 * the caller only walks the graph).  All memory is in the current context.
 */
HnswSearch *
HnswSearchCreate(Relation index, HnswMetric metric, int dim, int m,
				 const float *query, bool keepVectors)
{
	HnswSearch *s = palloc0(sizeof(HnswSearch));
	uint32		hsize = 1024;

	s->index = index;
	s->metric = metric;
	s->dim = dim;
	s->m = m;
	s->query = query;
	s->keepVectors = keepVectors;
	s->maxcands = 256;
	s->cands = palloc(sizeof(HnswCand) * s->maxcands);
	s->hkeys = palloc(sizeof(uint64) * hsize);
	s->hvals = palloc(sizeof(int32) * hsize);
	memset(s->hvals, -1, sizeof(int32) * hsize);
	s->hmask = hsize - 1;
	s->nbuf = palloc(sizeof(ItemPointerData) * HnswNeighborSlots(m, HNSW_MAX_LEVEL));
	s->ibuf = palloc(sizeof(int) * HnswNeighborSlots(m, HNSW_MAX_LEVEL));
	return s;
}

/*
 * Make room for n elements before the search grows its arrays step by
 * step (each step copies what it holds).  Only for a fresh search.
 */
void
HnswSearchReserve(HnswSearch *s, int n)
{
	uint32		hsize = s->hmask + 1;

	Assert(s->ncands == 0);
	if (n > s->maxcands)
	{
		s->maxcands = n;
		pfree(s->cands);
		s->cands = palloc(sizeof(HnswCand) * s->maxcands);
	}
	while (hsize < (uint32) n * 2 + 2)
		hsize *= 2;
	if (hsize != s->hmask + 1)
	{
		pfree(s->hkeys);
		pfree(s->hvals);
		s->hkeys = palloc(sizeof(uint64) * hsize);
		s->hvals = palloc(sizeof(int32) * hsize);
		memset(s->hvals, -1, sizeof(int32) * hsize);
		s->hmask = hsize - 1;
	}
}

/*
 * Is blkno an element page that exists?  The relation's size is asked of
 * the kernel only when the cached size is too small, since a search
 * checks every link it follows.
 */
static bool
HnswBlockInRange(HnswSearch *s, BlockNumber blkno)
{
	if (blkno == HNSW_METAPAGE_BLKNO || blkno == InvalidBlockNumber)
		return false;
	if (blkno >= s->nblocks)
		s->nblocks = RelationGetNumberOfBlocks(s->index);
	return blkno < s->nblocks;
}

static void
HnswCorrupt(Relation index, ItemPointer tid, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INDEX_CORRUPTED),
			 errmsg("index \"%s\" is corrupted: %s at (%u,%u)",
					RelationGetRelationName(index), what,
					ItemPointerGetBlockNumberNoCheck(tid),
					ItemPointerGetOffsetNumberNoCheck(tid))));
}

/*
 * Pinning a page through ReadBuffer looks its block up in the shared
 * buffer mapping table: a hash computation, a partition lock and, on a big
 * buffer pool, cache misses on the table, for every element a search
 * reads.  On data without locality (high-dimensional Gaussian) nearly
 * every element read is a page read, and that lookup was the largest
 * single cost of a scan.  So each backend remembers, per block of the
 * index, the buffer where it last found it, and tries ReadRecentBuffer
 * there first: that checks the buffer's tag under its header lock and pins
 * it, without the mapping table.  A stale guess (the page was evicted, the
 * index rewritten) fails the tag check and falls back to ReadBuffer, so
 * the guesses need no invalidation of their own.
 *
 * A pin taken that way does not raise the buffer's usage count, which the
 * clock sweep uses to keep hot pages; so one read in HNSW_RECENT_REFRESH
 * still goes through ReadBuffer, which does, and hot pages keep being
 * marked hot in proportion to their use.
 *
 * The guesses live in the index's relcache entry (rd_amcache, in
 * rd_indexcxt), which a relcache flush frees; so it is looked up anew on
 * every call and never kept in a local variable across calls.
 */
#define HNSW_RECENT_REFRESH		16

typedef struct HnswRecentBuffers
{
	BlockNumber size;			/* entries in bufs */
	uint32		reads;			/* counts reads, for HNSW_RECENT_REFRESH */
	Buffer		bufs[FLEXIBLE_ARRAY_MEMBER];	/* InvalidBuffer: no guess */
} HnswRecentBuffers;

static Buffer
HnswReadBufferRecent(Relation index, BlockNumber blkno)
{
	HnswRecentBuffers *rb;
	Buffer		buf;

	/* (ReadRecentBuffer is new in PostgreSQL 14) */
	if (RelationUsesLocalBuffers(index) || PG_VERSION_NUM < 140000)
		return ReadBuffer(index, blkno);

#if PG_VERSION_NUM >= 140000
	rb = (HnswRecentBuffers *) index->rd_amcache;
	if (rb != NULL && blkno < rb->size && BufferIsValid(rb->bufs[blkno]) &&
		++rb->reads % HNSW_RECENT_REFRESH != 0)
	{
		buf = rb->bufs[blkno];
#if PG_VERSION_NUM >= 160000
		if (ReadRecentBuffer(index->rd_locator, MAIN_FORKNUM, blkno, buf))
#else
		if (ReadRecentBuffer(index->rd_node, MAIN_FORKNUM, blkno, buf))
#endif
			return buf;
	}
#endif

	buf = ReadBuffer(index, blkno);

	/* remember it; ReadBuffer takes no heavyweight lock, rd_amcache holds */
	rb = (HnswRecentBuffers *) index->rd_amcache;
	if (rb == NULL || blkno >= rb->size)
	{
		BlockNumber newsize = Max(blkno + 1, 1024);
		HnswRecentBuffers *nrb;

		if (rb != NULL)
			newsize = Max(newsize, rb->size * 2);
		/* keep within a palloc chunk: 256 M blocks is more than any index */
		if (newsize > (MaxAllocSize - offsetof(HnswRecentBuffers, bufs)) /
			sizeof(Buffer))
			return buf;
		nrb = MemoryContextAllocZero(index->rd_indexcxt,
									 offsetof(HnswRecentBuffers, bufs) +
									 sizeof(Buffer) * newsize);
		nrb->size = newsize;
		nrb->reads = 0;
		if (rb != NULL)
		{
			memcpy(nrb->bufs, rb->bufs, sizeof(Buffer) * rb->size);
			pfree(rb);
		}
		index->rd_amcache = nrb;
		rb = nrb;
	}
	rb->bufs[blkno] = buf;
	return buf;
}

/*
 * The buffer where blkno was last seen, or InvalidBuffer: only a guess.
 */
static inline Buffer
HnswRecentGuess(Relation index, BlockNumber blkno)
{
	HnswRecentBuffers *rb = (HnswRecentBuffers *) index->rd_amcache;

	if (rb == NULL || blkno >= rb->size || RelationUsesLocalBuffers(index))
		return InvalidBuffer;
	return rb->bufs[blkno];
}

/*
 * Ask the CPU to start fetching what reading the element at off in the
 * guessed buffer will touch: the buffer header (pinning locks it) and the
 * page's line pointer.  Nothing is read, so a wrong guess costs only the
 * fetch.
 */
static inline void
HnswPrefetchHeader(Buffer guess, OffsetNumber off)
{
	if (!BufferIsValid(guess))
		return;
	__builtin_prefetch(GetBufferDescriptor(guess - 1));
	__builtin_prefetch(PageGetItemId((Page) BufferGetBlock(guess), off));
}

/*
 * Start fetching the element tuple itself.  Its place on the page comes
 * from the line pointer read without the buffer's lock: the value is used
 * only as an address to prefetch, never dereferenced, so a torn or stale
 * read (or a wrong guess) merely fetches the wrong lines.  The locked read
 * that follows checks everything as usual.
 */
static inline void
HnswPrefetchTuple(Buffer guess, OffsetNumber off, int dim)
{
	char	   *page;
	unsigned	lpoff;
	Size		len = HnswElementTupleSize(dim);

	/* a damaged link's offset must not send the read off the page */
	if (!BufferIsValid(guess) || off == InvalidOffsetNumber ||
		off > MaxIndexTuplesPerPage)
		return;
	page = (char *) BufferGetBlock(guess);
	lpoff = ((volatile ItemIdData *) PageGetItemId((Page) page, off))->lp_off;
	if (lpoff == 0 || lpoff + len > BLCKSZ)
		return;
	for (Size o = 0; o < len; o += 64)
		__builtin_prefetch(page + lpoff + o);
}

/*
 * Look tid up among the elements already met; returns its position in
 * s->cands or -1, and in *slot the hash slot where it would go.
 */
static inline int
HnswSearchFind(HnswSearch *s, uint64 key, uint32 *slot)
{
	uint32		h = HnswHashKey(key) & s->hmask;

	while (s->hvals[h] >= 0)
	{
		if (s->hkeys[h] == key)
			return s->hvals[h];
		h = (h + 1) & s->hmask;
	}
	*slot = h;
	return -1;
}

/*
 * Copy the element at tid out of a page we hold share-locked (the caller
 * checked that it is not known yet, slot from HnswSearchFind).  Its
 * distance to the query is computed on the page, so the vector is copied
 * only when the search keeps vectors.  On a bad link the buffer is
 * released before the error.
 */
static int
HnswLoadOnPage(HnswSearch *s, Buffer buf, ItemPointer tid, uint32 slot)
{
	Page		page = BufferGetPage(buf);
	OffsetNumber off = ItemPointerGetOffsetNumber(tid);
	ItemId		iid;
	HnswElementTuple etup;
	HnswCand   *c;
	int			idx;

	if (off > PageGetMaxOffsetNumber(page))
	{
		UnlockReleaseBuffer(buf);
		HnswCorrupt(s->index, tid, "link to a missing tuple");
	}
	iid = PageGetItemId(page, off);
	etup = (HnswElementTuple) PageGetItem(page, iid);
	if (!ItemIdIsNormal(iid) || etup->type != HNSW_TUPLE_ELEMENT)
	{
		UnlockReleaseBuffer(buf);
		HnswCorrupt(s->index, tid, "link to a tuple that is not an element");
	}

	if (s->ncands == s->maxcands)
	{
		s->maxcands *= 2;
		s->cands = repalloc_huge(s->cands, sizeof(HnswCand) * s->maxcands);
	}
	idx = s->ncands;
	c = &s->cands[idx];
	c->tid = *tid;
	c->ntid = etup->ntid;
	c->heaptid = etup->heaptid;
	c->level = etup->level;
	c->deleted = (etup->flags & HNSW_ELEMENT_DELETED) != 0;
	c->visitTag = 0;
	c->dist = s->query ? HnswDistance(s->metric, s->query, etup->vec, s->dim) : 0;
	c->vec = NULL;
	if (s->keepVectors)
	{
		c->vec = palloc(sizeof(float) * s->dim);
		memcpy(c->vec, etup->vec, sizeof(float) * s->dim);
	}
	s->ncands++;
	s->hkeys[slot] = HnswTidKey(tid);
	s->hvals[slot] = idx;
	if ((uint32) s->ncands * 2 > s->hmask)
		HnswHashGrow(s);
	return idx;
}

/*
 * Return the position in s->cands of the element at tid, reading its page
 * the first time the search meets it.
 */
int
HnswSearchLoad(HnswSearch *s, ItemPointer tid)
{
	uint32		slot;
	int			idx = HnswSearchFind(s, HnswTidKey(tid), &slot);
	Buffer		buf;

	if (idx >= 0)
		return idx;
	if (!HnswBlockInRange(s, ItemPointerGetBlockNumberNoCheck(tid)))
		HnswCorrupt(s->index, tid, "link to a block out of range");
	buf = HnswReadBufferRecent(s->index, ItemPointerGetBlockNumber(tid));
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	idx = HnswLoadOnPage(s, buf, tid, slot);
	UnlockReleaseBuffer(buf);
	return idx;
}

/*
 * HnswSearchLoad for n elements at once: each page holding some of those
 * not met yet is read once for all of them.  Writes their positions into
 * out.  (Pages are read in the list's order, not sorted: on data without
 * locality few pages hold two, and sorting cost more than it saved.)
 */
static void
HnswSearchLoadMany(HnswSearch *s, ItemPointerData *tids, int n, int *out)
{
	int			missing[2 * HNSW_MAX_M];
	BlockNumber mblk[2 * HNSW_MAX_M];
	Buffer		mguess[2 * HNSW_MAX_M];
	int			nmissing = 0;

	Assert(n <= 2 * HNSW_MAX_M);
	for (int i = 0; i < n; i++)
	{
		uint32		slot;

		out[i] = HnswSearchFind(s, HnswTidKey(&tids[i]), &slot);
		if (out[i] < 0)
		{
			BlockNumber blkno = ItemPointerGetBlockNumberNoCheck(&tids[i]);

			if (!HnswBlockInRange(s, blkno))
				HnswCorrupt(s->index, &tids[i], "link to a block out of range");
			missing[nmissing] = i;
			mguess[nmissing] = HnswRecentGuess(s->index, blkno);
			HnswPrefetchHeader(mguess[nmissing],
							   ItemPointerGetOffsetNumberNoCheck(&tids[i]));
			mblk[nmissing++] = blkno;
		}
	}

	/* InvalidBlockNumber (never in range) marks those already read */
	for (int j = 0; j < nmissing; j++)
	{
		BlockNumber blkno = mblk[j];
		Buffer		buf;

		if (blkno == InvalidBlockNumber)
			continue;
		/* the next one's tuple arrives while this one is worked on */
		for (int k = j + 1; k < nmissing; k++)
		{
			if (mblk[k] != blkno && mblk[k] != InvalidBlockNumber)
			{
				ItemPointer next = &tids[missing[k]];

				HnswPrefetchTuple(mguess[k],
								  ItemPointerGetOffsetNumberNoCheck(next),
								  s->dim);
				break;
			}
		}
		buf = HnswReadBufferRecent(s->index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		for (int k = j; k < nmissing; k++)
		{
			uint32		slot;
			int			i = missing[k];

			if (mblk[k] != blkno)
				continue;
			mblk[k] = InvalidBlockNumber;
			/* a list may name an element twice only if damaged; be safe */
			out[i] = HnswSearchFind(s, HnswTidKey(&tids[i]), &slot);
			if (out[i] < 0)
				out[i] = HnswLoadOnPage(s, buf, &tids[i], slot);
		}
		UnlockReleaseBuffer(buf);
	}
}

/*
 * Read a neighbour list from a page we hold locked: copies the valid
 * entries of level lc into out, returns how many.
 */
static int
HnswCopyList(HnswNeighborTuple ntup, int m, int lc, ItemPointerData *out)
{
	int			off = HnswListOffset(m, lc);
	int			cap = HnswListCapacity(m, lc);
	int			n = 0;

	while (n < cap && ItemPointerIsValid(&ntup->slots[off + n]))
	{
		out[n] = ntup->slots[off + n];
		n++;
	}
	return n;
}

/*
 * Locate the neighbour tuple of c on a locked page, or fail.
 */
static HnswNeighborTuple
HnswGetNeighborTuple(HnswSearch *s, Buffer buf, HnswCand *c, int lc)
{
	Page		page = BufferGetPage(buf);
	OffsetNumber off = ItemPointerGetOffsetNumber(&c->ntid);
	ItemId		iid;
	HnswNeighborTuple ntup;

	if (off > PageGetMaxOffsetNumber(page))
	{
		UnlockReleaseBuffer(buf);
		HnswCorrupt(s->index, &c->ntid, "missing neighbour tuple");
	}
	iid = PageGetItemId(page, off);
	ntup = (HnswNeighborTuple) PageGetItem(page, iid);
	if (!ItemIdIsNormal(iid) || ntup->type != HNSW_TUPLE_NEIGHBORS ||
		ntup->level != c->level || lc > c->level)
	{
		UnlockReleaseBuffer(buf);
		HnswCorrupt(s->index, &c->ntid, "bad neighbour tuple");
	}
	return ntup;
}

/*
 * The neighbours of c at level lc, copied into out; returns their number.
 */
int
HnswSearchNeighbors(HnswSearch *s, HnswCand *c, int lc, ItemPointerData *out)
{
	Buffer		buf;
	int			n;

	if (lc > c->level)
		return 0;
	if (!HnswBlockInRange(s, ItemPointerGetBlockNumberNoCheck(&c->ntid)))
		HnswCorrupt(s->index, &c->ntid, "neighbour tuple out of range");
	buf = HnswReadBufferRecent(s->index, ItemPointerGetBlockNumber(&c->ntid));
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	n = HnswCopyList(HnswGetNeighborTuple(s, buf, c, lc), s->m, lc, out);
	UnlockReleaseBuffer(buf);
	return n;
}

/*
 * The neighbours of cands[ci] at level lc, loaded: writes their positions
 * in s->cands into out and returns their number.
 *
 * XXX Copying each element's level-0 list when its page is read (so that
 * expanding it needs no page access) was tried and measured 20% slower per
 * query on both benchmark datasets: most elements read are never expanded,
 * and the copy costs cache misses on every one of them.
 */
int
HnswSearchExpand(HnswSearch *s, int ci, int lc, int *out)
{
	int			n = HnswSearchNeighbors(s, &s->cands[ci], lc, s->nbuf);

	HnswSearchLoadMany(s, s->nbuf, n, out);
	return n;
}

/*
 * The search of one layer (algorithm 2 of the HNSW paper): from the
 * entries, keep expanding the closest unexpanded element until the closest
 * candidate is farther than the ef-th best found.  Writes the best (at most
 * ef) into result, closest first, and returns their number.
 */
int
HnswSearchLayer(HnswSearch *s, int *entries, int nentries, int ef, int lc,
				int *result)
{
	HnswHeap	cand;
	HnswHeap	best;
	int			n;

	s->tag++;
	HnswHeapInit(&cand, false, ef * 2);
	HnswHeapInit(&best, true, ef + 1);
	for (int i = 0; i < nentries; i++)
	{
		HnswCand   *e = &s->cands[entries[i]];

		if (e->visitTag == s->tag)
			continue;
		e->visitTag = s->tag;
		HnswHeapPush(&cand, e->dist, entries[i]);
		HnswHeapPush(&best, e->dist, entries[i]);
		if (best.n > ef)
			HnswHeapPop(&best);
	}

	while (cand.n > 0)
	{
		HnswHeapItem c = HnswHeapPop(&cand);
		int			nn;

		if (best.n >= ef && c.dist > HnswHeapTop(&best).dist)
			break;
		nn = HnswSearchExpand(s, c.idx, lc, s->ibuf);
		for (int i = 0; i < nn; i++)
		{
			int			idx = s->ibuf[i];
			HnswCand   *e = &s->cands[idx];

			if (e->visitTag == s->tag)
				continue;
			e->visitTag = s->tag;
			if (best.n < ef || e->dist < HnswHeapTop(&best).dist)
			{
				HnswHeapPush(&cand, e->dist, idx);
				HnswHeapPush(&best, e->dist, idx);
				if (best.n > ef)
					HnswHeapPop(&best);
			}
		}
	}

	n = best.n;
	for (int i = n - 1; i >= 0; i--)
		result[i] = HnswHeapPop(&best).idx;
	pfree(cand.items);
	pfree(best.items);
	return n;
}

/*
 * Descent from the entry point down to level toLevel + 1, each level
 * searched from the closest elements of the one above, keeping its
 * HNSW_DESCENT_EF closest.  Writes those of level toLevel + 1 (the entries
 * for the search of level toLevel) into entries, closest first, and
 * returns their number: 0 if the index is empty.
 */
int
HnswSearchDescend(HnswSearch *s, HnswMetaPageData *meta, int toLevel,
				  int *entries)
{
	int			found[HNSW_DESCENT_EF];
	int			n;

	if (meta->entryLevel < 0 || !ItemPointerIsValid(&meta->entry))
		return 0;
	entries[0] = HnswSearchLoad(s, &meta->entry);
	n = 1;
	for (int lc = meta->entryLevel; lc > toLevel; lc--)
	{
		int			nfound = HnswSearchLayer(s, entries, n, HNSW_DESCENT_EF,
											 lc, found);

		if (nfound > 0)
		{
			memcpy(entries, found, sizeof(int) * nfound);
			n = nfound;
		}
	}
	return n;
}

/*
 * The neighbour selection heuristic (algorithm 4 of the HNSW paper): take
 * candidates closest first, and keep one only if it is closer to the base
 * than to every one kept before.  That keeps links in several directions
 * rather than a tight cluster, which is what makes the graph navigable.
 * dists[i] is the distance from base to vecs[i].  Writes the chosen
 * candidates' positions into chosen, closest first, then fills up with the
 * closest of those pruned; returns how many in all (at most keep) and, in
 * *ngood if not NULL, how many the heuristic itself chose.
 */
int
HnswSelectNeighbors(HnswMetric metric, int dim, const float *base,
					float **vecs, float *dists, int n, int keep, int *chosen,
					int *ngood)
{
	int		   *order = palloc(sizeof(int) * n);
	int			nchosen = 0;
	int			npruned = 0;

	/* insertion sort by distance: n is at most a few hundred */
	for (int i = 0; i < n; i++)
	{
		int			j = i;

		while (j > 0 && dists[order[j - 1]] > dists[i])
		{
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}

	for (int k = 0; k < n && nchosen < keep; k++)
	{
		int			i = order[k];
		bool		good = true;

		for (int r = 0; r < nchosen; r++)
		{
			if (HnswDistance(metric, vecs[i], vecs[chosen[r]], dim) < dists[i])
			{
				good = false;
				break;
			}
		}
		if (good)
			chosen[nchosen++] = i;
		else
			order[npruned++] = i;	/* k >= npruned: no clash */
	}

	/*
	 * Fill the list up with the closest of the pruned candidates.  The
	 * paper leaves this optional; full lists give the search more ways
	 * out of a cluster, which buys recall at small ef for a few more
	 * distance computations per hop.
	 */
	if (ngood)
		*ngood = nchosen;
	for (int k = 0; k < npruned && nchosen < keep; k++)
		chosen[nchosen++] = order[k];
	pfree(order);
	return nchosen;
}

/* ---- writing ---- */

/*
 * Add an element tuple and its neighbour tuple to an initialised page image
 * (registered with generic WAL), the neighbour tuple right after the
 * element, and fix up the element's ntid.
 */
static void
HnswAddPair(Relation index, Page page, BlockNumber blkno,
			HnswElementTuple etup, Size esize,
			HnswNeighborTuple ntup, Size nsize, ItemPointer etid,
			ItemPointer ntid)
{
	OffsetNumber eoff = OffsetNumberNext(PageGetMaxOffsetNumber(page));

	ItemPointerSet(&etup->ntid, blkno, OffsetNumberNext(eoff));
	if (PageAddItem(page, (Item) etup, esize, eoff, false, false) != eoff ||
		PageAddItem(page, (Item) ntup, nsize, OffsetNumberNext(eoff),
					false, false) != OffsetNumberNext(eoff))
		elog(ERROR, "failed to add tuples to index \"%s\"",
			 RelationGetRelationName(index));
	ItemPointerSet(etid, blkno, eoff);
	*ntid = etup->ntid;
}

static Buffer
HnswNewBuffer(Relation index)
{
	Buffer		buf;

	LockRelationForExtension(index, ExclusiveLock);
	buf = ReadBuffer(index, P_NEW);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	UnlockRelationForExtension(index, ExclusiveLock);
	return buf;
}

static void
HnswSetInsertPage(Relation index, BlockNumber blkno)
{
	Buffer		buf;
	GenericXLogState *state;
	Page		page;

	buf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	HnswPageGetMeta(page)->insertPage = blkno;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

/*
 * Store a new element and its (empty) neighbour tuple: on the insert page
 * when both fit there, else on a new page (two new pages when the vector
 * is so long that they cannot share one).  Sets etid and ntid.  The element
 * is unreachable until a neighbour or the metapage points at it, so the
 * page can be released before the graph is linked.
 */
bool
HnswPlaceTuples(Relation index, HnswElementTuple etup, Size esize,
				HnswNeighborTuple ntup, Size nsize, ItemPointer etid,
				ItemPointer ntid)
{
	HnswMetaPageData meta;
	Buffer		buf;
	Page		page;
	GenericXLogState *state;
	Size		need = esize + nsize + 2 * sizeof(ItemIdData);
	BlockNumber blkno;

	HnswReadMeta(index, &meta);
	blkno = meta.insertPage;
	if (BlockNumberIsValid(blkno) && blkno != HNSW_METAPAGE_BLKNO &&
		blkno < RelationGetNumberOfBlocks(index))
	{
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		if (PageGetExactFreeSpace(page) >= need)
		{
			state = GenericXLogStart(index);
			page = GenericXLogRegisterBuffer(state, buf, 0);
			HnswAddPair(index, page, blkno, etup, esize, ntup, nsize,
						etid, ntid);
			GenericXLogFinish(state);
			UnlockReleaseBuffer(buf);
			return true;
		}
		UnlockReleaseBuffer(buf);
	}

	buf = HnswNewBuffer(index);
	blkno = BufferGetBlockNumber(buf);
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
	HnswInitPage(page, HNSW_PAGE_ELEMENT);
	if (need <= HnswPageCapacity())
	{
		HnswAddPair(index, page, blkno, etup, esize, ntup, nsize, etid, ntid);
		GenericXLogFinish(state);
		UnlockReleaseBuffer(buf);
	}
	else
	{
		Buffer		nbuf;
		Page		npage;
		BlockNumber nblkno;
		OffsetNumber off;

		/* the neighbour tuple goes first on its own page */
		nbuf = HnswNewBuffer(index);
		nblkno = BufferGetBlockNumber(nbuf);
		npage = GenericXLogRegisterBuffer(state, nbuf, GENERIC_XLOG_FULL_IMAGE);
		HnswInitPage(npage, HNSW_PAGE_ELEMENT);
		off = PageAddItem(npage, (Item) ntup, nsize, FirstOffsetNumber,
						  false, false);
		ItemPointerSet(&etup->ntid, nblkno, off);
		off = PageAddItem(page, (Item) etup, esize, FirstOffsetNumber,
						  false, false);
		if (off != FirstOffsetNumber)
			elog(ERROR, "failed to add element to index \"%s\"",
				 RelationGetRelationName(index));
		ItemPointerSet(etid, blkno, off);
		*ntid = etup->ntid;
		GenericXLogFinish(state);
		UnlockReleaseBuffer(nbuf);
		UnlockReleaseBuffer(buf);
		blkno = nblkno;
	}
	HnswSetInsertPage(index, blkno);
	return true;
}

/*
 * Overwrite list lc of the neighbour tuple at ntid (page locked
 * exclusively by the caller and registered with generic WAL).
 */
static void
HnswWriteList(HnswNeighborTuple ntup, int m, int lc, ItemPointerData *list,
			  int n)
{
	int			off = HnswListOffset(m, lc);
	int			cap = HnswListCapacity(m, lc);

	for (int i = 0; i < cap; i++)
	{
		if (i < n)
			ntup->slots[off + i] = list[i];
		else
			ItemPointerSetInvalid(&ntup->slots[off + i]);
	}
}

static bool
HnswSameList(ItemPointerData *a, int na, ItemPointerData *b, int nb)
{
	if (na != nb)
		return false;
	for (int i = 0; i < na; i++)
		if (!ItemPointerEquals(&a[i], &b[i]))
			return false;
	return true;
}

/*
 * Replace list lc of candidate c with newlist, provided it still equals
 * oldlist.  Returns false if someone changed it in between.
 */
bool
HnswReplaceList(HnswSearch *s, HnswCand *c, int lc, ItemPointerData *oldlist,
				int nold, ItemPointerData *newlist, int nnew)
{
	Buffer		buf;
	Page		page;
	GenericXLogState *state;
	HnswNeighborTuple ntup;
	ItemPointerData *cur = palloc(sizeof(ItemPointerData) * HnswListCapacity(s->m, lc));
	int			ncur;

	buf = ReadBuffer(s->index, ItemPointerGetBlockNumber(&c->ntid));
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	ntup = HnswGetNeighborTuple(s, buf, c, lc);
	ncur = HnswCopyList(ntup, s->m, lc, cur);
	if (!HnswSameList(cur, ncur, oldlist, nold))
	{
		UnlockReleaseBuffer(buf);
		pfree(cur);
		return false;
	}
	state = GenericXLogStart(s->index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	ntup = (HnswNeighborTuple) PageGetItem(page,
										   PageGetItemId(page, ItemPointerGetOffsetNumber(&c->ntid)));
	HnswWriteList(ntup, s->m, lc, newlist, nnew);
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
	pfree(cur);
	return true;
}

/*
 * Add newTid to the level-lc list of the element s->cands[target].  When
 * the list is full, the heuristic picks among the old neighbours and the
 * new one, from the target's point of view (so the new link may not be
 * made).  Deleted neighbours are dropped on the way.  The search must keep
 * vectors.
 */
void
HnswLinkNeighbor(HnswSearch *s, int target, int lc, ItemPointer newTid,
				 const float *newVec)
{
	int			cap = HnswListCapacity(s->m, lc);
	ItemPointerData *old = palloc(sizeof(ItemPointerData) * (cap + 1));
	ItemPointerData *list = palloc(sizeof(ItemPointerData) * (cap + 1));
	float	  **vecs = palloc(sizeof(float *) * (cap + 1));
	float	   *dists = palloc(sizeof(float) * (cap + 1));
	int		   *chosen = palloc(sizeof(int) * (cap + 1));

	for (int attempt = 0; attempt < 5; attempt++)
	{
		HnswCand   *t = &s->cands[target];
		int			nold = HnswSearchNeighbors(s, t, lc, old);
		int			nnew = 0;
		bool		present = false;

		for (int i = 0; i < nold; i++)
			if (ItemPointerEquals(&old[i], newTid))
				present = true;
		if (present)
			break;

		if (nold < cap)
		{
			memcpy(list, old, sizeof(ItemPointerData) * nold);
			list[nold] = *newTid;
			nnew = nold + 1;
		}
		else
		{
			ItemPointerData *ctids = palloc(sizeof(ItemPointerData) * (cap + 1));
			int			n = 0;
			int			nchosen;

			for (int i = 0; i < nold; i++)
			{
				int			idx = HnswSearchLoad(s, &old[i]);

				t = &s->cands[target];	/* cands may have moved */
				if (s->cands[idx].deleted)
					continue;
				ctids[n] = old[i];
				vecs[n] = s->cands[idx].vec;
				dists[n] = HnswDistance(s->metric, t->vec, vecs[n], s->dim);
				n++;
			}
			ctids[n] = *newTid;
			vecs[n] = (float *) newVec;
			dists[n] = HnswDistance(s->metric, t->vec, newVec, s->dim);
			n++;
			nchosen = HnswSelectNeighbors(s->metric, s->dim, t->vec, vecs,
										  dists, n, cap, chosen, NULL);
			for (int i = 0; i < nchosen; i++)
				list[i] = ctids[chosen[i]];
			nnew = nchosen;
			pfree(ctids);
			if (HnswSameList(list, nnew, old, nold))
				break;
		}
		if (HnswReplaceList(s, &s->cands[target], lc, old, nold, list, nnew))
			break;
	}
	pfree(old);
	pfree(list);
	pfree(vecs);
	pfree(dists);
	pfree(chosen);
}

/*
 * Point the metapage at a new entry element (or at none, tid NULL).  The
 * mode says when: HNSW_ENTRY_IF_EMPTY only if the index has no entry yet
 * (the first insert; a concurrent one may have won), HNSW_ENTRY_IF_HIGHER
 * only above the current entry's level (a concurrent insert may have
 * raised it meanwhile), HNSW_ENTRY_ALWAYS unconditionally (VACUUM).
 * Returns whether the entry was changed.
 */
bool
HnswUpdateEntry(Relation index, ItemPointer tid, int level, int mode)
{
	Buffer		buf;
	Page		page;
	GenericXLogState *state;
	HnswMetaPage meta;

	buf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	meta = HnswPageGetMeta(BufferGetPage(buf));
	if ((mode == HNSW_ENTRY_IF_EMPTY && meta->entryLevel >= 0) ||
		(mode == HNSW_ENTRY_IF_HIGHER && level <= meta->entryLevel))
	{
		UnlockReleaseBuffer(buf);
		return false;
	}
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	meta = HnswPageGetMeta(page);
	if (tid)
	{
		meta->entry = *tid;
		meta->entryLevel = level;
	}
	else
	{
		ItemPointerSetInvalid(&meta->entry);
		meta->entryLevel = -1;
	}
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
	return true;
}

/*
 * Check a vector's dimension against the index's, recording it in the
 * metapage if this is the first vector.
 */
void
HnswCheckDim(Relation index, int dim)
{
	HnswMetaPageData meta;
	Buffer		buf;
	GenericXLogState *state;
	Page		page;

	HnswReadMeta(index, &meta);
	if (meta.dim == dim)
		return;
	if (meta.dim != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", meta.dim, dim)));

	buf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	if (HnswPageGetMeta(page)->dim == 0)
		HnswPageGetMeta(page)->dim = dim;
	meta.dim = HnswPageGetMeta(page)->dim;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
	if (meta.dim != dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", meta.dim, dim)));
}
