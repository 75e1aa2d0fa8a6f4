use strict;
use warnings FATAL => 'all';

# Configuration errors stop `apachectl -t` (httpd -t) with a message that
# names the directive to fix.
use Apache::Test qw(-withtestmore);
use File::Temp ();
use JPKITest;

my $vars = Apache::Test::vars();
my $shared = "$vars->{serverroot}/../../shared/jpki-ca";

my @cases = (
    [ 'missing trust file', "JPKITrustedCA /nonexistent/roots.pem\nJPKIStatusProvider none",
      qr/JPKITrustedCA: .*nonexistent.*cannot open/ ],
    [ 'unreadable (not a certificate)', "JPKITrustedCA " . pki('garbage.bin') . "\nJPKIStatusProvider none",
      qr/JPKITrustedCA: .*no PEM or DER certificate/ ],
    [ 'trust anchor not a CA', "JPKITrustedCA " . pki('notca.crt') . "\nJPKIStatusProvider none",
      qr/JPKITrustedCA: .*is not a CA certificate/ ],
    [ 'trust anchor not a JPKI root', "JPKITrustedCA " . pki('other-root.crt') . "\nJPKIStatusProvider none",
      qr/JPKITrustedCA: .*is not a JPKI root/ ],
    [ 'unknown status provider', "JPKIStatusProvider carrier-pigeon",
      qr/JPKIStatusProvider: unknown provider 'carrier-pigeon'/ ],
    [ 'status provider missing', "JPKITrustedCA " . pki('trust-auth.pem'),
      qr/JPKIStatusProvider is not set/ ],
    [ 'bad number', "JPKIChallengeLifetime soon", qr/JPKIChallengeLifetime: 'soon' is not a whole number/ ],
    [ 'bad flag', "JPKIAcceptTestCards maybe", qr/JPKIAcceptTestCards must be On or Off/ ],
    [ 'bad cookie name', "JPKISessionCookie 'a;b'", qr/JPKISessionCookie: invalid cookie name/ ],
    [ 'bad policy OID', "JPKIAuthPolicyOID not.an.oid", qr/JPKIAuthPolicyOID: 'not.an.oid' is not a dotted OID/ ],
    [ 'unknown socache', "JPKICache nosuchcache", qr/JPKICache: unknown socache provider 'nosuchcache'/ ],
    [ 'login page off-site', "<Location /x>\nJPKILoginPage //evil.example/\n</Location>",
      qr/JPKILoginPage: .*single '\/'/ ],
);

plan tests => 2 * @cases + 8;


for my $c (@cases) {
    my ($name, $body, $re) = @$c;
    my ($rc, $out) = httpd_configtest($body);
    isnt $rc, 0, "$name: httpd -t fails";
    like $out, $re, "$name: message names the directive" or diag $out;
}

my ($rc, $out) = httpd_configtest("JPKITrustedCA " . pki('trust-all.pem') . "\nJPKIStatusProvider none");
is $rc, 0, 'a valid configuration passes httpd -t' or diag $out;
like $out, qr/Syntax OK/, 'Syntax OK';

# The real J-LIS roots load and are classified; the expired 2015 pair is
# reported, not fatal. The tests read them from ../shared (CI has it).
($rc, $out) = httpd_configtest(join "\n",
    "JPKITrustedCA $shared/auth_ca_2015.pem $shared/auth_ca_2023.pem $shared/sign_ca_2015.pem $shared/sign_ca_2023.pem",
    "JPKIStatusProvider none", "LogLevel jpki:debug");
is $rc, 0, 'the real J-LIS roots load as trust anchors' or diag $out;
like $out, qr/auth root 9567951b5ca70d84a0fff1d85a87f1aab1340385 expired on 2025-10-19/,
    'expired 2015 user-authentication root reported by key id';
like $out, qr/sign root 0d034cbb34d0714f45e45a1cafd8fd143fab54a7 expired on 2025-10-19/,
    'expired 2015 signing root reported by key id';
like $out, qr/auth root 1ac100f596a3bc8c4b3df195e32699249e9e308a valid until 2033-07-15/,
    '2023 user-authentication root classified as auth';

# The published bank example (conf/jpki-bank-example.conf) parses and passes
# every startup check once its site-specific paths point at real files.
{
    my $ex = do { local $/; open my $f, '<', "$vars->{serverroot}/../conf/jpki-bank-example.conf" or die $!; <$f> };
    my $ssl = "$vars->{sslca}/$vars->{sslcaorg}";
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    open my $tok, '>', "$dir/pf-token" or die;
    print $tok "example-token\n";
    close $tok;
    mkdir "$dir/htdocs";
    my %files = (
        '/etc/apache2/jpki/authca02.pem' => pki('auth-root-g1.crt'),
        '/etc/apache2/jpki/authca03.pem' => pki('auth-root-g2.crt'),
        '/etc/apache2/jpki/signca02.pem' => pki('sign-root-g1.crt'),
        '/etc/apache2/jpki/signca03.pem' => pki('sign-root-g2.crt'),
        '/etc/apache2/jpki/pf-token'     => "$dir/pf-token",
        '/etc/apache2/jpki/pf-ca.pem'    => pki('server-ca.crt'),
    );
    $ex =~ s/\Q$_\E/$files{$_}/g for keys %files;
    $ex =~ s{/etc/ssl/bank/[\w.-]+\.crt}{$ssl/certs/server.crt}g;
    $ex =~ s{/etc/ssl/bank/[\w.-]+\.key}{$ssl/keys/server.pem}g;
    $ex =~ s{/srv/bank/[\w.-]+}{$dir/htdocs}g;
    my $mods = '/usr/lib/apache2/modules';
    # the example assumes Debian's apache2.conf; the base modules it builds on:
    my $base = join "\n", map { "LoadModule ${_}_module $mods/mod_$_.so" }
        qw(authz_user authz_host alias mime dir headers);
    $ex =~ s{^LoadModule jpki_module .*$}{}m;    # httpd_configtest loads ours
    my ($rc, $out) = httpd_configtest("$base\n$ex");
    is $rc, 0, 'conf/jpki-bank-example.conf passes httpd -t' or diag $out;
    like $out, qr/Syntax OK/, '... Syntax OK';
}
