/*-------------------------------------------------------------------------
 *
 * hnsw.h
 *	  Shared definitions of the embed_hnsw index access method: the page
 *	  layout, the in-memory search state, and the functions each phase
 *	  (build, insert, scan, vacuum, check) offers the others.
 *
 * The on-disk format is described in src/hnsw/README.md; keep the two in
 * step.
 *
 * src/hnsw/hnsw.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef EMBED_HNSW_H
#define EMBED_HNSW_H

#include "access/amapi.h"
#include "access/generic_xlog.h"
#include "access/itup.h"
#include "access/reloptions.h"
#include "nodes/pathnodes.h"
#include "storage/bufmgr.h"
#include "utils/relcache.h"

/* ---- constants ---- */

#define HNSW_MAGIC				0x454D4857	/* "EMHW" */
#define HNSW_VERSION			1
#define HNSW_METAPAGE_BLKNO		0
#define HNSW_PAGE_ID			0xFE48

/* Reloption ranges. */
#define HNSW_DEFAULT_M			16
#define HNSW_MIN_M				2
#define HNSW_MAX_M				100
#define HNSW_DEFAULT_EF_CONSTRUCTION	64
#define HNSW_MIN_EF_CONSTRUCTION	4
#define HNSW_MAX_EF_CONSTRUCTION	1000

/* GUC ranges. */
#define HNSW_DEFAULT_EF_SEARCH	40
#define HNSW_MAX_EF_SEARCH		1000
#define HNSW_DEFAULT_MAX_SCAN_TUPLES	20000

/* No element is placed above this level (see HnswMaxLevel too). */
#define HNSW_MAX_LEVEL			16

/* The longest vector whose element tuple fits on a page: 2034 for 8 kB. */
#define HNSW_MAX_DIM \
	((int) ((HnswPageCapacity() - sizeof(ItemIdData) - \
			 offsetof(HnswElementTupleData, vec)) / sizeof(float4)) & ~1)

/* Support function numbers. */
#define HNSW_METRIC_PROC		1
#define HNSW_NPROCS				1

/* The metric an operator class asks for (the value of its support proc). */
typedef enum HnswMetric
{
	HNSW_METRIC_L2 = 1,			/* squared Euclidean inside, <-> outside */
	HNSW_METRIC_IP = 2,			/* minus the dot product, <#> */
	HNSW_METRIC_COSINE = 3		/* 1 - dot of unit vectors, <=> */
} HnswMetric;

/* Page flags (in the special space). */
#define HNSW_PAGE_META			0x0001
#define HNSW_PAGE_ELEMENT		0x0002

/* Tuple types: the first byte of every tuple on an element page. */
#define HNSW_TUPLE_ELEMENT		1
#define HNSW_TUPLE_NEIGHBORS	2

/*
 * Element flags.  DELETED: its heap tuple is gone (heaptid invalid); it is
 * walked through but never returned nor linked to.  REUSABLE (always with
 * DELETED): no neighbour list names it any more, so an insert may
 * overwrite it in place (see hnswvacuum.c).
 */
#define HNSW_ELEMENT_DELETED	0x01
#define HNSW_ELEMENT_REUSABLE	0x02

/* Build phases for pg_stat_progress_create_index. */
#define HNSW_PHASE_LOAD			2
#define HNSW_PHASE_WRITE		3

/* ---- page structures ---- */

typedef struct HnswPageOpaqueData
{
	uint16		flags;			/* HNSW_PAGE_* */
	uint16		page_id;		/* HNSW_PAGE_ID, for tools */
} HnswPageOpaqueData;

typedef HnswPageOpaqueData *HnswPageOpaque;

/*
 * The metapage lives right after the page header of block 0.  entryLevel is
 * -1 while the index is empty.  insertPage is where the next insert tries
 * to place its tuples first; it is only a hint.
 */
