--
-- embed_train and embed_document on a small synthetic corpus.
--
-- Progress NOTICEs depend on timing: keep them out of the output.
SET client_min_messages = warning;

-- Two topics that never share a document: animals and money.  Each
-- document draws its 30 tokens from one topic, picked by a fixed hash.
CREATE TABLE train_tokens (doc_id int, pos int, token text);
INSERT INTO train_tokens
SELECT d, p,
	   CASE WHEN d % 2 = 0
			THEN (ARRAY['cat','dog','mouse','pet','fur','paw'])[1 + abs(hashint4(d * 1000 + p)) % 6]
			ELSE (ARRAY['bank','money','loan','cash','credit','debt'])[1 + abs(hashint4(d * 1000 + p)) % 6]
	   END
FROM generate_series(1, 200) d, generate_series(1, 30) p;

SELECT vocab_size, tokens_read, tokens_trained, workers_used,
	   final_loss > 0 AS has_loss, tokens_per_second > 0 AS has_rate
FROM embed_train('train_tokens', 'train_model', dim => 16, "window" => 3,
				 epochs => 10, min_count => 1, sample => 0, seed => 42);

-- the model table: one row per token, embedding(16), primary key on token
SELECT count(*), min(dims(embedding)), max(dims(embedding)), sum(count)
FROM train_model;
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'train_model'::regclass AND attnum > 0 ORDER BY attnum;
SELECT indisprimary FROM pg_index WHERE indrelid = 'train_model'::regclass;
-- most frequent first is not an order the table promises, but counts are right
SELECT token, count FROM train_model ORDER BY token;

-- related words come out closer than unrelated ones
WITH v AS (SELECT token, embedding FROM train_model)
SELECT (SELECT cosine_similarity(a.embedding, b.embedding) FROM v a, v b
		WHERE a.token = 'cat' AND b.token = 'dog') >
	   (SELECT cosine_similarity(a.embedding, b.embedding) FROM v a, v b
		WHERE a.token = 'cat' AND b.token = 'bank') AS cat_dog_closer,
	   (SELECT cosine_similarity(a.embedding, b.embedding) FROM v a, v b
		WHERE a.token = 'money' AND b.token = 'cash') >
	   (SELECT cosine_similarity(a.embedding, b.embedding) FROM v a, v b
		WHERE a.token = 'money' AND b.token = 'fur') AS money_cash_closer;
-- every word's nearest neighbour is from its own topic
SELECT a.token,
	   (SELECT b.token FROM train_model b WHERE b.token <> a.token
		ORDER BY a.embedding <=> b.embedding LIMIT 1) IN
	   (SELECT unnest(CASE WHEN a.token IN ('cat','dog','mouse','pet','fur','paw')
					  THEN ARRAY['cat','dog','mouse','pet','fur','paw']
					  ELSE ARRAY['bank','money','loan','cash','credit','debt'] END))
	   AS same_topic
FROM train_model a ORDER BY a.token;

-- the parameters are recorded in the table's comment, as JSON
SELECT j->>'method' AS method, j->>'dim' AS dim, j->>'window' AS window,
	   j->>'epochs' AS epochs, j->>'seed' AS seed, j->>'source' AS source,
	   j->>'tokens' AS tokens, j->>'documents' AS documents
FROM (SELECT obj_description('train_model'::regclass, 'pg_class')::jsonb AS j) s;

-- a fixed seed with one worker is reproducible bit for bit
SELECT vocab_size FROM embed_train('train_tokens', 'train_model2', dim => 16,
	"window" => 3, epochs => 10, min_count => 1, sample => 0, seed => 42);
SELECT count(*) AS differing FROM train_model a JOIN train_model2 b USING (token)
WHERE a.embedding <> b.embedding;
-- the read may sort in parallel: the same model again
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF)
SELECT token::pg_catalog.text, doc_id FROM public.train_tokens ORDER BY doc_id, pos;
SELECT vocab_size FROM embed_train('train_tokens', 'train_model2', dim => 16,
	"window" => 3, epochs => 10, min_count => 1, sample => 0, seed => 42,
	replace => true);
SELECT count(*) AS differing FROM train_model a JOIN train_model2 b USING (token)
WHERE a.embedding <> b.embedding;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
-- and another seed gives another model
SELECT vocab_size FROM embed_train('train_tokens', 'train_model2', dim => 16,
	"window" => 3, epochs => 10, min_count => 1, sample => 0, seed => 43,
	replace => true);
SELECT count(*) AS differing FROM train_model a JOIN train_model2 b USING (token)
WHERE a.embedding <> b.embedding;

