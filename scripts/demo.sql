-- demo.sql: embed's story, all in SQL.  Run by scripts/demo (make demo)
-- with psql in the source tree; the variable svg names the map to write.
--
-- Load the King James Bible, split it into verses and tokens, train word
-- embeddings, look at neighbours and an analogy, embed every verse, index
-- the verses, answer questions by semantic search, and draw a map of words
-- with embed's PCA.  Steps that need parts of embed this build lacks are
-- skipped with a note.

\set ON_ERROR_STOP on
\pset footer off
\pset null '-'
SET client_min_messages = notice;

CREATE EXTENSION IF NOT EXISTS embed;

SELECT to_regproc('embed_tokenize') IS NOT NULL AS have_tokenize,
       to_regproc('embed_train') IS NOT NULL AS have_train,
       EXISTS (SELECT FROM pg_am WHERE amname = 'embed_hnsw') AS have_hnsw
\gset

\echo
\echo '== 1. The text: the King James Bible, one row per verse'
CREATE TABLE verse (
	id integer PRIMARY KEY,
	book text NOT NULL,
	chapter integer NOT NULL,
	verse integer NOT NULL,
	text text NOT NULL
);
\copy verse FROM PROGRAM 'gzip -dc test/data/demo/kjv.tsv.gz'
SELECT count(*) AS verses, count(DISTINCT book) AS books,
       pg_size_pretty(sum(octet_length(text))) AS text
FROM verse;
SELECT book || ' ' || chapter || ':' || verse AS ref, text
FROM verse WHERE id IN (1, 14237, 26559) ORDER BY id;

\echo
\echo '== 2. Tokens: embed_tokenize splits each verse into lower-case words'
\if :have_tokenize
CREATE TABLE token AS
SELECT v.id AS doc_id, t.pos::integer AS pos, t.token
FROM verse v, unnest(embed_tokenize(v.text)) WITH ORDINALITY AS t(token, pos);
\else
\echo '(embed_tokenize is not in this build: splitting on non-letters instead)'
CREATE TABLE token AS
SELECT v.id AS doc_id, t.pos::integer AS pos, t.token
FROM verse v,
     regexp_split_to_table(lower(v.text), '[^a-z0-9]+') WITH ORDINALITY AS t(token, pos)
WHERE t.token <> '';
\endif
SELECT count(*) AS tokens, count(DISTINCT token) AS distinct_words FROM token;
\if :have_tokenize
SELECT embed_tokenize('In the beginning God created the heaven and the earth.') AS "embed_tokenize(Genesis 1:1)";
\endif

\if :have_train
\echo
\echo '== 3. Training: word2vec (skip-gram, negative sampling) inside the server'
\echo '   progress is reported as NOTICEs; the model is an ordinary table'
SELECT vocab_size, tokens_trained, round(seconds::numeric, 1) AS seconds,
       round(tokens_per_second::numeric) AS tokens_per_second,
       workers_used
FROM embed_train('token', 'kjv_words', dim => 100, "window" => 5,
                 epochs => 5, min_count => 5, workers => 2, seed => 7);
SELECT token, count, left(embedding::text, 60) || '...' AS embedding
FROM kjv_words ORDER BY count DESC LIMIT 3;

\echo
\echo '== 4. Nearest words (cosine distance, the <=> operator)'
SELECT q.token AS word,
       (SELECT string_agg(n.token, ' ' ORDER BY n.d)
        FROM (SELECT w.token, w.embedding <=> q.embedding AS d
              FROM kjv_words w WHERE w.token <> q.token
              ORDER BY d LIMIT 7) n) AS nearest
FROM kjv_words q
WHERE q.token IN ('king', 'sheep', 'gold', 'sword', 'bread', 'wine',
                  'brother', 'seven', 'egypt')
ORDER BY array_position(ARRAY['king', 'sheep', 'gold', 'sword', 'bread',
                              'wine', 'brother', 'seven', 'egypt'], q.token);

