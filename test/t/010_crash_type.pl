#-------------------------------------------------------------------------
#
# 010_crash_type.pl
#	  Faults around the embedding type: crashes during a bulk load, and
#	  cancel / statement_timeout of a long exact scan.
#
# A bulk INSERT commits one batch of rows at a time; every vector is a
# pure function of its row's id (some wide enough to go to TOAST), so what
# survives can be checked exactly.  The load is interrupted twice: once by
# an immediate shutdown, once by kill -9 of the inserting backend (a crash
# the postmaster recovers from by itself).  After each recovery every batch
# the loader reported committed must be there, whole, with the same bits,
# no half batch may be visible, the primary key must pass amcheck and the
# hash index on the vectors must find every row.
#
# Then a long exact scan (ORDER BY v <=> q, many rows) is cancelled, and
# another stopped by statement_timeout: each must end with 57014 within a
# second of being asked to and leave the server answering.
#
# test/t/010_crash_type.pl
#
#-------------------------------------------------------------------------
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $batch = 200;

my $node = PostgreSQL::Test::Cluster->new('crash_type');
$node->init;
$node->append_conf('postgresql.conf', qq{
restart_after_crash = on
log_statement = none
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION embed;
	CREATE EXTENSION amcheck;
	-- the vector of row id: 16 dimensions, or 3000 for every 50th row so
	-- that it is stored out of line in TOAST
	CREATE FUNCTION vec(id int) RETURNS embedding LANGUAGE sql IMMUTABLE AS $$
		SELECT array_agg(sin(id * 0.37 + j) * 1000 ORDER BY j)::embedding
		FROM generate_series(1, CASE WHEN id % 50 = 0 THEN 3000 ELSE 16 END) j
	$$;
	CREATE TABLE t (id int PRIMARY KEY, v embedding NOT NULL);
	CREATE INDEX t_v ON t USING hash (v);
	CREATE TABLE progress (batches int);
	INSERT INTO progress VALUES (0);
	-- loads batches until told to stop (or killed); each batch of rows and
	-- its progress count commit together
	CREATE PROCEDURE load(nbatch int, bsize int) LANGUAGE plpgsql AS $$
	DECLARE
		b int;
	BEGIN
		SELECT batches INTO b FROM progress;
		FOR i IN 1 .. nbatch LOOP
			INSERT INTO t SELECT g, vec(g)
			FROM generate_series(b * bsize + 1, (b + 1) * bsize) g;
			b := b + 1;
			UPDATE progress SET batches = b;
			COMMIT;
		END LOOP;
	END $$;
});

# Start the loader in the background; return the IPC::Run handle.
sub start_loader
{
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-d', $node->connstr('postgres'),
		  '-c', "CALL load(100000, $batch)" ],
		'<', \undef, '>', \$out, '2>', \$err);
	return $h;
}

# Wait until at least $n more batches have committed; return how many
# batches are committed now.
sub wait_batches
{
	my ($h, $from, $n) = @_;
	my $now;
	my $deadline = time + 60;
	do
	{
		sleep 0.1;
		die 'the loader stopped on its own' unless $h->pumpable;
		$now = $node->safe_psql('postgres', 'SELECT batches FROM progress');
	} while ($now < $from + $n && time < $deadline);
	return $now;
}

# Check the table against what was committed: whole batches only, at least
# $committed of them, every vector exact, index sound.
sub check_table
{
	my ($committed, $what) = @_;
	my $res = $node->safe_psql('postgres', q{
		SELECT count(*), coalesce(max(id), 0), (SELECT batches FROM progress),
			   count(*) FILTER (WHERE v IS DISTINCT FROM vec(id)),
			   count(*) FILTER (WHERE dims(v) = 3000)
		FROM t});
	my ($count, $max, $batches, $bad, $wide) = split /\|/, $res;
	cmp_ok($batches, '>=', $committed,
		"$what: every batch reported committed survived ($batches >= $committed)");
	is($count, $batches * $batch, "$what: whole batches only, no partial one");
	is($max, $count, "$what: ids are contiguous");
	is($bad, 0, "$what: every vector has its exact bits");
	ok($wide > 0, "$what: wide (TOASTed) vectors among them");
	my ($rc, $out, $err) = $node->psql('postgres',
		q{SELECT bt_index_check('t_pkey', true)});
	is($rc, 0, "$what: the primary key passes amcheck") or diag($err);
	$res = $node->safe_psql('postgres', q{
		SET enable_seqscan = off;
		SET enable_bitmapscan = off;
		SELECT count(*) FROM t a
		WHERE (SELECT count(*) FROM t b WHERE b.v = vec(a.id)) = 1});
	is($res, $count, "$what: the hash index on the vectors finds every row");
}

