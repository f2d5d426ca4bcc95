/*-------------------------------------------------------------------------
 *
 * hnsw.c
 *	  The embed_hnsw index access method: its handler, options, settings,
 *	  cost estimate and operator class validation.
 *
 * embed_hnsw is a hierarchical navigable small world graph (Malkov and
 * Yashunin, 2016) kept in index pages.  The work is split by phase, as in
 * PostgreSQL's contrib/bloom: hnswbuild.c (CREATE INDEX), hnswinsert.c,
 * hnswscan.c, hnswvacuum.c, hnswcheck.c (the structure check), and
 * hnswutils.c (pages, distances, the search on disk).  README.md in this
 * directory describes the design and the page format.
 *
 * src/hnsw/hnsw.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/amvalidate.h"
#include "access/htup_details.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_opclass.h"
#include "commands/vacuum.h"
#include "embed.h"
#include "hnsw.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "utils/guc.h"
#include "utils/selfuncs.h"
#include "utils/spccache.h"
#include "utils/syscache.h"

int			hnsw_ef_search = HNSW_DEFAULT_EF_SEARCH;
int			hnsw_iterative_scan = HNSW_ITERATIVE_OFF;
int			hnsw_max_scan_tuples = HNSW_DEFAULT_MAX_SCAN_TUPLES;

static relopt_kind hnsw_relopt_kind;

static const struct config_enum_entry iterative_scan_options[] = {
	{"off", HNSW_ITERATIVE_OFF, false},
	{"relaxed_order", HNSW_ITERATIVE_RELAXED, false},
	{"strict_order", HNSW_ITERATIVE_STRICT, false},
	{NULL, 0, false}
};

/*
 * Load-time set-up: the reloptions and the settings.  Called from
 * _PG_init.
 */
