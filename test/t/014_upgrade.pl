#
# 014_upgrade.pl: ALTER EXTENSION embed UPDATE from every earlier release
# (their frozen install scripts ship beside the upgrade scripts) ends with
# the same objects, with the same properties, as a fresh install of the
# current version; data and indexes made under the old version keep
# working.
#
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->start;

my $current = $node->safe_psql('postgres',
	q{SELECT default_version FROM pg_available_extensions WHERE name = 'embed'});
my @old = split /\n/, $node->safe_psql('postgres',
	qq{SELECT version FROM pg_available_extension_versions
	   WHERE name = 'embed' AND version <> '$current' ORDER BY version});
ok(@old > 0, "earlier versions are installable (current $current)");

# Everything the extension owns, described with the properties that matter
# to its users: signatures, volatility, strictness, parallel safety, cost
# support, operators' functions, casts, comments.
my $describe = q{
	SELECT string_agg(x, E'\n' ORDER BY x) FROM (
		SELECT pg_describe_object(d.classid, d.objid, d.objsubid) ||
			   coalesce(' ' || (SELECT format('%s %s %s %s cost=%s rows=%s support=%s',
										  p.prorettype::regtype, p.provolatile,
										  p.proisstrict, p.proparallel,
										  p.procost, p.prorows, p.prosupport)
							   FROM pg_proc p
							   WHERE d.classid = 'pg_proc'::regclass
								 AND p.oid = d.objid), '') ||
			   coalesce(' ' || (SELECT o.oprcode::text
							   FROM pg_operator o
							   WHERE d.classid = 'pg_operator'::regclass
								 AND o.oid = d.objid), '') ||
			   coalesce(' -- ' || obj_description(d.objid,
								 (SELECT relname FROM pg_class
								  WHERE oid = d.classid)), '') AS x
		FROM pg_depend d
		WHERE d.refclassid = 'pg_extension'::regclass
		  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'embed')
		  AND d.deptype = 'e') s};

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION embed');
my $want = $node->safe_psql('fresh', $describe);

foreach my $v (@old)
{
	my $db = "from_$v";
	$db =~ s/\./_/g;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, "CREATE EXTENSION embed VERSION '$v'");
	$node->safe_psql($db, q{
		CREATE TABLE items (id int, v embedding(3));
		INSERT INTO items
		SELECT i, ARRAY[i, i % 7, 1]::real[]::embedding FROM generate_series(1, 500) i;
		CREATE INDEX items_v ON items USING embed_hnsw (v embedding_cosine_ops)});
	$node->safe_psql($db, 'ALTER EXTENSION embed UPDATE');
	is($node->safe_psql($db,
			q{SELECT extversion FROM pg_extension WHERE extname = 'embed'}),
		$current, "$v updates to $current");
	is($node->safe_psql($db, $describe), $want,
		"$v updated has the objects of a fresh $current install");
	is($node->safe_psql($db, q{
			SET enable_seqscan = off;
			SELECT id FROM items ORDER BY v <=> '[100,2,1]' LIMIT 1}),
		'100', "$v: an index made before the update still answers");
	is($node->safe_psql($db, q{SELECT count(*) FROM embed_hnsw_check('items_v')
			WHERE problem <> 'element not reachable from the entry point'}),
		'0', "$v: the index checks clean");
}

$node->stop;
done_testing();
