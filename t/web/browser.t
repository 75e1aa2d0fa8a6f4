use strict;
use warnings FATAL => 'all';

# The login page (htdocs/) in a real headless Chromium: Debian's
# /usr/bin/chromium driven by playwright-core (t/e2e/login.mjs, installed with
# `npm ci` into t/e2e/node_modules; no browser is downloaded). Scenarios: the
# software signer from a protected page and back out via logout, the
# card-helper adapter against tools/jpki-test-card-helper, an expired certificate
# with Japanese and English advice, a hostile return_to, every stable error
# code mapped, basic accessibility, the site name, the Log out link only when
# logged in, no buttons without JavaScript, the card helper's download link on
# helper_unreachable, and a phishing page on another origin
# (vhost jpki_phish) relaying a real challenge through the same card helper:
# refused with origin_mismatch. Screenshots go to t/logs/browser-*.png.
use Apache::Test qw(-withtestmore);
use JPKITest;
use IO::Handle ();
use JSON::PP ();
use POSIX ();

my @checks = (
    'software: /protected/env redirects to the login page',
    'software: return_to carries the protected path',
    'logout link: hidden when not logged in',
    'site name: shown with the host',
    'software: without ?signer=software the software signer is not offered',
    'software: ?signer=software shows the software signer',
    'software: lands on the protected resource',
    'software: REMOTE_USER is alice',
    'software: JPKI_AUTH_METHOD=challenge',
    'logout link: shown when logged in',
    'logout: the page says so',
    'logout: the protected page sends the browser to the login page again',
    'logout link: hidden again after logging out',
    'software: no console errors and no CSP violations',
    'card helper: lands on the protected resource',
    "card helper: REMOTE_USER is bob (the helper's card)",
    'card helper: JPKI_AUTH_METHOD=challenge',
    'card helper: the page showed waiting-for-card, then checking',
    'card helper: no console errors and no CSP violations',
    'expired: error code cert_expired shown',
    'expired: English advice (renew at the municipal office)',
    'expired: Japanese advice (市区町村の窓口で更新)',
    'expired: stays on the login page',
    'expired: the error is an alert for screen readers',
    'language toggle: heading in Japanese',
    'language toggle: Japanese error first, html lang=ja',
    'expired: no CSP violations',
    'return_to //evil.example: invalid_return_to shown, no navigation',
    'codes: every stable code has its own message in English and Japanese',
    'codes: revoked -> reissue at the municipal office',
    'codes: superseded -> use the new certificate',
    'codes: expired -> renew',
    'codes: no_account -> register',
    'codes: link_pending -> try again later',
    'codes: status_unavailable -> try again in a few minutes',
    'a11y: every control has a label',
    'a11y: status is an aria-live region',
    'a11y: a Japanese browser gets the Japanese page',
    'nojs: no Log in button without JavaScript',
    'nojs: the page explains in Japanese and English',
    'nojs: no Log out button without JavaScript',
    'helper_unreachable: no helper link before the error',
    'helper_unreachable: links to the configured download page (data-helper-download)',
    'helper_unreachable: an unsafe value falls back to card-helper.html, which explains the helper',
    'phishing: its server got a real challenge from the bank',
    'phishing: the helper refuses an origin chosen by the page',
    'phishing: the helper signed client data naming the phishing origin',
    'phishing: the bank refuses the relayed login with origin_mismatch, no session',
);
my @shots = map { "browser-$_.png" }
    qw(1-software-signer 2-logged-out 3-expired-en 4-expired-ja 5-superseded 6-ja 7-nojs);

plan tests => 6 + @checks + @shots;

my $vars = Apache::Test::vars();
my $top  = $vars->{top_dir};
my $logs = $vars->{t_logs};
my $e2e  = "$top/t/e2e";

# --- playwright-core from the lock file (npm registry), once per checkout --------
unlink "$logs/$_" for @shots;
if (!-f "$e2e/node_modules/playwright-core/package.json") {
    local $ENV{PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD} = 1;
    my $out = `npm ci --prefix '$e2e' --no-audit --no-fund --loglevel=error 2>&1`;
    diag "npm ci in t/e2e failed (needs the npm registry):\n$out" if $?;
}
ok -f "$e2e/node_modules/playwright-core/package.json",
    'playwright-core is installed in t/e2e/node_modules (npm ci)';
ok -x '/usr/bin/chromium', "Debian's chromium is installed (scripts/deps.sh test)";

