use strict;
use warnings FATAL => 'all';

# The challenge-response login (issue: login): the contract of
# docs/http-contract.md, and every bad input of the issue: each gets its
# stable code, a 4xx, one refusal log line, and never a session.
use Apache::Test qw(-withtestmore);
use File::Temp ();
use JSON::PP ();
use POSIX ();
use JPKITest;

plan tests => 49 + 5 * 19;

my $m = manifest();

# --- success --------------------------------------------------------------------
my $ua = ua();
my ($ch, $cres) = challenge($ua);
is $cres->code, 200, 'GET challenge => 200';
like $cres->header('Content-Type'), qr{^application/json}, 'challenge is JSON';
my $cj = json_of($cres);
like $ch, qr/^[A-Za-z0-9_-]{43}$/, 'challenge: base64url of 32 bytes';
is length(b64url_decode($ch)), 32, 'challenge decodes to 32 bytes';
is $cj->{expires_in}, 120, 'expires_in defaults to 120 s';
is $cj->{digest}, 'sha256', 'digest sha256';
like join("\n", $cres->header('Set-Cookie')), qr/__Host-jpki_session_pre=[A-Za-z0-9_-]{22}; Path=\/; Max-Age=\d+; Secure; HttpOnly; SameSite=Strict/,
    'pre-login cookie binds the challenge to the browser';

my $res = login_request($ua, { challenge => $ch, certificate => b64(pki_der('auth-alice-1')),
                               card_proof('auth-alice-1', $ch), return_to => '/protected/env?x=1' });
is $res->code, 200, 'login => 200' or diag $res->as_string;
my $j = json_of($res);
is $j->{status}, 'ok', 'status ok';
is $j->{redirect}, '/protected/env?x=1', 'redirect is the same-origin return_to';
my ($cookie) = grep { /^__Host-jpki_session=/ } $res->header('Set-Cookie');
like $cookie, qr/^__Host-jpki_session=[A-Za-z0-9_-]{43}; Path=\/; Secure; HttpOnly; SameSite=Lax$/,
    'session cookie: 256-bit id, Secure, HttpOnly, SameSite=Lax';
$res = $ua->get(ssl_url('/protected/env'));
is $res->code, 200, 'protected resource with the session';
my $env = json_of($res);
is $env->{JPKI_AUTH_METHOD}, 'challenge', 'JPKI_AUTH_METHOD=challenge';
is $env->{JPKI_CERT_SERIAL}, "$m->{'auth-alice-1'}{issuer_key_id}:$m->{'auth-alice-1'}{serial}", 'serial';
ok $env->{REMOTE_USER}, 'REMOTE_USER set';
like $env->{JPKI_AUTH_TIME}, qr/^\d{4}-\d\d-\d\dT/, 'JPKI_AUTH_TIME';

# no return_to => "/"
$res = login(ua(), cert => 'auth-bob');
is json_of($res)->{redirect}, '/', 'redirect defaults to /';

# the PEM form of the certificate is accepted too
($ch) = challenge($ua);
$res = login_request($ua, { challenge => $ch, certificate => pki_slurp('auth-carol.crt'),
                            card_proof('auth-carol', $ch) });
is $res->code, 200, 'PEM certificate text accepted';

# --- session rotation: a new id at every login, the old one is dead --------------
my ($old) = map { /^__Host-jpki_session=([^;]+)/ ? $1 : () } $cookie;
$res = login($ua, cert => 'auth-alice-1');
my ($new) = map { /^__Host-jpki_session=([^;]+)/ ? $1 : () } $res->header('Set-Cookie');
isnt $new, $old, 'session id rotated at login';
my $stale = ua(no_cookies => 1);
$res = $stale->get(ssl_url('/protected/env'), Cookie => "__Host-jpki_session=$old", Accept => 'application/json');
is $res->code, 401, 'the pre-rotation session id no longer works';

# --- unauthenticated: browser redirect vs JSON client ------------------------------
$res = ua()->get(ssl_url('/protected/env?a=1&b=2'));
is $res->code, 302, 'browser without session => 302';
is $res->header('Location'), '/login/login.html?return_to=%2fprotected%2fenv%3fa%3d1%26b%3d2',
    'redirect to the login page with the return address';
