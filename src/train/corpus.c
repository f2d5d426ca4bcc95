/*-------------------------------------------------------------------------
 *
 * corpus.c
 *	  Read a token table through SPI into a vocabulary and an encoded
 *	  corpus.
 *
 * The table is read once, with the caller's rights, by
 *
 *		SELECT token::text, doc FROM rel ORDER BY doc, pos
 *
 * with every name quoted, run to completion with its rows sent to a
 * DestReceiver (so that the planner may sort in parallel; before
 * PostgreSQL 14, fetched in batches from a cursor).  Each token is
 * looked up in (or added to) an open-addressing hash table and its id
 * appended to one growing int32 array; a change of the document key closes
 * a document.  NULL tokens are skipped.  Afterwards the vocabulary is
 * sorted by descending count, words under min_count are dropped, and the
 * array is rewritten in place with the new ids, so what training sees is
 * 4 bytes a token plus the document offsets.
 *
 * Memory is checked up front from the planner's row count, as the arrays
 * grow, and once more when the vocabulary is known: the corpus array, the
 * words and the two weight matrices the vocabulary will need must stay
 * under embed.train_memory_limit, or the read stops with a 54000 error
 * before the server is asked for more.
 *
 * src/train/corpus.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_class.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "train.h"

/* Rows fetched from the cursor at a time. */
#define CORPUS_FETCH_ROWS	20000

/* Longer tokens are skipped: they could not be a btree key of the model. */
#define CORPUS_MAX_TOKEN_BYTES	1000

/* Bytes of string storage allocated at a time for the vocabulary. */
#define WORD_BLOCK_SIZE		(64 * 1024)

/* ---------------------------------------------------------------------
 * TokenHash
 * ---------------------------------------------------------------------
 */

/* Copy a word into the table's string blocks. */
static char *
WordCopy(TokenHash h, const char *word, int len)
{
	char	   *p;

	if (len + 1 > WORD_BLOCK_SIZE / 4)
	{
		p = MemoryContextAlloc(h->cxt, len + 1);
		memcpy(p, word, len);
		p[len] = '\0';
		return p;
	}
	if (h->block_next == NULL || h->block_end - h->block_next < len + 1)
	{
		h->block_next = MemoryContextAlloc(h->cxt, WORD_BLOCK_SIZE);
		h->block_end = h->block_next + WORD_BLOCK_SIZE;
	}
	p = h->block_next;
	memcpy(p, word, len);
	p[len] = '\0';
	h->block_next += len + 1;
	return p;
}

TokenHash
TokenHashCreate(MemoryContext cxt, uint32 initial)
{
	TokenHash	h = MemoryContextAllocZero(cxt, sizeof(TokenHashData));
	uint32		nslots = 1024;

	while (nslots < initial * 2)
		nslots <<= 1;
	h->cxt = cxt;
	h->mask = nslots - 1;
	h->slots = MemoryContextAllocZero(cxt, sizeof(uint32) * nslots);
	h->capacity = Max(initial, 512);
	h->words = MemoryContextAlloc(cxt, sizeof(char *) * h->capacity);
	h->hashes = MemoryContextAlloc(cxt, sizeof(uint32) * h->capacity);
	h->counts = MemoryContextAlloc(cxt, sizeof(int64) * h->capacity);
	return h;
}

