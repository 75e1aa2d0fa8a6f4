#!/usr/bin/perl
# jpki-recheck against a real `openssl ocsp` responder (an index with
# revocations, signed by the issuing CA, nonce checked): the category of
# every kind of change (renewal, signing certificate revoked only, hold,
# key compromise, affiliationChanged on both, unchanged, unknown, unknown
# issuer), the current certificate chosen through predecessor links, the
# signing check not bought when the auth answer decides, yen per
# certificate type, and the cap. docs/recheck.md. Run: prove tests/recheck/ocsp.t
use v5.36;
use strict;
use warnings;

use FindBin;
use lib $FindBin::Bin;
use Recheck;
use Test::More;

my $N = $ENV{JPKI_RECHECK_OCSP_N} // 270;    # 10000 for the measurement in docs/recheck.md
make_pki();
my $kid = kid();

# i % 9 -> [auth status, sign status, category, yen]; status V or R,reason; '-' = not in the index.
my @kinds = (
    ['V', 'V', 'unchanged', 22],
    ['R,superseded', 'R,superseded', 'renewed', 2],
    ['V', 'R,affiliationChanged', 'name_or_address_changed', 22],
    ['R,certificateHold,holdInstructionReject', 'R,certificateHold,holdInstructionReject',
     'card_lost_or_suspended', 2],
    ['R,affiliationChanged', 'R,affiliationChanged', 'died_or_emigrated', 22],
    ['V', 'V', 'unchanged', 22],    # + an older, superseded auth serial in the store
    ['V', 'R,keyCompromise', 'card_lost_or_suspended', 22],
    ['-', 'V', 'unknown', 2],       # the responder does not know the auth serial
    ['V', 'V', 'unknown', 0],       # issuer key id of no configured root: nothing asked
);
my $pk = plan_kinds(\@kinds, $N, 'ocsp', $kid);
my $yen = $pk->{yen};
my @plan = @{ $pk->{plan} };
my @index = @{ $pk->{db} };
my %expect = %{ $pk->{expect} };
# Account ids a spreadsheet would run as formulas, with a quote: the CSV must defuse them.
for my $f (['=1+2', 'a7777777'], ['-x"y', 'a7777778']) {
    my ($acct, $ser) = @$f;
    push @plan, { account => $acct, uid => undef, auth => ["$kid:$ser"], sign => [] };
    push @index, ca_db_line($ser, 'V');
    $expect{$acct} = 'unchanged';
    $yen += 2;
}
spew("$DIR/index.txt", join("\n", @index) . "\n");
sqlite_fill("$DIR/ocsp.db", \@plan);
my $url = start_ocsp("$DIR/index.txt");
my %base = (database_driver => 'sqlite3', database_params => "$DIR/ocsp.db", provider => 'ocsp',
            ocsp_url => $url, roots => "$DIR/issuer.crt", cost_cap_yen => 1_000_000, rate => 0,
            checkpoint => "$DIR/ck.json", report_jsonl => "$DIR/r.jsonl", report_csv => "$DIR/r.csv");
write_conf("$DIR/rc.conf", %base);

my ($rc, $sum, $err) = run_recheck("--config $DIR/rc.conf");
is $rc, 0, 'OCSP run: exit 0' or diag $err;
my $rep = read_jsonl("$DIR/r.jsonl");
my %got = map { $_->{account} => $_->{category} } @$rep;
is_deeply \%got, \%expect, 'every category matches the revocations in the index';
my %reason = map { $_->{account} => $_->{reason} } @$rep;
is $reason{ocsp0003}, 'certificateHold', 'hold: reason certificateHold';
is $reason{ocsp0002}, 'affiliationChanged', 'signing revoked: reason of the signing certificate';
is $reason{ocsp0006}, 'keyCompromise', 'key compromise of the signing certificate';
is $reason{ocsp0008}, 'no_issuer', 'unknown issuer: said so';
my $csv = slurp("$DIR/r.csv");
like $csv, qr/^"'=1\+2","unchanged",/m, 'CSV: a leading = is defused with a quote mark';
like $csv, qr/^"'-x""y","unchanged",/m, 'CSV: a leading - too, and " is doubled';
is $got{'-x"y'}, 'unchanged', 'JSON lines: the id as it is';
is $sum->{yen}, $yen, "yen: 2 per auth check, 20 per signing check, none when not asked ($yen)";
diag sprintf 'MEASURE ocsp: %d accounts in %.1f s = %.0f accounts/s, %d checks, %d yen',
    $N, $sum->{seconds}, $sum->{accounts_per_s}, $sum->{checks}, $sum->{yen};
my $expected_checks = $pk->{checks} + 2;    # + the two formula-looking accounts (auth only)
is $sum->{checks}, $expected_checks, "checks: the signing certificate only when the auth answer does not decide ($expected_checks)";

# The cap with two fees: an account is started only if its worst case fits.
unlink "$DIR/r.jsonl";
($rc, $sum) = run_recheck("--config $DIR/rc.conf --reset --cap 50");
is $rc, 3, 'cap 50: exit 3';
cmp_ok $sum->{yen}, '<=', 50, "yen $sum->{yen} <= 50";

# Roots that do not hold the serials' issuer: no request is made, nothing is paid.
openssl("req -x509 -newkey rsa:2048 -nodes -keyout $DIR/rogue.key -out $DIR/rogue.crt -subj '/CN=rogue' -days 2");
write_conf("$DIR/rogue.conf", %base, roots => "$DIR/rogue.crt");
($rc, $sum, $err) = run_recheck("--config $DIR/rogue.conf --reset --limit 3");
is $sum->{categories}{unknown}, 3, 'roots without the issuer: every account unknown';
is $sum->{yen}, 0, '... and nothing asked or paid';

# A responder signing with a key the roots do not vouch for: refused, unknown.
my $rogue_url = start_ocsp("$DIR/index.txt", 'rogue');
write_conf("$DIR/rogue2.conf", %base, ocsp_url => $rogue_url);
unlink "$DIR/r.jsonl";
($rc, $sum, $err) = run_recheck("--config $DIR/rogue2.conf --reset --limit 2");
is $sum->{categories}{unknown}, 2, 'answers signed by an unauthorised key: unknown';
like $err, qr/OCSP response refused \(ocsp_signature\)/, '... refused as the module refuses them';
is_deeply [map { $_->{reason} } @{ read_jsonl("$DIR/r.jsonl") }], ['ocsp_signature', 'ocsp_signature'],
    '... and the report says why';

# The store locked by another writer (httpd updating last_seen) for 2 s: the
# run waits for it (busy timeout) instead of failing with exit 5.
open my $lock, '|-', "sqlite3 $DIR/ocsp.db" or die;
$lock->autoflush(1);
print $lock "BEGIN EXCLUSIVE;\nUPDATE jpki_account SET created_at = created_at;\n";
my $unlock = fork // die;
if (!$unlock) { sleep 2; print $lock "COMMIT;\n"; close $lock; exit 0 }
($rc, $sum, $err) = run_recheck("--config $DIR/rc.conf --reset --limit 2");
waitpid $unlock, 0;
close $lock;
is $rc, 0, 'store locked for 2 s by another writer: the run waits (exit 0)' or diag $err;
is $sum->{accounts}, 2, '... and checks its accounts';

done_testing;