$res = ua()->get(ssl_url('/protected/env'), Accept => 'application/json');
is $res->code, 401, 'JSON client without session => 401';
is json_of($res)->{error}, 'login_required', 'login_required';
$res = ua()->get(ssl_url('/protected/env'), Cookie => '__Host-jpki_session=' . ('A' x 43));
is $res->code, 302, 'unknown session id => login page';

# --- logout --------------------------------------------------------------------------
my $jar_cookie = "__Host-jpki_session=$new";
$res = ua(no_cookies => 1)->get(ssl_url('/jpki/logout'), Cookie => $jar_cookie);
is $res->code, 405, 'GET logout => 405';
$res = $ua->post(ssl_url('/jpki/logout'));
is $res->code, 200, 'POST logout => 200';
is json_of($res)->{status}, 'ok', 'logout status ok';
like join("\n", $res->header('Set-Cookie')), qr/__Host-jpki_session=; Path=\/; Secure; HttpOnly; SameSite=Lax; Max-Age=0/,
    'logout clears the cookie';
$res = ua(no_cookies => 1)->get(ssl_url('/protected/env'), Cookie => $jar_cookie,
                                Accept => 'application/json');
is $res->code, 401, 'the logged-out session id is refused (record removed)';

# --- the same certificate over TLS and by challenge end in one session model -----------
$res = ua(cert => 'auth-alice-1')->get(ssl_url('/protected/env'));
is $res->code, 200, 'TLS certificate on the protected location';
is json_of($res)->{JPKI_AUTH_METHOD}, 'tls', 'method tls';

# --- replay, expiry, other browser, unknown --------------------------------------------
($ch) = challenge($ua);
my %ok_body = (challenge => $ch, certificate => b64(pki_der('auth-alice-1')),
               card_proof('auth-alice-1', $ch));
is login_request($ua, \%ok_body)->code, 200, 'first use of a challenge';
$res = login_request($ua, \%ok_body);
is $res->code, 401, 'second use refused';
is json_of($res)->{error}, 'challenge_replayed', 'challenge_replayed';

# a failed first attempt burns the challenge too
($ch) = challenge($ua);
$res = login_request($ua, { challenge => $ch, certificate => b64(pki_der('auth-alice-1')),
                            card_proof('auth-bob', $ch) });
is json_of($res)->{error}, 'signature_invalid', 'failed attempt';
$res = login_request($ua, { challenge => $ch, certificate => b64(pki_der('auth-alice-1')),
                            card_proof('auth-alice-1', $ch) });
is json_of($res)->{error}, 'challenge_replayed', 'a challenge used by a failed attempt cannot be retried';

# issued to another browser
my ($ch2) = challenge(ua());
$res = login_request($ua, { challenge => $ch2, certificate => b64(pki_der('auth-alice-1')),
                            card_proof('auth-alice-1', $ch2) });
is json_of($res)->{error}, 'challenge_wrong_browser', 'challenge issued to another browser';