-- CBOW, subsampling and two workers also learn the topics
SELECT vocab_size, workers_used BETWEEN 1 AND 2 AS workers_ok
FROM embed_train('train_tokens', 'train_cbow', dim => 16, "window" => 3,
				 epochs => 10, min_count => 1, sample => 0.01,
				 method => 'cbow', alpha => 0.05, workers => 2);
SELECT (SELECT a.embedding <=> b.embedding FROM train_cbow a, train_cbow b
		WHERE a.token = 'loan' AND b.token = 'debt') <
	   (SELECT a.embedding <=> b.embedding FROM train_cbow a, train_cbow b
		WHERE a.token = 'loan' AND b.token = 'paw') AS loan_debt_closer;

-- two skip-gram workers: with private copies of every row (the default
-- here), and under a memory limit that leaves no room for copies, so that
-- every row is shared
SELECT vocab_size, workers_used BETWEEN 1 AND 2 AS workers_ok
FROM embed_train('train_tokens', 'train_sg2', dim => 16, "window" => 3,
				 epochs => 10, min_count => 1, sample => 0, workers => 2);
SET embed.train_memory_limit = '1MB';
SELECT vocab_size, workers_used BETWEEN 1 AND 2 AS workers_ok
FROM embed_train('train_tokens', 'train_sg2s', dim => 16, "window" => 3,
				 epochs => 10, min_count => 1, sample => 0, workers => 2);
RESET embed.train_memory_limit;
SELECT (SELECT a.embedding <=> b.embedding FROM train_sg2 a, train_sg2 b
		WHERE a.token = 'loan' AND b.token = 'debt') <
	   (SELECT a.embedding <=> b.embedding FROM train_sg2 a, train_sg2 b
		WHERE a.token = 'loan' AND b.token = 'paw') AS copies_loan_debt_closer,
	   (SELECT a.embedding <=> b.embedding FROM train_sg2s a, train_sg2s b
		WHERE a.token = 'loan' AND b.token = 'debt') <
	   (SELECT a.embedding <=> b.embedding FROM train_sg2s a, train_sg2s b
		WHERE a.token = 'loan' AND b.token = 'paw') AS shared_loan_debt_closer;

-- other column names, NULL tokens skipped, min_count drops rare words
CREATE TABLE train_other (doc text, n bigint, w varchar);
INSERT INTO train_other
SELECT 'd' || (i / 10), i % 10,
	   CASE WHEN i % 7 = 0 THEN NULL WHEN i = 3 THEN 'rare' ELSE 'w' || (i % 4) END
FROM generate_series(0, 99) i;
SELECT vocab_size, tokens_read, tokens_trained
FROM embed_train('train_other', 'public.train_other_model', dim => 4,
				 epochs => 1, min_count => 2, doc_column => 'doc',
				 pos_column => 'n', token_column => 'w');
SELECT token, count FROM train_other_model ORDER BY token;

--
-- embed_document
--
SELECT dims(embed_document('train_model', ARRAY['cat', 'dog']));
SELECT embed_document('train_model', ARRAY['unknown', 'words']) IS NULL AS unknown_is_null;
SELECT embed_document('train_model', '{}'::text[]) IS NULL AS empty_is_null;
SELECT embed_document('train_model', NULL) IS NULL AS null_is_null;
-- one known token: the token's vector, scaled by its weight
SELECT round(cosine_similarity(embed_document('train_model', ARRAY['cat', NULL, 'zebra']),
							   embedding)::numeric, 5) AS cos
FROM train_model WHERE token = 'cat';
-- a word's weight is a / (a + p(w)) with a = 1e-3
SELECT round((norm(embed_document('train_model', ARRAY['cat'])) /
			  norm(embedding))::numeric, 6) =
	   round((1e-3 / (1e-3 + count::numeric / (SELECT sum(count) FROM train_model)))::numeric, 6)
	   AS weight_ok
FROM train_model WHERE token = 'cat';
-- repeats count: {cat, cat, dog} leans towards cat more than {cat, dog}
SELECT embed_document('train_model', ARRAY['cat','cat','dog']) <=>
	   (SELECT embedding FROM train_model WHERE token = 'cat') <
	   embed_document('train_model', ARRAY['cat','dog']) <=>
	   (SELECT embedding FROM train_model WHERE token = 'cat') AS repeats_count;
-- documents on the same topic are closer
SELECT embed_document('train_model', ARRAY['cat','fur']) <=>
	   embed_document('train_model', ARRAY['dog','paw']) <
	   embed_document('train_model', ARRAY['cat','fur']) <=>
	   embed_document('train_model', ARRAY['bank','loan']) AS topics;
