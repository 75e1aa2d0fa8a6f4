use strict;
use warnings FATAL => 'all';
use utf8;

# Refusal pages (docs/errors.md "Refusal page"): every AuthType JPKI and
# Require jpki-* refusal that reaches a browser is a short bilingual page
# with the stable code, the title and advice of the one message table
# (core/jpki_messages.c), the login page link when there is one, its own
# headers (UTF-8, no-store, a CSP that allows only its inline style), the
# language order of Accept-Language; an ErrorDocument of the site wins, and
# JSON clients get the JSON body as before. Vhost jpki_refusal
# (t/conf/jpki-refusal.conf.in). The same pages in Chromium (t/e2e/refusal.mjs).
use Apache::Test qw(-withtestmore);
use JPKITest;
use Digest::SHA qw(sha256_base64);
use Encode qw(decode_utf8);
use JSON::PP ();
use HTTP::Request;

my $V = 'jpki_refusal';
my $url = sub { ssl_url($_[0], $V) };
my $m = manifest();
my $alice = "$m->{'auth-alice-1'}{issuer_key_id}:$m->{'auth-alice-1'}{serial}";

sub get {
    my ($path, %o) = @_;
    my $ua = ua(cert => $o{cert});
    my $req = HTTP::Request->new(($o{method} || 'GET') => $url->($path));
    $req->header(Accept => $o{accept} // 'text/html,application/xhtml+xml,*/*;q=0.8');
    $req->header('Accept-Language' => $o{lang}) if defined $o{lang};
    return $ua->request($req);
}

# The page's parts: (code, first language, [sections], login href or undef).
sub parts {
    my ($res) = @_;
    my $b = decode_utf8($res->content);
    my ($code)  = $b =~ m{<code id="error-code">([^<]*)</code>};
    my @langs   = $b =~ m{<section lang="(ja|en)">}g;
    my ($href)  = $b =~ m{<a id="login-link" href="([^"]*)"};
    return ($code, $langs[0], \@langs, $href, $b);
}

