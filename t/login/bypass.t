use strict;
use warnings FATAL => 'all';

# AuthType JPKI and the request chain (issue 9, item 1). A subrequest or an
# internal redirect into an AuthType JPKI location inherits the earlier
# request's user only if mod_jpki authenticated that request, as that user,
# under the same configuration; a user set by Basic auth or by mod_ssl's
# SSLUserName gets the full check (no session: refused). From a real JPKI
# session (cookie or client certificate) the same paths still work.
use Apache::Test qw(-withtestmore);
use File::Temp qw(tempdir);
use LWP::UserAgent ();
use MIME::Base64 qw(encode_base64);
use JPKITest;
use JPKIExport;

my $V = 'jpki_bypass';
my %ways = (
    'ErrorDocument'         => '/missing',
    'CGI local redirect'    => '/cgi/redir',
    'SSI include virtual'   => '/d/page.shtml',
    'mod_rewrite redirect'  => '/d/rw',
    'DirectoryIndex subreq' => '/idx/',
);
my @ways = sort keys %ways;

plan tests => 5 + 3 * @ways + 3 * @ways + 2 + 3 * @ways + 4 * @ways + 2 * @ways + 1;

my $m = manifest();
my $alice = "$m->{'auth-alice-1'}{issuer_key_id}:$m->{'auth-alice-1'}{serial}";

# A client certificate whose CN names the victim's account, self-signed:
# plain optional_no_ca accepts it as GENEROUS and SSLUserName takes the CN.
my $dir = tempdir(CLEANUP => 1);
system('openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
       '-subj', "/CN=$alice", '-keyout', "$dir/self.key", '-out', "$dir/self.crt") == 0
    or die "openssl req failed";
chmod 0644, "$dir/self.key";

sub self_ua {
    return LWP::UserAgent->new(ssl_opts => { SSL_ca_file => JPKITest::ca_file(), verify_hostname => 1,
                                             SSL_cert_file => "$dir/self.crt", SSL_key_file => "$dir/self.key" },
                               keep_alive => 0, max_redirect => 0, timeout => 30);
}
my $basic = 'Basic ' . encode_base64('partner:partner-secret', '');

# what the JPKI-protected CGI saw, if it ran
sub seen {
    my ($res) = @_;
    my $body = $res->decoded_content // '';
    my ($json) = $body =~ /(\{.*\})/s;
    my $j = $json ? eval { JSON::PP::decode_json($json) } : undef;
    return $j || {};
}

