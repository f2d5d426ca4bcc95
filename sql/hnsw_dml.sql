-- embed_hnsw under writes: inserts into an index built empty, updates,
-- deletes and VACUUM, iterative scans, the maintenance_work_mem fallback,
-- REINDEX and the concurrent variants, unlogged tables.

-- enable_seqscan = off makes plans look costly enough to JIT-compile,
-- which only slows the tests down
SET jit = off;
SELECT setseed(0.5);
CREATE TABLE docs (id int PRIMARY KEY, cat int, v embedding(8));
CREATE INDEX docs_v ON docs USING embed_hnsw (v embedding_cosine_ops) WITH (m = 6, ef_construction = 32);
SELECT * FROM embed_hnsw_check('docs_v');
INSERT INTO docs
	SELECT i, i % 10, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 8) WHERE i > 0)::real[]
	FROM generate_series(1, 1500) i;
SELECT * FROM embed_hnsw_check('docs_v');

CREATE FUNCTION knn_ids(q embedding, k int) RETURNS int[]
	LANGUAGE sql STABLE AS
$$ SELECT array_agg(id) FROM (SELECT id FROM docs ORDER BY v <=> q LIMIT k) s $$;
CREATE FUNCTION exact_ids(q embedding, k int) RETURNS int[]
	LANGUAGE sql STABLE
	SET enable_indexscan = off AS
$$ SELECT array_agg(id) FROM (SELECT id FROM docs ORDER BY v <=> q LIMIT k) s $$;
CREATE FUNCTION overlap(a int[], b int[]) RETURNS int
	LANGUAGE sql IMMUTABLE AS
$$ SELECT count(*)::int FROM unnest(a) x WHERE x = ANY (b) $$;
CREATE TABLE probes AS SELECT id AS pid, v FROM docs WHERE id % 50 = 0;

SET enable_seqscan = off;
SELECT avg(overlap(knn_ids(v, 10), exact_ids(v, 10))) >= 9 AS recall_ok FROM probes;

-- UPDATE moves a row: the index finds it at its new place
UPDATE docs SET v = '[1,1,1,1,1,1,1,1]' WHERE id = 7;
SELECT (knn_ids('[1,1,1,1,1,1,1,1]', 1))[1] AS nearest;
SELECT * FROM embed_hnsw_check('docs_v');

-- DELETE and VACUUM: deleted rows never come back, the graph is repaired,
-- and recall holds
DELETE FROM docs WHERE id % 3 = 0 AND id <> 7;
VACUUM docs;
SELECT * FROM embed_hnsw_check('docs_v');
SELECT count(*) AS deleted_returned
FROM probes, unnest(knn_ids(probes.v, 40)) x WHERE x % 3 = 0 AND x <> 7;
SELECT avg(overlap(knn_ids(v, 10), exact_ids(v, 10))) >= 9 AS recall_after_delete_ok FROM probes;
-- VACUUM made the deleted elements' places reusable: new rows take them
-- instead of growing the index, and are found
CREATE TEMP TABLE size_before AS
	SELECT pg_relation_size('docs_v') / 8192 AS pages,
		   (SELECT count(*) FROM docs) AS live;
INSERT INTO docs
	SELECT i, i % 10, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 8) WHERE i > 0)::real[]
	FROM generate_series(2001, 2500) i;
-- (500 new elements take 9 pages of their own; a few of a level no freed
-- place has may still need one)
SELECT pg_relation_size('docs_v') / 8192 - pages <= 3 AS places_reused
FROM size_before;
SELECT * FROM embed_hnsw_check('docs_v');
SELECT avg(overlap(knn_ids(v, 10), exact_ids(v, 10))) >= 9 AS recall_after_insert_ok FROM probes;
SELECT count(*) AS new_rows_found FROM docs d
WHERE id > 2000 AND id % 25 = 0 AND id = ANY (knn_ids(d.v, 5));
-- deleting everything, including the entry point, leaves a usable index
DELETE FROM docs WHERE id <> 7;
VACUUM docs;
SELECT * FROM embed_hnsw_check('docs_v');
SELECT knn_ids('[1,1,1,1,1,1,1,1]', 5) AS only_row;
DELETE FROM docs;
VACUUM docs;
SELECT * FROM embed_hnsw_check('docs_v');
SELECT knn_ids('[1,1,1,1,1,1,1,1]', 5) AS no_rows;
INSERT INTO docs
	SELECT i, i % 10, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 8) WHERE i > 0)::real[]
	FROM generate_series(1, 1500) i;