static void
TokenHashGrow(TokenHash h)
{
	uint32		nslots = (h->mask + 1) * 2;
	uint32	   *slots;
	uint32		i;

	slots = MemoryContextAllocExtended(h->cxt, sizeof(uint32) * nslots,
									   MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	for (i = 0; i < h->nentries; i++)
	{
		uint32		s = h->hashes[i] & (nslots - 1);

		while (slots[s] != 0)
			s = (s + 1) & (nslots - 1);
		slots[s] = i + 1;
	}
	pfree(h->slots);
	h->slots = slots;
	h->mask = nslots - 1;
}

static inline int32
TokenHashFind(TokenHash h, const char *word, int len, uint32 hash,
			  uint32 *slot)
{
	uint32		s = hash & h->mask;

	for (;;)
	{
		uint32		e = h->slots[s];

		if (e == 0)
		{
			*slot = s;
			return -1;
		}
		if (h->hashes[e - 1] == hash &&
			strncmp(h->words[e - 1], word, len) == 0 &&
			h->words[e - 1][len] == '\0')
			return e - 1;
		s = (s + 1) & h->mask;
	}
}

int32
TokenHashLookup(TokenHash h, const char *word, int len)
{
	uint32		slot = 0;

	return TokenHashFind(h, word, len,
						 hash_bytes((const unsigned char *) word, len), &slot);
}

/*
 * Return the id of word, adding it with count 0 if it is new.
 */
int32
TokenHashInsert(TokenHash h, const char *word, int len)
{
	uint32		hash = hash_bytes((const unsigned char *) word, len);
	uint32		slot = 0;
	int32		id = TokenHashFind(h, word, len, hash, &slot);

	if (id >= 0)
		return id;

	if (h->nentries >= PG_INT32_MAX - 1)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many distinct tokens")));
	if (h->nentries == h->capacity)
	{
		h->capacity *= 2;
		h->words = repalloc_huge(h->words, sizeof(char *) * h->capacity);
		h->hashes = repalloc_huge(h->hashes, sizeof(uint32) * h->capacity);
		h->counts = repalloc_huge(h->counts, sizeof(int64) * h->capacity);
	}
	id = h->nentries++;
	h->words[id] = WordCopy(h, word, len);
	h->hashes[id] = hash;
	h->counts[id] = 0;
	h->slots[slot] = id + 1;
	if (h->nentries * 2 > h->mask)
		TokenHashGrow(h);
	return id;
}

/* ---------------------------------------------------------------------
 * Reading the corpus
 * ---------------------------------------------------------------------
 */

/* Error out unless the relation has a column of that name. */
static void
CheckColumn(Oid relid, const char *column, const char *what)
{
	AttrNumber	attnum = get_attnum(relid, column);

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" does not exist in relation \"%s\"",
						column, get_rel_name(relid)),
				 errhint("Name the %s column with the %s argument.",
						 what, what)));
}

static int64
CheckMemory(const CorpusSource *src, int64 ntokens, int64 nwords,
			int64 word_bytes)
{
	int64		need;

	need = ntokens * (int64) sizeof(int32) + word_bytes +
		nwords * (int64) (sizeof(char *) + sizeof(uint32) * 3 +
						  sizeof(int64));
	if (src->memory_limit > 0 && need > src->memory_limit)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("corpus needs more memory than embed.train_memory_limit allows"),
				 errdetail("After %lld tokens and %lld distinct words the corpus takes %lld kB; the limit is %lld kB.",
						   (long long) ntokens, (long long) nwords,
						   (long long) (need / 1024),
						   (long long) (src->memory_limit / 1024)),
				 errhint("Raise embed.train_memory_limit or train on fewer tokens.")));
	return need;
}

static int32 *sort_counts_ids;
static const int64 *sort_counts;

static int
CompareByCount(const void *a, const void *b)
{
	int32		ia = *(const int32 *) a;
	int32		ib = *(const int32 *) b;

	if (sort_counts[ia] != sort_counts[ib])
		return sort_counts[ia] > sort_counts[ib] ? -1 : 1;
	return ia < ib ? -1 : (ia > ib ? 1 : 0);
}

/*
 * A read in progress.  Rows reach CorpusAddRow either from a DestReceiver
 * that the executor calls once per row (PostgreSQL 14 and later, where
 * the query may run as a parallel plan) or from batches of a cursor.
 */
typedef struct CorpusBuild
{
	DestReceiver pub;			/* must be first */
	const CorpusSource *src;
	MemoryContext cxt;
	TokenHash	h;
	int32	   *tokens;
	int64		cap_tokens;
	int64		ntokens;
	int64	   *doc_start;
	int64		cap_docs;
	int64		ndocs;
	int64		tokens_read;
	int64		word_bytes;
	int64		rows_in_batch;
	Datum		prev_doc;
	bool		prev_doc_null;
	bool		have_prev;
	bool		doc_byval;
	int			doc_len;
	instr_time	start;
	instr_time	last_report;
} CorpusBuild;

