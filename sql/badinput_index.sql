-- Bad input around the embed_hnsw index, each case asserted by its
-- SQLSTATE ('ok' when it is accepted), and the server still up at the
-- end.  sql/hnsw.sql has the option and setting ranges; this file adds
-- the rest.

SELECT pg_postmaster_start_time() AS start_time \gset
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END $$;

CREATE TABLE bi (id int, v embedding);
INSERT INTO bi SELECT g, ARRAY[g, 1, 0]::embedding FROM generate_series(1, 50) g;
CREATE TABLE bi_empty (id int, v embedding(3));
CREATE TABLE bi_wide (v embedding);
INSERT INTO bi_wide VALUES (array_fill(0.5::real, ARRAY[3000])::embedding);
CREATE TABLE bi_mixed (v embedding);
INSERT INTO bi_mixed VALUES ('[1,2,3]'), ('[1,2]');
CREATE TABLE bi_nulls (id int, v embedding(3));
INSERT INTO bi_nulls VALUES (1, NULL), (2, '[0,0,0]'), (3, '[1,0,0]'), (4, NULL),
	(5, '[0,1,0]');

-- Index definitions
SELECT what, pg_temp.sqlstate_of(q) AS sqlstate FROM (VALUES
	('vectors too long for a page', $q$CREATE INDEX ON bi_wide USING embed_hnsw (v embedding_l2_ops)$q$),
	('mixed dimensions', $q$CREATE INDEX ON bi_mixed USING embed_hnsw (v embedding_l2_ops)$q$),
	('two columns', $q$CREATE INDEX ON bi USING embed_hnsw (v embedding_l2_ops, v embedding_ip_ops)$q$),
	('unique', $q$CREATE UNIQUE INDEX ON bi USING embed_hnsw (v embedding_l2_ops)$q$),
	('INCLUDE', $q$CREATE INDEX ON bi USING embed_hnsw (v embedding_l2_ops) INCLUDE (id)$q$),
	('m not a number', $q$CREATE INDEX ON bi USING embed_hnsw (v embedding_l2_ops) WITH (m = 'many')$q$),
	('m huge', $q$CREATE INDEX ON bi USING embed_hnsw (v embedding_l2_ops) WITH (m = 2147483648)$q$),
	('m negative', $q$CREATE INDEX ON bi USING embed_hnsw (v embedding_l2_ops) WITH (m = -16)$q$),
	('ef_construction below 2 m', $q$CREATE INDEX ON bi USING embed_hnsw (v embedding_l2_ops) WITH (m = 64, ef_construction = 10)$q$),
	('change m afterwards', $q$CREATE INDEX bi_alter ON bi USING embed_hnsw (v embedding_l2_ops); ALTER INDEX bi_alter SET (m = 4)$q$),
	('an opclass of another type', $q$CREATE INDEX ON bi USING embed_hnsw (id embedding_l2_ops)$q$),
	('btree opclass', $q$CREATE INDEX ON bi USING embed_hnsw (v embedding_ops)$q$),
	('on an expression', $q$CREATE INDEX ON bi USING embed_hnsw ((v + v) embedding_l2_ops)$q$),
	('partial', $q$CREATE INDEX ON bi USING embed_hnsw (v embedding_cosine_ops) WHERE id > 10$q$),
	('empty table', $q$CREATE INDEX bi_empty_v ON bi_empty USING embed_hnsw (v embedding_l2_ops)$q$),
	('NULL and zero vectors', $q$CREATE INDEX bi_nulls_cos ON bi_nulls USING embed_hnsw (v embedding_cosine_ops)$q$),
	('NULL and zero vectors, l2', $q$CREATE INDEX bi_nulls_l2 ON bi_nulls USING embed_hnsw (v embedding_l2_ops)$q$)
) t(what, q);

