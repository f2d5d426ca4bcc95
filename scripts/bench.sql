-- bench.sql: embed's benchmark.  Run by scripts/bench (make bench), which
-- sets the psql variables: dataset n d q k efs m efc pgvector train out cpus.
--
-- One client, no parallel query: queries per second here are what one
-- backend delivers.  Each system answers the same queries over the same
-- vectors (pgvector's copy is made through the text form, the documented
-- way to move data between the two).  Timed loops run inside the server in
-- PL/pgSQL, whose statements are prepared once, like an application's.

\set ON_ERROR_STOP on
\pset footer off
\pset null '-'
SET client_min_messages = warning;
SET max_parallel_workers_per_gather = 0;

CREATE EXTENSION embed;

SELECT to_regproc('embed_train') IS NOT NULL AND :'train' <> 'off' AS have_train,
       EXISTS (SELECT FROM pg_am WHERE amname = 'embed_hnsw') AS have_hnsw,
       EXISTS (SELECT FROM pg_available_extensions WHERE name = 'vector')
           AND :'pgvector' <> 'off' AS have_pgvector,
       :'dataset' = 'kjv' AS is_kjv
\gset
SELECT :'have_train'::boolean OR :'is_kjv'::boolean AS need_text \gset
\if :is_kjv
\if :have_train
\else
\echo 'bench: DATASET=kjv needs embed_train (and TRAIN=on)'
\quit
\endif
\endif
\if :have_pgvector
CREATE EXTENSION vector;
\endif

CREATE TABLE bench_summary (
	ord serial,
	system text,
	metric text,
	value double precision,
	unit text
);
CREATE TABLE bench_curve (
	system text,
	ef_search integer,
	recall double precision,
	qps double precision
);

SELECT 'embed ' || extversion AS embed_version FROM pg_extension WHERE extname = 'embed' \gset
SELECT coalesce((SELECT 'pgvector ' || extversion FROM pg_extension WHERE extname = 'vector'), 'no pgvector') AS vector_version \gset
\echo
SELECT :'embed_version' AS embed, :'vector_version' AS pgvector,
       embed_kernels_in_use() AS embed_kernels,
       current_setting('server_version') AS postgresql;

-- ---------------------------------------------------------------------
-- Training on the shipped text, and the kjv data set
-- ---------------------------------------------------------------------
\if :need_text
CREATE TABLE verse (
	id integer PRIMARY KEY,
	book text NOT NULL,
	chapter integer NOT NULL,
	verse integer NOT NULL,
	text text NOT NULL
);
\copy verse FROM PROGRAM 'gzip -dc test/data/demo/kjv.tsv.gz'
CREATE TABLE token AS
SELECT v.id AS doc_id, t.pos::integer AS pos, t.token
FROM verse v, unnest(embed_tokenize(v.text)) WITH ORDINALITY AS t(token, pos);
ANALYZE token;

\echo
\echo '== Training: word2vec on the King James Bible (5 epochs, window 5, 5 negatives)'
SELECT CASE WHEN :'is_kjv'::boolean THEN :d ELSE 100 END AS train_dim \gset
CREATE TABLE train_run AS
SELECT 1 AS workers, t.* FROM embed_train('token', 'bench_words', dim => :train_dim,
	epochs => 5, workers => 1, seed => 1, progress => false) t;
INSERT INTO train_run
SELECT 2, t.* FROM embed_train('token', 'bench_words', dim => :train_dim,
	epochs => 5, workers => 2, seed => 1, progress => false, replace => true) t;
SELECT workers, vocab_size, tokens_trained, round(seconds::numeric, 1) AS seconds,
       round(tokens_per_second::numeric) AS tokens_per_second,
       round(final_loss::numeric, 4) AS final_loss
FROM train_run ORDER BY workers;
INSERT INTO bench_summary (system, metric, value, unit)
SELECT 'embed', 'train_tokens_per_second_' || workers || 'w', tokens_per_second, 'tokens/s'
FROM train_run ORDER BY workers;

