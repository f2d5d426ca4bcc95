-- embed_hnsw: options, planning, each operator class, recall against the
-- exact answer.  The graph's levels are random, so results are compared
-- with the exact ones as recall bounds, never listed.

-- enable_seqscan = off makes plans look costly enough to JIT-compile,
-- which only slows the tests down
SET jit = off;
SELECT setseed(0.25);
CREATE TABLE items (id int PRIMARY KEY, v embedding(16));
INSERT INTO items
	SELECT i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 16) WHERE i > 0)::real[]
	FROM generate_series(1, 2000) i;
CREATE TABLE queries (qid int PRIMARY KEY, v embedding(16));
INSERT INTO queries
	SELECT i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 16) WHERE i > 0)::real[]
	FROM generate_series(1, 50) i;

-- options out of range
CREATE INDEX ON items USING embed_hnsw (v embedding_l2_ops) WITH (m = 1);
CREATE INDEX ON items USING embed_hnsw (v embedding_l2_ops) WITH (m = 101);
CREATE INDEX ON items USING embed_hnsw (v embedding_l2_ops) WITH (ef_construction = 3);
CREATE INDEX ON items USING embed_hnsw (v embedding_l2_ops) WITH (ef_construction = 1001);
CREATE INDEX ON items USING embed_hnsw (v embedding_l2_ops) WITH (ef = 10);
-- no default operator class, and no other type
CREATE INDEX ON items USING embed_hnsw (v);
CREATE INDEX ON items USING embed_hnsw (id);
SET embed.ef_search = 0;
SET embed.ef_search = 1001;
SET embed.iterative_scan = strict;
SET embed.max_scan_tuples = 0;

-- the exact answers, by sequential scan
SET enable_indexscan = off;
CREATE TABLE exact AS
	SELECT 'l2' AS op, qid, (SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY items.v <-> queries.v LIMIT 10) s) AS ids FROM queries
	UNION ALL
	SELECT 'ip', qid, (SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY items.v <#> queries.v LIMIT 10) s) FROM queries
	UNION ALL
	SELECT 'cos', qid, (SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY items.v <=> queries.v LIMIT 10) s) FROM queries;
RESET enable_indexscan;

CREATE FUNCTION recall(op text, found int[], qid int) RETURNS float8
	LANGUAGE sql STABLE AS
$$ SELECT count(*)::float8 / 10 FROM exact e, unnest(found) f
   WHERE e.op = $1 AND e.qid = $3 AND f = ANY (e.ids) $$;

-- L2
CREATE INDEX items_l2 ON items USING embed_hnsw (v embedding_l2_ops) WITH (m = 8, ef_construction = 40);
SELECT * FROM embed_hnsw_check('items_l2');
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <-> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]' LIMIT 5;
SELECT avg(recall('l2', (SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY items.v <-> queries.v LIMIT 10) s), qid)) >= 0.9 AS l2_recall_ok
FROM queries;
-- the nearest neighbour of a stored vector is itself (an approximate
-- search may rarely miss one)
SELECT count(*) FILTER (WHERE (SELECT id FROM items i2 ORDER BY i2.v <-> i1.v LIMIT 1) = i1.id) >= 48 AS finds_itself
FROM items i1 WHERE id <= 50;
-- distances come out in order, and with the operator's values
SELECT bool_and(ok) AS ordered FROM (
	SELECT d >= lag(d) OVER () OR lag(d) OVER () IS NULL AS ok
	FROM (SELECT v <-> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]' AS d FROM items
		  ORDER BY v <-> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]' LIMIT 20) s) s2;
RESET enable_seqscan;
DROP INDEX items_l2;

