use strict;
use warnings FATAL => 'all';

# Start checks of issue 12 ("Config checks"): what used to pass `httpd -t`
# silently and fail (or mislead) later is refused or warned about, and the
# message names the directive, the host and the fix. Each configuration is
# written on the fly and run through `httpd -t`; the expired-root warning is
# also counted in the error log of a real start and a graceful restart.
use Apache::Test qw(-withtestmore);
use File::Temp ();
use IO::Socket::INET ();
use JPKITest;

my $vars = Apache::Test::vars();
my $mods = '/usr/lib/apache2/modules';
my $trust = 'JPKITrustedCA ' . pki('trust-all.pem');
my $base = "$trust\nJPKIStatusProvider none";
my $shared = "$vars->{serverroot}/../../shared/jpki-ca";
my $ssl = "$vars->{sslca}/$vars->{sslcaorg}";

# name, configuration, expected exit (0 or 1), regexps that must match,
# regexps that must not match
my @cases;
sub refused { push @cases, [ $_[0], $_[1], 1, $_[2], $_[3] || [] ] }
sub passes  { push @cases, [ $_[0], $_[1], 0, $_[2] || [], $_[3] || [] ] }

# --- 1: AuthType JPKI on a host without JPKITrustedCA - ---------------
my $vh = sub { my ($name, $body) = @_; "<VirtualHost 127.0.0.1:1>\nServerName $name\n$body\n</VirtualHost>" };
refused('AuthType JPKI in a vhost without JPKITrustedCA',
    "JPKIStatusProvider none\n" . $vh->('a.example', "$trust\n<Location /x>\nAuthType JPKI\n</Location>")
        . "\n" . $vh->('b.example', "<Location /secure>\nAuthType JPKI\n</Location>"),
    [qr/JPKI0150: AuthType JPKI \(\S+httpd\.conf:\d+, in <Location \/secure>\) applies to b\.example:1 \(<VirtualHost> at \S+:\d+\), which has no JPKITrustedCA: .*Add JPKITrustedCA to that host, or to the main server/]);
refused('AuthType JPKI at server level, one vhost without JPKITrustedCA',
    "JPKIStatusProvider none\n<Directory /srv>\nAuthType JPKI\n</Directory>\n"
        . $vh->('a.example', $trust) . "\n" . $vh->('b.example', ''),
    [qr/JPKI0150: AuthType JPKI .*in <Directory \/srv>\) applies to the main server \(localhost\), which has no JPKITrustedCA/]);
# the endpoints alone (a packaged snippet before the site is configured) start
passes('SetHandler jpki-login without JPKITrustedCA anywhere',
    "<Location /jpki/login>\nSetHandler jpki-login\n</Location>", [qr/Syntax OK/], [qr/JPKI0150/]);
passes('AuthType JPKI in a vhost, JPKITrustedCA inherited from the main server',
    "$base\n" . $vh->('a.example', "<Location /x>\nAuthType JPKI\n</Location>"), [qr/Syntax OK/]);

# --- 2: JPKITLSClientAuth On needs SSLVerifyClient optional_no_ca -------------------
my $tls = sub {
    my ($body) = @_;
    return "LoadModule ssl_module $mods/mod_ssl.so\n$base\n"
        . $vh->('cert.example', "SSLEngine on\nSSLCertificateFile $ssl/certs/server.crt\n"
                . "SSLCertificateKeyFile $ssl/keys/server.pem\nJPKITLSClientAuth On\n$body");
};
refused('JPKITLSClientAuth On, no SSLVerifyClient', $tls->("SSLProtocol -all +TLSv1.2"),
    [qr/JPKI0030: JPKITLSClientAuth On \(\S+:\d+\) for cert\.example:1 \(<VirtualHost> at \S+\) needs SSLVerifyClient optional_no_ca in that host .*has no SSLVerifyClient: no client certificate is ever asked for/]);
refused('JPKITLSClientAuth On, SSLVerifyClient require',
    $tls->("SSLProtocol -all +TLSv1.2\nSSLVerifyClient require"),
    [qr/JPKI0030: .*but it has SSLVerifyClient require at \S+:\d+: mod_ssl would end the handshake/]);
refused('JPKITLSClientAuth On, optional_no_ca only in a <Location>',
    $tls->("SSLProtocol -all +TLSv1.2\n<Location />\nSSLVerifyClient optional_no_ca\n</Location>"),
    [qr/JPKI0030: .*needs SSLVerifyClient optional_no_ca in that host \(not in a <Location>\)/]);
passes('JPKITLSClientAuth On, optional_no_ca, TLS 1.2',
    $tls->("SSLProtocol -all +TLSv1.2\nSSLVerifyClient optional_no_ca"),
    [qr/Syntax OK/], [qr/JPKI003\d/]);
passes('JPKITLSClientAuth On in the main server, a plain-HTTP vhost',
    "$base\nJPKITLSClientAuth On\n" . $vh->('plain.example', ''), [qr/Syntax OK/], [qr/JPKI003\d/]);