-- Quality: for pairs of related words, the rank of the second among the
-- first's neighbours (1 = nearest), and one analogy.
CREATE TABLE quality_pair (a text, b text);
INSERT INTO quality_pair
SELECT split_part(p, '-', 1), split_part(p, '-', 2)
FROM unnest(string_to_array(
	'gold-silver sheep-oxen father-mother son-daughter brother-sister '
	'husband-wife king-queen bread-wine sword-spear hand-foot eye-ear '
	'morning-evening day-night heaven-earth egypt-pharaoh jerusalem-zion '
	'seven-six three-four horses-chariots camels-asses wheat-barley '
	'priest-levites north-south east-west summer-winter fire-smoke '
	'river-sea gate-wall lion-bear silver-brass fig-vine', ' ')) p;
CREATE TABLE quality_rank AS
SELECT qp.a, qp.b,
       (SELECT count(*) + 1 FROM bench_words o
        WHERE o.token NOT IN (qp.a, qp.b)
          AND (o.embedding <=> wa.embedding) < (wb.embedding <=> wa.embedding)) AS rank
FROM quality_pair qp
JOIN bench_words wa ON wa.token = qp.a
JOIN bench_words wb ON wb.token = qp.b;
SELECT (SELECT count(*) + 1 FROM bench_words o, bench_words k, bench_words m,
            bench_words f, bench_words qn
        WHERE k.token = 'king' AND m.token = 'man' AND f.token = 'woman'
          AND qn.token = 'queen'
          AND o.token NOT IN ('king', 'man', 'woman', 'queen')
          AND (o.embedding <=> (k.embedding - m.embedding + f.embedding)) <
              (qn.embedding <=> (k.embedding - m.embedding + f.embedding))) AS queen_rank
\gset
SELECT count(*) AS pairs,
       count(*) FILTER (WHERE rank <= 10) AS in_top_10,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY rank) AS median_rank,
       :queen_rank AS "rank of queen for king - man + woman"
FROM quality_rank;
INSERT INTO bench_summary (system, metric, value, unit)
SELECT 'embed', 'quality_pairs_top10_share', avg((rank <= 10)::int), 'share'
FROM quality_rank
UNION ALL
SELECT 'embed', 'quality_pairs_median_rank',
       percentile_disc(0.5) WITHIN GROUP (ORDER BY rank), 'rank'
FROM quality_rank
UNION ALL
SELECT 'embed', 'quality_analogy_queen_rank', :queen_rank, 'rank';
\endif

-- ---------------------------------------------------------------------
-- The vectors and the queries
-- ---------------------------------------------------------------------
\echo
\if :is_kjv
\echo '== Data: verses of the King James Bible embedded with embed_document'
CREATE TABLE bench_all AS
SELECT id, embed_document('bench_words', embed_tokenize(text)) AS v
FROM verse;
DELETE FROM bench_all WHERE v IS NULL;
-- Queries: Q verses picked by a hash, left out of the table.
CREATE TABLE bench_query AS
SELECT row_number() OVER (ORDER BY md5(id::text))::integer AS qid, v
FROM bench_all ORDER BY md5(id::text) LIMIT :q;
CREATE TABLE bench_item_embed AS
SELECT id, v FROM bench_all
WHERE id NOT IN (SELECT id FROM bench_all ORDER BY md5(id::text) LIMIT :q)
ORDER BY id LIMIT :n;
SELECT dims(v) AS d FROM bench_all LIMIT 1 \gset
\else
\echo '== Data: synthetic, clustered Gaussian vectors'
-- Centres uniform in [-1, 1]^d, one per thousand vectors; each vector is
-- a centre plus Gaussian noise (Box-Muller), so that neighbours are found
-- in a crowd of look-alikes, as with real embeddings.
SELECT setseed(0.42) AS seeded \gset
CREATE TABLE bench_centre AS
SELECT c, (SELECT array_agg(2 * random() - 1) FROM generate_series(1, :d) WHERE c > 0) AS x
FROM generate_series(1, greatest(10, :n / 1000)) c;
SELECT count(*) AS centres FROM bench_centre \gset
CREATE TABLE bench_all AS
SELECT i AS id,
       (SELECT array_agg(ce.x[j] + 0.5 * sqrt(-2 * ln(1 - random()))
                                       * cos(2 * pi() * random()) ORDER BY j)
        FROM generate_series(1, :d) j)::real[]::embedding AS v