typedef struct HnswMetaPageData
{
	uint32		magic;
	uint32		version;
	uint16		dim;			/* 0 until the first vector is stored */
	uint16		m;
	uint16		efConstruction;
	uint8		metric;			/* HnswMetric */
	int8		entryLevel;
	ItemPointerData entry;		/* element tuple of the entry point */
	uint16		unused;
	BlockNumber insertPage;
} HnswMetaPageData;

typedef HnswMetaPageData *HnswMetaPage;

/*
 * An element: one indexed heap tuple.  The vector is stored as given (for
 * cosine: scaled to unit length), the neighbour lists in a separate tuple
 * at ntid, normally on the same page.
 */
typedef struct HnswElementTupleData
{
	uint8		type;			/* HNSW_TUPLE_ELEMENT */
	uint8		level;
	uint8		flags;			/* HNSW_ELEMENT_* */
	uint8		unused;
	ItemPointerData heaptid;	/* invalid once deleted */
	ItemPointerData ntid;		/* the neighbour tuple */
	float4		vec[FLEXIBLE_ARRAY_MEMBER];
} HnswElementTupleData;

typedef HnswElementTupleData *HnswElementTuple;

/*
 * The neighbour lists of one element: 2m slots for level 0, then m for
 * each level from 1 to the element's level.  Each list is packed from its
 * start; the first invalid item pointer ends it.
 */
typedef struct HnswNeighborTupleData
{
	uint8		type;			/* HNSW_TUPLE_NEIGHBORS */
	uint8		level;			/* the element's level */
	uint16		unused;
	ItemPointerData slots[FLEXIBLE_ARRAY_MEMBER];
} HnswNeighborTupleData;

typedef HnswNeighborTupleData *HnswNeighborTuple;

/* ---- macros ---- */

#define HnswPageGetOpaque(page) ((HnswPageOpaque) PageGetSpecialPointer(page))
#define HnswPageGetMeta(page)	((HnswMetaPage) PageGetContents(page))

/* The last item of an element page; InvalidOffsetNumber for other pages. */
static inline OffsetNumber
HnswElementPageMaxOffset(Page page)
{
	if (PageIsNew(page) ||
		HnswPageGetOpaque(page)->flags != HNSW_PAGE_ELEMENT)
		return InvalidOffsetNumber;
	return PageGetMaxOffsetNumber(page);
}
#define HnswElementTupleSize(dim) \
	MAXALIGN(offsetof(HnswElementTupleData, vec) + sizeof(float4) * (dim))
#define HnswListCapacity(m, lc) ((lc) == 0 ? 2 * (m) : (m))
#define HnswListOffset(m, lc)	((lc) == 0 ? 0 : 2 * (m) + ((lc) - 1) * (m))
#define HnswNeighborSlots(m, level) (2 * (m) + (level) * (m))
#define HnswNeighborTupleSize(m, level) \
	MAXALIGN(offsetof(HnswNeighborTupleData, slots) + \
			 sizeof(ItemPointerData) * HnswNeighborSlots(m, level))

/* Room for tuples on an empty element page, line pointers included. */
#define HnswPageCapacity() \
	(BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - \
	 MAXALIGN(sizeof(HnswPageOpaqueData)))

/* ---- options ---- */

typedef struct HnswOptions
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	int			m;
	int			efConstruction;
} HnswOptions;

/* ---- GUCs ---- */

typedef enum HnswIterativeScan
{
	HNSW_ITERATIVE_OFF,
	HNSW_ITERATIVE_RELAXED,
	HNSW_ITERATIVE_STRICT
} HnswIterativeScan;

extern int	hnsw_ef_search;
extern int	hnsw_iterative_scan;
extern int	hnsw_max_scan_tuples;

/* ---- search state (hnswutils.c) ---- */

