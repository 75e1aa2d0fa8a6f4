use strict;
use warnings FATAL => 'all';

# Origin-bound challenge signatures (protocol v2, docs/http-contract.md):
# the card signs client data {"type","challenge","origin"} that the card
# helper builds from the Origin header the browser sent it. A challenge
# relayed through another site is signed for that site's origin and is
# refused (origin_mismatch); the bare challenge is accepted only with
# JPKIBareChallenge On; every malformed client data is client_data_invalid.
use Apache::Test qw(-withtestmore);
use File::Temp ();
use JSON::PP ();
use JPKITest;
use JPKIExport qw(audit_read wait_for_lines);

plan tests => 101;

my $O = vhost_origin();                          # https://localhost:PORT of mod_ssl
(my $port = $O) =~ s/.*://;
my $cert = b64(pki_der('auth-alice-1'));

# POST a login on vhost $v (undef = mod_ssl) with a fresh challenge; $build
# gets the challenge and returns the rest of the body.
sub attempt {
    my ($v, $build, $ua) = @_;
    $ua ||= ua();
    my $ch = json_of($ua->get(ssl_url('/jpki/challenge', $v)))->{challenge} or die 'no challenge';
    my $req = HTTP::Request->new(POST => ssl_url('/jpki/login', $v));
    $req->header('Content-Type' => 'application/json');
    $req->content(JSON::PP::encode_json({ challenge => $ch, certificate => $cert, $build->($ch) }));
    return ($ua->request($req), $ch, $ua);
}

# client data bytes signed as given
sub signed {
    my ($bytes) = @_;
    return (client_data => b64url($bytes), signature => b64(card_sign('auth-alice-1', $bytes)));
}

sub refused_ok {
    my ($res, $status, $code, $name, $mark) = @_;
    is $res->code, $status, "$name => $status" or diag $res->as_string;
    is $res->header('X-JPKI-Error'), $code, "$name => $code";
    ok !grep({ /^__Host-jpki_session=[^;]/ } $res->header('Set-Cookie')), "$name: no session";
    like error_log_since($mark), qr/JPKI0201: login refused: code=\Q$code\E method=challenge/,
        "$name: refusal logged";
}

# --- 1. the normal login with client data ------------------------------------------
my ($res) = attempt(undef, sub { card_proof('auth-alice-1', $_[0]) });
is $res->code, 200, 'client data for this origin => 200' or diag $res->as_string;
is json_of($res)->{status}, 'ok', '... status ok';

# --- 2. no client data: refused unless JPKIBareChallenge On ------------------------------
my $mark = error_log_mark();
my ($ch, $ua);
($res, $ch, $ua) = attempt(undef, sub { (signature => b64(card_sign('auth-alice-1', b64url_decode($_[0])))) });
refused_ok($res, 400, 'client_data_missing', 'bare challenge signature without client data', $mark);
# ... and the challenge is spent: a corrected retry is a replay
my $req = HTTP::Request->new(POST => ssl_url('/jpki/login'));
$req->header('Content-Type' => 'application/json');
$req->content(JSON::PP::encode_json({ challenge => $ch, certificate => $cert,
                                      card_proof('auth-alice-1', $ch) }));
is json_of($ua->request($req))->{error}, 'challenge_replayed',
    'the challenge was consumed by the refused attempt';

$mark = error_log_mark();
($res) = attempt('jpki_origin_bare', sub { (signature => b64(card_sign('auth-alice-1', b64url_decode($_[0])))) });
is $res->code, 200, 'JPKIBareChallenge On: the legacy form is accepted' or diag $res->as_string;
like error_log_since($mark), qr/JPKI0341: legacy login without client data/, '... and logged as such';
my $bO = vhost_origin('jpki_origin_bare');
($res) = attempt('jpki_origin_bare', sub { card_proof('auth-alice-1', $_[0], origin => "https://phish.localhost:$port") });
is $res->header('X-JPKI-Error'), 'origin_mismatch',
    'JPKIBareChallenge On: client data, when sent, is still checked';