FROM generate_series(1, :n + :q) i
JOIN bench_centre ce ON ce.c = 1 + (i * 7919) % :centres;
CREATE TABLE bench_item_embed AS
SELECT id, v FROM bench_all WHERE id <= :n;
CREATE TABLE bench_query AS
SELECT (id - :n)::integer AS qid, v FROM bench_all WHERE id > :n;
\endif
ALTER TABLE bench_item_embed ADD PRIMARY KEY (id);
SELECT format('ALTER TABLE bench_item_embed ALTER COLUMN v TYPE embedding(%s)', :d) \gexec
VACUUM ANALYZE bench_item_embed;
ANALYZE bench_query;

\if :have_pgvector
-- pgvector gets the same values through the text form.
SELECT format('CREATE TABLE bench_item_vector AS SELECT id, v::text::vector(%s) AS v FROM bench_item_embed ORDER BY id', :d) \gexec
ALTER TABLE bench_item_vector ADD PRIMARY KEY (id);
CREATE TABLE bench_query_vector AS SELECT qid, v::text::vector AS v FROM bench_query;
VACUUM ANALYZE bench_item_vector;
ANALYZE bench_query_vector;
-- The same values, also through real[].
SELECT count(*) AS vectors,
       count(*) FILTER (WHERE e.v::real[]::vector = p.v) AS same_through_real_array,
       count(*) FILTER (WHERE p.v::text::embedding = e.v) AS same_back_to_embedding
FROM bench_item_embed e JOIN bench_item_vector p USING (id);
\endif

SELECT count(*) AS vectors, :d AS dimensions, :q AS queries, :k AS k,
       pg_size_pretty(pg_relation_size('bench_item_embed')) AS embed_table
FROM bench_item_embed;
INSERT INTO bench_summary (system, metric, value, unit)
SELECT 'embed', 'table_mb', pg_relation_size('bench_item_embed') / 1048576.0, 'MB';
\if :have_pgvector
INSERT INTO bench_summary (system, metric, value, unit)
SELECT 'pgvector', 'table_mb', pg_relation_size('bench_item_vector') / 1048576.0, 'MB';
\endif

-- ---------------------------------------------------------------------
-- The timed query loops
-- ---------------------------------------------------------------------
CREATE TABLE bench_truth (qid integer PRIMARY KEY, ids integer[]);

-- Runs every query (the first `warm` of them once more before, untimed),
-- sums the time spent in the queries themselves, and scores each answer
-- against bench_truth; with record_truth the answers become the truth.
CREATE FUNCTION bench_embed(k integer, warm integer, record_truth boolean,
							min_seconds double precision,
							OUT qps double precision, OUT recall double precision)
LANGUAGE plpgsql AS $$
DECLARE
	r			record;
	got			integer[];
	t0			timestamptz;
	spent		double precision := 0;
	hits		bigint := 0;
	n			bigint := 0;
	pass		integer := 0;
