use strict;
use warnings FATAL => 'all';

# Status faults (issue: status): every failure of the platform operator is
# answered 503 {"error":"status_unavailable"} (fail closed) with a log line
# naming the cause, within the time limits, without a crash and without
# tying up the workers; errors are never cached; the grace mode lets a
# recently GOOD certificate through and logs it; the circuit breaker stops
# calling a failing PF and then answers in milliseconds.
use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use File::Temp ();
use POSIX ();
use Time::HiRes ();
use JPKITest;
use JPKIStatus;

plan tests => 63;

my $cert = 'auth-user16';

# One failing login on a vhost: 503 status_unavailable, a log line.
sub fault_case {
    my ($name, $vhost, $log_re, $max_secs) = @_;
    my $mark = error_log_mark();
    my ($res, $secs) = timed(sub { vlogin(ua(), $vhost, $cert) });
    is $res->code, 503, "$name: 503";
    is json_of($res)->{error}, 'status_unavailable', "$name: {\"error\":\"status_unavailable\"}";
    like error_log_since($mark), $log_re, "$name: logged";
    cmp_ok $secs, '<', $max_secs, "$name: answered within ${max_secs} s";
}

# --- PF refuses connections (not started yet) -----------------------------------
fault_case('connection refused', 'jpki_pf_fault',
           qr/JPKI0510: status platform signature_verification serial=\S+ failed: platform connect_failed/, 3);

sim_start(state => {});
my $total = 0;    # PF calls the fault host made so far
sub calls_now { sim_calls()->{total} }