void
EmbedHnswInit(void)
{
	hnsw_relopt_kind = add_reloption_kind();
	add_int_reloption(hnsw_relopt_kind, "m",
					  "Links each element keeps per level (twice that on level 0)",
					  HNSW_DEFAULT_M, HNSW_MIN_M, HNSW_MAX_M,
					  AccessExclusiveLock);
	add_int_reloption(hnsw_relopt_kind, "ef_construction",
					  "Candidates considered when linking a new element",
					  HNSW_DEFAULT_EF_CONSTRUCTION, HNSW_MIN_EF_CONSTRUCTION,
					  HNSW_MAX_EF_CONSTRUCTION, AccessExclusiveLock);

	DefineCustomIntVariable("embed.ef_search",
							"Candidates an embed_hnsw scan keeps: larger finds more true neighbours, slower.",
							"A scan returns at most this many rows unless embed.iterative_scan is on.",
							&hnsw_ef_search,
							HNSW_DEFAULT_EF_SEARCH, 1, HNSW_MAX_EF_SEARCH,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("embed.iterative_scan",
							 "Whether an embed_hnsw scan goes on past embed.ef_search rows.",
							 "relaxed_order returns further rows in batches, and a row of a later batch may be closer than one of an earlier batch; strict_order skips such rows, so that rows come in order of distance.",
							 &hnsw_iterative_scan,
							 HNSW_ITERATIVE_OFF, iterative_scan_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("embed.max_scan_tuples",
							"Elements an iterative embed_hnsw scan may visit before it stops.",
							NULL,
							&hnsw_max_scan_tuples,
							HNSW_DEFAULT_MAX_SCAN_TUPLES, 1, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
}

/*
 * amoptions
 */
static bytea *
hnswoptions(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {
		{"m", RELOPT_TYPE_INT, offsetof(HnswOptions, m)},
		{"ef_construction", RELOPT_TYPE_INT,
		offsetof(HnswOptions, efConstruction)},
	};

	return (bytea *) build_reloptions(reloptions, validate,
									  hnsw_relopt_kind,
									  sizeof(HnswOptions),
									  tab, lengthof(tab));
}

/*
 * The index's options, defaults where unset.  Either output may be NULL.
 */
void
HnswGetOptions(Relation index, int *m, int *efConstruction)
{
	HnswOptions *opts = (HnswOptions *) index->rd_options;

	if (m)
		*m = opts ? opts->m : HNSW_DEFAULT_M;
	if (efConstruction)
		*efConstruction = opts ? opts->efConstruction :
			HNSW_DEFAULT_EF_CONSTRUCTION;
}

/*
 * The metric of the index's operator class: its support function 1
 * returns it.
 */
HnswMetric
HnswGetMetric(Relation index)
{
	FmgrInfo   *proc = index_getprocinfo(index, 1, HNSW_METRIC_PROC);
	int32		metric = DatumGetInt32(FunctionCall1(proc, PointerGetDatum(NULL)));

	if (metric < HNSW_METRIC_L2 || metric > HNSW_METRIC_COSINE)
		elog(ERROR, "embed_hnsw operator class returned unknown metric %d",
			 metric);
	return (HnswMetric) metric;
}

/*
 * The support functions of the operator classes: each names its metric.
 */
PG_FUNCTION_INFO_V1(embed_hnsw_metric_l2);
Datum
embed_hnsw_metric_l2(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(HNSW_METRIC_L2);
}

PG_FUNCTION_INFO_V1(embed_hnsw_metric_ip);
Datum
embed_hnsw_metric_ip(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(HNSW_METRIC_IP);
}

PG_FUNCTION_INFO_V1(embed_hnsw_metric_cosine);
Datum
embed_hnsw_metric_cosine(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(HNSW_METRIC_COSINE);
}

/*
 * amcostestimate
 *
 * The index only serves ORDER BY; without one it must never be chosen.
 * With one, a search computes the distance of about ef_search * 2m
 * elements (every expanded candidate's level-0 list, about ef_search
 * expansions), reading as many element tuples, and all of that happens
 * before the first row comes out, so it is startup cost.  The heap
 * fetches are charged by the planner per row returned, which LIMIT cuts
 * down.  On a small table the estimate reaches every tuple and a
 * sequential scan with a top-N sort wins, as it should.
 */
static void
hnswcostestimate(PlannerInfo *root, IndexPath *path, double loop_count,
				 Cost *indexStartupCost, Cost *indexTotalCost,
				 Selectivity *indexSelectivity, double *indexCorrelation,
				 double *indexPages)
{
	GenericCosts costs;
	IndexOptInfo *info = path->indexinfo;
	int			m = HNSW_DEFAULT_M;
	double		visited;
	double		layers;
	int			dim;
	Relation	index;

	if (path->indexorderbys == NIL)
	{
		*indexStartupCost = DBL_MAX;
		*indexTotalCost = DBL_MAX;
		*indexSelectivity = 0;
		*indexCorrelation = 0;
		*indexPages = 0;
		return;
	}

	index = index_open(info->indexoid, NoLock);
	HnswGetOptions(index, &m, NULL);
	dim = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;
	index_close(index, NoLock);
	if (dim <= 0)
		dim = EmbedCallDim((Node *) linitial(path->indexorderbys));

	/* the descent adds about m distances per upper level */
	layers = info->tuples > 1 ? log(info->tuples) / log((double) m) : 1;
	visited = (double) hnsw_ef_search * 2 * m + layers * m;
	if (hnsw_iterative_scan != HNSW_ITERATIVE_OFF)
		visited *= 2;
	visited = Min(visited, Max(info->tuples, 1));

	MemSet(&costs, 0, sizeof(costs));
	costs.numIndexTuples = visited;
	genericcostestimate(root, path, loop_count, &costs);

	/*
	 * A distance costs more than the one operator charged per tuple, and
	 * more the longer the vectors: the same figure the distance functions'
	 * support function gives a sequential scan (src/cost.c), so that the
	 * two plans are weighed alike at any dimension.
	 */
	costs.indexTotalCost += visited * EmbedDistanceCost(dim);

	/*
	 * Each element met also costs the search its bookkeeping (the visited
	 * set, the candidate heaps, a buffer pin), which is about what a
	 * sequential scan spends on a row; so a search that would meet every
	 * element, as on a small table, costs more than the exact scan.
	 */
	costs.indexTotalCost += visited * cpu_tuple_cost;

	/*
	 * genericcostestimate priced every page at random_page_cost, as if
	 * each read went to disk.  A graph search is only worth having while
	 * the index is in memory, where a page costs the same in any order;
	 * so when the index fits effective_cache_size, its pages are priced
	 * like the pages of the sequential scan it competes with.  Measured on
	 * 10 000 x 768 (cosine, m = 16): the search beats the scan up to
	 * ef_search of about 1000, which the estimate now agrees with; before,
	 * it chose the scan from ef_search 160 on, at 2.5 times the time.
	 * (Repeated scans, loop_count > 1, are already priced for caching by
	 * genericcostestimate.)
	 */
	if (loop_count <= 1 && info->pages <= effective_cache_size)
	{
		double		spc_random_page_cost;
		double		spc_seq_page_cost;

		get_tablespace_page_costs(info->reltablespace, &spc_random_page_cost,
								  &spc_seq_page_cost);
		if (spc_random_page_cost > spc_seq_page_cost)
			costs.indexTotalCost -= costs.numIndexPages *
				(spc_random_page_cost - spc_seq_page_cost);
	}

	*indexStartupCost = costs.indexTotalCost;
	*indexTotalCost = costs.indexTotalCost;
	*indexSelectivity = costs.indexSelectivity;
	*indexCorrelation = 0;
	*indexPages = costs.numIndexPages;
}

/*
 * amvalidate: every operator must be an ordering operator of strategy 1
 * returning float8, and support function 1 must exist.
 */
static bool
hnswvalidate(Oid opclassoid)
{
	HeapTuple	classtup;
	Form_pg_opclass classform;
	Oid			opfamily;
	CatCList   *oprlist;
	CatCList   *proclist;
	bool		result = true;
	bool		hasProc = false;

	classtup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclassoid));
	if (!HeapTupleIsValid(classtup))
		elog(ERROR, "cache lookup failed for operator class %u", opclassoid);
	classform = (Form_pg_opclass) GETSTRUCT(classtup);
	opfamily = classform->opcfamily;

	oprlist = SearchSysCacheList1(AMOPSTRATEGY, ObjectIdGetDatum(opfamily));
	for (int i = 0; i < oprlist->n_members; i++)
	{
		Form_pg_amop oprform = (Form_pg_amop) GETSTRUCT(&oprlist->members[i]->tuple);

		if (oprform->amopstrategy != 1 ||
			oprform->amoppurpose != AMOP_ORDER)
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("embed_hnsw operator family %u has operator %u that is not an ordering operator of strategy 1",
							opfamily, oprform->amopopr)));
			result = false;
		}
	}
	ReleaseCatCacheList(oprlist);

	proclist = SearchSysCacheList1(AMPROCNUM, ObjectIdGetDatum(opfamily));
	for (int i = 0; i < proclist->n_members; i++)
	{
		Form_pg_amproc procform = (Form_pg_amproc) GETSTRUCT(&proclist->members[i]->tuple);

		if (procform->amprocnum == HNSW_METRIC_PROC)
			hasProc = true;
		else
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("embed_hnsw operator family %u has support function number %d, expected only %d",
							opfamily, procform->amprocnum, HNSW_METRIC_PROC)));
			result = false;
		}
	}
	ReleaseCatCacheList(proclist);
	if (!hasProc)
	{
		ereport(INFO,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("embed_hnsw operator class %u lacks support function %d",
						opclassoid, HNSW_METRIC_PROC)));
		result = false;
	}
	ReleaseSysCache(classtup);
	return result;
}