BEGIN
	FOR r IN SELECT qid, v FROM bench_query ORDER BY qid LIMIT warm LOOP
		SELECT array_agg(id) INTO got
		FROM (SELECT i.id FROM bench_item_embed i ORDER BY i.v <=> r.v LIMIT k) s;
	END LOOP;
	LOOP
		pass := pass + 1;
		FOR r IN SELECT b.qid, b.v, t.ids FROM bench_query b
				 LEFT JOIN bench_truth t USING (qid) ORDER BY b.qid LOOP
			t0 := clock_timestamp();
			SELECT array_agg(id) INTO got
			FROM (SELECT i.id FROM bench_item_embed i ORDER BY i.v <=> r.v LIMIT k) s;
			spent := spent + extract(epoch FROM clock_timestamp() - t0);
			n := n + 1;
			IF pass > 1 THEN
				CONTINUE;
			ELSIF record_truth THEN
				INSERT INTO bench_truth VALUES (r.qid, got);
				hits := hits + k;
			ELSE
				hits := hits + (SELECT count(*) FROM unnest(got) g WHERE g = ANY (r.ids));
			END IF;
		END LOOP;
		EXIT WHEN spent >= min_seconds;
	END LOOP;
	qps := n / spent;
	recall := hits::double precision / ((n / pass) * k);
END
$$;

\if :have_pgvector
CREATE FUNCTION bench_vector(k integer, warm integer, min_seconds double precision,
							 OUT qps double precision, OUT recall double precision)
LANGUAGE plpgsql AS $$
DECLARE
	r			record;
	got			integer[];
	t0			timestamptz;
	spent		double precision := 0;
	hits		bigint := 0;
	n			bigint := 0;
	pass		integer := 0;
BEGIN
	FOR r IN SELECT qid, v FROM bench_query_vector ORDER BY qid LIMIT warm LOOP
		SELECT array_agg(id) INTO got
		FROM (SELECT i.id FROM bench_item_vector i ORDER BY i.v <=> r.v LIMIT k) s;
	END LOOP;
	LOOP
		pass := pass + 1;
		FOR r IN SELECT b.qid, b.v, t.ids FROM bench_query_vector b
				 JOIN bench_truth t USING (qid) ORDER BY b.qid LOOP
			t0 := clock_timestamp();
			SELECT array_agg(id) INTO got
			FROM (SELECT i.id FROM bench_item_vector i ORDER BY i.v <=> r.v LIMIT k) s;
			spent := spent + extract(epoch FROM clock_timestamp() - t0);
			n := n + 1;
			IF pass = 1 THEN
				hits := hits + (SELECT count(*) FROM unnest(got) g WHERE g = ANY (r.ids));
			END IF;
		END LOOP;
		EXIT WHEN spent >= min_seconds;
	END LOOP;
	qps := n / spent;
	recall := hits::double precision / ((n / pass) * k);
END
$$;
\endif

-- ---------------------------------------------------------------------
-- Exact scan (no index yet): also the ground truth
-- ---------------------------------------------------------------------
\echo
\echo '== Exact scan: every vector compared with each query (one backend, no parallel query)'
INSERT INTO bench_summary (system, metric, value, unit)
SELECT 'embed', 'exact_qps', qps, 'queries/s' FROM bench_embed(:k, 3, true, 0);
\if :have_pgvector
INSERT INTO bench_summary (system, metric, value, unit)
SELECT 'pgvector', m, v, u
FROM bench_vector(:k, 3, 0) r,
	LATERAL (VALUES ('exact_qps', r.qps, 'queries/s'),
	                ('exact_recall', r.recall, 'share')) x(m, v, u);
\endif
SELECT system, round(value::numeric, 1) AS queries_per_second
FROM bench_summary WHERE metric = 'exact_qps' ORDER BY ord;

-- ---------------------------------------------------------------------
-- Index build and the recall / speed curve
-- ---------------------------------------------------------------------
\if :have_hnsw
\echo
\echo '== Index build: m = ' :m ', ef_construction = ' :efc ', maintenance_work_mem = 1GB'
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT format('CREATE INDEX bench_embed_idx ON bench_item_embed USING embed_hnsw (v embedding_cosine_ops) WITH (m = %s, ef_construction = %s)', :m, :efc) \gexec
INSERT INTO bench_summary (system, metric, value, unit)
VALUES ('embed', 'build_seconds', extract(epoch FROM clock_timestamp()) - :t0, 's'),
       ('embed', 'index_mb', pg_relation_size('bench_embed_idx') / 1048576.0, 'MB');
