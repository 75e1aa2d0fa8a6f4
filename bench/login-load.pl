#!/usr/bin/perl
# Login load generator: N processes each loop challenge -> card-like
# signature (PKCS#1 v1.5 over the SHA-256 DigestInfo of the client data)
# -> login, for S seconds, on keep-alive TLS connections.
#   bench/login-load.pl --url https://localhost:8543 --pki DIR [--procs 4] [--seconds 10] [--once]
use strict;
use warnings;
use Crypt::OpenSSL::RSA ();
use Getopt::Long;
use JSON::PP ();
use LWP::UserAgent ();
use MIME::Base64 qw(encode_base64 decode_base64);
use POSIX ();
use Time::HiRes qw(time);

my ($url, $pki, $procs, $secs, $once, $cert) = ('', '', 4, 10, 0, 'auth-user01');
GetOptions('url=s' => \$url, 'pki=s' => \$pki, 'procs=i' => \$procs, 'seconds=f' => \$secs,
           'once' => \$once, 'cert=s' => \$cert) or die "usage\n";
my ($origin) = lc($url) =~ m{^(https://[^/]+)};    # what a browser on --url sends

sub slurp { open my $f, '<:raw', $_[0] or die "$_[0]: $!"; local $/; <$f> }
my $der = slurp("$pki/$cert.der");
my $rsa = Crypt::OpenSSL::RSA->new_private_key(slurp("$pki/$cert.key"));
$rsa->use_sha256_hash;
$rsa->use_pkcs1_padding;

sub b64url { my $s = encode_base64($_[0], ''); $s =~ tr{+/}{-_}; $s =~ s/=+$//; $s }
sub b64url_decode { my $s = shift; $s =~ tr{-_}{+/}; $s .= '=' x ((4 - length($s) % 4) % 4); decode_base64($s) }

sub one_login {
    my ($ua) = @_;
    my $r = $ua->get("$url/jpki/challenge");
    return undef unless $r->code == 200;
    my $ch = JSON::PP::decode_json($r->content)->{challenge};
    # the origin-bound client data a card helper builds (docs/http-contract.md)
    my $cd = '{"type":"jpki.login","challenge":"' . $ch . '","origin":"' . $origin . '"}';
    my $body = JSON::PP::encode_json({ challenge => $ch, certificate => encode_base64($der, ''),
                                       client_data => b64url($cd),
                                       signature => encode_base64($rsa->sign($cd), '') });
    $r = $ua->post("$url/jpki/login", 'Content-Type' => 'application/json', Content => $body);
    return undef unless $r->code == 200;
    my ($c) = map { /^(jpki_session=[^;]+)/ ? $1 : () } $r->header('Set-Cookie');
    return $c;
}

sub agent {
    my $ua = LWP::UserAgent->new(keep_alive => 4, ssl_opts => { SSL_ca_file => "$pki/server-ca.crt" });
    $ua->cookie_jar({});
    return $ua;
}

if ($once) {
    my $c = one_login(agent()) or die "login failed\n";
    print "$c\n";
    exit 0;
}

pipe my $rd, my $wr or die;
my @kids;
for (1 .. $procs) {
    my $pid = fork // die;
    if (!$pid) {
        close $rd;
        my $ua = agent();
        my ($ok, $bad) = (0, 0);
        my $end = time + $secs;
        while (time < $end) { one_login($ua) ? $ok++ : $bad++ }
        print $wr "$ok $bad\n";
        close $wr;
        POSIX::_exit(0);
    }
    push @kids, $pid;
}
close $wr;
my ($ok, $bad) = (0, 0);
while (<$rd>) { my ($o, $b) = split; $ok += $o; $bad += $b }
waitpid $_, 0 for @kids;
printf "%.1f %d %d\n", $ok / $secs, $ok, $bad;
