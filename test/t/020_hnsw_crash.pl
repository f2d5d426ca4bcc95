#-------------------------------------------------------------------------
#
# 020_hnsw_crash.pl
#	  embed_hnsw survives concurrent inserts and a crash in the middle of
#	  them.
#
# Two pgbench clients insert rows into a table with an embed_hnsw index
# (so inserts run concurrently with each other and with scans), then the
# server is stopped with an immediate shutdown while they still run.
# After WAL replay:
#
#	- embed_hnsw_check finds no structural problem;
#	- every committed row is in the index (after VACUUM the index counts
#	  as many elements as the table has rows), and found by its own vector;
#	- the answers agree with the exact ones within a recall bound.
#
# The same checks run once before the crash, after the concurrent inserts
# alone, and the index then goes through a VACUUM after deletes.
#
# test/t/020_hnsw_crash.pl
#
#-------------------------------------------------------------------------
use strict;
use warnings;

use IPC::Run;
use Time::HiRes qw(usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('hnsw_crash');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = ''");
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION embed;
	CREATE TABLE items (id bigserial PRIMARY KEY, v embedding(16));
	SELECT setseed(0.1);
	INSERT INTO items (v)
		SELECT (SELECT array_agg(random() - 0.5) FROM generate_series(1, 16) WHERE i > 0)::real[]
		FROM generate_series(1, 1000) i;
	CREATE INDEX items_v ON items USING embed_hnsw (v embedding_l2_ops) WITH (m = 8);
	CREATE TABLE probes AS
		SELECT i AS pid, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 16) WHERE i > 0)::real[]::embedding(16) AS v
		FROM generate_series(1, 40) i;
});

my $script = PostgreSQL::Test::Utils::tempdir() . '/insert.sql';
open(my $fh, '>', $script) or die "could not write $script: $!";
print $fh q{\set p random(1, 40)
INSERT INTO items (v) SELECT (SELECT array_agg(random() - 0.5) FROM generate_series(1, 16) WHERE i > 0)::real[] FROM generate_series(1, 5) i;
SET enable_seqscan = off;
SELECT id FROM items ORDER BY v <-> (SELECT v FROM probes WHERE pid = :p) LIMIT 5;
};
close($fh);

# Checks that must hold whenever the server is quiet.
sub check_index
{
	my ($when) = @_;

	# (an element cut off by an insert, or by the crash, waits for VACUUM)
	is($node->safe_psql('postgres', q{SELECT count(*) FROM embed_hnsw_check('items_v')
		WHERE problem <> 'element not reachable from the entry point'}),
		'0', "$when: no structural problems");

	# every committed row has its element: after VACUUM (which drops the
	# elements of rows that never committed) the index counts the table's
	# rows
	$node->safe_psql('postgres', 'VACUUM items');
	is($node->safe_psql('postgres', q{
		SELECT i.reltuples::bigint = (SELECT count(*) FROM items)
		FROM pg_class i WHERE i.relname = 'items_v'}),
		't', "$when: every row is indexed");

	# and found by its own vector, save a rare miss of the approximate search
	my $missing = $node->safe_psql('postgres', q{
		SET enable_seqscan = off;
		SET embed.ef_search = 100;
		SELECT count(*) FROM items i1
		WHERE (SELECT i2.id FROM items i2 ORDER BY i2.v <-> i1.v LIMIT 1) IS DISTINCT FROM i1.id;
	});
	cmp_ok($missing, '<=', 3, "$when: rows are found by their own vector ($missing missed)");

	my $recall = $node->safe_psql('postgres', q{
		SET enable_seqscan = off;
		CREATE TEMP TABLE approx AS
			SELECT pid, (SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY items.v <-> probes.v LIMIT 10) s) AS ids FROM probes;
		RESET enable_seqscan;
		SET enable_indexscan = off;
		CREATE TEMP TABLE exact AS
			SELECT pid, (SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY items.v <-> probes.v LIMIT 10) s) AS ids FROM probes;
		SELECT avg((SELECT count(*) FROM unnest(a.ids) x WHERE x = ANY (e.ids))) / 10
		FROM approx a JOIN exact e USING (pid);
	});
	cmp_ok($recall, '>=', 0.9, "$when: recall\@10 $recall is at least 0.9");
}

# concurrent inserts and scans, to completion
my ($out, $err) = ('', '');
my $pgbench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '2', '-j', '2', '-t', '150', '-f', $script,
	  '-h', $node->host, '-p', $node->port, 'postgres' ],
	'>', \$out, '2>', \$err);
ok($pgbench->finish, 'concurrent inserts and scans succeed') or diag($err);
is($node->safe_psql('postgres', 'SELECT count(*) FROM items'), '2500', 'all rows inserted');
check_index('after concurrent inserts');

# deletes and VACUUM
$node->safe_psql('postgres', 'DELETE FROM items WHERE id % 4 = 0');
$node->safe_psql('postgres', 'VACUUM items');
check_index('after vacuum');

# a crash in the middle of an insert stream
$pgbench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '2', '-j', '2', '-T', '60', '-f', $script,
	  '-h', $node->host, '-p', $node->port, 'postgres' ],
	'>', \$out, '2>', \$err);
my $before = $node->safe_psql('postgres', 'SELECT count(*) FROM items');
my $grown = 0;
foreach my $i (1 .. 300)
{
	my $now = $node->safe_psql('postgres', 'SELECT count(*) FROM items');
	if ($now >= $before + 200)
	{
		$grown = 1;
		last;
	}
	usleep(100_000);
}
ok($grown, 'the insert stream is running');
$node->stop('immediate');
$pgbench->finish;
$node->start;

cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM items'), '>', $before,
	'committed rows survived the crash');
check_index('after crash recovery');

# and the index still takes inserts and vacuum
$node->safe_psql('postgres', q{
	INSERT INTO items (v) SELECT (SELECT array_agg(random() - 0.5) FROM generate_series(1, 16) WHERE i > 0)::real[] FROM generate_series(1, 100) i;
	DELETE FROM items WHERE id % 7 = 0;
	VACUUM items;
});
check_index('after recovery, inserts and vacuum');
is($node->safe_psql('postgres', q{SELECT count(*) FROM embed_hnsw_check('items_v')}),
	'0', 'after VACUUM every element is reachable');

$node->stop;
done_testing();
