-- Every element of a freshly built embed_hnsw index can be reached from
-- the entry point: on unstructured 32-dimensional data later links used to
-- push about one element in a hundred out of every list, and a search
-- then never found it, however wide.  A wide search for each row's own
-- vector must find that row.
SET jit = off;
SELECT setseed(0.7);
CREATE TABLE reach (id int, v embedding(32));
INSERT INTO reach
SELECT i, (SELECT array_agg(sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))::real[]
		   FROM generate_series(1, 32) WHERE i > 0)
FROM generate_series(1, 3000) i;
CREATE INDEX reach_v ON reach USING embed_hnsw (v embedding_l2_ops);
SET enable_seqscan = off;
SET embed.ef_search = 400;
SELECT count(*) FILTER (
	WHERE (SELECT b.id FROM reach b ORDER BY b.v <-> a.v LIMIT 1) <> a.id) AS rows_not_found
FROM reach a;
SELECT * FROM embed_hnsw_check('reach_v');
DROP TABLE reach;

-- After the build, an insert that joins a full list can push out another
-- element's last way in.  embed_hnsw_check names the elements no search
-- can reach, and VACUUM links them again.  With m = 4 on this data about
-- one element in ten is cut off after the inserts (about one in three
-- thousand at the default m = 16).
RESET enable_seqscan;
RESET embed.ef_search;
CREATE TABLE reach2 (id int, v embedding(32)) WITH (autovacuum_enabled = off);
INSERT INTO reach2
SELECT i, (SELECT array_agg(sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))::real[]
		   FROM generate_series(1, 32) WHERE i > 0)
FROM generate_series(1, 1000) i;
CREATE INDEX reach2_v ON reach2 USING embed_hnsw (v embedding_l2_ops) WITH (m = 4);
INSERT INTO reach2
SELECT i, (SELECT array_agg(sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))::real[]
		   FROM generate_series(1, 32) WHERE i > 0)
FROM generate_series(1001, 5000) i;
SELECT count(*) > 100 AS many_unreachable, min(problem) AS problem
FROM embed_hnsw_check('reach2_v');
SET enable_seqscan = off;
SET embed.ef_search = 40;
CREATE TEMP TABLE missed AS
SELECT count(*) FILTER (
	WHERE (SELECT b.id FROM reach2 b ORDER BY b.v <-> a.v LIMIT 1) <> a.id) AS n
FROM reach2 a;
VACUUM reach2;
SELECT * FROM embed_hnsw_check('reach2_v');
-- and searches find more of the rows
SELECT count(*) FILTER (
	WHERE (SELECT b.id FROM reach2 b ORDER BY b.v <-> a.v LIMIT 1) <> a.id)
	< (SELECT n FROM missed) AS fewer_missed
FROM reach2 a;
DROP TABLE reach2;
