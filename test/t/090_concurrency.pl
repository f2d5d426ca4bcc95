#-------------------------------------------------------------------------
#
# 090_concurrency.pl
#	  Several clients insert, update, delete and search one table with an
#	  embed_hnsw index at once, with VACUUM running among them.
#
# pgbench runs five scripts for a fixed time.  Every insert records its id
# in "born" and every delete records its id in "gone", in the same
# statement, so the table's contents can be accounted for exactly
# afterwards.  Each search checks its own answer as it goes (and fails the
# run by dividing by zero if it is wrong; the divisor is not a constant, so
# the planner cannot fold it): no id twice, distances in
# ascending order, no row whose deletion had committed.  After the run:
# pgbench saw no error; every row born and not gone is in the table and
# nothing else is; embed_hnsw_check finds no damage; an iterative index scan
# reaches every live row; and the index's top 10 agree with the exact top
# 10 on at least 90% of the rows (recall), before and after a final VACUUM.
#
# test/t/090_concurrency.pl
#
#-------------------------------------------------------------------------
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $seconds = $ENV{EMBED_CONCURRENCY_SECONDS} || 15;

my $node = PostgreSQL::Test::Cluster->new('concurrency');
$node->init;
$node->append_conf('postgresql.conf', qq{
log_statement = none
autovacuum_naptime = 1
max_connections = 30
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION embed;
	-- a 16-dimensional vector from a seed, the same every time
	CREATE FUNCTION vec(s int) RETURNS embedding LANGUAGE sql IMMUTABLE AS $$
		SELECT array_agg(sin(s * 0.7 + j * 1.3) ORDER BY j)::embedding
		FROM generate_series(1, 16) j
	$$;
	CREATE SEQUENCE ids;
	CREATE TABLE items (id int PRIMARY KEY, v embedding(16) NOT NULL);
	CREATE TABLE born (id int);
	CREATE TABLE gone (id int);
	WITH n AS (INSERT INTO items SELECT nextval('ids'), vec(g)
			   FROM generate_series(1, 3000) g RETURNING id)
	INSERT INTO born SELECT id FROM n;
	CREATE INDEX items_v ON items USING embed_hnsw (v embedding_l2_ops)
		WITH (m = 8, ef_construction = 40);
});

my %scripts = (
	'insert@4' => q{
\set s random(1, 1000000)
WITH n AS (INSERT INTO items VALUES (nextval('ids'), vec(:s)) RETURNING id)
INSERT INTO born SELECT id FROM n;
},
	'update@2' => q{
\set s random(1, 1000000)
\set r random(1, 100000)
UPDATE items SET v = vec(:s)
WHERE id = (SELECT id FROM items
			WHERE id >= :r % ((SELECT last_value FROM ids) + 1) ORDER BY id LIMIT 1);
},
	'delete@2' => q{
\set r random(1, 100000)
WITH d AS (DELETE FROM items
		   WHERE id = (SELECT id FROM items
					   WHERE id >= :r % ((SELECT last_value FROM ids) + 1) ORDER BY id LIMIT 1)
		   RETURNING id)
INSERT INTO gone SELECT id FROM d;
},
	'search@8' => q{
\set s random(1, 1000000)
SELECT CASE WHEN count(*) = 0
			  OR count(DISTINCT id) <> count(*)
			  OR bool_or(d < pd)
			  OR bool_or(EXISTS (SELECT FROM gone g WHERE g.id = r.id))
		THEN 1 / (0 * count(*)) ELSE 0 END AS bad
FROM (SELECT id, d, lag(d) OVER (ORDER BY n) AS pd
	  FROM (SELECT id, d, row_number() OVER () AS n
			FROM (SELECT id, v <-> vec(:s) AS d FROM items
				  ORDER BY v <-> vec(:s) LIMIT 10) s) s1) r;
},
	'vacuum@1' => q{
VACUUM items;
},
);

# searches go through the index
$ENV{PGOPTIONS} = '-c enable_seqscan=off -c enable_bitmapscan=off';

$node->pgbench(
	"--no-vacuum --client=4 --jobs=2 --time=$seconds",
	0,
	[ qr{processed: [1-9]\d*} ],
	[ qr{^(?:(?!error|abort).)*$}s ],
	'insert, update, delete, search and VACUUM at once, no error',
	\%scripts);
delete $ENV{PGOPTIONS};

my $res = $node->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM born), (SELECT count(*) FROM gone),
		   (SELECT count(*) FROM items),
		   (SELECT count(*) FROM born b
			WHERE NOT EXISTS (SELECT FROM gone g WHERE g.id = b.id)
			  AND NOT EXISTS (SELECT FROM items i WHERE i.id = b.id)),
		   (SELECT count(*) FROM gone g JOIN items i USING (id)),
		   (SELECT count(*) FROM items i
			WHERE NOT EXISTS (SELECT FROM born b WHERE b.id = i.id))});
my ($born, $gone, $items, $lost, $undead, $strays) = split /\|/, $res;
note("born $born, gone $gone, items $items");
cmp_ok($born - 3000, '>', 0, 'rows were inserted during the run');
cmp_ok($gone, '>', 0, 'rows were deleted during the run');
is($lost, 0, 'no row born and not deleted is missing');
is($undead, 0, 'no deleted row is still there');
is($strays, 0, 'no row from nowhere');
is($items, $born - $gone, 'the count adds up');

is($node->safe_psql('postgres', q{SELECT count(*) FROM embed_hnsw_check('items_v')
	WHERE problem <> 'element not reachable from the entry point'}),
	'0', 'embed_hnsw_check finds no damage');

# Every live row is reachable through the index, and the index's answers
# are close to the exact ones.
sub check_reach_and_recall
{
	my ($what) = @_;
	my $reach = $node->safe_psql('postgres', q{
		SET enable_seqscan = off;
		SET enable_bitmapscan = off;
		SET embed.iterative_scan = relaxed_order;
		SET embed.max_scan_tuples = 1000000;
		SELECT count(*) FROM (SELECT id FROM items
							  ORDER BY v <-> vec(12345) LIMIT 1000000) s});
	is($reach, $items, "$what: an iterative index scan reaches every live row");

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
	cmp_ok($recall, '>=', 0.9, "$what: recall\@10 at least 0.9");
}

# (the subquery "e" above orders by an expression no index can give, so
# it is the exact answer)
check_reach_and_recall('after the run');
$node->safe_psql('postgres', 'VACUUM items');
is($node->safe_psql('postgres', q{SELECT count(*) FROM embed_hnsw_check('items_v')}),
	'0', 'embed_hnsw_check finds no damage after VACUUM');
check_reach_and_recall('after VACUUM');

$node->stop;
done_testing();