\echo
\echo '== 5. An analogy with the vector operators: king - man + woman'
SELECT w.token AS answer, round((1 - d)::numeric, 3) AS cosine_similarity
FROM (SELECT w.token, w.embedding <=> (k.embedding - m.embedding + f.embedding) AS d
      FROM kjv_words w,
           (SELECT embedding FROM kjv_words WHERE token = 'king') k,
           (SELECT embedding FROM kjv_words WHERE token = 'man') m,
           (SELECT embedding FROM kjv_words WHERE token = 'woman') f
      WHERE w.token NOT IN ('king', 'man', 'woman')
      ORDER BY d LIMIT 3) w;

\echo
\echo '== 6. Document embeddings: every verse gets a vector (embed_document)'
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
ALTER TABLE verse ADD COLUMN v embedding(100);
UPDATE verse SET v = embed_document('kjv_words', embed_tokenize(text));
SELECT count(v) AS embedded, count(*) - count(v) AS without_known_words,
       round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 1) AS seconds
FROM verse;

\if :have_hnsw
\echo
\echo '== 7. The index: embed_hnsw on the verse vectors'
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
CREATE INDEX verse_v_idx ON verse USING embed_hnsw (v embedding_cosine_ops)
	WITH (m = 16, ef_construction = 64);
SELECT round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 1) AS build_seconds,
       pg_size_pretty(pg_relation_size('verse_v_idx')) AS index_size,
       pg_size_pretty(pg_relation_size('verse')) AS table_size;
ANALYZE verse;
\else
\echo
\echo '== 7. (embed_hnsw is not in this build: the searches below scan the table)'
ANALYZE verse;
\endif

\echo
\echo '== 8. Questions, answered by semantic search over the verses'
CREATE FUNCTION ask(question text, k integer DEFAULT 3)
RETURNS TABLE (ref text, distance numeric, verse text)
LANGUAGE sql STABLE AS $$
	SELECT book || ' ' || chapter || ':' || verse,
	       round((v <=> q)::numeric, 3),
	       left(text, 100) || CASE WHEN length(text) > 100 THEN '...' ELSE '' END
	FROM verse, embed_document('kjv_words', embed_tokenize(question)) AS q
	ORDER BY v <=> q
	LIMIT k
$$;
\echo
\echo 'Q: a shepherd caring for his flock'
SELECT * FROM ask('a shepherd caring for his flock');
\echo 'Q: praise god with music and harps'
SELECT * FROM ask('praise god with music and harps');
\echo 'Q: the sun stood still'
SELECT * FROM ask('the sun stood still');
\echo 'Q: forgive those who sin against you'
SELECT * FROM ask('forgive those who sin against you');

\echo
\echo '== 9. Filtered search: the same kind of question, only in the four gospels'
SELECT book || ' ' || chapter || ':' || verse AS ref, left(text, 100) AS verse
FROM verse
WHERE book IN ('Matthew', 'Mark', 'Luke', 'John')
ORDER BY v <=> embed_document('kjv_words', embed_tokenize('love your enemies'))
LIMIT 3;
\if :have_hnsw
\echo 'A filter that keeps few rows (the book of Ruth, 85 verses): the plain index'
\echo 'scan filters its embed.ef_search (40) candidates, of which few or none are in Ruth...'
SELECT count(*) AS rows_found FROM (
	SELECT id FROM verse WHERE book = 'Ruth'
	ORDER BY v <=> embed_document('kjv_words', embed_tokenize('love your enemies'))
	LIMIT 3) s;
\echo '...while the iterative scan goes on until it has its rows:'
SET embed.iterative_scan = relaxed_order;
SELECT book || ' ' || chapter || ':' || verse AS ref, left(text, 100) AS verse
FROM verse WHERE book = 'Ruth'
ORDER BY v <=> embed_document('kjv_words', embed_tokenize('love your enemies'))
LIMIT 3;
RESET embed.iterative_scan;
\endif

\echo
\if :have_hnsw
\echo '== 10. EXPLAIN: the ORDER BY ... LIMIT is answered by the index'
\else
\echo '== 10. EXPLAIN: without an index the whole table is read and sorted'
\endif
EXPLAIN (COSTS OFF)
SELECT id FROM verse
ORDER BY v <=> embed_document('kjv_words', embed_tokenize('love your enemies'))
LIMIT 3;