# --- 3: a card-login host that allows only TLS 1.3 --------------------------------
refused('JPKITLSClientAuth On, SSLProtocol TLS 1.3 only',
    $tls->("SSLVerifyClient optional_no_ca\nSSLProtocol -all +TLSv1.3"),
    [qr/JPKI0031: SSLProtocol -all \+TLSv1\.3 \(\S+:\d+\) leaves cert\.example:1 .*without TLS 1\.2: the card signs only RSASSA-PKCS1-v1_5 and TLS 1\.3 requires RSA-PSS in CertificateVerify/]);
refused('JPKITLSClientAuth On, SSLProtocol TLSv1.3 (replacing the set)',
    $tls->("SSLVerifyClient optional_no_ca\nSSLProtocol TLSv1.3"), [qr/JPKI0031: SSLProtocol TLSv1\.3 /]);
refused('JPKITLSClientAuth On, SSLOpenSSLConfCmd MinProtocol TLSv1.3',
    $tls->("SSLVerifyClient optional_no_ca\nSSLOpenSSLConfCmd MinProtocol TLSv1.3"),
    [qr/JPKI0031: SSLOpenSSLConfCmd MinProtocol TLSv1\.3 \(\S+:\d+\) leaves cert\.example:1/]);
refused('TLS 1.3 only set in the main server, inherited',
    "SSLProtocol -all +TLSv1.3\n" . $tls->("SSLVerifyClient optional_no_ca"), [qr/JPKI0031: SSLProtocol -all \+TLSv1\.3 /]);
passes('JPKITLSClientAuth On, SSLProtocol unset (TLS 1.2 and 1.3): a warning',
    $tls->("SSLVerifyClient optional_no_ca"),
    [qr/JPKI0032: SSLProtocol \(default all\) allows TLS 1\.3 on cert\.example:1 .*Pin this host to TLS 1\.2/, qr/Syntax OK/]);
passes('SSLOpenSSLConfCmd MaxProtocol TLSv1.2: no warning',
    $tls->("SSLVerifyClient optional_no_ca\nSSLOpenSSLConfCmd MaxProtocol TLSv1.2"), [qr/Syntax OK/], [qr/JPKI003\d/]);

# --- 4: JPKISessionIdleTimeout > JPKISessionMaxAge ---------------------------------
refused('JPKISessionMaxAge below the default idle timeout', "$base\nJPKISessionMaxAge 600",
    [qr/JPKI0151: JPKISessionIdleTimeout 900 \(default\) is longer than JPKISessionMaxAge 600 \(\S+:\d+\) for the main server/]);
refused('idle timeout above the max age in a vhost',
    "$base\n" . $vh->('a.example', "JPKISessionIdleTimeout 3600\nJPKISessionMaxAge 1800"),
    [qr/JPKI0151: JPKISessionIdleTimeout 3600 \(\S+:\d+\) is longer than JPKISessionMaxAge 1800 \(\S+:\d+\) for a\.example:1/]);
passes('idle timeout equal to the max age', "$base\nJPKISessionIdleTimeout 600\nJPKISessionMaxAge 600", [qr/Syntax OK/]);

# --- 5: JPKIAccountStore dbd needs DBDriver --------------------------------------
my $dbd = "LoadModule dbd_module $mods/mod_dbd.so\n$base";
refused('JPKIAccountStore dbd, no DBDriver', "$dbd\nJPKIAccountStore dbd",
    [qr/JPKI0153: JPKIAccountStore dbd \(\S+:\d+\) for the main server \(localhost\) needs DBDriver \(and DBDParams\)/]);
refused('JPKIAccountStore dbd in a vhost, DBDriver only in another vhost',
    "$dbd\n" . $vh->('a.example', "JPKIAccountStore dbd") . "\n" . $vh->('b.example', "DBDriver sqlite3"),
    [qr/JPKI0153: JPKIAccountStore dbd \(\S+\) for a\.example:1 .*needs DBDriver/]);
passes('JPKIAccountStore dbd, DBDriver in the main server',
    "$dbd\nDBDriver sqlite3\nDBDParams /tmp/x.db\n" . $vh->('a.example', "JPKIAccountStore dbd"), [qr/Syntax OK/]);

# --- 6: JPKIAuditLog in a missing directory --------------------------------------
my $tmp = File::Temp::tempdir(CLEANUP => 1);
refused('JPKIAuditLog in a missing directory', "$base\nJPKIAuditLog $tmp/missing/audit.log",
    [qr/JPKI0152: JPKIAuditLog \Q$tmp\E\/missing\/audit\.log: the directory \Q$tmp\E\/missing\/ does not exist/]);
refused('JPKIAuditLog under a file', "$base\nJPKIAuditLog " . pki('trust-all.pem') . "/audit.log",
    [qr/JPKI0152: JPKIAuditLog /]);
passes('JPKIAuditLog in an existing directory', "$base\nJPKIAuditLog $tmp/audit.log", [qr/Syntax OK/]);
passes('JPKIAuditLog to a program', "$base\nJPKIAuditLog \"|/bin/cat\"", [qr/Syntax OK/]);