\if :have_pgvector
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT format('CREATE INDEX bench_vector_idx ON bench_item_vector USING hnsw (v vector_cosine_ops) WITH (m = %s, ef_construction = %s)', :m, :efc) \gexec
INSERT INTO bench_summary (system, metric, value, unit)
VALUES ('pgvector', 'build_seconds', extract(epoch FROM clock_timestamp()) - :t0, 's'),
       ('pgvector', 'index_mb', pg_relation_size('bench_vector_idx') / 1048576.0, 'MB');
\endif
SELECT system, round(max(value) FILTER (WHERE metric = 'build_seconds')::numeric, 1) AS build_seconds,
       round(max(value) FILTER (WHERE metric = 'index_mb')::numeric, 1) AS index_mb
FROM bench_summary WHERE metric IN ('build_seconds', 'index_mb')
GROUP BY system ORDER BY min(ord);

\echo
\echo '== Recall and queries per second over ef_search (k = ' :k ')'
-- One ef_search value at a time, embed then pgvector, so that drift on a
-- shared machine hits both alike.  Each point runs the queries once
-- untimed, then timed passes until POINT_SECONDS were spent in queries.
CREATE FUNCTION bench_sweep(efs integer[], k integer, with_vector boolean,
							min_seconds double precision)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	ef			integer;
	r			record;
BEGIN
	FOREACH ef IN ARRAY efs LOOP
		PERFORM set_config('embed.ef_search', ef::text, false);
		SELECT * INTO r FROM bench_embed(k, 1000000, false, min_seconds);
		INSERT INTO bench_curve VALUES ('embed', ef, r.recall, r.qps);
		IF with_vector THEN
			PERFORM set_config('hnsw.ef_search', ef::text, false);
			EXECUTE 'SELECT * FROM bench_vector($1, 1000000, $2)' INTO r USING k, min_seconds;
			INSERT INTO bench_curve VALUES ('pgvector', ef, r.recall, r.qps);
		END IF;
	END LOOP;