\echo
\echo '== 11. A map of words: embed_pca_fit finds the two main directions'
CREATE TABLE map_word (grp_no integer, grp text, word text);
INSERT INTO map_word
SELECT n, g, unnest(string_to_array(ws, ' '))
FROM (VALUES
	(1, 'family', 'father mother son daughter brother sister wife husband'),
	(2, 'body', 'hand eye head heart foot mouth ear face'),
	(3, 'animals', 'sheep goats oxen lamb lion horses camels asses'),
	(4, 'numbers', 'two three four five six seven ten twelve'),
	(5, 'places', 'egypt jerusalem babylon assyria damascus samaria jordan canaan')
) AS g(n, g, ws);

CREATE TABLE map_model AS
SELECT embed_pca_fit(w.embedding, 2) AS m
FROM map_word JOIN kjv_words w ON w.token = map_word.word;

CREATE TABLE map_point AS
SELECT mw.grp, mw.word, p[1] AS x, p[2] AS y
FROM map_word mw
JOIN kjv_words w ON w.token = mw.word,
	map_model,
	LATERAL (SELECT embed_pca_project(w.embedding, m)::real[]) AS pr(p);

SELECT (m).n AS words,
       round((100 * (m).variance[1] / (m).total_variance)::numeric, 1) AS pc1_percent,
       round((100 * (m).variance[2] / (m).total_variance)::numeric, 1) AS pc2_percent
FROM map_model;

-- Do related words cluster?  Each word's nearest group centre on the map.
SELECT count(*) FILTER (WHERE p.grp = c.nearest) AS words_nearest_own_group,
       count(*) AS words
FROM map_point p,
     LATERAL (SELECT c.grp AS nearest
              FROM (SELECT grp, avg(x) AS cx, avg(y) AS cy
                    FROM map_point GROUP BY grp) c
              ORDER BY (p.x - c.cx) ^ 2 + (p.y - c.cy) ^ 2 LIMIT 1) c;

-- Label placement: each label goes right, left, above or below its point,
-- whichever first overlaps no point and no label placed before it (and
-- stays inside the frame); if every side overlaps, the least overlapped.
-- A label is about 7.5 px per letter wide and 13 px high.
CREATE FUNCTION map_label_side(words text[], xs numeric[], ys numeric[])
RETURNS TABLE (word text, side text) LANGUAGE plpgsql AS $$
DECLARE
	n			integer := coalesce(array_length(words, 1), 0);
	sides		text[] := ARRAY['right', 'left', 'above', 'below'];
	placed		numeric[][] := '{}';	-- x0, y0, x1, y1 of placed labels
	order_by_x	integer[];
	i			integer;
	best		text;
	best_cost	numeric;
	bx			numeric[];
BEGIN
	SELECT array_agg(k ORDER BY xs[k], ys[k]) INTO order_by_x
	FROM generate_subscripts(words, 1) k;
	FOREACH i IN ARRAY coalesce(order_by_x, '{}') LOOP
		best := NULL;
		FOR s IN 1 .. 4 LOOP
			DECLARE
				w		numeric := 7.5 * length(words[i]);
				x0		numeric;
				y0		numeric;
				cost	numeric := 0;
			BEGIN
				CASE sides[s]
					WHEN 'right' THEN x0 := xs[i] + 6; y0 := ys[i] - 9;
					WHEN 'left' THEN x0 := xs[i] - 6 - w; y0 := ys[i] - 9;
					WHEN 'above' THEN x0 := xs[i] - w / 2; y0 := ys[i] - 19;
					ELSE x0 := xs[i] - w / 2; y0 := ys[i] + 6;
				END CASE;
				IF x0 < 52 OR x0 + w > 778 OR y0 < 72 OR y0 + 13 > 668 THEN
					cost := cost + 10000;
				END IF;
				-- points under the label
				FOR k IN 1 .. n LOOP
					IF k <> i AND xs[k] + 4 > x0 AND xs[k] - 4 < x0 + w
					   AND ys[k] + 4 > y0 AND ys[k] - 4 < y0 + 13 THEN
						cost := cost + 100;
					END IF;
				END LOOP;
				-- labels placed before
				FOR k IN 1 .. coalesce(array_length(placed, 1), 0) LOOP
					cost := cost + greatest(0, least(x0 + w, placed[k][3]) - greatest(x0, placed[k][1]))
					             * greatest(0, least(y0 + 13, placed[k][4]) - greatest(y0, placed[k][2]));
				END LOOP;
				IF best IS NULL OR cost < best_cost THEN
					best := sides[s];
					best_cost := cost;
					bx := ARRAY[x0, y0, x0 + w, y0 + 13];
				END IF;
				EXIT WHEN cost = 0;
			END;
		END LOOP;
		placed := placed || ARRAY[bx];
		word := words[i];
		side := best;
		RETURN NEXT;
	END LOOP;
