#-------------------------------------------------------------------------
#
# 021_hnsw_standby.pl
#	  A streaming standby replays embed_hnsw's WAL into the same index: it
#	  answers every query exactly as the primary does.
#
# The search is deterministic for given pages, so identical pages give
# identical answers, not merely similar ones.  The primary builds an index
# (full-page records), takes inserts (element, neighbour-list and metapage
# records), deletes and a VACUUM (list repairs, entry point moves, deleted
# and reusable marks), then inserts into the freed places; after each step
# the standby must agree, and its copy must pass
# embed_hnsw_check.
#
# test/t/021_hnsw_standby.pl
#
#-------------------------------------------------------------------------
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('hnsw_primary');
$primary->init(allows_streaming => 1);
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION embed');
$primary->backup('base');

my $standby = PostgreSQL::Test::Cluster->new('hnsw_standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

# The nearest 10 ids for 30 probes, as one text value.
my $answers = q{
	SET enable_seqscan = off;
	SELECT string_agg(pid || ':' || ids::text, ' ' ORDER BY pid)
	FROM (SELECT pid, (SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY items.v <=> probes.v LIMIT 10) s) AS ids
		  FROM probes) t;
};

sub compare
{
	my ($when) = @_;

	$primary->wait_for_catchup($standby);
	my $p = $primary->safe_psql('postgres', $answers);
	my $s = $standby->safe_psql('postgres', $answers);
	isnt($p, '', "$when: the primary answers");
	is($s, $p, "$when: the standby answers as the primary");
	is($standby->safe_psql('postgres', q{SELECT count(*) FROM embed_hnsw_check('items_v')
		WHERE problem <> 'element not reachable from the entry point'}),
		'0', "$when: the standby's index passes the check");
	like($standby->safe_psql('postgres', q{
		SET enable_seqscan = off;
		EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <=> (SELECT v FROM probes WHERE pid = 1) LIMIT 10}),
		qr/Index Scan using items_v/, "$when: the standby uses the index");
}

$primary->safe_psql('postgres', q{
	CREATE TABLE items (id int PRIMARY KEY, v embedding(16));
	SELECT setseed(0.3);
	INSERT INTO items
		SELECT i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 16) WHERE i > 0)::real[]
		FROM generate_series(1, 1500) i;
	CREATE TABLE probes AS
		SELECT i AS pid, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 16) WHERE i > 0)::real[]::embedding(16) AS v
		FROM generate_series(1, 30) i;
	CREATE INDEX items_v ON items USING embed_hnsw (v embedding_cosine_ops) WITH (m = 8);
});
compare('after build');

$primary->safe_psql('postgres', q{
	INSERT INTO items
		SELECT i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 16) WHERE i > 0)::real[]
		FROM generate_series(1501, 2500) i;
});
compare('after inserts');

$primary->safe_psql('postgres', q{
	DELETE FROM items WHERE id % 3 = 0 OR id < 200;
	VACUUM items;
});
compare('after deletes and vacuum');

# inserts now overwrite the places VACUUM freed, in place
my $pages = $primary->safe_psql('postgres', q{SELECT pg_relation_size('items_v') / 8192});
$primary->safe_psql('postgres', q{
	INSERT INTO items
		SELECT i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 16) WHERE i > 0)::real[]
		FROM generate_series(3001, 3600) i;
});
ok($primary->safe_psql('postgres', q{SELECT pg_relation_size('items_v') / 8192}) - $pages <= 3,
	'the inserts reused freed places');
compare('after inserts into freed places');

$primary->safe_psql('postgres', 'REINDEX INDEX CONCURRENTLY items_v');
compare('after reindex concurrently');

$standby->stop;
$primary->stop;
done_testing();
