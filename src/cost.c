/*-------------------------------------------------------------------------
 *
 * cost.c
 *	  What a distance costs the planner: a support function for the
 *	  distance functions, and the same figure for the index's estimate.
 *
 * A distance reads both vectors once, so its cost grows with the
 * dimension; a fixed procost makes a sequential scan over 1536-dimensional
 * vectors look as cheap as one over 3-dimensional ones, and the planner
 * then prefers it to an index long after it has stopped being faster.
 * The support function answers SupportRequestCost with a per-call cost of
 * cpu_operator_cost * (1 + dim / EMBED_DIMS_PER_OPERATOR), where dim comes
 * from the arguments: a column's typmod (embedding(n)) or a constant's own
 * dimension.  When neither tells, the planner keeps the function's procost
 * (one operator), and so does the index's estimate.
 *
 * EMBED_DIMS_PER_OPERATOR is measured: an exact scan of 100 000 x 128
 * spends about 360 ns a row and one of 20 000 x 768 about 1280 ns, so each
 * dimension adds about 1.4 ns, against roughly 70 ns for the work the
 * planner prices at one cpu_operator_cost (the per-row overhead of the
 * same scans).  That is one operator per 50 dimensions.
 *
 * src/cost.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "nodes/nodeFuncs.h"
#include "nodes/primnodes.h"
#include "nodes/supportnodes.h"
#include "optimizer/optimizer.h"

#include "embed.h"
#include "embedding.h"

#define EMBED_DIMS_PER_OPERATOR 50.0

/*
 * Per-call cost of one distance between vectors of dim dimensions, in the
 * planner's units; dim <= 0 (not known) counts as one operator.
 */
double
EmbedDistanceCost(int dim)
{
	if (dim <= 0)
		return cpu_operator_cost;
	return cpu_operator_cost * (1.0 + dim / EMBED_DIMS_PER_OPERATOR);
}

/*
 * The dimension an argument of a distance function will have, or 0 when
 * the plan does not say: a typmod (a column declared embedding(n), or a
 * cast to it), else a non-null constant's own header.
 */
int
EmbedExprDim(Node *arg)
{
	int32		typmod;

	if (arg == NULL)
		return 0;
	typmod = exprTypmod(arg);
	if (typmod > 0 && typmod <= EMBED_MAX_DIM)
		return typmod;
	if (IsA(arg, Const) && !((Const *) arg)->constisnull &&
		((Const *) arg)->constlen == -1)
	{
		Embedding	e = DatumGetEmbedding(((Const *) arg)->constvalue);

		return e->dim;
	}
	return 0;
}

/* The largest dimension any argument of a call will have, 0 if none says. */
int
EmbedCallDim(Node *call)
{
	List	   *args;
	ListCell   *lc;
	int			dim = 0;

	if (call == NULL)
		return 0;
	if (IsA(call, FuncExpr))
		args = ((FuncExpr *) call)->args;
	else if (IsA(call, OpExpr))
		args = ((OpExpr *) call)->args;
	else
		return 0;
	foreach(lc, args)
		dim = Max(dim, EmbedExprDim((Node *) lfirst(lc)));
	return dim;
}

PG_FUNCTION_INFO_V1(embed_distance_support);
Datum
embed_distance_support(PG_FUNCTION_ARGS)
{
	Node	   *rawreq = (Node *) PG_GETARG_POINTER(0);

	if (IsA(rawreq, SupportRequestCost))
	{
		SupportRequestCost *req = (SupportRequestCost *) rawreq;
		int			dim = EmbedCallDim(req->node);

		if (dim > 0)
		{
			req->startup = 0;
			req->per_tuple = EmbedDistanceCost(dim);
			PG_RETURN_POINTER(req);
		}
	}
	PG_RETURN_POINTER(NULL);
}
