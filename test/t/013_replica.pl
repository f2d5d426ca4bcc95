#-------------------------------------------------------------------------
#
# 013_replica.pl
#	  A streaming standby replays what embed writes, and answers as the
#	  primary does.
#
# The standby is made from a base backup taken before anything of embed's
# exists, so everything reaches it through WAL: CREATE EXTENSION, the rows,
# an embed_hnsw index build (full-page generic WAL records), inserts into
# the indexed table, deletes, VACUUM (which rewrites neighbour lists), and
# a model table written by embed_train.  Once it has caught up, the same
# index-driven queries must return the same rows in the same order on both
# (the pages are the same, so the graph walk is too), embed_hnsw_check must
# find no damage on the standby, and embed_document must give the standby
# the same vector as the primary.
#
# test/t/013_replica.pl
#
#-------------------------------------------------------------------------
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "log_statement = none\n");
$primary->start;
$primary->backup('base');

my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->append_conf('postgresql.conf', "log_statement = none\n");
$standby->start;

$primary->safe_psql('postgres', q{
	CREATE EXTENSION embed;
	CREATE FUNCTION vec(s int) RETURNS embedding LANGUAGE sql IMMUTABLE AS $$
		SELECT array_agg(sin(s * 0.7 + j * 1.3) ORDER BY j)::embedding
		FROM generate_series(1, 24) j
	$$;
	CREATE TABLE items (id int PRIMARY KEY, v embedding(24) NOT NULL);
	INSERT INTO items SELECT g, vec(g) FROM generate_series(1, 4000) g;
	CREATE INDEX items_l2 ON items USING embed_hnsw (v embedding_l2_ops)
		WITH (m = 8, ef_construction = 40);
	CREATE INDEX items_cos ON items USING embed_hnsw (v embedding_cosine_ops)
		WITH (m = 8, ef_construction = 40);
	-- after the build: inserts go through aminsert, deletes and VACUUM
	-- through the repair of neighbour lists
	INSERT INTO items SELECT g, vec(g) FROM generate_series(4001, 5000) g;
	DELETE FROM items WHERE id % 7 = 0;
	VACUUM items;
	INSERT INTO items SELECT g, vec(g) FROM generate_series(5001, 5500) g;
	UPDATE items SET v = vec(id + 100000) WHERE id % 11 = 0;
});

my $has_train = $primary->safe_psql('postgres',
	q{SELECT count(*) FROM pg_proc WHERE proname = 'embed_train'});
if ($has_train)
{
	$primary->safe_psql('postgres', q{
		CREATE TABLE tokens AS
		SELECT d AS doc_id, p AS pos, 'w' || (abs(hashint4(d * 1000 + p)) % 40) AS token
		FROM generate_series(1, 100) d, generate_series(1, 50) p;
		SELECT vocab_size FROM embed_train('tokens', 'model', dim => 16, epochs => 1,
			min_count => 1, progress => false);
	});
}

$primary->wait_for_catchup($standby);

# The same index-driven answers on both.
my $queries = q{
	SET enable_seqscan = off;
	SET enable_bitmapscan = off;
	SELECT q, string_agg(id::text, ',' ORDER BY n)
	FROM generate_series(1, 25) q,
		 LATERAL (SELECT id, row_number() OVER () AS n FROM
				  (SELECT id FROM items ORDER BY v <-> vec(q * 7919) LIMIT 10) s) l
	GROUP BY q ORDER BY q;
	SELECT q, string_agg(id::text, ',' ORDER BY n)
	FROM generate_series(1, 25) q,
		 LATERAL (SELECT id, row_number() OVER () AS n FROM
				  (SELECT id FROM items ORDER BY v <=> vec(q * 7919) LIMIT 10) s) l
	GROUP BY q ORDER BY q;
};
my $plan = $standby->safe_psql('postgres', q{
	SET enable_seqscan = off;
	EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <-> vec(1) LIMIT 10});
like($plan, qr/Index Scan using items_l2/, 'the standby plans with the index');
my $on_primary = $primary->safe_psql('postgres', $queries);
my $on_standby = $standby->safe_psql('postgres', $queries);
ok(length($on_primary) > 1000, 'the queries returned rows');
is($on_standby, $on_primary, 'the standby returns the same rows in the same order');
is($standby->safe_psql('postgres', q{
		SELECT count(*), count(*) FILTER (WHERE id % 7 = 0) FROM items}),
	$primary->safe_psql('postgres', q{
		SELECT count(*), count(*) FILTER (WHERE id % 7 = 0) FROM items}),
	'the same rows are there');
is($standby->safe_psql('postgres', q{
		SELECT count(*) FROM (SELECT * FROM embed_hnsw_check('items_l2')
			UNION ALL SELECT * FROM embed_hnsw_check('items_cos')) c
		WHERE problem <> 'element not reachable from the entry point'}),
	'0', 'embed_hnsw_check finds no damage on the standby');

SKIP:
{
	skip 'embed_train is not built', 2 unless $has_train;
	my $doc = q{SELECT embed_document('model', ARRAY['w1', 'w2', 'w3', 'w1'])::text};
	is($standby->safe_psql('postgres', 'SELECT count(*) FROM model'),
		$primary->safe_psql('postgres', 'SELECT count(*) FROM model'),
		'the model table reached the standby');
	is($standby->safe_psql('postgres', $doc), $primary->safe_psql('postgres', $doc),
		'embed_document gives the same vector on the standby');
}

$standby->stop;
$primary->stop;
done_testing();
