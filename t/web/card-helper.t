use strict;
use warnings FATAL => 'all';

# The real card helper (tools/card-helper) end to end with mod_jpki: SoftHSM2
# holds auth-bob (and sign-bob on the same token), a scripted pinentry types
# the PIN (tests/helper/fake-pinentry), the helper signs the origin-bound
# client data, mod_jpki accepts it. A phishing page on another local origin
# relaying a real challenge: refused by the helper; with the helper told to
# allow that origin, refused by mod_jpki (origin_mismatch). Both over the
# helper's HTTP API and in headless Chromium (t/e2e/card-helper.mjs).
use Apache::Test qw(-withtestmore);
use JPKITest;
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use JSON::PP ();
use MIME::Base64 qw(decode_base64);

plan tests => 22;

my $vars = Apache::Test::vars();
my $top  = $vars->{top_dir};
my $logs = $vars->{t_logs};
my $bin  = "$top/tools/card-helper/jpki-card-helper";
my ($hsm) = grep { -f } '/usr/lib/softhsm/libsofthsm2.so', '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so';
die "SoftHSM2 is not installed (scripts/deps.sh test)\n" unless $hsm;
die "$bin is not built (configure found no libmicrohttpd/p11-kit/libassuan?)\n" unless -x $bin;
my $hport = $ENV{JPKI_HELPER_PORT} or die 'JPKI_HELPER_PORT is not set (t/TEST.PL)';
my $JSON = JSON::PP->new->canonical;

# --- the token: auth-bob + sign-bob on one SoftHSM2 token, PIN 1234 ---------------
my $dir = tempdir('card-helper-XXXXXX', TMPDIR => 1, CLEANUP => 1);
mkdir "$dir/tokens";
open my $cf, '>', "$dir/softhsm2.conf" or die $!;
print $cf "directories.tokendir = $dir/tokens\nobjectstore.backend = file\nlog.level = ERROR\n";
close $cf;
$ENV{SOFTHSM2_CONF} = "$dir/softhsm2.conf";
sub sh { my $o = qx{@_ 2>&1}; die "@_: $o" if $?; $o }
sh("softhsm2-util --init-token --free --label bob --pin 1234 --so-pin 12345678");
for (['sign-bob', '02'], ['auth-bob', '01']) {
    my ($n, $id) = @$_;
    sh("softhsm2-util --import " . pki("$n.key") . " --token bob --label $n --id $id --pin 1234");
    sh("pkcs11-tool --module $hsm --token-label bob --login --pin 1234 --write-object "
       . pki("$n.der") . " --type cert --id $id --label $n");
}
open my $pc, '>', "$dir/pinentry.ctl" or die $!;
print $pc "pin 1234\n";
close $pc;
$ENV{FAKE_PINENTRY_CTL} = "$dir/pinentry.ctl";

