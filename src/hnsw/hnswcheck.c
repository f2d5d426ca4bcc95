/*-------------------------------------------------------------------------
 *
 * hnswcheck.c
 *	  embed_hnsw_check(regclass): read every page of an embed_hnsw index and
 *	  report what is wrong with it, one row per problem.
 *
 * The check holds AccessShareLock on the index, so it runs beside inserts
 * and scans.  It reads each page under a share lock, first to learn where
 * every element and neighbour tuple is, then again to follow every link.
 * Under concurrent inserts it may see a link to an element added after
 * its first pass; run it on a quiet index for a definite answer.
 *
 * Reported: pages that are not ours; tuples of unknown type; elements
 * whose size does not match the dimension, whose neighbour tuple is
 * missing or of another level, or whose deleted flag and heap TID
 * disagree; links that lead nowhere or to something that is not an
 * element, to an element of a lower level than the list, to the element
 * itself, or twice from one list; gaps inside a list; an entry point that
 * is missing, deleted or not of the recorded level; and, when nothing else
 * is wrong, live elements that no level-0 path from the entry point
 * reaches.  Links to deleted elements are not problems: they exist by
 * design until the next VACUUM.
 *
 * src/hnsw/hnswcheck.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/index.h"
#include "catalog/pg_class.h"
#include "funcapi.h"
#include "hnsw.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

typedef struct CheckState
{
	Tuplestorestate *store;
	TupleDesc	desc;
	int64		nproblems;

	/* sorted by key, from pass 1 */
	uint64	   *ekeys;			/* element tuples */
	uint8	   *elevels;
	bool	   *edeleted;
	int			nelems;
	uint64	   *nkeys;			/* neighbour tuples */
	uint8	   *nlevels;
	uint64	   *nowner;			/* the element naming it, or 0 */
	int			nneigh;
	int			maxelems;
	int			maxneigh;
} CheckState;

static void
Report(CheckState *cs, BlockNumber blkno, OffsetNumber off, const char *fmt,...)
	pg_attribute_printf(4, 5);

static void
Report(CheckState *cs, BlockNumber blkno, OffsetNumber off, const char *fmt,...)
{
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	char		buf[256];
	va_list		args;

	va_start(args, fmt);
	vsnprintf(buf, sizeof(buf), fmt, args);
	va_end(args);
	values[0] = Int64GetDatum((int64) blkno);
	values[1] = Int32GetDatum((int32) off);
	nulls[1] = (off == InvalidOffsetNumber);
	values[2] = CStringGetTextDatum(buf);
	tuplestore_putvalues(cs->store, cs->desc, values, nulls);
	cs->nproblems++;
}

static inline uint64
Key(BlockNumber blkno, OffsetNumber off)
{
	return ((uint64) blkno << 16) | off;
}

