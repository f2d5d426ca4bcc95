/*-------------------------------------------------------------------------
 *
 * driver.c
 *	  embed_train(): argument checks, reading the corpus, the training run
 *	  on the leader and parallel workers, progress and the summary row.
 *
 * Layout.  Everything training touches lives in one block, TrainShared
 * followed by arrays at 64-byte aligned offsets: the two weight matrices,
 * the encoded corpus, the document offsets, the chunk boundaries, the
 * subsampling thresholds, the alias table and the loss slots.  With one
 * worker the block is ordinary backend memory.  With more it is allocated
 * in the dynamic shared memory of a ParallelContext, and workers - 1
 * parallel workers attach to it and run the same loop as the leader.
 *
 * Work distribution.  The corpus is cut at document boundaries into chunks
 * of roughly equal size; job j (0 <= j < epochs * nchunks) is chunk
 * order[j % nchunks] of epoch j / nchunks (see ChunkOrder).  Participants
 * claim jobs with an atomic counter, so a worker that fails to start only
 * costs speed.  Each job seeds its own generator from (seed, epoch,
 * chunk): with one worker the run is bit-for-bit reproducible, because the
 * learning rate only depends on the number of tokens done, which then
 * advances deterministically.
 *
 * The learning rate decays linearly with the tokens done over all
 * participants, from alpha to alpha * 1e-4, as in word2vec.  Tokens are
 * counted before subsampling, so "tokens trained" is epochs times the
 * corpus tokens in the vocabulary, the figure word2vec reports.
 *
 * Interrupts.  Every participant calls CHECK_FOR_INTERRUPTS after each
 * slice of at most TRAIN_SLICE centre words (a few milliseconds), and the
 * kernel itself returns after the current centre word as soon as
 * InterruptPending is set, so that even at large dim and window a cancel
 * is serviced within one centre word's work; the slice then resumes
 * exactly where it stopped, which keeps one-worker runs reproducible.  A
 * cancel or statement_timeout in the leader aborts the transaction, which
 * terminates the workers (their own CHECK_FOR_INTERRUPTS then exits) and
 * rolls back whatever the call created; a worker's error reaches the
 * leader through the parallel message queue the same way.
 *
 * Progress.  The leader reports through the backend progress slots of
 * pg_stat_activity under a private command code (see embed_train_progress
 * in train.c) and, with progress => true, as NOTICE lines at most every
 * TRAIN_NOTICE_SECS seconds.
 *
 * src/train/driver.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <sys/resource.h>

#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "portability/instr_time.h"
#include "storage/shm_toc.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "embed.h"
#include "embedding.h"
#include "train.h"

PG_FUNCTION_INFO_V1(embed_train);

/* Centre words trained between interrupt checks and rate updates. */
#define TRAIN_SLICE			512
/* Kept tokens of a document trained as one sentence at most. */
#define TRAIN_SENTENCE_MAX	(64 * 1024)
/* Target tokens per chunk, and the most chunks per epoch. */
#define TRAIN_CHUNK_TOKENS	(64 * 1024)
#define TRAIN_MAX_CHUNKS	1024
/* Seconds between NOTICE lines and between progress slot updates. */
#define TRAIN_NOTICE_SECS	5.0
#define TRAIN_SLOT_SECS		0.5
/* The learning rate never falls below alpha times this. */
#define TRAIN_ALPHA_FLOOR	1e-4

/*
 * With several participants, each keeps private copies of the input and
 * the output vectors of the most frequent words, up to TRAIN_HOT_BYTES of
 * each matrix (all of it for vocabularies that fit), trains on those
 * copies, and folds its changes into the shared matrices in tiers
 * (SgnsHotSync): every TRAIN_HOT_SYNC centre words the first
 * TRAIN_HOT_ROWS rows, every TRAIN_HOT_SPAN syncs four times as many rows,
 * every TRAIN_HOT_SPAN^2 syncs sixteen times as many, and so on, but every
 * row at least once in TRAIN_HOT_MAX_SYNCS syncs.  The most frequent rows,
 * which the others change most, are seen soonest.
 *
 * Without the copies nearly every update of a frequent row moved a cache
 * line from one core to the other, and on a virtual machine that line
 * travels between core complexes whenever the host places the two cores
 * on different ones (a ping-pong loop measured 35 ns and 215 ns a
 * transfer, switching many times a minute).  Measured on the small corpus
 * (13 800 words, all copied), two workers against one, medians of five
 * alternating rounds: all rows copied and folded in tiers of 4x rows every
 * 4x centre words from 1024, 1.71x; this schedule 1.86x in the same rounds
 * (1.90x in the next five, 1.56x at a busier hour), at the same loss.
 * Folding the rarer rows much less often (every 500 000 centre words)
 * raised the loss from 0.421 to 0.445.
 *
 * Each fold reads rows the other participant wrote, from its core's cache,
 * and streams four arrays through this core's cache, pushing out rows
 * the kernel wanted (in a profile the kernel ran 5% slower with two
 * workers than with one, on private copies of every row).  Session 5,
 * Intel host, small corpus, medians of ten alternating two-worker rounds:
 * folding the top rows every 4096 centre words instead of 2048, with all
 * rows still folded every 131 072 (32 syncs), 2 927 000 tokens/s against
 * 2 858 000, loss 0.4213 against 0.4211; medium 2 362 000-2 373 000
 * against 2 266 000-2 295 000, scores 26.36-26.47 % / 0.615-0.619 /
 * 0.363-0.366 against 26.26-26.55 % / 0.615-0.617 / 0.362-0.365.  Every
 * 8192 centre words (all rows every 524 288) was no faster on small and
 * raised its loss to 0.445.
 */
