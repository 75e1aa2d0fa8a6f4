use strict;
use warnings FATAL => 'all';

# Status by OCSP (RFC 6960) against a real `openssl ocsp` responder started
# here (ocsp-auth-g1: a responder delegated by auth-root-g1), and against
# answers made by `openssl ocsp` and replayed by t/cgi-bin/ocsp-replay.cgi
# to drive each check: an answer about another certificate, one signed by
# an unauthorised key, one too old, one with a foreign nonce.
use Apache::Test qw(-withtestmore);
use File::Temp ();
use JPKITest;
use JPKIStatus;

plan tests => 49;

my $vars = Apache::Test::vars();
my $port = $ENV{JPKI_OCSP_PORT};
my $m = manifest();
my $replay = "$vars->{t_logs}/ocsp-replay.der";
unlink $replay;

my $log = "$vars->{t_logs}/ocsp-responder.log";
my $pid = fork // die "fork: $!";
if (!$pid) {
    open STDOUT, '>', $log;
    open STDERR, '>&', \*STDOUT;
    exec 'timeout', '300', 'openssl', 'ocsp', '-index', pki('ocsp-index-auth-g1.txt'),
        '-port', $port, '-rsigner', pki('ocsp-auth-g1.crt'),
        '-rkey', pki('ocsp-auth-g1.key'), '-CA', pki('auth-root-g1.crt'), '-nmin', '5',
        '-ignore_err';
    die "exec: $!";
}
# Wait for "ACCEPT": never probe the single-connection responder (P9).
for (1 .. 100) {
    last if -s $log and do { open my $f, '<', $log; local $/; <$f> =~ /ACCEPT/ };
    select undef, undef, undef, 0.1;
}

