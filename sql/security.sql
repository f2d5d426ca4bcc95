-- Privileges and name resolution: embed must not let anyone in who was not
-- already in.  Creation by a non-superuser database owner is tested in
-- test/t/011_trusted.pl (it needs a second database).

-- The extension is marked trusted: superuser = true with trusted = true is
-- how the catalogue shows one that a non-superuser with CREATE on the
-- database may install
SELECT name, version, superuser, trusted FROM pg_available_extension_versions
WHERE name = 'embed' ORDER BY version;

-- No function runs with its owner's rights, and none changes settings
-- behind the caller's back
SELECT p.oid::regprocedure AS security_definer
FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
	AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'embed'
WHERE p.prosecdef;
-- Functions whose body is resolved by name at run time (SQL, PL/pgSQL)
-- must pin their search_path; C functions call each other by symbol.
SELECT p.oid::regprocedure AS unpinned_function, l.lanname
FROM pg_proc p
JOIN pg_language l ON l.oid = p.prolang
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
	AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'embed'
WHERE l.lanname NOT IN ('c', 'internal')
  AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%');

-- The install script, which a trusted extension runs as the bootstrap
-- superuser, must not take over objects a user may have planted: no
-- CREATE OR REPLACE, no IF NOT EXISTS (CVE-2022-2625 is about exactly this).
SELECT regexp_count(s, 'OR\s+REPLACE', 1, 'i') AS or_replace,
	   regexp_count(s, 'IF\s+NOT\s+EXISTS', 1, 'i') AS if_not_exists,
	   regexp_count(s, 'SECURITY\s+DEFINER', 1, 'i') AS security_definer
FROM (SELECT pg_read_file((SELECT setting FROM pg_config WHERE name = 'SHAREDIR')
						  || '/extension/embed--' || extversion || '.sql') AS s
	  FROM pg_extension WHERE extname = 'embed') f;

-- Everyone may use the type; no object of the extension is granted to or
-- revoked from PUBLIC in a way that differs from the default
SELECT has_type_privilege('public', 'embedding', 'USAGE') AS type_usage;
SELECT count(*) AS functions_public_cannot_execute
FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
	AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'embed'
WHERE NOT has_function_privilege('public', p.oid, 'EXECUTE');

-- A search_path trick.  An unprivileged user plants look-alikes of embed's
-- functions in a schema of their own, each recording that it was called;
-- then a superuser works with that schema first in search_path.
-- Operators, casts, the type's I/O, aggregates and operator classes are
-- bound to embed's functions by OID when they are created, so none of the
-- look-alikes may run, for the superuser or anyone else.
CREATE ROLE regress_embed_mallory;
CREATE SCHEMA mallory AUTHORIZATION regress_embed_mallory;
CREATE TABLE public.t_sec (id int, v embedding);
INSERT INTO public.t_sec SELECT g, ARRAY[g, 1]::embedding FROM generate_series(1, 50) g;
CREATE INDEX t_sec_btree ON public.t_sec (v);
CREATE INDEX t_sec_hash ON public.t_sec USING hash (v);
CREATE INDEX t_sec_hnsw ON public.t_sec USING embed_hnsw (v embedding_l2_ops);
CREATE TABLE public.t_sec_tokens AS
	SELECT d AS doc_id, p AS pos, 'w' || (d * 7 + p * 3) % 9 AS token
	FROM generate_series(1, 20) d, generate_series(1, 10) p;
GRANT SELECT ON public.t_sec TO regress_embed_mallory;
SET ROLE regress_embed_mallory;
CREATE TABLE mallory.calls (fn text);
CREATE FUNCTION mallory.planted(fn text) RETURNS void LANGUAGE sql AS
	$$ INSERT INTO mallory.calls VALUES (fn) $$;
DO $$
DECLARE
	f record;
	ret text;
BEGIN
	-- a look-alike for every function of the extension that takes an
	-- embedding, with the same signature and the same result type
	FOR f IN
		SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS args,
			   format_type(p.prorettype, NULL) AS rettype
		FROM pg_proc p
		JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
			AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
		JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'embed'
		WHERE p.prokind = 'f' AND p.prorettype <> 'internal'::regtype
		  AND p.prorettype <> 'cstring'::regtype
		  AND p.prorettype <> 'trigger'::regtype
		  AND p.proargtypes::oid[] && ARRAY['embedding'::regtype::oid]
		  AND NOT p.proretset
	LOOP
		EXECUTE format('CREATE FUNCTION mallory.%I(%s) RETURNS %s LANGUAGE plpgsql AS %L',
					   f.proname, f.args, f.rettype,
					   format('BEGIN PERFORM mallory.planted(%L); RETURN NULL; END',
							  f.proname));
	END LOOP;
