#-------------------------------------------------------------------------
#
# 022_hnsw_progress.pl
#	  A running embed_hnsw build shows its phase and tuples done in
#	  pg_stat_progress_create_index, and stops on cancel, serial and with
#	  parallel workers, leaving no index and no worker behind.
#
# test/t/022_hnsw_progress.pl
#
#-------------------------------------------------------------------------
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $node = PostgreSQL::Test::Cluster->new('hnsw_progress');
$node->init;
$node->append_conf('postgresql.conf',
	"max_worker_processes = 8\nmax_parallel_workers = 8\nmax_parallel_maintenance_workers = 2\n");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION embed;
	CREATE TABLE items (id int, v embedding(64));
	INSERT INTO items
		SELECT i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 64) WHERE i > 0)::real[]
		FROM generate_series(1, 40000) i;
	ANALYZE items;
});

foreach my $workers (0, 2)
{
	my ($out, $err) = ('', '');

	# a slow build: a wide candidate list
	my $h = IPC::Run::start(
		[
			'psql', '-X', '-d', $node->connstr('postgres'),
			'-c', "SET maintenance_work_mem = '256MB'",
			'-c', "SET max_parallel_maintenance_workers = $workers",
			'-c', "SET min_parallel_table_scan_size = 0",
			'-c', 'CREATE INDEX items_v ON items USING embed_hnsw (v embedding_l2_ops) WITH (m = 32, ef_construction = 800)'
		],
		'>', \$out, '2>', \$err);

	my $row = '';
	for (my $i = 0; $i < 1200 && $row eq ''; $i++)
	{
		$row = $node->safe_psql('postgres', q{
			SELECT pid || '|' || phase FROM pg_stat_progress_create_index
			WHERE phase LIKE '%building graph%' AND tuples_done > 0});
		usleep(100_000) if $row eq '';
	}
	my ($pid, $phase) = split(/\|/, $row);
	ok(defined $pid && $pid ne '', "build shows tuples done, workers=$workers");
	like($phase // '', qr/building graph/, "phase is named, workers=$workers");

	my $t0 = time();
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
	$h->finish;
	my $elapsed = time() - $t0;
	note(sprintf("cancel took %.3f s with %d worker(s)", $elapsed, $workers));
	like($err, qr/canceling statement due to user request/,
		"cancelled, workers=$workers");
	is($node->safe_psql('postgres', "SELECT to_regclass('items_v') IS NULL"),
		't', "no index left, workers=$workers");

	my $left = 1;
	for (my $i = 0; $i < 100 && $left; $i++)
	{
		$left = $node->safe_psql('postgres',
			"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'parallel worker'");
		usleep(100_000) if $left;
	}
	is($left, 0, "no parallel worker left, workers=$workers");
}

$node->stop;
done_testing();