/* Add one (token, doc) row of the ordered stream. */
static void
CorpusAddRow(CorpusBuild *b, Datum tokd, bool isnull, Datum docd,
			 bool docnull)
{
	text	   *tok;
	int			len;
	int32		id;

	/* a new document? */
	if (!b->have_prev || docnull != b->prev_doc_null ||
		(!docnull &&
		 !datumIsEqual(docd, b->prev_doc, b->doc_byval, b->doc_len)))
	{
		MemoryContext old;

		/* (an empty document, all NULL tokens, is not recorded) */
		if (b->ndocs == 0 || b->doc_start[b->ndocs - 1] != b->ntokens)
		{
			if (b->ndocs + 1 >= b->cap_docs)
			{
				b->cap_docs *= 2;
				b->doc_start = repalloc_huge(b->doc_start,
											 sizeof(int64) * b->cap_docs);
			}
			b->doc_start[b->ndocs++] = b->ntokens;
		}
		if (b->have_prev && !b->prev_doc_null && !b->doc_byval)
			pfree(DatumGetPointer(b->prev_doc));
		b->prev_doc_null = docnull;
		old = MemoryContextSwitchTo(b->cxt);
		b->prev_doc = docnull ? (Datum) 0 :
			datumCopy(docd, b->doc_byval, b->doc_len);
		MemoryContextSwitchTo(old);
		b->have_prev = true;
	}

	if (isnull)
		return;
	tok = (text *) PG_DETOAST_DATUM_PACKED(tokd);
	len = VARSIZE_ANY_EXHDR(tok);
	b->tokens_read++;
	if (len > 0 && len <= CORPUS_MAX_TOKEN_BYTES)
	{
		id = TokenHashInsert(b->h, VARDATA_ANY(tok), len);
		if (b->h->counts[id]++ == 0)
			b->word_bytes += len + 1;
		if (b->ntokens == b->cap_tokens)
		{
			CheckMemory(b->src, b->cap_tokens * 2, b->h->nentries,
						b->word_bytes);
			b->cap_tokens *= 2;
			b->tokens = repalloc_huge(b->tokens,
									  sizeof(int32) * b->cap_tokens);
		}
		b->tokens[b->ntokens++] = id;
	}
	if ((Pointer) tok != DatumGetPointer(tokd))
		pfree(tok);
}

/* Every CORPUS_FETCH_ROWS rows: the memory check and the progress lines. */
static void
CorpusBatchDone(CorpusBuild *b)
{
	instr_time	now;

	b->rows_in_batch = 0;
	CheckMemory(b->src, b->ntokens, b->h->nentries, b->word_bytes);

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, b->last_report);
	if (INSTR_TIME_GET_DOUBLE(now) >= 5.0)
	{
		INSTR_TIME_SET_CURRENT(b->last_report);
		now = b->last_report;
		INSTR_TIME_SUBTRACT(now, b->start);
		pgstat_progress_update_param(EMBED_PROGRESS_TOKENS_READ,
									 b->tokens_read);
		if (b->src->progress)
			ereport(NOTICE,
					(errmsg("reading: %lld tokens, %u distinct, %.0f s",
							(long long) b->tokens_read, b->h->nentries,
							INSTR_TIME_GET_DOUBLE(now))));
	}
}

static void
CorpusTypeOfDoc(CorpusBuild *b, TupleDesc tupdesc)
{
	Form_pg_attribute att = TupleDescAttr(tupdesc, 1);

	b->doc_byval = att->attbyval;
	b->doc_len = att->attlen;
}

#if PG_VERSION_NUM >= 140000
static void
CorpusStartup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	CorpusTypeOfDoc((CorpusBuild *) self, typeinfo);
}

static bool
CorpusReceiveSlot(TupleTableSlot *slot, DestReceiver *self)
{
	CorpusBuild *b = (CorpusBuild *) self;

	slot_getsomeattrs(slot, 2);
	CorpusAddRow(b, slot->tts_values[0], slot->tts_isnull[0],
				 slot->tts_values[1], slot->tts_isnull[1]);
	if (++b->rows_in_batch >= CORPUS_FETCH_ROWS)
		CorpusBatchDone(b);
	return true;
}

static void
CorpusShutdown(DestReceiver *self)
{
}

static void
CorpusDestroy(DestReceiver *self)
{
}

/*
 * Run the query to completion with the rows sent to CorpusReceiveSlot.
 * Unlike a cursor's, this execution may use a parallel plan: the sort
 * behind ORDER BY, most of the read's time on a table without an index
 * on (doc, pos), is then shared with parallel workers.
 */