END
$$;

-- The SVG, written by one query.
\pset format unaligned
\pset tuples_only on
\o :svg
WITH b AS (
	SELECT min(x) AS x0, max(x) AS x1, min(y) AS y0, max(y) AS y1 FROM map_point
), colour AS (
	SELECT DISTINCT grp, grp_no,
	       (ARRAY['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e',
	              '#8c564b', '#e377c2', '#17becf'])[1 + (grp_no - 1) % 8] AS c
	FROM map_word
), pt AS (
	SELECT p.word, p.grp, colour.c,
	       round((75 + (p.x - b.x0) / nullif(b.x1 - b.x0, 0) * 670)::numeric, 1) AS px,
	       round((90 + (b.y1 - p.y) / nullif(b.y1 - b.y0, 0) * 560)::numeric, 1) AS py
	FROM map_point p JOIN colour USING (grp), b
), placed AS (
	SELECT pt.*, l.side FROM pt JOIN map_label_side(
		(SELECT array_agg(word ORDER BY word) FROM pt),
		(SELECT array_agg(px ORDER BY word) FROM pt),
		(SELECT array_agg(py ORDER BY word) FROM pt)) l USING (word)
), legend AS (
	SELECT string_agg(format(
		'<circle cx="%s" cy="%s" r="5" fill="%s"/><text x="%s" y="%s">%s</text>',
		812, 80 + 20 * n, c, 824, 85 + 20 * n, grp), E'\n' ORDER BY n) AS svg
	FROM (SELECT grp, c, grp_no AS n FROM colour) l
), pct AS (
	SELECT round((100 * (m).variance[1] / (m).total_variance)::numeric, 1) AS p1,
	       round((100 * (m).variance[2] / (m).total_variance)::numeric, 1) AS p2
	FROM map_model
)
SELECT concat_ws(E'\n',
	'<?xml version="1.0" encoding="UTF-8"?>',
	'<svg xmlns="http://www.w3.org/2000/svg" width="960" height="720" viewBox="0 0 960 720" font-family="sans-serif" font-size="13">',
	'<rect width="960" height="720" fill="white"/>',
	'<text x="20" y="28" font-size="17" font-weight="bold">Words of the King James Bible, by meaning</text>',
	'<text x="20" y="48" fill="#555">word2vec vectors trained in PostgreSQL by embed_train, projected by embed_pca_fit / embed_pca_project</text>',
	format('<text x="415" y="705" text-anchor="middle" fill="#555">first principal component (%s%% of variance)</text>', p1),
	format('<text x="18" y="370" text-anchor="middle" fill="#555" transform="rotate(-90 18 370)">second principal component (%s%% of variance)</text>', p2),
	'<rect x="50" y="70" width="730" height="600" fill="none" stroke="#ccc"/>',
	(SELECT svg FROM legend),
	(SELECT string_agg(format(
		'<circle cx="%s" cy="%s" r="4" fill="%s"/><text x="%s" y="%s" fill="%s" text-anchor="%s">%s</text>',
		px, py, c,
		CASE side WHEN 'right' THEN px + 6 WHEN 'left' THEN px - 6 ELSE px END,
		CASE side WHEN 'above' THEN py - 8 WHEN 'below' THEN py + 17 ELSE py + 4 END, c,
		CASE side WHEN 'right' THEN 'start' WHEN 'left' THEN 'end' ELSE 'middle' END,
		word),
		E'\n' ORDER BY word) FROM placed),
	'</svg>')
FROM pct;
\o
\pset format aligned
\pset tuples_only off
\else
\echo
\echo '== embed_train is not in this build: training, document embeddings, search'
\echo '   and the word map need it; the text and tokens above are loaded.'
\endif
