#!/usr/bin/perl
# Soak load generator (bench/soak.sh). One process per flow; every request is
# one line in --out: "<epoch s> <flow> <step> <http code> <error code|-> <ms> [why]".
# A code of 0 is a client-side failure (no HTTP answer: refused, reset,
# timeout); "why" is then the client's message.
# Bounded: stops after --seconds or --max-requests, whichever comes first.
#
#   --flow challenge  challenge login, 3 session requests, logout, the session is gone
#   --flow session    one challenge login, then session requests until the end
#                     (a fresh login whenever the session is refused with 401)
#   --flow tls        TLS client-certificate login on a fresh connection, one request
#   --flow register   challenge login of a card without an account (registration
#                     session), then the signing-certificate proof, then logout
#   --flow static     an unprotected page on a fresh connection (not in the mix;
#                     a baseline when looking for where memory goes)
#
#   bench/soak-load.pl --url URL --pki DIR --flow F --certs a,b --seconds S --out FILE
#                      [--pause-ms 50] [--max-requests N] [--client-data] [--procs P]
# --procs P runs P copies of the flow at once (forked; they start together,
# each with its own --max-requests): the burst that makes every worker thread
# of httpd run the flow once during the warm-up.
#
# By default the card signs the origin-bound client data of login protocol v2
# (docs/http-contract.md) and the login sends it as "client_data";
# --no-client-data signs the bare challenge bytes (protocol v1, accepted only
# with JPKIBareChallenge On). See sign_login().
use strict;
use warnings;
use Crypt::OpenSSL::RSA ();
use Getopt::Long;
use HTTP::Request ();
use JSON::PP ();
use LWP::UserAgent ();
use MIME::Base64 qw(encode_base64 decode_base64);
use Time::HiRes qw(time sleep);

my %o = (flow => 'challenge', certs => 'auth-user01', seconds => 60, 'pause-ms' => 50,
         'max-requests' => 1_000_000, 'client-data' => 1, 'sign-cert' => 'sign-bob', procs => 1);
GetOptions(\%o, 'url=s', 'pki=s', 'flow=s', 'certs=s', 'seconds=f', 'out=s', 'pause-ms=i',
           'max-requests=i', 'client-data!', 'sign-cert=s', 'procs=i') or die "usage: see the header\n";
