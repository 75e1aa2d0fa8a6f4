use strict;
use warnings FATAL => 'all';

# The TLS client-certificate login path (issue: foundation). Every bad
# certificate gets a 403 with a stable code (X-JPKI-Error) and one log line
# naming the check; never a 500 or a TLS abort.
use Apache::Test qw(-withtestmore);
use JPKITest;

my @bad = (
    [ 'bad-expired',        'cert_expired' ],
    [ 'bad-notyet',         'cert_not_yet_valid' ],
    [ 'bad-unknown-issuer', 'cert_untrusted' ],
    [ 'bad-forged',         'cert_untrusted' ],
    [ 'sign-alice',         'cert_wrong_type' ],
    [ 'bad-wrong-policy',   'cert_policy' ],
    [ 'bad-no-digsig',      'cert_key_usage' ],
    [ 'bad-rsa1024',        'cert_weak_key' ],
    [ 'bad-sha1',           'cert_weak_signature' ],
    [ 'bad-unknown-crit',   'cert_critical_extension' ],
    [ 'bad-test-hierarchy', 'cert_test_hierarchy' ],
);

plan tests => 14 + 4 * @bad;

my $m = manifest();

# --- a valid user-authentication certificate --------------------------------
my $res = ua(cert => 'auth-alice-1')->get(ssl_url('/tls-only/env'));
is $res->code, 200, 'valid user-authentication certificate => 200' or diag $res->as_string;
my $env = json_of($res);
my $a1 = $m->{'auth-alice-1'};
my $serial = "$a1->{issuer_key_id}:$a1->{serial}";
is $env->{JPKI_CERT_SERIAL}, $serial, 'JPKI_CERT_SERIAL is issuer key id + normalised serial';
is $env->{JPKI_CERT_TYPE}, 'auth', 'JPKI_CERT_TYPE=auth';
is $env->{JPKI_AUTH_METHOD}, 'tls', 'JPKI_AUTH_METHOD=tls';
like $env->{JPKI_CERT_ISSUER}, qr/OU=JPKI for user authentication/, 'JPKI_CERT_ISSUER is the J-LIS DN';
like $env->{JPKI_CERT_NOT_AFTER}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
    'JPKI_CERT_NOT_AFTER is ISO 8601 UTC';
is $env->{REMOTE_USER}, $serial, 'REMOTE_USER carries the normalised serial (no account mapping yet)';

# --- the second root generation: same DN, other key ---------------------------
$res = ua(cert => 'auth-alice-2')->get(ssl_url('/tls-only/env'));
is $res->code, 200, 'certificate of the second root generation => 200 (issuer chosen by key)';
is json_of($res)->{JPKI_CERT_SERIAL},
    "$m->{'auth-alice-2'}{issuer_key_id}:$m->{'auth-alice-2'}{serial}",
    'serial carries the issuing generation\'s key id';

# --- the TLS login opens a session: the cookie alone then suffices ---------------
my $ua = ua(cert => 'auth-bob');
$res = $ua->get(ssl_url('/tls-only/env'));
is $res->code, 200, 'auth-bob via TLS';
my $jar = $ua->cookie_jar;
my $ua2 = ua();              # no client certificate
$ua2->cookie_jar($jar);
$res = $ua2->get(ssl_url('/tls-only/env'));
is $res->code, 200, 'session cookie from the TLS login works without the certificate';
is json_of($res)->{JPKI_AUTH_METHOD}, 'tls', 'session remembers the TLS method';

# --- no certificate ---------------------------------------------------------------
my $mark = error_log_mark();
$res = ua()->get(ssl_url('/tls-only/env'));
is $res->code, 403, 'no certificate => 403';
like error_log_since($mark), qr/JPKI\d+: login refused: code=cert_missing/, 'logged: cert_missing';

# --- every bad certificate ---------------------------------------------------------
for my $case (@bad) {
    my ($name, $code) = @$case;
    $mark = error_log_mark();
    $res = $name =~ /rsa1024|sha1/ ? weak_client_get($name, '/tls-only/env')
                                   : ua(cert => $name)->get(ssl_url('/tls-only/env'));
    is $res->code, 403, "$name => 403" or diag $res->as_string;
    is $res->header('X-JPKI-Error'), $code, "$name => $code";
    my $log = error_log_since($mark);
    like $log, qr/JPKI\d+: login refused: code=\Q$code\E method=tls/, "$name: one refusal line names the check";
    unlike $log, qr/AH00\d+.*(segfault|exit signal)/i, "$name: no crash";
}
