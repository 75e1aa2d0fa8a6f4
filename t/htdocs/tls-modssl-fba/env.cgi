#!/usr/bin/perl
# Test backend for t/tls/modssl.t, t/login/bypass.t and t/export/trailers.t: what
# mod_ssl and the authentication modules handed over (SSL_CLIENT_VERIFY,
# the client subject CN, REMOTE_USER, AUTH_TYPE, JPKI_*, HTTP_*) as JSON.
# Reads the request body first (a chunked body with trailers included).
use strict;
use JSON::PP ();
binmode STDIN;
{ local $/; my $ignored = <STDIN>; }
my %out = map { $_ => $ENV{$_} }
    grep { /^(REMOTE_USER|AUTH_TYPE|JPKI_|HTTP_|SSL_CLIENT_VERIFY$|SSL_CLIENT_S_DN_CN$)/ } keys %ENV;
print "Content-Type: application/json\r\n\r\n";
print JSON::PP->new->canonical->encode(\%out), "\n";