#define TRAIN_HOT_BYTES		(32 * 1024 * 1024)
#define TRAIN_HOT_SYNC		4096
#define TRAIN_HOT_ROWS		1024
#define TRAIN_HOT_SPAN		8
#define TRAIN_HOT_MAX_SYNCS	32

#define TRAIN_MAX_WORKERS	64
#define TRAIN_MAX_EPOCHS	1000
#define TRAIN_MAX_WINDOW	1000
#define TRAIN_MAX_NEGATIVE	100

#define EMBED_TRAIN_SHM_KEY	UINT64CONST(0xE3BED0000001)

typedef struct TrainLossSlot
{
	double		loss;
	int64		pairs;
} TrainLossSlot;

typedef struct TrainShared
{
	/* parameters */
	int			dim;
	int			window;
	int			negative;
	int			epochs;
	bool		cbow;
	float		alpha;
	uint64		seed;
	int			nparticipants;
	int32		nhot;			/* rows of each matrix a participant keeps
								 * private, see TRAIN_HOT_BYTES */

	/* sizes */
	int32		vocab_size;
	int64		ntokens;
	int64		ndocs;
	int			nchunks;

	/* byte offsets of the arrays from the start of this struct */
	Size		off_syn0;
	Size		off_syn1;
	Size		off_tokens;
	Size		off_doc_start;
	Size		off_chunk_doc;
	Size		off_chunk_order;
	Size		off_keep;
	Size		off_alias_prob;
	Size		off_alias_index;
	Size		off_loss;		/* nparticipants x epochs TrainLossSlot */
	Size		off_cpu;		/* nparticipants doubles: CPU seconds */
	Size		total_size;

	/* coordination */
	pg_atomic_uint64 next_job;
	pg_atomic_uint64 tokens_done;
} TrainShared;

#define SH_ARRAY(sh, off, type) ((type *) ((char *) (sh) + (sh)->off))

/* Leader-only state for progress reporting. */
typedef struct TrainProgress
{
	bool		notices;
	instr_time	start;
	instr_time	last_notice;
	instr_time	last_slot;
	int64		tokens_at_last;
	double		loss_at_last;
	int64		pairs_at_last;
	double		seconds_at_last;
} TrainProgress;

static Size
AlignUp(Size s)
{
	return TYPEALIGN(64, s);
}

/*
 * Compute the layout of the shared block for the given sizes.
 */
static Size
TrainLayout(TrainShared *sh)
{
	Size		off = AlignUp(sizeof(TrainShared));
	Size		mat = (Size) sh->vocab_size * sh->dim * sizeof(float);

	sh->off_syn0 = off;
	off = AlignUp(off + mat);
	sh->off_syn1 = off;
	off = AlignUp(off + mat);
	sh->off_tokens = off;
	off = AlignUp(off + (Size) sh->ntokens * sizeof(int32));
	sh->off_doc_start = off;
	off = AlignUp(off + (Size) (sh->ndocs + 1) * sizeof(int64));
	sh->off_chunk_doc = off;
	off = AlignUp(off + (Size) (sh->nchunks + 1) * sizeof(int64));
	sh->off_chunk_order = off;
	off = AlignUp(off + (Size) sh->nchunks * sizeof(int32));
	sh->off_keep = off;
	off = AlignUp(off + (Size) sh->vocab_size * sizeof(uint32));
	sh->off_alias_prob = off;
	off = AlignUp(off + (Size) sh->vocab_size * sizeof(uint32));
	sh->off_alias_index = off;
	off = AlignUp(off + (Size) sh->vocab_size * sizeof(int32));
	sh->off_loss = off;
	off = AlignUp(off + (Size) sh->nparticipants * sh->epochs *
				  sizeof(TrainLossSlot));
	sh->off_cpu = off;
	off = AlignUp(off + (Size) sh->nparticipants * sizeof(double));
	sh->total_size = off;
	return off;
}

