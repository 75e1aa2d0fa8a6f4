#!/usr/bin/perl
# jpki-recheck against the platform simulator (tools/jpki-pf-sim, mutual
# TLS + token) with 10,000 accounts in SQLite: categories, the cost cap
# (checked against the simulator's own call counter), resume after kill -9
# and SIGTERM without paying twice, the rate limit, provider down, and
# configuration errors. docs/recheck.md. Run: prove tests/recheck/recheck.t
use v5.36;
use strict;
use warnings;

use FindBin;
use lib $FindBin::Bin;
use Recheck;
use Test::More;
use Time::HiRes qw(time sleep);

my $N = $ENV{RECHECK_ACCOUNTS} // 10_000;
make_pki();

# ---- the accounts and what the simulator says about them ----------------------
# i % 10: 1 renewed (the PF knows a successor), 2 the latest certificate held
# (i % 20 == 2) or revoked affiliationChanged (i % 20 == 12: which certificate
# the PF means is not said, so revoked_other), 3 the PF answers unknown, 4 no
# platform user id (not asked), others unchanged;
# i % 10 == 5 has a renewal in the store already (old auth serial -> new).
my (@plan, %users, %pred, %revoked, @unknown, %expect);
for my $i (1 .. $N) {
    my $acct = sprintf 'acct%05d', $i;
    my ($au, $si, $new, $old) = map { sprintf '%s%07d', $_, $i } qw(a b c 9);
    my $k = $i % 10;
    my %a = (account => $acct, uid => ($k == 4 ? undef : "usr_$i"),
             auth => [$k == 5 ? ("k:$old") : (), "k:$au"], sign => ["k:$si"]);
    push @plan, \%a;
    next if $k == 4;
    $users{$_} = "usr_$i" for $au, $si;
    $users{$old} = "usr_$i", $pred{$au} = $old if $k == 5;
    my $held = $i % 20 == 2;
    $expect{$acct} = $k == 1 ? 'renewed' : $k == 2 ? ($held ? 'card_lost_or_suspended' : 'revoked_other')
                   : $k == 3 ? 'unknown' : 'unchanged';
    $users{$new} = "usr_$i", $pred{$new} = $au if $k == 1;
    $revoked{$si} = { reason => $held ? 'certificateHold' : 'affiliationChanged' } if $k == 2;
    push @unknown, $si if $k == 3;
}
$expect{ $_->{account} } //= 'unknown' for @plan;
my $asked = grep { defined $_->{uid} } @plan;

my $t0 = time;
sqlite_fill("$DIR/acc.db", \@plan);
diag sprintf 'store: %d accounts in SQLite in %.1f s', $N, time - $t0;
my $port = start_sim({ users => \%users, predecessors => \%pred, revoked => \%revoked, unknown => \@unknown });

my %base = (database_driver => 'sqlite3', database_params => "$DIR/acc.db", provider => 'platform',
            platform_url => "https://127.0.0.1:$port", platform_token_file => "$DIR/token",
            platform_ca => "$DIR/ca.crt", platform_client_cert => "$DIR/client.crt",
            platform_client_key => "$DIR/client.key", cost_cap_yen => 1_000_000_000, rate => 0,
            checkpoint => "$DIR/ck.json", report_jsonl => "$DIR/r.jsonl", report_csv => "$DIR/r.csv");
write_conf("$DIR/rc.conf", %base);
sub fresh () { unlink "$DIR/ck.json", "$DIR/r.jsonl", "$DIR/r.csv"; sim_reset($port) }

# ---- 1. a whole run: every category, yen = the simulator's count --------------
fresh();
$t0 = time;
my ($rc, $sum, $err) = run_recheck("--config $DIR/rc.conf");
my $secs = time - $t0;
is $rc, 0, 'full run: exit 0' or diag $err;
my $calls = sim_calls($port);
is $calls->{CheckUserStatus}, $asked, "one CheckUserStatus per account with a PF user id ($asked)";
is $calls->{total}, $calls->{CheckUserStatus}, 'no other call';
is $sum->{yen}, 20 * $calls->{CheckUserStatus}, 'yen = 20 x the calls the simulator counted';
diag sprintf 'MEASURE platform: %d accounts in %.1f s = %.0f accounts/s, %d checks, %d yen',
    $N, $secs, $N / $secs, $sum->{checks}, $sum->{yen};
