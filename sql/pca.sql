-- Principal component analysis: embed_pca_fit and embed_pca_project.

-- Elements rounded, so that the last bits of float arithmetic do not show.
CREATE FUNCTION pca_round(embedding, int DEFAULT 4) RETURNS numeric[]
	LANGUAGE sql IMMUTABLE STRICT
	AS $$ SELECT array_agg(round(x::numeric, $2)) FROM unnest($1::real[]) x $$;

-- Four points on the axes: the covariance is diag(8/3, 2/3), so the
-- components are the axes, in order of variance.
SELECT (m).n, (m).mean, pca_round((m).components[1]) AS c1,
       pca_round((m).components[2]) AS c2,
       (SELECT array_agg(round(x::numeric, 6)) FROM unnest((m).variance) x) AS variance,
       round((m).total_variance::numeric, 6) AS total
FROM (SELECT embed_pca_fit(v, 2) AS m
      FROM (VALUES ('[2,0]'::embedding), ('[-2,0]'), ('[0,1]'), ('[0,-1]')) t(v)) s;

-- The same points projected: coordinates along the components.
WITH p AS (SELECT embed_pca_fit(v, 2) AS m
           FROM (VALUES ('[2,0]'::embedding), ('[-2,0]'), ('[0,1]'), ('[0,-1]')) t(v))
SELECT v, pca_round(embed_pca_project(v, m)) AS coords
FROM p, (VALUES ('[2,0]'::embedding), ('[0,-1]'), ('[1,1]')) t(v);

-- A deterministic cloud in 6 dimensions, stretched along known directions
-- and shifted far from the origin.
CREATE TABLE pca_cloud (id int, v embedding(6));
INSERT INTO pca_cloud
SELECT i, ARRAY[
	1000 + 5 * sin(i * 0.7) + 0.1 * cos(i * 1.3),
	-2000 + 2.5 * sin(i * 0.7) - 0.1 * cos(i * 1.3),
	3000 + 2 * cos(i * 1.9),
	4000 - cos(i * 1.9) + 0.05 * sin(i * 2.3),
	0.5 * sin(i * 3.1),
	0.05 * cos(i * 0.3)]::real[]
FROM generate_series(1, 500) i;

-- The leading component is (2,1,0,0,0,0)/sqrt(5), with the sign that
-- makes its largest element positive; the second is (0,0,2,-1,0,0)/sqrt(5).
SELECT pca_round((m).components[1], 2) AS first,
       pca_round((m).components[2], 2) AS second
FROM (SELECT embed_pca_fit(v, 3) AS m FROM pca_cloud) s;

-- Components are orthonormal.
WITH p AS (SELECT embed_pca_fit(v, 4) AS m FROM pca_cloud)
SELECT i, j, round(inner_product((m).components[i], (m).components[j])::numeric, 6) AS dot
FROM p, generate_series(1, 4) i, generate_series(1, 4) j
WHERE i <= j ORDER BY i, j;

-- The reported variance is the sample variance of the projected
-- coordinates, and they are uncorrelated.
WITH p AS (SELECT embed_pca_fit(v, 3) AS m FROM pca_cloud),
     c AS (SELECT (embed_pca_project(v, m))::real[] AS x, m FROM pca_cloud, p)
SELECT round((var_samp(x[1]) / min((m).variance[1]))::numeric, 4) AS ratio1,
       round((var_samp(x[2]) / min((m).variance[2]))::numeric, 4) AS ratio2,
       round((var_samp(x[3]) / min((m).variance[3]))::numeric, 4) AS ratio3,
       round(avg(x[1])::numeric, 3) AS mean1,
       round(corr(x[1], x[2])::numeric, 4) AS corr12,
       round(corr(x[2], x[3])::numeric, 4) AS corr23
FROM c;

-- With every component, the variances add up to the total.
SELECT round(((SELECT sum(x) FROM unnest((m).variance) x) / (m).total_variance)::numeric, 6) AS explained
FROM (SELECT embed_pca_fit(v, 6) AS m FROM pca_cloud) s;

-- The shift far from the origin does not cost accuracy: same variances as
-- the centred cloud.
SELECT round((a.variance[1] / b.variance[1])::numeric, 6) AS r1,
       round((a.variance[2] / b.variance[2])::numeric, 6) AS r2
FROM (SELECT (embed_pca_fit(v, 2)).* FROM pca_cloud) a,
     (SELECT (embed_pca_fit(v - m, 2)).*
      FROM pca_cloud, (SELECT avg(v) AS m FROM pca_cloud) av) b;

-- One group per row of a GROUP BY.
SELECT id % 2 AS parity, (embed_pca_fit(v, 1)).n
FROM pca_cloud GROUP BY 1 ORDER BY 1;

-- NULL vectors are skipped; fewer than two rows give NULL.
SELECT (embed_pca_fit(v, 1)).n
FROM (VALUES ('[1,2]'::embedding), (NULL), ('[3,5]')) t(v);
SELECT embed_pca_fit(v, 1) IS NULL AS one_row
FROM (VALUES ('[1,2]'::embedding)) t(v);
SELECT embed_pca_fit(v, 1) IS NULL AS no_rows FROM pca_cloud WHERE false;
SELECT embed_pca_fit(v, 1) IS NULL AS only_nulls
FROM (VALUES (NULL::embedding), (NULL)) t(v);

-- Identical rows: no variance, still unit components.
SELECT (m).variance, round(norm((m).components[1])::numeric, 6) AS unit
FROM (SELECT embed_pca_fit('[1,2,3]'::embedding, 1) AS m
      FROM generate_series(1, 3)) s;

-- Errors
SELECT embed_pca_fit(v, 0) FROM pca_cloud;
SELECT embed_pca_fit(v, 7) FROM pca_cloud;
SELECT embed_pca_fit(v, NULL) FROM pca_cloud;
SELECT embed_pca_fit(v, id % 2 + 1) FROM pca_cloud;
SELECT embed_pca_fit(v, 1)
FROM (VALUES ('[1,2]'::embedding), ('[1,2,3]')) t(v);
SELECT embed_pca_fit(array_fill(1, ARRAY[5000])::real[]::embedding, 1);
SELECT embed_pca_project('[1,2,3]', m)
FROM (SELECT embed_pca_fit(v, 1) AS m
      FROM (VALUES ('[1,2]'::embedding), ('[3,5]')) t(v)) s;
SELECT embed_pca_project('[1,2]', ROW(2, '[0,0]', NULL, NULL, NULL)::embed_pca_model);
SELECT embed_pca_project('[1,2]', ROW(2, '[0,0]', '{}', NULL, NULL)::embed_pca_model);
SELECT embed_pca_project('[1,2]', ROW(2, '[0,0]', ARRAY['[1,0,0]'::embedding], NULL, NULL)::embed_pca_model);
-- A hand-made model works too.
SELECT embed_pca_project('[3,4]', ROW(2, '[1,1]', ARRAY['[0,1]'::embedding, '[1,0]'], NULL, NULL)::embed_pca_model);
-- STRICT
SELECT embed_pca_project(NULL, NULL) IS NULL AS strict;

DROP TABLE pca_cloud;
DROP FUNCTION pca_round(embedding, int);