(my $bank = ssl_url('/')) =~ s{/$}{};
$bank =~ s{^(https://[^/]+).*}{$1};
my $phish = "http://$vars->{servername}:$vars->{port}";    # the plain-http test server
my $m = manifest();
my $bob = "$m->{'auth-bob'}{issuer_key_id}:$m->{'auth-bob'}{serial}";

my @pids;
END { kill 'TERM', @pids if @pids; waitpid $_, 0 for @pids }
sub start_helper {
    my (@origins) = @_;
    my $pid = open(my $out, '-|') // die "fork: $!";
    if (!$pid) {
        open STDERR, '>>', "$logs/card-helper-real.log" or die $!;
        exec $bin, '--port', $hport, '--module', $hsm, '--pinentry', "$top/tests/helper/fake-pinentry",
            '--lifetime', 300, map { ('--origin', $_) } @origins or die "exec: $!";
    }
    my $l = IO::Select->new($out)->can_read(20) ? <$out> : '';
    die "helper did not start\n" unless $l =~ /^listening on/;
    push @pids, $pid;
    return { pid => $pid, out => $out };
}
sub stop_helper { my $h = shift; kill 'TERM', $h->{pid}; waitpid $h->{pid}, 0; @pids = grep { $_ != $h->{pid} } @pids }

# POST /sign as a browser on $origin would (the API path, no browser)
sub helper_sign {
    my ($origin, $challenge) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $hport, Timeout => 30) or die $!;
    my $body = qq({"challenge":"$challenge"});
    print $s "POST /sign HTTP/1.1\r\nHost: 127.0.0.1:$hport\r\nOrigin: $origin\r\n"
        . "Content-Type: application/json\r\nContent-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
    local $/;
    my $raw = <$s> // '';
    my ($st) = $raw =~ m{^HTTP/1\.1 (\d+)};
    my ($b) = $raw =~ /\r\n\r\n(.*)$/s;
    return ($st // 0, eval { $JSON->decode($b // '') } // {});
}

sub chromium {
    my (%env) = @_;
    local @ENV{ keys %env } = values %env;
    my $pid = open(my $n, '-|') // die "fork: $!";
    if (!$pid) {
        open STDERR, '>&', \*STDOUT;
        setpgrp(0, 0);
        chdir "$top/t/e2e" or die $!;
        exec 'node', 'card-helper.mjs' or die "node: $!";
    }
    my ($res, $other) = (undef, '');
    local $SIG{ALRM} = sub { kill 'KILL', -$pid; die "node timed out\n" };
    alarm 120;
    eval { while (my $l = <$n>) { $l =~ /^RESULT (\{.*\})$/ ? ($res = $JSON->decode($1)) : ($other .= $l) } 1 }
        or diag "node: $@";
    alarm 0;
    close $n;
    diag $other if !$res;
    return $res // {};
}

sub login_with {
    my ($ua, $ch, $j) = @_;
    return login_request($ua, { challenge => $ch, client_data => $j->{client_data},
                                certificate => $j->{certificate}, signature => $j->{signature} });
}

# --- 1. the genuine login page's origin: the helper signs, mod_jpki accepts ---------
my $h = start_helper($bank);
my $ua = ua();
my ($ch) = challenge($ua);
my ($st, $j) = helper_sign($bank, $ch);
is $st, 200, "the helper signs for the bank's origin $bank";
my $res = login_with($ua, $ch, $j);
is $res->code, 200, 'mod_jpki accepts the client data signed on SoftHSM2' or diag $res->as_string;
$res = $ua->get(ssl_url('/protected/env'));
is json_of($res)->{REMOTE_USER}, $bob, "REMOTE_USER is auth-bob's (the token's user-authentication certificate)";

# --- 2. a phishing origin relays a real challenge ---------------------------------------
my $attacker = ua();
($ch) = challenge($attacker);
($st, $j) = helper_sign($phish, $ch);
is $st, 403, 'API: the helper refuses the phishing origin';
is $j->{error}, 'origin_refused', '... origin_refused';

my $ok_npm = -f "$top/t/e2e/node_modules/playwright-core/package.json"
    || !system("npm ci --prefix '$top/t/e2e' --no-audit --no-fund --loglevel=error >/dev/null 2>&1");
ok $ok_npm, 'playwright-core is installed in t/e2e (npm ci)';
my $r = chromium(JPKI_E2E_MODE => 'relay', JPKI_E2E_URL => "$phish/card-helper/relay.html#$ch:$hport");
ok !$r->{failed} && $r->{status} == 0 && $r->{error} =~ /Failed to fetch/,
    'Chromium: the phishing page gets no readable answer from the helper (CORS refused)'
    or diag explain $r;
stop_helper($h);
like slurp_log(), qr{OPTIONS /sign origin=\(refused\) -> 403 origin_refused}, '... its preflight was refused';

# --- 3. the customer allowed the phishing origin in the helper: mod_jpki refuses --------
$h = start_helper($bank, $phish);
($ch) = challenge($attacker);
$r = chromium(JPKI_E2E_MODE => 'relay', JPKI_E2E_URL => "$phish/card-helper/relay.html#$ch:$hport");
is $r->{status}, 200, 'Chromium: with the origin allowed, the phishing page gets a signature' or diag explain $r;
my $cd = b64url_decode($r->{body}{client_data} // '');
is $cd, qq({"type":"jpki.login","challenge":"$ch","origin":"$phish"}),
    "... over client data naming Chromium's real Origin ($phish), not the bank";
my $mark = error_log_mark();
$res = login_with($attacker, $ch, $r->{body} // {});
is $res->code, 401, 'mod_jpki refuses the relayed signature' or diag $res->as_string;
is json_of($res)->{error}, 'origin_mismatch', '... origin_mismatch';
like error_log_since($mark), qr/client data origin \Q$phish\E is not one of this host's origins/,
    '... and logs the foreign origin';
$res = $attacker->get(ssl_url('/protected/env'), Accept => 'application/json');
is $res->code, 401, '... the attacker has no session';

# the same relay over the API, and the challenge cannot be reused by the bank origin
($ch) = challenge($attacker);
($st, $j) = helper_sign($phish, $ch);
is $st, 200, 'API: allowed phishing origin signs';
$res = login_with($attacker, $ch, $j);
is json_of($res)->{error}, 'origin_mismatch', 'API: mod_jpki says origin_mismatch';
$res = login_with($attacker, $ch, $j);
isnt $res->code, 200, '... and the burnt challenge cannot be retried';

# a page-supplied origin cannot override the header
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $hport) or die $!;
my $body = qq({"challenge":"$ch","origin":"$bank"});
print $s "POST /sign HTTP/1.1\r\nHost: 127.0.0.1:$hport\r\nOrigin: $phish\r\nContent-Type: application/json\r\n"
    . "Content-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
my $raw = do { local $/; <$s> } // '';
like $raw, qr{^HTTP/1\.1 400 .*"error":"bad_request"}s, 'an origin in the page JSON is refused (bad_request)';

# --- 4. the real login page in Chromium: protected page -> helper -> mod_jpki ---------
$r = chromium(JPKI_E2E_MODE => 'login', JPKI_E2E_BASE => $bank);
ok !$r->{failed}, 'Chromium: the login page logs in through the real helper' or diag explain $r;
is $r->{env}{REMOTE_USER}, $bob, "... REMOTE_USER is auth-bob's";
is $r->{env}{JPKI_AUTH_METHOD}, 'challenge', '... JPKI_AUTH_METHOD=challenge';
stop_helper($h);
unlike slurp_log(), qr/1234|MII/, 'the helper log holds no PIN and no certificate';

sub slurp_log { open my $f, '<', "$logs/card-helper-real.log" or return ''; local $/; <$f> }
