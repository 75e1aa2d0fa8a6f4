use strict;
use warnings FATAL => 'all';

# Status from the platform operator (issue: status), against the shipped
# simulator (tools/jpki-pf-sim) over mutual TLS with a bearer token:
# GOOD with the PF user id, every revocation reason with its own code,
# the result cache (one PF call per certificate per TTL), coalescing of 50
# concurrent logins into one call, TLS logins by CheckCertificateStatus,
# link_pending, and the liveness re-check that ends a revoked session.
use Apache::Test qw(-withtestmore);
use JSON::PP ();
use POSIX ();
use JPKITest;
use JPKIStatus;

plan tests => 64;

my $m = manifest();
sub nserial { "$m->{$_[0]}{issuer_key_id}:$m->{$_[0]}{serial}" }

my %reasons = revoked_cards();
my %state = (
    users   => { serial_hex('auth-alice-1') => 'usr_alice', serial_hex('auth-alice-2') => 'usr_alice' },
    revoked => { map { serial_hex($_) => { reason => $reasons{$_}[0] } } keys %reasons },
);
sim_start(state => \%state);

# --- GOOD: status, time, PF user id reach the backend -------------------------
my $ua = ua();
my $res = vlogin($ua, 'jpki_pf', 'auth-alice-1');
is $res->code, 200, 'login with a GOOD certificate' or diag $res->as_string;
my $calls = sim_calls();
is $calls->{Verify}, 1, 'one Verify call for the login';
is $calls->{total}, 1, 'and nothing else';
my $env = json_of(vget($ua, 'jpki_pf', '/protected/env'));
is $env->{JPKI_STATUS}, 'good', 'JPKI_STATUS=good';
like $env->{JPKI_STATUS_CHECKED_AT}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'JPKI_STATUS_CHECKED_AT';
is $env->{JPKI_PLATFORM_USER_ID}, 'usr_alice', 'JPKI_PLATFORM_USER_ID from the PF';
ok !exists $env->{JPKI_REVOCATION_REASON}, 'no revocation reason for a good certificate';

# --- the cache: a second login of the same certificate costs nothing ---------
my $mark = error_log_mark();
$res = vlogin(ua(), 'jpki_pf', 'auth-alice-1');
is $res->code, 200, 'second login';
is sim_calls()->{total}, 1, 'served from the status cache: no PF call';
# the session's own re-check is within the TTL as well
is vget($ua, 'jpki_pf', '/protected/env')->code, 200, 'session still valid';
is sim_calls()->{total}, 1, 'no liveness call within the TTL';
# every PF call is audited with its purpose; the cached login is not a call
my $log = error_log_since($mark);
unlike $log, qr/"event":"status_call"/, 'no status_call audit line for a cached answer';

# --- every revocation reason: refused with its own code ------------------------
for my $cert (sort keys %reasons) {
    my ($reason, $code) = @{ $reasons{$cert} };
    $mark = error_log_mark();
    $res = vlogin(ua(), 'jpki_pf', $cert);
    is $res->code, 403, "$cert: 403";
    is json_of($res)->{error}, $code, "$cert: error $code";
    my $s = nserial($cert);
    like error_log_since($mark),
        qr/JPKI0201: login refused: code=\Q$code\E method=challenge serial=\Q$s\E: certificate revoked, reason=\Q$reason\E/,
        "$cert: refusal log line carries the reason";
}
# the audit line of the PF call says revoked
$mark = error_log_mark();
my $before = sim_calls()->{total};
$res = vlogin(ua(), 'jpki_pf', 'auth-rev-hold');
is json_of($res)->{error}, 'cert_revoked_hold', 'a hold stays a refusal (JPKI never releases a hold)';
is sim_calls()->{total}, $before, 'REVOKED is cached too';
like error_log_since($mark), qr/reason=certificateHold \(cached\)/, 'log says the answer came from the cache';

# --- coalescing: 50 concurrent logins, one certificate, cold cache -------------
sim_reset();
my $cert = 'auth-user01';
my @pids;
my $dir = File::Temp->newdir;
for my $i (1 .. 50) {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $r = eval { vlogin(ua(), 'jpki_pf', $cert) };
        open my $fh, '>', "$dir/$i" or POSIX::_exit(1);
        print $fh $r ? $r->code : 'died';
        close $fh;
        POSIX::_exit(0);
    }
    push @pids, $pid;
}
waitpid $_, 0 for @pids;
my %codes;
for my $i (1 .. 50) {
    open my $fh, '<', "$dir/$i" or next;
    $codes{ scalar <$fh> }++;
}
is $codes{200} // 0, 50, '50 concurrent logins with one certificate all succeed'
    or diag explain \%codes;