-- inner product
CREATE INDEX items_ip ON items USING embed_hnsw (v embedding_ip_ops);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <#> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]' LIMIT 5;
SELECT avg(recall('ip', (SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY items.v <#> queries.v LIMIT 10) s), qid)) >= 0.8 AS ip_recall_ok
FROM queries;
-- the index serves only its own operator
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <-> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]' LIMIT 5;
RESET enable_seqscan;
DROP INDEX items_ip;

-- cosine
CREATE INDEX items_cos ON items USING embed_hnsw (v embedding_cosine_ops);
SELECT * FROM embed_hnsw_check('items_cos');
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <=> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]' LIMIT 5;
SELECT avg(recall('cos', (SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY items.v <=> queries.v LIMIT 10) s), qid)) >= 0.9 AS cos_recall_ok
FROM queries;
-- a wider search finds at least as much
SET embed.ef_search = 200;
SELECT avg(recall('cos', (SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY items.v <=> queries.v LIMIT 10) s), qid)) >= 0.98 AS cos_recall_wide_ok
FROM queries;
RESET embed.ef_search;
-- a zero query has no direction: any order is right, and nothing breaks
SELECT count(*) FROM (SELECT id FROM items ORDER BY v <=> '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' LIMIT 5) s;
-- the index returns no rows for a NULL query
SELECT count(*) FROM (SELECT id FROM items ORDER BY v <=> (SELECT NULL::embedding) LIMIT 5) s;
-- wrong dimension
SELECT id FROM items ORDER BY v <=> '[1,2,3]' LIMIT 5;
RESET enable_seqscan;

-- NULL and zero vectors are stored in the table, not in the graph
INSERT INTO items VALUES (10001, NULL), (10002, '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]');
SELECT * FROM embed_hnsw_check('items_cos');
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM items ORDER BY v <=> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]' LIMIT 40) s
WHERE id > 10000;
RESET enable_seqscan;
DELETE FROM items WHERE id > 10000;

-- the planner: on 2000 short vectors a search at the default ef_search
-- meets about two thirds of them and still takes half the time of a scan
-- and sort (measured: 0.28 against 0.55 ms), so the index is chosen; a
-- tiny table is cheaper to scan
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <=> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]' LIMIT 5;
CREATE TABLE tiny (id int, v embedding(3));
INSERT INTO tiny VALUES (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0,0,1]');
CREATE INDEX ON tiny USING embed_hnsw (v embedding_l2_ops);
ANALYZE tiny;
EXPLAIN (COSTS OFF) SELECT id FROM tiny ORDER BY v <-> '[1,1,1]' LIMIT 1;
-- without ORDER BY the index is useless
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM tiny WHERE v = '[1,0,0]';
RESET enable_seqscan;
-- every vector of an index has one dimension
INSERT INTO tiny VALUES (4, '[1,2]');
CREATE TABLE mixed (v embedding);
INSERT INTO mixed VALUES ('[1,2]'), ('[1,2,3]');
CREATE INDEX ON mixed USING embed_hnsw (v embedding_l2_ops);
DELETE FROM mixed WHERE dims(v) = 3;
CREATE INDEX mixed_idx ON mixed USING embed_hnsw (v embedding_l2_ops);
INSERT INTO mixed VALUES ('[1,2,3]');
-- the longest vectors a page holds, and one more
CREATE TABLE wide (v embedding);
INSERT INTO wide SELECT array_fill(1.0::real, ARRAY[2034])::embedding;
CREATE INDEX wide_idx ON wide USING embed_hnsw (v embedding_l2_ops);
INSERT INTO wide SELECT array_fill(0.5::real, ARRAY[2034])::embedding FROM generate_series(1, 5);
SELECT * FROM embed_hnsw_check('wide_idx');
SELECT count(*) FROM wide;
INSERT INTO wide SELECT array_fill(1.0::real, ARRAY[2035])::embedding;
CREATE TABLE wider (v embedding(2035));
CREATE INDEX ON wider USING embed_hnsw (v embedding_l2_ops);

-- the check function refuses other relations
SELECT * FROM embed_hnsw_check('items');
SELECT * FROM embed_hnsw_check('items_pkey');

-- the catalog is consistent
SELECT amvalidate(oid) FROM pg_opclass WHERE opcmethod = (SELECT oid FROM pg_am WHERE amname = 'embed_hnsw') ORDER BY opcname;

DROP TABLE items, queries, exact, tiny, mixed, wide, wider;
DROP FUNCTION recall(text, int[], int);
