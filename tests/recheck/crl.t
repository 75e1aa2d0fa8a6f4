#!/usr/bin/perl
# jpki-recheck with provider = crl: a real CRL made by `openssl ca -gencrl`
# from an index with revocations, indexed by jpki-crl-index (verified
# against the issuing CA), then every account's current certificates looked
# up in the index: the category of every kind of change, yen per
# certificate looked up, the signing lookup spared when the auth answer
# decides, an issuer without an index, a stale index (past nextUpdate), a
# damaged index. docs/recheck.md. Run: prove tests/recheck/crl.t
use v5.36;
use strict;
use warnings;

use FindBin;
use lib $FindBin::Bin;
use Recheck;
use Test::More;

my $INDEXER = $ENV{JPKI_CRL_INDEX_BIN} // "$TOP/tools/crl/jpki-crl-index";
my $N = 90;
# The issuing CA as jpki-crl-index accepts a root: a JPKI DN (the test
# hierarchy's O=JPKI-TEST and the user-authentication OU), a key id, cRLSign.
openssl("req -x509 -newkey rsa:2048 -nodes -keyout $DIR/issuer.key -out $DIR/issuer.crt -days 2"
        . " -subj '/C=JP/O=JPKI-TEST/OU=JPKI for user authentication/CN=recheck CRL issuer'"
        . " -addext 'keyUsage=critical,keyCertSign,cRLSign'");
make_pki();
my $kid = kid();

# i % 9 -> [auth status, sign status, category, yen]; V = not revoked, R,reason revoked.
my @kinds = (
    ['V', 'V', 'unchanged', 22],
    ['R,superseded', 'R,superseded', 'renewed', 2],
    ['V', 'R,affiliationChanged', 'name_or_address_changed', 22],
    ['R,certificateHold,holdInstructionReject', 'V', 'card_lost_or_suspended', 2],
    ['R,affiliationChanged', 'R,affiliationChanged', 'died_or_emigrated', 22],
    ['V', 'V', 'unchanged', 22],    # + an older, superseded auth serial in the store
    ['V', 'R,keyCompromise', 'card_lost_or_suspended', 22],
    ['R,cessationOfOperation', 'V', 'card_lost_or_suspended', 2],
    ['V', 'V', 'unknown', 0],       # issuer key id without an index: nothing looked up
);
my $pk = plan_kinds(\@kinds, $N, 'crl', $kid);
my ($yen, $checks, %expect) = ($pk->{yen}, $pk->{checks}, %{ $pk->{expect} });
my @plan = @{ $pk->{plan} };
my @db = @{ $pk->{db} };
spew("$DIR/index.txt", join("\n", @db) . "\n");
spew("$DIR/crlnumber", "01\n");
spew("$DIR/ca.cnf", <<"EOF");
[ca]
default_ca = d
[d]
database = $DIR/index.txt
unique_subject = no
crlnumber = $DIR/crlnumber
default_md = sha256
default_crl_days = 1
crl_extensions = crl_ext
[crl_ext]
authorityKeyIdentifier = keyid:always
EOF
sub gencrl ($out, @extra) {
    openssl("ca -gencrl -config $DIR/ca.cnf -keyfile $DIR/issuer.key -cert $DIR/issuer.crt -out $out @extra");
}
sub index_crl ($crl, $dir, @extra) {
    mkdir $dir;
    my $out = qx{$INDEXER --roots $DIR/issuer.crt --out $dir @extra $crl 2>&1};
    return ($? >> 8, $out);
}
gencrl("$DIR/good.crl");
my ($irc, $iout) = index_crl("$DIR/good.crl", "$DIR/ix");
is $irc, 0, 'jpki-crl-index verified and indexed the CRL' or diag $iout;
sqlite_fill("$DIR/crl.db", \@plan);
my %base = (database_driver => 'sqlite3', database_params => "$DIR/crl.db", provider => 'crl',
            crl_index_dir => "$DIR/ix", cost_cap_yen => 1_000_000, rate => 0,
            checkpoint => "$DIR/ck.json", report_jsonl => "$DIR/r.jsonl", report_csv => "$DIR/r.csv");