static int
Find(uint64 *keys, int n, uint64 key)
{
	int			lo = 0;
	int			hi = n - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;

		if (keys[mid] == key)
			return mid;
		if (keys[mid] < key)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/*
 * Pass 1: where the elements and neighbour tuples are; problems of single
 * pages and tuples.
 */
static void
CheckPass1(CheckState *cs, Relation index, HnswMetaPageData *meta)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);

	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		OffsetNumber maxoff;

		CHECK_FOR_INTERRUPTS();
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (PageIsNew(page))
		{
			UnlockReleaseBuffer(buf);
			continue;
		}
		if (PageGetSpecialSize(page) != MAXALIGN(sizeof(HnswPageOpaqueData)) ||
			HnswPageGetOpaque(page)->page_id != HNSW_PAGE_ID ||
			HnswPageGetOpaque(page)->flags != HNSW_PAGE_ELEMENT)
		{
			UnlockReleaseBuffer(buf);
			Report(cs, blkno, InvalidOffsetNumber, "not an element page");
			continue;
		}
		maxoff = PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			ItemId		iid = PageGetItemId(page, off);
			uint8		type;

			if (!ItemIdIsNormal(iid))
			{
				Report(cs, blkno, off, "unused line pointer");
				continue;
			}
			type = *(uint8 *) PageGetItem(page, iid);
			if (type == HNSW_TUPLE_ELEMENT)
			{
				HnswElementTuple etup = (HnswElementTuple) PageGetItem(page, iid);
				bool		deleted = (etup->flags & HNSW_ELEMENT_DELETED) != 0;

				if (ItemIdGetLength(iid) != HnswElementTupleSize(meta->dim))
					Report(cs, blkno, off,
						   "element of %u bytes, expected %zu for %d dimensions",
						   ItemIdGetLength(iid),
						   HnswElementTupleSize(meta->dim), meta->dim);
				if (deleted == ItemPointerIsValid(&etup->heaptid))
					Report(cs, blkno, off, deleted ?
						   "deleted element with a heap TID" :
						   "live element without a heap TID");
				if (etup->level > HNSW_MAX_LEVEL)
					Report(cs, blkno, off, "element level %d above the maximum %d",
						   etup->level, HNSW_MAX_LEVEL);
				if (cs->nelems == cs->maxelems)
				{
					cs->maxelems *= 2;
					cs->ekeys = repalloc_huge(cs->ekeys, sizeof(uint64) * cs->maxelems);
					cs->elevels = repalloc_huge(cs->elevels, cs->maxelems);
					cs->edeleted = repalloc_huge(cs->edeleted, cs->maxelems);
				}
				cs->ekeys[cs->nelems] = Key(blkno, off);
				cs->elevels[cs->nelems] = etup->level;
				cs->edeleted[cs->nelems] = deleted;
				cs->nelems++;
			}
			else if (type == HNSW_TUPLE_NEIGHBORS)
			{
				HnswNeighborTuple ntup = (HnswNeighborTuple) PageGetItem(page, iid);

				if (ItemIdGetLength(iid) != HnswNeighborTupleSize(meta->m, ntup->level))
					Report(cs, blkno, off,
						   "neighbour tuple of %u bytes, expected %zu",
						   ItemIdGetLength(iid),
						   HnswNeighborTupleSize(meta->m, ntup->level));
				if (cs->nneigh == cs->maxneigh)
				{
					cs->maxneigh *= 2;
					cs->nkeys = repalloc_huge(cs->nkeys, sizeof(uint64) * cs->maxneigh);
					cs->nlevels = repalloc_huge(cs->nlevels, cs->maxneigh);
					cs->nowner = repalloc_huge(cs->nowner, sizeof(uint64) * cs->maxneigh);
				}
				cs->nkeys[cs->nneigh] = Key(blkno, off);
				cs->nlevels[cs->nneigh] = ntup->level;
				cs->nowner[cs->nneigh] = 0;
				cs->nneigh++;
			}
			else
				Report(cs, blkno, off, "tuple of unknown type %d", type);
		}
		UnlockReleaseBuffer(buf);
	}
}

/*
 * Pass 2: the links.  First each element's neighbour tuple, then every
 * list of every neighbour tuple.
 */
