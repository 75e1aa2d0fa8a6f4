#!/usr/bin/perl
# jpki-recheck with the account store in PostgreSQL (a throwaway server on
# a free loopback port, apr_dbd's pgsql driver) against the platform
# simulator: the same categories as with SQLite, the results in
# jpki_recheck, the cost cap, resume after the cap. Run: prove tests/recheck/pg.t
use v5.36;
use strict;
use warnings;

use FindBin;
use lib $FindBin::Bin;
use Recheck;
use Test::More;

my $N = 600;
my ($BINDIR) = (sort glob('/usr/lib/postgresql/*/bin'))[-1] or die 'no PostgreSQL server binaries';
make_pki();
my $pgdir = "$DIR/pg";
mkdir $pgdir;
chmod 0777, $DIR;
my (undef, undef, $uid, $gid) = getpwnam('postgres');
chown $uid, $gid, $pgdir if $> == 0;
sub as_pg (@cmd) { return system($> == 0 ? ('runuser', '-u', 'postgres', '--', @cmd) : @cmd) == 0 }
my $port;
as_pg("$BINDIR/initdb", '-D', "$pgdir/data", '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8',
      '--locale=C') or die 'initdb failed';
for my $try (1 .. 5) {    # a free port: retry if another process has it
    $port = 40000 + int rand 20000;
    last if as_pg("$BINDIR/pg_ctl", '-D', "$pgdir/data", '-l', "$pgdir/log", '-w', '-t', '30', '-o',
                  "-k $pgdir -c listen_addresses=127.0.0.1 -p $port -c fsync=off", 'start');
    die "pg_ctl start failed: " . `cat $pgdir/log` if $try == 5;
}
END { as_pg("$BINDIR/pg_ctl", '-D', "$pgdir/data", '-m', 'immediate', '-w', 'stop') if $pgdir && -d "$pgdir/data" }
my $psql = "psql -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p $port -U postgres";
system("$psql -d postgres -c 'CREATE DATABASE jpki'") == 0 or die;

my (@plan, %users, %pred, %revoked, %expect);
for my $i (1 .. $N) {
    my $acct = sprintf 'pg%05d', $i;
    my ($au, $si, $new) = map { sprintf '%s%07d', $_, $i } qw(a b c);
    my $k = $i % 3;
    push @plan, { account => $acct, uid => "usr_$i", auth => ["k:$au"], sign => ["k:$si"] };
    $users{$_} = "usr_$i" for $au, $si;
    $users{$new} = "usr_$i", $pred{$new} = $au if $k == 1;
    $revoked{$si} = 'certificateHold' if $k == 2;
    $expect{$acct} = $k == 1 ? 'renewed' : $k == 2 ? 'card_lost_or_suspended' : 'unchanged';
}
(my $sql = sql_sqlite(\@plan)) =~ s/^BEGIN;/BEGIN;\n/;
spew("$DIR/pg.sql", $sql);
system("$psql -d jpki -f $DIR/pg.sql >/dev/null") == 0 or die 'filling PostgreSQL failed';
my $sport = start_sim({ users => \%users, predecessors => \%pred, revoked => \%revoked });
my %base = (database_driver => 'pgsql',
            database_params => "host=127.0.0.1 port=$port dbname=jpki user=postgres connect_timeout=5",
            provider => 'platform', platform_url => "https://127.0.0.1:$sport",
            platform_token_file => "$DIR/token", platform_ca => "$DIR/ca.crt",
            platform_client_cert => "$DIR/client.crt", platform_client_key => "$DIR/client.key",
            cost_cap_yen => 1_000_000, rate => 0, checkpoint => "$DIR/ck.json", report_csv => "$DIR/r.csv",
            report_jsonl => "$DIR/r.jsonl");
write_conf("$DIR/rc.conf", %base);

my ($rc, $sum, $err) = run_recheck("--config $DIR/rc.conf");
is $rc, 0, 'PostgreSQL: exit 0' or diag $err;
my %got = map { $_->{account} => $_->{category} } @{ read_jsonl("$DIR/r.jsonl") };
is_deeply \%got, \%expect, 'PostgreSQL: every category as the state implies';
my %db = map { split /\|/ } split /\n/, qx{$psql -d jpki -At -c "SELECT account, category FROM jpki_recheck"};
is_deeply \%db, \%expect, 'PostgreSQL: jpki_recheck holds every result';
is sim_calls($sport)->{CheckUserStatus}, $N, "$N calls";

# A second run overwrites the results (one row per account) and honours the cap.
sim_reset($sport);
($rc, $sum) = run_recheck("--config $DIR/rc.conf --cap 2000");
is $rc, 3, 'cap 2000: exit 3';
is sim_calls($sport)->{CheckUserStatus}, 100, '100 calls of 20 yen';
is qx{$psql -d jpki -At -c "SELECT count(*) FROM jpki_recheck"} + 0, $N, 'still one row per account';
($rc, $sum) = run_recheck("--config $DIR/rc.conf --cap 2000");
is sim_calls($sport)->{CheckUserStatus}, 200, 'the next run continues (200 in all, none twice)';

# Removing an account (the module's unlink_all + remove statements) takes its
# re-check result with it (ON DELETE CASCADE), instead of being refused.
is system("$psql -d jpki -c \"DELETE FROM jpki_serial WHERE account = 'pg00001'; "
          . "DELETE FROM jpki_account WHERE account = 'pg00001'\" >/dev/null 2>&1"), 0,
    'an account with a re-check result can be removed';
is qx{$psql -d jpki -At -c "SELECT count(*) FROM jpki_recheck WHERE account = 'pg00001'"} + 0, 0,
    '... and its result goes with it';

done_testing;