write_conf("$DIR/rc.conf", %base);

my ($rc, $sum, $err) = run_recheck("--config $DIR/rc.conf");
is $rc, 0, 'CRL run: exit 0' or diag $err;
my $rep = read_jsonl("$DIR/r.jsonl");
my %got = map { $_->{account} => $_->{category} } @$rep;
is_deeply \%got, \%expect, 'every category matches the revocations in the CRL';
my %reason = map { $_->{account} => $_->{reason} } @$rep;
is $reason{crl0003}, 'certificateHold', 'hold: reason certificateHold from the CRL entry';
is $reason{crl0002}, 'affiliationChanged', 'signing revoked: reason of the signing certificate';
is $reason{crl0006}, 'keyCompromise', 'key compromise of the signing certificate';
is $reason{crl0007}, 'cessationOfOperation', 'cessation';
is $reason{crl0008}, 'crl_missing', 'an issuer without an index: said so';
is $sum->{yen}, $yen, "yen: 2 per auth lookup, 20 per signing lookup, none without an index ($yen)";
is $sum->{checks}, $checks, "lookups: the signing certificate only when the auth answer does not decide ($checks)";
diag sprintf 'MEASURE crl: %d accounts in %.2f s, %d lookups, %d yen', $N, $sum->{seconds},
    $sum->{checks}, $sum->{yen};

# The cap, as with the other providers.
($rc, $sum) = run_recheck("--config $DIR/rc.conf --reset --cap 50");
is $rc, 3, 'cap 50: exit 3';
cmp_ok $sum->{yen}, '<=', 50, "yen $sum->{yen} <= 50";

# A CRL whose nextUpdate has passed (indexed as of a time it was current):
# not current, no answer, the run stops as "provider down".
my $past = time - 7200;
gencrl("$DIR/old.crl", '-crl_lastupdate', _gt($past - 3600), '-crl_nextupdate', _gt($past));
($irc, $iout) = index_crl("$DIR/old.crl", "$DIR/ix-old", '--at', $past - 60);
is $irc, 0, 'an old CRL indexed as of a time it was current' or diag $iout;
write_conf("$DIR/old.conf", %base, crl_index_dir => "$DIR/ix-old", max_failures => 3);
unlink "$DIR/r.jsonl";
($rc, $sum, $err) = run_recheck("--config $DIR/old.conf --reset");
is $rc, 4, 'stale index: exit 4 (provider down)';
like $err, qr/past its nextUpdate/, '... the log says the index is past its nextUpdate';
is_deeply [sort { $a cmp $b } keys %{ { map { $_->{reason} => 1 } @{ read_jsonl("$DIR/r.jsonl") } } }],
    ['crl_stale'], '... no account got a category from it (reason crl_stale)';
is $sum->{yen}, 0, '... and nothing was charged';

# A damaged index: refused at start, exit 2, nothing checked.
mkdir "$DIR/ix-bad";
my ($f) = glob "$DIR/ix/*.crlidx";
my $bytes = slurp($f);
substr($bytes, 200, 1) = chr(ord(substr($bytes, 200, 1)) ^ 0xff);
spew("$DIR/ix-bad/" . ($f =~ s{.*/}{}r), $bytes);
write_conf("$DIR/bad.conf", %base, crl_index_dir => "$DIR/ix-bad");
($rc, $sum, $err) = run_recheck("--config $DIR/bad.conf --reset");
is $rc, 2, 'a damaged index: exit 2';
like $err, qr/crl_index_dir: \S+\.crlidx: /, '... naming the file and why';
write_conf("$DIR/none.conf", %base, crl_index_dir => "$DIR/nowhere");
($rc, $sum, $err) = run_recheck("--config $DIR/none.conf --reset");
is $rc, 2, 'a missing directory: exit 2';
like $err, qr/crl_index_dir: cannot open/, '... said so';

sub _gt ($t) {
    my @g = gmtime $t;
    return sprintf '%04d%02d%02d%02d%02d%02dZ', $g[5] + 1900, $g[4] + 1, @g[3, 2, 1, 0];
}

stop_all();
done_testing;
