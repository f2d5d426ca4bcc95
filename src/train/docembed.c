/*-------------------------------------------------------------------------
 *
 * docembed.c
 *	  embed_document(model, tokens): the smooth-inverse-frequency weighted
 *	  average of the known tokens' vectors, with a per-backend model cache.
 *
 * The first call for a model reads the whole table (token, count,
 * embedding) once, with the caller's rights, into a hash table and one
 * array of vectors; later calls in the same backend only hash their tokens.
 * Each vector gets the weight a / (a + p(w)), a = 1e-3, p(w) = count / sum
 * of counts, and a document's embedding is the sum of weight * vector over
 * its known tokens divided by how many there were (repeats count).
 *
 * Staleness.  The cache entry is dropped by a relcache invalidation
 * callback: that fires for DDL on the table (ALTER, TRUNCATE, DROP, VACUUM
 * FULL, a new relfilenode), and for DML too on tables made by embed_train,
 * whose statement trigger embed_model_changed() sends a relcache
 * invalidation for the table at the end of every INSERT/UPDATE/DELETE (to
 * our own backend at once, to the others when the change commits).  A table
 * built by hand gets the same behaviour by adding that trigger.
 *
 * Rights.  SELECT on the model table is checked on every call, since a
 * cached model must not be readable through a role that could not read
 * the table.
 *
 * src/train/docembed.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "embedding.h"
#include "train.h"

PG_FUNCTION_INFO_V1(embed_document);
PG_FUNCTION_INFO_V1(embed_model_changed);

#define SIF_A	1e-3

typedef struct ModelCacheEntry
{
	Oid			relid;
	bool		valid;
	int			dim;
	int32		nwords;
	TokenHash	hash;
	float	   *vectors;		/* nwords x dim, pre-multiplied by weight */
	MemoryContext cxt;
	struct ModelCacheEntry *next;
} ModelCacheEntry;

static ModelCacheEntry *model_cache = NULL;

static void
ModelCacheInvalidate(Datum arg, Oid relid)
{
	ModelCacheEntry *e;

	for (e = model_cache; e != NULL; e = e->next)
		if (relid == InvalidOid || e->relid == relid)
			e->valid = false;
}

void
DocEmbedInit(void)
{
	CacheRegisterRelcacheCallback(ModelCacheInvalidate, (Datum) 0);
}

/*
 * (Re)load the model of entry e from its table.
 */
static void
ModelCacheLoad(ModelCacheEntry *e, Oid embtype)
{
	char	   *relname = get_rel_name(e->relid);
	char	   *qname;
	StringInfoData sql;
	uint64		n,
				i;
	int			dim = -1;
	double		total = 0;
	int64	   *counts;
	MemoryContext oldcxt;

	if (relname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", e->relid)));
	qname = quote_qualified_identifier(
									   get_namespace_name(get_rel_namespace(e->relid)),
									   relname);
	if (get_attnum(e->relid, "token") == InvalidAttrNumber ||
		get_attnum(e->relid, "count") == InvalidAttrNumber ||
		get_attnum(e->relid, "embedding") == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("relation \"%s\" is not a model table", relname),
				 errdetail("A model table has the columns token, count and embedding.")));

	if (e->cxt)
		MemoryContextReset(e->cxt);
	else
		e->cxt = AllocSetContextCreate(TopMemoryContext, "embed model cache",
									   ALLOCSET_DEFAULT_SIZES);
	e->valid = true;			/* an invalidation during the load clears it */

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "SELECT token::pg_catalog.text, count::pg_catalog.int8, "
					 "embedding FROM %s "
					 "WHERE token IS NOT NULL AND embedding IS NOT NULL",
					 qname);
	if (SPI_execute(sql.data, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed for \"%s\"", sql.data);
	n = SPI_processed;

	/*
	 * The vectors are read as embeddings below, so the column must be one:
	 * any table with the right column names can be passed in, and reading,
	 * say, a bytea as an embedding would trust a length it does not have.
	 */
	if (SPI_gettypeid(SPI_tuptable->tupdesc, 3) != embtype)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("relation \"%s\" is not a model table", relname),
				 errdetail("Its column \"embedding\" is of type %s, not embedding.",
						   format_type_be(SPI_gettypeid(SPI_tuptable->tupdesc, 3)))));
	if (n >= PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("model \"%s\" has too many tokens", relname)));

	oldcxt = MemoryContextSwitchTo(e->cxt);
	e->hash = TokenHashCreate(e->cxt, (uint32) Max(n, 16));
	counts = palloc(sizeof(int64) * Max(n, 1));
	e->vectors = NULL;
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		bool		isnull;
		text	   *tok;
		Embedding	v;
		int64		cnt;
		int32		id;

		tok = DatumGetTextPP(heap_getattr(tup, 1, td, &isnull));
		cnt = DatumGetInt64(heap_getattr(tup, 2, td, &isnull));
		if (isnull || cnt < 0)
			cnt = 0;
		v = DatumGetEmbedding(heap_getattr(tup, 3, td, &isnull));
		if (dim < 0)
		{
			dim = v->dim;
			e->vectors = MemoryContextAllocHuge(e->cxt, sizeof(float) *
												dim * Max(n, 1));
		}
		else if (v->dim != dim)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("model \"%s\" mixes embeddings of %d and %d dimensions",
							relname, dim, v->dim)));
		id = TokenHashInsert(e->hash, VARDATA_ANY(tok),
							 VARSIZE_ANY_EXHDR(tok));
		if (e->hash->counts[id]++ > 0)
			continue;			/* duplicate token: first row wins */
		memcpy(e->vectors + (int64) id * dim, v->x, sizeof(float) * dim);
		counts[id] = cnt;
		total += cnt;
		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	e->nwords = e->hash->nentries;
	e->dim = dim;

	/* fold the SIF weight into the vectors */
	for (i = 0; i < (uint64) e->nwords; i++)
	{
		double		p = total > 0 ? counts[i] / total : 0;
		float		wgt = (float) (SIF_A / (SIF_A + p));
		float	   *x = e->vectors + (int64) i * dim;
		int			k;

		for (k = 0; k < dim; k++)
			x[k] *= wgt;
	}
	pfree(counts);
	MemoryContextSwitchTo(oldcxt);
	SPI_finish();
}

