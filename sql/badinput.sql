-- A catalogue of bad input, each case asserted by its SQLSTATE, and the
-- server still up at the end.  sql/embedding.sql has the basic malformed
-- literals; this file adds the rest.

SELECT pg_postmaster_start_time() AS start_time \gset

-- Runs a statement, returns 'ok' or the SQLSTATE it raised.
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END $$;

-- Malformed literals of every kind
SELECT lit, pg_temp.sqlstate_of(format('SELECT %L::embedding', lit)) AS sqlstate
FROM (VALUES
	(' '), ('['), (']'), ('[1'), ('1]'), (']1['), ('[1]]'), ('[[1],[2]]'),
	('(1,2)'), ('{1,2}'), ('[1;2]'), ('[1,2],'), ('[1] [2]'), ('[1],[2]'),
	('[.]'), ('[e5]'), ('[1e+]'), ('[1.2.3]'), ('[--1]'), ('[+-1]'),
	('[- 1]'), ('[1 .5]'), ('[1_000]'), ('[1,000.5]x'), ('[0x1p3]'),
	('[0X1]'), ('[+inf]'), ('[infinity]'), ('[-nan]'), ('[NaN, 1]'),
	('[1, Infinity]'), ('[1e5000]'), ('[-1e5000]'), ('[1e-46]'),
	('[3.4028236e38]'), ('[' || chr(1633) || ']'), ('[1' || chr(12288) || ']'),
	('[1,' || chr(160) || '2]'), (E'[1]\x01'), ('null'), ('NULL'), ('[null]'),
	('[true]'), ('["1"]'), ('[''1'']'), ('[1e1e1]'), ('[1..2]'), ('[1,,]')
) t(lit);
-- edge cases that are valid: zero with a huge exponent, white space kinds,
-- signed zeros, a long mantissa
SELECT '[0e-999]'::embedding AS zero_exp, (E'\t\n\r[\f1' || chr(11) || E']\n')::embedding AS ws,
	   '[+0,-0,+.0]'::embedding AS zeros,
	   ('[0.' || repeat('0', 30) || '1e31]')::embedding AS long_mantissa;

-- Out of range elements and huge literals
SELECT what, pg_temp.sqlstate_of(q) AS sqlstate FROM (VALUES
	('100000-digit number', $q$SELECT ('[' || repeat('9', 100000) || ']')::embedding$q$),
	('100000-digit fraction', $q$SELECT ('[0.' || repeat('0', 100000) || '1]')::embedding$q$),
	('a million commas', $q$SELECT ('[' || repeat('1,', 1000000) || '1]')::embedding$q$),
	('a million commas, no numbers', $q$SELECT ('[' || repeat(',', 1000000) || ']')::embedding$q$),
	('16001 elements, 16000 typmod', $q$SELECT ('[' || repeat('1,', 16000) || '1]')::embedding(16000)$q$),
	('typmod 2^31-1', $q$SELECT '[1]'::embedding(2147483647)$q$),
	('typmod 2^31', $q$SELECT '[1]'::embedding(2147483648)$q$),
	('typmod -1', $q$SELECT '[1]'::embedding(-1)$q$),
	('typmod text', $q$SELECT '[1]'::embedding('a')$q$),
	('typmod empty', $q$SELECT embedding_typmod_in('{}'::cstring[])$q$),
	('typmod two', $q$SELECT embedding_typmod_in('{1,2}'::cstring[])$q$),
	('typmod null element', $q$SELECT embedding_typmod_in('{NULL}'::cstring[])$q$),
	('array of 16001', $q$SELECT array_fill(0.5::real, ARRAY[16001])::embedding$q$),
	('array of a million', $q$SELECT array_fill(0.5::real, ARRAY[1000000])::embedding$q$),
	('array lower bound 0', $q$SELECT '[0:1]={1,2}'::real[]::embedding$q$),
	('array, numeric too big', $q$SELECT ARRAY[1e39]::numeric[]::embedding$q$),
	('array, numeric tiny', $q$SELECT ARRAY[1e-60]::numeric[]::embedding$q$),
	('array, -Infinity', $q$SELECT ARRAY['-Infinity']::real[]::embedding$q$),
	('array, bigint', $q$SELECT ARRAY[1::bigint]::embedding$q$),
	('array, text', $q$SELECT ARRAY['1']::text[]::embedding$q$),
	('array, smallint', $q$SELECT ARRAY[1::smallint]::embedding$q$),
	('scale to overflow', $q$SELECT '[1e38, 1]'::embedding * 1e300$q$),
	('scale by -Infinity', $q$SELECT '[0]'::embedding * '-Infinity'::float8$q$),
	('scale zero by NaN', $q$SELECT 'NaN'::float8 * '[0]'::embedding$q$),
	('subtract to overflow', $q$SELECT '[-3e38]'::embedding - '[3e38]'$q$),
	('avg overflow', $q$SELECT avg(v) FROM (VALUES ('[3e38]'::embedding), ('[3e38]')) t(v)$q$),
	('sum overflow', $q$SELECT sum(v) FROM (VALUES ('[3e38]'::embedding), ('[3e38]')) t(v)$q$)
) t(what, q);

