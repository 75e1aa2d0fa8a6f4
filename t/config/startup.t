use strict;
use warnings FATAL => 'all';

# Startup checks of security issue 9 (items 5, 9, 11b): `httpd -t` refuses
# what would otherwise start and fail (or be unsafe) later, and the message
# names the directive to fix.
use Apache::Test qw(-withtestmore);
use File::Temp ();
use JPKITest;

plan tests => 32;

my $vars = Apache::Test::vars();
my $top = $vars->{top_dir};
my $token = "$top/t/data/api-token";
my $short = "$top/t/data/api-token-short";
my $trust = 'JPKITrustedCA ' . pki('trust-all.pem');

# httpd -t on a minimal configuration without mod_socache_shmcb.
sub configtest_no_shmcb { return httpd_configtest($_[0], shmcb => 0) }

# --- 11b: no JPKICache and no mod_socache_shmcb ---------------------------------------
my ($rc, $out) = configtest_no_shmcb("$trust\nJPKIStatusProvider none");
isnt $rc, 0, 'no JPKICache, no mod_socache_shmcb: httpd -t fails';
like $out, qr/JPKI1120: JPKICache is not set and the default socache provider \(mod_socache_shmcb\) is missing: LoadModule socache_shmcb_module/,
    '... naming JPKICache and the module' or diag $out;
unlike $out, qr/Syntax OK/, '... no "Syntax OK"';
($rc, $out) = httpd_configtest("$trust\nJPKIStatusProvider none");
is $rc, 0, 'the same with mod_socache_shmcb loaded passes' or diag $out;

# --- 5: the account endpoint needs JPKIAccountAPIToken ---------------------------------
my $mount = "<Location /internal/account>\n    SetHandler jpki-account\n</Location>";
my @refused = (
    ['endpoint in the main server, no token', $mount,
     qr/JPKI0771: SetHandler jpki-account \(\S+httpd\.conf:\d+, in <Location \/internal\/account>\) needs JPKIAccountAPIToken/],
    ['endpoint in a vhost, token only in another vhost',
     "<VirtualHost 127.0.0.1:1>\n$mount\n</VirtualHost>\n<VirtualHost 127.0.0.2:1>\nJPKIAccountAPIToken $token\n</VirtualHost>",
     qr/JPKI0771: SetHandler jpki-account .*needs JPKIAccountAPIToken/],
    ['AddHandler jpki-account, no token', "LoadModule mime_module /usr/lib/apache2/modules/mod_mime.so\n<Directory /srv>\nAddHandler jpki-account .acct\n</Directory>",
     qr/JPKI0771: AddHandler jpki-account .*needs JPKIAccountAPIToken/],
    ['endpoint inside <If> in a vhost, no token',
     "<VirtualHost 127.0.0.1:1>\n<Location /x>\n<If \"-n %{HTTP_HOST}\">\nSetHandler jpki-account\n</If>\n</Location>\n</VirtualHost>",
     qr/JPKI0771: SetHandler jpki-account .*needs JPKIAccountAPIToken/],
    ['token file missing', "JPKIAccountAPIToken /nonexistent/api-token\n$mount",
     qr/JPKI0770: JPKIAccountAPIToken \/nonexistent\/api-token cannot be opened/],
    ['token too short', "JPKIAccountAPIToken $short\n$mount",
     qr/JPKI0770: JPKIAccountAPIToken \S+api-token-short is shorter than 32 characters/],
);
for my $c (@refused) {
    my ($name, $body, $re) = @$c;
    ($rc, $out) = httpd_configtest("$trust\nJPKIStatusProvider none\n$body");
    isnt $rc, 0, "$name: httpd -t fails";
    like $out, $re, "$name: the message names JPKIAccountAPIToken" or diag $out;
}
my @accepted = (
    ['token in the main server', "JPKIAccountAPIToken $token\n$mount"],
    ['token in the same vhost', "<VirtualHost 127.0.0.1:1>\nJPKIAccountAPIToken $token\n$mount\n</VirtualHost>"],
    ['main-server token inherited by the vhost',
     "JPKIAccountAPIToken $token\n<VirtualHost 127.0.0.1:1>\n$mount\n</VirtualHost>"],
    ['no endpoint, no token', "<Location /x>\nSetHandler jpki-login\n</Location>"],
);
for my $c (@accepted) {
    my ($name, $body) = @$c;
    ($rc, $out) = httpd_configtest("$trust\nJPKIStatusProvider none\n$body");
    is $rc, 0, "$name: httpd -t passes" or diag $out;
    like $out, qr/Syntax OK/, "$name: Syntax OK";
}

# --- 9: JPKIOCSPSigner certificates are trusted as they are: not when expired -----------
my $ocsp = "$trust\nJPKIStatusProvider ocsp\nJPKIOCSPResponder http://127.0.0.1:1/";
($rc, $out) = httpd_configtest("$ocsp\nJPKIOCSPSigner " . pki('bad-expired.crt'));
isnt $rc, 0, 'expired JPKIOCSPSigner: httpd -t fails';
like $out, qr/JPKIOCSPSigner \S+bad-expired\.crt: the responder certificate expired on \d{4}-/,
    '... naming JPKIOCSPSigner and the date' or diag $out;
($rc, $out) = httpd_configtest("$ocsp\nJPKIOCSPSigner " . pki('bad-notyet.crt'));
isnt $rc, 0, 'not yet valid JPKIOCSPSigner: httpd -t fails';
like $out, qr/JPKIOCSPSigner \S+bad-notyet\.crt: the responder certificate is not valid before \d{4}-/,
    '... naming JPKIOCSPSigner' or diag $out;
($rc, $out) = httpd_configtest("$ocsp\nJPKIOCSPSigner " . pki('ocsp-rogue.crt'));
is $rc, 0, 'a valid JPKIOCSPSigner passes' or diag $out;
# nonce off and max age off: a replay window until nextUpdate, said at startup
($rc, $out) = httpd_configtest("$ocsp\nJPKIOCSPRequireNonce Off\nJPKIOCSPMaxAge off");
is $rc, 0, 'nonce off, max age off: starts';
like $out, qr/JPKI0583: JPKIOCSPRequireNonce Off with JPKIOCSPMaxAge off: a recorded answer can be replayed/,
    '... with a warning naming both directives' or diag $out;
($rc, $out) = httpd_configtest("$ocsp\nJPKIOCSPRequireNonce Off");
unlike $out, qr/JPKI0583/, 'nonce off, max age unset (default 600 s): no warning';
