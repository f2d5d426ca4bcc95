#-------------------------------------------------------------------------
#
# 012_crash_index.pl
#	  Crashes in the middle of the index's and training's work.
#
#	- cancel and statement_timeout stop CREATE INDEX ... USING embed_hnsw
#	  within a second and leave no index;
#	- immediate shutdown during CREATE INDEX ... USING embed_hnsw: after
#	  restart the index does not exist, the table is whole, and the index
#	  can be built;
#	- immediate shutdown, then kill -9 of the inserting backend, during a
#	  stream of committed INSERT batches into a table with an embed_hnsw
#	  index: after recovery every committed batch is there and whole,
#	  embed_hnsw_check reports no damage, and the index's answers match the
#	  exact answers within the recall bound;
#	- immediate shutdown during embed_train: after restart no model table
#	  exists, and training again works.
#
# test/t/012_crash_index.pl
#
#-------------------------------------------------------------------------
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $batch = 100;

my $node = PostgreSQL::Test::Cluster->new('crash_index');
$node->init;
$node->append_conf('postgresql.conf', qq{
restart_after_crash = on
log_statement = none
maintenance_work_mem = '64MB'
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION embed;
	CREATE FUNCTION vec(s int) RETURNS embedding LANGUAGE sql IMMUTABLE AS $$
		SELECT array_agg(sin(s * 0.7 + j * 1.3) ORDER BY j)::embedding
		FROM generate_series(1, 32) j
	$$;
	CREATE TABLE big AS SELECT g AS id, vec(g) AS v FROM generate_series(1, 40000) g;
});