SELECT * FROM embed_hnsw_check('docs_v');
SELECT avg(overlap(knn_ids(v, 10), exact_ids(v, 10))) >= 9 AS recall_refilled_ok FROM probes;

-- a plain scan stops at ef_search rows; an iterative one goes on
SET embed.ef_search = 20;
SELECT count(*) AS plain FROM (SELECT id FROM docs ORDER BY v <=> '[1,0,0,0,0,0,0,0]' LIMIT 100) s;
SELECT count(*) < 20 AS plain_falls_short FROM (SELECT id FROM docs WHERE cat = 3 ORDER BY v <=> '[1,0,0,0,0,0,0,0]' LIMIT 20) s;
SET embed.iterative_scan = relaxed_order;
SELECT count(*) AS iterative FROM (SELECT id FROM docs ORDER BY v <=> '[1,0,0,0,0,0,0,0]' LIMIT 100) s;
SELECT count(*) AS filtered_iterative FROM (SELECT id FROM docs WHERE cat = 3 ORDER BY v <=> '[1,0,0,0,0,0,0,0]' LIMIT 20) s;
SELECT count(DISTINCT id) = count(*) AS no_duplicates FROM (SELECT id FROM docs ORDER BY v <=> '[1,0,0,0,0,0,0,0]' LIMIT 1000) s;
SELECT count(*) >= 1450 AS nearly_everything FROM (SELECT id FROM docs ORDER BY v <=> '[1,0,0,0,0,0,0,0]' LIMIT 5000) s;
-- the filtered rows are still near the query: most of the exact answer
SELECT overlap(
	(SELECT array_agg(id) FROM (SELECT id FROM docs WHERE cat = 3 ORDER BY v <=> '[1,0,0,0,0,0,0,0]' LIMIT 10) s),
	(SELECT array_agg(id) FROM (SELECT id FROM docs WHERE cat = 3 ORDER BY v <=> '[1,0,0,0,0,0,0,0]' OFFSET 0) s)
		[1:10]) >= 8 AS filtered_recall_ok;
-- strict_order: every row at least as far as the one before, and the
-- same rows as relaxed_order less the ones that came out of order
CREATE TEMP TABLE relaxed AS
SELECT row_number() OVER () AS n, id, v <=> '[1,0,0,0,0,0,0,0]' AS d
FROM (SELECT id, v FROM docs ORDER BY v <=> '[1,0,0,0,0,0,0,0]' LIMIT 5000) s;
SET embed.iterative_scan = strict_order;
CREATE TEMP TABLE strict AS
SELECT row_number() OVER () AS n, id, v <=> '[1,0,0,0,0,0,0,0]' AS d
FROM (SELECT id, v FROM docs ORDER BY v <=> '[1,0,0,0,0,0,0,0]' LIMIT 5000) s;
SELECT count(*) FILTER (WHERE d < prev) > 0 AS relaxed_out_of_order
FROM (SELECT d, lag(d) OVER (ORDER BY n) AS prev FROM relaxed) s;
SELECT count(*) FILTER (WHERE d < prev) AS strict_out_of_order
FROM (SELECT d, lag(d) OVER (ORDER BY n) AS prev FROM strict) s;
SELECT (SELECT count(*) FROM strict) >= 1000 AS strict_goes_on,
	   (SELECT count(*) FROM strict s WHERE NOT EXISTS
		   (SELECT 1 FROM relaxed r WHERE r.id = s.id)) AS strict_not_in_relaxed;
SELECT count(*) AS strict_filtered FROM (SELECT id FROM docs WHERE cat = 3 ORDER BY v <=> '[1,0,0,0,0,0,0,0]' LIMIT 20) s;
SET embed.iterative_scan = relaxed_order;
SET embed.max_scan_tuples = 100;
SELECT count(*) <= 100 AS bounded FROM (SELECT id FROM docs ORDER BY v <=> '[1,0,0,0,0,0,0,0]' LIMIT 5000) s;
RESET embed.max_scan_tuples;
RESET embed.iterative_scan;
RESET embed.ef_search;
RESET enable_seqscan;

-- a graph larger than maintenance_work_mem is finished on disk
CREATE TABLE big (id int, v embedding(128));
INSERT INTO big
	SELECT i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 128) WHERE i > 0)::real[]
	FROM generate_series(1, 1300) i;
