#!/usr/bin/perl
# TEST ONLY: the server side of a phishing site (t/web/browser.t). It relays the
# bank's challenge login the way issue 9 item 4 describes: it fetches the
# bank's challenge with ITS OWN cookie (op=challenge), hands it to its page,
# which has the customer's card helper sign it, and posts the proof from its
# own client (op=login). mod_jpki must refuse it (origin_mismatch): the
# helper signed client data naming the phishing page's origin.
use strict;
use warnings;
use HTTP::Cookies ();
use HTTP::Request ();
use JSON::PP ();
use LWP::UserAgent ();

my %q = map { my ($k, $v) = split /=/, $_, 2; ($k => $v // '') } split /&/, $ENV{QUERY_STRING} // '';
my $json = JSON::PP->new->canonical;

sub out {
    my ($status, $body) = @_;
    print "Status: $status\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n\r\n";
    print $json->encode($body), "\n";
    exit 0;
}

# only the local test bank, only a harmless jar name
$q{bank} =~ s/%3A/:/gi;
$q{bank} =~ s{%2F}{/}gi;
out(400, { error => 'bank must be https://localhost:PORT' }) unless $q{bank} =~ m{^https://localhost:\d{1,5}$};
my $jar_id = $q{jar} // '';
$jar_id = join '', map { ('a' .. 'z')[rand 26] } 1 .. 16 if ($q{op} // '') eq 'challenge';
out(400, { error => 'bad jar' }) unless $jar_id =~ /^[a-z]{16}$/;
my $jar = HTTP::Cookies->new(file => "/tmp/jpki-phish-$jar_id.cookies", autosave => 1,
                             ignore_discard => 1);
my $ua = LWP::UserAgent->new(cookie_jar => $jar, timeout => 20, max_redirect => 0,
                             ssl_opts => { verify_hostname => 0, SSL_verify_mode => 0 });

if (($q{op} // '') eq 'challenge') {
    my $res = $ua->get("$q{bank}/jpki/challenge", Accept => 'application/json');
    my $j = eval { $json->decode($res->decoded_content) } || {};
    out(502, { error => 'no challenge', status => $res->code }) unless $j->{challenge};
    out(200, { challenge => $j->{challenge}, jar => $jar_id });
}
if (($q{op} // '') eq 'login') {
    local $/;
    my $proof = eval { $json->decode(scalar <STDIN>) } || {};
    my %body = map { $_ => $proof->{$_} } grep { defined $proof->{$_} }
        qw(challenge client_data certificate signature);
    my $req = HTTP::Request->new(POST => "$q{bank}/jpki/login",
                                 ['Content-Type' => 'application/json', Accept => 'application/json'],
                                 $json->encode(\%body));
    my $res = $ua->request($req);
    unlink "/tmp/jpki-phish-$jar_id.cookies";
    my $j = eval { $json->decode($res->decoded_content) } || {};
    out(200, { status => 0 + $res->code, error => $j->{error},
               session => (grep { /^jpki_session=[^;]/ } $res->header('Set-Cookie')) ? JSON::PP::true : JSON::PP::false });
}
out(400, { error => 'op must be challenge or login' });