defined $o{$_} or die "--$_ is required\n" for qw(url pki out);
my ($url, $pki) = @o{qw(url pki)};
my ($origin) = $url =~ m{^(https?://[^/]+)};

sub slurp { open my $f, '<:raw', $_[0] or die "$_[0]: $!"; local $/; <$f> }
my %card;    # name => [DER, RSA key]
for my $c (split(/,/, $o{certs}), $o{'sign-cert'}) {
    my $rsa = Crypt::OpenSSL::RSA->new_private_key(slurp("$pki/$c.key"));
    $rsa->use_sha256_hash;
    $rsa->use_pkcs1_padding;
    $card{$c} = [slurp("$pki/$c.der"), $rsa];
}
my @certs = split /,/, $o{certs};

sub b64url_decode { my $s = shift; $s =~ tr{-_}{+/}; $s .= '=' x ((4 - length($s) % 4) % 4); decode_base64($s) }
sub b64url { my $s = encode_base64(shift, ''); $s =~ tr{+/}{-_}; $s =~ s/=+$//; $s }

# What the card signs for a login, in one place. Protocol v1 (--no-client-data):
# the raw challenge bytes. Protocol v2 (default): the canonical client data
# {"type":"jpki.login","challenge":"<C>","origin":"<O>"}, sent base64url as
# "client_data". Both: RSASSA-PKCS1-v1_5 over SHA-256, as the card computes it.
# Returns the fields to add to the login body.
sub sign_login {
    my ($cert, $challenge) = @_;
    my $rsa = $card{$cert}[1];
    if ($o{'client-data'}) {
        my $cd = qq({"type":"jpki.login","challenge":"$challenge","origin":"$origin"});
        return (client_data => b64url($cd), signature => encode_base64($rsa->sign($cd), ''));
    }
    return (signature => encode_base64($rsa->sign(b64url_decode($challenge)), ''));
}

# --procs: fork the copies; they block on a pipe until all are forked
if ($o{procs} > 1) {
    pipe my $go_r, my $go_w or die "pipe: $!";
    my @kids;
    for (1 .. $o{procs}) {
        my $pid = fork // die "fork: $!";
        if (!$pid) { close $go_w; sysread $go_r, my $x, 1; @kids = (); last }
        push @kids, $pid;
    }
    if (@kids) {
        close $go_r;
        close $go_w;    # start
        waitpid $_, 0 for @kids;
        exit 0;
    }
}

open my $out, '>>', $o{out} or die "$o{out}: $!";
$out->autoflush(1);
my $end = time + $o{seconds};
my $left = $o{'max-requests'};

sub agent {
    my (%a) = @_;
    my %ssl = (SSL_ca_file => "$pki/server-ca.crt");
    if ($a{cert}) {
        $ssl{SSL_cert_file} = "$pki/$a{cert}.crt";
        $ssl{SSL_key_file}  = "$pki/$a{cert}.key";
    }
    my $ua = LWP::UserAgent->new(keep_alive => $a{cert} ? 0 : 2, timeout => 30, max_redirect => 0,
                                 ssl_opts => \%ssl);
    $ua->cookie_jar({});
    $ua->default_header(Accept => 'application/json');
    return $ua;
}

# One request, one line. Returns (code, decoded JSON or {}).
sub req {
    my ($ua, $step, $method, $path, $body, @h) = @_;
    $left--;
    my $r = HTTP::Request->new($method => "$url$path", [@h]);
    if (defined $body) {
        $r->header('Content-Type' => 'application/json');
        $r->content(JSON::PP::encode_json($body));
    }
    my $t0 = time;
    my $res = $ua->request($r);
    my $ms = (time - $t0) * 1000;
    # LWP answers "500 Can't connect" itself when no HTTP answer came back
    my $code = ($res->header('Client-Warning') // '') eq 'Internal response' ? 0 : $res->code;
    my $err = $res->header('X-JPKI-Error') // '-';
    my $why = $code ? '' : ' ' . substr($res->message =~ s/\s+/_/gr, 0, 80);
    printf $out "%.3f %s %s %d %s %.0f%s\n", $t0, $o{flow}, $step, $code, $err, $ms, $why;
    my $j = eval { JSON::PP::decode_json($res->content) } || {};
    return ($code, $j);
}

sub challenge_login {
    my ($ua, $cert, $step) = @_;
    my ($code, $j) = req($ua, 'challenge', GET => '/jpki/challenge');
    return 0 unless $code == 200 && $j->{challenge};
    my %body = (challenge => $j->{challenge}, certificate => encode_base64($card{$cert}[0], ''),
                sign_login($cert, $j->{challenge}));
    ($code, $j) = req($ua, $step, POST => '/jpki/login', \%body);
    return $code == 200 ? ($j->{registration} ? 2 : 1) : 0;
}

# The registration step: a fresh challenge signed with the signing key, sent
# as the three proof headers (docs/accounts.md "Registration flow").
sub sign_proof {
    my ($ua) = @_;
    my ($code, $j) = req($ua, 'challenge', GET => '/jpki/challenge');
    return unless $code == 200 && $j->{challenge};
    my $der = $card{ $o{'sign-cert'} }[0];
    my %p = sign_login($o{'sign-cert'}, $j->{challenge});
    req($ua, 'register', GET => '/register/page.html', undef,
        'X-JPKISign-Challenge' => $j->{challenge},
        'X-JPKISign-Certificate' => encode_base64($der, ''),
        'X-JPKISign-Signature' => $p{signature},
        ($p{client_data} ? ('X-JPKISign-ClientData' => $p{client_data}) : ()));
}

my $i = $$;
my $session_ua;
while (time < $end && $left > 0) {
    my $cert = $certs[$i++ % @certs];
    if ($o{flow} eq 'challenge') {
        my $ua = agent();
        if (challenge_login($ua, $cert, 'login') == 1) {
            req($ua, 'page', GET => '/protected/page.html') for 1 .. 3;
            req($ua, 'logout', POST => '/jpki/logout', {});
            req($ua, 'after-logout', GET => '/protected/page.html');
        }
    }
    elsif ($o{flow} eq 'session') {
        $session_ua ||= agent();
        my ($code) = req($session_ua, 'page', GET => '/protected/page.html');
        if ($code == 401) {
            $session_ua = agent();
            challenge_login($session_ua, $cert, 'login');
        }
    }
    elsif ($o{flow} eq 'static') {    # not in the mix: TLS churn alone, for comparison
        req(agent(), 'static', GET => '/login.html');
    }
    elsif ($o{flow} eq 'tls') {
        req(agent(cert => $cert), 'tls-page', GET => '/protected/page.html');
    }
    elsif ($o{flow} eq 'register') {
        my $ua = agent();
        if (challenge_login($ua, $cert, 'reg-login') == 2) {
            sign_proof($ua);
            req($ua, 'logout', POST => '/jpki/logout', {});
        }
    }
    else { die "unknown flow $o{flow}\n" }
    sleep $o{'pause-ms'} / 1000;
}
close $out;
