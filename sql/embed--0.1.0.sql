-- embed 0.1.0: generated from src/embed.sql src/pca.sql src/train/train.sql src/hnsw/hnsw.sql; edit those.
\echo Use "CREATE EXTENSION embed" to load this file. \quit

-- from src/embed.sql
-- The embedding type, its casts, operators, operator classes and aggregates.

CREATE TYPE embedding;

CREATE FUNCTION embedding_in(cstring, oid, integer) RETURNS embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION embedding_out(embedding) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION embedding_typmod_in(cstring[]) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION embedding_typmod_out(integer) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION embedding_recv(internal, oid, integer) RETURNS embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION embedding_send(embedding) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION embedding_in(cstring, oid, integer) IS 'text input of embedding';
COMMENT ON FUNCTION embedding_out(embedding) IS 'text output of embedding';
COMMENT ON FUNCTION embedding_typmod_in(cstring[]) IS 'type modifier input of embedding (the dimension)';
COMMENT ON FUNCTION embedding_typmod_out(integer) IS 'type modifier output of embedding';
COMMENT ON FUNCTION embedding_recv(internal, oid, integer) IS 'binary input of embedding';
COMMENT ON FUNCTION embedding_send(embedding) IS 'binary output of embedding';

-- STORAGE main: keep vectors in the heap row (compressed only if that
-- helps, moved out of line only when the row cannot fit a page), so a scan
-- that ranks rows does not pay a TOAST fetch per row.
CREATE TYPE embedding (
	INPUT = embedding_in,
	OUTPUT = embedding_out,
	TYPMOD_IN = embedding_typmod_in,
	TYPMOD_OUT = embedding_typmod_out,
	RECEIVE = embedding_recv,
	SEND = embedding_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = int4,
	STORAGE = main
);
COMMENT ON TYPE embedding IS 'dense vector of 1 to 16000 float4 values; embedding(n) fixes the dimension';

-- Typmod coercion and casts

CREATE FUNCTION embedding(embedding, integer, boolean) RETURNS embedding
	AS 'MODULE_PATHNAME', 'embedding_coerce' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding(embedding, integer, boolean) IS 'checks an embedding against a dimension type modifier';

CREATE FUNCTION embedding(real[], integer, boolean) RETURNS embedding
	AS 'MODULE_PATHNAME', 'array_to_embedding' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding(real[], integer, boolean) IS 'converts a one-dimensional real array without nulls to an embedding';
CREATE FUNCTION embedding(double precision[], integer, boolean) RETURNS embedding
	AS 'MODULE_PATHNAME', 'array_to_embedding' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding(double precision[], integer, boolean) IS 'converts a one-dimensional double precision array without nulls to an embedding';
CREATE FUNCTION embedding(integer[], integer, boolean) RETURNS embedding
	AS 'MODULE_PATHNAME', 'array_to_embedding' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding(integer[], integer, boolean) IS 'converts a one-dimensional integer array without nulls to an embedding';
CREATE FUNCTION embedding(numeric[], integer, boolean) RETURNS embedding
	AS 'MODULE_PATHNAME', 'array_to_embedding' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding(numeric[], integer, boolean) IS 'converts a one-dimensional numeric array without nulls to an embedding';