-- the cache notices changes to the model table
CREATE TEMP TABLE before AS SELECT embed_document('train_model', ARRAY['cat']) AS e;
UPDATE train_model SET embedding = embedding * 2 WHERE token = 'cat';
SELECT round((norm(embed_document('train_model', ARRAY['cat'])) / norm(e))::numeric, 4)
	   AS doubled FROM before;
TRUNCATE train_model2;
SELECT embed_document('train_model2', ARRAY['cat']) IS NULL AS truncated_is_null;
-- not a model table
SELECT embed_document('train_tokens', ARRAY['cat']);

-- nothing is running now
SELECT count(*) FROM embed_train_progress() WHERE pid = pg_backend_pid();

--
-- Errors
--
\set VERBOSITY sqlstate
-- the model exists already
SELECT * FROM embed_train('train_tokens', 'train_model', min_count => 1);
-- missing table, missing columns
SELECT * FROM embed_train('no_such_table', 'm');
SELECT * FROM embed_train('train_tokens', 'm', doc_column => 'nope');
SELECT * FROM embed_train('train_tokens', 'm', pos_column => 'nope');
SELECT * FROM embed_train('train_tokens', 'm', token_column => 'nope');
-- parameters out of range
SELECT * FROM embed_train('train_tokens', 'm', dim => 0);
SELECT * FROM embed_train('train_tokens', 'm', dim => 16001);
SELECT * FROM embed_train('train_tokens', 'm', "window" => 0);
SELECT * FROM embed_train('train_tokens', 'm', negative => 0);
SELECT * FROM embed_train('train_tokens', 'm', epochs => 0);
SELECT * FROM embed_train('train_tokens', 'm', min_count => 0);
SELECT * FROM embed_train('train_tokens', 'm', sample => -1);
SELECT * FROM embed_train('train_tokens', 'm', sample => 1);
SELECT * FROM embed_train('train_tokens', 'm', alpha => 0);
SELECT * FROM embed_train('train_tokens', 'm', alpha => 'NaN');
SELECT * FROM embed_train('train_tokens', 'm', method => 'glove');
SELECT * FROM embed_train('train_tokens', 'm', workers => 0);
SELECT * FROM embed_train('train_tokens', 'm', workers => 65);
SELECT * FROM embed_train('train_tokens', NULL);
SELECT * FROM embed_train('train_tokens', 'm', dim => NULL);
SELECT * FROM embed_train('train_tokens', 'bad..name');
-- no token reaches min_count; an empty corpus; only NULL tokens
SELECT * FROM embed_train('train_tokens', 'm', min_count => 100000);
CREATE TABLE train_empty (doc_id int, pos int, token text);
SELECT * FROM embed_train('train_empty', 'm');
INSERT INTO train_empty VALUES (1, 1, NULL), (1, 2, NULL);
SELECT * FROM embed_train('train_empty', 'm', min_count => 1);
-- replace only overwrites tables
CREATE VIEW train_view AS SELECT 1 AS x;
SELECT * FROM embed_train('train_tokens', 'train_view', min_count => 1, replace => true);
-- the memory limit is checked before anything big is allocated
SET embed.train_memory_limit = '1MB';
SELECT * FROM embed_train('train_tokens', 'm', dim => 12000, min_count => 1);
RESET embed.train_memory_limit;
-- the caller's rights: no SELECT on the tokens, no model
CREATE ROLE regress_embed_train;
GRANT USAGE, CREATE ON SCHEMA public TO regress_embed_train;
SET ROLE regress_embed_train;
SELECT * FROM embed_train('train_tokens', 'm', min_count => 1);
SELECT embed_document('train_model', ARRAY['cat']);
RESET ROLE;
GRANT SELECT ON train_tokens TO regress_embed_train;
SET ROLE regress_embed_train;
SELECT vocab_size FROM embed_train('train_tokens', 'train_owned', dim => 4,
	epochs => 1, min_count => 1);
RESET ROLE;
SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'train_owned';
-- a failed call leaves nothing behind
SELECT to_regclass('m') IS NULL AS no_model;
-- statement_timeout stops a long run, and the transaction leaves no table
SET statement_timeout = '300ms';
SELECT * FROM embed_train('train_tokens', 'train_timeout', epochs => 1000,
						  min_count => 1, dim => 200, "window" => 10);
RESET statement_timeout;
SELECT to_regclass('train_timeout') IS NULL AS no_model;
SELECT count(*) FROM embed_train_progress() WHERE pid = pg_backend_pid();
\set VERBOSITY default

DROP TABLE train_owned;
REVOKE ALL ON SCHEMA public FROM regress_embed_train;
REVOKE ALL ON train_tokens FROM regress_embed_train;
DROP ROLE regress_embed_train;
DROP VIEW train_view;
DROP TABLE train_tokens, train_model, train_model2, train_cbow, train_other,
	train_other_model, train_empty;