/*
 * Sum the loss slots of one epoch (or all when epoch < 0).
 */
static void
SumLoss(TrainShared *sh, int epoch, double *loss, int64 *pairs)
{
	TrainLossSlot *slots = SH_ARRAY(sh, off_loss, TrainLossSlot);
	int			p,
				e;

	*loss = 0;
	*pairs = 0;
	for (p = 0; p < sh->nparticipants; p++)
		for (e = 0; e < sh->epochs; e++)
		{
			volatile TrainLossSlot *s = &slots[p * sh->epochs + e];

			if (epoch >= 0 && e != epoch)
				continue;
			*loss += s->loss;
			*pairs += s->pairs;
		}
}

/* CPU time (user + system) of this process, in seconds. */
static double
ProcessCpuSeconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void
FormatDuration(char *buf, size_t len, double secs)
{
	long		s = (long) (secs + 0.5);

	if (s >= 3600)
		snprintf(buf, len, "%ld h %ld min", s / 3600, (s % 3600) / 60);
	else if (s >= 60)
		snprintf(buf, len, "%ld min %ld s", s / 60, s % 60);
	else
		snprintf(buf, len, "%ld s", s);
}

/*
 * Leader only: update the progress slots, and emit a NOTICE when due.
 */
static void
ReportProgress(TrainShared *sh, TrainProgress *pr, bool force)
{
	instr_time	now,
				since;
	double		elapsed,
				since_slot,
				since_notice;
	int64		done = pg_atomic_read_u64(&sh->tokens_done);
	int64		total = (int64) sh->epochs * sh->ntokens;
	double		rate,
				left,
				loss_sum,
				loss;
	int64		pairs;
	int			epoch;

	INSTR_TIME_SET_CURRENT(now);
	since = now;
	INSTR_TIME_SUBTRACT(since, pr->last_slot);
	since_slot = INSTR_TIME_GET_DOUBLE(since);
	if (!force && since_slot < TRAIN_SLOT_SECS)
		return;
	pr->last_slot = now;

	since = now;
	INSTR_TIME_SUBTRACT(since, pr->start);
	elapsed = INSTR_TIME_GET_DOUBLE(since);
	since = now;
	INSTR_TIME_SUBTRACT(since, pr->last_notice);
	since_notice = INSTR_TIME_GET_DOUBLE(since);

	/* rate and loss over the interval since the last NOTICE */
	rate = (elapsed - pr->seconds_at_last) > 0 ?
		(done - pr->tokens_at_last) / (elapsed - pr->seconds_at_last) : 0;
	if (rate <= 0 && elapsed > 0)
		rate = done / elapsed;
	SumLoss(sh, -1, &loss_sum, &pairs);
	loss = (pairs - pr->pairs_at_last) > 0 ?
		(loss_sum - pr->loss_at_last) / (pairs - pr->pairs_at_last) :
		(pairs > 0 ? loss_sum / pairs : 0);
	left = rate > 0 ? (total - done) / rate : 0;
	epoch = 1;
	if (sh->ntokens > 0)
		epoch += (int) Min(done / sh->ntokens, sh->epochs - 1);

	{
		const int	idx[] = {EMBED_PROGRESS_EPOCH, EMBED_PROGRESS_PERMILLE,
			EMBED_PROGRESS_TOKENS_SEC, EMBED_PROGRESS_LOSS_MICRO,
		EMBED_PROGRESS_SECONDS_LEFT};
		int64		val[5];

		val[0] = epoch;
		val[1] = total > 0 ? (int64) (10000.0 * done / total) : 0;
		val[2] = (int64) rate;
		val[3] = (int64) (loss * 1e6);
		val[4] = (int64) left;
		pgstat_progress_update_multi_param(5, idx, val);
	}

	if (pr->notices && (force || since_notice >= TRAIN_NOTICE_SECS))
	{
		char		buf[64];

		FormatDuration(buf, sizeof(buf), left);
		ereport(NOTICE,
				(errmsg("epoch %d/%d: %.1f%% done, %.0f tokens/s, loss %.4f, %s left",
						epoch, sh->epochs,
						total > 0 ? 100.0 * done / total : 100.0,
						rate, loss, buf)));
		pr->last_notice = now;
	}
	if (force || since_notice >= TRAIN_NOTICE_SECS)
	{
		pr->tokens_at_last = done;
		pr->seconds_at_last = elapsed;
		pr->loss_at_last = loss_sum;
		pr->pairs_at_last = pairs;
	}
}