# --- 7: a status provider where JPKITrustedCA is missing --------------------------
my $pf = join "\n", 'JPKIStatusProvider platform', 'JPKIPlatformURL https://127.0.0.1:1/',
    "JPKIPlatformTokenFile $vars->{top_dir}/t/data/pf-token", 'JPKIPlatformCA ' . pki('server-ca.crt');
refused('provider in the main server, JPKITrustedCA only in the vhost',
    "$pf\n" . $vh->('a.example', $trust),
    [qr/JPKI0503: the main server \(localhost\) has no JPKITrustedCA, but JPKIStatusProvider platform \(\S+:\d+\) applies to it; JPKITrustedCA is set only at \S+:\d+\. Add JPKITrustedCA to the main server, or move JPKIStatusProvider/],
    [qr/needs JPKITrustedCA/]);

plan tests => 2 * @cases + 8;

for my $c (@cases) {
    my ($name, $body, $fails, $match, $nomatch) = @$c;
    my ($rc, $out) = httpd_configtest($body);
    if ($fails) {
        isnt $rc, 0, "$name: httpd -t fails";
    } else {
        is $rc, 0, "$name: httpd -t passes";
    }
    my @bad = grep { $out !~ $_ } @$match;
    push @bad, grep { $out =~ $_ } @$nomatch;
    ok !@bad, "$name: the message" or diag "expected/unexpected @bad in:\n$out";
}

# --- 8: each expired root once per start, not per host nor per pass ---------------
my $expired = "JPKITrustedCA $shared/auth_ca_2015.pem $shared/sign_ca_2015.pem $shared/auth_ca_2023.pem";
my $hosts = "$expired\nJPKIStatusProvider none\n" . $vh->('a.example', '') . "\n" . $vh->('b.example', '');
my ($rc, $out) = httpd_configtest($hosts);
my @n = map { scalar(() = $out =~ /JPKI0102: JPKITrustedCA \S+$_\.pem: \w+ root \w+ expired/g) } qw(auth_ca_2015 sign_ca_2015);
is "@n", '1 1', 'httpd -t, three hosts load two expired roots: each reported once' or diag $out;

# A real httpd on a free port: writes the configuration, returns the
# command, the error log reader and the directory.
sub real_httpd {
    my ($body) = @_;
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    chmod 0755, $dir;
    my $port = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1)->sockport;
    $body =~ s/127\.0\.0\.1:1>/127.0.0.1:$port>/g;
    minimal_httpd_conf($dir, $body, listen => $port, extra => "User nobody\nGroup nogroup\n");
    my $slurp = sub { open my $f, '<', "$dir/error_log" or return ''; local $/; scalar <$f> // '' };
    return ("$vars->{httpd} -f $dir/httpd.conf", $slurp, $dir);
}

sub wait_for {
    my ($cond) = @_;
    for (1 .. 100) { return 1 if $cond->(); select undef, undef, undef, 0.1 }
    return 0;
}

# A real start and a graceful restart: the warning reaches the error log once
# per generation (check_config's messages of the second read go nowhere).
{
    my ($httpd, $slurp, $dir) = real_httpd($hosts);
    my $console = `$httpd -k start 2>&1`;
    my $resumed = sub { my $n = () = $slurp->() =~ /resuming normal operations/g; $n };
    wait_for(sub { $resumed->() >= 1 });
    my $log = $slurp->();
    my $count = sub { my $n = () = $_[0] =~ /JPKI0102: JPKITrustedCA \S+auth_ca_2015\.pem/g; $n };
    is $count->($log), 1, 'start: the expired root once in the error log' or diag $log;
    is $count->($console), 0, '... and not again on the console of the first read' or diag $console;
    `$httpd -k graceful 2>&1`;
    wait_for(sub { $resumed->() >= 2 });
    $log = $slurp->();
    is $count->($log), 2, 'graceful restart: once more' or diag $log;
    `$httpd -k stop 2>&1`;
    wait_for(sub { !-e "$dir/httpd.pid" });
    ok !-e "$dir/httpd.pid", 'the test server stopped';
}

# --- 3, at the real start: what the tree does not show (SSLOpenSSLConfCmd
# Protocol) is refused from the TLS context mod_ssl built ------------------------
{
    my $body = $tls->("SSLVerifyClient optional_no_ca\nSSLProtocol -all +TLSv1.2 +TLSv1.3\n"
                      . "SSLOpenSSLConfCmd Protocol -TLSv1.2");
    my ($rc, $out) = httpd_configtest($body);
    is $rc, 0, 'SSLOpenSSLConfCmd Protocol -TLSv1.2: httpd -t cannot see it' or diag $out;
    my ($httpd, $slurp, $dir) = real_httpd($body);
    my $console = `$httpd -k start 2>&1`;
    wait_for(sub { $slurp->() =~ /AH00016|resuming normal/ });
    my $log = $slurp->();
    like $log, qr/JPKI0033: cert\.example:\d+ \(<VirtualHost> at \S+\) has JPKITLSClientAuth On but its TLS context does not allow TLS 1\.2/,
        '... the start refuses it (JPKI0033)' or diag $log;
    unlike $log, qr/resuming normal operations/, '... and the server does not run';
    `$httpd -k stop 2>&1` if -e "$dir/httpd.pid";
}