# --- faults injected by the simulator -------------------------------------------
my @faults = (
    ['PF 500', { http_status => 500 }, qr/platform answer unusable \(HTTP 500.*code=internal/, 3],
    ['PF blackholed (timeout)', { blackhole => JSON::PP::true() }, qr/platform timeout after 1[45]\d\d ms/, 4],
    ['malformed JSON', { malformed_json => JSON::PP::true() }, qr/answer unusable.*not JSON|not a JSON object/, 3],
    ['JSON with wrong types', { wrong_types => JSON::PP::true() }, qr/answer unusable \(HTTP 200, \d+ bytes\): \S+ (?:missing or not a string|has the wrong type|has a member of the wrong type)/, 3],
    ['oversized body', { huge_body_mb => 4 }, qr/platform response_too_large/, 4],
    ['connection reset', { reset => JSON::PP::true() }, qr/platform transport_error|platform connect_failed/, 3],
    ['truncated body', { truncate => JSON::PP::true() }, qr/platform transport_error/, 3],
);
for my $f (@faults) {
    my ($name, $fault, $re, $max) = @$f;
    sim_state({ faults => { '*' => $fault } });
    fault_case($name, 'jpki_pf_fault', $re, $max);
}
cmp_ok calls_now(), '>=', scalar(@faults), 'every faulty attempt reached the PF: errors are not cached';

# --- the PF's certificate does not match the pin -------------------------------
sim_state({});
fault_case('TLS certificate not matching the pin', 'jpki_pf_pin',
           qr/platform tls_failed after \d+ ms/, 3);

# --- PF 401: a configuration error naming the directive -------------------------
{
    my $mark = error_log_mark();
    my $res = vlogin(ua(), 'jpki_pf_badtoken', $cert);
    is $res->code, 503, 'PF 401: 503';
    is json_of($res)->{error}, 'status_unavailable', 'PF 401: status_unavailable';
    like error_log_since($mark),
        qr/\[jpki:error\].*JPKI0509: configuration error: the platform operator refused our bearer token \(HTTP 401\); check JPKIPlatformTokenFile \S+pf-token-wrong/,
        'PF 401: logged at error level as a configuration error naming JPKIPlatformTokenFile';
    unlike error_log_since($mark), qr/\Q${\ slurp_token()}\E/, 'the token itself is never logged';
}
sub slurp_token {
    open my $fh, '<', Apache::Test::vars()->{top_dir} . '/t/data/pf-token' or die;
    my $t = <$fh>;
    chomp $t;
    return $t;
}

# --- recovery: the same certificate passes once the PF answers -----------------
sim_reset();
my $res = vlogin(ua(), 'jpki_pf_fault', $cert);
is $res->code, 200, 'PF healthy again: the login passes';
is calls_now(), 1, 'with one PF call (nothing stale was cached)';

# --- workers are not starved while the PF is blackholed --------------------------
# 4 logins wait (up to 5 s) on the blackholed PF; static pages of the same
# server are measured while they wait.
sim_state({ faults => { '*' => { blackhole => JSON::PP::true() } } });
{
    my @pids;
    for my $i (1 .. 4) {
        my $pid = fork // die;
        if (!$pid) {
            vlogin(ua(), 'jpki_pf_slow', 'auth-user11');
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    Time::HiRes::sleep(2.5);    # all of them are now waiting on the PF
    my @static;
    for (1 .. 5) {
        my ($r, $s) = timed(sub { ua()->get(vurl('jpki_pf_slow', '/login.html')) });
        push @static, [$r->code, $s];
    }
    waitpid $_, 0 for @pids;
    is scalar(grep { $_->[0] == 200 } @static), 5, 'static pages are served during the outage';
    cmp_ok((sort { $b <=> $a } map { $_->[1] } @static)[0], '<', 0.9,
           'each within 0.9 s while 4 logins wait on the blackholed PF')
        or diag join ' ', map { sprintf '%d:%.2fs', @$_ } @static;
}

# --- grace: a certificate seen GOOD recently passes while the PF is down ------------
# (a card no PF test with user ids uses: the answer cached here has no PF user id,
# and the status cache is shared by every host on the same source)
sim_state({});
my $ua = ua();
is vlogin($ua, 'jpki_pf_grace', 'auth-user15')->code, 200, 'grace host: GOOD login';
Time::HiRes::sleep(1.3);    # the cached answer (TTL 1 s) has expired
sim_state({ faults => { '*' => { http_status => 503 } } });
my $mark = error_log_mark();
$res = vlogin(ua(), 'jpki_pf_grace', 'auth-user15');
is $res->code, 200, 'PF down: a certificate seen GOOD 1 s ago passes (grace 60)';
my $log = error_log_since($mark);
like $log, qr/JPKI0512: grace pass: signature_verification serial=\S+ allowed while the status source is unavailable \(bad_answer\); last GOOD \d{4}-/,
    'the grace pass is logged';
# the existing session passes its liveness check by grace too
$mark = error_log_mark();
is vget($ua, 'jpki_pf_grace', '/protected/env')->code, 200, 'session liveness check passes by grace';
like error_log_since($mark), qr/JPKI0512: grace pass: liveness_check/, 'and is logged';
$res = vlogin(ua(), 'jpki_pf_grace', 'auth-user14');
is $res->code, 503, 'a certificate never seen GOOD is refused (503)';
is json_of($res)->{error}, 'status_unavailable', '... status_unavailable';
# closed: the same certificate on a closed host whose TTL (2 s) has run out
Time::HiRes::sleep(1.0);
$res = vlogin(ua(), 'jpki_pf_live', 'auth-user15');
is $res->code, 503, 'fail mode closed refuses the same certificate';

# --- circuit breaker: 2 failures open it; then answers come in milliseconds -----
sim_state({ faults => { '*' => { blackhole => JSON::PP::true() } } });
sim_reset();
$mark = error_log_mark();
for my $i (1 .. 2) {
    my ($r, $s) = timed(sub { vlogin(ua(), 'jpki_pf_breaker', 'auth-user13') });
    is $r->code, 503, "breaker host, failure $i: 503";
    cmp_ok $s, '>=', 0.9, "failure $i waited for the 1 s limit";
}
like error_log_since($mark), qr/JPKI0507: circuit breaker open: 2 consecutive failures of the platform status source; no calls for 10 s/,
    'breaker opening logged';
my $before = calls_now();
my @fast;
for (1 .. 3) {
    my ($r, $s) = timed(sub { vlogin(ua(), 'jpki_pf_breaker', 'auth-user12') });
    push @fast, [$r->code, $s];
}
is scalar(grep { $_->[0] == 503 } @fast), 3, 'while open: 503';
cmp_ok((sort { $b <=> $a } map { $_->[1] } @fast)[0], '<', 0.8,
       'while open: answered without waiting for the PF');
is calls_now(), $before, 'while open: the PF is not called';
# another source (the fault host) is not affected by this breaker
sim_state({});
is vlogin(ua(), 'jpki_pf_fault', 'auth-user12')->code, 200, 'other sources unaffected';

is sim_stop(), 0, 'simulator stopped cleanly';
