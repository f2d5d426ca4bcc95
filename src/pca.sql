-- Principal component analysis of an embedding column (src/pca.c).

CREATE TYPE embed_pca_model AS (
	n bigint,
	mean embedding,
	components embedding[],
	variance double precision[],
	total_variance double precision
);
COMMENT ON TYPE embed_pca_model IS 'principal components fitted by embed_pca_fit: rows used, mean, unit components by decreasing variance, variance along each, total variance';

CREATE FUNCTION embed_pca_accum(internal, embedding, integer) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION embed_pca_accum(internal, embedding, integer) IS 'transition function of embed_pca_fit';
CREATE FUNCTION embed_pca_final(internal) RETURNS embed_pca_model
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION embed_pca_final(internal) IS 'final function of embed_pca_fit';

CREATE AGGREGATE embed_pca_fit(embedding, integer) (
	SFUNC = embed_pca_accum,
	STYPE = internal,
	FINALFUNC = embed_pca_final,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE embed_pca_fit(embedding, integer) IS 'the k leading principal components of the embeddings (k is the second argument; NULL for fewer than two rows)';

CREATE FUNCTION embed_pca_project(embedding, embed_pca_model) RETURNS embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embed_pca_project(embedding, embed_pca_model) IS 'coordinates of an embedding minus the model''s mean along each principal component';
