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
