use strict;
use warnings FATAL => 'all';

# Account directives: every mistake stops `httpd -t` with a message that
# names the directive (issue: accounts).
use Apache::Test qw(-withtestmore);
use JPKITest;

my $vars    = Apache::Test::vars();
my $modules = '/usr/lib/apache2/modules';
my $trust   = "JPKITrustedCA " . pki('trust-all.pem') . "\nJPKIStatusProvider none";
my $dbd     = "LoadModule dbd_module $modules/mod_dbd.so\nDBDriver sqlite3\nDBDParams /nonexistent.db";

my @cases = (
    [ 'unknown store', "JPKIAccountStore ldap", qr/JPKIAccountStore: unknown store 'ldap'/ ],
    [ 'unknown policy', "JPKIUnknownCertificate welcome", qr/JPKIUnknownCertificate: 'welcome' is not deny or register/ ],
    [ 'bad TTL', "JPKIAccountCacheTTL -5", qr/JPKIAccountCacheTTL: '-5' is not a whole number/ ],
    [ 'unknown statement', qq{JPKIAccountSQL drop "DELETE FROM x WHERE a = %s"}, qr/JPKIAccountSQL: unknown statement 'drop'/ ],
    [ 'wrong parameter count', qq{JPKIAccountSQL lookup "SELECT account FROM t WHERE a = %s AND b = %s"},
      qr/JPKIAccountSQL lookup: the statement must take exactly 1 %s parameter/ ],
    [ 'bad JPKIRegistration', "<Location /x>\nJPKIRegistration maybe\n</Location>",
      qr/JPKIRegistration: 'maybe' is not Off, On or Signing/ ],
    [ 'register without a store', "$trust\nJPKIUnknownCertificate register",
      qr/JPKIUnknownCertificate register needs JPKIAccountStore dbd/ ],
    [ 'dbd store without mod_dbd', "$trust\nJPKIAccountStore dbd", qr/JPKIAccountStore dbd needs mod_dbd/ ],
    [ 'bad age', "<Location /x>\nAuthType JPKI\nRequire jpki-age-over old\n</Location>",
      qr/Require jpki-age-over: 'old' is not a whole number/ ],
);

plan tests => 2 * @cases + 1;


for my $c (@cases) {
    my ($name, $body, $re) = @$c;
    my ($rc, $out) = httpd_configtest($body);
    isnt $rc, 0, "$name: httpd -t fails";
    like $out, $re, "$name: message names the directive" or diag $out;
}

my ($rc, $out) = httpd_configtest("$dbd\n$trust\nJPKIAccountStore dbd\nJPKIUnknownCertificate register\n"
    . qq{JPKIAccountSQL lookup "SELECT customer FROM cards WHERE serial = %s"\n}
    . "<Location /x>\nAuthType JPKI\nJPKIRegistration Signing\nRequire jpki-age-over 18\n</Location>");
is $rc, 0, 'a valid account configuration passes httpd -t' or diag $out;