SET maintenance_work_mem = '1MB';
\set VERBOSITY terse
CREATE INDEX big_v ON big USING embed_hnsw (v embedding_l2_ops);
\set VERBOSITY default
RESET maintenance_work_mem;
SELECT * FROM embed_hnsw_check('big_v');
SET enable_seqscan = off;
SELECT count(*) FILTER (WHERE (SELECT b2.id FROM big b2 ORDER BY b2.v <-> b1.v LIMIT 1) = b1.id) >= 12 AS finds_itself
FROM big b1 WHERE id % 100 = 0;
-- every row has its element
VACUUM big;
SELECT reltuples = 1300 AS all_indexed FROM pg_class WHERE relname = 'big_v';
RESET enable_seqscan;

-- a parallel build (workers permitting; the leader takes part anyway)
SET max_parallel_maintenance_workers = 2;
SET min_parallel_table_scan_size = 0;
CREATE INDEX big_v2 ON big USING embed_hnsw (v embedding_l2_ops);
SELECT * FROM embed_hnsw_check('big_v2');
SET enable_seqscan = off;
SELECT count(*) FILTER (WHERE (SELECT b2.id FROM big b2 ORDER BY b2.v <-> b1.v LIMIT 1) = b1.id) >= 12 AS parallel_finds_itself
FROM big b1 WHERE id % 100 = 0;
RESET enable_seqscan;
DROP INDEX big_v2;
CREATE INDEX CONCURRENTLY big_v3 ON big USING embed_hnsw (v embedding_l2_ops);
SELECT indisvalid FROM pg_index WHERE indexrelid = 'big_v3'::regclass;
SELECT * FROM embed_hnsw_check('big_v3');
DROP INDEX big_v3;
-- a parallel build whose shared graph, sized from stale statistics, fills
-- up: the rest is inserted afterwards
CREATE TABLE grown (id int, v embedding(16));
INSERT INTO grown
	SELECT i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 16) WHERE i > 0)::real[]
	FROM generate_series(1, 100) i;
ANALYZE grown;
INSERT INTO grown
	SELECT i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 16) WHERE i > 0)::real[]
	FROM generate_series(101, 1500) i;
\set VERBOSITY terse
CREATE INDEX grown_v ON grown USING embed_hnsw (v embedding_l2_ops);
\set VERBOSITY default
SELECT * FROM embed_hnsw_check('grown_v');
VACUUM grown;
SELECT reltuples = 1500 AS all_indexed FROM pg_class WHERE relname = 'grown_v';
DROP TABLE grown;
RESET max_parallel_maintenance_workers;
RESET min_parallel_table_scan_size;

-- REINDEX, CREATE INDEX CONCURRENTLY, REINDEX CONCURRENTLY
REINDEX INDEX docs_v;
SELECT * FROM embed_hnsw_check('docs_v');
DROP INDEX docs_v;
CREATE INDEX CONCURRENTLY docs_v2 ON docs USING embed_hnsw (v embedding_cosine_ops);
SELECT indisvalid FROM pg_index WHERE indexrelid = 'docs_v2'::regclass;
SELECT * FROM embed_hnsw_check('docs_v2');
REINDEX INDEX CONCURRENTLY docs_v2;
SELECT indisvalid FROM pg_index WHERE indexrelid = 'docs_v2'::regclass;
SELECT * FROM embed_hnsw_check('docs_v2');
SET enable_seqscan = off;
SELECT avg(overlap(knn_ids(v, 10), exact_ids(v, 10))) >= 9 AS recall_reindexed_ok FROM probes;
RESET enable_seqscan;

-- unlogged tables have an init fork
CREATE UNLOGGED TABLE scratch (v embedding(3));
CREATE INDEX scratch_v ON scratch USING embed_hnsw (v embedding_l2_ops);
INSERT INTO scratch VALUES ('[1,2,3]'), ('[3,2,1]');
SELECT * FROM embed_hnsw_check('scratch_v');
SET enable_seqscan = off;
SELECT v FROM scratch ORDER BY v <-> '[1,2,2]' LIMIT 1;
RESET enable_seqscan;

-- the build reports its phases by name
SELECT amname, pg_indexam_progress_phasename(oid, 2), pg_indexam_progress_phasename(oid, 3)
FROM pg_am WHERE amname = 'embed_hnsw';

DROP TABLE docs, probes, big, scratch;
DROP FUNCTION knn_ids(embedding, int), exact_ids(embedding, int), overlap(int[], int[]);