/*
 * The rows that sync number k (from 1) folds: see TRAIN_HOT_BYTES.
 */
static int32
HotTier(uint64 k, int32 nhot)
{
	int64		rows = TRAIN_HOT_ROWS;
	uint64		period = 1;

	while (rows < nhot)
	{
		uint64		next = Min(period * TRAIN_HOT_SPAN, TRAIN_HOT_MAX_SYNCS);

		if (k % next != 0)
			break;
		period = next;
		rows *= 4;
	}
	return (int32) Min(rows, nhot);
}

/*
 * The training loop of one participant: the leader (participant 0, with
 * pr set) or a parallel worker.
 */
static void
TrainParticipant(TrainShared *sh, int participant, TrainProgress *pr)
{
	const int32 *tokens = SH_ARRAY(sh, off_tokens, int32);
	const int64 *doc_start = SH_ARRAY(sh, off_doc_start, int64);
	const int64 *chunk_doc = SH_ARRAY(sh, off_chunk_doc, int64);
	const int32 *chunk_order = SH_ARRAY(sh, off_chunk_order, int32);
	const uint32 *keep = SH_ARRAY(sh, off_keep, uint32);
	TrainLossSlot *slots = SH_ARRAY(sh, off_loss, TrainLossSlot);
	uint64		njobs = (uint64) sh->epochs * sh->nchunks;
	double		total = (double) sh->epochs * sh->ntokens + 1;
	SgnsModel	m;
	SgnsWork	w;
	int32	   *sen;
	double		cpu_start = ProcessCpuSeconds();
	int64		since_sync = 0;
	uint64		syncs = 0;
	char	   *hot_block = NULL;

	m.dim = sh->dim;
	m.window = sh->window;
	m.negative = sh->negative;
	m.cbow = sh->cbow;
	m.vocab_size = sh->vocab_size;
	m.syn0 = SH_ARRAY(sh, off_syn0, float);
	m.syn1 = SH_ARRAY(sh, off_syn1, float);
	memset(&w, 0, sizeof(w));
	w.nhot = sh->nhot;
	if (w.nhot > 0)
	{
		Size		sz = (Size) w.nhot * m.dim * sizeof(float);

		hot_block = MemoryContextAllocHuge(CurrentMemoryContext,
										   4 * sz + EMBED_HUGE_PAGE);
		w.hot = (float *) TYPEALIGN(EMBED_HUGE_PAGE, hot_block);
		EmbedAdviseHugePages(w.hot, 4 * sz);
		w.hot_base = w.hot + (Size) w.nhot * m.dim;
		w.hot0 = w.hot_base + (Size) w.nhot * m.dim;
		w.hot0_base = w.hot0 + (Size) w.nhot * m.dim;
		memcpy(w.hot, m.syn1, sz);
		memcpy(w.hot_base, m.syn1, sz);
		memcpy(w.hot0, m.syn0, sz);
		memcpy(w.hot0_base, m.syn0, sz);
	}
	m.alias_prob = SH_ARRAY(sh, off_alias_prob, uint32);
	m.alias_index = SH_ARRAY(sh, off_alias_index, int32);
	m.stop = &InterruptPending;

	w.neu1 = palloc(sizeof(float) * sh->dim);
	w.neu1e = palloc(sizeof(float) * sh->dim);
	w.negs = palloc(sizeof(int32) * 2 * sh->negative);
	sen = palloc(sizeof(int32) * TRAIN_SENTENCE_MAX);

	for (;;)
	{
		uint64		job = pg_atomic_fetch_add_u64(&sh->next_job, 1);
		int			epoch;
		int			chunk;
		int64		d;
		TrainLossSlot *slot;

		if (job >= njobs)
			break;
		epoch = (int) (job / sh->nchunks);
		chunk = chunk_order[job % sh->nchunks];
		slot = &slots[participant * sh->epochs + epoch];
		w.rng = TrainRandSeed(sh->seed, epoch + 1, chunk + 1);

		for (d = chunk_doc[chunk]; d < chunk_doc[chunk + 1]; d++)
		{
			int64		t = doc_start[d];
			int64		end = doc_start[d + 1];

			while (t < end)
			{
				int			n = 0;
				int64		raw_begin = t;
				int64		raw;
				int			from;

				/* subsample the next sentence */
				while (t < end && n < TRAIN_SENTENCE_MAX)
				{
					int32		tok = tokens[t++];

					if ((uint32) (TrainRandNext(&w.rng) >> 32) < keep[tok])
						sen[n++] = tok;
				}
				raw = t - raw_begin;

				for (from = 0; from < n || from == 0; from += TRAIN_SLICE)
				{
					int			to = Min(from + TRAIN_SLICE, n);
					int64		raw_slice;
					uint64		done;
					double		progress;
					float		alpha;

					/* the rate for this slice, from the tokens done so far */
					done = pg_atomic_read_u64(&sh->tokens_done);
					progress = (double) done / total;
					alpha = sh->alpha * (float) Max(1.0 - progress,
													TRAIN_ALPHA_FLOOR);

					w.loss = 0;
					w.pairs = 0;
					/* train, servicing interrupts as soon as they come */
					for (int at = from; at < to;)
					{
						at = SgnsTrainRange(&m, &w, sen, n, at, to, alpha);
						if (at < to)
							CHECK_FOR_INTERRUPTS();
					}
					slot->loss += w.loss;
					slot->pairs += w.pairs;
					since_sync += to - from;
					if (w.nhot > 0 && since_sync >= TRAIN_HOT_SYNC)
					{
						SgnsHotSync(&m, &w, HotTier(++syncs, w.nhot));
						since_sync = 0;
					}

					/* credit the raw tokens this slice stands for */
					raw_slice = n > 0 ? raw * to / n - raw * from / n : raw;
					pg_atomic_fetch_add_u64(&sh->tokens_done, raw_slice);

					CHECK_FOR_INTERRUPTS();
					if (pr)
						ReportProgress(sh, pr, false);
					if (n == 0)
						break;
				}
			}
		}
	}
	if (w.nhot > 0)
	{
		SgnsHotSync(&m, &w, w.nhot);
		pfree(hot_block);
	}
	SH_ARRAY(sh, off_cpu, double)[participant] =
		ProcessCpuSeconds() - cpu_start;
	pfree(sen);
	pfree(w.neu1);
	pfree(w.neu1e);
}

