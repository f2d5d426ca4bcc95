#
# 041_train_model_cache.pl: embed_document's per-backend model cache
# follows changes made to the model table by other sessions: committed
# UPDATEs, not uncommitted ones; TRUNCATE; a model replaced by
# embed_train(replace => true).
#
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('train_cache');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION embed');
$node->safe_psql('postgres', q{
	CREATE TABLE t AS
	SELECT d AS doc_id, p AS pos,
		   'w' || (abs(hashint4(d * 1000 + p)) % 10) AS token
	FROM generate_series(1, 50) d, generate_series(1, 20) p;
	SELECT vocab_size FROM embed_train('t', 'm', dim => 8, epochs => 2,
									   min_count => 1, progress => false)});

# A persistent session, fed statements one at a time.
sub session
{
	my %s = (in => '', out => '', err => '');
	$s{h} = IPC::Run::start(
		[ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-f', '-' ],
		'<', \$s{in}, '>', \$s{out}, '2>', \$s{err},
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	return \%s;
}

sub query
{
	my ($s, $sql) = @_;
	$s->{out} = '';
	$s->{in} .= "$sql;\n\\echo __done__\n";
	$s->{h}->pump until $s->{out} =~ /__done__/;
	(my $r = $s->{out}) =~ s/__done__\n?//;
	diag("stderr: $s->{err}") if $s->{err} ne "";
	$s->{err} = "";
	chomp $r;
	return $r;
}

my $sa = session();
my $sb = session();
my $norm = q{SELECT round(norm(embed_document('m', ARRAY['w1']))::numeric, 6)};

my $n0 = query($sa, $norm);
ok($n0 > 0, 'session A has the model loaded');

# an uncommitted change in B is not seen by A, the committed one is
query($sb, 'BEGIN');
query($sb, q{UPDATE m SET embedding = embedding * 2 WHERE token = 'w1'});
is(query($sa, $norm), $n0, 'an uncommitted update is not seen');
query($sb, 'COMMIT');
my $n1 = query($sa, $norm);
ok(abs($n1 - 2 * $n0) < 1e-5 * $n0,
	'the committed update is seen by the cached model')
  or diag("norm $n1, expected twice $n0");

# a change from a plain autocommit statement in a third session
$node->safe_psql('postgres',
	q{UPDATE m SET embedding = embedding * 0.5 WHERE token = 'w1'});
my $n2 = query($sa, $norm);
ok(abs($n2 - $n0) < 1e-5 * $n0, 'and the next one too')
  or diag("norm $n2, expected $n0");

# replace the model: the name now points at a new table
$node->safe_psql('postgres', q{
	SELECT vocab_size FROM embed_train('t', 'm', dim => 4, epochs => 1,
		min_count => 1, replace => true, progress => false)});
is(query($sa, q{SELECT dims(embed_document('m', ARRAY['w1']))}),
	'4', 'a replaced model is loaded afresh');

# TRUNCATE: no known tokens any more
$node->safe_psql('postgres', 'TRUNCATE m');
is(query($sa, q{SELECT embed_document('m', ARRAY['w1']) IS NULL}),
	't', 'a truncated model knows no tokens');

$sa->{in} .= "\\q\n";
$sa->{h}->finish;
$sb->{in} .= "\\q\n";
$sb->{h}->finish;
$node->stop;
done_testing();
