-- What a distance costs the planner grows with the dimension
-- (embed_distance_support), on both sides of a scan-or-index choice.
SET jit = off;

CREATE FUNCTION plan_cost(q text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	j json;
BEGIN
	EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO j;
	RETURN (j -> 0 -> 'Plan' ->> 'Total Cost')::float8;
END $$;

-- one distance per row over 1000 rows; only the dimension differs
CREATE TEMP VIEW dist_costs AS
SELECT d, plan_cost(format(
	'SELECT (array_fill(i::real, ARRAY[%1$s])::embedding(%1$s)) <=> '
	'(array_fill(1::real, ARRAY[%1$s])::embedding(%1$s)) '
	'FROM generate_series(1, 1000) i', d)) AS cost
FROM unnest(ARRAY[2, 128, 1536]) d;
SELECT a.d, b.d, b.cost > a.cost AS costlier
FROM dist_costs a JOIN dist_costs b ON b.d > a.d ORDER BY 1, 2;

-- every distance function has the support function
SELECT p.oid::regprocedure, p.prosupport
FROM pg_proc p
WHERE p.proname IN ('cosine_distance', 'cosine_similarity', 'inner_product',
					'negative_inner_product', 'l2_distance',
					'l2_squared_distance')
  AND p.proargtypes[0] = 'embedding'::regtype
ORDER BY 1::text;

-- a constant's own dimension counts when the column has no typmod
CREATE TABLE cost_free (v embedding);
SELECT plan_cost($$SELECT v <=> '[1,2,3]' FROM cost_free$$) <
	   plan_cost(format('SELECT v <=> %L FROM cost_free',
						array_fill(1, ARRAY[1536])::embedding::text)) AS const_dim_counts;

-- the index's estimate uses the same figure: with the dimension known, a
-- wide search on a small table of long vectors still beats an exact scan
CREATE TABLE cost_items (id int, v embedding(768));
SELECT setseed(0.25);
INSERT INTO cost_items
SELECT i, (SELECT array_agg(random() - 0.5)::real[]::embedding
		   FROM generate_series(1, 768) WHERE i > 0)
FROM generate_series(1, 3000) i;
ANALYZE cost_items;
CREATE INDEX ON cost_items USING embed_hnsw (v embedding_l2_ops);
SET embed.ef_search = 40;
EXPLAIN (COSTS OFF)
SELECT id FROM cost_items ORDER BY v <-> (SELECT v FROM cost_items WHERE id = 1) LIMIT 5;
-- a search that would meet every element of a small table of short
-- vectors loses to the exact scan
CREATE TABLE cost_small (id int, v embedding(16));
INSERT INTO cost_small
SELECT i, (SELECT array_agg(random() - 0.5)::real[]::embedding
		   FROM generate_series(1, 16) WHERE i > 0)
FROM generate_series(1, 1000) i;
ANALYZE cost_small;
CREATE INDEX ON cost_small USING embed_hnsw (v embedding_l2_ops);
EXPLAIN (COSTS OFF)
SELECT id FROM cost_small ORDER BY v <-> (SELECT v FROM cost_small WHERE id = 1) LIMIT 5;
RESET embed.ef_search;

DROP TABLE cost_items, cost_small, cost_free;
DROP VIEW dist_costs;
DROP FUNCTION plan_cost(text);
