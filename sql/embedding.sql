-- The embedding type: text and binary I/O, typmod, casts.

-- Text form: white space, decimal and exponent notation
SELECT '[1,2,3]'::embedding;
SELECT ' [ 1 , -2.5 ,3e2, 4E-2, +.5, -0.0 ] '::embedding;
SELECT '[1.5e38]'::embedding, '[-3.4028235e38]'::embedding;
-- smallest denormal and the smallest normal float4 survive
SELECT '[1.4e-45, 1.17549435e-38]'::embedding;
-- output is the shortest text that reads back to the same bits
SELECT '[0.1, 0.2, 0.3, 3.14159274, 1e-7, 123456789]'::embedding;
SELECT e::text::embedding = e AS round_trip
FROM (SELECT ('[' || string_agg((random() * 2e6 - 1e6)::real::text, ',') || ']')::embedding AS e
      FROM generate_series(1, 500)) s;

-- Malformed text: 22P02
SELECT ''::embedding;
SELECT '[]'::embedding;
SELECT '[ ]'::embedding;
SELECT '1,2'::embedding;
SELECT '[1,2'::embedding;
SELECT '[1,,2]'::embedding;
SELECT '[1,2,]'::embedding;
SELECT '[,1]'::embedding;
SELECT '[1 2]'::embedding;
SELECT '[a]'::embedding;
SELECT '[1]x'::embedding;
SELECT '[[1]]'::embedding;
SELECT '[NaN]'::embedding;
SELECT '[nan]'::embedding;
SELECT '[inf]'::embedding;
SELECT '[-Infinity]'::embedding;
SELECT '[0x10]'::embedding;
SELECT '[1e]'::embedding;
SELECT '[-]'::embedding;
-- out of float4 range: 22003
SELECT '[1e39]'::embedding;
SELECT '[-1e39]'::embedding;
SELECT '[1e-50]'::embedding;

-- Dimensions: 1 to 16000
SELECT dims('[5]'::embedding);
SELECT dims(array_fill(1, ARRAY[16000])::embedding);
SELECT dims(('[' || repeat('1,', 15999) || '1]')::embedding);
SELECT ('[' || repeat('1,', 16000) || '1]')::embedding;
SELECT array_fill(1, ARRAY[16001])::embedding;

-- typmod
SELECT '[1,2,3]'::embedding(3);
SELECT '[1,2]'::embedding(3);
SELECT '[1,2,3]'::embedding::embedding(2);
SELECT '[1]'::embedding(0);
SELECT '[1]'::embedding(16001);
SELECT '[1]'::embedding(1, 2);
CREATE TABLE t_typmod (v embedding(3));
INSERT INTO t_typmod VALUES ('[1,2,3]');
INSERT INTO t_typmod VALUES ('[1,2]');
INSERT INTO t_typmod VALUES (ARRAY[4,5,6]);
INSERT INTO t_typmod VALUES (ARRAY[4,5]);
SELECT * FROM t_typmod;
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 't_typmod'::regclass AND attname = 'v';
DROP TABLE t_typmod;

-- Casts from arrays
SELECT ARRAY[1.5, 2.5]::real[]::embedding;
SELECT ARRAY[1.5, 2.5]::double precision[]::embedding;
SELECT ARRAY[1, -2, 3]::integer[]::embedding;
SELECT ARRAY[1.25, 2.5]::numeric[]::embedding;
SELECT ARRAY[1, 2, 3]::embedding(3);
SELECT ARRAY[1, 2, 3]::embedding(2);
SELECT '[1,2,3]'::embedding::real[];
SELECT ARRAY[1, NULL]::real[]::embedding;
SELECT ARRAY[[1, 2], [3, 4]]::real[]::embedding;
SELECT '{}'::real[]::embedding;
SELECT ARRAY['NaN']::real[]::embedding;
SELECT ARRAY['Infinity']::double precision[]::embedding;
SELECT ARRAY[1e300]::double precision[]::embedding;
SELECT ARRAY[1e300]::numeric[]::embedding;
SELECT ARRAY['NaN']::numeric[]::embedding;
-- underflow to zero is refused, as in the text form; denormals are kept
SELECT ARRAY[1e-60]::numeric[]::embedding;
SELECT ARRAY[1e-60]::double precision[]::embedding;
SELECT ARRAY[1e-40, 0]::double precision[]::embedding;

