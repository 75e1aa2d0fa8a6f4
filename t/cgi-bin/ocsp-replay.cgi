#!/usr/bin/perl
# Test OCSP "responder" for t/status/ocsp.t: reads and ignores the request
# and answers with t/logs/ocsp-replay.der, a response the test made with
# `openssl ocsp` (for another certificate, with a foreign nonce, signed by
# a rogue key, or old), so the module's checks can be driven one by one.
use strict;
use FindBin ();
binmode STDIN;
binmode STDOUT;
my $len = $ENV{CONTENT_LENGTH} || 0;
read STDIN, my $req, $len if $len > 0 && $len < 65536;
my $file = "$FindBin::Bin/../logs/ocsp-replay.der";
open my $fh, '<:raw', $file or do {
    print "Status: 503\r\nContent-Type: text/plain\r\n\r\nno canned response\n";
    exit 0;
};
local $/;
my $der = <$fh>;
print "Content-Type: application/ocsp-response\r\nContent-Length: " . length($der) . "\r\n\r\n";
print $der;
