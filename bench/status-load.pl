#!/usr/bin/perl
# Status benchmark load: N concurrent one-shot logins (challenge -> card-like
# signature -> login), certificate i = certs[i % @certs]; prints one line
# per login: "<http code> <seconds>".
#   bench/status-load.pl --url URL --pki DIR --n 64 --certs auth-user01,auth-user02,...
#   bench/status-load.pl ... --loop SECONDS --procs P   (keep logging in; prints "<ok> <bad>")
use strict;
use warnings;
use Crypt::OpenSSL::RSA ();
use Getopt::Long;
use JSON::PP ();
use LWP::UserAgent ();
use MIME::Base64 qw(encode_base64 decode_base64);
use POSIX ();
use Time::HiRes qw(time);

my ($url, $pki, $n, $certs, $loop, $procs) = ('', '', 64, 'auth-user01', 0, 4);
GetOptions('url=s' => \$url, 'pki=s' => \$pki, 'n=i' => \$n, 'certs=s' => \$certs,
           'loop=f' => \$loop, 'procs=i' => \$procs) or die "usage\n";
my ($origin) = lc($url) =~ m{^(https://[^/]+)};    # what a browser on --url sends
my @certs = split /,/, $certs;
sub slurp { open my $f, '<:raw', $_[0] or die "$_[0]: $!"; local $/; <$f> }
my %mat;
for my $c (@certs) {
    my $rsa = Crypt::OpenSSL::RSA->new_private_key(slurp("$pki/$c.key"));
    $rsa->use_sha256_hash;
    $rsa->use_pkcs1_padding;
    $mat{$c} = [slurp("$pki/$c.der"), $rsa];
}
sub b64url { my $s = encode_base64($_[0], ''); $s =~ tr{+/}{-_}; $s =~ s/=+$//; $s }
sub b64url_decode { my $s = shift; $s =~ tr{-_}{+/}; $s .= '=' x ((4 - length($s) % 4) % 4); decode_base64($s) }
sub agent {
    my $ua = LWP::UserAgent->new(keep_alive => 2, timeout => 30, ssl_opts => { SSL_ca_file => "$pki/server-ca.crt" });
    $ua->cookie_jar({});    # the pre-login cookie binds the challenge to this client
    return $ua;
}

sub one_login {
    my ($ua, $cert) = @_;
    my ($der, $rsa) = @{ $mat{$cert} };
    my $r = $ua->get("$url/jpki/challenge");
    return $r->code unless $r->code == 200;
    my $ch = JSON::PP::decode_json($r->content)->{challenge};
    # the origin-bound client data a card helper builds (docs/http-contract.md)
    my $cd = '{"type":"jpki.login","challenge":"' . $ch . '","origin":"' . $origin . '"}';
    my $body = JSON::PP::encode_json({ challenge => $ch, certificate => encode_base64($der, ''),
                                       client_data => b64url($cd),
                                       signature => encode_base64($rsa->sign($cd), '') });
    return $ua->post("$url/jpki/login", 'Content-Type' => 'application/json', Content => $body)->code;
}

pipe my $rd, my $wr or die;
my @kids;
my $count = $loop ? $procs : $n;
# Children first connect (TLS handshake) and then wait for the start signal,
# so the logins really are concurrent.
pipe my $go_r, my $go_w or die;
for my $i (0 .. $count - 1) {
    my $pid = fork // die;
    if (!$pid) {
        close $rd;
        close $go_w;
        my $ua = agent();
        $ua->get("$url/");    # warm the connection
        sysread $go_r, my $x, 1;
        if ($loop) {
            my ($ok, $bad, $j) = (0, 0, $i);
            my $end = time + $loop;
            while (time < $end) { one_login($ua, $certs[$j++ % @certs]) == 200 ? $ok++ : $bad++ }
            print $wr "$ok $bad\n";
        }
        else {
            my $t0 = time;
            my $code = one_login($ua, $certs[$i % @certs]);
            printf $wr "%d %.4f\n", $code, time - $t0;
        }
        close $wr;
        POSIX::_exit(0);
    }
    push @kids, $pid;
}
close $wr;
close $go_r;
select undef, undef, undef, 1.0;
close $go_w;    # start
print while <$rd>;
waitpid $_, 0 for @kids;