END
$$;
-- The planner may prefer an exact scan when ef_search is large (the index
-- scan's estimated cost grows with it); the curve is about the index.
SET enable_seqscan = off;
SELECT bench_sweep(string_to_array(:'efs', ',')::integer[], :k, :'have_pgvector'::boolean, :seconds) AS swept \gset
-- The scans in the plan of one query at the last ef_search: the index's.
CREATE FUNCTION bench_plan(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	line		text;
	scans		text[] := '{}';
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
		IF line ~ 'Scan' THEN
			scans := scans || btrim(regexp_replace(line, '^[ ->]*', ''));
		END IF;
	END LOOP;
	RETURN array_to_string(scans, '; ');
END
$$;
SELECT 'embed' AS system, bench_plan(format(
	'SELECT id FROM bench_item_embed ORDER BY v <=> %L::embedding LIMIT %s',
	(SELECT v FROM bench_query ORDER BY qid LIMIT 1), :k)) AS plan
\if :have_pgvector
UNION ALL
SELECT 'pgvector', bench_plan(format(
	'SELECT id FROM bench_item_vector ORDER BY v <=> %L::vector LIMIT %s',
	(SELECT v FROM bench_query_vector ORDER BY qid LIMIT 1), :k))
\endif
;

SELECT ef_search,
       round(max(recall) FILTER (WHERE system = 'embed')::numeric, 4) AS embed_recall,
       round(max(qps) FILTER (WHERE system = 'embed')::numeric) AS embed_qps,
       round(max(recall) FILTER (WHERE system = 'pgvector')::numeric, 4) AS pgvector_recall,
       round(max(qps) FILTER (WHERE system = 'pgvector')::numeric) AS pgvector_qps
FROM bench_curve GROUP BY ef_search ORDER BY ef_search;

-- Queries per second at a given recall, read off each curve: between the
-- two points around the target, log(qps) is interpolated linearly in
-- recall.  A target below the first point takes the first point's speed
-- (marked as a lower bound); one above the last point is not reached.
CREATE FUNCTION bench_qps_at(sys text, target double precision,
							 OUT qps double precision, OUT lower_bound boolean)
LANGUAGE sql STABLE AS $$
	WITH c AS (
		SELECT recall, qps,
		       lag(recall) OVER w AS prev_recall, lag(qps) OVER w AS prev_qps,
		       row_number() OVER w AS n
		FROM bench_curve WHERE system = sys
		WINDOW w AS (ORDER BY ef_search)
	)
	SELECT CASE WHEN n = 1 OR prev_recall >= recall THEN qps
	            ELSE exp(ln(prev_qps) + (target - prev_recall) / (recall - prev_recall)
	                     * (ln(qps) - ln(prev_qps))) END,
	       n = 1
	FROM c WHERE recall >= target ORDER BY n LIMIT 1
$$;
INSERT INTO bench_summary (system, metric, value, unit)
SELECT s, 'qps_at_recall_' || t, a.qps, CASE WHEN a.lower_bound THEN 'queries/s (at least)' ELSE 'queries/s' END
FROM (SELECT DISTINCT system AS s FROM bench_curve) sy,
     unnest(ARRAY[0.8, 0.9, 0.95, 0.99]) t,
     LATERAL bench_qps_at(s, t) a
WHERE a.qps IS NOT NULL
ORDER BY s, t;
\else
\echo
\echo '== (embed_hnsw is not in this build: no index build and no recall curve)'
\endif

-- ---------------------------------------------------------------------
-- Summary, ratios, files
-- ---------------------------------------------------------------------
\echo
\echo '== Summary (embed / pgvector: above 1 means embed is larger; for seconds and MB, smaller is better)'
SELECT metric,
       round(max(value) FILTER (WHERE system = 'embed')::numeric, 3) AS embed,
       round(max(value) FILTER (WHERE system = 'pgvector')::numeric, 3) AS pgvector,
       round((max(value) FILTER (WHERE system = 'embed') /
              nullif(max(value) FILTER (WHERE system = 'pgvector'), 0))::numeric, 2) AS "embed/pgvector",
       max(unit) AS unit
FROM bench_summary GROUP BY metric ORDER BY min(ord);

\pset format unaligned
\pset tuples_only on
\o :out/summary.csv
COPY (SELECT system, metric, value, unit FROM bench_summary ORDER BY ord) TO STDOUT WITH (FORMAT csv, HEADER);
\o :out/curve.csv
COPY (SELECT system, ef_search, recall, qps FROM bench_curve ORDER BY system, ef_search) TO STDOUT WITH (FORMAT csv, HEADER);
\o

-- The plot: recall on x, queries per second on y (log scale), one line per
-- system, points labelled with ef_search; written by one query.
SELECT EXISTS (SELECT FROM bench_curve) AS have_curve \gset
\if :have_curve
\o :out/recall-qps.svg
WITH lim AS (
	SELECT least(floor(min(recall) * 10) / 10, 0.9)::numeric AS x0, 1.0 AS x1,
	       floor(log(min(qps))) AS y0, ceil(log(max(qps))) AS y1
	FROM bench_curve
), pt AS (
	SELECT c.system, c.ef_search,
	       round((80 + (c.recall - lim.x0) / (lim.x1 - lim.x0) * 640)::numeric, 1) AS px,
	       round((500 - (log(c.qps) - lim.y0) / nullif(lim.y1 - lim.y0, 0) * 420)::numeric, 1) AS py,
	       CASE c.system WHEN 'embed' THEN '#d62728' ELSE '#1f77b4' END AS colour
	FROM bench_curve c, lim
), xgrid AS (
	SELECT string_agg(format(
		'<line x1="%s" y1="80" x2="%s" y2="500" stroke="#e5e5e5"/><text x="%s" y="520" text-anchor="middle">%s</text>',
		px, px, px, CASE WHEN x1 - x0 <= 0.2 THEN round(g, 2) ELSE round(g, 1) END), E'\n') AS svg
	FROM lim, LATERAL (SELECT g, round((80 + (g - x0) / (x1 - x0) * 640)::numeric, 1) AS px
	                   FROM generate_series(x0, x1, CASE WHEN x1 - x0 <= 0.2 THEN 0.02 ELSE 0.1 END) g) s
), ygrid AS (
	SELECT string_agg(format(
		'<line x1="80" y1="%s" x2="720" y2="%s" stroke="#e5e5e5"/><text x="72" y="%s" text-anchor="end">%s</text>',
		py, py, py + 4, to_char(10 ^ e, 'FM999999999')), E'\n') AS svg
	FROM lim, LATERAL (SELECT e, round((500 - (e - y0) / nullif(y1 - y0, 0) * 420)::numeric, 1) AS py
	                   FROM generate_series(y0::int, y1::int) e) s
), yminor AS (
	SELECT string_agg(format('<line x1="80" y1="%s" x2="720" y2="%s" stroke="#f2f2f2"/>', py, py), E'\n') AS svg
	FROM lim, LATERAL (SELECT round((500 - (e + log(f) - y0) / nullif(y1 - y0, 0) * 420)::numeric, 1) AS py
	                   FROM generate_series(y0::int, y1::int - 1) e, unnest(ARRAY[2, 5]) f) s
), lines AS (
	SELECT string_agg(format('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>',
	                         colour, pts), E'\n') AS svg
	FROM (SELECT system, min(colour) AS colour,
	             string_agg(px || ',' || py, ' ' ORDER BY ef_search) AS pts
	      FROM pt GROUP BY system) l
), dots AS (
	SELECT string_agg(format(
		'<circle cx="%s" cy="%s" r="3.5" fill="%s"/><text x="%s" y="%s" font-size="10" fill="%s">%s</text>',
		px, py, colour, px + 5, py - 6, colour, ef_search), E'\n') AS svg
	FROM pt
), legend AS (
	SELECT string_agg(format(
		'<line x1="90" y1="%s" x2="115" y2="%s" stroke="%s" stroke-width="2"/><text x="122" y="%s">%s</text>',
		450 + 18 * n, 450 + 18 * n, colour, 454 + 18 * n, label), E'\n') AS svg
	FROM (SELECT row_number() OVER (ORDER BY system) AS n, colour,
	             CASE system WHEN 'embed' THEN :'embed_version' || ' (embed_hnsw)'
	                         ELSE :'vector_version' || ' (hnsw)' END AS label
	      FROM (SELECT DISTINCT system, colour FROM pt) d) l
)
SELECT concat_ws(E'\n',
	'<?xml version="1.0" encoding="UTF-8"?>',
	'<svg xmlns="http://www.w3.org/2000/svg" width="760" height="580" viewBox="0 0 760 580" font-family="sans-serif" font-size="12">',
	'<rect width="760" height="580" fill="white"/>',
	format('<text x="80" y="30" font-size="15" font-weight="bold">Recall against queries per second (%s, k = %s)</text>',
	       :'dataset', :k),
	format('<text x="80" y="50" fill="#555">%s vectors of %s dimensions, cosine distance, m = %s, ef_construction = %s;</text>',
	       (SELECT count(*) FROM bench_item_embed), :d, :m, :efc),
	format('<text x="80" y="66" fill="#555">point labels: ef_search; one backend on a machine with %s CPUs, shared</text>',
	       :cpus),
	(SELECT svg FROM yminor), (SELECT svg FROM xgrid), (SELECT svg FROM ygrid),
	'<rect x="80" y="80" width="640" height="420" fill="none" stroke="#999"/>',
	(SELECT svg FROM lines), (SELECT svg FROM dots), (SELECT svg FROM legend),
	'<text x="400" y="550" text-anchor="middle">recall</text>',
	'<text x="22" y="290" text-anchor="middle" transform="rotate(-90 22 290)">queries per second (log scale)</text>',
	'</svg>');
\o
\endif
\pset format aligned
\pset tuples_only off