# Run a statement in the background; returns the IPC::Run handle.
sub background
{
	my ($sql) = @_;
	my ($out, $err) = ('', '');
	return IPC::Run::start(
		[ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c', $sql ],
		'<', \undef, '>', \$out, '2>', \$err);
}

# Poll $sql until it returns something non-empty and not 'f' (or 60 s).
sub wait_for
{
	my ($sql, $h) = @_;
	my $deadline = time + 60;
	my $r = '';
	while (time < $deadline)
	{
		$r = $node->safe_psql('postgres', $sql);
		return $r if $r ne '' && $r ne 'f';
		die 'the background statement ended early' if $h && !$h->pumpable;
		sleep 0.05;
	}
	die "timed out waiting for: $sql";
}

# --- cancel and statement_timeout during CREATE INDEX ---
# slow on purpose (the largest ef_construction), so that it is surely
# still running when it is interrupted, on any machine
my $build = q{CREATE INDEX big_v ON big USING embed_hnsw (v embedding_l2_ops)
	WITH (m = 32, ef_construction = 1000)};
{
	my ($out, $err) = ('', '');
	my $bh = IPC::Run::start(
		[ 'psql', '-XAtq', '-v', 'VERBOSITY=verbose', '-d',
		  $node->connstr('postgres'), '-c', $build ],
		'<', \undef, '>', \$out, '2>', \$err);
	my $bpid = wait_for(q{SELECT pid FROM pg_stat_progress_create_index
		WHERE tuples_done > 1000}, $bh);
	my $t0 = time;
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($bpid)");
	$bh->finish;
	my $secs = time - $t0;
	like($err, qr/57014/, 'cancel stops CREATE INDEX with 57014');
	note(sprintf('cancel of CREATE INDEX took %.3f s', $secs));
	cmp_ok($secs, '<', 1.0, 'within a second');

	$t0 = time;
	($out, $err) = ('', '');
	IPC::Run::run(
		[ 'psql', '-XAtq', '-v', 'VERBOSITY=verbose', '-d',
		  $node->connstr('postgres'), '-c', "SET statement_timeout = '1s'",
		  '-c', $build ],
		'<', \undef, '>', \$out, '2>', \$err);
	$secs = time - $t0;
	like($err, qr/57014/, 'statement_timeout stops CREATE INDEX with 57014');
	note(sprintf('CREATE INDEX under a 1 s statement_timeout ran %.3f s', $secs));
	cmp_ok($secs, '<', 2.0, 'within a second of the timeout');
	is($node->safe_psql('postgres', q{SELECT to_regclass('big_v') IS NULL}),
		't', 'no index is left behind');
}

# --- immediate shutdown during CREATE INDEX ---
my $h = background($build);
wait_for(q{SELECT tuples_done > 1000 FROM pg_stat_progress_create_index}, $h);
$node->stop('immediate');
$h->finish;
$node->start;
is($node->safe_psql('postgres', q{SELECT to_regclass('big_v') IS NULL}),
	't', 'CREATE INDEX interrupted: no index after restart');
is($node->safe_psql('postgres', q{SELECT count(*), count(*) FILTER (WHERE v = vec(id)) FROM big}),
	'40000|40000', 'the table is whole');
$node->safe_psql('postgres', q{CREATE INDEX big_v ON big USING embed_hnsw (v embedding_l2_ops)
	WITH (m = 8, ef_construction = 40)});
is($node->safe_psql('postgres', q{SELECT count(*) FROM embed_hnsw_check('big_v')}),
	'0', 'and the index builds afterwards, undamaged');
$node->safe_psql('postgres', 'DROP TABLE big');

# --- a stream of INSERTs into an indexed table ---
$node->safe_psql('postgres', qq{
	CREATE TABLE items (id int PRIMARY KEY, v embedding(32) NOT NULL);
	CREATE INDEX items_v ON items USING embed_hnsw (v embedding_l2_ops)
		WITH (m = 8, ef_construction = 40);
	CREATE TABLE progress (batches int);
	INSERT INTO progress VALUES (0);
	CREATE PROCEDURE load(nbatch int) LANGUAGE plpgsql AS \$\$
	DECLARE
		b int;
	BEGIN
		SELECT batches INTO b FROM progress;
		FOR i IN 1 .. nbatch LOOP
			INSERT INTO items SELECT g, vec(g)
			FROM generate_series(b * $batch + 1, (b + 1) * $batch) g;
			b := b + 1;
			UPDATE progress SET batches = b;
			COMMIT;
		END LOOP;
	END \$\$;
});

sub check_items
{
	my ($committed, $what) = @_;
	my ($count, $max, $batches, $bad) = split /\|/, $node->safe_psql('postgres', q{
		SELECT count(*), coalesce(max(id), 0), (SELECT batches FROM progress),
			   count(*) FILTER (WHERE v <> vec(id))
		FROM items});
	cmp_ok($batches, '>=', $committed, "$what: every committed batch survived ($batches >= $committed)");
	is($count, $batches * $batch, "$what: whole batches only");
	is($max, $count, "$what: ids contiguous");
	is($bad, 0, "$what: vectors intact");
	is($node->safe_psql('postgres', q{SELECT count(*) FROM embed_hnsw_check('items_v')
		WHERE problem <> 'element not reachable from the entry point'}),
		'0', "$what: embed_hnsw_check reports no damage");
	my $recall = $node->safe_psql('postgres', q{
		SET embed.ef_search = 100;
		SET enable_seqscan = off;
		WITH qs AS MATERIALIZED (
			SELECT q, vec(q * 7919) AS qv FROM generate_series(1, 30) q)
		SELECT round(avg(hits) / 10, 3) FROM (
			SELECT (SELECT count(*) FROM
					(SELECT id FROM items ORDER BY v <-> qv LIMIT 10) a
					JOIN (SELECT id FROM items
						  ORDER BY (v <-> qv) + 0 LIMIT 10) e USING (id)) AS hits
			FROM qs) s});
	note("$what: recall\@10 = $recall");
	cmp_ok($recall, '>=', 0.9, "$what: index answers match exact ones (recall\@10 >= 0.9)");
}

$h = background('CALL load(100000)');
my $committed = wait_for(q{SELECT batches FROM progress WHERE batches >= 10}, $h);
$node->stop('immediate');
$h->finish;
$node->start;
check_items($committed, 'immediate shutdown during inserts');

my $before = $node->safe_psql('postgres', 'SELECT batches FROM progress');
$h = background('CALL load(100000)');
$committed = wait_for(qq{SELECT batches FROM progress WHERE batches >= $before + 10}, $h);
my $pid = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE query LIKE 'CALL load%'});
kill 'KILL', $pid if $pid =~ /^\d+$/;
$h->finish;
$node->poll_query_until('postgres', 'SELECT true') or die 'no recovery';
ok($node->log_contains('was terminated by signal 9'), 'the inserting backend crashed');
check_items($committed, 'kill -9 during inserts');

# --- immediate shutdown during training ---
SKIP:
{
	skip 'embed_train is not built', 3
	  unless $node->safe_psql('postgres',
		  q{SELECT count(*) FROM pg_proc WHERE proname = 'embed_train'});

	$node->safe_psql('postgres', q{
		CREATE TABLE tokens AS
		SELECT d AS doc_id, p AS pos, 'w' || (abs(hashint4(d * 1000 + p)) % 50) AS token
		FROM generate_series(1, 200) d, generate_series(1, 100) p});
	$h = background(q{SELECT * FROM embed_train('tokens', 'model', epochs => 1000,
		dim => 64, min_count => 1, progress => false)});
	wait_for(q{SELECT count(*) > 0 FROM embed_train_progress() WHERE phase = 'training'}, $h);
	$node->stop('immediate');
	$h->finish;
	$node->start;
	is($node->safe_psql('postgres', q{SELECT to_regclass('model') IS NULL}),
		't', 'training interrupted by a crash leaves no model table');
	is($node->safe_psql('postgres',
			q{SELECT count(*) FROM pg_class WHERE relname LIKE 'model%'}),
		'0', 'nor any half-made relation');
	is($node->safe_psql('postgres', q{
			SELECT vocab_size FROM embed_train('tokens', 'model', epochs => 1,
				dim => 8, min_count => 1, progress => false)}),
		'50', 'training again works');
}

$node->stop;
done_testing();