# --- the sources work as such -------------------------------------------------------
my $res = ua()->get(ssl_url('/basic/d/plain.txt', $V), Authorization => $basic);
is $res->code, 200, 'Basic auth area: partner gets in';
$res = self_ua()->get(ssl_url('/sslun/d/plain.txt', $V));
is $res->code, 200, 'SSLUserName area: the self-signed certificate gets in';
$res = self_ua()->get(ssl_url('/prot/ssl-env.cgi', $V));
like $res->code . ' ' . ($res->header('X-JPKI-Error') // ''), qr/^403 cert_/,
    'the self-signed certificate itself is refused by AuthType JPKI';

# --- a Basic-auth user never passes AuthType JPKI -------------------------------------
for my $w (@ways) {
    my $mark = error_log_mark();
    $res = ua()->get(ssl_url("/basic$ways{$w}", $V), Authorization => $basic);
    my $s = seen($res);
    ok !exists $s->{REMOTE_USER}, "Basic user, $w: the JPKI-protected CGI did not run as a user"
        or diag $res->as_string;
    unlike $res->decoded_content // '', qr/partner/, "Basic user, $w: partner is nowhere in the answer";
    like error_log_since($mark), qr/JPKI0210: user of the earlier request not inherited/,
        "Basic user, $w: logged, the full check ran";
}

# --- SSLUserName (the certificate's CN is the victim's account) -------------------------------
for my $w (@ways) {
    $res = self_ua()->get(ssl_url("/sslun$ways{$w}", $V));
    my $s = seen($res);
    ok !exists $s->{REMOTE_USER}, "SSLUserName user, $w: the JPKI-protected CGI did not run as a user"
        or diag $res->as_string;
    ok !exists $s->{JPKI_CERT_SERIAL}, "SSLUserName user, $w: no JPKI identity";
    unlike $res->decoded_content // '', qr/\Q$alice\E/, "SSLUserName user, $w: the victim's account is nowhere";
}

# --- a real JPKI session (challenge login) ------------------------------------------------------
my $ua = ua();
is login_on($ua, $V, cert => 'auth-alice-1')->code, 200, 'alice logged in (challenge)';
my $cookie = session_cookie($ua);
ok $cookie, 'session cookie';
for my $w (@ways) {
    $res = $ua->get(ssl_url("/jsrc$ways{$w}", $V));
    my $s = seen($res);
    is $s->{REMOTE_USER}, $alice, "JPKI session, $w: the JPKI-protected CGI runs as alice" or diag $res->as_string;
    is $s->{JPKI_AUTH_METHOD}, 'challenge', "JPKI session, $w: with her JPKI identity";
    # and from the Basic area: the session passes the full check, as alice
    $res = ua()->get(ssl_url("/basic$ways{$w}", $V), Authorization => $basic, Cookie => $cookie);
    is seen($res)->{REMOTE_USER}, $alice, "Basic user with alice's JPKI session, $w: alice, not partner"
        or diag $res->as_string;
}

# --- a TLS client-certificate login: the certificate passes the full check ---------------------
for my $w (@ways) {
    my $tua = ua(cert => 'auth-bob');
    $res = $tua->get(ssl_url("/jsrc$ways{$w}", $V));
    my $s = seen($res);
    is $s->{REMOTE_USER}, "$m->{'auth-bob'}{issuer_key_id}:$m->{'auth-bob'}{serial}",
        "TLS certificate, $w: the JPKI-protected CGI runs as bob" or diag $res->as_string;
    is $s->{JPKI_AUTH_METHOD}, 'tls', "TLS certificate, $w: method tls";
    # the SSLUserName area with a real card: AuthType JPKI judges the card
    $res = ua(cert => 'auth-bob')->get(ssl_url("/sslun$ways{$w}", $V));
    is seen($res)->{JPKI_AUTH_METHOD}, 'tls', "SSLUserName area with a real card, $w: a JPKI identity";
    is seen($res)->{REMOTE_USER}, "$m->{'auth-bob'}{issuer_key_id}:$m->{'auth-bob'}{serial}",
        "SSLUserName area with a real card, $w: REMOTE_USER is the JPKI user, not the certificate CN";
}

# --- no certificate, no session, no earlier user: the login redirect -------------------------
for my $w (@ways) {
    $res = ua()->get(ssl_url("/sslun$ways{$w}", $V));
    ok !exists seen($res)->{REMOTE_USER}, "anonymous, $w: the CGI did not run as a user";
    unlike $res->decoded_content // '', qr/"JPKI_/, "anonymous, $w: no JPKI variable";
}
$res = ua()->get(ssl_url('/prot/ssl-env.cgi', $V));
is $res->code, 302, 'anonymous GET on the target: the login redirect';

# --- AuthType JPKI open to all (Require all granted): mod_jpki's check does
# not run, and the SSLUserName user is not handed over as if it were JPKI's
my $mark = error_log_mark();
$res = self_ua()->get(ssl_url('/jopen/ssl-env.cgi', $V));
is $res->code . ' ' . (seen($res)->{REMOTE_USER} // 'none'), '200 none',
    'AuthType JPKI + Require all granted: no REMOTE_USER from SSLUserName';
like error_log_since($mark), qr/JPKI0212: AuthType JPKI location: a user that mod_jpki did not authenticate/,
    '... logged';