($res) = attempt('jpki_origin_bare', sub { card_proof('auth-alice-1', $_[0], vhost => 'jpki_origin_bare') });
is $res->code, 200, 'JPKIBareChallenge On: client data for its own origin => 200';

# --- 3. client_data_invalid ------------------------------------------------------------------
my @invalid = (
    [ 'whitespace (not canonical)', sub { my $c = shift;
        signed('{"type": "jpki.login","challenge":"' . $c . '","origin":"' . $O . '"}') } ],
    [ 'other key order', sub { my $c = shift;
        signed('{"challenge":"' . $c . '","type":"jpki.login","origin":"' . $O . '"}') } ],
    [ 'escaped slash', sub { my $c = shift;
        my $o = $O =~ s{/}{\\/}gr;
        signed('{"type":"jpki.login","challenge":"' . $c . '","origin":"' . $o . '"}') } ],
    [ 'extra key', sub { my $c = shift;
        signed('{"type":"jpki.login","challenge":"' . $c . '","origin":"' . $O . '","x":"y"}') } ],
    [ 'wrong type', sub { signed(client_data($_[0], $O, 'jpki.sign')) } ],
    [ 'origin null', sub { signed(client_data($_[0], 'null')) } ],
    [ 'origin with a path', sub { signed(client_data($_[0], "$O/login")) } ],
    [ 'challenge mismatch', sub {
        my ($other) = challenge(ua());
        signed(client_data($other, $O)) } ],
    [ 'oversize (over 1024 bytes)', sub { my $c = shift;
        signed('{"type":"jpki.login","challenge":"' . $c . '","origin":"' . $O . '"}' . (' ' x 1024)) } ],
    [ 'bad base64url', sub { (client_data => '!!!not-base64!!!',
                             signature => b64(card_sign('auth-alice-1', client_data($_[0], $O)))) } ],
    [ 'standard base64 with padding', sub {
        my $cd = client_data($_[0], $O);
        my $e = b64($cd);
        $e .= '=' unless $e =~ /=$/;
        (client_data => $e, signature => b64(card_sign('auth-alice-1', $cd))) } ],
    [ 'not JSON', sub { signed("jpki.login $_[0] $O") } ],
);
for my $t (@invalid) {
    my ($name, $build) = @$t;
    $mark = error_log_mark();
    ($res) = attempt(undef, $build);
    refused_ok($res, 400, 'client_data_invalid', $name, $mark);
}

# --- 4. a signature over the bare challenge while client data is sent -----------------------
$mark = error_log_mark();
($res) = attempt(undef, sub { (client_data => b64url(client_data($_[0], $O)),
                               signature => b64(card_sign('auth-alice-1', b64url_decode($_[0])))) });
refused_ok($res, 401, 'signature_invalid', 'signature over the bare challenge with client data', $mark);

