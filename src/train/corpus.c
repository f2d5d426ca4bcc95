/*-------------------------------------------------------------------------
 *
 * corpus.c
 *	  Read a token table through an SPI cursor into a vocabulary and an
 *	  encoded corpus.
 *
 * The table is read once, with the caller's rights, by
 *
 *		SELECT token::text, doc FROM rel ORDER BY doc, pos
 *
 * with every name quoted, fetched in batches from a cursor.  Each token is
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
 * Read the corpus.  The caller is connected to SPI; everything returned is
 * allocated in CurrentMemoryContext at entry.
 */
Corpus
CorpusRead(const CorpusSource *src)
{
	MemoryContext cxt = CurrentMemoryContext;
	Corpus		corpus = palloc0(sizeof(CorpusData));
	char	   *nspname;
	char	   *relname;
	StringInfoData query;
	SPIPlanPtr	plan;
	Portal		portal;
	TokenHash	h;
	int64		cap_tokens = 1 << 20;
	int64		cap_docs = 1 << 12;
	int32	   *tokens;
	int64		ntokens = 0;
	int64	   *doc_start;
	int64		ndocs = 0;
	int64		tokens_read = 0;
	int64		word_bytes = 0;
	Datum		prev_doc = (Datum) 0;
	bool		prev_doc_null = false;
	bool		have_prev = false;
	bool		doc_byval = true;
	int			doc_len = 0;
	instr_time	start,
				now,
				last_report;
	float4		reltuples;
	HeapTuple	classtup;

	INSTR_TIME_SET_CURRENT(start);
	last_report = start;

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

	plan = SPI_prepare(query.data, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", query.data,
			 SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);

	h = TokenHashCreate(cxt, 1 << 14);
	tokens = MemoryContextAllocHuge(cxt, sizeof(int32) * cap_tokens);
	doc_start = MemoryContextAllocHuge(cxt, sizeof(int64) * cap_docs);

	for (;;)
	{
		SPITupleTable *tt;
		TupleDesc	tupdesc;
		uint64		n,
					i;

		CHECK_FOR_INTERRUPTS();
		SPI_cursor_fetch(portal, true, CORPUS_FETCH_ROWS);
		n = SPI_processed;
		if (n == 0)
			break;
		tt = SPI_tuptable;
		tupdesc = tt->tupdesc;
		if (!have_prev)
		{
			Form_pg_attribute att = TupleDescAttr(tupdesc, 1);

			doc_byval = att->attbyval;
			doc_len = att->attlen;
		}

		for (i = 0; i < n; i++)
		{
			HeapTuple	tup = tt->vals[i];
			bool		isnull;
			bool		docnull;
			Datum		tokd;
			Datum		docd;
			text	   *tok;
			int			len;
			int32		id;

			tokd = heap_getattr(tup, 1, tupdesc, &isnull);
			docd = heap_getattr(tup, 2, tupdesc, &docnull);

			/* a new document? */
			if (!have_prev || docnull != prev_doc_null ||
				(!docnull &&
				 !datumIsEqual(docd, prev_doc, doc_byval, doc_len)))
			{
				/* (an empty document, all NULL tokens, is not recorded) */
				if (ndocs == 0 || doc_start[ndocs - 1] != ntokens)
				{
					if (ndocs + 1 >= cap_docs)
					{
						cap_docs *= 2;
						doc_start = repalloc_huge(doc_start,
												  sizeof(int64) * cap_docs);
					}
					doc_start[ndocs++] = ntokens;
				}
				if (have_prev && !prev_doc_null && !doc_byval)
					pfree(DatumGetPointer(prev_doc));
				prev_doc_null = docnull;
				prev_doc = docnull ? (Datum) 0 :
					datumCopy(docd, doc_byval, doc_len);
				have_prev = true;
			}

			if (isnull)
				continue;
			tok = (text *) PG_DETOAST_DATUM_PACKED(tokd);
			len = VARSIZE_ANY_EXHDR(tok);
			tokens_read++;
			if (len == 0 || len > CORPUS_MAX_TOKEN_BYTES)
				continue;

			id = TokenHashInsert(h, VARDATA_ANY(tok), len);
			if (h->counts[id]++ == 0)
				word_bytes += len + 1;
			if (ntokens == cap_tokens)
			{
				CheckMemory(src, cap_tokens * 2, h->nentries, word_bytes);
				cap_tokens *= 2;
				tokens = repalloc_huge(tokens, sizeof(int32) * cap_tokens);
			}
			tokens[ntokens++] = id;
		}
		SPI_freetuptable(tt);
		CheckMemory(src, ntokens, h->nentries, word_bytes);

		INSTR_TIME_SET_CURRENT(now);
		INSTR_TIME_SUBTRACT(now, last_report);
		if (INSTR_TIME_GET_DOUBLE(now) >= 5.0)
		{
			INSTR_TIME_SET_CURRENT(last_report);
			now = last_report;
			INSTR_TIME_SUBTRACT(now, start);
			pgstat_progress_update_param(EMBED_PROGRESS_TOKENS_READ,
										 tokens_read);
			if (src->progress)
				ereport(NOTICE,
						(errmsg("reading: %lld tokens, %u distinct, %.0f s",
								(long long) tokens_read, h->nentries,
								INSTR_TIME_GET_DOUBLE(now))));
		}
	}
	SPI_cursor_close(portal);
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