/*
 * Entry point of a parallel worker.
 */
PGDLLEXPORT void EmbedTrainWorkerMain(dsm_segment *seg, shm_toc *toc);

void
EmbedTrainWorkerMain(dsm_segment *seg, shm_toc *toc)
{
	TrainShared *sh = shm_toc_lookup(toc, EMBED_TRAIN_SHM_KEY, false);

	TrainParticipant(sh, ParallelWorkerNumber + 1, NULL);
}

/*
 * The order in which an epoch's chunks are handed out.  Jobs claimed at
 * about the same time run at the same time, and neighbouring chunks are
 * usually the same kind of text, so they update the same rows of the
 * weight matrices: with several participants, every write to such a row
 * moves its cache lines from one core to the other.  So the corpus is cut
 * into nparts equal runs of chunks and consecutive jobs take one chunk from
 * each run in turn, keeping the participants nchunks / nparts chunks apart,
 * as word2vec's threads each start at their own share of the file.  With
 * one participant the order is the identity.
 */
static void
ChunkOrder(int32 *order, int nchunks, int nparts)
{
	int			k = 0;

	nparts = Max(1, Min(nparts, nchunks));
	for (int j = 0; k < nchunks; j++)
	{
		for (int r = 0; r < nparts; r++)
		{
			int			c = (int) ((int64) r * nchunks / nparts) + j;

			if (c < (int) ((int64) (r + 1) * nchunks / nparts))
				order[k++] = c;
		}
	}
}

/*
 * Fill a freshly laid-out block from the corpus.
 */
