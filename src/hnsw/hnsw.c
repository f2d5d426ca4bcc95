/*-------------------------------------------------------------------------
 *
 * hnsw.c
 *	  The embed_hnsw index access method (placeholder until it lands).
 *
 * src/hnsw/hnsw.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "embed.h"

void
EmbedHnswInit(void)
{
}