static void
CorpusRunQuery(CorpusBuild *b, const char *query)
{
	SPIPlanPtr	plan;
	SPIExecuteOptions options;
	int			rc;

	plan = SPI_prepare_cursor(query, 0, NULL, CURSOR_OPT_PARALLEL_OK);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare_cursor failed for \"%s\": %s", query,
			 SPI_result_code_string(SPI_result));
	b->pub.receiveSlot = CorpusReceiveSlot;
	b->pub.rStartup = CorpusStartup;
	b->pub.rShutdown = CorpusShutdown;
	b->pub.rDestroy = CorpusDestroy;
	b->pub.mydest = DestNone;
	memset(&options, 0, sizeof(options));
	options.read_only = true;
	options.dest = &b->pub;
	rc = SPI_execute_plan_extended(plan, &options);
	/* (a SELECT whose rows go to another receiver reports SPI_OK_UTILITY) */
	if (rc < 0)
		elog(ERROR, "SPI_execute_plan_extended failed for \"%s\": %s",
			 query, SPI_result_code_string(rc));
	SPI_freeplan(plan);
}
#else
/* Fetch the query's rows in batches from a cursor. */
static void
CorpusRunQuery(CorpusBuild *b, const char *query)
{
	SPIPlanPtr	plan;
	Portal		portal;

	plan = SPI_prepare(query, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", query,
			 SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
	for (;;)
	{
		SPITupleTable *tt;
		uint64		n,
					i;

		CHECK_FOR_INTERRUPTS();
		SPI_cursor_fetch(portal, true, CORPUS_FETCH_ROWS);
		n = SPI_processed;
		if (n == 0)
			break;
		tt = SPI_tuptable;
		if (!b->have_prev)
			CorpusTypeOfDoc(b, tt->tupdesc);
		for (i = 0; i < n; i++)
		{
			bool		isnull;
			bool		docnull;
			Datum		tokd = heap_getattr(tt->vals[i], 1, tt->tupdesc,
											&isnull);
			Datum		docd = heap_getattr(tt->vals[i], 2, tt->tupdesc,
											&docnull);

			CorpusAddRow(b, tokd, isnull, docd, docnull);
		}
		SPI_freetuptable(tt);
		CorpusBatchDone(b);
	}
	SPI_cursor_close(portal);
	SPI_freeplan(plan);
}
#endif

/*
 * Read the corpus.  The caller is connected to SPI; everything returned is
 * allocated in CurrentMemoryContext at entry.
 */
Corpus
CorpusRead(const CorpusSource *src)
{
	MemoryContext cxt = CurrentMemoryContext;
	Corpus		corpus = palloc0(sizeof(CorpusData));
	CorpusBuild *b = palloc0(sizeof(CorpusBuild));
	char	   *nspname;
	char	   *relname;
	StringInfoData query;
	TokenHash	h;
	int32	   *tokens;
	int64		ntokens;
	int64	   *doc_start;
	int64		ndocs;
	int64		tokens_read;
	int64		word_bytes;
	instr_time	start,
				now;
	float4		reltuples;
	HeapTuple	classtup;

	b->src = src;
	b->cxt = cxt;
	INSTR_TIME_SET_CURRENT(start);
	b->start = start;
	b->last_report = start;

	relname = get_rel_name(src->relid);
	if (relname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", src->relid)));
	switch (get_rel_relkind(src->relid))
	{
		case RELKIND_RELATION:
		case RELKIND_VIEW:
		case RELKIND_MATVIEW:
		case RELKIND_FOREIGN_TABLE:
		case RELKIND_PARTITIONED_TABLE:
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("\"%s\" is not a table or view", relname),
					 errhint("The corpus is read with SELECT: name a table, view, materialized view or foreign table.")));
	}
	nspname = get_namespace_name(get_rel_namespace(src->relid));
	CheckColumn(src->relid, src->doc_column, "doc_column");
	CheckColumn(src->relid, src->pos_column, "pos_column");
	CheckColumn(src->relid, src->token_column, "token_column");

	/*
	 * Refuse up front when the planner's row estimate alone says the corpus
	 * cannot fit.
	 */
	classtup = SearchSysCache1(RELOID, ObjectIdGetDatum(src->relid));
	reltuples = -1;
	if (HeapTupleIsValid(classtup))
	{
		reltuples = ((Form_pg_class) GETSTRUCT(classtup))->reltuples;
		ReleaseSysCache(classtup);
	}
	if (reltuples > 0)
		CheckMemory(src, (int64) reltuples, 0, 0);

	initStringInfo(&query);
	appendStringInfo(&query,
					 "SELECT %s::pg_catalog.text, %s FROM %s ORDER BY %s, %s",
					 quote_identifier(src->token_column),
					 quote_identifier(src->doc_column),
					 quote_qualified_identifier(nspname, relname),
					 quote_identifier(src->doc_column),
					 quote_identifier(src->pos_column));

	b->h = TokenHashCreate(cxt, 1 << 14);
	b->cap_tokens = 1 << 20;
	b->tokens = MemoryContextAllocHuge(cxt, sizeof(int32) * b->cap_tokens);
	b->cap_docs = 1 << 12;
	b->doc_start = MemoryContextAllocHuge(cxt, sizeof(int64) * b->cap_docs);

	CorpusRunQuery(b, query.data);
	CorpusBatchDone(b);

	h = b->h;
	tokens = b->tokens;
	ntokens = b->ntokens;
	doc_start = b->doc_start;
	ndocs = b->ndocs;
	tokens_read = b->tokens_read;
	word_bytes = b->word_bytes;
	if (b->have_prev && !b->prev_doc_null && !b->doc_byval)
		pfree(DatumGetPointer(b->prev_doc));
	pfree(b);
	pgstat_progress_update_param(EMBED_PROGRESS_TOKENS_READ, tokens_read);

	if (tokens_read == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("relation \"%s\" contains no tokens", relname),
				 errdetail("A corpus needs at least one non-NULL token.")));

	/* Sort the vocabulary and keep the words reaching min_count. */
	{
		int32		nwords = h->nentries;
		int32	   *order = MemoryContextAllocHuge(cxt,
													   sizeof(int32) * nwords);
		int32	   *remap = MemoryContextAllocHuge(cxt,
													   sizeof(int32) * nwords);
		int32		kept = 0;
		int32		w;
		int64		d;
		int64		out;
		int64		ndocs_out;

		for (w = 0; w < nwords; w++)
			order[w] = w;
		sort_counts = h->counts;
		sort_counts_ids = order;
		qsort(order, nwords, sizeof(int32), CompareByCount);
		for (w = 0; w < nwords; w++)
			remap[w] = -1;
		for (w = 0; w < nwords && h->counts[order[w]] >= src->min_count; w++)
			remap[order[w]] = kept++;

		if (kept == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("no token occurs at least %d times", src->min_count),
					 errdetail("The most frequent token occurs %lld times.",
							   (long long) h->counts[order[0]]),
					 errhint("Lower min_count or train on a larger corpus.")));

		/* the weight matrices come next: will they fit? */
		corpus->memory_bytes =
			CheckMemory(src, ntokens, nwords,
						word_bytes + (int64) kept * src->bytes_per_word);

		corpus->vocab_size = kept;
		corpus->words = MemoryContextAllocHuge(cxt, sizeof(char *) * kept);
		corpus->counts = MemoryContextAllocHuge(cxt, sizeof(int64) * kept);
		for (w = 0; w < kept; w++)
		{
			corpus->words[w] = h->words[order[w]];
			corpus->counts[w] = h->counts[order[w]];
		}

		/* rewrite the corpus in place, dropping rare words and empty docs */
		doc_start[ndocs] = ntokens;
		out = 0;
		ndocs_out = 0;
		for (d = 0; d < ndocs; d++)
		{
			int64		begin = out;
			int64		t;

			for (t = doc_start[d]; t < doc_start[d + 1]; t++)
			{
				int32		nid = remap[tokens[t]];

				if (nid >= 0)
					tokens[out++] = nid;
			}
			if (out > begin)
				doc_start[ndocs_out++] = begin;
			if ((d & 1023) == 0)
				CHECK_FOR_INTERRUPTS();
		}
		doc_start[ndocs_out] = out;
		ntokens = out;
		ndocs = ndocs_out;
		pfree(order);
		pfree(remap);
	}

	corpus->tokens = tokens;
	corpus->ntokens = ntokens;
	corpus->doc_start = doc_start;
	corpus->ndocs = ndocs;
	corpus->tokens_read = tokens_read;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	corpus->read_seconds = INSTR_TIME_GET_DOUBLE(now);
	return corpus;
}
