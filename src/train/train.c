/*-------------------------------------------------------------------------
 *
 * train.c
 *	  In-database word2vec training (placeholder until it lands).
 *
 * src/train/train.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "embed.h"

void
EmbedTrainInit(void)
{
}
