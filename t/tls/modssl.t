use strict;
use warnings FATAL => 'all';

# JPKITLSClientAuth On must not weaken mod_ssl (issue 9, item 2). Outside
# AuthType JPKI on that host, a certificate mod_ssl would refuse (expired,
# forged issuer, unknown critical extension, no digitalSignature, 1024-bit
# key, SHA-1) is at most GENEROUS, never SUCCESS, and satisfies none of
# mod_ssl's authorisations: Require ssl-verify-client, SSLRequire on
# SSL_CLIENT_VERIFY, a per-location SSLVerifyClient require. The sibling
# host without the directive keeps plain optional_no_ca (it aborts the
# handshake for those certificates). SSLUserName / FakeBasicAuth on such a
# host are refused at startup, and SSLUserName from .htaccess at request time.
# AuthType JPKI on the host keeps its clear 403 + code (t/tls/client-cert.t has all codes).
use Apache::Test qw(-withtestmore);
use JPKITest;

my $MOD   = 'jpki_tlsmod';      # JPKITLSClientAuth On
my $PLAIN = 'jpki_tlsplain';    # the same host without it
my @auth  = ('/rvc/env', '/sslreq/env', '/strict/env');
# certificates mod_ssl alone refuses in the handshake (optional_no_ca)
my @refused = ([ 'bad-expired', 'cert_expired' ], [ 'bad-unknown-crit', 'cert_critical_extension' ],
               [ 'bad-no-digsig', 'cert_key_usage' ], [ 'bad-notyet', 'cert_not_yet_valid' ],
               [ 'bad-rsa1024', 'cert_weak_key' ], [ 'bad-sha1', 'cert_weak_signature' ]);

plan tests => 2 * 4 + 2 * 4 + 1 + @refused * 11 + 2 + 2 + 10;

# FakeBasicAuth's password file (.htaccess in htdocs/tls-modssl-fba): the
# subject DNs of a good and of an expired certificate, password "password"
{
    my $file = Apache::Test::vars()->{t_logs} . '/jpki-fba.htpasswd';
    open my $fh, '>', $file or die "$file: $!";
    for my $c ('auth-alice-1', 'bad-expired', 'bad-unknown-crit', 'bad-no-digsig', 'bad-notyet',
               'bad-rsa1024', 'bad-sha1') {
        my $dn = `openssl x509 -in @{[pki("$c.crt")]} -noout -subject -nameopt compat`;
        $dn =~ s/^subject=\s*//;
        chomp $dn;
        my $hash = `openssl passwd -apr1 password`;
        chomp $hash;
        print $fh "$dn:$hash\n";
    }
    close $fh;
}

sub get {
    my ($cert, $path, $vhost) = @_;
    return $cert =~ /rsa1024|sha1/ ? weak_client_get($cert, $path, $vhost)
                                   : ua(cert => $cert)->get(ssl_url($path, $vhost));
}