# --- good, cached -------------------------------------------------------------
my $ua = ua();
my $mark = error_log_mark();
my $res = vlogin($ua, 'jpki_ocsp', 'auth-alice-1');
is $res->code, 200, 'OCSP good: login' or diag $res->as_string;
my $env = json_of(vget($ua, 'jpki_ocsp', '/protected/env'));
is $env->{JPKI_STATUS}, 'good', 'JPKI_STATUS=good';
ok $env->{JPKI_STATUS_CHECKED_AT}, 'JPKI_STATUS_CHECKED_AT';
like error_log_since($mark), qr/audit: \{(?=[^\n]*"event":"status_call")(?=[^\n]*"purpose":"signature_verification")(?=[^\n]*"provider":"ocsp")(?=[^\n]*"result":"good")/,
    'the OCSP call is audited';
$mark = error_log_mark();
is vlogin(ua(), 'jpki_ocsp', 'auth-alice-1')->code, 200, 'second login';
unlike error_log_since($mark), qr/status_call/, 'served from the cache (no OCSP call)';
# leading-00 serial (DER 9 bytes) is looked up correctly
is vlogin(ua(), 'jpki_ocsp', 'auth-bob')->code, 200, 'leading-00 serial: good';

# --- every revocation reason ---------------------------------------------------
my %reasons = revoked_cards();
for my $cert (sort keys %reasons) {
    my ($reason, $code) = @{ $reasons{$cert} };
    $mark = error_log_mark();
    $res = vlogin(ua(), 'jpki_ocsp', $cert);
    is json_of($res)->{error}, $code, "$cert: 403 $code";
    like error_log_since($mark), qr/certificate revoked, reason=\Q$reason\E/, "$cert: reason in the log";
}

# --- certificate of another root generation: the responder is not authorised ----
$mark = error_log_mark();
$res = vlogin(ua(), 'jpki_ocsp', 'auth-carol');
is $res->code, 503, 'auth-root-g2 certificate: g1 responder cannot vouch for it: 503';
like error_log_since($mark), qr/OCSP response refused \(ocsp_signature\)/, '... logged as a signature/authorisation refusal';

# --- canned answers ---------------------------------------------------------------
# make_answer(cert, signer, nonce?): the DER answer openssl gives to a
# request about cert, written where the replay CGI serves it.
# %o: index => another index file, past => seconds the responder's clock
# is set back (an LD_PRELOAD shim over time(), so thisUpdate and producedAt
# are that old: openssl ocsp has no option for it).
sub make_answer {
    my ($cert, $signer, $nonce, $extra, %o) = @_;
    my $d = File::Temp->newdir;
    system('openssl', 'ocsp', '-issuer', pki('auth-root-g1.crt'), '-cert', pki("$cert.crt"),
           ($nonce ? () : ('-no_nonce')), '-reqout', "$d/req.der") == 0 or die 'reqout';
    local $ENV{LD_PRELOAD} = $o{past} ? time_shim() : $ENV{LD_PRELOAD};
    local $ENV{JPKI_TIME_SHIFT} = $o{past} // 0;
    system('openssl', 'ocsp', '-index', $o{index} // pki('ocsp-index-auth-g1.txt'), '-CA', pki('auth-root-g1.crt'),
           '-rsigner', pki("$signer.crt"), '-rkey', pki("$signer.key"), @{ $extra || [] },
           '-reqin', "$d/req.der", '-respout', "$replay.tmp") == 0 or die 'respout';
    chmod 0644, "$replay.tmp";
    rename "$replay.tmp", $replay or die;
}

my $shim;
sub time_shim {
    return $shim if $shim;
    my $dir = "$vars->{t_logs}/time-shim";
    mkdir $dir;
    open my $c, '>', "$dir/shim.c" or die;
    print $c <<'EOC';
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>
time_t time(time_t *t)
{
    time_t (*real)(time_t *) = (time_t (*)(time_t *))dlsym(RTLD_NEXT, "time");
    const char *s = getenv("JPKI_TIME_SHIFT");
    time_t v = real(NULL) - (s ? atol(s) : 0);
    if (t) *t = v;
    return v;
}
EOC
    close $c;
    system('cc', '-shared', '-fPIC', '-o', "$dir/shim.so", "$dir/shim.c", '-ldl') == 0 or die 'cc shim';
    return $shim = "$dir/shim.so";
}

sub canned_case {
    my ($name, $vhost, $cert, $re) = @_;
    my $mark = error_log_mark();
    my $res = vlogin(ua(), $vhost, $cert);
    is $res->code, 503, "$name: 503";
    like error_log_since($mark), $re, "$name: logged";
}

make_answer('auth-bob', 'ocsp-auth-g1', 0);
canned_case('answer about another certificate', 'jpki_ocsp_canned_nn', 'auth-user03',
            qr/OCSP response refused \(ocsp_wrong_certificate\): the response is not about the certificate we asked for/);
make_answer('auth-user03', 'ocsp-rogue', 0);
canned_case('answer signed by an unauthorised key', 'jpki_ocsp_canned_nn', 'auth-user03',
            qr/OCSP response refused \(ocsp_signature\)/);
make_answer('auth-user03', 'ocsp-auth-g1', 1);
canned_case('nonce mismatch (a replayed answer)', 'jpki_ocsp_canned', 'auth-user03',
            qr/OCSP response refused \(ocsp_nonce\): nonce in the response differs from ours/);
make_answer('auth-user03', 'ocsp-auth-g1', 0);
canned_case('answer without nonce where one is required', 'jpki_ocsp_canned', 'auth-user03',
            qr/OCSP response refused \(ocsp_nonce\): response carries no nonce/);
sleep 3;
canned_case('answer too old (JPKIOCSPMaxAge 2)', 'jpki_ocsp_canned_nn', 'auth-user03',
            qr/OCSP response refused \(ocsp_stale\): thisUpdate is older than JPKIOCSPMaxAge/);
make_answer('auth-user03', 'ocsp-auth-g1', 0);
is vlogin(ua(), 'jpki_ocsp_canned_nn', 'auth-user03')->code, 200,
    'the same answer made fresh is accepted (so the refusals above were the checks)';

# --- no nonce and no JPKIOCSPMaxAge: the default age limit (600 s) -----------------
# A real, validly signed answer made 20 minutes ago, current by its
# nextUpdate (1 day): without the default it could be replayed for a day.
make_answer('auth-user15', 'ocsp-auth-g1', 0, ['-ndays', '1'], past => 1200);
canned_case('20-minute-old answer, nonce off, JPKIOCSPMaxAge unset', 'jpki_ocsp_canned_nnd', 'auth-user15',
            qr/OCSP response refused \(ocsp_stale\): thisUpdate is older than JPKIOCSPMaxAge/);
make_answer('auth-user15', 'ocsp-auth-g1', 0, ['-ndays', '1'], past => 120);
is vlogin(ua(), 'jpki_ocsp_canned_nnd', 'auth-user15')->code, 200,
    'a 2-minute-old answer on the same host is accepted (so the refusal was the age)';

# --- fees (issue 9 item 11d): an answered check costs its fee whatever the
# answer (jpki-facts 5: per validity check), "unknown" included; errors cost nothing.
# The responder's index without auth-user10: openssl ocsp answers "unknown".
my $page = sub { json_of(ua()->get(ssl_url('/jpki-status', 'jpki_export'))) };
my $prom = sub {
    my ($y) = ua()->get(ssl_url('/jpki-status?format=prometheus', 'jpki_export'))->decoded_content
        =~ /^jpki_fees_yen_total (\d+)$/m;
    return $y;
};
{
    my $serial = manifest()->{'auth-user10'}{serial};
    my $idx = "$vars->{t_logs}/ocsp-index-no-user10.txt";
    open my $in, '<', pki('ocsp-index-auth-g1.txt') or die;
    open my $out, '>', $idx or die;
    print $out grep { !/\t0*\Q$serial\E\t/i } <$in>;
    close $out;
    make_answer('auth-user10', 'ocsp-auth-g1', 0, [], index => $idx);
}
my ($before, $pbefore) = ($page->(), $prom->());
$mark = error_log_mark();
$res = vlogin(ua(), 'jpki_ocsp_canned_nn', 'auth-user10');
is $res->code, 403, 'OCSP "unknown": 403';
is json_of($res)->{error}, 'cert_status_unknown', '... cert_status_unknown';
like error_log_since($mark), qr/"event":"status_call"(?=[^\n]*"provider":"ocsp")(?=[^\n]*"result":"unknown")(?=[^\n]*"yen":2[,}])/,
    '... the audit line charges 2 yen (a user-authentication check)';