# --- 5. the relay: a real challenge, signed for the phishing page's origin ----------------
# The attacker fetches the bank's challenge with its own cookie, has the
# customer's helper sign it (the helper puts the phishing page's Origin in),
# and posts it from its own client.
my $A = 'jpki_origin_alias';
my $aO = vhost_origin($A);
(my $aport = $aO) =~ s/.*://;
my @before = audit_read('jpki-origin-audit.log');
$mark = error_log_mark();
($res) = attempt($A, sub { card_proof('auth-alice-1', $_[0], origin => "https://phish.localhost:$aport") });
refused_ok($res, 401, 'origin_mismatch', 'relayed challenge signed for https://phish.localhost', $mark);
like error_log_since($mark),
    qr{JPKI0340: client data origin https://phish\.localhost:$aport is not one of this host's origins \(https://localhost:$aport https://bank\.localhost:$aport\)},
    '... logged with the origin and the allowed ones';
my @l = wait_for_lines('jpki-origin-audit.log', @before + 1);
my ($audit) = grep { $_->{json} && ($_->{json}{code} // '') eq 'origin_mismatch' } @l[@before .. $#l];
ok $audit, '... audited' or diag join "\n", map { $_->{raw} } @l;
is $audit && $audit->{json}{event}, 'login_refused', '... as login_refused';
is $audit && $audit->{json}{serial}, do { my $m = manifest(); "$m->{'auth-alice-1'}{issuer_key_id}:$m->{'auth-alice-1'}{serial}" },
    '... with the verified certificate serial';

# --- 6. derived origins: ServerName + ServerAlias + port; never the Host header ---------
my %cases = (
    "https://localhost:$aport"        => 200,    # ServerName localhost:PORT
    "https://bank.localhost:$aport"   => 200,    # ServerAlias, same port
    "https://x.wild.localhost:$aport" => 401,    # wildcard aliases name no origin
    'https://bank.localhost'          => 401,    # port missing
    "http://localhost:$aport"         => 401,    # scheme
    "https://localhost:$port"         => 401,    # another vhost of this server
);
for my $o (sort keys %cases) {
    ($res) = attempt($A, sub { card_proof('auth-alice-1', $_[0], origin => $o) });
    is $res->code, $cases{$o}, "derived origins: $o => $cases{$o}";
    is $res->header('X-JPKI-Error'), 'origin_mismatch', "... origin_mismatch" if $cases{$o} != 200;
}
# a Host header naming the phishing host does not make it an origin of this host
{
    my $u = ua(no_cookies => 1);
    my $cr = $u->get(ssl_url('/jpki/challenge', $A));
    my $c = json_of($cr)->{challenge};
    my ($pre) = map { /^(__Host-jpki_session_pre=[^;]+)/ ? $1 : () } $cr->header('Set-Cookie');
    my $r = HTTP::Request->new(POST => ssl_url('/jpki/login', $A));
    $r->header('Content-Type' => 'application/json', Host => "phish.localhost:$aport",
               Cookie => $pre);
    $r->content(JSON::PP::encode_json({ challenge => $c, certificate => $cert,
        card_proof('auth-alice-1', $c, origin => "https://phish.localhost:$aport") }));
    is $u->request($r)->header('X-JPKI-Error'), 'origin_mismatch',
        'Host: phish.localhost does not derive an origin';
}
# ServerName https://bank.localhost:443: port 443 is not written
for ([ 'https://bank.localhost', 200 ], [ 'https://bank.localhost:443', 401 ],
     [ vhost_origin('jpki_origin_443'), 401 ]) {
    my ($o, $want) = @$_;
    ($res) = attempt('jpki_origin_443', sub { card_proof('auth-alice-1', $_[0], origin => $o) });
    is $res->code, $want, "ServerName https://bank.localhost:443: $o => $want";
}

# --- 7. JPKIOrigin overrides the derived origins -------------------------------------------
for ([ 'https://bank.example', 200 ], [ 'https://www.bank.example:8443', 200 ],
     [ 'https://www.bank.example', 401 ], [ vhost_origin('jpki_origin_set'), 401 ]) {
    my ($o, $want) = @$_;
    ($res) = attempt('jpki_origin_set', sub { card_proof('auth-alice-1', $_[0], origin => $o) });
    is $res->code, $want, "JPKIOrigin: $o => $want";
}

# --- 8. configuration errors are caught by apachectl -t -------------------------------------
for my $bad ('https://bank.example/', 'http://bank.example', 'null', 'https://bank.example/login',
             'bank.example') {
    my ($rc, $out) = httpd_configtest("JPKIOrigin $bad\n");
    isnt $rc, 0, "JPKIOrigin $bad refused at startup";
    like $out, qr/JPKIOrigin: '\Q$bad\E' is not an https origin/, '... naming the directive';
}
my ($rc, $out) = httpd_configtest("JPKIOrigin https://bank.example https://bank.example:8443\nJPKIBareChallenge Off\n");
is $rc, 0, 'JPKIOrigin with two origins and JPKIBareChallenge Off: syntax OK' or diag $out;
($rc, $out) = httpd_configtest("JPKIBareChallenge maybe\n");
isnt $rc, 0, 'JPKIBareChallenge takes On or Off';