-- Binary send/recv round trip, and COPY BINARY
CREATE TABLE t_bin (id int, v embedding);
INSERT INTO t_bin VALUES (1, '[1,2,3]'), (2, '[1.4e-45, -3.4028235e38, 0.1]'),
	(3, array_fill(0.5, ARRAY[16000])::embedding), (4, NULL);
SELECT bool_and(embedding_send(v) = embedding_send(v::text::embedding)) AS send_stable
FROM t_bin;
\set binfile '/tmp/embed_regress_bin.copy'
COPY t_bin TO :'binfile' WITH (FORMAT binary);
CREATE TABLE t_bin2 (id int, v embedding);
COPY t_bin2 FROM :'binfile' WITH (FORMAT binary);
SELECT a.id, a.v IS NOT DISTINCT FROM b.v AS same,
       a.v::text IS NOT DISTINCT FROM b.v::text AS same_text
FROM t_bin a JOIN t_bin2 b USING (id) ORDER BY id;
-- binary into a column of the wrong dimension
CREATE TABLE t_bin3 (id int, v embedding(3));
COPY t_bin3 FROM :'binfile' WITH (FORMAT binary);
DROP TABLE t_bin, t_bin2, t_bin3;

-- The SQLSTATE of each kind of bad input
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END $$;
SELECT q, pg_temp.sqlstate_of(q) FROM (VALUES
	($q$SELECT '[1,2]'::embedding$q$),
	($q$SELECT 'x'::embedding$q$),
	($q$SELECT '[]'::embedding$q$),
	($q$SELECT '[1,'::embedding$q$),
	($q$SELECT '[NaN]'::embedding$q$),
	($q$SELECT '[Infinity]'::embedding$q$),
	($q$SELECT '[1e39]'::embedding$q$),
	($q$SELECT '[1e-60]'::embedding$q$),
	($q$SELECT array_fill(1, ARRAY[16001])::embedding$q$),
	($q$SELECT ('[' || repeat('0,', 16000) || '0]')::embedding$q$),
	($q$SELECT '[1,2]'::embedding(3)$q$),
	($q$SELECT '[1]'::embedding(0)$q$),
	($q$SELECT '[1]'::embedding(16001)$q$),
	($q$SELECT ARRAY[1, NULL]::real[]::embedding$q$),
	($q$SELECT ARRAY[[1]]::real[]::embedding$q$),
	($q$SELECT '{}'::int[]::embedding$q$),
	($q$SELECT ARRAY['NaN']::float8[]::embedding$q$),
	($q$SELECT ARRAY[1e40]::float8[]::embedding$q$),
	($q$SELECT '[1]'::embedding <=> '[1,2]'$q$),
	($q$SELECT '[3e38]'::embedding * 2$q$),
	($q$SELECT '[1]'::embedding * 'NaN'::float8$q$),
	($q$SELECT sum(v) FROM (VALUES ('[1]'::embedding), ('[1,2]')) t(v)$q$)
) t(q);

-- Storage: vectors stay in the heap row unless the row cannot fit a page
SELECT typstorage FROM pg_type WHERE typname = 'embedding';
CREATE TABLE t_store (v embedding);
INSERT INTO t_store
	SELECT (SELECT array_agg(random()) FROM generate_series(1, 768) WHERE g > 0)::embedding
	FROM generate_series(1, 10) g;
SELECT pg_relation_size(reltoastrelid) AS toast_bytes,
       (SELECT count(*) FROM t_store WHERE pg_column_compression(v) IS NOT NULL) AS compressed
FROM pg_class WHERE oid = 't_store'::regclass;
DROP TABLE t_store;
