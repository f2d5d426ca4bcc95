-- Bad input around training and document embeddings, each case asserted
-- by its SQLSTATE ('ok' when accepted), and the server still up at the
-- end.  sql/train.sql has the parameter ranges; this file adds NULLs in
-- every argument, malformed token tables, bad model names and tampered
-- model tables.

SELECT pg_postmaster_start_time() AS start_time \gset
SET client_min_messages = warning;
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END $$;

CREATE TABLE bt (doc_id int, pos int, token text);
INSERT INTO bt SELECT d, p, 'w' || (d * 7 + p * 3) % 9 FROM generate_series(1, 20) d, generate_series(1, 10) p;

-- embed_train is CALLED ON NULL INPUT (its arguments have defaults): a
-- NULL in any argument is refused, never read as zero or as a default
SELECT n AS null_argument, pg_temp.sqlstate_of(format(
	'SELECT * FROM embed_train(%s)',
	(SELECT string_agg(CASE WHEN i = n THEN 'NULL' ELSE a END, ', ' ORDER BY i)
	 FROM unnest(ARRAY['''bt''', '''bt_m''', '8', '2', '2', '1', '1', '0.001', '0.025',
					   '''skipgram''', '1', '1', '''doc_id''', '''pos''', '''token''',
					   'false', 'false']) WITH ORDINALITY u(a, i)))) AS sqlstate
FROM generate_series(1, 17) n;
SELECT count(*) AS no_model_left FROM pg_class WHERE relname = 'bt_m';

-- Token tables of the wrong shape
CREATE TABLE bt_empty (doc_id int, pos int, token text);
CREATE TABLE bt_nulls (doc_id int, pos int, token text);
INSERT INTO bt_nulls VALUES (1, 1, NULL), (NULL, 2, 'a'), (1, NULL, 'b'), (NULL, NULL, NULL);
CREATE TABLE bt_types (doc_id text, pos float8, token int);
INSERT INTO bt_types SELECT 'd' || d, p * 0.5, (d + p) % 5 FROM generate_series(1, 20) d, generate_series(1, 10) p;
CREATE TABLE bt_quoted ("Doc Id" int, "po""s" int, "to;ken" text);
INSERT INTO bt_quoted SELECT * FROM bt;
CREATE VIEW bt_view AS SELECT * FROM bt;
CREATE SEQUENCE bt_seq;
CREATE INDEX bt_idx ON bt (doc_id);
SELECT what, pg_temp.sqlstate_of(q) AS sqlstate FROM (VALUES
	('empty table', $q$SELECT * FROM embed_train('bt_empty', 'bt_m1', dim => 8, min_count => 1, progress => false)$q$),
	('only NULL rows', $q$SELECT * FROM embed_train('bt_nulls', 'bt_m2', dim => 8, min_count => 1, progress => false)$q$),
	('min_count above every count', $q$SELECT * FROM embed_train('bt', 'bt_m3', dim => 8, min_count => 1000000, progress => false)$q$),
	('other column types', $q$SELECT * FROM embed_train('bt_types', 'bt_m4', dim => 8, min_count => 1, progress => false)$q$),
	('names that need quoting', $q$SELECT * FROM embed_train('bt_quoted', 'bt_m5', dim => 8, min_count => 1, progress => false, doc_column => 'Doc Id', pos_column => 'po"s', token_column => 'to;ken')$q$),
	('a view', $q$SELECT * FROM embed_train('bt_view', 'bt_m6', dim => 8, min_count => 1, progress => false)$q$),
	('a sequence', $q$SELECT * FROM embed_train('bt_seq', 'bt_m7', dim => 8, min_count => 1, progress => false)$q$),
	('an index', $q$SELECT * FROM embed_train('bt_idx', 'bt_m8', dim => 8, min_count => 1, progress => false)$q$),
	('a dropped relation', $q$SELECT * FROM embed_train(1, 'bt_m9', dim => 8, min_count => 1, progress => false)$q$),
	('system column as token', $q$SELECT * FROM embed_train('bt', 'bt_m10', dim => 8, min_count => 1, progress => false, token_column => 'ctid')$q$),
	('empty column name', $q$SELECT * FROM embed_train('bt', 'bt_m11', dim => 8, min_count => 1, progress => false, token_column => '')$q$),
	('dim 16000, tiny corpus', $q$SELECT * FROM embed_train('bt', 'bt_m12', dim => 16000, min_count => 1, epochs => 1, progress => false)$q$),
	('window 1000000', $q$SELECT * FROM embed_train('bt', 'bt_m13', dim => 8, "window" => 1000000, min_count => 1, progress => false)$q$),
	('negative 1000000', $q$SELECT * FROM embed_train('bt', 'bt_m14', dim => 8, negative => 1000000, min_count => 1, progress => false)$q$),
	('epochs 2^31-1', $q$SELECT * FROM embed_train('bt', 'bt_m15', dim => 8, epochs => 2147483647, min_count => 1, progress => false)$q$),
	('alpha Infinity', $q$SELECT * FROM embed_train('bt', 'bt_m16', dim => 8, alpha => 'Infinity', min_count => 1, progress => false)$q$),
	('sample NaN', $q$SELECT * FROM embed_train('bt', 'bt_m17', dim => 8, sample => 'NaN', min_count => 1, progress => false)$q$),
	('memory limit 0', $q$SET embed.train_memory_limit = 0$q$),
	('memory limit -1', $q$SET embed.train_memory_limit = -1$q$),
	('memory limit 1 PB', $q$SET embed.train_memory_limit = '1PB'$q$),
	('dim 16000 in 1 MB', $q$SET LOCAL embed.train_memory_limit = '1MB'; SELECT * FROM embed_train('bt', 'bt_m18', dim => 16000, min_count => 1, progress => false)$q$)
) t(what, q);
SELECT relname AS models_made FROM pg_class WHERE relname LIKE 'bt\_m%' ORDER BY relname;