my $rep = read_jsonl("$DIR/r.jsonl");
is scalar @$rep, $N, 'one report line per account';
my %got = map { $_->{account} => $_->{category} } @$rep;
is_deeply \%got, \%expect, 'every category is the one the state implies';
my %keys = map { join(',', sort keys %$_) => 1 } @$rep;
is_deeply [keys %keys], ['account,action,category,checked_at,reason,status'],
    'report lines carry only account, category, status, reason, action, time';
my @csv = split /\r\n/, slurp("$DIR/r.csv");
is scalar @csv, $N + 1, 'CSV: header + one line per account';
like $csv[0], qr/^account,category,status,reason,action,checked_at$/, 'CSV header';
my %db = map { split /\|/ } split /\n/, qx{sqlite3 $DIR/acc.db "SELECT account, category FROM jpki_recheck"};
is_deeply \%db, \%expect, 'jpki_recheck holds every account\'s category';
is slurp("$DIR/ck.json") =~ /"state":"done"/ ? 1 : 0, 1, 'checkpoint says done';
unlike $err, qr/usr_|k:a/, 'no user id or serial in the log';

# The other checks run on the first 1,000 accounts (a second store) to keep
# the test short; the simulator's state is the same.
my $M = $N < 1000 ? $N : 1000;
my @small = @plan[0 .. $M - 1];
sqlite_fill("$DIR/small.db", \@small);
$base{database_params} = "$DIR/small.db";
write_conf("$DIR/rc.conf", %base);
$asked = grep { defined $_->{uid} } @small;

# ---- 2. the cost cap: stops before the check that would pass it ---------------
fresh();
($rc, $sum) = run_recheck("--config $DIR/rc.conf --reset --cap 1010");
is $rc, 3, 'cap 1010 yen: exit 3 (stopped at the cap)';
$calls = sim_calls($port)->{CheckUserStatus};
is $calls, 50, '50 checks of 20 yen (a 51st would pass 1010)';
cmp_ok $sum->{yen}, '<=', 1010, 'yen spent <= cap';
is $sum->{yen}, 20 * $calls, 'yen = what the simulator counted';
my $first = read_jsonl("$DIR/r.jsonl");
($rc, $sum) = run_recheck("--config $DIR/rc.conf --cap 1010");
is $rc, 3, 'the next run (new budget) continues after the capped one';
my $both = read_jsonl("$DIR/r.jsonl");
my %n;
$n{ $_->{account} }++ for @$both;
is scalar(grep { $_ > 1 } values %n), 0, 'no account checked twice across the two capped runs';
cmp_ok scalar @$both, '>', scalar @$first, '... and the second run went further';
is sim_calls($port)->{CheckUserStatus}, 100, '100 calls in all';

# ---- 3. kill -9 and SIGTERM in the middle: resume, nobody paid twice ------------
for my $sig (qw(KILL TERM)) {
    fresh();
    my $pid = fork // die;
    if (!$pid) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', "$DIR/kill.err";
        exec $BIN, '--config', "$DIR/rc.conf", '--reset', '--rate', '400';
    }
    my $deadline = time + 60;
    sleep 0.2 while time < $deadline && (sim_calls($port)->{CheckUserStatus} // 0) < 300;
    kill $sig, $pid;
    waitpid $pid, 0;
    my $code = $? >> 8;
    is $code, ($sig eq 'TERM' ? 6 : 0), "SIG$sig: " . ($sig eq 'TERM' ? 'exit 6 (interrupted)' : 'killed');
    my $before = sim_calls($port)->{CheckUserStatus};
    cmp_ok $before, '<', $asked, "SIG$sig: stopped before the end ($before calls)";
    ($rc, $sum) = run_recheck("--config $DIR/rc.conf");
    is $rc, 0, "SIG$sig: the resumed run finishes";
    my $after = sim_calls($port)->{CheckUserStatus};
    my $lines = read_jsonl("$DIR/r.jsonl");
    my %c;
    $c{ $_->{account} }++ for @$lines;
    is scalar(grep { $_ > 1 } values %c), 0, "SIG$sig: no account reported twice";
    my $reported = grep { defined $_->{uid} && $c{ $_->{account} } } @small;
    cmp_ok $after, '<=', $asked, "SIG$sig: at most one call per account ($after <= $asked)";
    cmp_ok $after - $reported, '<=', 1, "SIG$sig: at most the one pending account unreported";
    cmp_ok $after, '>=', $reported, "SIG$sig: every reported account was asked";
}

