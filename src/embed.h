/*-------------------------------------------------------------------------
 *
 * embed.h
 *	  Start-up hooks of each layer, called once from _PG_init.
 *
 * src/embed.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef EMBED_EMBED_H
#define EMBED_EMBED_H

/* src/train: GUCs and anything else training needs at load time. */
extern void EmbedTrainInit(void);

/* src/hnsw: the index's GUCs and reloption kind. */
extern void EmbedHnswInit(void);

/* src/cost.c: what a distance costs the planner. */
struct Node;
extern double EmbedDistanceCost(int dim);
extern int	EmbedExprDim(struct Node *arg);
extern int	EmbedCallDim(struct Node *call);

/*
 * src/embed.c: ask for transparent huge pages over a large private array
 * that is read at random (a hint; see EmbedAdviseHugePages).
 */
#define EMBED_HUGE_PAGE		((uintptr_t) 2 * 1024 * 1024)
extern void EmbedAdviseHugePages(void *p, Size len);

#endif							/* EMBED_EMBED_H */
