/*-------------------------------------------------------------------------
 *
 * train.c
 *	  Load-time set-up of the training layer, its setting, and
 *	  embed_train_progress(), which shows running trainings to other
 *	  sessions.
 *
 * Progress from another session.  PostgreSQL 15 offers extensions no
 * shared memory of their own unless they are preloaded, but every backend
 * already publishes a "progress command" and twenty int64 counters in its
 * pg_stat_activity entry (what pg_stat_progress_vacuum and friends read).
 * embed_train claims those slots under a private command code
 * (EMBED_PROGRESS_COMMAND, which no built-in view asks for) while it runs;
 * the slots are cleared when it returns and, on error or cancel, by the
 * transaction abort.  embed_train_progress() reads every backend's entry and
 * returns the ones carrying our code, with the same visibility rule as
 * pg_stat_activity: a role sees its own sessions, and members of
 * pg_read_all_stats see all.
 *
 * src/train/train.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_authid.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/acl.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/tuplestore.h"

#include "embed.h"
#include "train.h"

PG_FUNCTION_INFO_V1(embed_train_progress);

/* embed.train_memory_limit, in kB */
int			embed_train_memory_limit_kb = 1024 * 1024;

void
EmbedTrainInit(void)
{
	DefineCustomIntVariable("embed.train_memory_limit",
							"Largest amount of memory one embed_train call may use.",
							"Counts the encoded corpus (4 bytes a token), the vocabulary and the two weight matrices; a call needing more is refused before it allocates.",
							&embed_train_memory_limit_kb,
							1024 * 1024,
							1024,
							MAX_KILOBYTES,
							PGC_SUSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);
	SgnsInit();
	DocEmbedInit();
}

/*
 * embed_train_progress() RETURNS SETOF (pid, relid, phase, epoch, epochs,
 *	 percent, tokens_per_second, loss, seconds_left, tokens_read, workers)
 */
Datum
embed_train_progress(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			nbackends;
	int			i;
	bool		see_all;
	TupleDesc	tupdesc;
	Tuplestorestate *store;
	MemoryContext oldcxt;

	/* materialize mode, spelled out so that it builds before PG 15 too */
	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		!(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	oldcxt = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	tupdesc = CreateTupleDescCopy(tupdesc);
	store = tuplestore_begin_heap(true, false, work_mem);
	MemoryContextSwitchTo(oldcxt);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = store;
	rsinfo->setDesc = tupdesc;
	see_all = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
	nbackends = pgstat_fetch_stat_numbackends();
	for (i = 1; i <= nbackends; i++)
	{
#if PG_VERSION_NUM >= 160000
		LocalPgBackendStatus *local = pgstat_get_local_beentry_by_index(i);
#else
		LocalPgBackendStatus *local = pgstat_fetch_stat_local_beentry(i);
#endif
		PgBackendStatus *be;
		Datum		values[11];
		bool		nulls[11] = {false};
		const int64 *p;
		static const char *const phases[] = {
			"starting", "reading", "training", "writing"
		};

		if (local == NULL)
			continue;
		be = &local->backendStatus;
		if (be->st_progress_command != EMBED_PROGRESS_COMMAND)
			continue;
		if (!see_all && !has_privs_of_role(GetUserId(), be->st_userid))
			continue;
		p = be->st_progress_param;
		values[0] = Int32GetDatum(be->st_procpid);
		values[1] = ObjectIdGetDatum(be->st_progress_command_target);
		values[2] = CStringGetTextDatum(phases[p[EMBED_PROGRESS_PHASE] >= 0 &&
											   p[EMBED_PROGRESS_PHASE] <= 3 ?
											   p[EMBED_PROGRESS_PHASE] : 0]);
		values[3] = Int32GetDatum((int32) p[EMBED_PROGRESS_EPOCH]);
		values[4] = Int32GetDatum((int32) p[EMBED_PROGRESS_EPOCHS]);
		values[5] = Float8GetDatum(p[EMBED_PROGRESS_PERMILLE] / 100.0);
		values[6] = Float8GetDatum((double) p[EMBED_PROGRESS_TOKENS_SEC]);
		values[7] = Float8GetDatum(p[EMBED_PROGRESS_LOSS_MICRO] / 1e6);
		values[8] = Float8GetDatum((double) p[EMBED_PROGRESS_SECONDS_LEFT]);
		values[9] = Int64GetDatum(p[EMBED_PROGRESS_TOKENS_READ]);
		values[10] = Int32GetDatum((int32) p[EMBED_PROGRESS_WORKERS]);
		if (p[EMBED_PROGRESS_PHASE] < 2)
		{
			nulls[3] = nulls[5] = nulls[6] = nulls[7] = nulls[8] = true;
			nulls[10] = true;
		}
		tuplestore_putvalues(store, tupdesc, values, nulls);
	}
	return (Datum) 0;
}
