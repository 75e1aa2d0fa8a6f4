#!/usr/bin/perl
# Test backend: echoes what the module handed over (REMOTE_USER, JPKI_*,
# AUTH_TYPE and every HTTP_* header) as JSON.
use strict;
use JSON::PP ();
my %out = map { $_ => $ENV{$_} }
    grep { /^(REMOTE_USER|AUTH_TYPE|JPKI_|HTTP_)/ } keys %ENV;
print "Content-Type: application/json\r\n\r\n";
print JSON::PP->new->canonical->encode(\%out), "\n";