# --- the software card helper, holding auth-bob's key ---------------------------
(my $base = ssl_url('/')) =~ s{/$}{};
(my $origin = $base) =~ s{^(https://[^/]+).*}{$1};
my $phish = vhost_origin('jpki_phish');    # another origin the helper also trusts
my $hport = $ENV{JPKI_HELPER_PORT} or die 'JPKI_HELPER_PORT is not set (t/TEST.PL)';
my $hpid = open(my $hout, '-|') // die "fork: $!";
if (!$hpid) {
    open STDERR, '>', "$logs/card-helper.log" or die $!;
    exec $^X, "$top/tools/jpki-test-card-helper", '--port', $hport, '--key', pki('auth-bob.key'),
        '--cert', pki('auth-bob.der'), '--origin', $origin, '--origin', $phish,
        '--lifetime', 180
        or die "exec: $!";
}
my $ready = '';
{
    local $SIG{ALRM} = sub { die "timeout\n" };
    alarm 20;
    $ready = eval { scalar <$hout> } // '';
    alarm 0;
}
like $ready, qr{^listening on http://127\.0\.0\.1:$hport}, "card helper listens on 127.0.0.1:$hport";

# --- the browser ------------------------------------------------------------------------
my $m = manifest();
my %serial = map { $_ => "$m->{$_}{issuer_key_id}:$m->{$_}{serial}" } qw(auth-alice-1 auth-bob);
my @codes;
open my $ef, '<', "$top/docs/errors.md" or die "docs/errors.md: $!";
while (<$ef>) { push @codes, $1 if /^\|\s*`([a-z_]+)`\s*\|/ }
close $ef;
# codes the status and account parts of the module add (docs/errors.md grows)
push @codes, grep { my $c = $_; !grep { $_ eq $c } @codes }
    qw(cert_revoked cert_revoked_superseded cert_revoked_key_compromise no_account link_pending
       status_unavailable);

my %seen;
my $mark = error_log_mark();
my $npid = open(my $nout, '-|') // die "fork: $!";
if (!$npid) {
    open STDERR, '>&', \*STDOUT;
    setpgrp(0, 0);    # node and its Chromium: one group, killed together on timeout
    $ENV{JPKI_E2E_BASE}  = $base;
    $ENV{JPKI_E2E_SHOTS} = $logs;
    $ENV{JPKI_E2E_ALICE} = $serial{'auth-alice-1'};
    $ENV{JPKI_E2E_BOB}   = $serial{'auth-bob'};
    $ENV{JPKI_E2E_CODES} = join ' ', @codes;
    $ENV{JPKI_E2E_PHISH} = $phish;
    $ENV{JPKI_E2E_HELPER_PORT} = $hport;
    chdir $e2e or die $!;
    exec 'node', 'login.mjs' or die "exec node: $!";
}
my $other = '';
{
    local $SIG{ALRM} = sub { kill 'KILL', -$npid; die "node timed out\n" };
    alarm 180;
    eval {
        while (my $l = <$nout>) {
            if ($l =~ /^CHECK (\{.*\})$/) {
                my $c = JSON::PP->new->decode($1);    # bytes in, bytes out (UTF-8 names)
                $seen{ $c->{name} } = $c;
            } else {
                $other .= $l;
            }
        }
        1;
    } or diag "node: $@";
    alarm 0;
}
close $nout;
is $? >> 8, 0, 'the node script finished' or diag $other;
for my $name (@checks) {
    my $c = $seen{$name};
    ok $c && $c->{ok}, $name or diag $c ? $c->{detail} : "not run\n$other";
}
my @unknown = grep { my $n = $_; !grep { $_ eq $n } @checks } sort keys %seen;
diag "checks the .t does not know (or failed steps): @unknown\n"
    . join("\n", map { $seen{$_}{detail} } @unknown) if @unknown;

# the relay is in the error log with the phishing origin, and audited
my $log = error_log_since($mark);
like $log, qr{JPKI0340: client data origin \Q$phish\E is not one of this host's origins \(\Q$origin\E\)},
    'the relayed login is logged with the phishing origin';
like $log, qr{JPKI0901: audit: \{[^\n]*"event":"login_refused","code":"origin_mismatch"},
    '... and audited as login_refused / origin_mismatch';

for my $s (@shots) {
    ok -s "$logs/$s" > 5000, "screenshot t/logs/$s";
}

kill 'TERM', $hpid;
waitpid $hpid, 0;
