-- Operators, functions, comparison, hashing, aggregates.

-- Distances
SELECT '[1,0]'::embedding <=> '[0,1]' AS cos_orth,
       '[1,1]'::embedding <=> '[2,2]' AS cos_same,
       '[1,0]'::embedding <=> '[-1,0]' AS cos_opposite;
SELECT '[1,2,3]'::embedding <#> '[4,5,6]' AS neg_ip,
       inner_product('[1,2,3]', '[4,5,6]') AS ip,
       negative_inner_product('[1,2,3]', '[4,5,6]') AS neg_ip_fn;
SELECT '[0,0]'::embedding <-> '[3,4]' AS l2,
       l2_distance('[1,1]', '[4,5]') AS l2_fn,
       l2_squared_distance('[0,0]', '[3,4]') AS l2sq;
SELECT round(cosine_similarity('[1,2]', '[2,4]')::numeric, 6) AS sim_parallel,
       round(cosine_distance('[1,2]', '[2,4]')::numeric, 6) AS dist_parallel;
-- a zero vector has no direction
SELECT '[0,0]'::embedding <=> '[1,1]' AS cos_zero;
-- mismatched dimensions: 22000
SELECT '[1,2]'::embedding <=> '[1,2,3]';
SELECT '[1,2]'::embedding <#> '[1,2,3]';
SELECT '[1,2]'::embedding <-> '[1,2,3]';
SELECT '[1,2]'::embedding + '[1,2,3]';
SELECT '[1,2]'::embedding - '[1,2,3]';
SELECT inner_product('[1]', '[1,2]');
-- float4 extremes: sums that overflow float4 are redone in double
SELECT '[3e38, 3e38]'::embedding <-> '[-3e38, -3e38]' AS l2_big;
SELECT '[1e-45]'::embedding <#> '[1e-45]' AS ip_denormal;
-- NULLs: every function is STRICT
SELECT NULL::embedding <=> '[1]', dims(NULL), norm(NULL), '[1]'::embedding + NULL;

-- Properties
SELECT dims('[1,2,3]'::embedding), norm('[3,4]'::embedding);
SELECT l2_normalize('[3,4]'::embedding), "normalize"('[0,5]'::embedding);
SELECT l2_normalize('[0,0]'::embedding);
SELECT norm(l2_normalize('[1,2,3,4,5]'::embedding))::numeric(10,6);

-- Arithmetic
SELECT '[1,2]'::embedding + '[3,4]', '[1,2]'::embedding - '[3,5]';
SELECT '[1,2]'::embedding * 2, 0.5 * '[1,2]'::embedding, '[1,2]'::embedding * 3::real;
SELECT '[3e38]'::embedding + '[3e38]';
SELECT '[3e38]'::embedding * 10;
SELECT '[1]'::embedding * 'NaN'::float8;
SELECT '[1]'::embedding * 'Infinity'::float8;
-- king - man + woman, as one expression
SELECT '[1,1,0]'::embedding - '[1,0,0]' + '[0,0,1]' AS queen;

-- Comparison, btree and hash
SELECT '[1,2]'::embedding = '[1,2]', '[1,2]'::embedding <> '[1,3]',
       '[1,2]'::embedding < '[1,3]', '[1,2]'::embedding < '[1,2,0]',
       '[2]'::embedding > '[1,9]', '[1,2]'::embedding >= '[1,2]',
       '[1,2]'::embedding <= '[0,9]', '[-0.0]'::embedding = '[0]';
SELECT embedding_cmp('[1,2]', '[1,2,3]'), embedding_cmp('[2]', '[1]'),
       embedding_cmp('[1]', '[1]');
SELECT embedding_hash('[-0.0, 1]') = embedding_hash('[0, 1]') AS hash_negzero,
       embedding_hash_extended('[1,2]', 7) = embedding_hash_extended('[1,2]', 7) AS hash_ext,
       embedding_hash('[1,2]') <> embedding_hash('[2,1]') AS hash_order;
CREATE TABLE t_cmp (id int, v embedding);
INSERT INTO t_cmp VALUES (1, '[3,1]'), (2, '[1,2]'), (3, '[1,2]'), (4, '[1,2,0]'),
	(5, '[0,5]'), (6, '[-0.0,5]'), (7, NULL);
SELECT v FROM t_cmp ORDER BY v;
SELECT DISTINCT v FROM t_cmp ORDER BY v;
SELECT v, count(*) FROM t_cmp GROUP BY v ORDER BY v;
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT v, count(*) FROM t_cmp GROUP BY v;
SELECT v, count(*) FROM t_cmp GROUP BY v ORDER BY count(*) DESC, v;
RESET enable_sort;
SET enable_mergejoin = off;
SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT a.id, b.id FROM t_cmp a JOIN t_cmp b ON a.v = b.v;
SELECT a.id, b.id FROM t_cmp a JOIN t_cmp b ON a.v = b.v AND a.id < b.id ORDER BY 1, 2;
RESET enable_mergejoin;
RESET enable_nestloop;
CREATE UNIQUE INDEX t_cmp_btree ON t_cmp (v);
DELETE FROM t_cmp WHERE id IN (3, 6);
CREATE UNIQUE INDEX t_cmp_btree ON t_cmp (v);
INSERT INTO t_cmp VALUES (8, '[1,2]');
CREATE INDEX t_cmp_hash ON t_cmp USING hash (v);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM t_cmp WHERE v = '[0,5]';
SELECT id FROM t_cmp WHERE v = '[0,5]';
RESET enable_seqscan;
DROP TABLE t_cmp;

