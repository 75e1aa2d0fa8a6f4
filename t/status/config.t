use strict;
use warnings FATAL => 'all';

# Status directives: a provider without what it needs, or a bad value,
# stops `httpd -t` with a message naming the directive.
use Apache::Test qw(-withtestmore);
use File::Temp qw(tempdir);
use JPKITest;

my $vars = Apache::Test::vars();
my $httpd = $vars->{httpd};
my $dir = tempdir(CLEANUP => 1);
my $token = "$vars->{top_dir}/t/data/pf-token";
open my $e, '>', "$dir/empty-token" or die;
close $e;

my $trust = "JPKITrustedCA " . pki('trust-all.pem');
my $pf = "$trust\nJPKIStatusProvider platform\n";
my $full = $pf . "JPKIPlatformURL https://127.0.0.1:1\nJPKIPlatformTokenFile $token\n"
         . "JPKIPlatformCA " . pki('server-ca.crt') . "\n";

my @cases = (
    ['platform without URL', $pf, qr/JPKIPlatformURL is required with JPKIStatusProvider platform/],
    ['platform without token file', $pf . "JPKIPlatformURL https://pf.example/",
     qr/JPKIPlatformTokenFile is required/],
    ['platform without CA pin', $pf . "JPKIPlatformURL https://pf.example/\nJPKIPlatformTokenFile $token",
     qr/JPKIPlatformCA is required/],
    ['plain http PF URL', $pf . "JPKIPlatformURL http://pf.example/", qr/JPKIPlatformURL: 'http:\/\/pf.example\/' must be an https:\/\/ URL/],
    ['missing token file', $pf . "JPKIPlatformURL https://pf.example/\nJPKIPlatformTokenFile /nonexistent/token\nJPKIPlatformCA " . pki('server-ca.crt'),
     qr/JPKIPlatformTokenFile \/nonexistent\/token cannot be opened/],
    ['empty token file', $pf . "JPKIPlatformURL https://pf.example/\nJPKIPlatformTokenFile $dir/empty-token\nJPKIPlatformCA " . pki('server-ca.crt'),
     qr/JPKIPlatformTokenFile \S+empty-token is empty/],
    ['missing CA file', $pf . "JPKIPlatformURL https://pf.example/\nJPKIPlatformTokenFile $token\nJPKIPlatformCA /nonexistent/ca.pem",
     qr/JPKIPlatformCA \/nonexistent\/ca.pem: not a readable file/],
    ['ocsp without responder', "$trust\nJPKIStatusProvider ocsp", qr/JPKIOCSPResponder is required with JPKIStatusProvider ocsp/],
    ['unreadable OCSP signer', "$trust\nJPKIStatusProvider ocsp\nJPKIOCSPResponder http://127.0.0.1:1/\nJPKIOCSPSigner " . pki('garbage.bin'),
     qr/JPKIOCSPSigner \S+garbage.bin: no PEM certificate/],
    ['bad fail mode', "JPKIStatusFailMode open", qr/JPKIStatusFailMode: 'closed' or 'grace <seconds>'/],
    ['grace without seconds', "JPKIStatusFailMode grace", qr/JPKIStatusFailMode: 'closed' or 'grace <seconds>'/],
    ['bad timeout', "JPKIHTTPTimeout 5 2", qr/JPKIHTTPTimeout: the total limit must not be shorter/],
    ['bad TTL', "JPKIStatusCacheTTL 0", qr/JPKIStatusCacheTTL: '0' is not a whole number from 1/],
    ['bad breaker', "JPKIStatusBreaker 5", qr/JPKIStatusBreaker: '<failures> <seconds>' or 'off'/],
    ['bad check method', "JPKIPlatformCheckMethod carrier", qr/JPKIPlatformCheckMethod: ocsp or crl/],
    ['bad max response', "JPKIHTTPMaxResponse 10", qr/JPKIHTTPMaxResponse: '10' is not a whole number/],
);

plan tests => 2 * @cases + 2;

sub configtest {
    my ($body) = @_;
    my $conf = minimal_httpd_conf($dir, $body);
    my $out = `$httpd -t -f $conf 2>&1`;
    return ($? >> 8, $out);
}

for my $c (@cases) {
    my ($name, $body, $re) = @$c;
    my ($rc, $out) = configtest($body);
    isnt $rc, 0, "$name: httpd -t fails";
    like $out, $re, "$name: message names the directive" or diag $out;
}

my ($rc, $out) = configtest($full . "JPKIPlatformClientCert " . pki('pf-client.crt') . ' ' . pki('pf-client.key')
                            . "\nJPKIStatusCacheTTL 120 3600\nJPKIStatusFailMode grace 600\nJPKIStatusBreaker 3 20\nJPKIHTTPTimeout 0.5 3\n");
is $rc, 0, 'a complete platform configuration passes httpd -t' or diag $out;
like $out, qr/Syntax OK/, 'Syntax OK';