/*
 * Elements kept on each level above the one searched (see
 * HnswSearchDescend).  The paper's descent is greedy (one); on 100 000 x
 * 128 vectors around 100 well-separated centres a greedy descent now and
 * then lands in the wrong cluster, and level 0 never leaves it: recall@10
 * 0.9646 / 0.9942 / 0.9962 at ef_search 40 / 160 / 320 with one, 0.9746 /
 * 0.9980 / 0.9982 with four, for 1-2% more time per query (Gaussian data:
 * no difference beyond noise).
 */
#define HNSW_DESCENT_EF		4

/* One element met during a search, with what the search learnt of it. */
typedef struct HnswCand
{
	ItemPointerData tid;		/* element tuple */
	ItemPointerData ntid;		/* its neighbour tuple */
	ItemPointerData heaptid;
	float		dist;			/* to the query */
	uint8		level;
	bool		deleted;
	uint32		visitTag;		/* == search->tag: seen in this layer */
	float	   *vec;			/* a copy, when the search keeps vectors */
} HnswCand;

/* A heap entry: a distance and an index into HnswSearch.cands. */
typedef struct HnswHeapItem
{
	float		dist;
	int32		idx;
} HnswHeapItem;

typedef struct HnswHeap
{
	HnswHeapItem *items;
	int			n;
	int			cap;
	bool		max;			/* max-heap when true, min-heap otherwise */
} HnswHeap;

typedef struct HnswSearch
{
	Relation	index;
	HnswMetric	metric;
	int			dim;
	int			m;
	const float *query;
	bool		keepVectors;
	uint32		tag;
	BlockNumber nblocks;		/* cached size of the index */

	HnswCand   *cands;
	int			ncands;
	int			maxcands;

	/* open-addressing hash: element TID -> index into cands, or -1 */
	uint64	   *hkeys;
	int32	   *hvals;
	uint32		hmask;

	/* layer-0 state kept between rounds of an iterative scan */
	HnswHeap	frontier;		/* min-heap of elements still to expand */
	HnswHeap	pending;		/* min-heap of found, not yet returned */
	int64		evaluated;		/* elements whose distance was computed */

	ItemPointerData *nbuf;		/* scratch for one neighbour list */
	int		   *ibuf;			/* scratch: its positions in cands */
} HnswSearch;

/* ---- hnsw.c ---- */
extern void HnswGetOptions(Relation index, int *m, int *efConstruction);
extern HnswMetric HnswGetMetric(Relation index);

/* ---- hnswutils.c ---- */
extern void HnswInitPage(Page page, uint16 flags);
extern void HnswInitMetaPage(Page page, int dim, int m, int efc,
							 HnswMetric metric);
extern void HnswReadMeta(Relation index, HnswMetaPageData *meta);
extern int	HnswMaxLevel(int m, int dim);
extern int	HnswRandomLevel(int m, int maxLevel);
extern bool HnswPrepareVector(HnswMetric metric, const float *in, int dim,
							  float *out);
extern float HnswDistance(HnswMetric metric, const float *a,
						  const float *b, int dim);
extern void HnswCheckDim(Relation index, int dim);

extern void HnswHeapInit(HnswHeap *h, bool max, int cap);
extern void HnswHeapPush(HnswHeap *h, float dist, int32 idx);
extern HnswHeapItem HnswHeapPop(HnswHeap *h);
#define HnswHeapTop(h) ((h)->items[0])

extern HnswSearch *HnswSearchCreate(Relation index, HnswMetric metric,
									int dim, int m, const float *query,
									bool keepVectors);
extern void HnswSearchReserve(HnswSearch *s, int n);
extern int	HnswSearchLoad(HnswSearch *s, ItemPointer tid);
extern int	HnswSearchNeighbors(HnswSearch *s, HnswCand *c, int lc,
								ItemPointerData *out);
extern int	HnswSearchExpand(HnswSearch *s, int ci, int lc, int *out);
extern int	HnswSearchLayer(HnswSearch *s, int *entries, int nentries,
							int ef, int lc, int *result);
extern int	HnswSearchDescend(HnswSearch *s, HnswMetaPageData *meta,
							  int toLevel, int *entries);