sub verify_of {
    my ($r) = @_;
    return ($r->code // 0) == 200 ? json_of($r)->{SSL_CLIENT_VERIFY} // ''
                                  : '(no answer: ' . ($r->code // 'none') . ')';
}

# --- a good certificate: mod_ssl's SUCCESS on both hosts -------------------------
for my $v ($MOD, $PLAIN) {
    is verify_of(get('auth-alice-1', '/pub/env', $v)), 'SUCCESS', "$v: good certificate => SUCCESS";
    is get('auth-alice-1', $_, $v)->code, 200, "$v: good certificate passes $_" for @auth;
}

# --- a forged issuer (same DN, other key): the same on both hosts ------------------------
my %forged;
for my $v ($MOD, $PLAIN) {
    $forged{$v} = verify_of(get('bad-forged', '/pub/env', $v));
    isnt $forged{$v}, 'SUCCESS', "$v: forged issuer => not SUCCESS ($forged{$v})";
    isnt get('bad-forged', $_, $v)->code, 200, "$v: forged issuer refused by $_" for @auth;
}
is $forged{$MOD}, $forged{$PLAIN}, 'forged issuer: SSL_CLIENT_VERIFY is what optional_no_ca alone gives';

# --- certificates mod_ssl refuses -------------------------------------------------------
for my $case (@refused) {
    my ($c, $code) = @$case;
    my $res = get($c, '/pub/env', $MOD);
    is $res->code, 200, "$MOD: $c: the handshake completes (mod_jpki judges it)";
    is verify_of($res), 'GENEROUS', "$MOD: $c: mod_ssl reports GENEROUS, never SUCCESS";
    isnt get($c, $_, $MOD)->code, 200, "$MOD: $c: refused by $_" for @auth;
    $res = get($c, '/jpki-only/env', $MOD);
    is $res->code . ' ' . ($res->header('X-JPKI-Error') // ''), "403 $code",
        "$MOD: $c: AuthType JPKI refuses it with 403 $code";
    my $mark = error_log_mark();
    $res = get($c, '/ht/env.cgi', $MOD);
    is $res->code, 403, "$MOD: $c: SSLUserName from .htaccess refused";
    like error_log_since($mark), qr/JPKI0022: a user name taken from a client certificate/,
        "$MOD: $c: ... and logged";
    $mark = error_log_mark();
    $res = get($c, '/fba/env.cgi', $MOD);
    is $res->code, 403, "$MOD: $c: FakeBasicAuth from .htaccess refused";
    like error_log_since($mark), qr/JPKI0022: .*SSLOptions \+FakeBasicAuth/, "$MOD: $c: ... and logged";
    isnt get($c, '/pub/env', $PLAIN)->code // 0, 200, "$PLAIN: $c: plain optional_no_ca still refuses it";
}

# the .htaccess guard leaves a verified certificate alone
my $res = get('auth-alice-1', '/ht/env.cgi', $MOD);
is $res->code, 200, 'SSLUserName from .htaccess with a verified certificate: 200';
ok json_of($res)->{REMOTE_USER}, '... and REMOTE_USER is set by mod_ssl';
$res = get('auth-alice-1', '/fba/env.cgi', $MOD);
is $res->code, 200, 'FakeBasicAuth from .htaccess with a verified certificate: 200';
like json_of($res)->{REMOTE_USER} // '', qr{^/C=JP/CN=}, '... as the certificate\'s DN';

# --- startup: SSLUserName / FakeBasicAuth on a JPKITLSClientAuth On host -------------
my $vars = Apache::Test::vars();
my $ssl = "LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so\n"
        . "JPKITrustedCA " . pki('trust-all.pem') . "\nJPKIStatusProvider none\n";
sub vhost {
    my ($inside) = @_;
    return "<VirtualHost 127.0.0.1:1>\nSSLEngine on\nSSLCertificateFile $vars->{sslca}/asf/certs/server.crt\n"
         . "SSLCertificateKeyFile $vars->{sslca}/asf/keys/server.pem\nSSLVerifyClient optional_no_ca\n$inside\n</VirtualHost>\n";
}
for my $case (
    [ 'SSLUserName in a location of the host',
      vhost("JPKITLSClientAuth On\n<Location /a>\nSSLUserName SSL_CLIENT_S_DN_CN\n</Location>"), 'SSLUserName' ],
    [ 'SSLUserName at server level, the host On',
      "SSLUserName SSL_CLIENT_S_DN_CN\n" . vhost("JPKITLSClientAuth On"), 'SSLUserName' ],
    [ 'JPKITLSClientAuth On at server level, SSLUserName in a host',
      "JPKITLSClientAuth On\n" . vhost("<IfModule ssl_module>\nSSLUserName SSL_CLIENT_S_DN_CN\n</IfModule>"), 'SSLUserName' ],
    [ 'SSLOptions +FakeBasicAuth on the host',
      vhost("JPKITLSClientAuth On\n<Directory /x>\nSSLOptions +StdEnvVars +FakeBasicAuth\n</Directory>"), 'SSLOptions' ],
) {
    my ($name, $body, $dir) = @$case;
    my ($rc, $out) = httpd_configtest($ssl . $body);
    isnt $rc, 0, "$name: httpd -t fails";
    like $out, qr/JPKI0021: \Q$dir\E \(.* line \d+\) cannot be used on a virtual host with JPKITLSClientAuth On/,
        "$name: the message names $dir and JPKITLSClientAuth" or diag $out;
}
my ($rc, $out) = httpd_configtest($ssl . vhost("<Location /a>\nSSLUserName SSL_CLIENT_S_DN_CN\n</Location>")
                                  . vhost("JPKITLSClientAuth On"));
is $rc, 0, 'SSLUserName on a sibling host without JPKITLSClientAuth is accepted' or diag $out;
($rc, $out) = httpd_configtest($ssl . "JPKITLSClientAuth On\n"
                               . vhost("JPKITLSClientAuth Off\nSSLUserName SSL_CLIENT_S_DN_CN"));
is $rc, 0, 'SSLUserName on a host that turns JPKITLSClientAuth Off is accepted' or diag $out;
