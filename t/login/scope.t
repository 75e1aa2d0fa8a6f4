use strict;
use warnings FATAL => 'all';

# Sessions and challenges are bound to the host and the policy that issued
# them (issue 9, item 3; docs/security.md "Session scope"): a session or a
# challenge from one vhost is refused on another (session_scope,
# challenge_scope) unless both name the same JPKISessionScope, and httpd -t
# refuses a shared scope whose hosts differ in policy.
use Apache::Test qw(-withtestmore);
use HTTP::Request ();
use JSON::PP ();
use JPKITest;
use JPKIStatus qw(vurl vchallenge vlogin vget);
use JPKIAccount qw(alogin aget sqlite_db);

plan tests => 37;

my $NAME = '__Host-jpki_session';
sub session_cookie {
    my ($res) = @_;
    for ($res->header('Set-Cookie')) { return "$NAME=$1" if /^\Q$NAME\E=([^;]+)/ }
    return undef;
}
sub env_with {
    my ($vhost, $cookie, @h) = @_;
    return ua(no_cookies => 1)->get(vurl($vhost, '/protected/env'), Cookie => $cookie, @h);
}
sub json_get { env_with(@_, Accept => 'application/json') }

# --- a staging session (JPKI-TEST card) is no identity on production -----------
my $res = vlogin(ua(), 'jpki_scope_staging', 'bad-test-hierarchy');
is $res->code, 200, 'staging (JPKIAcceptTestCards On) logs in a JPKI-TEST card' or diag $res->as_string;
my $staging = session_cookie($res);
ok $staging, 'staging session cookie';
$res = json_get('jpki_scope_staging', $staging);
is $res->code, 200, 'the session works on staging';
like $res->decoded_content, qr/"REMOTE_USER"/, '... with an identity';

my $mark = error_log_mark();
$res = json_get('jpki_scope_prod', $staging);
is $res->code, 403, 'the staging session on the production host: 403';
is $res->header('X-JPKI-Error'), 'session_scope', '... X-JPKI-Error session_scope';
is eval { json_of($res)->{error} } // '', 'session_scope', '... JSON error session_scope';
unlike $res->decoded_content, qr/REMOTE_USER|JPKI_CERT_SERIAL/, '... and no identity reached the application';
like join("\n", $res->header('Set-Cookie')), qr/^\Q$NAME\E=; Path=\/; Secure; HttpOnly; SameSite=Lax; Max-Age=0/m,
    '... and the production host clears the cookie';
my $log = error_log_since($mark);
like $log, qr/JPKI0421: session [0-9a-f]{12} refused \(session_scope\): issued for host:\S+ under policy [0-9a-f]{16}, this host is host:\S+ with policy [0-9a-f]{16}/,
    'the refusal is logged with both scopes';
my ($staging_id) = $staging =~ /=(.+)$/;
unlike $log, qr/\Q$staging_id\E/, 'the log line does not contain the session id';

$res = env_with('jpki_scope_prod', $staging);
is $res->code, 403, 'a browser GET with the staging session: 403 too, not a login as someone';
is json_get('jpki_scope_staging', $staging)->code, 200,
    'the refusal elsewhere leaves the staging session alone';

# --- same policy, another host: refused too (the host, not only the policy) ------
$res = vlogin(ua(), 'jpki_scope_prod', 'auth-alice-1');
is $res->code, 200, 'login on production';
my $prod = session_cookie($res);
is json_get('jpki_scope_prod', $prod)->code, 200, 'the production session works there';
$res = json_get('jpki_scope_site_a', $prod);
is $res->code, 403, 'the production session on a host with the same policy but another scope: 403';
is $res->header('X-JPKI-Error'), 'session_scope', '... session_scope';
$res = json_get('jpki_scope_staging', $prod);
is $res->header('X-JPKI-Error'), 'session_scope', 'the production session on staging: session_scope';

# --- one site on two hosts: JPKISessionScope shares the sessions ------------------
$res = vlogin(ua(), 'jpki_scope_site_a', 'auth-alice-1');
is $res->code, 200, 'login on host A of scope site1';
my $site = session_cookie($res);
$res = json_get('jpki_scope_site_b', $site);
is $res->code, 200, 'host B of the same JPKISessionScope accepts it';
like $res->decoded_content, qr/"REMOTE_USER"/, '... as an identity';
is json_get('jpki_scope_prod', $site)->header('X-JPKI-Error'), 'session_scope',
    'a host outside the scope refuses it';

