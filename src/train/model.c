/*-------------------------------------------------------------------------
 *
 * model.c
 *	  Write a trained model as a table, with its parameters.
 *
 * The model table is ordinary SQL, created through SPI as the calling user
 * (who therefore owns it):
 *
 *		CREATE TABLE model (token text, count bigint, embedding embedding(dim))
 *
 * filled in vocabulary order (most frequent first), then given its primary
 * key on token (one sorted index build instead of a growing index).  The
 * parameters, the source and the corpus size go into COMMENT ON TABLE as
 * a JSON object, so pg_dump keeps them with the table; and a statement
 * trigger tells every backend's embed_document cache when the rows change.
 * All of it belongs to the caller's transaction: an error or a cancel
 * leaves nothing behind.
 *
 * src/train/model.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/regproc.h"

#include "embedding.h"
#include "train.h"

/*
 * Parse the model name (possibly schema-qualified, quoted as in SQL) and
 * refuse an existing relation unless replace.
 */
void
ModelPrepareName(const char *model, bool replace, RangeVar **rv_out)
{
#if PG_VERSION_NUM >= 160000
	List	   *names = stringToQualifiedNameList(model, NULL);
#else
	List	   *names = stringToQualifiedNameList(model);
#endif
	RangeVar   *rv = makeRangeVarFromNameList(names);
	Oid			existing = RangeVarGetRelid(rv, NoLock, true);

	if (OidIsValid(existing))
	{
		if (!replace)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_TABLE),
					 errmsg("relation \"%s\" already exists", model),
					 errhint("Pass replace => true to overwrite it.")));
		if (get_rel_relkind(existing) != RELKIND_RELATION)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("\"%s\" is not a table", model),
					 errdetail("replace only overwrites tables.")));
	}
	*rv_out = rv;
}

/*
 * The OID of the embedding type, which lives in the extension's schema:
 * the schema of the calling function.
 */
Oid
EmbeddingTypeOid(Oid extschema)
{
	Oid			typoid;

	typoid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
							 CStringGetDatum("embedding"),
							 ObjectIdGetDatum(extschema));
	if (!OidIsValid(typoid))
		elog(ERROR, "type embedding not found");
	return typoid;
}

static void
Exec(const char *sql, int expected)
{
	int			rc = SPI_execute(sql, false, 0);

	if (rc != expected)
		elog(ERROR, "SPI_execute failed for \"%s\": %s", sql,
			 SPI_result_code_string(rc));
}

Oid
ModelWrite(RangeVar *rv, bool replace, Corpus corpus, const float *syn0,
		   const TrainParams *params, Oid extschema, const char *source_name,
		   int workers_used, double seconds, double final_loss)
{
	char	   *qname;
	const char *extname = quote_identifier(get_namespace_name(extschema));
	Oid			embtype = EmbeddingTypeOid(extschema);
	StringInfoData sql;
	StringInfoData json;
	SPIPlanPtr	plan;
	Oid			argtypes[3];
	Embedding	e;
	int32		w;
	Oid			relid;

	qname = rv->schemaname ?
		quote_qualified_identifier(rv->schemaname, rv->relname) :
		pstrdup(quote_identifier(rv->relname));

	initStringInfo(&sql);
	/* replace: drop the old table (checked to be one); no NOTICE when none */
	if (replace && OidIsValid(RangeVarGetRelid(rv, NoLock, true)))
	{
		appendStringInfo(&sql, "DROP TABLE %s", qname);
		Exec(sql.data, SPI_OK_UTILITY);
		resetStringInfo(&sql);
	}
	appendStringInfo(&sql,
					 "CREATE TABLE %s (token pg_catalog.text NOT NULL, "
					 "count pg_catalog.int8 NOT NULL, embedding %s NOT NULL)",
					 qname, format_type_with_typemod(embtype, params->dim));
	Exec(sql.data, SPI_OK_UTILITY);

	/* fill it */
	resetStringInfo(&sql);
	appendStringInfo(&sql,
					 "INSERT INTO %s (token, count, embedding) VALUES ($1, $2, $3)",
					 qname);
	argtypes[0] = TEXTOID;
	argtypes[1] = INT8OID;
	argtypes[2] = embtype;
	plan = SPI_prepare(sql.data, 3, argtypes);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\"", sql.data);
	e = InitEmbedding(params->dim);
	for (w = 0; w < corpus->vocab_size; w++)
	{
		Datum		args[3];
		text	   *t = cstring_to_text(corpus->words[w]);
		int			rc;

		memcpy(e->x, syn0 + (int64) w * params->dim,
			   sizeof(float) * params->dim);
		args[0] = PointerGetDatum(t);
		args[1] = Int64GetDatum(corpus->counts[w]);
		args[2] = PointerGetDatum(e);
		rc = SPI_execute_plan(plan, args, NULL, false, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "SPI_execute_plan failed: %s",
				 SPI_result_code_string(rc));
		pfree(t);
		if ((w & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	SPI_freeplan(plan);

	resetStringInfo(&sql);
	appendStringInfo(&sql, "ALTER TABLE %s ADD PRIMARY KEY (token)", qname);
	Exec(sql.data, SPI_OK_UTILITY);

	resetStringInfo(&sql);
	appendStringInfo(&sql,
					 "CREATE TRIGGER embed_model_changed "
					 "AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s "
					 "FOR EACH STATEMENT EXECUTE FUNCTION %s.embed_model_changed()",
					 qname, extname);
	Exec(sql.data, SPI_OK_UTILITY);

	/* parameters and corpus size, as JSON in the table's comment */
	initStringInfo(&json);
	appendStringInfo(&json, "{\"embed_model\": 1, \"method\": \"%s\", "
					 "\"dim\": %d, \"window\": %d, \"negative\": %d, "
					 "\"epochs\": %d, \"min_count\": %d, \"sample\": %g, "
					 "\"alpha\": %g, \"seed\": " INT64_FORMAT ", "
					 "\"workers\": %d, \"source\": ",
					 params->cbow ? "cbow" : "skipgram",
					 params->dim, params->window, params->negative,
					 params->epochs, params->min_count, params->sample,
					 params->alpha, params->seed, workers_used);
	escape_json(&json, source_name);
	appendStringInfo(&json, ", \"tokens_read\": " INT64_FORMAT
					 ", \"tokens\": " INT64_FORMAT
					 ", \"documents\": " INT64_FORMAT
					 ", \"vocab_size\": %d, \"final_loss\": %.6f"
					 ", \"seconds\": %.3f, \"trained_at\": ",
					 corpus->tokens_read, corpus->ntokens, corpus->ndocs,
					 corpus->vocab_size, final_loss, seconds);
	escape_json(&json, timestamptz_to_str(GetCurrentTimestamp()));
	appendStringInfoChar(&json, '}');

	resetStringInfo(&sql);
	appendStringInfo(&sql, "COMMENT ON TABLE %s IS %s", qname,
					 quote_literal_cstr(json.data));
	Exec(sql.data, SPI_OK_UTILITY);

	relid = RangeVarGetRelid(rv, NoLock, false);
	return relid;
}