static ModelCacheEntry *
ModelCacheGet(Oid relid, Oid embtype)
{
	ModelCacheEntry *e;
	AclResult	aclresult;

	aclresult = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (aclresult != ACLCHECK_OK)
	{
		char	   *relname = get_rel_name(relid);

		if (relname == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("relation with OID %u does not exist", relid)));
		aclcheck_error(aclresult, OBJECT_TABLE, relname);
	}

	for (e = model_cache; e != NULL; e = e->next)
		if (e->relid == relid)
			break;
	if (e == NULL)
	{
		e = MemoryContextAllocZero(TopMemoryContext, sizeof(ModelCacheEntry));
		e->relid = relid;
		e->next = model_cache;
		model_cache = e;
	}
	if (!e->valid)
	{
		PG_TRY();
		{
			ModelCacheLoad(e, embtype);
		}
		PG_CATCH();
		{
			e->valid = false;
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
	return e;
}

/*
 * embed_document(model regclass, tokens text[]) RETURNS embedding
 */
Datum
embed_document(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(1);
	/* our own result type is the embedding type, wherever it lives */
	ModelCacheEntry *e = ModelCacheGet(relid,
									   get_func_rettype(fcinfo->flinfo->fn_oid));
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int			i;
	int			known = 0;
	Embedding	result;
	double	   *acc;

	if (e->nwords == 0 || e->dim <= 0)
		PG_RETURN_NULL();
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("tokens must be a one-dimensional array")));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &nelems);

	/*
	 * Sum in double precision: the mean of weighted float4 vectors (weights
	 * at most 1) is always within float4 range, but a float4 running sum
	 * of large elements need not be.
	 */
	acc = palloc0(sizeof(double) * e->dim);
	for (i = 0; i < nelems; i++)
	{
		text	   *t;
		int32		id;
		const float *x;
		int			k;

		if (nulls[i])
			continue;
		t = DatumGetTextPP(elems[i]);
		id = TokenHashLookup(e->hash, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
		if (id < 0)
			continue;
		x = e->vectors + (int64) id * e->dim;
		for (k = 0; k < e->dim; k++)
			acc[k] += x[k];
		known++;
	}
	if (known == 0)
		PG_RETURN_NULL();
	result = InitEmbedding(e->dim);
	for (i = 0; i < e->dim; i++)
		result->x[i] = (float) (acc[i] / known);
	pfree(acc);
	PG_RETURN_EMBEDDING_P(result);
}

/*
 * embed_model_changed(): statement trigger on model tables; tells every
 * backend's embed_document cache that the table's rows changed.
 */
Datum
embed_model_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("embed_model_changed() must be called as a trigger")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	PG_RETURN_POINTER(NULL);
}