static void
CheckPass2(CheckState *cs, Relation index, HnswMetaPageData *meta)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);

	for (int pass = 0; pass < 2; pass++)
	{
		for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
		{
			Buffer		buf;
			Page		page;
			OffsetNumber maxoff;

			CHECK_FOR_INTERRUPTS();
			buf = ReadBuffer(index, blkno);
			LockBuffer(buf, BUFFER_LOCK_SHARE);
			page = BufferGetPage(buf);
			if (PageIsNew(page) ||
				PageGetSpecialSize(page) != MAXALIGN(sizeof(HnswPageOpaqueData)) ||
				HnswPageGetOpaque(page)->page_id != HNSW_PAGE_ID)
			{
				UnlockReleaseBuffer(buf);
				continue;
			}
			maxoff = PageGetMaxOffsetNumber(page);
			for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
			{
				ItemId		iid = PageGetItemId(page, off);
				uint8		type;

				if (!ItemIdIsNormal(iid))
					continue;
				type = *(uint8 *) PageGetItem(page, iid);
				if (pass == 0 && type == HNSW_TUPLE_ELEMENT)
				{
					HnswElementTuple etup = (HnswElementTuple) PageGetItem(page, iid);
					int			ni = Find(cs->nkeys, cs->nneigh,
										  Key(ItemPointerGetBlockNumberNoCheck(&etup->ntid),
											  ItemPointerGetOffsetNumberNoCheck(&etup->ntid)));

					if (ni < 0)
						Report(cs, blkno, off, "neighbour tuple (%u,%u) missing",
							   ItemPointerGetBlockNumberNoCheck(&etup->ntid),
							   ItemPointerGetOffsetNumberNoCheck(&etup->ntid));
					else if (cs->nlevels[ni] != etup->level)
						Report(cs, blkno, off,
							   "neighbour tuple of level %d for an element of level %d",
							   cs->nlevels[ni], etup->level);
					else if (cs->nowner[ni] != 0)
						Report(cs, blkno, off, "neighbour tuple shared with another element");
					else
						cs->nowner[ni] = Key(blkno, off);
				}
				else if (pass == 1 && type == HNSW_TUPLE_NEIGHBORS)
				{
					HnswNeighborTuple ntup = (HnswNeighborTuple) PageGetItem(page, iid);
					int			ni = Find(cs->nkeys, cs->nneigh, Key(blkno, off));
					uint64		owner = cs->nowner[ni];

					if (owner == 0)
					{
						Report(cs, blkno, off, "neighbour tuple of no element");
						continue;
					}
					if (ItemIdGetLength(iid) < HnswNeighborTupleSize(meta->m, ntup->level))
						continue;	/* reported in pass 1 */
					for (int lc = 0; lc <= ntup->level; lc++)
					{
						int			base = HnswListOffset(meta->m, lc);
						int			cap = HnswListCapacity(meta->m, lc);
						bool		ended = false;

						for (int i = 0; i < cap; i++)
						{
							ItemPointer t = &ntup->slots[base + i];
							uint64		key;
							int			ei;

							if (!ItemPointerIsValid(t))
							{
								ended = true;
								continue;
							}
							if (ended)
							{
								Report(cs, blkno, off, "gap in the list of level %d", lc);
								ended = false;
							}
							key = Key(ItemPointerGetBlockNumberNoCheck(t),
									  ItemPointerGetOffsetNumberNoCheck(t));
							ei = Find(cs->ekeys, cs->nelems, key);
							if (ei < 0)
								Report(cs, blkno, off,
									   "level %d links to (%u,%u), which is not an element",
									   lc, ItemPointerGetBlockNumberNoCheck(t),
									   ItemPointerGetOffsetNumberNoCheck(t));
							else if (cs->elevels[ei] < lc)
								Report(cs, blkno, off,
									   "level %d links to (%u,%u) of level %d",
									   lc, ItemPointerGetBlockNumberNoCheck(t),
									   ItemPointerGetOffsetNumberNoCheck(t),
									   cs->elevels[ei]);
							if (key == owner)
								Report(cs, blkno, off, "level %d links to its own element", lc);
							for (int j = 0; j < i; j++)
								if (ItemPointerEquals(t, &ntup->slots[base + j]))
									Report(cs, blkno, off,
										   "level %d links to (%u,%u) twice", lc,
										   ItemPointerGetBlockNumberNoCheck(t),
										   ItemPointerGetOffsetNumberNoCheck(t));
						}
					}
				}
			}
			UnlockReleaseBuffer(buf);
		}
	}

	/* the entry point */
	if (meta->entryLevel >= 0)
	{
		int			ei = Find(cs->ekeys, cs->nelems,
							  Key(ItemPointerGetBlockNumberNoCheck(&meta->entry),
								  ItemPointerGetOffsetNumberNoCheck(&meta->entry)));

		if (ei < 0)
			Report(cs, HNSW_METAPAGE_BLKNO, InvalidOffsetNumber,
				   "entry point (%u,%u) is not an element",
				   ItemPointerGetBlockNumberNoCheck(&meta->entry),
				   ItemPointerGetOffsetNumberNoCheck(&meta->entry));
		else
		{
			if (cs->elevels[ei] != meta->entryLevel)
				Report(cs, HNSW_METAPAGE_BLKNO, InvalidOffsetNumber,
					   "entry point has level %d, the metapage says %d",
					   cs->elevels[ei], meta->entryLevel);
			if (cs->edeleted[ei])
				Report(cs, HNSW_METAPAGE_BLKNO, InvalidOffsetNumber,
					   "entry point is deleted");
			for (int i = 0; i < cs->nelems; i++)
				if (!cs->edeleted[i] && cs->elevels[i] > meta->entryLevel)
				{
					Report(cs, (BlockNumber) (cs->ekeys[i] >> 16),
						   (OffsetNumber) (cs->ekeys[i] & 0xFFFF),
						   "element of level %d above the entry point's %d",
						   cs->elevels[i], meta->entryLevel);
					break;
				}
		}
	}
	else
	{
		for (int i = 0; i < cs->nelems; i++)
			if (!cs->edeleted[i])
			{
				Report(cs, HNSW_METAPAGE_BLKNO, InvalidOffsetNumber,
					   "live elements but no entry point");
				break;
			}
	}
}