# --- bounded: 10,000 challenges from one client ------------------------------------------
# (total private RSS in KiB, the sorted pids it covers). RssAnon, not
# VmRSS: the shared JPKICache segments are touched page by page as their
# rings fill (64 MB of them in the test server), which is the cache
# growing to its configured size, not a leak.
sub httpd_rss {
    my $pidf = Apache::Test::vars()->{t_logs} . '/httpd.pid';
    open my $fh, '<', $pidf or return 0;
    my $ppid = <$fh>;
    chomp $ppid;
    my $kb = 0;
    my @pids = sort { $a <=> $b } ($ppid, split ' ', `pgrep -P $ppid`);
    for my $pid (@pids) {
        open my $s, '<', "/proc/$pid/status" or next;
        while (<$s>) { $kb += $1 if /^RssAnon:\s+(\d+)/ }
    }
    return ($kb, "@pids");
}
my $keep = ua();
my ($early) = challenge($keep);
$res = login($keep, cert => 'auth-bob');
is $res->code, 200, 'a session opened before the challenge flood';
# Flood in two halves: the first warms everything up (the MPM may start more
# processes), the second must not make httpd grow: the cache evicts.
sub flood {
    my ($per_child) = @_;
    my @kids;
    for my $k (1 .. 4) {
        my $pid = fork // die;
        if (!$pid) {
            my $f = LWP::UserAgent->new(ssl_opts => { SSL_ca_file => Apache::Test::vars()->{sslca} . '/'
                    . Apache::Test::vars()->{sslcaorg} . '/certs/ca.crt' }, keep_alive => 1);
            my $url = ssl_url('/jpki/challenge');
            my $bad = 0;
            for (1 .. $per_child) { $bad++ unless $f->get($url)->code == 200 }
            POSIX::_exit($bad ? 1 : 0);
        }
        push @kids, $pid;
    }
    my $fails = 0;
    for (@kids) { waitpid $_, 0; $fails++ if $? }
    return $fails;
}
# Compare only while the MPM keeps the same processes (it may start or
# retire children under load); the test server's MaxMemFree is low so that
# freed request memory is not kept per thread (t/conf/extra.conf.in).
# Measured phase by phase here, growth halves each time (threads warming
# up: +1.4, +0.8, +0.4 MB), so two warm-up phases come first.
my $fails = flood(1250) + flood(1250);
my ($rss1, $pids1) = httpd_rss();
my ($rss2, $pids2);
for my $try (1 .. 3) {
    $fails += flood(1250);
    ($rss2, $pids2) = httpd_rss();
    last if $pids2 eq $pids1;
    ($rss1, $pids1) = ($rss2, $pids2);
}
is $fails, 0, 'at least 15,000 challenges answered 200';
cmp_ok $rss2 - $rss1, '<', 2 * 1024,
    "no memory growth over 5,000 more challenges (@{[$rss2 - $rss1]} KiB, same processes)";
is $keep->get(ssl_url('/protected/env'))->code, 200,
    'the session survives the flood (challenges and sessions are separate caches)';
$res = login_request($keep, { challenge => $early, certificate => b64(pki_der('auth-bob')),
                              card_proof('auth-bob', $early) });
ok $res->code == 200 || json_of($res)->{error} eq 'challenge_unknown',
    'an early challenge is either still valid or evicted (never an error)';

# --- every bad input ---------------------------------------------------------------------
sub tmpfile { my $t = File::Temp->new; binmode $t; print $t $_[0]; close $t; $t }

sub pss_sign {
    my ($key, $bytes) = @_;
    my $in = tmpfile($bytes);
    return scalar `openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sign @{[pki("$key.key")]} @{[$in->filename]}`;
}

sub raw_sign {    # PKCS#1 v1.5 padding over the bare hash: no DigestInfo
    my ($key, $bytes) = @_;
    require Digest::SHA;
    my $in = tmpfile(Digest::SHA::sha256($bytes));
    return scalar `openssl pkeyutl -sign -inkey @{[pki("$key.key")]} -in @{[$in->filename]}`;
}