-- Model names
SELECT what, pg_temp.sqlstate_of(q) AS sqlstate FROM (VALUES
	('empty', $q$SELECT * FROM embed_train('bt', '', dim => 8, min_count => 1, progress => false)$q$),
	('three parts', $q$SELECT * FROM embed_train('bt', 'a.b.c', dim => 8, min_count => 1, progress => false)$q$),
	('no such schema', $q$SELECT * FROM embed_train('bt', 'nosuch.m', dim => 8, min_count => 1, progress => false)$q$),
	('pg_catalog', $q$SELECT * FROM embed_train('bt', 'pg_catalog.m', dim => 8, min_count => 1, progress => false)$q$),
	('the token table itself', $q$SELECT * FROM embed_train('bt', 'bt', dim => 8, min_count => 1, progress => false)$q$),
	('replace the token table', $q$SELECT * FROM embed_train('bt', 'bt', dim => 8, min_count => 1, replace => true, progress => false)$q$),
	('replace a view', $q$SELECT * FROM embed_train('bt', 'bt_view', dim => 8, min_count => 1, replace => true, progress => false)$q$),
	('unbalanced quote', $q$SELECT * FROM embed_train('bt', '"m', dim => 8, min_count => 1, progress => false)$q$),
	('quoted with a dot', $q$SELECT * FROM embed_train('bt', '"m.x"', dim => 8, min_count => 1, progress => false)$q$),
	('a semicolon', $q$SELECT * FROM embed_train('bt', 'm; DROP TABLE bt', dim => 8, min_count => 1, progress => false)$q$)
) t(what, q);
SELECT count(*) AS tokens_still_there FROM bt;
SELECT relname AS made FROM pg_class WHERE relname IN ('m.x', 'm; DROP TABLE bt') ORDER BY 1;

-- Tampered model tables
SELECT vocab_size FROM embed_train('bt', 'bt_model', dim => 8, min_count => 1, progress => false);
SELECT what, pg_temp.sqlstate_of(q) AS sqlstate FROM (VALUES
	('negative count', $q$UPDATE bt_model SET count = -5 WHERE token = 'w1'; SELECT embed_document('bt_model', ARRAY['w1', 'w2'])$q$),
	('zero count', $q$UPDATE bt_model SET count = 0 WHERE token = 'w1'; SELECT embed_document('bt_model', ARRAY['w1', 'w2'])$q$),
	('huge count', $q$UPDATE bt_model SET count = 9223372036854775807 WHERE token = 'w1'; SELECT embed_document('bt_model', ARRAY['w1', 'w2'])$q$),
	('zero vector', $q$UPDATE bt_model SET embedding = array_fill(0::real, ARRAY[8]) WHERE token = 'w1'; SELECT embed_document('bt_model', ARRAY['w1'])$q$),
	('huge vector', $q$UPDATE bt_model SET embedding = array_fill(3e38::real, ARRAY[8]) WHERE token = 'w1'; SELECT embed_document('bt_model', ARRAY['w1', 'w1', 'w2'])$q$),
	('duplicate token', $q$ALTER TABLE bt_model DROP CONSTRAINT bt_model_pkey; INSERT INTO bt_model SELECT * FROM bt_model WHERE token = 'w2'; SELECT embed_document('bt_model', ARRAY['w2'])$q$),
	('count column dropped', $q$ALTER TABLE bt_model DROP COLUMN count; SELECT embed_document('bt_model', ARRAY['w2'])$q$),
	('one token of a million', $q$SELECT embed_document('bt_model', array_fill('w3'::text, ARRAY[1000000]))$q$),
	('a NULL token', $q$SELECT embed_document('bt_model', ARRAY[NULL::text])$q$)
) t(what, q);
-- where a tampered model was accepted, the result holds no NaN or
-- infinity (the type forbids them)
CREATE FUNCTION pg_temp.nonfinite(e embedding) RETURNS bigint LANGUAGE sql AS
	$$ SELECT count(*) FROM unnest(e::real[]) x WHERE x::text IN ('NaN', 'Infinity', '-Infinity') $$;
UPDATE bt_model SET count = 10;
UPDATE bt_model SET count = -9223372036854775807 WHERE token = 'w1';
SELECT pg_temp.nonfinite(embed_document('bt_model', ARRAY['w1', 'w2'])) AS most_negative_count;
UPDATE bt_model SET count = 10;
UPDATE bt_model SET count = -90 WHERE token = 'w1';
SELECT pg_temp.nonfinite(embed_document('bt_model', ARRAY['w1', 'w2'])) AS counts_sum_to_zero;
UPDATE bt_model SET count = 9223372036854775807;
SELECT pg_temp.nonfinite(embed_document('bt_model', ARRAY['w1', 'w2'])) AS counts_overflow;
UPDATE bt_model SET count = 10, embedding = array_fill(3e38::real, ARRAY[8]);
SELECT pg_temp.nonfinite(embed_document('bt_model', ARRAY['w1', 'w1', 'w2', 'w3'])) AS vectors_at_float4_max;

DROP TABLE bt, bt_empty, bt_nulls, bt_types, bt_quoted, bt_model CASCADE;
DROP SEQUENCE bt_seq;
SELECT pg_postmaster_start_time() = :'start_time' AS same_server;
