/*-------------------------------------------------------------------------
 *
 * train.h
 *	  Shared declarations of the in-database word2vec trainer: the
 *	  vocabulary and encoded corpus, the sampling tables, the update kernel,
 *	  the training driver and the document-embedding cache.
 *
 * Data flows through the files in this order: corpus.c reads the token
 * table into a Vocab and an encoded Corpus; sampling.c derives the
 * subsampling thresholds and the negative-sampling alias table; driver.c
 * lays everything out in one block of memory (dynamic shared memory when
 * parallel workers help), runs sgns.c's kernel over the corpus and reports
 * progress; model.c writes the model table.  docembed.c reads model tables
 * back for embed_document().
 *
 * src/train/train.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef EMBED_TRAIN_H
#define EMBED_TRAIN_H

#include "postgres.h"

#include <signal.h>

#include "fmgr.h"
#include "nodes/primnodes.h"
#include "utils/backend_progress.h"

/* ---------------------------------------------------------------------
 * A string -> index hash table (corpus.c), used for the vocabulary while
 * reading the corpus and for the model cache of embed_document.
 * ---------------------------------------------------------------------
 */
typedef struct TokenHashData
{
	uint32	   *slots;			/* index + 1 of the entry, 0 = empty */
	uint32		mask;			/* number of slots - 1 (a power of two) */
	uint32		nentries;
	uint32		capacity;		/* entries allocated in the arrays below */
	char	  **words;			/* NUL-terminated copies */
	uint32	   *hashes;			/* hash of each word */
	int64	   *counts;			/* occurrences of each word */
	MemoryContext cxt;
	char	   *block_next;		/* free space for word copies */
	char	   *block_end;
} TokenHashData;

typedef TokenHashData *TokenHash;

extern TokenHash TokenHashCreate(MemoryContext cxt, uint32 initial);
extern int32 TokenHashLookup(TokenHash h, const char *word, int len);
extern int32 TokenHashInsert(TokenHash h, const char *word, int len);

/* ---------------------------------------------------------------------
 * The corpus: token ids in document order (corpus.c).
 * ---------------------------------------------------------------------
 */
typedef struct CorpusData
{
	int32	   *tokens;			/* vocabulary ids, documents back to back */
	int64		ntokens;		/* tokens kept (count reached min_count) */
	int64		*doc_start;		/* ndocs + 1 offsets into tokens */
	int64		ndocs;
	int64		tokens_read;	/* non-NULL tokens read from the table */

	/* vocabulary, sorted by descending count (ties by first occurrence) */
	int32		vocab_size;
	char	  **words;
	int64	   *counts;
	double		read_seconds;
	int64		memory_bytes;	/* counted against embed.train_memory_limit */
} CorpusData;

typedef CorpusData *Corpus;

typedef struct CorpusSource
{
	Oid			relid;
	const char *doc_column;
	const char *pos_column;
	const char *token_column;
	int			min_count;
	int64		memory_limit;	/* bytes; 0 = none */
	int64		bytes_per_word; /* of the later weight matrices, for limits */
	bool		progress;
} CorpusSource;

extern Corpus CorpusRead(const CorpusSource *src);

/* ---------------------------------------------------------------------
 * Sampling tables (sampling.c).
 * ---------------------------------------------------------------------
 */

/* keep[w]: a token of word w survives subsampling if rand32 < keep[w] */
extern void SubsampleThresholds(const int64 *counts, int32 vocab_size,
								int64 total, double sample, uint32 *keep);

/* Walker alias table for drawing word ids from counts^0.75. */
extern void AliasTableBuild(const int64 *counts, int32 vocab_size,
							uint32 *prob, int32 *alias);

/* ---------------------------------------------------------------------
 * Private PRNG (sampling.c): xorshift64* seeded through splitmix64, so a
 * run is reproducible and nothing touches random().
 * ---------------------------------------------------------------------
 */
static inline uint64
TrainRandNext(uint64 *state)
{
	uint64		x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * UINT64CONST(0x2545F4914F6CDD1D);
}

extern uint64 TrainRandSeed(uint64 seed, uint64 stream1, uint64 stream2);

/* ---------------------------------------------------------------------
 * The update kernel (sgns.c): pure C on plain arrays.
 * ---------------------------------------------------------------------
 */
typedef struct SgnsModel
{
	int			dim;
	int			window;
	int			negative;
	bool		cbow;
	int32		vocab_size;
	float	   *syn0;			/* input vectors, vocab_size x dim */
	float	   *syn1;			/* output vectors, vocab_size x dim */
	const uint32 *alias_prob;	/* negative sampling alias table */
	const int32 *alias_index;
	/* the kernel returns early when this becomes nonzero (InterruptPending) */
	const volatile sig_atomic_t *stop;
} SgnsModel;

/* Per-participant scratch space and loss accumulators. */
typedef struct SgnsWork
{
	float	   *neu1;			/* dim floats */
	float	   *neu1e;			/* dim floats */
	int32	   *negs;			/* 2 * negative drawn negatives */
	uint64		rng;
	double		loss;			/* sum of -log sigmoid terms */
	int64		pairs;			/* terms in loss */

	/*
	 * Private copies of the output vectors (hot) and the input vectors
	 * (hot0) of words 0 .. nhot - 1, the most frequent; see SgnsHotSync.
	 * nhot = 0: none.  The _base arrays hold the shared values as of the
	 * last sync.
	 */
	int32		nhot;
	float	   *hot;
	float	   *hot_base;
	float	   *hot0;			/* the same for the input vectors */
	float	   *hot0_base;
} SgnsWork;

extern void SgnsInit(void);
extern void SgnsHotSync(const SgnsModel *m, SgnsWork *w, int32 rows);
extern int	SgnsTrainRange(const SgnsModel *m, SgnsWork *w,
						   const int32 *sen, int len, int from, int to,
						   float alpha);

/* ---------------------------------------------------------------------
 * Model table (model.c) and progress (driver.c).
 * ---------------------------------------------------------------------
 */
typedef struct TrainParams
{
	int			dim;
	int			window;
	int			negative;
	int			epochs;
	int			min_count;
	double		sample;
	double		alpha;
	bool		cbow;
	int64		seed;
	int			workers;
} TrainParams;

extern void ModelPrepareName(const char *model, bool replace,
							 RangeVar **rv_out);
extern Oid	EmbeddingTypeOid(Oid extschema);
extern Oid	ModelWrite(RangeVar *rv, bool replace, Corpus corpus,
					   const float *syn0, const TrainParams *params,
					   Oid extschema, const char *source_name, int workers_used,
					   double seconds, double final_loss);

/* The private progress "command" code and the parameter slots it uses. */
#define EMBED_PROGRESS_COMMAND	((ProgressCommandType) 0x4542)
#define EMBED_PROGRESS_PHASE		0	/* 1 reading, 2 training, 3 writing */
#define EMBED_PROGRESS_EPOCH		1
#define EMBED_PROGRESS_EPOCHS		2
#define EMBED_PROGRESS_PERMILLE		3	/* training done, in 1/10000 */
#define EMBED_PROGRESS_TOKENS_SEC	4
#define EMBED_PROGRESS_LOSS_MICRO	5	/* loss * 1e6 */
#define EMBED_PROGRESS_SECONDS_LEFT 6
#define EMBED_PROGRESS_TOKENS_READ	7
#define EMBED_PROGRESS_WORKERS		8

/* GUC (train.c) */
extern int	embed_train_memory_limit_kb;

/* docembed.c */
extern void DocEmbedInit(void);

#endif							/* EMBED_TRAIN_H */