my $O = vhost_origin();
sub cd { b64url(client_data($_[0], $O)) }
my $deep = '{"challenge":' . ('[' x 1000) . (']' x 1000) . '}';
my @bad = (
    # name, body-builder (gets a fresh challenge), expected status, expected code(s)
    [ 'unknown challenge', sub { { challenge => 'A' x 43, certificate => b64(pki_der('auth-alice-1')),
          card_proof('auth-alice-1', 'A' x 43) } }, 401, 'challenge_unknown' ],
    [ 'signature by another key', sub { my $c = shift; { challenge => $c, certificate => b64(pki_der('auth-alice-1')),
          card_proof('auth-bob', $c) } }, 401, 'signature_invalid' ],
    [ 'signature over other bytes', sub { my $c = shift; { challenge => $c, certificate => b64(pki_der('auth-alice-1')),
          client_data => cd($c), signature => b64(card_sign('auth-alice-1', 'other bytes')) } },
      401, 'signature_invalid' ],
    [ 'RSA-PSS signature', sub { my $c = shift; { challenge => $c, certificate => b64(pki_der('auth-alice-1')),
          client_data => cd($c), signature => b64(pss_sign('auth-alice-1', client_data($c, $O))) } },
      401, 'signature_invalid' ],
    [ 'raw signature without DigestInfo', sub { my $c = shift; { challenge => $c, certificate => b64(pki_der('auth-alice-1')),
          client_data => cd($c), signature => b64(raw_sign('auth-alice-1', client_data($c, $O))) } },
      401, 'signature_invalid' ],
    [ 'certificate and signature swapped', sub { my $c = shift; { challenge => $c,
          certificate => b64(card_sign('auth-alice-1', client_data($c, $O))), client_data => cd($c),
          signature => b64(pki_der('auth-alice-1')) } },
      400, 'malformed_request' ],
    [ 'signing certificate at login', sub { my $c = shift; { challenge => $c, certificate => b64(pki_der('sign-alice')),
          card_proof('sign-alice', $c) } }, 401, 'cert_wrong_type' ],
    [ 'expired certificate', sub { my $c = shift; { challenge => $c, certificate => b64(pki_der('bad-expired')),
          card_proof('bad-expired', $c) } }, 401, 'cert_expired' ],
    [ 'truncated certificate', sub { my $c = shift; { challenge => $c, certificate => substr(b64(pki_der('auth-alice-1')), 0, 200),
          card_proof('auth-alice-1', $c) } }, 401, 'cert_malformed' ],
    [ 'non-base64 signature', sub { my $c = shift; { challenge => $c, certificate => b64(pki_der('auth-alice-1')),
          client_data => cd($c), signature => '!!not base64!!' } }, 400, 'malformed_request' ],
    [ 'garbage certificate', sub { my $c = shift; { challenge => $c, certificate => b64(pki_slurp('garbage.bin')),
          card_proof('auth-alice-1', $c) } }, 401, 'cert_malformed' ],
    [ 'missing field', sub { my $c = shift; { challenge => $c, certificate => b64(pki_der('auth-alice-1')) } },
      400, 'malformed_request' ],
    [ 'wrong JSON types', sub { my $c = shift; { challenge => $c, certificate => [1, 2], signature => 42 } },
      400, 'malformed_request' ],
    [ 'not a JSON object', sub { '[1,2,3]' }, 400, 'malformed_json' ],
    [ 'JSON nested 1000 deep', sub { $deep }, 400, 'malformed_json' ],
    [ 'body over 64 KiB', sub { my $c = shift; { challenge => $c, certificate => 'A' x 70000, signature => 'AA' } },
      413, 'body_too_large' ],
    [ 'open redirect in return_to', sub { my $c = shift; { challenge => $c, certificate => b64(pki_der('auth-alice-1')),
          card_proof('auth-alice-1', $c), return_to => '//evil.example/' } },
      400, 'invalid_return_to' ],
    [ 'encoded open redirect', sub { my $c = shift; { challenge => $c, certificate => b64(pki_der('auth-alice-1')),
          card_proof('auth-alice-1', $c), return_to => '/%2F%2Fevil.example' } },
      400, 'invalid_return_to' ],
    [ 'absolute URL in return_to', sub { my $c = shift; { challenge => $c, certificate => b64(pki_der('auth-alice-1')),
          card_proof('auth-alice-1', $c), return_to => 'https://evil.example/' } },
      400, 'invalid_return_to' ],
);

for my $b (@bad) {
    my ($name, $build, $status, $code) = @$b;
    my $u = ua();
    my ($c) = challenge($u);
    my $mark = error_log_mark();
    my $r = login_request($u, $build->($c));
    is $r->code, $status, "$name => $status" or diag $r->as_string;
    is json_of($r)->{error}, $code, "$name => $code";
    is $r->header('X-JPKI-Error'), $code, "$name: X-JPKI-Error";
    ok !grep({ /^__Host-jpki_session=[^;]/ } $r->header('Set-Cookie')), "$name: no session cookie";
    like error_log_since($mark), qr/JPKI0201: login refused: code=\Q$code\E method=challenge/,
        "$name: refusal logged";
}

# --- transport-level bad requests ---------------------------------------------------------
($ch) = challenge($ua);
$res = login_request($ua, JSON::PP::encode_json({ challenge => $ch }), ctype => 'text/plain');
is $res->code, 415, 'wrong Content-Type => 415';
is json_of($res)->{error}, 'unsupported_media_type', 'unsupported_media_type';
$res = $ua->get(ssl_url('/jpki/login'));
is $res->code, 405, 'GET on the login handler => 405';
is json_of($res)->{error}, 'method_not_allowed', 'method_not_allowed';
is $res->header('Allow'), 'POST', 'Allow: POST';
$res = $ua->post(ssl_url('/jpki/challenge'));
is $res->code, 405, 'POST on the challenge handler => 405';
