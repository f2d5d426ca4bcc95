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