# --- immediate shutdown during the load ---
my $loader = start_loader();
my $committed = wait_batches($loader, 0, 5);
$node->stop('immediate');
$loader->finish;
$node->start;
check_table($committed, 'immediate shutdown');

# --- kill -9 of the inserting backend during the load ---
my $before = $node->safe_psql('postgres', 'SELECT batches FROM progress');
$loader = start_loader();
$committed = wait_batches($loader, $before, 5);
my $pid = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE query LIKE 'CALL load%'});
ok($pid =~ /^\d+$/, 'found the loading backend');
kill 'KILL', $pid;
$loader->finish;
# the postmaster notices, resets shared memory and replays WAL by itself
$node->poll_query_until('postgres', 'SELECT true') or die 'server did not come back';
ok($node->log_contains("was terminated by signal 9"), 'the backend crashed');
check_table($committed, 'kill -9');

# --- a long exact scan, cancelled and timed out ---
$node->safe_psql('postgres', q{
	CREATE TABLE big AS
	SELECT g AS id, vec(g % 49 + 1) AS v FROM generate_series(1, 20000) g;
	ANALYZE big;
});
# long enough to run for minutes on any machine: every row of big, 2000
# times over
my $long = q{SELECT b.id FROM big b, generate_series(1, 2000) r
	ORDER BY b.v <=> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]' LIMIT 1};

# Run $sql in the background; when it has been running a while, call
# $stop->(pid) (or nothing, for a timeout); return the seconds between the
# stop and the end of the query, and its stderr.
sub stopped_after
{
	my ($sql, $stop) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-v', 'VERBOSITY=verbose', '-d',
		  $node->connstr('postgres'), '-c', $sql ],
		'<', \undef, '>', \$out, '2>', \$err);
	my $bpid;
	my $deadline = time + 30;
	do
	{
		sleep 0.1;
		$bpid = $node->safe_psql('postgres', q{
			SELECT pid FROM pg_stat_activity
			WHERE state = 'active' AND query LIKE '%ORDER BY b.v <=>%'
			  AND pid <> pg_backend_pid()
			  AND now() - query_start > interval '0.5 s'});
	} while ($bpid eq '' && time < $deadline);
	my $t0 = time;
	$stop->($bpid) if $stop;
	$h->finish;
	return (time - $t0, $err);
}

my ($secs, $err) = stopped_after($long, sub {
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($_[0])");
});
like($err, qr/57014/, 'cancel stops the long scan with 57014');
note(sprintf('cancel took %.3f s', $secs));
cmp_ok($secs, '<', 1.0, 'within a second of the cancel');

# statement_timeout: the clock starts with the statement, so measure the
# whole run against the timeout
my $t0 = time;
($secs, $err) = stopped_after("SET statement_timeout = '1.5s'; $long", undef);
my $total = time - $t0;
like($err, qr/57014/, 'statement_timeout stops the long scan with 57014');
note(sprintf('statement_timeout 1.5 s: the statement ran %.3f s', $total));
cmp_ok($total, '<', 2.5, 'within a second of the timeout');

is($node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%ORDER BY b.v <=>%' AND pid <> pg_backend_pid()}),
	'0', 'no scan left running');
is($node->safe_psql('postgres', q{SELECT '[3,4]'::embedding <-> '[0,0]'}),
	'5', 'the server still answers');
ok(!$node->log_contains('was terminated by signal 6|was terminated by signal 11'),
	'no backend crashed on the way');

$node->stop;
done_testing();