static void
TrainFill(TrainShared *sh, Corpus corpus, double sample)
{
	float	   *syn0 = SH_ARRAY(sh, off_syn0, float);
	float	   *syn1 = SH_ARRAY(sh, off_syn1, float);
	int64	   *chunk_doc = SH_ARRAY(sh, off_chunk_doc, int64);
	const int64 *doc_start = corpus->doc_start;
	int64		nweights = (int64) sh->vocab_size * sh->dim;
	int64		i;
	uint64		rng = TrainRandSeed(sh->seed, 0, 0);
	int64		per_chunk;
	int			c;
	int64		d;

	/* input vectors uniform in [-0.5, 0.5) / dim, output vectors zero */
	for (i = 0; i < nweights; i++)
	{
		uint32		r = (uint32) (TrainRandNext(&rng) >> 32);

		syn0[i] = (float) (((double) r / 4294967296.0 - 0.5) / sh->dim);
	}
	memset(syn1, 0, sizeof(float) * nweights);

	memcpy(SH_ARRAY(sh, off_tokens, int32), corpus->tokens,
		   sizeof(int32) * corpus->ntokens);
	memcpy(SH_ARRAY(sh, off_doc_start, int64), corpus->doc_start,
		   sizeof(int64) * (corpus->ndocs + 1));

	/* chunks: cut at the first document boundary past each share */
	per_chunk = (corpus->ntokens + sh->nchunks - 1) / sh->nchunks;
	chunk_doc[0] = 0;
	c = 1;
	for (d = 1; d < corpus->ndocs && c < sh->nchunks; d++)
	{
		if (doc_start[d] >= per_chunk * c)
			chunk_doc[c++] = d;
	}
	/* fewer cuts than planned (large documents): shrink nchunks */
	sh->nchunks = c;
	chunk_doc[c] = corpus->ndocs;
	ChunkOrder(SH_ARRAY(sh, off_chunk_order, int32), sh->nchunks,
			   sh->nparticipants);

	SubsampleThresholds(corpus->counts, corpus->vocab_size, corpus->ntokens,
						sample, SH_ARRAY(sh, off_keep, uint32));
	AliasTableBuild(corpus->counts, corpus->vocab_size,
					SH_ARRAY(sh, off_alias_prob, uint32),
					SH_ARRAY(sh, off_alias_index, int32));
	memset(SH_ARRAY(sh, off_loss, TrainLossSlot), 0,
		   sizeof(TrainLossSlot) * sh->nparticipants * sh->epochs);
	memset(SH_ARRAY(sh, off_cpu, double), 0,
		   sizeof(double) * sh->nparticipants);
	pg_atomic_init_u64(&sh->next_job, 0);
	pg_atomic_init_u64(&sh->tokens_done, 0);
}

/*
 * How many rows of each matrix every participant copies (see
 * TRAIN_HOT_BYTES): each row costs four copies of dim floats in each
 * participant, counted against embed.train_memory_limit.  Where the
 * corpus leaves too little room under the limit the copies shrink, down
 * to none, rather than refuse a training that can run without them.
 */
static int32
HotRows(Corpus corpus, const TrainParams *params, int64 memory_limit)
{
	int64		row_bytes = (int64) params->dim * sizeof(float);
	int64		rows = Min((int64) corpus->vocab_size,
						   TRAIN_HOT_BYTES / row_bytes);

	if (memory_limit > 0)
	{
		int64		room = memory_limit - corpus->memory_bytes -
			(int64) params->workers * EMBED_HUGE_PAGE;

		rows = Min(rows, Max(room, 0) / (4 * row_bytes * params->workers));
	}
	if (rows < Min(16, corpus->vocab_size))
		rows = 0;			/* a handful of copies is not worth a sync */
	elog(DEBUG1, "each of %d participants copies %lld of %d rows",
		 params->workers, (long long) rows, corpus->vocab_size);
	return (int32) rows;
}

static char *
ArgText(FunctionCallInfo fcinfo, int n, const char *name)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"%s\" must not be null", name)));
	return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

static void
ArgNotNull(FunctionCallInfo fcinfo, int n, const char *name)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"%s\" must not be null", name)));
}

static void
CheckRange(const char *name, double value, double lo, double hi)
{
	if (!(value >= lo && value <= hi))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between %g and %g", name, lo, hi),
				 errdetail("The value given was %g.", value)));
}

/*
 * embed_train(tokens regclass, model text, dim int, "window" int,
 *			   negative int, epochs int, min_count int, sample float8,
 *			   alpha float8, method text, seed bigint, workers int,
 *			   doc_column text, pos_column text, token_column text,
 *			   replace bool, progress bool)
 * RETURNS (vocab_size int, tokens_read bigint, tokens_trained bigint,
 *			seconds float8, tokens_per_second float8, final_loss float8,
 *			read_seconds float8, workers_used int, train_seconds float8,
 *			cpu_seconds float8)
 */