END $$;
SELECT count(*) >= 20 AS planted FROM pg_proc
WHERE pronamespace = 'mallory'::regnamespace;
RESET ROLE;
SET search_path = mallory, public;
SELECT current_user = session_user AS as_superuser;
SELECT '[1,0]'::embedding <=> '[0,1]' AS cos, '[1,2]'::embedding <#> '[3,4]' AS nip,
	   '[0,0]'::embedding <-> '[3,4]' AS l2;
SELECT '[1,2]'::embedding + '[1,1]' AS plus, '[1,2]'::embedding - '[1,1]' AS minus,
	   '[1,2]'::embedding * 2 AS times;
SELECT ARRAY[1, 2]::embedding AS from_int, ARRAY[1.5, 2.5]::real[]::embedding AS from_real,
	   '[1,2]'::embedding::real[] AS to_real, '[1,2]'::embedding::embedding(2) AS typmod;
SELECT avg(v), sum(v) FROM public.t_sec WHERE id <= 2;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM public.t_sec WHERE v < '[3,0]' ORDER BY v;
SELECT id FROM public.t_sec WHERE v = '[7,1]';
SELECT id FROM public.t_sec WHERE v < '[3,0]' ORDER BY v;
SELECT count(DISTINCT v) FROM public.t_sec;
EXPLAIN (COSTS OFF) SELECT id FROM public.t_sec ORDER BY v <-> '[5.2,1]' LIMIT 3;
SELECT id FROM public.t_sec ORDER BY v <-> '[5.2,1]' LIMIT 3;
RESET enable_seqscan;
SELECT count(*) FROM public.t_sec a JOIN public.t_sec b USING (v);
-- COPY goes through the type's output function
COPY (SELECT v FROM public.t_sec WHERE id = 3) TO STDOUT;
SELECT count(*) AS planted_calls FROM mallory.calls;
-- calling a function by name is the caller's choice: that one does resolve
-- to mallory's, which shows the look-alikes were live all along
SELECT cosine_distance('[1]', '[1]') IS NULL AS resolved_to_planted;
SELECT fn FROM mallory.calls;
TRUNCATE mallory.calls;

-- Training builds SQL of its own.  Mallory now also plants a type named
-- embedding and a trigger function with the name embed uses for model
-- tables; training and embed_document, run by the superuser with
-- mallory's schema first, must still use embed's own.
SET ROLE regress_embed_mallory;
CREATE DOMAIN mallory.embedding AS text;
CREATE FUNCTION mallory.embed_model_changed() RETURNS trigger LANGUAGE plpgsql AS
	$$ BEGIN PERFORM mallory.planted('embed_model_changed'); RETURN NULL; END $$;
RESET ROLE;
SET client_min_messages = warning;
SELECT vocab_size FROM public.embed_train('public.t_sec_tokens', 'public.t_sec_model',
	dim => 4, min_count => 1, progress => false);
RESET client_min_messages;
SELECT format_type(atttypid, atttypmod) AS model_column_type FROM pg_attribute
WHERE attrelid = 'public.t_sec_model'::regclass AND attname = 'embedding';
SELECT tgfoid::regprocedure AS model_trigger FROM pg_trigger
WHERE tgrelid = 'public.t_sec_model'::regclass;
UPDATE public.t_sec_model SET count = count + 1;
SELECT public.dims(public.embed_document('public.t_sec_model', ARRAY['w1', 'w2']));
SELECT count(*) AS planted_calls FROM mallory.calls;
RESET search_path;

-- Mallory cannot replace or alter embed's own functions or operators
SET ROLE regress_embed_mallory;
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END $$;
SELECT what, pg_temp.sqlstate_of(q) AS sqlstate FROM (VALUES
	('replace a function', $q$CREATE OR REPLACE FUNCTION public.cosine_distance(embedding, embedding) RETURNS float8 LANGUAGE sql AS 'SELECT 0::float8'$q$),
	('alter a function', $q$ALTER FUNCTION public.cosine_distance(embedding, embedding) SECURITY DEFINER$q$),
	('rename a function', $q$ALTER FUNCTION public.l2_distance(embedding, embedding) RENAME TO l2$q$),
	('drop an operator', $q$DROP OPERATOR public.<=> (embedding, embedding)$q$),
	('alter an operator', $q$ALTER OPERATOR public.<=> (embedding, embedding) SET (RESTRICT = eqsel)$q$),
	('alter the type', $q$ALTER TYPE public.embedding SET (STORAGE = external)$q$),
	('drop the extension', $q$DROP EXTENSION embed$q$),
	('alter the extension', $q$ALTER EXTENSION embed ADD FUNCTION mallory.planted(text)$q$),
	('add to the opfamily', $q$ALTER OPERATOR FAMILY public.embedding_ops USING btree ADD FUNCTION 1 (embedding, embedding) mallory.embedding_cmp(embedding, embedding)$q$)
) t(what, q);
RESET ROLE;

DROP TABLE public.t_sec, public.t_sec_tokens, public.t_sec_model;
SET client_min_messages = warning;
DROP OWNED BY regress_embed_mallory;
RESET client_min_messages;
DROP ROLE regress_embed_mallory;
