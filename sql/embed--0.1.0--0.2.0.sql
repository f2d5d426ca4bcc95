-- embed 0.1.0 -> 0.2.0
\echo Use "ALTER EXTENSION embed UPDATE TO '0.2.0'" to load this file. \quit

-- The distance functions' cost now grows with the dimension (src/cost.c).
CREATE FUNCTION embed_distance_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'embed_distance_support' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embed_distance_support(internal) IS 'planner support for the distance functions: a cost that grows with the dimension';
ALTER FUNCTION cosine_distance(embedding, embedding) SUPPORT embed_distance_support;
ALTER FUNCTION cosine_similarity(embedding, embedding) SUPPORT embed_distance_support;
ALTER FUNCTION inner_product(embedding, embedding) SUPPORT embed_distance_support;
ALTER FUNCTION negative_inner_product(embedding, embedding) SUPPORT embed_distance_support;
ALTER FUNCTION l2_distance(embedding, embedding) SUPPORT embed_distance_support;
ALTER FUNCTION l2_squared_distance(embedding, embedding) SUPPORT embed_distance_support;