-- Wrong dimensions, everywhere two embeddings meet
CREATE TEMP TABLE t_dim (v embedding(2));
INSERT INTO t_dim VALUES ('[1,2]');
SELECT what, pg_temp.sqlstate_of(q) AS sqlstate FROM (VALUES
	('cosine_similarity', $q$SELECT cosine_similarity('[1]', '[1,2]')$q$),
	('cosine_distance', $q$SELECT cosine_distance('[1,2]', '[1]')$q$),
	('negative_inner_product', $q$SELECT negative_inner_product('[1]', '[1,2]')$q$),
	('l2_distance', $q$SELECT l2_distance('[1]', '[1,2]')$q$),
	('l2_squared_distance', $q$SELECT l2_squared_distance('[1]', '[1,2]')$q$),
	('embedding_add', $q$SELECT embedding_add('[1]', '[1,2]')$q$),
	('embedding_sub', $q$SELECT embedding_sub('[1,2]', '[1]')$q$),
	('avg', $q$SELECT avg(v) FROM (VALUES ('[1,2]'::embedding), ('[1]')) t(v)$q$),
	('typmod column', $q$INSERT INTO t_dim VALUES ('[1,2,3]')$q$),
	('typmod column, array', $q$INSERT INTO t_dim VALUES (ARRAY[1,2,3])$q$),
	('typmod column, update', $q$UPDATE t_dim SET v = v + '[1]'$q$),
	('typmod column, update to 3', $q$UPDATE t_dim SET v = '[1,2,3]'$q$),
	('typmod column, typmod cast', $q$INSERT INTO t_dim VALUES ('[1]'::embedding(1))$q$),
	('typmod column, COPY', $q$COPY t_dim FROM PROGRAM 'echo [1,2,3]'$q$),
	('exact scan, mixed dims', $q$SELECT v <=> '[1,2]' FROM (VALUES ('[1,2]'::embedding), ('[1,2,3]')) t(v) ORDER BY 1$q$),
	('equal across dims', $q$SELECT '[1]'::embedding = '[1,0]'$q$),
	('direct coerce to 0', $q$SELECT embedding('[1]'::embedding, 0, true)$q$),
	('direct in with typmod', $q$SELECT embedding_in('[1,2]', 0, 5)$q$)
) t(what, q);
SELECT * FROM t_dim;

-- Aggregate support functions called directly with states no aggregate
-- would build: refused, never turned into an embedding that holds NaN
SELECT what, pg_temp.sqlstate_of(q) AS sqlstate FROM (VALUES
	('accum, 2-D state', $q$SELECT embedding_accum('{{1,2}}', '[1]')$q$),
	('accum, null element', $q$SELECT embedding_accum('{1,NULL}', '[1]')$q$),
	('accum, empty state', $q$SELECT embedding_accum('{}', '[1]')$q$),
	('accum, wrong width', $q$SELECT embedding_accum('{1,2,3}', '[1]')$q$),
	('combine, mismatch', $q$SELECT embedding_combine('{1,2}', '{1,2,3}')$q$),
	('combine, null', $q$SELECT embedding_combine('{1,NULL}', '{1,2}')$q$),
	('avg_final, NaN count', $q$SELECT embedding_avg_final('{NaN,1}')$q$),
	('avg_final, NaN sum', $q$SELECT embedding_avg_final('{1,NaN}')$q$),
	('sum_final, NaN sum', $q$SELECT embedding_sum_final('{1,NaN}')$q$),
	('sum_final, infinite sum', $q$SELECT embedding_sum_final('{1,Infinity}')$q$),
	('avg_final, infinite count', $q$SELECT embedding_avg_final('{Infinity,1}')$q$),
	('avg_final, tiny count', $q$SELECT embedding_avg_final('{1e-300,1}')$q$),
	('avg_final, zero count', $q$SELECT embedding_avg_final('{0,1}')$q$)
) t(what, q);