# ---- 4. the rate limit --------------------------------------------------------
fresh();
$t0 = time;
($rc, $sum) = run_recheck("--config $DIR/rc.conf --reset --limit 31 --rate 20");
my $took = time - $t0;
is $rc, 0, '--limit 31: exit 0';
is $sum->{accounts}, 31, '31 accounts';
my $checks = $sum->{checks};
cmp_ok $took, '>=', ($checks - 1) / 20, sprintf('rate 20/s: %d checks took %.2f s (>= %.2f)', $checks, $took, ($checks - 1) / 20);
diag sprintf 'MEASURE rate 20/s: %d checks in %.2f s = %.1f checks/s', $checks, $took, ($checks - 1) / $took;

# ---- 5. provider down, unauthorised -------------------------------------------
fresh();
spew("$DIR/state.json.tmp", JSON::PP->new->encode({ users => \%users, faults => { '*' => { http_status => 503 } } }));
rename "$DIR/state.json.tmp", "$DIR/state.json";
($rc, $sum, $err) = run_recheck("--config $DIR/rc.conf --reset");
is $rc, 4, 'PF answers 503: exit 4 (provider down)';
like $err, qr/provider down: 5 accounts in a row/, '... with a clear message';
# accounts 1-3 and 5-9 unanswered (4 has no PF user id, is not asked, and ends the first streak)
like slurp("$DIR/ck.json"), qr/"last":"acct00004"/, '... and the checkpoint is before the unanswered streak';
spew("$DIR/state.json.tmp", JSON::PP->new->encode({ users => \%users }));
rename "$DIR/state.json.tmp", "$DIR/state.json";
spew("$DIR/bad-token", "wrong\n");
($rc, $sum, $err) = run_recheck("--config $DIR/rc.conf --reset --set platform_token_file=$DIR/bad-token");
is $rc, 4, 'wrong token (401): exit 4';

# ---- 6. configuration errors: exit 2 and a message naming the setting ---------
my @bad = (
    [{ %base, cost_cap_yen => undef }, qr/cost_cap_yen is required/],
    [{ %base, provider => 'crl' }, qr/crl_index_dir is required with provider = crl/],
    [{ %base, provider => 'cdp' }, qr/provider: 'cdp' is not platform, ocsp or crl/],
    [{ %base, platform_url => 'http://127.0.0.1:1' }, qr/platform_url: must be https/],
    [{ %base, platform_token_file => "$DIR/none" }, qr/platform_token_file .*none/],
    [{ %base, database_driver => 'mysql' }, qr/database_driver: 'mysql'/],
    [{ %base, rate => 'fast' }, qr/rate: expected/],
    [{ %base, colour => 'blue' }, qr/unknown setting 'colour'/],
    [{ %base, provider => 'ocsp' }, qr/ocsp_url is required/],
);
for my $b (@bad) {
    my %kv = %{ $b->[0] };
    delete $kv{$_} for grep { !defined $kv{$_} } keys %kv;
    write_conf("$DIR/bad.conf", %kv);
    ($rc, $sum, $err) = run_recheck("--config $DIR/bad.conf");
    is $rc, 2, "bad config: exit 2 ($b->[1])";
    like $err, $b->[1], '... message names the setting';
}
($rc, $sum, $err) = run_recheck("--config $DIR/rc.conf --set database_params=x");
is $rc, 2, '--set database_params: refused (secrets not on the command line)';
($rc, $sum, $err) = run_recheck('--dry-run');
is $rc, 2, 'no --config: exit 2';
write_conf("$DIR/nodb.conf", %base, database_params => "$DIR/empty.db");
($rc, $sum, $err) = run_recheck("--config $DIR/nodb.conf");
is $rc, 5, 'no schema in the database: exit 5';
like $err, qr/does the schema exist/, '... and says so';
($rc, $sum) = run_recheck("--config $DIR/rc.conf --reset --dry-run --cap 500");
is $rc, 3, 'dry run: exit 3 at the cap';
is $sum->{accounts}, 28, 'dry run: 25 paid accounts (+3 without a PF user id) fit in 500 yen';

done_testing;