/*
 * Pass 3, on an index without other problems: live elements that no
 * level-0 path from the entry point leads to, which no search can return
 * (VACUUM links them again; see hnswreach.c).
 */
static void
CheckReach(CheckState *cs, Relation index)
{
	HnswReach  *r = HnswReachCompute(index, NULL, 0);

	if (r->entry < 0)
		return;					/* reported with the entry point */
	for (int i = 0; i < r->nelems; i++)
		if (!(r->flags[i] & (HNSW_REACH_REACHED | HNSW_REACH_DELETED)))
			Report(cs, (BlockNumber) (r->keys[i] >> 16),
				   (OffsetNumber) (r->keys[i] & 0xFFFF),
				   "element not reachable from the entry point");
}

PG_FUNCTION_INFO_V1(embed_hnsw_check);
Datum
embed_hnsw_check(PG_FUNCTION_ARGS)
{
	Oid			indexoid = PG_GETARG_OID(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Relation	index;
	Oid			heapoid;
	CheckState	cs;
	HnswMetaPageData meta;
	Buffer		buf;
	HnswMetaPage m;

	memset(&cs, 0, sizeof(cs));
#if PG_VERSION_NUM >= 150000
	InitMaterializedSRF(fcinfo, 0);
	cs.store = rsinfo->setResult;
	cs.desc = rsinfo->setDesc;
#else
	{
		MemoryContext oldcxt;

		if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
			!(rsinfo->allowedModes & SFRM_Materialize))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("set-valued function called in context that cannot accept a set")));
		oldcxt = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
		if (get_call_result_type(fcinfo, NULL, &cs.desc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "return type must be a row type");
		cs.desc = CreateTupleDescCopy(cs.desc);
		cs.store = tuplestore_begin_heap(true, false, work_mem);
		rsinfo->returnMode = SFRM_Materialize;
		rsinfo->setResult = cs.store;
		rsinfo->setDesc = cs.desc;
		MemoryContextSwitchTo(oldcxt);
	}
#endif

	/*
	 * Check the caller's right to read the table before taking any lock on
	 * the index, and report a missing relation as such rather than as an
	 * internal error.
	 */
	heapoid = IndexGetRelation(indexoid, true);
	if (!OidIsValid(heapoid))
	{
		char	   *name = get_rel_name(indexoid);

		if (name == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("relation with OID %u does not exist", indexoid)));
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an embed_hnsw index", name)));
	}
	if (pg_class_aclcheck(heapoid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s", get_rel_name(heapoid))));

	index = try_relation_open(indexoid, AccessShareLock);
	if (index == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", indexoid)));
	if (index->rd_rel->relkind != RELKIND_INDEX ||
		index->rd_indam == NULL || index->rd_indam->ambuild != hnswbuild)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an embed_hnsw index",
						RelationGetRelationName(index))));

	buf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	m = HnswPageGetMeta(BufferGetPage(buf));
	memcpy(&meta, m, sizeof(meta));
	UnlockReleaseBuffer(buf);
	if (meta.magic != HNSW_MAGIC || meta.version != HNSW_VERSION)
	{
		Report(&cs, HNSW_METAPAGE_BLKNO, InvalidOffsetNumber,
			   "bad metapage (magic %08x, version %u)", meta.magic, meta.version);
		relation_close(index, AccessShareLock);
		return (Datum) 0;
	}
	if (meta.m < HNSW_MIN_M || meta.m > HNSW_MAX_M)
	{
		Report(&cs, HNSW_METAPAGE_BLKNO, InvalidOffsetNumber,
			   "metapage m %d out of range", meta.m);
		relation_close(index, AccessShareLock);
		return (Datum) 0;
	}

	cs.maxelems = 1024;
	cs.ekeys = palloc(sizeof(uint64) * cs.maxelems);
	cs.elevels = palloc(cs.maxelems);
	cs.edeleted = palloc(cs.maxelems);
	cs.maxneigh = 1024;
	cs.nkeys = palloc(sizeof(uint64) * cs.maxneigh);
	cs.nlevels = palloc(cs.maxneigh);
	cs.nowner = palloc(sizeof(uint64) * cs.maxneigh);

	CheckPass1(&cs, index, &meta);
	CheckPass2(&cs, index, &meta);
	if (cs.nproblems == 0)
		CheckReach(&cs, index);

	relation_close(index, AccessShareLock);
	return (Datum) 0;
}