/*
 * The handler: what the access method can do and its entry points.
 */
PG_FUNCTION_INFO_V1(embed_hnsw_handler);
Datum
embed_hnsw_handler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *amroutine = makeNode(IndexAmRoutine);

	amroutine->amstrategies = 1;
	amroutine->amsupport = HNSW_NPROCS;
#if PG_VERSION_NUM >= 130000
	amroutine->amoptsprocnum = 0;
#endif
	amroutine->amcanorder = false;
	amroutine->amcanorderbyop = true;
	amroutine->amcanbackward = false;
	amroutine->amcanunique = false;
	amroutine->amcanmulticol = false;
	amroutine->amoptionalkey = true;
	amroutine->amsearcharray = false;
	amroutine->amsearchnulls = false;
	amroutine->amstorage = false;
	amroutine->amclusterable = false;
	amroutine->ampredlocks = false;
	amroutine->amcanparallel = false;
#if PG_VERSION_NUM >= 170000
	amroutine->amcanbuildparallel = true;
#endif
	amroutine->amcaninclude = false;
	amroutine->amusemaintenanceworkmem = false;
#if PG_VERSION_NUM >= 160000
	amroutine->amsummarizing = false;
#endif
	amroutine->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL;
	amroutine->amkeytype = InvalidOid;

	amroutine->ambuild = hnswbuild;
	amroutine->ambuildempty = hnswbuildempty;
	amroutine->aminsert = hnswinsert;
	amroutine->ambulkdelete = hnswbulkdelete;
	amroutine->amvacuumcleanup = hnswvacuumcleanup;
	amroutine->amcanreturn = NULL;
	amroutine->amcostestimate = hnswcostestimate;
	amroutine->amoptions = hnswoptions;
	amroutine->amproperty = NULL;
	amroutine->ambuildphasename = hnswbuildphasename;
	amroutine->amvalidate = hnswvalidate;
	amroutine->ambeginscan = hnswbeginscan;
	amroutine->amrescan = hnswrescan;
	amroutine->amgettuple = hnswgettuple;
	amroutine->amgetbitmap = NULL;
	amroutine->amendscan = hnswendscan;
	amroutine->ammarkpos = NULL;
	amroutine->amrestrpos = NULL;
	amroutine->amestimateparallelscan = NULL;
	amroutine->aminitparallelscan = NULL;
	amroutine->amparallelrescan = NULL;

	PG_RETURN_POINTER(amroutine);
}
