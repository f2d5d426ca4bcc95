#
# 040_train_cancel.pl: a running embed_train is visible from another
# session, reports progress, stops promptly on cancel with one and with two
# workers, and leaves no model table and no parallel worker behind.
#
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time usleep);

my $node = PostgreSQL::Test::Cluster->new('train_cancel');
$node->init;
$node->append_conf('postgresql.conf',
	"max_worker_processes = 8\nmax_parallel_workers = 8\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION embed');
$node->safe_psql('postgres', q{
	CREATE TABLE t AS
	SELECT d AS doc_id, p AS pos,
		   'w' || (abs(hashint4(d * 1000 + p)) % 50) AS token
	FROM generate_series(1, 200) d, generate_series(1, 100) p});

# Parallel workers still running, after waiting up to 10 s for them to go.
sub workers_left
{
	my $left = 1;
	for (my $i = 0; $i < 100 && $left; $i++)
	{
		$left = $node->safe_psql('postgres',
			"SELECT count(*) FROM pg_stat_activity "
			  . "WHERE backend_type = 'parallel worker'");
		usleep(100_000) if $left;
	}
	return $left;
}

foreach my $workers (1, 2)
{
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[
			'psql', '-X', '-d', $node->connstr('postgres'), '-c',
			"SELECT * FROM embed_train('t', 'm', epochs => 1000, dim => 300, "
			  . "\"window\" => 10, min_count => 1, workers => $workers)"
		],
		'>', \$out, '2>', \$err);

	# wait until the run shows up in embed_train_progress()
	my $pid = '';
	for (my $i = 0; $i < 600 && $pid eq ''; $i++)
	{
		$pid = $node->safe_psql('postgres',
			"SELECT pid FROM embed_train_progress() "
			  . "WHERE phase = 'training' AND percent > 0 AND loss > 0");
		usleep(100_000) if $pid eq '';
	}
	isnt($pid, '', "training visible from another session, workers=$workers");

	# let it run past the first NOTICE
	usleep(6_000_000) if $workers == 1;
	my $row = $node->safe_psql('postgres',
		"SELECT epochs, workers >= 1, percent > 0, tokens_per_second > 0, "
		  . "loss > 0, seconds_left > 0 FROM embed_train_progress() "
		  . "WHERE pid = $pid");
	is($row, '1000|t|t|t|t|t', "progress figures, workers=$workers");

	my $t0 = time();
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
	$h->finish;
	my $elapsed = time() - $t0;
	note(sprintf("cancel took %.3f s with %d worker(s)", $elapsed, $workers));
	like($err, qr/canceling statement due to user request/,
		"cancelled, workers=$workers");
	like($err, qr/NOTICE:  epoch \d+\/1000: .* tokens\/s, loss .* left/,
		'progress NOTICE lines')
	  if $workers == 1;
	# "within a second" uncontended; the machine running the tests may be
	# shared, so allow some slack while still catching a run that ignores it
	cmp_ok($elapsed, '<', 5, "stops promptly, workers=$workers");
	is($node->safe_psql('postgres', "SELECT to_regclass('m') IS NULL"),
		't', "no model table left, workers=$workers");
	is($node->safe_psql('postgres', 'SELECT count(*) FROM embed_train_progress()'),
		'0', "progress cleared, workers=$workers");

	# the parallel workers are gone too
	is(workers_left(), '0', "no parallel worker left, workers=$workers");
}

# a timeout while the corpus is read, with the sort in parallel workers
$node->safe_psql('postgres', q{
	CREATE TABLE big AS
	SELECT d AS doc_id, p AS pos, 'w' || ((d * p) % 5000) AS token
	FROM generate_series(1, 20000) d, generate_series(1, 100) p;
	ANALYZE big});
{
	my $t0 = time();
	my ($ret, $out, $err) = $node->psql(
		'postgres', q{
		SET parallel_setup_cost = 0;
		SET parallel_tuple_cost = 0;
		SET min_parallel_table_scan_size = 0;
		SET statement_timeout = '400ms';
		SELECT * FROM embed_train('big', 'm', epochs => 1, min_count => 1,
								  progress => false)});
	my $elapsed = time() - $t0;
	note(sprintf("timeout during the read took %.3f s", $elapsed));
	like($err, qr/canceling statement due to statement timeout/,
		'statement_timeout stops the read');
	cmp_ok($elapsed, '<', 5, 'read stops promptly');
	is($node->safe_psql('postgres', "SELECT to_regclass('m') IS NULL"),
		't', 'no model table left after the read');
	is(workers_left(), '0', 'no parallel worker left after the read');
}

# a finished run still works after the cancels
is( $node->safe_psql(
		'postgres',
		"SELECT vocab_size FROM embed_train('t', 'm', epochs => 1, "
		  . "min_count => 1, progress => false, workers => 2)"),
	'50',
	'training after cancel');

$node->stop;
done_testing();