extern int	HnswSelectNeighbors(HnswMetric metric, int dim,
								const float *base, float **vecs,
								float *dists, int n, int keep, int *chosen,
								int *ngood);
extern bool HnswPlaceTuples(Relation index, HnswElementTuple etup,
							Size esize, HnswNeighborTuple ntup, Size nsize,
							ItemPointer etid, ItemPointer ntid);
extern bool HnswReplaceList(HnswSearch *s, HnswCand *c, int lc,
							ItemPointerData *oldlist, int nold,
							ItemPointerData *newlist, int nnew);
extern void HnswLinkNeighbor(HnswSearch *s, int target, int lc,
							 ItemPointer newTid, const float *newVec);
extern bool HnswUpdateEntry(Relation index, ItemPointer tid, int level,
							int mode);

/* ---- hnswreach.c ---- */

/* The elements of an index and which of them level 0 reaches. */
typedef struct HnswReach
{
	Relation	index;
	BufferAccessStrategy strategy;	/* VACUUM's, or NULL */
	int			m;
	BlockNumber nblocks;
	int			nelems;			/* elements that are not reusable */
	uint64	   *keys;			/* their TIDs, block << 16 | offset, sorted */
	int		   *blockStart;		/* nblocks + 1: first element of each block */
	ItemPointerData *ntids;		/* their neighbour tuples */
	uint8	   *flags;			/* HNSW_REACH_* */
	int		   *queue;			/* of the walk */
	int			entry;			/* position of the entry point, or -1 */
} HnswReach;

#define HNSW_REACH_DELETED	0x01
#define HNSW_REACH_REACHED	0x02

extern HnswReach *HnswReachCompute(Relation index,
								   BufferAccessStrategy strategy,
								   Size limit);
extern int	HnswReachFind(HnswReach *r, ItemPointer tid);
extern void HnswReachWalk(HnswReach *r, int start);
extern int	HnswRelinkUnreachable(Relation index,
								  BufferAccessStrategy strategy,
								  Size limit);

/* modes of HnswUpdateEntry */
#define HNSW_ENTRY_IF_EMPTY		1	/* only when the index has none */
#define HNSW_ENTRY_IF_HIGHER	2	/* only above the current entry level */
#define HNSW_ENTRY_ALWAYS		3

/* ---- hnswinsert.c ---- */
extern bool hnswinsert(Relation index, Datum *values, bool *isnull,
					   ItemPointer heap_tid, Relation heap,
					   IndexUniqueCheck checkUnique,
#if PG_VERSION_NUM >= 140000
					   bool indexUnchanged,
#endif
					   struct IndexInfo *indexInfo);
extern void HnswInsertVector(Relation index, HnswMetric metric, int m,
							 int efc, const float *vec, int dim,
							 ItemPointer heaptid);

/* ---- hnswbuild.c ---- */
extern IndexBuildResult *hnswbuild(Relation heap, Relation index,
								   struct IndexInfo *indexInfo);
extern void hnswbuildempty(Relation index);
extern char *hnswbuildphasename(int64 phasenum);

/* ---- hnswscan.c ---- */
extern IndexScanDesc hnswbeginscan(Relation index, int nkeys, int norderbys);
extern void hnswrescan(IndexScanDesc scan, ScanKey keys, int nkeys,
					   ScanKey orderbys, int norderbys);
extern bool hnswgettuple(IndexScanDesc scan, ScanDirection dir);
extern void hnswendscan(IndexScanDesc scan);

/* ---- hnswvacuum.c ---- */
extern IndexBulkDeleteResult *hnswbulkdelete(IndexVacuumInfo *info,
											 IndexBulkDeleteResult *stats,
											 IndexBulkDeleteCallback callback,
											 void *callback_state);
extern IndexBulkDeleteResult *hnswvacuumcleanup(IndexVacuumInfo *info,
												IndexBulkDeleteResult *stats);

#endif							/* EMBED_HNSW_H */