-- NULLs wherever a NULL can go.  Every function of the extension that is
-- not VOLATILE and takes only types we can make up is called with each
-- argument NULL in turn (the others given a sample value) and with all
-- NULL; it must return NULL or raise a data error, never crash or raise an
-- internal error (XX000).  Rows are listed only on failure.
CREATE FUNCTION pg_temp.sample_of(t regtype) RETURNS text LANGUAGE sql AS $$
	SELECT CASE t
		WHEN 'embedding'::regtype THEN '''[1,2,3]''::embedding'
		WHEN 'double precision'::regtype THEN '1.5::float8'
		WHEN 'real'::regtype THEN '1.5::real'
		WHEN 'integer'::regtype THEN '3'
		WHEN 'bigint'::regtype THEN '3::bigint'
		WHEN 'boolean'::regtype THEN 'true'
		WHEN 'text'::regtype THEN '''a''::text'
		WHEN 'oid'::regtype THEN '0::oid'
		WHEN 'regclass'::regtype THEN '''pg_class''::regclass'
		WHEN 'real[]'::regtype THEN '''{1,2,3}''::real[]'
		WHEN 'double precision[]'::regtype THEN '''{1,2,3}''::float8[]'
		WHEN 'integer[]'::regtype THEN '''{1,2,3}''::int[]'
		WHEN 'numeric[]'::regtype THEN '''{1,2,3}''::numeric[]'
		WHEN 'text[]'::regtype THEN '''{a,b}''::text[]'
		WHEN 'cstring'::regtype THEN '''[1,2,3]''::cstring'
		WHEN 'cstring[]'::regtype THEN '''{3}''::cstring[]'
	END
$$;
CREATE TEMP TABLE null_calls AS
SELECT p.oid::regprocedure AS fn, k AS null_arg,
	   format('SELECT %s(%s)', p.oid::regproc,
			  (SELECT string_agg(CASE WHEN i = k OR k = 0
									  THEN 'NULL::' || format_type(a, NULL)
									  ELSE pg_temp.sample_of(a) END, ', '
								 ORDER BY i)
			   FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY u(a, i))) AS q
FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
	AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'embed'
CROSS JOIN LATERAL generate_series(0, p.pronargs) k
WHERE p.prokind = 'f' AND p.provolatile <> 'v' AND p.pronargs > 0
  AND NOT EXISTS (SELECT FROM unnest(p.proargtypes::oid[]) a
				  WHERE pg_temp.sample_of(a) IS NULL);