Datum
embed_train(PG_FUNCTION_ARGS)
{
	Oid			relid;
	char	   *model;
	TrainParams params;
	char	   *method;
	bool		replace;
	bool		progress;
	CorpusSource src;
	TupleDesc	tupdesc;
	MemoryContext callercxt = CurrentMemoryContext;
	MemoryContext traincxt;
	MemoryContext oldcxt;
	RangeVar   *rv;
	Corpus		corpus;
	TrainShared header;
	TrainShared *sh;
	ParallelContext *pcxt = NULL;
	int			workers_used = 1;
	float	   *syn0;
	instr_time	start,
				now,
				train_start;
	double		seconds,
				train_seconds,
				cpu_seconds,
				final_loss;
	int64		pairs;
	TrainProgress pr;
	Datum		values[10];
	bool		nulls[10] = {false};
	int			i;

	for (i = 0; i < 17; i++)
	{
		static const char *const names[] = {
			"tokens", "model", "dim", "window", "negative", "epochs",
			"min_count", "sample", "alpha", "method", "seed", "workers",
			"doc_column", "pos_column", "token_column", "replace", "progress"
		};

		ArgNotNull(fcinfo, i, names[i]);
	}
	relid = PG_GETARG_OID(0);
	model = ArgText(fcinfo, 1, "model");
	params.dim = PG_GETARG_INT32(2);
	params.window = PG_GETARG_INT32(3);
	params.negative = PG_GETARG_INT32(4);
	params.epochs = PG_GETARG_INT32(5);
	params.min_count = PG_GETARG_INT32(6);
	params.sample = PG_GETARG_FLOAT8(7);
	params.alpha = PG_GETARG_FLOAT8(8);
	method = ArgText(fcinfo, 9, "method");
	params.seed = PG_GETARG_INT64(10);
	params.workers = PG_GETARG_INT32(11);
	src.doc_column = ArgText(fcinfo, 12, "doc_column");
	src.pos_column = ArgText(fcinfo, 13, "pos_column");
	src.token_column = ArgText(fcinfo, 14, "token_column");
	replace = PG_GETARG_BOOL(15);
	progress = PG_GETARG_BOOL(16);

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	CheckRange("dim", params.dim, 1, EMBED_MAX_DIM);
	CheckRange("window", params.window, 1, TRAIN_MAX_WINDOW);
	CheckRange("negative", params.negative, 1, TRAIN_MAX_NEGATIVE);
	CheckRange("epochs", params.epochs, 1, TRAIN_MAX_EPOCHS);
	CheckRange("min_count", params.min_count, 1, PG_INT32_MAX);
	if (!(params.sample >= 0 && params.sample < 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sample must be at least 0 and less than 1"),
				 errdetail("The value given was %g.", params.sample)));
	if (!(params.alpha > 0 && params.alpha <= 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("alpha must be greater than 0 and at most 1"),
				 errdetail("The value given was %g.", params.alpha)));
	CheckRange("workers", params.workers, 1, TRAIN_MAX_WORKERS);
	if (strcmp(method, "skipgram") == 0 || strcmp(method, "skip-gram") == 0)
		params.cbow = false;
	else if (strcmp(method, "cbow") == 0)
		params.cbow = true;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized training method \"%s\"", method),
				 errhint("Use \"skipgram\" or \"cbow\".")));

	/* the relation must exist (a stale regclass OID may not) */
	if (get_rel_name(relid) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));

	/* refuse an existing model table before spending any time */
	ModelPrepareName(model, replace, &rv);

	INSTR_TIME_SET_CURRENT(start);
	traincxt = AllocSetContextCreate(CurrentMemoryContext, "embed_train",
									 ALLOCSET_DEFAULT_SIZES);
	pgstat_progress_start_command(EMBED_PROGRESS_COMMAND, relid);
	pgstat_progress_update_param(EMBED_PROGRESS_PHASE, 1);
	pgstat_progress_update_param(EMBED_PROGRESS_EPOCHS, params.epochs);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	oldcxt = MemoryContextSwitchTo(traincxt);

	src.relid = relid;
	src.min_count = params.min_count;
	src.memory_limit = (int64) embed_train_memory_limit_kb * 1024;
	src.bytes_per_word = 2 * (int64) params.dim * sizeof(float) +
		2 * sizeof(uint32) + sizeof(int32);
	src.progress = progress;
	corpus = CorpusRead(&src);

	/* lay out the training block */
	memset(&header, 0, sizeof(header));
	header.dim = params.dim;
	header.window = params.window;
	header.negative = params.negative;
	header.epochs = params.epochs;
	header.cbow = params.cbow;
	header.alpha = (float) params.alpha;
	header.seed = (uint64) params.seed;
	header.nparticipants = params.workers;
	if (params.workers > 1)
		header.nhot = HotRows(corpus, &params, src.memory_limit);
	header.vocab_size = corpus->vocab_size;
	header.ntokens = corpus->ntokens;
	header.ndocs = corpus->ndocs;
	header.nchunks = (int) Max(1, Min(TRAIN_MAX_CHUNKS,
									  corpus->ntokens / TRAIN_CHUNK_TOKENS));
	header.nchunks = (int) Min(header.nchunks, corpus->ndocs);
	TrainLayout(&header);

	pgstat_progress_update_param(EMBED_PROGRESS_PHASE, 2);
	if (params.workers > 1)
	{
		EnterParallelMode();
		pcxt = CreateParallelContext("embed", "EmbedTrainWorkerMain",
									 params.workers - 1);
		shm_toc_estimate_chunk(&pcxt->estimator, header.total_size);
		shm_toc_estimate_keys(&pcxt->estimator, 1);
		InitializeParallelDSM(pcxt);
		sh = shm_toc_allocate(pcxt->toc, header.total_size);
		shm_toc_insert(pcxt->toc, EMBED_TRAIN_SHM_KEY, sh);
	}
	else
	{
		char	   *block = MemoryContextAllocHuge(traincxt,
												   header.total_size +
												   EMBED_HUGE_PAGE);

		/* on huge pages one worker trains 14% faster (small and medium) */
		sh = (TrainShared *) TYPEALIGN(EMBED_HUGE_PAGE, block);
		EmbedAdviseHugePages(sh, header.total_size);
	}
	memcpy(sh, &header, sizeof(TrainShared));
	TrainFill(sh, corpus, params.sample);

	/* the encoded corpus now lives in the block */
	pfree(corpus->tokens);
	corpus->tokens = NULL;

	INSTR_TIME_SET_CURRENT(train_start);
	if (pcxt)
	{
		LaunchParallelWorkers(pcxt);
		workers_used = 1 + pcxt->nworkers_launched;
		if (pcxt->nworkers_launched < params.workers - 1)
			ereport(DEBUG1,
					(errmsg("launched %d of %d parallel workers",
							pcxt->nworkers_launched, params.workers - 1)));
	}
	pgstat_progress_update_param(EMBED_PROGRESS_WORKERS, workers_used);

	memset(&pr, 0, sizeof(pr));
	pr.notices = progress;
	pr.start = train_start;
	pr.last_notice = train_start;
	pr.last_slot = train_start;
	TrainParticipant(sh, 0, &pr);

	if (pcxt)
		WaitForParallelWorkersToFinish(pcxt);
	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, train_start);
	train_seconds = INSTR_TIME_GET_DOUBLE(now);
	ReportProgress(sh, &pr, progress);

	{
		double		loss_sum;

		SumLoss(sh, sh->epochs - 1, &loss_sum, &pairs);
		final_loss = pairs > 0 ? loss_sum / pairs : 0;
		cpu_seconds = 0;
		for (i = 0; i < sh->nparticipants; i++)
			cpu_seconds += SH_ARRAY(sh, off_cpu, double)[i];
	}

	/* keep the input vectors; the rest of the block can go */
	if (pcxt)
	{
		syn0 = MemoryContextAllocHuge(traincxt, sizeof(float) *
									  sh->vocab_size * sh->dim);
		memcpy(syn0, SH_ARRAY(sh, off_syn0, float),
			   sizeof(float) * sh->vocab_size * sh->dim);
		DestroyParallelContext(pcxt);
		ExitParallelMode();
	}
	else
		syn0 = SH_ARRAY(sh, off_syn0, float);

	/* write the model table */
	pgstat_progress_update_param(EMBED_PROGRESS_PHASE, 3);
	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	ModelWrite(rv, replace, corpus, syn0, &params,
			   get_func_namespace(fcinfo->flinfo->fn_oid),
			   quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
										  get_rel_name(relid)),
			   workers_used, INSTR_TIME_GET_DOUBLE(now), final_loss);

	MemoryContextSwitchTo(oldcxt);
	SPI_finish();
	pgstat_progress_end_command();

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	seconds = INSTR_TIME_GET_DOUBLE(now);

	MemoryContextSwitchTo(callercxt);
	values[0] = Int32GetDatum(corpus->vocab_size);
	values[1] = Int64GetDatum(corpus->tokens_read);
	values[2] = Int64GetDatum((int64) params.epochs * corpus->ntokens);
	values[3] = Float8GetDatum(seconds);
	values[4] = Float8GetDatum(train_seconds > 0 ?
							   (double) params.epochs * corpus->ntokens /
							   train_seconds : 0);
	values[5] = Float8GetDatum(final_loss);
	values[6] = Float8GetDatum(corpus->read_seconds);
	values[7] = Int32GetDatum(workers_used);
	values[8] = Float8GetDatum(train_seconds);
	values[9] = Float8GetDatum(cpu_seconds);
	MemoryContextDelete(traincxt);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values,
													  nulls)));
}