my ($after, $pafter) = ($page->(), $prom->());
is $after->{yen_spent} - $before->{yen_spent}, 2, '... yen_spent +2';
is $pafter - $pbefore, 2, '... jpki_fees_yen_total +2 (Prometheus agrees)';
is $after->{status_calls}{signature_verification}{auth}{answered}
     - $before->{status_calls}{signature_verification}{auth}{answered}, 1, '... one answered call';
# an error costs nothing (a refused answer: about another certificate)
make_answer('auth-bob', 'ocsp-auth-g1', 0);
$mark = error_log_mark();
is vlogin(ua(), 'jpki_ocsp_canned_nn', 'auth-user10')->code, 503, 'an unusable answer: 503';
like error_log_since($mark), qr/"event":"status_call"(?=[^\n]*"result":"error:ocsp_wrong_certificate")(?=[^\n]*"yen":0[,}])/,
    '... costs 0 yen in the audit line';
is $page->()->{yen_spent} - $after->{yen_spent}, 0, '... and nothing on the status page';
# the documentation says the same
for my $doc (qw(directives.md status-page.md)) {
    open my $fh, '<', "$vars->{top_dir}/docs/$doc" or die "$doc: $!";
    my $text = do { local $/; <$fh> };
    my ($para) = $doc eq 'directives.md' ? $text =~ /^## JPKIFee\n(.*?)^## /ms
                                         : $text =~ /^(\| `yen_spent` .*)$/m;
    like $para // '', qr/`unknown`/, "docs/$doc: an \"unknown\" answer is charged too";
}

# --- responder gone: fail closed --------------------------------------------------
kill TERM => $pid;
waitpid $pid, 0;
$mark = error_log_mark();
$res = vlogin(ua(), 'jpki_ocsp', 'auth-user04');
is $res->code, 503, 'responder down: 503';
is json_of($res)->{error}, 'status_unavailable', 'responder down: status_unavailable';
like error_log_since($mark), qr/OCSP connect_failed/, 'responder down: logged';
unlink $replay;