SELECT count(DISTINCT fn) >= 30 AS enough_functions FROM null_calls;
CREATE TEMP TABLE null_results AS
SELECT fn, null_arg, q, pg_temp.sqlstate_of(q) AS sqlstate FROM null_calls;
-- a call that succeeds must return NULL
CREATE FUNCTION pg_temp.returns_null(q text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	r record;
BEGIN
	EXECUTE q INTO r;
	RETURN row_to_json(r)::text LIKE '%:null}';
END $$;
SELECT fn, null_arg, sqlstate FROM null_results
WHERE sqlstate LIKE 'XX%' OR sqlstate LIKE '58%'
   OR (sqlstate = 'ok' AND NOT pg_temp.returns_null(q))
ORDER BY fn::text, null_arg;
-- NULLs as data: skipped by aggregates, sorted last, never equal
SELECT avg(v) IS NULL AS avg_nulls, sum(v) IS NULL AS sum_nulls, count(v)
FROM (VALUES (NULL::embedding), (NULL)) t(v);
SELECT avg(v) AS avg_some_null FROM (VALUES (NULL::embedding), ('[2,4]'), (NULL)) t(v);
SELECT v, v <=> '[1,0]' AS d FROM (VALUES ('[1,1]'::embedding), (NULL), ('[1,0]')) t(v)
ORDER BY v <=> '[1,0]';
SELECT count(*) FROM (VALUES (NULL::embedding), (NULL)) a(v)
JOIN (VALUES (NULL::embedding)) b(v) USING (v);
SELECT NULL::text::embedding, NULL::real[]::embedding, NULL::embedding::real[],
	   NULL::embedding::embedding(3);
-- empty tables
CREATE TEMP TABLE t_empty (v embedding(3));
SELECT avg(v), sum(v), min(v::text) FROM t_empty;
SELECT v FROM t_empty ORDER BY v <-> '[1,2,3]' LIMIT 5;

-- Binary input that lies.  A bytea value sent by binary COPY is its bytes
-- framed by a length, exactly as an embedding's field would be; so writing
-- crafted bytea values with COPY TO (FORMAT binary) and reading the file
-- back into an embedding column hands embedding_recv those bytes.  The file
-- lives in the cluster's data directory.
CREATE TEMP TABLE t_recv (v embedding);
CREATE TEMP TABLE t_recv2 (v embedding(2));
CREATE FUNCTION pg_temp.recv_sqlstate(hex text, tab text DEFAULT 't_recv')
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	f text := current_setting('data_directory') || '/embed_badinput_recv.copy';
BEGIN
	EXECUTE format('COPY (SELECT decode(%L, ''hex'')) TO %L (FORMAT binary)',
				   hex, f);
	EXECUTE format('TRUNCATE %I', tab);
	EXECUTE format('COPY %I FROM %L (FORMAT binary)', tab, f);
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END $$;
SELECT what, pg_temp.recv_sqlstate(hex, tab) AS sqlstate FROM (VALUES
	('valid [1,2]', '000200003f80000040000000', 't_recv'),
	('valid -0 and denormal', '0002000080000000' || '00000001', 't_recv'),
	('empty field', '', 't_recv'),
	('one byte', '00', 't_recv'),
	('header only, dim 1', '00010000', 't_recv'),
	('dim 3, two floats', '000300003f80000040000000', 't_recv'),
	('dim 2, one float and a half', '000200003f8000004000', 't_recv'),
	('dim 0', '00000000', 't_recv'),
	('dim 0 with data', '000000003f800000', 't_recv'),
	('dim -1', 'ffff00003f800000', 't_recv'),
	('dim -32768', '800000003f800000', 't_recv'),
	('dim 16001, no data', '3e810000', 't_recv'),
	('dim 16001 with data', '3e810000' || repeat('3f800000', 16001), 't_recv'),
	('dim 32767, short', '7fff0000' || repeat('3f800000', 100), 't_recv'),
	('reserved field 1', '000100013f800000', 't_recv'),
	('reserved field 0x8000', '000180003f800000', 't_recv'),
	('trailing bytes', '000100003f80000000', 't_recv'),
	('trailing float', '000100003f8000003f800000', 't_recv'),
	('NaN', '000100007fc00000', 't_recv'),
	('signalling NaN', '000100007f800001', 't_recv'),
	('negative NaN', '00010000ffc00000', 't_recv'),
	('+Infinity', '000100007f800000', 't_recv'),
	('-Infinity', '00010000ff800000', 't_recv'),
	('NaN after good values', '000300003f8000003f8000007fc00000', 't_recv'),
	('3 dims into embedding(2)', '000300003f8000003f8000003f800000', 't_recv2'),
	('1 dim into embedding(2)', '000100003f800000', 't_recv2'),
	('2 dims into embedding(2)', '000200003f8000003f800000', 't_recv2')
) t(what, hex, tab);
-- valid values pass through intact, the largest too
SELECT pg_temp.recv_sqlstate('0002000080000000' || '00000001') AS negzero_denormal;
SELECT v, embedding_send(v) FROM t_recv;
SELECT pg_temp.recv_sqlstate('3e800000' || repeat('3f000000', 16000)) AS dim_16000;
SELECT dims(v), v = array_fill(0.5::real, ARRAY[16000])::embedding AS same FROM t_recv;

-- The server survived all of it
SELECT pg_postmaster_start_time() = :'start_time' AS same_server;