CREATE FUNCTION embedding_to_real_array(embedding) RETURNS real[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_to_real_array(embedding) IS 'the elements of an embedding as a real array';

CREATE CAST (embedding AS embedding)
	WITH FUNCTION embedding(embedding, integer, boolean) AS IMPLICIT;
CREATE CAST (real[] AS embedding)
	WITH FUNCTION embedding(real[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (double precision[] AS embedding)
	WITH FUNCTION embedding(double precision[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (integer[] AS embedding)
	WITH FUNCTION embedding(integer[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (numeric[] AS embedding)
	WITH FUNCTION embedding(numeric[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (embedding AS real[])
	WITH FUNCTION embedding_to_real_array(embedding) AS ASSIGNMENT;

-- Distances and properties

CREATE FUNCTION cosine_distance(embedding, embedding) RETURNS double precision
	AS 'MODULE_PATHNAME', 'embedding_cosine_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cosine_distance(embedding, embedding) IS '1 - cosine similarity, from 0 to 2; NaN when either vector is zero';
CREATE FUNCTION cosine_similarity(embedding, embedding) RETURNS double precision
	AS 'MODULE_PATHNAME', 'embedding_cosine_similarity' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cosine_similarity(embedding, embedding) IS 'cosine of the angle between two embeddings, from -1 to 1; NaN when either vector is zero';
CREATE FUNCTION inner_product(embedding, embedding) RETURNS double precision
	AS 'MODULE_PATHNAME', 'embedding_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION inner_product(embedding, embedding) IS 'dot product of two embeddings';
CREATE FUNCTION negative_inner_product(embedding, embedding) RETURNS double precision
	AS 'MODULE_PATHNAME', 'embedding_negative_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION negative_inner_product(embedding, embedding) IS 'minus the dot product, so that ascending order ranks the largest product first';
CREATE FUNCTION l2_distance(embedding, embedding) RETURNS double precision
	AS 'MODULE_PATHNAME', 'embedding_l2_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_distance(embedding, embedding) IS 'Euclidean distance between two embeddings';
CREATE FUNCTION l2_squared_distance(embedding, embedding) RETURNS double precision
	AS 'MODULE_PATHNAME', 'embedding_l2_squared_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_squared_distance(embedding, embedding) IS 'squared Euclidean distance between two embeddings';
CREATE FUNCTION dims(embedding) RETURNS integer
	AS 'MODULE_PATHNAME', 'embedding_dims' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION dims(embedding) IS 'number of dimensions of an embedding';
CREATE FUNCTION norm(embedding) RETURNS double precision
	AS 'MODULE_PATHNAME', 'embedding_norm' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION norm(embedding) IS 'Euclidean length of an embedding';
CREATE FUNCTION l2_normalize(embedding) RETURNS embedding
	AS 'MODULE_PATHNAME', 'embedding_normalize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_normalize(embedding) IS 'the embedding scaled to length 1; a zero vector stays zero';
-- NORMALIZE is SQL syntax (for Unicode text) since PostgreSQL 13, so a bare
-- normalize(v) always means pg_catalog.normalize; this one must be called
-- quoted, "normalize"(v), which is why l2_normalize exists.
CREATE FUNCTION "normalize"(embedding) RETURNS embedding
	AS 'MODULE_PATHNAME', 'embedding_normalize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION "normalize"(embedding) IS 'the embedding scaled to length 1 (call it quoted; see l2_normalize)';
CREATE FUNCTION embed_kernels_in_use() RETURNS text
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embed_kernels_in_use() IS 'name of the distance kernels in use: avx2_fma or portable';

-- Arithmetic

CREATE FUNCTION embedding_add(embedding, embedding) RETURNS embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_add(embedding, embedding) IS 'element-wise sum';
CREATE FUNCTION embedding_sub(embedding, embedding) RETURNS embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_sub(embedding, embedding) IS 'element-wise difference';
CREATE FUNCTION embedding_mul(embedding, double precision) RETURNS embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_mul(embedding, double precision) IS 'every element times a scalar';
CREATE FUNCTION embedding_mul(double precision, embedding) RETURNS embedding
	AS 'MODULE_PATHNAME', 'embedding_mul_commuted' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_mul(double precision, embedding) IS 'every element times a scalar';

CREATE OPERATOR + (
	LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = embedding_add,
	COMMUTATOR = +
);
CREATE OPERATOR - (
	LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = embedding_sub
);
CREATE OPERATOR * (
	LEFTARG = embedding, RIGHTARG = double precision, FUNCTION = embedding_mul,
	COMMUTATOR = *
);
CREATE OPERATOR * (
	LEFTARG = double precision, RIGHTARG = embedding, FUNCTION = embedding_mul,
	COMMUTATOR = *
);

-- Distance operators

CREATE OPERATOR <=> (
	LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = cosine_distance,
	COMMUTATOR = <=>
);
COMMENT ON OPERATOR <=> (embedding, embedding) IS 'cosine distance';
CREATE OPERATOR <#> (
	LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = negative_inner_product,
	COMMUTATOR = <#>
);
COMMENT ON OPERATOR <#> (embedding, embedding) IS 'negative inner product';
CREATE OPERATOR <-> (
	LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = l2_distance,
	COMMUTATOR = <->
);
COMMENT ON OPERATOR <-> (embedding, embedding) IS 'Euclidean distance';

-- Comparison, for DISTINCT, GROUP BY, ORDER BY, UNIQUE and hash joins

CREATE FUNCTION embedding_eq(embedding, embedding) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION embedding_eq(embedding, embedding) IS 'equal';
CREATE FUNCTION embedding_ne(embedding, embedding) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION embedding_ne(embedding, embedding) IS 'not equal';
CREATE FUNCTION embedding_lt(embedding, embedding) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION embedding_lt(embedding, embedding) IS 'less than';
CREATE FUNCTION embedding_le(embedding, embedding) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION embedding_le(embedding, embedding) IS 'less than or equal';
CREATE FUNCTION embedding_gt(embedding, embedding) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION embedding_gt(embedding, embedding) IS 'greater than';
CREATE FUNCTION embedding_ge(embedding, embedding) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION embedding_ge(embedding, embedding) IS 'greater than or equal';
CREATE FUNCTION embedding_cmp(embedding, embedding) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION embedding_cmp(embedding, embedding) IS 'btree comparison: element by element, then shorter first';
CREATE FUNCTION embedding_hash(embedding) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION embedding_hash(embedding) IS 'hash consistent with =';
CREATE FUNCTION embedding_hash_extended(embedding, bigint) RETURNS bigint
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION embedding_hash_extended(embedding, bigint) IS 'seeded 64-bit hash consistent with =';

CREATE OPERATOR = (
	LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = embedding_eq,
	COMMUTATOR = =, NEGATOR = <>,
	RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES
);
CREATE OPERATOR <> (
	LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = embedding_ne,
	COMMUTATOR = <>, NEGATOR = =,
	RESTRICT = neqsel, JOIN = neqjoinsel
);
CREATE OPERATOR < (
	LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = embedding_lt,
	COMMUTATOR = >, NEGATOR = >=,
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
CREATE OPERATOR <= (
	LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = embedding_le,
	COMMUTATOR = >=, NEGATOR = >,
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
CREATE OPERATOR > (
	LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = embedding_gt,
	COMMUTATOR = <, NEGATOR = <=,
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);
CREATE OPERATOR >= (
	LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = embedding_ge,
	COMMUTATOR = <=, NEGATOR = <,
	RESTRICT = scalargesel, JOIN = scalargejoinsel
);

CREATE OPERATOR CLASS embedding_ops
	DEFAULT FOR TYPE embedding USING btree AS
	OPERATOR 1 <,
	OPERATOR 2 <=,
	OPERATOR 3 =,
	OPERATOR 4 >=,
	OPERATOR 5 >,
	FUNCTION 1 embedding_cmp(embedding, embedding);

CREATE OPERATOR CLASS embedding_ops
	DEFAULT FOR TYPE embedding USING hash AS
	OPERATOR 1 =,
	FUNCTION 1 embedding_hash(embedding),
	FUNCTION 2 embedding_hash_extended(embedding, bigint);

-- Aggregates; the state is float8[] {count, sums...}, so no serialization
-- functions are needed for parallel aggregation.

CREATE FUNCTION embedding_accum(double precision[], embedding) RETURNS double precision[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_accum(double precision[], embedding) IS 'transition function of avg(embedding) and sum(embedding)';
CREATE FUNCTION embedding_combine(double precision[], double precision[]) RETURNS double precision[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_combine(double precision[], double precision[]) IS 'combine function of avg(embedding) and sum(embedding)';
CREATE FUNCTION embedding_avg_final(double precision[]) RETURNS embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_avg_final(double precision[]) IS 'final function of avg(embedding)';
CREATE FUNCTION embedding_sum_final(double precision[]) RETURNS embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embedding_sum_final(double precision[]) IS 'final function of sum(embedding)';

CREATE AGGREGATE avg(embedding) (
	SFUNC = embedding_accum,
	STYPE = double precision[],
	FINALFUNC = embedding_avg_final,
	COMBINEFUNC = embedding_combine,
	INITCOND = '{0}',
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE avg(embedding) IS 'element-wise mean of embeddings (NULL for no rows)';
CREATE AGGREGATE sum(embedding) (
	SFUNC = embedding_accum,
	STYPE = double precision[],
	FINALFUNC = embedding_sum_final,
	COMBINEFUNC = embedding_combine,
	INITCOND = '{0}',
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE sum(embedding) IS 'element-wise sum of embeddings (NULL for no rows)';

-- from src/pca.sql
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

-- from src/train/train.sql
-- src/train/train.sql: in-database word2vec training and document embeddings.

CREATE FUNCTION embed_tokenize(text) RETURNS text[]
	AS 'MODULE_PATHNAME', 'embed_tokenize'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embed_tokenize(text) IS
	'split text into lower-case word tokens (letters and digits)';

CREATE FUNCTION embed_train(
	tokens regclass,
	model text,
	dim integer DEFAULT 100,
	"window" integer DEFAULT 5,
	negative integer DEFAULT 5,
	epochs integer DEFAULT 5,
	min_count integer DEFAULT 5,
	sample double precision DEFAULT 1e-3,
	alpha double precision DEFAULT 0.025,
	method text DEFAULT 'skipgram',
	seed bigint DEFAULT 1,
	workers integer DEFAULT 1,
	doc_column text DEFAULT 'doc_id',
	pos_column text DEFAULT 'pos',
	token_column text DEFAULT 'token',
	replace boolean DEFAULT false,
	progress boolean DEFAULT true,
	OUT vocab_size integer,
	OUT tokens_read bigint,
	OUT tokens_trained bigint,
	OUT seconds double precision,
	OUT tokens_per_second double precision,
	OUT final_loss double precision,
	OUT read_seconds double precision,
	OUT workers_used integer,
	OUT train_seconds double precision,
	OUT cpu_seconds double precision)
	AS 'MODULE_PATHNAME', 'embed_train'
	LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION embed_train(regclass, text, integer, integer, integer,
	integer, integer, double precision, double precision, text, bigint,
	integer, text, text, text, boolean, boolean) IS
	'train word2vec embeddings on a table of tokens and store them as a model table';

CREATE FUNCTION embed_train_progress(
	OUT pid integer,
	OUT relid regclass,
	OUT phase text,
	OUT epoch integer,
	OUT epochs integer,
	OUT percent double precision,
	OUT tokens_per_second double precision,
	OUT loss double precision,
	OUT seconds_left double precision,
	OUT tokens_read bigint,
	OUT workers integer)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'embed_train_progress'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION embed_train_progress() IS
	'progress of the embed_train calls running in this cluster';

CREATE FUNCTION embed_document(model regclass, tokens text[]) RETURNS embedding
	AS 'MODULE_PATHNAME', 'embed_document'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION embed_document(regclass, text[]) IS
	'smooth-inverse-frequency weighted average of the known tokens'' vectors in a model';

CREATE FUNCTION embed_model_changed() RETURNS trigger
	AS 'MODULE_PATHNAME', 'embed_model_changed'
	LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION embed_model_changed() IS
	'statement trigger of model tables: invalidates cached copies used by embed_document';

-- from src/hnsw/hnsw.sql
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