-- Aggregates
SELECT avg(v), sum(v) FROM (VALUES ('[1,2]'::embedding), ('[3,4]'), (NULL)) t(v);
SELECT avg(v), sum(v) FROM (VALUES ('[1,2]'::embedding)) t(v) WHERE false;
SELECT avg(v) FROM (VALUES (NULL::embedding)) t(v);
SELECT avg(v) FROM (VALUES ('[1,2]'::embedding), ('[1,2,3]')) t(v);
SELECT sum(v) FROM (VALUES ('[3e38]'::embedding), ('[3e38]')) t(v);
SELECT avg(v) FROM (VALUES ('[3e38]'::embedding), ('[3e38]')) t(v);
SELECT g % 2 AS k, avg(v), sum(v)
FROM (SELECT g, ARRAY[g, 2 * g]::embedding AS v FROM generate_series(1, 10) g) s
GROUP BY 1 ORDER BY 1;
-- the same in a parallel plan, with partial aggregation and combine
CREATE TABLE t_agg AS
	SELECT g AS id, ARRAY[g % 7, g % 11, 1]::embedding AS v FROM generate_series(1, 100000) g;
ANALYZE t_agg;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT avg(v), sum(v) FROM t_agg;
SELECT avg(v), sum(v) FROM t_agg;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
SELECT avg(v), sum(v) FROM t_agg;
DROP TABLE t_agg;

-- The kernels: the SIMD path in use and the portable path agree
SELECT setseed(0.42);
CREATE TABLE t_k AS
	SELECT g AS id, d,
	       (SELECT array_agg(random() * 2 - 1) FROM generate_series(1, d) WHERE g > 0)::embedding AS a,
	       (SELECT array_agg(random() * 2 - 1) FROM generate_series(1, d) WHERE g > 0)::embedding AS b
	FROM generate_series(1, 20) g,
	     (VALUES (1), (7), (8), (15), (16), (31), (33), (128), (771), (4096)) dd(d);
CREATE TEMP TABLE k_auto AS
	SELECT id, d, a <=> b AS c, a <#> b AS ip, a <-> b AS l2 FROM t_k;
SET embed.kernels = portable;
SELECT embed_kernels_in_use();
CREATE TEMP TABLE k_port AS
	SELECT id, d, a <=> b AS c, a <#> b AS ip, a <-> b AS l2 FROM t_k;
RESET embed.kernels;
SELECT embed_kernels_in_use() IN ('avx2_fma', 'portable') AS known_path;
SELECT count(*) AS pairs,
       bool_and(abs(x.c - y.c) <= 1e-5) AS cos_agree,
       bool_and(abs(x.ip - y.ip) <= 1e-5 * greatest(1, abs(y.ip), sqrt(y.d))) AS ip_agree,
       bool_and(abs(x.l2 - y.l2) <= 1e-5 * greatest(1, y.l2)) AS l2_agree
FROM k_auto x JOIN k_port y USING (id, d);
-- and both agree with a double-precision reference computed in SQL
SELECT bool_and(abs((a <#> b) + ref) <= 1e-4 * greatest(1, abs(ref), sqrt(d))) AS ip_vs_reference,
       bool_and(abs((a <-> b) - l2ref) <= 1e-4 * greatest(1, l2ref)) AS l2_vs_reference
FROM (SELECT a, b, d,
             (SELECT sum(x::float8 * y::float8) FROM unnest(a::real[], b::real[]) u(x, y)) AS ref,
             (SELECT sqrt(sum((x::float8 - y::float8) ^ 2)) FROM unnest(a::real[], b::real[]) u(x, y)) AS l2ref
      FROM t_k) s;
SET embed.kernels = bogus;
DROP TABLE t_k;

-- Markings: every function on embeddings is immutable, strict and
-- parallel safe (functions that read tables, embed_*, are checked where
-- they are tested)
SELECT p.oid::regprocedure, p.provolatile, p.proisstrict, p.proparallel
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'embed'
WHERE p.prokind = 'f' AND p.proname NOT LIKE 'embed\_%'
  AND 'embedding'::regtype = ANY (p.proargtypes::oid[] || p.prorettype)
  AND (p.provolatile <> 'i' OR NOT p.proisstrict OR p.proparallel <> 's')
ORDER BY 1;
SELECT provolatile, proisstrict, proparallel FROM pg_proc
WHERE oid = 'embed_kernels_in_use()'::regprocedure;
-- and every function, operator, type and aggregate has a comment
SELECT pg_describe_object(d.classid, d.objid, 0) AS uncommented
FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'embed'
WHERE d.deptype = 'e' AND d.classid IN ('pg_proc'::regclass, 'pg_type'::regclass)
  AND obj_description(d.objid, d.classid::regclass::name) IS NULL
  AND NOT EXISTS (SELECT 1 FROM pg_type t WHERE d.classid = 'pg_type'::regclass AND t.oid = d.objid AND t.typname LIKE '\_%')
ORDER BY 1;
