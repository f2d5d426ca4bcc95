-- The embed_hnsw index access method and its operator classes.

CREATE FUNCTION embed_hnsw_handler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION embed_hnsw_handler(internal) IS 'handler of the embed_hnsw index access method';

CREATE ACCESS METHOD embed_hnsw TYPE INDEX HANDLER embed_hnsw_handler;
COMMENT ON ACCESS METHOD embed_hnsw IS 'HNSW graph index for ORDER BY embedding distance LIMIT k';

-- Support function 1 of each operator class names the metric the graph is
-- built for.
CREATE FUNCTION embed_hnsw_metric_l2(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embed_hnsw_metric_l2(internal) IS 'embed_hnsw support: the Euclidean metric';
CREATE FUNCTION embed_hnsw_metric_ip(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embed_hnsw_metric_ip(internal) IS 'embed_hnsw support: the inner product metric';
CREATE FUNCTION embed_hnsw_metric_cosine(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embed_hnsw_metric_cosine(internal) IS 'embed_hnsw support: the cosine metric';

CREATE OPERATOR CLASS embedding_l2_ops
	FOR TYPE embedding USING embed_hnsw AS
	OPERATOR 1 <-> (embedding, embedding) FOR ORDER BY float_ops,
	FUNCTION 1 embed_hnsw_metric_l2(internal);
COMMENT ON OPERATOR CLASS embedding_l2_ops USING embed_hnsw IS 'embed_hnsw index for ORDER BY v <-> q (Euclidean distance)';

CREATE OPERATOR CLASS embedding_ip_ops
	FOR TYPE embedding USING embed_hnsw AS
	OPERATOR 1 <#> (embedding, embedding) FOR ORDER BY float_ops,
	FUNCTION 1 embed_hnsw_metric_ip(internal);
COMMENT ON OPERATOR CLASS embedding_ip_ops USING embed_hnsw IS 'embed_hnsw index for ORDER BY v <#> q (negative inner product)';

CREATE OPERATOR CLASS embedding_cosine_ops
	FOR TYPE embedding USING embed_hnsw AS
	OPERATOR 1 <=> (embedding, embedding) FOR ORDER BY float_ops,
	FUNCTION 1 embed_hnsw_metric_cosine(internal);
COMMENT ON OPERATOR CLASS embedding_cosine_ops USING embed_hnsw IS 'embed_hnsw index for ORDER BY v <=> q (cosine distance)';

CREATE FUNCTION embed_hnsw_check(index regclass,
		OUT blkno bigint, OUT offnum integer, OUT problem text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION embed_hnsw_check(regclass) IS 'reads an embed_hnsw index and returns one row per structural problem (none if healthy)';
