use strict;
use warnings FATAL => 'all';

# Cookies (issue 9, item 8; docs/security.md "Cookies"): __Host- names for
# the session and pre-login cookies, JPKISessionCookie refuses names and
# paths that cannot be combined, a duplicated (planted) cookie is not used,
# and logout accepts only same-origin requests.
use Apache::Test qw(-withtestmore);
use HTTP::Request ();
use JPKITest;
use JPKIStatus qw(vurl vchallenge vlogin vget);

plan tests => 33;

my $NAME = '__Host-jpki_session';
sub cookie_named {
    my ($res, $name) = @_;
    for ($res->header('Set-Cookie')) { return "$name=$1" if /^\Q$name\E=([^;]+)/ }
    return undef;
}
sub env_with {
    my ($vhost, $cookie) = @_;
    return ua(no_cookies => 1)->get(vurl($vhost, '/protected/env'), Cookie => $cookie,
                                    Accept => 'application/json');
}

# --- names and attributes ---------------------------------------------------------
my $res = ua()->get(vurl('jpki_scope_prod', '/jpki/challenge'));
like join("\n", $res->header('Set-Cookie')),
    qr/^__Host-jpki_session_pre=[A-Za-z0-9_-]{22}; Path=\/; Max-Age=\d+; Secure; HttpOnly; SameSite=Strict$/m,
    'pre-login cookie: __Host-jpki_session_pre, Path=/, Secure, no Domain';
$res = vlogin(ua(), 'jpki_scope_prod', 'auth-alice-1');
my ($set) = grep { /^\Q$NAME\E=/ } $res->header('Set-Cookie');
like $set // '', qr/^__Host-jpki_session=[A-Za-z0-9_-]{43}; Path=\/; Secure; HttpOnly; SameSite=Lax$/,
    'session cookie: __Host-jpki_session, Path=/, Secure, no Domain';
my $cookie = cookie_named($res, $NAME);
is env_with('jpki_scope_prod', $cookie)->code, 200, 'the __Host- session works';
is env_with('jpki_scope_prod', "jpki_session=" . ($cookie =~ s/^[^=]+=//r))->code, 401,
    'the old unprefixed name is not read';

# a path-scoped cookie cannot be __Host-: __Secure-, and the pre-login cookie stays __Host-
$res = ua()->get(vurl('jpki_cookie_path', '/jpki/challenge'));
like join("\n", $res->header('Set-Cookie')), qr/^__Host-app_session_pre=[A-Za-z0-9_-]{22}; Path=\/;/m,
    'path-scoped session: the pre-login cookie is __Host-app_session_pre';
$res = vlogin(ua(), 'jpki_cookie_path', 'auth-alice-1');
like join("\n", $res->header('Set-Cookie')), qr/^__Secure-app_session=[A-Za-z0-9_-]{43}; Path=\/protected; Secure;/m,
    '... and the session cookie __Secure-app_session; Path=/protected';
is env_with('jpki_cookie_path', cookie_named($res, '__Secure-app_session'))->code, 200, '... which works';

# --- a planted duplicate is not used -------------------------------------------------
my ($id) = $cookie =~ /=(.+)$/;
is env_with('jpki_scope_prod', "$NAME=$id; $NAME=" . ('B' x 43))->code, 401,
    'the session cookie twice (one planted): neither is used';
is env_with('jpki_scope_prod', "$NAME=" . ('B' x 43) . "; $NAME=$id")->code, 401, '... in either order';
is env_with('jpki_scope_prod', "other=1; $NAME=$id; x=2")->code, 200, 'control: once among others';

# --- JPKISessionCookie at startup ------------------------------------------------------
my $base = "JPKITrustedCA " . pki('trust-all.pem') . "\nJPKIStatusProvider none\n";
my ($rc, $out) = httpd_configtest($base . "JPKISessionCookie mysession");
isnt $rc, 0, 'httpd -t: an unprefixed name with path / is refused';
like $out, qr/JPKISessionCookie: with path '\/' the name must start with '__Host-' \(e\.g\. __Host-mysession\)/,
    '... naming JPKISessionCookie and the fix' or diag $out;
($rc, $out) = httpd_configtest($base . "JPKISessionCookie __Host-mysession /account");
isnt $rc, 0, 'httpd -t: __Host- with a path other than / is refused';
like $out, qr/JPKISessionCookie: a '__Host-' cookie must have path '\/', not '\/account'/, '... naming it' or diag $out;
($rc, $out) = httpd_configtest($base . "JPKISessionCookie __host-mysession /account");
isnt $rc, 0, '... whatever the case of the prefix';
($rc, $out) = httpd_configtest($base . "JPKISessionCookie __Host-mysession /");
is $rc, 0, '__Host-mysession / passes' or diag $out;
($rc, $out) = httpd_configtest($base . "JPKISessionCookie __Host-mysession");
is $rc, 0, '__Host-mysession (path / by default) passes' or diag $out;
($rc, $out) = httpd_configtest($base . "JPKISessionCookie app_session /account");
is $rc, 0, 'an unprefixed name with a path passes' or diag $out;

# --- logout: same origin only -----------------------------------------------------------
sub logout_with {
    my ($cookie, %h) = @_;
    my $req = HTTP::Request->new(POST => vurl('jpki_scope_prod', '/jpki/logout'));
    $req->header(Cookie => $cookie, %h);
    return ua(no_cookies => 1)->request($req);
}
my $own = vurl('jpki_scope_prod', '/') =~ s{/$}{}r;
my $mark = error_log_mark();
$res = logout_with($cookie, Origin => 'https://evil.example', 'Sec-Fetch-Site' => 'cross-site');
is $res->code, 403, 'a cross-site logout POST: 403';
is eval { json_of($res)->{error} } // '', 'logout_cross_site', '... logout_cross_site';
ok !grep({ /^\Q$NAME\E=;/ } $res->header('Set-Cookie')), '... the cookie is not cleared';
like error_log_since($mark), qr/JPKI0425: logout refused \(logout_cross_site\): Sec-Fetch-Site: cross-site/,
    '... logged';
is env_with('jpki_scope_prod', $cookie)->code, 200, '... and the session is still open';
is logout_with($cookie, Origin => 'https://evil.example')->code, 403, 'a foreign Origin alone: 403';
is logout_with($cookie, Origin => 'null')->code, 403, 'Origin: null (sandboxed frame): 403';
is logout_with($cookie, 'Sec-Fetch-Site' => 'same-site')->code, 403,
    'Sec-Fetch-Site: same-site (a sibling subdomain): 403';
is logout_with($cookie, Origin => $own, 'Sec-Fetch-Site' => 'cross-site')->code, 403,
    'the right Origin but Sec-Fetch-Site cross-site: 403';
is logout_with($cookie, Origin => $own =~ s/localhost/evil.localhost/r)->code, 403,
    'an Origin that only contains our host name: 403';
is env_with('jpki_scope_prod', $cookie)->code, 200, 'after all these the session is still open';
$res = logout_with($cookie, Origin => $own, 'Sec-Fetch-Site' => 'same-origin');
is $res->code, 200, 'a same-origin logout (Origin + Sec-Fetch-Site: same-origin): 200';
is env_with('jpki_scope_prod', $cookie)->code, 401, '... ends the session';

$res = vlogin(ua(), 'jpki_scope_prod', 'auth-alice-1');
$cookie = cookie_named($res, $NAME);
is logout_with($cookie)->code, 200, 'a client that sends neither header (curl, tools/jpki-login): 200';
is env_with('jpki_scope_prod', $cookie)->code, 401, '... ends the session';