$calls = sim_calls();
is $calls->{total}, 1, 'the PF was asked exactly once (coalesced)' or diag explain $calls;
is $calls->{by_serial}{ serial_hex($cert) }, 1, '... about that certificate';

# --- TLS client-certificate login: CheckCertificateStatus with the certificate --
sim_reset();
$res = ua(cert => 'auth-alice-2')->get(vurl('jpki_pf', '/tls-only/env'));
is $res->code, 200, 'TLS login checked by the PF' or diag $res->as_string;
$env = json_of($res);
is $env->{JPKI_STATUS}, 'good', 'TLS: JPKI_STATUS=good';
is $env->{JPKI_PLATFORM_USER_ID}, 'usr_alice', 'TLS: renewed certificate, same PF user id';
$calls = sim_calls();
is $calls->{CheckCertificateStatus}, 1, 'TLS login: one CheckCertificateStatus';
is $calls->{Verify}, 0, 'TLS login: no Verify (no challenge signature)';
$res = ua(cert => 'auth-rev-superseded')->get(vurl('jpki_pf', '/tls-only/env'),
                                             Accept => 'application/json');
is $res->code, 403, 'TLS login with a superseded certificate: 403';
is $res->header('X-JPKI-Error'), 'cert_revoked_superseded', 'TLS: stable code in X-JPKI-Error';

# --- link_pending: the PF cannot name the user yet ---------------------------
sim_state({ %state, link_pending => [ serial_hex('auth-bob') ] });
sim_reset();
$ua = ua();
$res = vlogin($ua, 'jpki_pf', 'auth-bob');
is $res->code, 200, 'link_pending: the status is still obtained' or diag $res->as_string;
$calls = sim_calls();
is $calls->{Verify}, 2, 'link_pending: identifyUser refused, asked again without it';
$env = json_of(vget($ua, 'jpki_pf', '/protected/env'));
ok !exists $env->{JPKI_PLATFORM_USER_ID}, 'link_pending: no PF user id';
is $env->{JPKI_STATUS}, 'good', 'link_pending: status good';

# --- liveness: a session re-checks after the TTL (2 s) --------------------------
sim_state(\%state);
sim_reset();
my $carol = ua();
$res = vlogin($carol, 'jpki_pf_live', 'auth-carol');
is $res->code, 200, 'liveness host: login';
my $dave = ua();
is vlogin($dave, 'jpki_pf_live', 'auth-user02')->code, 200, 'liveness host: second user';
$env = json_of(vget($dave, 'jpki_pf_live', '/protected/env'));
my $first_check = $env->{JPKI_STATUS_CHECKED_AT};
is vget($carol, 'jpki_pf_live', '/protected/env')->code, 200, 'within the TTL: no re-check';
is sim_calls()->{CheckCertificateStatus}, 0, 'no liveness call yet';
# the card is revoked at the PF
sim_state({ %state, revoked => { %{ $state{revoked} },
                                 serial_hex('auth-carol') => { reason => 'keyCompromise' } } });
sleep 3;
$mark = error_log_mark();
$res = vget($carol, 'jpki_pf_live', '/protected/env', Accept => 'application/json');
is $res->code, 403, 'after the TTL the revoked card loses access';
is json_of($res)->{error}, 'cert_revoked_key_compromise', 'with the reason code';
$log = error_log_since($mark);
like $log, qr/JPKI0514: session \w+ ended: code=cert_revoked_key_compromise serial=\Q${\ nserial('auth-carol')}\E reason=keyCompromise/,
    'session end logged with the reason';
like $log, qr/audit: \{(?=[^\n]*"event":"status_call")(?=[^\n]*"purpose":"liveness_check")(?=[^\n]*"provider":"platform")(?=[^\n]*"result":"revoked")/,
    'audited as a liveness_check';
$res = vget($carol, 'jpki_pf_live', '/protected/env', Accept => 'application/json');
is $res->code, 401, 'the session is gone';
$calls = sim_calls();
is $calls->{CheckCertificateStatus}, 1, 'one liveness call (by the PF certificate id)';
is $calls->{Verify}, 2, 'no Verify for the liveness check';
# the good session is re-checked and goes on, with a new check time
$res = vget($dave, 'jpki_pf_live', '/protected/env');
is $res->code, 200, 'a good card passes its liveness check';
$env = json_of($res);
isnt $env->{JPKI_STATUS_CHECKED_AT}, $first_check, 'JPKI_STATUS_CHECKED_AT moved on';
is sim_calls()->{CheckCertificateStatus}, 2, 'one more liveness call';
is vget($dave, 'jpki_pf_live', '/protected/env')->code, 200, 'and the new status is cached';
is sim_calls()->{CheckCertificateStatus}, 2, 'no further call within the TTL';

is sim_stop(), 0, 'simulator stopped cleanly';