# --- registration sessions are bound the same way ----------------------------------
sqlite_db('reg');
my $rua = ua();
$res = alogin($rua, 'jpki_acct_reg', cert => 'auth-user09');    # used by no other test
is eval { json_of($res)->{registration} } ? 1 : 0, 1, 'a registration session on the account host';
my $reg = session_cookie($res);
$res = ua(no_cookies => 1)->get(vurl('jpki_acct_reg', '/register/env'), Cookie => $reg,
                                Accept => 'application/json');
is $res->code, 200, '... accepted by its own host\'s registration location';
$res = json_get('jpki_scope_prod', $reg);
is $res->code, 403, 'the registration session on another host: 403';
is $res->header('X-JPKI-Error'), 'session_scope', '... session_scope (not no_account, not a login)';

# --- challenges: issued on one host, redeemed on another -------------------------
sub cross_login {
    my ($from, $to, $cert) = @_;
    my $ua = ua();    # one jar: the pre-login cookie travels like a browser's would
    my ($ch) = vchallenge($ua, $from);
    my $req = HTTP::Request->new(POST => vurl($to, '/jpki/login'));
    $req->header('Content-Type' => 'application/json');
    $req->content(JSON::PP::encode_json({ challenge => $ch, certificate => b64(pki_der($cert)),
                                          card_proof($cert, $ch, vhost => $to) }));
    return $ua->request($req);
}
$mark = error_log_mark();
$res = cross_login('jpki_scope_staging', 'jpki_scope_prod', 'auth-alice-1');
is $res->code, 401, 'a staging challenge redeemed on production: 401';
is eval { json_of($res)->{error} } // '', 'challenge_scope', '... challenge_scope';
ok !session_cookie($res), '... and no session';
like error_log_since($mark), qr/JPKI0320: challenge refused \(challenge_scope\): issued for host:\S+/,
    '... logged';
$res = cross_login('jpki_scope_prod', 'jpki_scope_site_a', 'auth-alice-1');
is eval { json_of($res)->{error} } // '', 'challenge_scope', 'same policy, other host: challenge_scope';
$res = cross_login('jpki_scope_site_a', 'jpki_scope_site_b', 'auth-alice-1');
is $res->code, 200, 'a challenge of scope site1 is redeemed on the other host of site1';
$res = cross_login('jpki_scope_prod', 'jpki_scope_prod', 'auth-alice-1');
is $res->code, 200, 'control: issued and redeemed on the same host';

# --- httpd -t: a shared scope must not mix policies ------------------------------
my $trust = "JPKITrustedCA " . pki('trust-all.pem') . "\nJPKIStatusProvider none\n";
sub vhosts {
    my ($a_extra, $b_extra) = @_;
    return $trust . "<VirtualHost 127.0.0.1:1>\nServerName a.example\nJPKISessionScope bank\n$a_extra\n</VirtualHost>\n"
                  . "<VirtualHost 127.0.0.1:1>\nServerName b.example\nJPKISessionScope bank\n$b_extra\n</VirtualHost>\n";
}
my ($rc, $out) = httpd_configtest(vhosts('', 'JPKIAcceptTestCards On'));
isnt $rc, 0, 'httpd -t refuses a shared scope whose hosts differ in JPKIAcceptTestCards';
like $out, qr/JPKISessionScope bank: [ab]\.example:\d+ and [ab]\.example:\d+ share the scope but differ in JPKIAcceptTestCards/,
    '... naming JPKISessionScope and the setting' or diag $out;
($rc, $out) = httpd_configtest(vhosts('JPKIAuthPolicyOID 1.2.392.200149.8.5.1.3.30', ''));
like $out, qr/JPKISessionScope bank: .* differ in JPKIAuthPolicyOID/, 'policy OIDs too' or diag $out;
($rc, $out) = httpd_configtest(vhosts('JPKIStatusProvider none', ''));
is $rc, 0, 'the same policy on both hosts passes httpd -t' or diag $out;
