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

plan tests => 35;

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
my %reasons = (
    'auth-rev-superseded'    => ['superseded',           'cert_revoked_superseded'],
    'auth-rev-affiliation'   => ['affiliationChanged',   'cert_revoked_affiliation_changed'],
    'auth-rev-cessation'     => ['cessationOfOperation', 'cert_revoked_cessation'],
    'auth-rev-hold'          => ['certificateHold',      'cert_revoked_hold'],
    'auth-rev-keycompromise' => ['keyCompromise',        'cert_revoked_key_compromise'],
    'auth-rev-unspecified'   => ['unspecified',          'cert_revoked'],
);
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
sub make_answer {
    my ($cert, $signer, $nonce, $extra) = @_;
    my $d = File::Temp->newdir;
    system('openssl', 'ocsp', '-issuer', pki('auth-root-g1.crt'), '-cert', pki("$cert.crt"),
           ($nonce ? () : ('-no_nonce')), '-reqout', "$d/req.der") == 0 or die 'reqout';
    system('openssl', 'ocsp', '-index', pki('ocsp-index-auth-g1.txt'), '-CA', pki('auth-root-g1.crt'),
           '-rsigner', pki("$signer.crt"), '-rkey', pki("$signer.key"), @{ $extra || [] },
           '-reqin', "$d/req.der", '-respout', "$replay.tmp") == 0 or die 'respout';
    chmod 0644, "$replay.tmp";
    rename "$replay.tmp", $replay or die;
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

# --- responder gone: fail closed --------------------------------------------------
kill TERM => $pid;
waitpid $pid, 0;
$mark = error_log_mark();
$res = vlogin(ua(), 'jpki_ocsp', 'auth-user04');
is $res->code, 503, 'responder down: 503';
is json_of($res)->{error}, 'status_unavailable', 'responder down: status_unavailable';
like error_log_since($mark), qr/OCSP connect_failed/, 'responder down: logged';
unlink $replay;