-- A built index meets bad rows and bad queries
CREATE INDEX bi_v ON bi USING embed_hnsw (v embedding_l2_ops);
SET enable_seqscan = off;
SELECT what, pg_temp.sqlstate_of(q) AS sqlstate FROM (VALUES
	('insert another dimension', $q$INSERT INTO bi VALUES (0, '[1,2]')$q$),
	('insert a long vector', $q$INSERT INTO bi VALUES (0, array_fill(1::real, ARRAY[3000])::embedding)$q$),
	('update to another dimension', $q$UPDATE bi SET v = '[1,2,3,4]' WHERE id = 1$q$),
	('query of another dimension', $q$SELECT id FROM bi ORDER BY v <-> '[1,2]' LIMIT 3$q$),
	('query of 16000 dimensions', $q$SELECT id FROM bi ORDER BY v <-> array_fill(1::real, ARRAY[16000])::embedding LIMIT 3$q$),
	('LIMIT a billion', $q$SELECT count(*) FROM (SELECT id FROM bi ORDER BY v <-> '[1,1,1]' LIMIT 1000000000) s$q$),
	('no LIMIT', $q$SELECT count(*) FROM (SELECT id FROM bi ORDER BY v <-> '[1,1,1]') s$q$),
	('OFFSET past the end', $q$SELECT id FROM bi ORDER BY v <-> '[1,1,1]' OFFSET 1000 LIMIT 5$q$),
	('check a btree index', $q$CREATE INDEX bi_btree ON bi (id); SELECT * FROM embed_hnsw_check('bi_btree')$q$),
	('check a table', $q$SELECT * FROM embed_hnsw_check('bi')$q$),
	('check a dropped index', $q$SELECT * FROM embed_hnsw_check(0)$q$),
	('ef_search -1', $q$SET embed.ef_search = -1$q$),
	('ef_search text', $q$SET embed.ef_search = 'lots'$q$),
	('iterative_scan bogus', $q$SET embed.iterative_scan = bogus$q$),
	('max_scan_tuples 2^31', $q$SET embed.max_scan_tuples = 2147483648$q$)
) t(what, q);
SELECT count(*) AS rows_after_bad_updates FROM bi;

-- NULL, zero and empty: the scan returns what it can, never an error
SELECT id FROM bi_nulls ORDER BY v <=> '[1,0.1,0]' LIMIT 10;
SELECT id FROM bi_nulls ORDER BY v <-> '[1,0.1,0]' LIMIT 10;
SELECT count(*) AS zero_query FROM (SELECT id FROM bi_nulls ORDER BY v <=> '[0,0,0]' LIMIT 10) s;
SELECT count(*) AS null_query FROM (SELECT id FROM bi ORDER BY v <-> NULL LIMIT 5) s;
SELECT count(*) AS null_query_cos FROM (SELECT id FROM bi_nulls ORDER BY v <=> NULL LIMIT 5) s;
SELECT id FROM bi_empty ORDER BY v <-> '[1,2,3]' LIMIT 5;
INSERT INTO bi_empty VALUES (1, '[1,2,3]');
SELECT id FROM bi_empty ORDER BY v <-> '[1,2,3]' LIMIT 5;
SELECT * FROM embed_hnsw_check('bi_empty_v');
SELECT * FROM embed_hnsw_check(NULL);
SET embed.ef_search = 1000;
SET embed.iterative_scan = relaxed_order;
SET embed.max_scan_tuples = 2147483647;
SELECT count(*) AS everything FROM (SELECT id FROM bi ORDER BY v <-> '[1,1,1]' LIMIT 100000) s;
RESET embed.ef_search;
RESET embed.iterative_scan;
RESET embed.max_scan_tuples;
RESET enable_seqscan;
SELECT count(*) AS problems FROM embed_hnsw_check('bi_v');

DROP TABLE bi, bi_empty, bi_wide, bi_mixed, bi_nulls;
SELECT pg_postmaster_start_time() = :'start_time' AS same_server;
