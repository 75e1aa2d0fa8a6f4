use strict;
use warnings FATAL => 'all';

# Status from CRL indexes (JPKIStatusProvider crl): CRLs made here with
# `openssl ca -gencrl` from the test PKI's CA database of auth-root-g1 (the
# one the OCSP responder uses: six revocations, one per reason), indexed
# by tools/crl/jpki-crl-index into t/logs (JPKICRLIndexDir of the
# jpki_crl and jpki_crl_grace hosts, t/conf/jpki-crl.conf.in), then
# swapped, expired, damaged and forged while httpd runs.
use Apache::Test qw(-withtestmore);
use File::Copy qw(copy);
use File::Temp qw(tempdir);
use POSIX qw(strftime);
use JPKITest;
use JPKIStatus;

plan tests => 76;

my $vars = Apache::Test::vars();
my $logs = $vars->{t_logs};
my $tool = "$vars->{top_dir}/tools/crl/jpki-crl-index";
my $dir = tempdir(CLEANUP => 1);
my $m = manifest();
my $kid = $m->{'auth-alice-1'}{issuer_key_id} // die 'no issuer key id in the manifest';
my $idx = "$logs/$kid.crlidx";
unlink $idx;

# ---- CRLs -------------------------------------------------------------------
# gencrl(name, signer, %opt): a CRL of auth-root-g1's database signed by
# signer's key (a root of the test PKI), as $dir/name.pem. Options:
# without => cert (that revocation taken out), last/next => unix times,
# noaki => 1 (no authorityKeyIdentifier).
sub gencrl {
    my ($name, $signer, %o) = @_;
    my $db = "$dir/$name.index";
    open my $in, '<', pki('ocsp-index-auth-g1.txt') or die $!;
    open my $out, '>', $db or die $!;
    my $drop = $o{without} ? uc $m->{ $o{without} }{serial} : '';
    while (<$in>) {
        my @f = split /\t/;
        # serials compared without leading zeros (the database may pad to whole octets)
        if ($drop and (uc $f[3]) =~ s/^0+//r eq $drop =~ s/^0+//r) { $f[0] = 'V'; $f[2] = '' }
        print $out join "\t", @f;
    }
    close $out;
    copy(pki('ocsp-index-auth-g1.txt.attr'), "$db.attr");
    open my $n, '>', "$dir/crlnumber" or die;
    print $n "01\n";
    close $n;
    open my $c, '>', "$dir/$name.cnf" or die;
    print $c "[ca]\ndefault_ca = d\n[d]\ndatabase = $db\ncrlnumber = $dir/crlnumber\n"
        . "default_md = sha256\ndefault_crl_days = 2\n"
        . ($o{noaki} ? '' : "crl_extensions = e\n[e]\nauthorityKeyIdentifier = keyid:always\n");
    close $c;
    my @t = map { defined $o{$_} ? ("-crl_${_}update", strftime('%Y%m%d%H%M%SZ', gmtime $o{$_})) : () }
        qw(last next);
    open my $save, '>&', \*STDERR or die;
    open STDERR, '>', "$dir/$name.log" or die;    # "Using configuration from ..."
    my $rc = system('openssl', 'ca', '-gencrl', '-batch', '-config', "$dir/$name.cnf",
        '-keyfile', pki("$signer.key"), '-cert', pki("$signer.crt"), @t, '-out', "$dir/$name.pem");
    open STDERR, '>&', $save or die;
    $rc == 0 or die "openssl ca -gencrl $name failed: " . `cat $dir/$name.log`;
    return "$dir/$name.pem";
}

# index(crl, @opts): jpki-crl-index into $dir/out; (exit code, output).
sub index_crl {
    my ($crl, @opt) = @_;
    mkdir "$dir/out";
    my $out = `$tool --roots @{[pki('trust-all.pem')]} --out $dir/out --force @opt $crl 2>&1`;
    return ($? >> 8, $out);
}

# install(file): the index file renamed over the live one (what the tool does).
sub install {
    my ($file) = @_;
    copy($file, "$idx.tmp") or die;
    rename "$idx.tmp", $idx or die;
}

# built(crl, @opts): the index of crl, kept as crl.idx.
sub built {
    my ($crl, @o) = @_;
    my ($rc, $out) = index_crl($crl, @o);
    die "index of $crl failed: $out" if $rc;
    copy("$dir/out/$kid.crlidx", "$crl.idx") or die;
    unlink "$dir/out/$kid.crlidx";
    return "$crl.idx";
}

my $now = time;
my $full = built(gencrl('full', 'auth-root-g1'));
my $full2 = built(gencrl('full2', 'auth-root-g1'));
my $nosup = built(gencrl('nosup', 'auth-root-g1', without => 'auth-rev-superseded'));
my $exp_recent = built(gencrl('recent', 'auth-root-g1', last => $now - 86400, next => $now - 600),
    '--at', $now - 3600);
my $exp_old = built(gencrl('old', 'auth-root-g1', last => $now - 5 * 86400, next => $now - 2 * 86400),
    '--at', $now - 3 * 86400);

# ---- good card, every reason ------------------------------------------------
install($full);
my $mark = error_log_mark();
my $res = vlogin(ua(), 'jpki_crl', 'auth-alice-1');
is $res->code, 200, 'good card: login' or diag $res->as_string;
like error_log_since($mark), qr/audit: \{(?=[^\n]*"event":"status_call")(?=[^\n]*"provider":"crl")(?=[^\n]*"result":"good")/,
    'the CRL check is audited like a status call';
is vlogin(ua(), 'jpki_crl', 'auth-bob')->code, 200, 'leading-00 serial: good';

my %reasons = revoked_cards();
for my $cert (sort keys %reasons) {
    my ($reason, $code) = @{ $reasons{$cert} };
    $mark = error_log_mark();
    $res = vlogin(ua(), 'jpki_crl', $cert);
    is json_of($res)->{error}, $code, "$cert: 403 $code";
    like error_log_since($mark), qr/certificate revoked, reason=\Q$reason\E/, "$cert: reason in the log";
}

# ---- status page: the index and the fees -------------------------------------
my $page = json_of(vget(ua(), 'jpki_crl', '/jpki-status'));
my ($ent) = grep { $_->{issuer_key_id} eq $kid } @{ $page->{crl_indexes} // [] };
ok $ent, 'status page lists the index of auth-root-g1';
is $ent->{entries}, 6, '... with its 6 entries';
ok $ent->{current} && $ent->{next_update} && $ent->{this_update} && defined $ent->{age_seconds},
    '... current, with thisUpdate, nextUpdate and age';
# one more check: counted once, and charged the per-certificate fee
is vlogin(ua(), 'jpki_crl', 'auth-user01')->code, 200, 'another good card';
my $after = json_of(vget(ua(), 'jpki_crl', '/jpki-status'));
is $after->{status_calls}{signature_verification}{auth}{answered} - $page->{status_calls}{signature_verification}{auth}{answered},
    1, 'each CRL check is counted like a status call';
is $after->{yen_spent} - $page->{yen_spent}, $page->{fees_yen}{auth},
    'and charged the fee of one auth certificate check (status page fees_yen)';

# ---- refused CRLs: nothing written, the live index stays --------------------
my @bad = (
    ['wrong signer (another root)', gencrl('other', 'other-root'), qr/no configured root has the CRL's issuer/],
    ['forged root with the same DN', gencrl('forged', 'forged-auth-root'), qr/no configured root has the CRL's issuer key id/],
    ['forged root, no key id', gencrl('forged2', 'forged-auth-root', noaki => 1), qr/signature does not verify/],
    ['expired CRL', gencrl('expired', 'auth-root-g1', last => $now - 5 * 86400, next => $now - 86400), qr/expired: nextUpdate has passed/],
);
{
    my $der = `openssl crl -in $dir/full.pem -outform DER`;
    open my $t, '>', "$dir/trunc.der" or die;
    print $t substr($der, 0, length($der) - 40);
    close $t;
    push @bad, ['truncated CRL', "$dir/trunc.der", qr/not a DER CertificateList/];
}
for my $b (@bad) {
    my ($what, $crl, $re) = @$b;
    unlink "$dir/out/$kid.crlidx";
    my ($rc, $out) = index_crl($crl);
    is $rc, 1, "$what: jpki-crl-index refuses it (exit 1)";
    like $out, $re, "$what: says why";
    ok !-e "$dir/out/$kid.crlidx", "$what: no index written";
}
is json_of(vlogin(ua(), 'jpki_crl', 'auth-rev-hold'))->{error}, 'cert_revoked_hold',
    'the live index still answers';

# ---- fetched over HTTPS (libcurl): this test server serves the CRL ------------
{
    my $htdocs = "$vars->{documentroot}/crl-test-$$.crl";
    copy("$dir/full.pem", $htdocs) or die;
    my $url = ssl_url("/crl-test-$$.crl", 'jpki_crl');
    my $ca = JPKITest::ca_file();
    unlink "$dir/out/$kid.crlidx";
    my $out = `$tool --roots @{[pki('trust-all.pem')]} --out $dir/out --url $url --ca-file $ca --timeout 20 2>&1`;
    is $? >> 8, 0, '--url: fetched over HTTPS and indexed' or diag $out;
    like `$tool --show $dir/out/$kid.crlidx`, qr/^entries 6$/m, '--url: the index has the 6 entries';
    $out = `$tool --roots @{[pki('trust-all.pem')]} --out $dir/out --url $url --ca-file $ca --max-size 1024 2>&1`;
    is $? >> 8, 2, '--url: a CRL over --max-size is not read (exit 2)';
    like $out, qr/fetch failed/, '... fetch failed';
    (my $plain = $url) =~ s/^https:/http:/;
    $out = `$tool --roots @{[pki('trust-all.pem')]} --out $dir/out --url $plain 2>&1`;
    is $? >> 8, 2, '--url: plain http is refused';
    $out = `$tool --roots @{[pki('trust-all.pem')]} --out $dir/out --url $url --ca-file @{[pki('server-ca.crt')]} 2>&1`;
    is $? >> 8, 2, '--url: a server the CA file does not vouch for is refused';
    unlink $htdocs;
}

# ---- expired index: closed 503, grace within its window ----------------------
install($exp_recent);
$mark = error_log_mark();
is vlogin(ua(), 'jpki_crl', 'auth-alice-1')->code, 503, 'index past nextUpdate, fail mode closed: 503';
like error_log_since($mark), qr/CRL index of issuer \Q$kid\E is not current: nextUpdate \S+ passed \d+ s ago/,
    '... logged with the issuer and how old';
is json_of(vlogin(ua(), 'jpki_crl', 'auth-alice-1'))->{error}, 'status_unavailable', '... code status_unavailable';
$mark = error_log_mark();
is vlogin(ua(), 'jpki_crl_grace', 'auth-alice-1')->code, 200, 'grace 3600, nextUpdate 10 min ago: passes';
like error_log_since($mark), qr/grace pass/, '... logged as a grace pass';
is json_of(vlogin(ua(), 'jpki_crl_grace', 'auth-rev-keycompromise'))->{error}, 'cert_revoked_key_compromise',
    'grace: a serial the old index lists is still refused';
$page = json_of(vget(ua(), 'jpki_crl', '/jpki-status'));
($ent) = grep { $_->{issuer_key_id} eq $kid } @{ $page->{crl_indexes} };
ok !$ent->{current}, 'status page: the index is not current';
install($exp_old);
is vlogin(ua(), 'jpki_crl_grace', 'auth-alice-1')->code, 503, 'grace 3600, nextUpdate 2 days ago: 503';

# ---- missing and corrupt indexes: no answer, logged, no crash ----------------
sub corrupt {
    my ($name, $edit) = @_;
    open my $f, '<:raw', $full or die;
    local $/;
    my $b = <$f>;
    $edit->(\$b);
    my $p = "$dir/$name.idx";
    open my $o, '>:raw', $p or die;
    print $o $b;
    close $o;
    return $p;
}
my @corrupt = (
    ['bad magic', corrupt('magic', sub { substr(${ $_[0] }, 0, 1) = 'X' }), qr/bad magic/],
    ['truncated', corrupt('trunc', sub { substr(${ $_[0] }, -5) = '' }), qr/size does not match/],
    ['count not matching', corrupt('count', sub { substr(${ $_[0] }, 75, 1) = "\x07" }), qr/size does not match/],
    ['unsorted', corrupt('unsorted', sub { my $e1 = substr(${ $_[0] }, 128, 24);
        substr(${ $_[0] }, 128, 24) = substr(${ $_[0] }, 152, 24); substr(${ $_[0] }, 152, 24) = $e1 }),
        qr/not sorted/],
);
for my $c (@corrupt) {
    my ($what, $file, $re) = @$c;
    install($file);
    $mark = error_log_mark();
    is vlogin(ua(), 'jpki_crl', 'auth-alice-1')->code, 503, "corrupt index ($what): 503";
    like error_log_since($mark), qr/JPKI1301.*refused: .*$re/, "corrupt index ($what): logged";
}
unlink $idx;
$mark = error_log_mark();
is vlogin(ua(), 'jpki_crl', 'auth-alice-1')->code, 503, 'no index file: 503';
like error_log_since($mark), qr/no index file/, '... logged';

# ---- swap under load: no window ----------------------------------------------
# A child swaps the index between two CRLs that both revoke the card, as
# fast as it can, while logins run: none may pass.
install($full);
my $stop = "$dir/stop";
my $swapper = fork // die;
if (!$swapper) {
    my $i = 0;
    until (-e $stop) { install($i++ % 2 ? $full : $full2) }
    exit 0;
}
# 4 concurrent clients, 20 logins each (requests of one child overlap a swap)
my @clients;
for my $c (1 .. 4) {
    my $pid = fork // die;
    if (!$pid) {
        my %mine;
        $mine{ vlogin(ua(), 'jpki_crl', 'auth-rev-superseded')->code }++ for 1 .. 20;
        open my $o, '>', "$dir/client$c" or die;
        print $o join(' ', %mine), "\n";
        close $o;
        exit 0;
    }
    push @clients, $pid;
}
waitpid $_, 0 for @clients;
open my $s, '>', $stop;
close $s;
waitpid $swapper, 0;
my %got;
for my $c (1 .. 4) {
    open my $i, '<', "$dir/client$c" or next;
    my %m = split ' ', scalar <$i>;
    $got{$_} += $m{$_} for keys %m;
}
is_deeply \%got, { 403 => 80 }, 'swap between two CRLs that revoke the card, 4 clients: 80 of 80 refused, none passed or 503'
    or diag explain \%got;

# a swap from a CRL without the serial to one with it: refused from then on
install($nosup);
is vlogin(ua(), 'jpki_crl', 'auth-rev-superseded')->code, 200, 'CRL without the serial: the card passes';
install($full);
is json_of(vlogin(ua(), 'jpki_crl', 'auth-rev-superseded'))->{error}, 'cert_revoked_superseded',
    'after the swap to a CRL that lists it: refused at the next request';

# ---- sessions: the liveness re-check reads the new index ---------------------
install($nosup);
my $sess = ua();
is vlogin($sess, 'jpki_crl', 'auth-rev-superseded')->code, 200, 'session: login while not listed';
is vget($sess, 'jpki_crl', '/protected/env')->code, 200, 'session: protected page';
install($full);
sleep 3;    # JPKIStatusCacheTTL 2
$mark = error_log_mark();
$res = vget($sess, 'jpki_crl', '/protected/env', Accept => 'application/json');
is json_of($res)->{error}, 'cert_revoked_superseded', 'after the TTL the session ends with the reason code';
my $log = error_log_since($mark);
like $log, qr/JPKI0514: session \w+ ended: code=cert_revoked_superseded/, '... logged';
like $log, qr/audit: \{(?=[^\n]*"event":"status_call")(?=[^\n]*"purpose":"liveness_check")(?=[^\n]*"provider":"crl")(?=[^\n]*"result":"revoked")/,
    '... audited as a liveness_check of the crl provider';

# ---- Prometheus -----------------------------------------------------------------
my $prom = vget(ua(), 'jpki_crl', '/jpki-status?format=prometheus')->content;
like $prom, qr/^jpki_crl_index_entries\{issuer_key_id="\Q$kid\E"\} 6$/m, 'Prometheus: entries of the index';
like $prom, qr/^jpki_crl_index_current\{issuer_key_id="\Q$kid\E"\} 1$/m, 'Prometheus: current';

# ---- configuration errors name the directive --------------------------------
my $trust = 'JPKITrustedCA ' . pki('trust-all.pem');
my ($rc, $out) = httpd_configtest("$trust\nJPKIStatusProvider crl");
isnt $rc, 0, 'crl without JPKICRLIndexDir: httpd -t fails';
like $out, qr/JPKICRLIndexDir is required with JPKIStatusProvider crl/, '... naming JPKICRLIndexDir';
($rc, $out) = httpd_configtest("$trust\nJPKIStatusProvider crl\nJPKICRLIndexDir /nonexistent/crl");
like $out, qr/JPKICRLIndexDir \/nonexistent\/crl: not a readable directory/, 'unreadable directory named';
my $empty = tempdir(CLEANUP => 1);
($rc, $out) = httpd_configtest("$trust\nJPKIStatusProvider crl\nJPKICRLIndexDir $empty");
is $rc, 0, 'an empty index directory is not fatal (the indexer may run later)';
like $out, qr/JPKI1303: JPKICRLIndexDir \Q$empty\E has no index for the root \Q$kid\E/, '... but each root without an index is warned about';
