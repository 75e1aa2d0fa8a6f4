#!/usr/bin/perl
# Self-test for tools/jpki-pf-sim (the platform-operator simulator).  Run: prove tools/t/pf-sim.t
#
# Makes throwaway certificates with the openssl CLI, starts the simulator on a free loopback
# port (with --max-seconds as a safety net) and checks the API, the state file, the call
# counters and every fault from the client's side.  Leaves no process behind.

use v5.36;
use strict;
use warnings;

use Test::More;
use Digest::SHA qw(sha256);
use File::Temp qw(tempdir);
use FindBin;
use HTTP::Request;
use IO::Select;
use IO::Socket::SSL;
use JSON::PP;
use LWP::UserAgent;
use MIME::Base64 qw(encode_base64);
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);

my $SIM   = "$FindBin::Bin/../jpki-pf-sim";
my $DIR   = tempdir('pf-sim-t-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $TOKEN = 'test-token-' . join('', map { int rand 10 } 1 .. 12);
my $JSON  = JSON::PP->new->utf8->canonical;

my $VERIFY = '/pocketsign.verify.v2.VerificationService/Verify';
my $CHECK  = '/pocketsign.verify.v2.CertificateService/CheckCertificateStatus';
my $USER   = '/pocketsign.verify.v2.UserService/CheckUserStatus';

# ------------------------------------------------------------------ fixtures

sub openssl (@args) {
    my $out = qx{openssl @args 2>&1};
    $? == 0 or BAIL_OUT("openssl @args failed: $out");
}

sub slurp ($path) { open(my $fh, '<:raw', $path) or die "$path: $!"; local $/; return <$fh> }
sub spew ($path, $data) { open(my $fh, '>:raw', $path) or die "$path: $!"; print $fh $data; close $fh or die }

spew("$DIR/token", "  $TOKEN\n");
spew("$DIR/ext.cnf", <<'EOF');
[server]
basicConstraints = CA:FALSE
subjectAltName = DNS:localhost,IP:127.0.0.1
extendedKeyUsage = serverAuth
[auth]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
certificatePolicies = 1.2.392.200149.8.5.1.3.30
[sign]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
certificatePolicies = 1.2.392.200149.8.5.1.1.20
EOF
openssl("req -x509 -newkey rsa:2048 -nodes -keyout $DIR/ca.key -out $DIR/ca.crt -subj '/CN=pf-sim test CA' -days 2");
my %CERT;    # name => {der, key, serial}
for ([server => 'server', '0x1000', 2, 'localhost'],
     [auth   => 'auth',   '0x00ab12', 2, 'auth'],       # leading zero: the simulator must say "ab12"
     [auth2  => 'auth',   '0x0ab13', 2, 'auth renewed'], # the renewal of "auth" (same key, new serial)
     [sign   => 'sign',   '0x5c1', 2, 'sign'],
     [old    => 'auth',   '0xe0', 0, 'expired']) {       # -days 0: notAfter == notBefore, expired at once
    my ($name, $ext, $serial, $days, $cn) = @$_;
    my $key = $name =~ /^(auth2|old)$/ ? "$DIR/auth.key" : "$DIR/$name.key";
    openssl(-e $key ? "req -new -key $key" : "req -new -newkey rsa:2048 -nodes -keyout $key",
            "-subj '/CN=$cn' -out $DIR/$name.csr");
    openssl("x509 -req -in $DIR/$name.csr -CA $DIR/ca.crt -CAkey $DIR/ca.key -set_serial $serial",
            "-days $days -extfile $DIR/ext.cnf -extensions $ext -out $DIR/$name.crt");
    openssl("x509 -in $DIR/$name.crt -outform DER -out $DIR/$name.der");
    (my $norm = lc $serial) =~ s/^0x0*//;
    $CERT{$name} = { der => slurp("$DIR/$name.der"), key => $key, serial => $norm };
}

# Signs the SHA-256 of $data as the card does (RSASSA-PKCS1-v1_5 over DigestInfo).
sub sign_data ($name, $data) {
    spew("$DIR/challenge", $data);
    openssl("dgst -sha256 -sign $CERT{$name}{key} -out $DIR/challenge.sig $DIR/challenge");
    return slurp("$DIR/challenge.sig");
}

my $CHALLENGE = join '', map { chr int rand 256 } 1 .. 32;
my %SIG = map { $_ => sign_data($_, $CHALLENGE) } qw(auth auth2 sign old);

sub verify_body ($name, %extra) {
    return {
        certificate   => encode_base64($CERT{$name}{der}, ''),
        signature     => encode_base64($extra{signature} // $SIG{$name} // 'no signature', ''),
        digest        => encode_base64(sha256($CHALLENGE), ''),
        hashAlgorithm => 'HASH_ALGORITHM_SHA256',
        checkMethod   => 'CHECK_METHOD_OCSP',
        identifyUser  => JSON::PP::true,
        %extra{ grep { $_ ne 'signature' } keys %extra },
    };
}

# The state file is written atomically (temp file + rename), as the docs recommend.
sub write_state ($state) {
    spew("$DIR/state.json.tmp", $JSON->encode($state));
    rename("$DIR/state.json.tmp", "$DIR/state.json") or die "rename: $!";
}

# ------------------------------------------------------------------ simulator processes

my @RUNNING;    # [pid, stdout pipe]; the pipe is kept open, since closing it would wait for the process

sub start_sim (@extra) {
    my @args = ('--listen', '127.0.0.1:0', '--cert', "$DIR/server.crt", '--key', "$DIR/server.key",
                '--token-file', "$DIR/token", '--state', "$DIR/state.json", '--log', "$DIR/sim.log",
                '--max-seconds', 300, @extra);
    my $pid = open(my $out, '-|', $^X, $SIM, @args) or BAIL_OUT("cannot start $SIM: $!");
    my $line = eval {
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm 20;
        my $l = <$out>;
        alarm 0;
        $l;
    };
    my ($port) = ($line // '') =~ /^READY (\d+)$/
        or BAIL_OUT("simulator did not print READY: " . ($line // $@ // 'EOF'));
    push @RUNNING, [$pid, $out];
    return ($pid, $port);
}

sub stop_sim ($pid) {
    kill 'TERM', $pid;
    my $end = time + 10;
    my $reaped;
    sleep 0.05 while ($reaped = waitpid($pid, WNOHANG)) == 0 && time < $end;
    @RUNNING = grep { $_->[0] != $pid } @RUNNING;    # closes the pipe; only now, see above
    return $reaped == $pid;
}

END { kill 'KILL', $_->[0] for @RUNNING; waitpid($_->[0], 0) for @RUNNING }

# Processes whose command line mentions our temporary directory (the simulator and its children).
sub our_processes {
    my @pids;
    for my $p (glob '/proc/[0-9]*') {
        open(my $fh, '<', "$p/cmdline") or next;
        my $cmd = do { local $/; <$fh> } // '';
        push @pids, $p =~ s{/proc/}{}r if index($cmd, $DIR) >= 0 && $p ne "/proc/$$";
    }
    return @pids;
}

# The first log line after byte $offset that matches $re.  The simulator writes a request's
# line just after sending the answer, so wait a little for it.
sub log_line_after ($offset, $re) {
    my $end = time + 5;
    while (1) {
        my $log = substr(slurp("$DIR/sim.log"), $offset);
        my ($line) = grep { /$re/ } split /\n/, $log;
        return $line if defined $line || time > $end;
        sleep 0.05;
    }
}

# ------------------------------------------------------------------ clients

my ($PID, $PORT);
my $UA = LWP::UserAgent->new(timeout => 10, keep_alive => 4,
                             ssl_opts => { SSL_ca_file => "$DIR/ca.crt", verify_hostname => 1 });

sub base { "https://127.0.0.1:$PORT" }

# POSTs $body (a hashref is JSON-encoded) and returns (response, decoded JSON or undef).
sub rpc ($path, $body, %o) {
    my @auth = exists $o{token} ? (defined $o{token} ? (Authorization => "Bearer $o{token}") : ())
                                : (Authorization => "Bearer $TOKEN");
    my $req = HTTP::Request->new(POST => base() . $path,
        ['Content-Type' => $o{type} // 'application/json', @auth],
        ref $body ? $JSON->encode($body) : $body);
    my $res = ($o{ua} // $UA)->request($req);
    my $json = eval { $JSON->decode($res->content) };
    return ($res, $json);
}

sub get_json ($path) {
    my $res = $UA->get(base() . $path);
    return ($res, eval { $JSON->decode($res->content) });
}

# A raw TLS exchange, to observe what LWP would hide: how the bytes arrive and how the
# connection ends.  Returns {data, reads, err, elapsed}.
sub raw_exchange ($path, $body, $timeout = 10) {
    my $s = IO::Socket::SSL->new(PeerHost => '127.0.0.1', PeerPort => $PORT, SSL_ca_file => "$DIR/ca.crt",
                                 SSL_verifycn_name => 'localhost', Timeout => 5)
        or return { err => "connect: $SSL_ERROR", data => '', reads => 0, elapsed => 0 };
    my $payload = $JSON->encode($body);
    my $t0 = time;
    print $s "POST $path HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        . "Authorization: Bearer $TOKEN\r\nContent-Length: " . length($payload) . "\r\n\r\n$payload";
    my %r = (data => '', reads => 0, err => '');
    my $sel = IO::Select->new($s);
    while (1) {
        unless ($s->pending || $sel->can_read($timeout)) { $r{err} = 'timeout'; last }
        my $n = $s->sysread(my $buf, 65536);
        if (!defined $n) { $r{err} = "$!" || "$SSL_ERROR"; last }
        last if $n == 0;
        $r{data} .= $buf;
        $r{reads}++;
        # stop at the end of a complete response (the server may keep the connection open)
        if (my ($head) = $r{data} =~ /^(.*?\r\n\r\n)/s) {
            my ($len) = $head =~ /Content-Length: (\d+)/i;
            last if defined $len && length($r{data}) >= length($head) + $len;
        }
    }
    $r{elapsed} = time - $t0;
    close $s;
    return \%r;
}

# ------------------------------------------------------------------ start-up checks

{
    my $out = qx{$^X $SIM --listen 0.0.0.0:0 --cert $DIR/server.crt --key $DIR/server.key \\
                 --token-file $DIR/token --state $DIR/state.json 2>&1};
    isnt($?, 0, 'a non-loopback --listen address is refused');
    like($out, qr/loopback/, '... with a message saying why');
}

write_state({});
($PID, $PORT) = start_sim('--pidfile', "$DIR/sim.pid");
ok($PORT > 0, "READY $PORT printed");
is(slurp("$DIR/sim.pid") =~ s/\s+//r, $PID, 'pidfile holds the pid');

{
    my ($res) = get_json('/healthz');
    is($res->code, 200, 'GET /healthz is 200');
    is($res->content, "ok\n", '... and says ok');
}

# ------------------------------------------------------------------ authentication and errors

{
    my ($res, $j) = rpc($VERIFY, verify_body('auth'), token => undef);
    is($res->code, 401, 'no bearer token: 401');
    is($j->{code}, 'unauthenticated', '... code unauthenticated');
    ok(length $j->{message}, '... with a message');
    ($res, $j) = rpc($VERIFY, verify_body('auth'), token => 'wrong');
    is($res->code, 401, 'wrong bearer token: 401');

    ($res, $j) = rpc('/pocketsign.verify.v2.VerificationService/Nope', {});
    is($res->code, 404, 'unknown path: 404');
    is($j->{code}, 'not_found', '... code not_found');

    ($res, $j) = rpc($VERIFY, '{"certificate": ');
    is($res->code, 400, 'malformed JSON: 400');
    is($j->{code}, 'invalid_argument', '... code invalid_argument');

    my %no_method = %{ verify_body('auth') };
    delete $no_method{checkMethod};
    ($res, $j) = rpc($VERIFY, \%no_method);
    is($res->code, 400, 'missing checkMethod: 400');
    like($j->{message}, qr/checkMethod/, '... naming the field');

    ($res, $j) = rpc($VERIFY, verify_body('auth', digest => encode_base64('short', '')));
    is($j->{code}, 'invalid_argument', 'a digest that is not 32 bytes: invalid_argument');

    ($res, $j) = rpc($VERIFY, verify_body('auth', certificate => encode_base64('not a certificate', '')));
    is($res->code, 400, 'garbage certificate: 400');
    is($j->{details}[0]{reason}, 'ERROR_REASON_INVALID_CERTIFICATE', '... ERROR_REASON_INVALID_CERTIFICATE');

    ($res, $j) = rpc($VERIFY, verify_body('server'));
    is($j->{details}[0]{reason}, 'ERROR_REASON_UNSUPPORTED_CERTIFICATE',
       'a certificate without a JPKI policy: UNSUPPORTED_CERTIFICATE');

    ($res, $j) = rpc($VERIFY, verify_body('auth'), type => 'text/plain');
    is($res->code, 415, 'wrong Content-Type: 415');

    ($res, $j) = rpc($VERIFY, '{"x":"' . ('a' x (1024 * 1024 + 10)) . '"}');
    is($res->code, 413, 'request body over 1 MiB: 413');
}

# ------------------------------------------------------------------ Verify

my ($AUTH_ID, $AUTH_USER);
{
    my ($res, $j) = rpc($VERIFY, verify_body('auth'));
    is($res->code, 200, 'Verify with a good signature: 200');
    is($j->{verification}{result}, 'RESULT_OK', '... RESULT_OK');
    is($j->{verification}{hashAlgorithm}, 'HASH_ALGORITHM_SHA256', '... hashAlgorithm echoed');
    like($j->{verification}{id}, qr/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, '... a uuid');
    like($j->{verification}{createdAt}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, '... createdAt RFC 3339');
    is($j->{certificate}{type}, 'TYPE_JPKI_CARD_USER_AUTHENTICATION', '... type from the policy OID');
    like($j->{certificate}{id}, qr/^crt_[0-9a-f]{24}$/, '... a certificate id');
    is($j->{certificateStatus}{status}, 'STATUS_GOOD', '... STATUS_GOOD');
    is($j->{certificateStatus}{checkMethod}, 'CHECK_METHOD_OCSP', '... checkMethod echoed');
    is($j->{certificateStatus}{checkPurpose}, 'CHECK_PURPOSE_SIGNATURE_VERIFICATION', '... default checkPurpose');
    ok(!exists $j->{certificateStatus}{revocationReason}, '... no revocationReason when good');
    like($j->{user}{id}, qr/^usr_[0-9a-f]{20}$/, '... a user id');
    ok(JSON::PP::is_bool($j->{isNewUser}) && $j->{isNewUser}, '... isNewUser true the first time');
    ($AUTH_ID, $AUTH_USER) = ($j->{certificate}{id}, $j->{user}{id});

    # the same request in snake_case, with CRL: same certificate and user, no longer new
    my $b = verify_body('auth', checkMethod => 'CHECK_METHOD_CRL');
    my %snake = map { (s/([A-Z])/_\l$1/gr) => $b->{$_} } keys %$b;
    ($res, $j) = rpc($VERIFY, \%snake);
    is($j->{verification}{result}, 'RESULT_OK', 'snake_case request fields are accepted');
    is($j->{certificate}{id}, $AUTH_ID, '... the certificate id is deterministic');
    is($j->{user}{id}, $AUTH_USER, '... the user id is stable');
    ok(!$j->{isNewUser}, '... isNewUser false the second time');
    is($j->{certificateStatus}{checkMethod}, 'CHECK_METHOD_CRL', '... CHECK_METHOD_CRL echoed');

    ($res, $j) = rpc($VERIFY, verify_body('auth', signature => sign_data('auth', 'another challenge')));
    is($res->code, 200, 'Verify with a wrong signature: 200');
    is($j->{verification}{result}, 'RESULT_SIGNATURE_MISMATCH', '... RESULT_SIGNATURE_MISMATCH');

    ($res, $j) = rpc($VERIFY, verify_body('auth', signature => sign_data('sign', $CHALLENGE)));
    is($j->{verification}{result}, 'RESULT_SIGNATURE_MISMATCH', 'a signature by another key: RESULT_SIGNATURE_MISMATCH');

    ($res, $j) = rpc($VERIFY, verify_body('auth', identifyUser => JSON::PP::false));
    ok(!exists $j->{user} && !exists $j->{isNewUser}, 'identifyUser false: no user, no isNewUser');

    ($res, $j) = rpc($VERIFY, verify_body('sign'));
    is($j->{certificate}{type}, 'TYPE_JPKI_CARD_DIGITAL_SIGNATURE', 'signing certificate: TYPE_JPKI_CARD_DIGITAL_SIGNATURE');
    isnt($j->{certificate}{id}, $AUTH_ID, '... with its own certificate id');

    # 'old' was made with -days 0 (notAfter == notBefore == its issuing second) and a
    # certificate is valid through notAfter: let that second pass first.
    sleep 1;
    ($res, $j) = rpc($VERIFY, verify_body('old'));
    is($j->{verification}{result}, 'RESULT_CERTIFICATE_EXPIRED', 'expired certificate: RESULT_CERTIFICATE_EXPIRED');
    is($j->{certificateStatus}{status}, 'STATUS_EXPIRED', '... STATUS_EXPIRED');
    ok($j->{isNewUser}, '... isNewUser true');
    ($res, $j) = rpc($VERIFY, verify_body('old'));
    ok($j->{isNewUser}, '... and still true next time: only RESULT_OK records a user as seen');
}

# ------------------------------------------------------------------ state file

{
    write_state({ revoked => { '00AB12' => { reason => 'superseded', date => '2026-01-02T03:04:05Z' },
                               '5c1'    => { reason => 'certificateHold' } },
                  unknown => ['ab13'] });
    my ($res, $j) = rpc($VERIFY, verify_body('auth'));
    is($j->{verification}{result}, 'RESULT_CERTIFICATE_REVOKED', 'after editing the state: RESULT_CERTIFICATE_REVOKED');
    is($j->{certificateStatus}{status}, 'STATUS_REVOKED', '... STATUS_REVOKED');
    is($j->{certificateStatus}{revocationReason}, 'REVOCATION_REASON_SUPERSEDED', '... REVOCATION_REASON_SUPERSEDED');
    is($j->{certificateStatus}{revokedAt}, '2026-01-02T03:04:05Z', '... revokedAt');

    ($res, $j) = rpc($VERIFY, verify_body('sign'));
    is($j->{certificateStatus}{revocationReason}, 'REVOCATION_REASON_CERTIFICATE_HOLD',
       'certificateHold: REVOCATION_REASON_CERTIFICATE_HOLD');

    ($res, $j) = rpc($VERIFY, verify_body('auth2'));
    is($j->{certificateStatus}{status}, 'STATUS_UNKNOWN', '"unknown" serial: STATUS_UNKNOWN');

    spew("$DIR/state.json", '{"revoked": ');    # a broken edit keeps the last good state
    ($res, $j) = rpc($VERIFY, verify_body('auth'));
    is($j->{certificateStatus}{status}, 'STATUS_REVOKED', 'an unparsable state file keeps the last good state');

    # Renewal: ab13 succeeds ab12, whose user is known: the new certificate gets the same id.
    write_state({ predecessors => { ab13 => 'ab12' } });
    ($res, $j) = rpc($VERIFY, verify_body('auth2'));
    is($j->{user}{id}, $AUTH_USER, 'a renewed certificate (predecessors) keeps the user id');
    ok(!$j->{isNewUser}, '... and is not a new user');
    isnt($j->{certificate}{id}, $AUTH_ID, '... while its certificate id differs');

    write_state({ users => { ab12 => 'usr_alice', '5c1' => 'usr_alice' },
                  predecessors => { ab13 => 'ff01', ff01 => 'ab12' },
                  birth_dates => { usr_alice => '1990-04-01' } });
    ($res, $j) = rpc($VERIFY, verify_body('auth2'));
    is($j->{user}{id}, 'usr_alice', 'the user id follows a chain of predecessors to a "users" entry');
    ok($j->{isNewUser}, '... a user id answered for the first time is new');
    ($res, $j) = rpc($VERIFY, verify_body('sign'));
    is($j->{user}{id}, 'usr_alice', 'the signing certificate maps to the same user');
    is($j->{certificateContent}{jpkiCardDigitalSignatureContent}{dateOfBirth}, '1990-04-01', '... with the birth date');

    write_state({ link_pending => ['ab13'] });
    ($res, $j) = rpc($VERIFY, verify_body('auth2'));
    is($res->code, 400, 'link_pending with identifyUser: 400');
    is($j->{code}, 'failed_precondition', '... code failed_precondition');
    my $reason = 'ERROR_REASON_ASSOCIATED_CERTIFICATE_NOT_EXISTS';
    is($j->{details}[0]{reason}, $reason, '... reason ASSOCIATED_CERTIFICATE_NOT_EXISTS');
    is($j->{details}[0]{debug}{reason}, $reason, '... also in the Connect debug form');
    is($j->{details}[0]{type}, 'google.rpc.ErrorInfo', '... with the Connect detail type');
    ($res, $j) = rpc($VERIFY, verify_body('auth2', identifyUser => JSON::PP::false));
    is($j->{verification}{result}, 'RESULT_OK', '... while identifyUser false still verifies');
}

# ------------------------------------------------------------------ CheckCertificateStatus, CheckUserStatus

{
    write_state({ predecessors => { ab13 => 'ab12' }, revoked => { ab12 => { reason => 'superseded' } } });
    my ($res, $j) = rpc($CHECK, { certificateId => $AUTH_ID, checkMethod => 'CHECK_METHOD_OCSP' });
    is($res->code, 200, 'CheckCertificateStatus by the id Verify returned: 200');
    is($j->{certificate}{id}, $AUTH_ID, '... same certificate');
    is($j->{certificateStatus}{status}, 'STATUS_REVOKED', '... current status (revoked)');
    is($j->{certificateStatus}{checkPurpose}, 'CHECK_PURPOSE_LIVENESS_CHECK', '... default checkPurpose LIVENESS_CHECK');
    ok(!exists $j->{verification} && !exists $j->{user}, '... no verification, no user unless asked');

    ($res, $j) = rpc($CHECK, { certificate_id => $AUTH_ID, check_method => 'CHECK_METHOD_CRL',
                               identify_user => JSON::PP::true });
    is($j->{user}{id}, $AUTH_USER, 'CheckCertificateStatus snake_case with identify_user: the user');

    ($res, $j) = rpc($CHECK, { certificate => encode_base64($CERT{sign}{der}, ''), checkMethod => 'CHECK_METHOD_OCSP' });
    is($j->{certificateStatus}{status}, 'STATUS_GOOD', 'CheckCertificateStatus with the certificate itself');

    ($res, $j) = rpc($CHECK, { certificateId => 'crt_000000000000000000000000', checkMethod => 'CHECK_METHOD_OCSP' });
    is($res->code, 404, 'CheckCertificateStatus with an unknown id: 404');
    is($j->{code}, 'not_found', '... code not_found');

    ($res, $j) = rpc($USER, { userId => $AUTH_USER, checkMethod => 'CHECK_METHOD_OCSP' });
    is($res->code, 200, 'CheckUserStatus: 200');
    is($j->{user}{id}, $AUTH_USER, '... the user');
    is($j->{latestCertificateSerial}, 'ab13', '... the latest certificate is the renewal');
    is($j->{certificateState}, 'STATE_GOOD', '... STATE_GOOD');
    ok(!exists $j->{revocationReason}, '... and no revocationReason');

    write_state({ predecessors => { ab13 => 'ab12' }, revoked => { ab13 => { reason => 'cessationOfOperation' } } });
    ($res, $j) = rpc($USER, { user_id => $AUTH_USER, check_method => 'CHECK_METHOD_CRL' });
    is($j->{certificateState}, 'STATE_REVOKED', 'CheckUserStatus after the latest is revoked: STATE_REVOKED');
    is($j->{revocationReason}, 'REVOCATION_REASON_CESSATION_OF_OPERATION', '... with the reason');

    ($res, $j) = rpc($USER, { userId => 'usr_nobody', checkMethod => 'CHECK_METHOD_OCSP' });
    is($res->code, 404, 'CheckUserStatus for an unknown user: 404');
}

# ------------------------------------------------------------------ call counters under concurrency

{
    write_state({});
    my ($res, $j) = rpc('/calls/reset', '');
    is($j->{total}, 0, 'POST /calls/reset zeroes the counters');
    my @kids;
    for my $i (1 .. 20) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $ua = LWP::UserAgent->new(timeout => 20, ssl_opts => { SSL_ca_file => "$DIR/ca.crt" });
            my ($r, $body) = rpc($VERIFY, verify_body('auth'), ua => $ua);
            POSIX::_exit(($body->{verification}{result} // '') eq 'RESULT_OK' ? 0 : 1);
        }
        push @kids, $pid;
    }
    my $ok = 0;
    for (@kids) { waitpid($_, 0); $ok++ if $? == 0 }
    is($ok, 20, '20 concurrent clients all got RESULT_OK');
    ($res, $j) = get_json('/calls');
    is($j->{Verify}, 20, 'GET /calls counts exactly 20 Verify calls');
    is($j->{total}, 20, '... total 20');
    is($j->{by_serial}{ab12}, 20, '... by_serial ab12 20');
    is($j->{CheckCertificateStatus}, 0, '... CheckCertificateStatus 0');
}

# ------------------------------------------------------------------ HTTP/1.1 details (HTTP::Daemon underneath)

# Sends raw bytes over a fresh TLS connection: the chunks of @send in turn, each after
# the reply so far matches its "wait" pattern (if any).  Returns what came back once the
# server closed the connection, or once the data matches $o{until} or 5 s have passed.
# Non-blocking, with 20 s for all the writing, so that a server that stops reading fails
# the test instead of hanging it.
sub raw_http ($send, %o) {
    my $s = IO::Socket::SSL->new(PeerHost => '127.0.0.1', PeerPort => $PORT, SSL_ca_file => "$DIR/ca.crt",
                                 SSL_verifycn_name => 'localhost', Timeout => 5) or die "connect: $SSL_ERROR";
    $s->blocking(0);
    my $sel = IO::Select->new($s);
    my $data = '';
    my $read_until = sub ($re) {
        my $end = time + 5;
        while (!defined $re || $data !~ $re) {
            my $left = $end - time;
            last if $left <= 0 || !($s->pending || $sel->can_read($left));
            my $n = $s->sysread($data, 65536, length $data);
            next if !defined $n && $SSL_ERROR == SSL_WANT_READ;
            last unless $n;
        }
    };
    my $deadline = time + 20;
    for my $step (@$send) {
        my ($bytes, $wait) = ref $step ? @$step : ($step);
        $read_until->($wait) if $wait;
        for (my $off = 0; $off < length $bytes && time < $deadline;) {   # a TLS write may take one record only
            my $n = $s->syswrite($bytes, length($bytes) - $off, $off);
            if ($n) { $off += $n; next }
            last unless $SSL_ERROR == SSL_WANT_WRITE || $SSL_ERROR == SSL_WANT_READ;
            $SSL_ERROR == SSL_WANT_WRITE ? $sel->can_write($deadline - time) : $sel->can_read($deadline - time);
        }
    }
    $read_until->($o{until});
    close $s;
    return $data;
}

sub post_head ($path, $len, @extra) {
    return join "\r\n", "POST $path HTTP/1.1", 'Host: localhost', 'Content-Type: application/json',
        "Authorization: Bearer $TOKEN", (defined $len ? "Content-Length: $len" : ()), @extra, '', '';
}

{
    my $check = $JSON->encode({ certificateId => $AUTH_ID, checkMethod => 'CHECK_METHOD_OCSP' });
    my $one = post_head($CHECK, length $check) . $check;
    my $data = raw_http([$one x 3], until => qr/(?:STATUS_GOOD.*){3}/s);
    my @status = $data =~ m{HTTP/1\.1 (\d+) }g;       # each answer follows the last one's "}"
    is("@status", '200 200 200', 'three pipelined requests in one write: three answers, in order');
    unlike($data, qr/^Connection: close/mi, '... on a connection kept alive');

    $data = raw_http([[post_head($CHECK, length $check, 'Expect: 100-continue')],
                      [$check, qr{^HTTP/1\.1 100 }]], until => qr/STATUS_GOOD/);
    like($data, qr{^HTTP/1\.1 100 Continue\r\n\r\nHTTP/1\.1 200 }, 'Expect: 100-continue: 100 before the body is sent, then 200');

    my $chunked = join '', map { sprintf("%x\r\n%s\r\n", length $_, $_) } unpack('(a10)*', $check);
    $data = raw_http([post_head($CHECK, undef, 'Transfer-Encoding: chunked') . $chunked . "0\r\n\r\n"],
                     until => qr/STATUS_GOOD/);
    like($data, qr{^HTTP/1\.1 200 .*STATUS_GOOD}s, 'a chunked request body is read');

    $data = raw_http(["POST $CHECK HTTP/1.0\r\nContent-Type: application/json\r\nAuthorization: Bearer $TOKEN\r\n"
                      . "Content-Length: " . length($check) . "\r\n\r\n$check"]);
    like($data, qr{^HTTP/1\.1 200 .*^Connection: close\r\n.*STATUS_GOOD"\}\}\z}ms,
         'HTTP/1.0 without keep-alive: Connection: close, and the server closes after the answer');

    $data = raw_http(["GET $CHECK HTTP/1.1\r\nHost: localhost\r\n\r\n"], until => qr/\}/);
    like($data, qr{^HTTP/1\.1 405 .*^Allow: POST\r\n.*"code":"unimplemented"}ms, 'GET on an RPC path: 405 with Allow: POST');

    $data = raw_http([post_head($CHECK, 2, 'X-Pad: ' . ('p' x (40 * 1024))) . '{}'], until => qr/"\}\z/);
    like($data, qr{^HTTP/1\.1 431 .*^Connection: close\r\n.*"code":"resource_exhausted","message":"request header too large"}ms,
         'a 40 KiB request header: 431 resource_exhausted, connection closed');

    my $big = '{"x":"' . ('a' x (1024 * 1024)) . '"}';
    $chunked = join '', map { sprintf("%x\r\n%s\r\n", length $_, $_) } unpack('(a65536)*', $big);
    $data = raw_http([post_head($CHECK, undef, 'Transfer-Encoding: chunked') . $chunked . "0\r\n\r\n"], until => qr/"\}\z/);
    like($data, qr{^HTTP/1\.1 413 .*"message":"request body larger than 1 MiB"}s, 'a chunked body over 1 MiB: 413');

    $data = raw_http([post_head($CHECK, 100 * 1024 * 1024) . ('a' x (2 * 1024 * 1024))], until => qr/"\}\z/);
    like($data, qr{^HTTP/1\.1 413 .*"message":"request body larger than 1 MiB"}s,
         '100 MiB announced, 2 MiB sent: 413 without waiting for the rest');

    $data = raw_http(["GET /healthz\r\n"], until => qr/"\}\z/);
    like($data, qr{^HTTP/1\.1 400 .*"message":"malformed request line"}s, 'an HTTP/0.9 request line: 400');

    my ($res, $j) = rpc($CHECK, { certificate => encode_base64($CERT{auth}{der} . "\0junk", ''), checkMethod => 'CHECK_METHOD_OCSP' });
    is($j->{details}[0]{reason}, 'ERROR_REASON_INVALID_CERTIFICATE', 'a certificate followed by trailing bytes: INVALID_CERTIFICATE');
}

# ------------------------------------------------------------------ faults

{
    write_state({ faults => { ab12 => { delay_ms => 800 } } });
    my $t0 = time;
    my ($res, $j) = rpc($VERIFY, verify_body('auth'));
    my $slow = time - $t0;
    cmp_ok($slow, '>=', 0.8, sprintf('delay_ms 800 on serial ab12: took %.2fs', $slow));
    is($j->{verification}{result}, 'RESULT_OK', '... and then answered normally');
    my $offset = -s "$DIR/sim.log";
    rpc($VERIFY, verify_body('sign'));
    # the log, not a stopwatch, so that a busy machine cannot make this flaky
    like(log_line_after($offset, qr/serial=5c1/), qr/Verify serial=5c1 status=200 result=RESULT_OK fault=- /,
         '... another serial gets no fault');

    write_state({ faults => { '*' => { http_status => 503 } } });
    ($res, $j) = rpc($VERIFY, verify_body('sign'));
    is($res->code, 503, '"*" http_status 503: HTTP 503');
    is($j->{code}, 'unavailable', '... code unavailable');

    write_state({ faults => { next => [{ http_status => 500, delay_ms => 300 }, { malformed_json => JSON::PP::true },
                                       { wrong_types => JSON::PP::true }] } });
    $t0 = time;
    ($res, $j) = rpc($VERIFY, verify_body('auth'));
    is($res->code, 500, 'next[0] delay + http_status 500: HTTP 500');
    cmp_ok(time - $t0, '>=', 0.3, '... after the delay');
    is($j->{code}, 'internal', '... code internal');
    ($res, $j) = rpc($CHECK, { certificateId => $AUTH_ID, checkMethod => 'CHECK_METHOD_OCSP' });
    is($res->code, 200, 'next[1] malformed_json (consumed by a different RPC): HTTP 200');
    ok(!defined $j && length $res->content, '... with a body that is not JSON');
    ($res, $j) = rpc($VERIFY, verify_body('auth'));
    is($res->code, 200, 'next[2] wrong_types: HTTP 200');
    ok(defined $j, '... valid JSON');
    is($j->{certificateStatus}{status}, 42, '... certificateStatus.status is a number');
    ($res, $j) = rpc($VERIFY, verify_body('auth'));
    is($j->{verification}{result}, 'RESULT_OK', 'faults.next exhausted: normal again');

    write_state({ faults => { '*' => { truncate => JSON::PP::true } } });
    my $r = raw_exchange($VERIFY, verify_body('auth'));
    my ($head, $body) = split /\r\n\r\n/, $r->{data}, 2;
    my ($announced) = ($head // '') =~ /Content-Length: (\d+)/i;
    ok(defined $announced && length($body // '') < $announced,
       sprintf('truncate: %d of %d announced bytes, then the connection closed', length($body // ''), $announced // -1));
    ($res, $j) = rpc($VERIFY, verify_body('auth'));
    ok(!defined $j, '... LWP gets no usable JSON either');

    write_state({ faults => { '*' => { reset => JSON::PP::true } } });
    $r = raw_exchange($VERIFY, verify_body('auth'));
    is($r->{data}, '', 'reset: no bytes of a response');
    like($r->{err}, qr/reset/i, "... the connection was reset ($r->{err})");

    write_state({ faults => { '*' => { trickle_ms => 5, http_status => 503 } } });
    $r = raw_exchange($VERIFY, verify_body('auth'));
    like($r->{data}, qr{^HTTP/1\.1 503 .*"code":"unavailable"}s, 'trickle_ms + http_status: the whole 503 arrives');
    cmp_ok($r->{reads}, '>', 50, "... in many small pieces ($r->{reads} reads)");
    cmp_ok($r->{elapsed}, '>=', length($r->{data}) * 0.005 * 0.9, sprintf('... slowly (%.2fs)', $r->{elapsed}));

    write_state({ faults => { '*' => { huge_body_mb => 10 } } });
    ($res, $j) = rpc($VERIFY, verify_body('auth'));
    is($res->code, 200, 'huge_body_mb 10: HTTP 200');
    is(length $res->content, 10 * 1024 * 1024, '... a body of exactly 10 MiB');
    is($j->{verification}{result}, 'RESULT_OK', '... which is the real answer plus padding');

    write_state({ faults => { '*' => { blackhole => JSON::PP::true } } });
    my $ua2 = LWP::UserAgent->new(timeout => 2, ssl_opts => { SSL_ca_file => "$DIR/ca.crt" });
    $t0 = time;
    ($res, $j) = rpc($VERIFY, verify_body('auth'), ua => $ua2);
    my $took = time - $t0;
    ok($res->code == 500 && ($res->header('Client-Warning') // '') =~ /Internal/,
       'blackhole: the client times out: ' . $res->status_line);
    ok($took >= 1.9 && $took < 10, sprintf('... after its 2 s timeout (%.2fs)', $took));

    write_state({});
    ($res, $j) = get_json('/calls');
    cmp_ok($j->{total}, '>=', 30, "faulted requests are counted too (total $j->{total})");
}

# ------------------------------------------------------------------ logging

{
    my $log = slurp("$DIR/sim.log");
    like($log, qr/Verify serial=ab12 status=200 result=RESULT_OK fault=- \d+ms/, 'the log has one line per request');
    like($log, qr/serial=ab12 status=200 .*fault=ab12:delay_ms=800/, '... naming the fault applied');
    like($log, qr/Verify serial=1000 status=400 /, '... and the serial even of a refused certificate');
    my $b64 = encode_base64($CERT{auth}{der}, '');
    ok(index($log, substr($b64, 40, 40)) < 0 && index($log, substr(encode_base64($SIG{auth}, ''), 10, 40)) < 0,
       '... and never the certificate or the signature');
    ok(index($log, $TOKEN) < 0, '... nor the token');
}

# ------------------------------------------------------------------ mutual TLS

{
    my ($pid2, $port2) = start_sim('--client-ca', "$DIR/ca.crt");
    my $anon = LWP::UserAgent->new(timeout => 5, ssl_opts => { SSL_ca_file => "$DIR/ca.crt" });
    my $res = $anon->get("https://127.0.0.1:$port2/healthz");
    isnt($res->code, 200, '--client-ca: a client without a certificate is refused (' . $res->status_line . ')');
    my $withcert = LWP::UserAgent->new(timeout => 5, ssl_opts => {
        SSL_ca_file => "$DIR/ca.crt", SSL_cert_file => "$DIR/auth.crt", SSL_key_file => "$DIR/auth.key" });
    $res = $withcert->get("https://127.0.0.1:$port2/healthz");
    is($res->code, 200, '... one with a certificate from that CA gets in');
    ok(stop_sim($pid2), '... and SIGTERM stops that instance');
}

# ------------------------------------------------------------------ shutdown

{
    # leave a blackholed connection open: SIGTERM must take its child down too
    write_state({ faults => { '*' => { blackhole => JSON::PP::true } } });
    my $s = IO::Socket::SSL->new(PeerHost => '127.0.0.1', PeerPort => $PORT, SSL_ca_file => "$DIR/ca.crt",
                                 SSL_verifycn_name => 'localhost');
    my $payload = $JSON->encode(verify_body('auth'));
    print $s "POST $VERIFY HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer $TOKEN\r\n"
        . "Content-Length: " . length($payload) . "\r\n\r\n$payload";
    my $end = time + 5;
    sleep 0.1 while our_processes() < 2 && time < $end;
    cmp_ok(scalar(our_processes()), '>=', 2, 'a connection child is running');
    ok(stop_sim($PID), 'SIGTERM stops the simulator');
    $end = time + 5;
    sleep 0.1 while our_processes() && time < $end;
    is(scalar(our_processes()), 0, '... and no simulator process is left');
    ok(!-e "$DIR/sim.pid", '... and the pidfile is removed');
    close $s;
}

done_testing();
