use strict;
use warnings FATAL => 'all';

# tools/jpki-login, the project's command-line signer, against the test
# server: a full challenge login, a page fetched with the new session, a
# signature by the wrong key, logout, and its exit codes.
use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use JPKITest;
use File::Temp ();
use IO::Socket::INET ();
use JSON::PP ();

plan tests => 30;

my $vars = Apache::Test::vars();
my $ca   = "$vars->{sslca}/$vars->{sslcaorg}/certs/ca.crt";
(my $base = ssl_url('/')) =~ s{/$}{};
my $tool = "$vars->{top_dir}/tools/jpki-login";
ok -x $tool, 'tools/jpki-login is executable';

# Run the tool (no shell); returns (exit status, stdout, stderr).
sub run_tool {
    my @args = @_;
    my $err = File::Temp->new;
    my $pid = open(my $out, '-|') // die "fork: $!";
    if (!$pid) {
        open STDERR, '>', $err->filename or die $!;
        exec $^X, $tool, @args or die "exec: $!";
    }
    local $/;
    my $stdout = <$out> // '';
    close $out;
    my $rc = $? >> 8;
    open my $e, '<', $err->filename or die $!;
    my $stderr = <$e> // '';
    return ($rc, $stdout, $stderr);
}

my @common = ('--url', $base, '--cacert', $ca);
my $m = manifest();
my $a1 = $m->{'auth-alice-1'};
my $alice = "$a1->{issuer_key_id}:$a1->{serial}";

# --- 1. login, cookie printed --------------------------------------------------
my ($rc, $out, $err) = run_tool(@common, '--key', pki('auth-alice-1.key'),
                                '--cert', pki('auth-alice-1.der'));
is $rc, 0, 'login with auth-alice-1 exits 0' or diag $err;
like $out, qr/^__Host-jpki_session=[A-Za-z0-9_-]{20,}\n\z/, 'prints exactly the session cookie';
chomp(my $cookie = $out);

my $ua = ua(no_cookies => 1);
my $res = $ua->get(ssl_url('/protected/env'), Cookie => $cookie, Accept => 'application/json');
is $res->code, 200, 'the printed cookie opens /protected';
is json_of($res)->{REMOTE_USER}, $alice, 'REMOTE_USER is alice';
is json_of($res)->{JPKI_AUTH_METHOD}, 'challenge', 'JPKI_AUTH_METHOD=challenge';

# --- 2. --get with the new session (PEM certificate this time) -------------------
($rc, $out, $err) = run_tool(@common, '--key', pki('auth-alice-1.key'),
                             '--cert', pki('auth-alice-1.crt'), '--get', '/protected/env');
is $rc, 0, '--get exits 0' or diag $err;
my ($line1, $page) = split /\n/, $out, 2;
like $line1, qr/^__Host-jpki_session=/, '--get: cookie first';
my $env = eval { JSON::PP::decode_json($page) } || {};
is $env->{REMOTE_USER}, $alice, '--get /protected/env shows REMOTE_USER';
is $env->{JPKI_AUTH_METHOD}, 'challenge', '--get: JPKI_AUTH_METHOD=challenge';

# --- 3. --json and --return-to ----------------------------------------------------
($rc, $out, $err) = run_tool(@common, '--key', pki('auth-bob.key'), '--cert', pki('auth-bob.der'),
                             '--return-to', '/protected/env?x=1', '--json');
is $rc, 0, '--json login of auth-bob exits 0' or diag $err;
my $j = eval { JSON::PP::decode_json($out) } || {};
is $j->{redirect}, '/protected/env?x=1', '--json shows the server redirect (return_to)';
like $j->{cookie} // '', qr/^__Host-jpki_session=/, '--json carries the cookie';

# --- 4. a signature by another key ------------------------------------------------
my $mark = error_log_mark();
($rc, $out, $err) = run_tool(@common, '--key', pki('auth-bob.key'),
                             '--cert', pki('auth-alice-1.der'));
is $rc, 1, "bob's key with alice's certificate exits 1";
like $err, qr/signature_invalid/, 'stderr names signature_invalid';
is $out, '', 'no cookie printed on failure';
like error_log_since($mark), qr/code=signature_invalid method=challenge/, 'the server logged it';

# --- 4b. the client data names an origin: --origin (default: that of --url) --------
(my $phish = $base) =~ s{//localhost:}{//phish.localhost:};
$mark = error_log_mark();
($rc, $out, $err) = run_tool(@common, '--key', pki('auth-alice-1.key'),
                             '--cert', pki('auth-alice-1.der'), '--origin', $phish);
is $rc, 1, "--origin $phish (a relaying site) exits 1";
like $err, qr/origin_mismatch/, 'stderr names origin_mismatch';
like error_log_since($mark), qr/JPKI0340: client data origin \Q$phish\E is not one of this host's origins/,
    'the server logged the foreign origin';
($rc, $out, $err) = run_tool(@common, '--key', pki('auth-alice-1.key'),
                             '--cert', pki('auth-alice-1.der'), '--bare');
ok $rc == 1 && $err =~ /client_data_missing/, '--bare (no client data) => client_data_missing'
    or diag $err;
($rc, $out, $err) = run_tool(@common, '--key', pki('auth-alice-1.key'),
                             '--cert', pki('auth-alice-1.der'), '--origin', "$base/");
is $rc, 2, '--origin with a path or trailing slash: usage error';

# --- 5. an expired certificate: the stable code ------------------------------------
($rc, $out, $err) = run_tool(@common, '--key', pki('bad-expired.key'),
                             '--cert', pki('bad-expired.der'));
ok $rc == 1 && $err =~ /cert_expired/, 'bad-expired exits 1 with cert_expired' or diag $err;

# --- 6. logout ends the session ----------------------------------------------------
($rc, $out, $err) = run_tool(@common, '--logout', $cookie);
is $rc, 0, '--logout exits 0' or diag $err;
$res = $ua->get(ssl_url('/protected/env'), Cookie => $cookie);
is $res->code, 302, 'after --logout the cookie gets the login redirect';
$res = $ua->get(ssl_url('/protected/env'), Cookie => $cookie, Accept => 'application/json');
is $res->code, 401, 'after --logout a JSON client gets 401';

# --- 7. exit codes for usage and network errors ------------------------------------
($rc, $out, $err) = run_tool('--url', $base);
is $rc, 2, 'missing --key/--cert: usage error, exit 2';
($rc, $out, $err) = run_tool('--url', 'http://localhost/', '--key', pki('auth-bob.key'),
                             '--cert', pki('auth-bob.der'));
is $rc, 2, 'a non-https URL is a usage error';
# a port nobody listens on (bound and closed right here)
my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1) or die $!;
my $dead = $s->sockport;
close $s;
($rc, $out, $err) = run_tool('--url', "https://127.0.0.1:$dead", '--insecure',
                             '--key', pki('auth-bob.key'), '--cert', pki('auth-bob.der'));
is $rc, 3, 'connection refused: network error, exit 3';
($rc, $out, $err) = run_tool('--url', $base, '--key', pki('auth-bob.key'),
                             '--cert', pki('auth-bob.der'));
is $rc, 3, 'server certificate not trusted (no --cacert): exit 3';
