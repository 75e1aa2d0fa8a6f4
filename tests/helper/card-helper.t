#!/usr/bin/perl
# The real card helper (tools/card-helper) against real parts: SoftHSM2 as
# the PKCS#11 token holding test-PKI keys and certificates (t/pki/out), a
# scripted pinentry speaking Assuan (tests/helper/fake-pinentry), libmicrohttpd
# on 127.0.0.1. What SoftHSM2 cannot show (a card's FINAL_TRY / LOCKED flags,
# no reader, a card pulled out during the signature) goes through the
# test-only PKCS#11 shim tests/helper/p11shim.c, which forwards to SoftHSM2.
# Run by "make check" (card-helper-check); by hand:
#   make card-helper-check
use strict;
use warnings;

use File::Temp qw(tempdir);
use IO::Socket::INET;
use IO::Select;
use JSON::PP;
use MIME::Base64 qw(decode_base64);
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(time sleep);

my $BIN  = $ENV{JCH_BIN}      or die "JCH_BIN is not set\n";
my $SHIM = $ENV{JCH_SHIM}     or die "JCH_SHIM is not set\n";
my $HSM  = $ENV{JCH_SOFTHSM2} or die "JCH_SOFTHSM2 is not set (install softhsm2)\n";
my $PKI  = $ENV{JPKI_PKI_DIR} or die "JPKI_PKI_DIR is not set\n";
(my $PINENTRY = __FILE__) =~ s{card-helper\.t$}{fake-pinentry};
$PINENTRY = "./$PINENTRY" unless $PINENTRY =~ m{/};
my $DIR = tempdir('card-helper-t-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $JSON = JSON::PP->new->canonical;
my $ORIGIN = 'https://bank.example:17005';
my $C43 = 'Q2hhbGxlbmdlLW9mLTMyLWJ5dGVzLWZvci10ZXN0czA';   # 43 base64url chars
my @PIDS;

sub run_ok {
    my @cmd = @_;
    my $out = qx{@cmd 2>&1};
    $? == 0 or BAIL_OUT("@cmd failed: $out");
    return $out;
}

# --- tokens: one SoftHSM2 token directory per scenario ------------------------------
sub hsm_conf {
    my ($name) = @_;
    mkdir "$DIR/$name";
    mkdir "$DIR/$name/tokens";
    my $conf = "$DIR/$name/softhsm2.conf";
    open my $f, '>', $conf or die $!;
    print $f "directories.tokendir = $DIR/$name/tokens\nobjectstore.backend = file\nlog.level = ERROR\n";
    close $f;
    return $conf;
}

sub add_token {
    my ($conf, $label, @objs) = @_;    # @objs: [pki-name, id]
    local $ENV{SOFTHSM2_CONF} = $conf;
    run_ok("softhsm2-util --init-token --free --label $label --pin 1234 --so-pin 12345678");
    for my $o (@objs) {
        my ($name, $id) = @$o;
        run_ok("softhsm2-util --import $PKI/$name.key --token $label --label $name --id $id --pin 1234");
        run_ok("pkcs11-tool --module $HSM --token-label $label --login --pin 1234"
               . " --write-object $PKI/$name.der --type cert --id $id --label $name");
    }
}

my %conf;
$conf{bob} = hsm_conf('bob');    # one card: user-authentication + signing
add_token($conf{bob}, 'bob', ['sign-bob', '02'], ['auth-bob', '01']);
$conf{two} = hsm_conf('two');    # two cards
add_token($conf{two}, 'bob', ['auth-bob', '01']);
add_token($conf{two}, 'alice', ['auth-alice-1', '01']);
$conf{none} = hsm_conf('none');  # a reader with an empty (uninitialised) token
$conf{twoslots} = hsm_conf('twoslots');   # one card seen as two slots (one per PIN)
add_token($conf{twoslots}, 'pin1', ['auth-bob', '01']);
add_token($conf{twoslots}, 'pin2', ['auth-bob', '01']);
$conf{signonly} = hsm_conf('signonly');
add_token($conf{signonly}, 'signonly', ['sign-alice', '02']);

# --- the helper --------------------------------------------------------------------
my $ctl = "$DIR/pinentry.ctl";
my $pelog = "$DIR/pinentry.log";
my $shimctl = "$DIR/shim.ctl";
my $shimlog = "$DIR/shim.log";
sub put { my ($f, $s) = @_; open my $h, '>', $f or die $!; print $h $s; close $h }
sub slurp { my ($f) = @_; open my $h, '<', $f or return ''; local $/; my $s = <$h>; $s // '' }

sub start_helper {
    my (%o) = @_;
    my $log = "$DIR/helper-" . scalar(@PIDS) . ".log";
    my @args = ($BIN, '--port', 0, '--origin', $ORIGIN, '--origin', 'http://localhost:17006',
                '--pinentry', $PINENTRY, '--pin-timeout', $o{pin_timeout} // 30,
                '--module', $o{shim} ? $SHIM : $HSM, '--lifetime', 300);
    pipe(my $r, my $w) or die $!;
    my $pid = fork // die $!;
    if (!$pid) {
        close $r;
        open STDOUT, '>&', $w or die $!;
        open STDERR, '>', $log or die $!;
        open STDIN, '<', '/dev/null';
        $ENV{SOFTHSM2_CONF} = $conf{ $o{token} // 'bob' };
        @ENV{qw(P11SHIM_MODULE P11SHIM_CTL P11SHIM_LOG)} = ($HSM, $shimctl, $shimlog);
        @ENV{qw(FAKE_PINENTRY_CTL FAKE_PINENTRY_LOG)} = ($ctl, $pelog);
        exec @args or die "exec: $!";
    }
    close $w;
    push @PIDS, $pid;
    my $sel = IO::Select->new($r);
    my $line = $sel->can_read(20) ? <$r> : undef;
    die "helper did not start: " . slurp($log) unless $line && $line =~ m{^listening on http://127\.0\.0\.1:(\d+)$};
    return { pid => $pid, port => $1, log => $log, out => $r };
}

sub stop_helper {
    my ($h) = @_;
    kill 'TERM', $h->{pid};
    waitpid $h->{pid}, 0;
    @PIDS = grep { $_ != $h->{pid} } @PIDS;
    return $? >> 8;
}
END { kill 'TERM', @PIDS if @PIDS; waitpid $_, 0 for @PIDS }

# One raw HTTP/1.1 request (so Host, Origin and the body are exactly ours).
sub http {
    my ($h, $method, %o) = @_;
    my $s = send_req($h, $method, %o);
    return read_resp($s);
}

sub send_req {
    my ($h, $method, %o) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $h->{port}, Timeout => 10)
        or die "connect: $!";
    my $body = $o{body} // '';
    my %hd = ('Host' => "127.0.0.1:$h->{port}", 'Origin' => $ORIGIN,
              'Content-Type' => 'application/json', 'Connection' => 'close', %{ $o{headers} // {} });
    $hd{'Content-Length'} = length $body if $method eq 'POST' && !exists $hd{'Content-Length'}
        && !exists $hd{'Transfer-Encoding'};
    my $req = "$method " . ($o{path} // '/sign') . " HTTP/1.1\r\n";
    $req .= "$_: $hd{$_}\r\n" for grep { defined $hd{$_} } sort keys %hd;
    print $s "$req\r\n$body";
    return $s;
}

sub read_resp {
    my ($s) = @_;
    my $sel = IO::Select->new($s);
    my $raw = '';
    my $until = time + 40;
    while (time < $until && $sel->can_read($until - time)) {
        my $n = sysread $s, my $buf, 65536;
        last unless $n;
        $raw .= $buf;
    }
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    my ($status) = ($head // '') =~ m{^HTTP/1\.1 (\d+)};
    my %hd;
    for (split /\r\n/, $head // '') { $hd{ lc $1 } = $2 if /^([^:]+):\s*(.*)$/ }
    my $j = eval { $JSON->decode($body // '') };
    return { status => $status // 0, h => \%hd, body => $body, json => $j };
}

sub sign_req { my ($h, %o) = @_; http($h, 'POST', body => qq({"challenge":"$C43"}), %o) }
sub err_is {
    my ($r, $status, $code, $name) = @_;
    ok($r->{status} == $status && ref $r->{json} && ($r->{json}{error} // '') eq $code,
       "$name: $status $code") or diag explain $r;
}

sub verify_sig {
    my ($cd, $sig, $certname) = @_;
    put("$DIR/cd.bin", $cd);
    put("$DIR/sig.bin", $sig);
    run_ok("openssl x509 -in $PKI/$certname.crt -pubkey -noout > $DIR/pub.pem");
    my $out = qx{openssl dgst -sha256 -verify $DIR/pub.pem -signature $DIR/sig.bin $DIR/cd.bin 2>&1};
    return $out =~ /Verified OK/;
}

sub b64url_decode { my $s = shift; $s =~ tr{-_}{+/}; $s .= '=' x ((4 - length($s) % 4) % 4); decode_base64($s) }

# ================================================================================
# 1. The success path: straight on SoftHSM2 (no shim)
my $h = start_helper();
like(qx{ss -ltnH 'sport = :$h->{port}'}, qr/^LISTEN\s+\S+\s+\S+\s+127\.0\.0\.1:$h->{port}\s/m,
     'listens on 127.0.0.1 only');
put($ctl, "pin 1234\n");
put($pelog, '');
my $t0 = time;
my $r = sign_req($h);
my $ms = int((time - $t0) * 1000);
is($r->{status}, 200, "signs (SoftHSM2, $ms ms)") or diag explain $r;
is($r->{h}{'access-control-allow-origin'}, $ORIGIN, 'answers with CORS for the allowed origin');
my $cd = b64url_decode($r->{json}{client_data} // '');
is($cd, qq({"type":"jpki.login","challenge":"$C43","origin":"$ORIGIN"}),
   'client_data: the canonical structure with the Origin header, byte for byte');
unlike($r->{json}{client_data} // '=', qr/[=+\/]/, 'client_data is base64url without padding');
is(decode_base64($r->{json}{certificate} // ''), slurp("$PKI/auth-bob.der"),
   'the user-authentication certificate is returned, not the signing one on the same token');
ok(verify_sig($cd, decode_base64($r->{json}{signature} // ''), 'auth-bob'),
   'the signature verifies (openssl dgst -sha256 -verify) over client_data with auth-bob');
my $dialog = slurp($pelog);
like($dialog, qr/^SETDESC \Q$ORIGIN\E asks to log you in/m, 'the PIN dialog names the origin');
like($dialog, qr{Tries left / 残り回数: 3}, 'the PIN dialog shows 3 tries left');
like($dialog, qr/^GETPIN/m, 'the PIN was asked through pinentry');

# origin binding: the page cannot choose the origin
$r = http($h, 'POST', body => qq({"challenge":"$C43","origin":"https://bank.example:17005"}));
err_is($r, 400, 'bad_request', 'an origin in the page JSON');
$r = sign_req($h, headers => { Origin => 'http://localhost:17006' });
is($r->{status}, 200, 'second allowed origin signs');
like(b64url_decode($r->{json}{client_data} // ''), qr/"origin":"http:\/\/localhost:17006"\}$/,
     '... and its client_data carries that origin');

# preflight (CORS + Private Network Access)
$r = http($h, 'OPTIONS', headers => { 'Access-Control-Request-Method' => 'POST',
    'Access-Control-Request-Headers' => 'content-type', 'Access-Control-Request-Private-Network' => 'true',
    'Content-Type' => undef });
ok($r->{status} == 204 && $r->{h}{'access-control-allow-origin'} eq $ORIGIN
   && $r->{h}{'access-control-allow-private-network'} eq 'true'
   && $r->{h}{'access-control-allow-methods'} eq 'POST'
   && lc $r->{h}{'access-control-allow-headers'} eq 'content-type', 'preflight with PNA: 204 and the headers')
    or diag explain $r;
$r = http($h, 'OPTIONS', headers => { 'Access-Control-Request-Method' => 'POST', 'Content-Type' => undef });
ok($r->{status} == 204 && !exists $r->{h}{'access-control-allow-private-network'},
   'preflight without PNA: no Allow-Private-Network');

# hostile Host and Origin: refused before any PIN dialog, without CORS
put($pelog, '');
for my $host ('rebind.evil.example:' . $h->{port}, '127.0.0.1:' . ($h->{port} + 1), '127.0.0.1') {
    $r = sign_req($h, headers => { Host => $host });
    err_is($r, 403, 'host_refused', "Host $host");
}
for my $o ('https://evil.example', 'null', 'https://bank.example:17005/', 'https://bank.example', undef) {
    $r = sign_req($h, headers => { Origin => $o });
    err_is($r, 403, 'origin_refused', 'Origin ' . ($o // '(none)'));
    ok(!exists $r->{h}{'access-control-allow-origin'}, '... without CORS headers');
}
$r = http($h, 'OPTIONS', headers => { Origin => 'https://evil.example' });
err_is($r, 403, 'origin_refused', 'preflight from a refused origin');
is(slurp($pelog), '', 'no PIN dialog was shown for any refused request');

# malformed and oversize requests
my $digest = '{"digest":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","digest_algorithm":"sha256"}';
err_is(http($h, 'POST', body => $digest), 400, 'bad_request', 'the old digest form');
err_is(http($h, 'POST', body => '{"challenge":'), 400, 'bad_request', 'broken JSON');
err_is(http($h, 'POST', body => '{"challenge":"a"}'), 400, 'bad_request', 'short challenge');
err_is(http($h, 'POST', body => qq({"challenge":"$C43\\""})), 400, 'bad_request', 'a quote in the challenge');
err_is(sign_req($h, headers => { 'Content-Type' => 'text/plain' }), 400, 'bad_request', 'text/plain');
err_is(http($h, 'GET'), 405, 'method_not_allowed', 'GET /sign');
err_is(sign_req($h, path => '/sign/x'), 404, 'not_found', 'another path');
err_is(http($h, 'POST', body => 'x' x 5000), 413, 'request_too_large', 'a 5000-byte body');
err_is(http($h, 'POST', body => '', headers => { 'Content-Length' => 999999999999 }), 413,
       'request_too_large', 'a huge Content-Length, no body sent');
my $chunk = sprintf("%x\r\n%s\r\n", 3000, 'y' x 3000) x 2 . "0\r\n\r\n";
err_is(http($h, 'POST', body => $chunk, headers => { 'Transfer-Encoding' => 'chunked' }), 413,
       'request_too_large', 'a chunked 6000-byte body');
is(slurp($pelog), '', 'no PIN dialog for malformed requests');

# the PIN: wrong, shape, cancel, pinentry's timeout
put($ctl, "pin 9999\n");
err_is(sign_req($h), 409, 'pin_incorrect', 'wrong PIN');
put($ctl, "pin 1234\n");
put($pelog, '');
is(sign_req($h)->{status}, 200, 'the right PIN after a wrong one signs (the helper never retried)');
like(slurp($pelog), qr{Tries left / 残り回数: 2}, '... and that dialog showed 2 tries left (COUNT_LOW)');
put($ctl, "pin 12345\n");
err_is(sign_req($h), 409, 'pin_invalid', 'a 5-digit PIN');
put($ctl, "pin 12a4\n");
err_is(sign_req($h), 409, 'pin_invalid', 'a PIN with a letter');
put($ctl, "cancel\n");
err_is(sign_req($h), 409, 'pin_cancelled', 'the user cancels');
put($ctl, "timeout\n");
err_is(sign_req($h), 408, 'pin_timeout', "pinentry's own timeout");

# logs: no PIN, challenge, signature or certificate
my $log = slurp($h->{log});
like($log, qr{POST /sign origin=\Q$ORIGIN\E -> 200 signed in \d+ ms}, 'logs the signature event');
unlike($log, qr/1234|9999|\Q$C43\E|MII|eyJ0eXBl/, 'the log holds no PIN, challenge, certificate or client data');
is(stop_helper($h), 0, 'stops cleanly on SIGTERM');

# ================================================================================
# 2. A stuck pinentry and a second request meanwhile
$h = start_helper(pin_timeout => 5);
put($ctl, "hang\n");
$t0 = time;
my $first = send_req($h, 'POST', body => qq({"challenge":"$C43"}));
sleep 1;
err_is(sign_req($h), 409, 'busy', 'a second signature while the first waits for the PIN');
$r = read_resp($first);
my $waited = time - $t0;
err_is($r, 408, 'pin_timeout', sprintf('a pinentry that never answers is killed (%.1f s)', $waited));
ok($waited >= 5 && $waited < 15, 'after the PIN timeout plus the grace period');
put($ctl, "pin 1234\n");
is(sign_req($h)->{status}, 200, 'and the helper signs again afterwards');
stop_helper($h);

# ================================================================================
# 3. Card states through the PKCS#11 shim over SoftHSM2
$h = start_helper(shim => 1);
put($shimctl, '');
put($ctl, "pin 1234\n");
is(sign_req($h)->{status}, 200, 'through the shim with no fault: signs');
for my $case (['flags=0x20000', 409, 'pin_final_try', 'CKF_USER_PIN_FINAL_TRY: refuses, never risks the last try'],
              ['flags=0x40000', 409, 'pin_blocked', 'CKF_USER_PIN_LOCKED: refuses'],
              ['flags=0x60000', 409, 'pin_blocked', 'LOCKED and FINAL_TRY: locked']) {
    put($shimctl, $case->[0]);
    put($shimlog, '');
    put($pelog, '');
    err_is(sign_req($h), @$case[1 .. 3]);
    is(slurp($shimlog), '', '... C_Login was never called');
    is(slurp($pelog), '', '... and no PIN dialog was shown');
}
put($shimctl, 'flags=0x10000');
put($pelog, '');
is(sign_req($h)->{status}, 200, 'COUNT_LOW: still asks');
like(slurp($pelog), qr{Tries left / 残り回数: 2\nCareful}, '... warning that the card locks after 3 wrong PINs');
put($shimctl, 'noreader');
err_is(sign_req($h), 503, 'reader_not_found', 'no reader');
put($shimctl, 'nocard');
err_is(sign_req($h), 503, 'card_not_found', 'a reader without a card');
put($shimctl, 'removed');
put($shimlog, '');
err_is(sign_req($h), 503, 'card_removed', 'the card is pulled out during the signature');
like(slurp($shimlog), qr/C_Login\nC_Sign/, '... after the login, at C_Sign');
put($shimctl, "pin 9999");
put($ctl, "pin 9999\n");
put($shimlog, '');
err_is(sign_req($h), 409, 'pin_incorrect', 'a wrong PIN through the shim');
is(() = slurp($shimlog) =~ /C_Login/g, 1, '... exactly one C_Login: the helper never retries on its own');
stop_helper($h);

# ================================================================================
# 4. Which card
put($ctl, "pin 1234\n");
for my $case (['two', 409, 'card_ambiguous', 'two cards with a user-authentication certificate'],
              ['none', 503, 'card_not_found', 'an empty token'],
              ['signonly', 503, 'card_not_found', 'a card with only a signing certificate']) {
    $h = start_helper(token => $case->[0]);
    put($pelog, '');
    err_is(sign_req($h), @$case[1 .. 3]);
    is(slurp($pelog), '', '... no PIN dialog');
    stop_helper($h);
}

# one card, one slot per PIN (OpenSC): the auth PIN goes only to the 4-digit slot
for my $sp ('pin1', 'pin2') {
    $h = start_helper(token => 'twoslots', shim => 1);
    put($shimctl, "signpin=$sp");
    put($shimlog, '');
    $r = sign_req($h);
    is($r->{status}, 200, "the same certificate in two slots, signing-PIN slot $sp: signs");
    is(() = slurp($shimlog) =~ /C_Login/g, 1, '... with one C_Login, in the 4-digit slot');
    stop_helper($h);
}
$h = start_helper(shim => 1);
put($shimctl, 'signpin=bob');
put($shimlog, '');
put($pelog, '');
err_is(sign_req($h), 500, 'card_error', 'the only slot takes a 6..16-character PIN (signing PIN)');
is(slurp($shimlog) . slurp($pelog), '', '... neither PIN dialog nor C_Login');
stop_helper($h);

# ================================================================================
# 5. Start-up checks
my $out = qx{$BIN --module $HSM --port 0 2>&1};
ok($? >> 8 == 2 && $out =~ /no origin is allowed/, 'refuses to start without an allowed origin');
$out = qx{$BIN --module $HSM --port 0 --origin http://bank.example 2>&1};
ok($? >> 8 == 2 && $out =~ /must be https/, 'refuses an http origin other than localhost');
$out = qx{$BIN --module /nonexistent.so --port 0 --origin https://a.example 2>&1};
ok($? >> 8 == 1 && $out =~ /cannot load the PKCS#11 module/, 'names a missing PKCS#11 module');
put("$DIR/config", "# test\norigin https://cfg.example\nmodule $HSM\nport 0\npinentry $PINENTRY\nlifetime 60\n");
local $ENV{SOFTHSM2_CONF} = $conf{bob};
local @ENV{qw(FAKE_PINENTRY_CTL FAKE_PINENTRY_LOG)} = ($ctl, $pelog);
my $pid = open(my $cfg, '-|', "exec $BIN --config $DIR/config 2>$DIR/helper-config.log") // die;
push @PIDS, $pid;
my $l = IO::Select->new($cfg)->can_read(20) ? <$cfg> : '';
my ($cport) = ($l // '') =~ /:(\d+)$/;
$r = http({ port => $cport }, 'POST', body => qq({"challenge":"$C43"}), headers => { Origin => 'https://cfg.example' });
is($r->{status}, 200, 'a configuration file sets the origins, module and pinentry');
stop_helper({ pid => $pid });

done_testing();