sub page_headers_ok {
    my ($res, $what) = @_;
    is $res->header('Content-Type'), 'text/html; charset=utf-8', "$what: text/html; charset=utf-8";
    is $res->header('Cache-Control'), 'no-store', "$what: Cache-Control: no-store";
    is $res->header('X-Content-Type-Options'), 'nosniff', "$what: nosniff";
    my $csp = $res->header('Content-Security-Policy') // '';
    my ($style) = $res->content =~ m{<style>(.*?)</style>}s;
    my $hash = sha256_base64($style // '') . '=';
    is $csp, "default-src 'none'; style-src 'sha256-$hash'; base-uri 'none'; "
        . "form-action 'none'; frame-ancestors 'none'",
        "$what: the CSP allows nothing but the page's own style (by its hash)";
}

# --- TLS client-certificate refusal (403), Japanese browser ----------------------
my $res = get('/tls/env', cert => 'bad-expired', lang => 'ja-JP,ja;q=0.9,en;q=0.8');
is $res->code, 403, 'expired certificate over TLS: 403';
is $res->header('X-JPKI-Error'), 'cert_expired', '... X-JPKI-Error as before';
page_headers_ok($res, 'TLS refusal page');
my ($code, $first, $langs, $href, $body) = parts($res);
is $code, 'cert_expired', 'the page shows the stable code';
is_deeply $langs, [qw(ja en)], 'Accept-Language ja: Japanese first, English second';
like $body, qr{<html lang="ja">}, '... html lang=ja';
like $body, qr{<h1>電子証明書の有効期限が切れています</h1><p>お住まいの市区町村の窓口で利用者証明用電子証明書を更新してください。},
    'Japanese title and advice of the message table';
like $body, qr{<h1>Your card's certificate has expired</h1><p>Renew the user-authentication certificate},
    'English title and advice';
is lc $href, '/login/login.html?lang=ja&amp;x=&lt;b&gt;&amp;return_to=%2ftls%2fenv',
    'login link: JPKILoginPage escaped, back to this page';
unlike $body, qr{<b>}, 'nothing inserted unescaped';

# --- the same refusal, English browser and q-values --------------------------------
for ([ 'en-US,en;q=0.9,ja;q=0.8' => 'en' ], [ 'ja;q=0.5, en;q=0.9' => 'en' ],
     [ 'en;q=0.1, ja-JP' => 'ja' ], [ 'fr, ja;q=0.9' => 'en' ], [ undef, 'en' ]) {
    my ($al, $want) = @$_;
    my (undef, undef, $l) = parts(get('/tls/env', cert => 'bad-expired', lang => $al));
    is_deeply $l, [ $want, $want eq 'ja' ? 'en' : 'ja' ],
        'Accept-Language ' . ($al // '(none)') . ": $want first, both present";
}

# --- certificate-only location: no login page, so no link -----------------------------
$res = get('/tls-only/env', lang => 'en');
is $res->code, 403, 'no certificate on a certificate-only location: 403';
($code, $first, $langs, $href, $body) = parts($res);
is $code, 'cert_missing', '... page with cert_missing';
ok !defined $href && $body !~ /login-link/, '... and no login link (no JPKILoginPage)';
page_headers_ok($res, 'cert_missing page');

# --- JSON clients: the JSON body exactly as before --------------------------------------
$res = get('/tls/env', cert => 'bad-expired', accept => 'application/json', lang => 'ja');
is $res->code, 403, 'JSON client: 403';
is $res->content,
    qq({"error":"cert_expired","message":"The card's certificate has expired. Renew it at your municipal office."}\n),
    '... the one JSON error body, unchanged';
ok !defined $res->header('Content-Security-Policy'), '... without the page headers';

# --- the site's ErrorDocument wins ---------------------------------------------------------
$res = get('/errdoc/env', lang => 'ja');
is $res->code, 403, 'ErrorDocument location: 403';
like $res->content, qr{\Athe site's own refusal text}, "... the site's ErrorDocument, not the page";
ok !defined $res->header('Content-Security-Policy'), '... and none of the page headers';
is $res->header('X-JPKI-Error'), 'cert_missing', '... X-JPKI-Error still names the code';

# --- Require jpki-age-over (jpki-account: the same deny()) ----------------------------------------------------
$res = get('/acct/env', cert => 'auth-alice-1', lang => 'ja');
is $res->code, 401, 'Require jpki-age-over without a birth date: 401';
($code, $first, $langs, $href, $body) = parts($res);
is $code, 'age_unknown', '... page with age_unknown';
is $first, 'ja', '... Japanese first';
like $body, qr{<h1>生年月日が登録されていません</h1>}, '... the table\'s Japanese title';
is lc $href, '/login/login.html?return_to=%2facct%2fenv', '... link to the login page';
page_headers_ok($res, 'age_unknown page (401)');
unlike $body, qr{\Q$m->{'auth-alice-1'}{serial}\E|alice|ALICE}i, '... no serial, no name (no PII)';

$res = get('/acct/env', cert => 'auth-alice-1', accept => 'application/json');
is $res->content, qq({"error":"age_unknown","message":"Your age is not known to this site."}\n),
    'JSON client of Require jpki-age-over: the JSON body as before';

$res = get('/age/env', cert => 'auth-alice-1', lang => 'en');
is $res->code, 403, 'Require jpki-age-over without a birth date: 403';
($code, $first) = parts($res);
is $code, 'age_unknown', '... page with age_unknown';
is $first, 'en', '... English first';

$res = get('/age-errdoc/env', cert => 'auth-alice-1');
like $res->content, qr{\Athe site's own age refusal}, 'authz refusal: the ErrorDocument wins';

# --- an authz refusal another Require overrules: the response is untouched --------------
$res = get('/any/env', cert => 'auth-alice-1');
is $res->code, 200, 'RequireAny (jpki-age-over or valid-user): granted';
is json_of($res)->{REMOTE_USER}, $alice, '... as alice';
ok !defined $res->header('Content-Security-Policy') && ($res->header('Cache-Control') // '') ne 'no-store',
    '... without the refusal page headers';

# --- jpki-session: what the login page asks to show its Log out link ----------------
{
    my $ua = ua();
    my $r = $ua->get(ssl_url('/jpki/session'), Accept => 'application/json');
    is $r->code, 200, 'jpki-session without a session: 200';
    is $r->content, qq({"logged_in":false}\n), '... {"logged_in":false} and nothing else';
    is $r->header('Cache-Control'), 'no-store', '... not cached';
    is login($ua)->code, 200, 'a card login';
    $r = $ua->get(ssl_url('/jpki/session'), Accept => 'application/json');
    is $r->content, qq({"logged_in":true}\n), 'jpki-session with the session: {"logged_in":true}, no identity';
    $r = $ua->post(ssl_url('/jpki/session'));
    is $r->code, 405, 'jpki-session: POST is 405';
    is $r->header('Allow'), 'GET', '... Allow: GET';
}

# --- in Chromium ----------------------------------------------------------------------------
my $vars = Apache::Test::vars();
my $e2e = "$vars->{top_dir}/t/e2e";
if (!-f "$e2e/node_modules/playwright-core/package.json") {    # as t/web/browser.t
    local $ENV{PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD} = 1;
    my $o = `npm ci --prefix '$e2e' --no-audit --no-fund --loglevel=error 2>&1`;
    diag "npm ci in t/e2e failed (needs the npm registry):\n$o" if $?;
}
my $out = '';
{
    local $ENV{JPKI_E2E_BASE} = origin_of($url->('/'));
    local $ENV{JPKI_E2E_SHOTS} = $vars->{t_logs};
    my $pid = open(my $p, '-|') // die "fork: $!";
    if (!$pid) {
        open STDERR, '>&', \*STDOUT;
        setpgrp(0, 0);
        chdir $e2e or die $!;
        exec 'node', 'refusal.mjs' or die "exec node: $!";
    }
    local $SIG{ALRM} = sub { kill 'KILL', -$pid; die "node timed out\n" };
    alarm 120;
    eval { local $/; $out = <$p>; 1 } or diag "node: $@";
    alarm 0;
    close $p;
}
my %seen;
for (split /\n/, $out) {
    next unless /^CHECK (\{.*\})$/;
    my $c = JSON::PP->new->decode($1);
    $seen{ $c->{name} } = $c;
}
for my $name ('chromium ja: the page shows the code', 'chromium ja: Japanese first',
              'chromium en: the page shows the code', 'chromium en: English first',
              'chromium: no console errors and no CSP violations',
              'chromium: the ErrorDocument is shown instead') {
    ok $seen{$name} && $seen{$name}{ok}, $name or diag $seen{$name} ? $seen{$name}{detail} : "not run\n$out";
}

done_testing;
