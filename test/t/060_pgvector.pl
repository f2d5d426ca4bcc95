#-------------------------------------------------------------------------
#
# 060_pgvector.pl
#	  embed beside pgvector: both in one server and in one backend, and
#	  data moved from a pgvector column to an embedding column and back.
#
# Skipped when pgvector (extension "vector") is not installed.  Checked:
#
#	- both libraries loaded in one backend, in either order, each builds
#	  and uses its own HNSW index: the two share internal names (hnswbuild,
#	  HnswSearchLayer, hnsw_ef_search...), so embed.so must keep its own
#	  local (the Makefile's version script), or one calls the other's code
#	  and the backend crashes;
#	- a vector column converts to embedding through text and through real[]
#	  (the ways the README gives), in a query and with ALTER TABLE ... TYPE,
#	  keeping every value, and back to vector the same ways;
#	- both rank the same rows alike by cosine distance.
#
# test/t/060_pgvector.pl
#
#-------------------------------------------------------------------------
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('pgvector');
$node->init;
$node->start;

my $has_vector = $node->safe_psql('postgres',
	"SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'");
if ($has_vector ne '1')
{
	$node->stop;
	plan skip_all => 'pgvector is not installed';
}

$node->safe_psql('postgres', q{
	CREATE EXTENSION embed;
	CREATE EXTENSION vector;
	SELECT setseed(0.5);
	CREATE TABLE pv (id int PRIMARY KEY, v vector(16));
	INSERT INTO pv
	SELECT i, (SELECT array_agg(round((random() * 2 - 1)::numeric, 4)) FROM generate_series(1, 16) WHERE i > 0)::real[]::vector
	FROM generate_series(1, 2000) i;
	CREATE TABLE q AS SELECT id, v FROM pv WHERE id <= 20;
});

# Moving data: through text and through real[], then back.
is( $node->safe_psql('postgres', q{
		SELECT count(*) FILTER (WHERE v::text::embedding::text = v::text),
		       count(*) FILTER (WHERE v::real[]::embedding::real[] = v::real[]),
		       count(*) FILTER (WHERE v::text::embedding::text::vector = v),
		       count(*) FILTER (WHERE v::real[]::embedding::real[]::vector = v)
		FROM pv}),
	'2000|2000|2000|2000',
	'vector to embedding and back through text and real[] keeps every value');

$node->safe_psql('postgres', q{
	CREATE TABLE moved AS SELECT id, v FROM pv;
	ALTER TABLE moved ALTER COLUMN v TYPE embedding(16) USING v::text::embedding;
	CREATE TABLE moved2 AS SELECT id, v FROM pv;
	ALTER TABLE moved2 ALTER COLUMN v TYPE embedding(16) USING v::real[]::embedding;
});
is( $node->safe_psql('postgres', q{
		SELECT format_type(a.atttypid, a.atttypmod)
		FROM pg_attribute a WHERE a.attrelid = 'moved'::regclass AND a.attname = 'v'}),
	'embedding(16)', 'ALTER TABLE ... TYPE embedding(16) USING v::text::embedding');
is( $node->safe_psql('postgres', q{
		SELECT count(*) FROM pv
		JOIN moved m USING (id) JOIN moved2 m2 USING (id)
		WHERE m.v::text = pv.v::text AND m2.v = m.v}),
	'2000', 'converted columns hold the same values');

# Exact scans rank alike (the top 5 of each query, by id).
is( $node->safe_psql('postgres', q{
		SET max_parallel_workers_per_gather = 0;
		SELECT count(*) FROM q,
		LATERAL (SELECT array_agg(id ORDER BY d, id) AS ids FROM (
			SELECT id, m.v <=> q.v::text::embedding AS d FROM moved m
			ORDER BY d, id LIMIT 5) s) e,
		LATERAL (SELECT array_agg(id ORDER BY d, id) AS ids FROM (
			SELECT id, p.v <=> q.v AS d FROM pv p
			ORDER BY d, id LIMIT 5) s) p
		WHERE e.ids = p.ids}),
	'20', 'exact cosine top 5 agrees for every query');

SKIP:
{
	my $has_hnsw = $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_am WHERE amname = 'embed_hnsw'");
	skip 'embed_hnsw is not in this build', 4 if $has_hnsw ne '1';

	# pgvector's library first, then embed's index in the same backend.
	my ($rc, $out, $err) = $node->psql('postgres', q{
		LOAD 'vector';
		SELECT count(*) FROM pv WHERE v <=> '[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' < 2;
		CREATE INDEX moved_v_idx ON moved USING embed_hnsw (v embedding_cosine_ops);
		SET enable_seqscan = off;
		SELECT count(*) FROM (SELECT id FROM moved ORDER BY v <=> (SELECT v FROM moved WHERE id = 7) LIMIT 10) s;
	});
	is($rc, 0, 'embed_hnsw builds and scans after pgvector was loaded')
	  or diag($err);
	is($out, "2000\n10", 'with the right answers');

	# embed's library first, then pgvector's index in the same backend.
	($rc, $out, $err) = $node->psql('postgres', q{
		SELECT count(*) FROM moved WHERE v <=> '[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' < 2;
		SET embed.ef_search = 100;
		CREATE INDEX pv_v_idx ON pv USING hnsw (v vector_cosine_ops);
		SET enable_seqscan = off;
		SET hnsw.ef_search = 40;
		SELECT count(*) FROM (SELECT id FROM pv ORDER BY v <=> (SELECT v FROM pv WHERE id = 7) LIMIT 10) s;
		SELECT count(*) FROM (SELECT id FROM moved ORDER BY v <=> (SELECT v FROM moved WHERE id = 7) LIMIT 10) s;
		SHOW embed.ef_search;
	});
	is($rc, 0, 'pgvector hnsw builds and scans after embed was loaded')
	  or diag($err);
	is($out, "2000\n10\n10\n100",
		'with the right answers, and each keeps its own ef_search');
}

$node->stop;
done_testing();
