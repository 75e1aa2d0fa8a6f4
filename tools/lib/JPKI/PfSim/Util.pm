package JPKI::PfSim::Util;
# Small helpers shared by the simulator's modules: the JSON codec, RFC 3339
# timestamps, serial normalisation and the log.

use v5.36;
use strict;
use warnings;

use Exporter qw(import);
use Fcntl qw(O_WRONLY O_CREAT O_APPEND);
use Cpanel::JSON::XS;
use POSIX qw(strftime);
use Time::HiRes qw(time);

our @EXPORT_OK = qw($JSON rfc3339 norm_serial logline log_request);

# Cpanel::JSON::XS: JSON::PP's API at a fraction of its cost (decoding a request and
# the shared files was most of a request's CPU time).  Its booleans are
# JSON::PP::Boolean objects, so JSON::PP::true, false and is_bool work with it.
our $JSON = Cpanel::JSON::XS->new->utf8->canonical;

my $LOG;

# Opens the log: appends to $path, or writes to stderr without one.
sub open_log ($path) {
    if (defined $path) {
        sysopen($LOG, $path, O_WRONLY | O_CREAT | O_APPEND, 0644)
            or die "jpki-pf-sim: cannot open --log $path: $!\n";
    } else {
        open($LOG, '>&', \*STDERR) or die "jpki-pf-sim: cannot dup stderr: $!\n";
    }
}

sub rfc3339 ($t = time) { strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $t) }

# Lowercase hex without 0x, colons, blanks or leading zeros; undef if not hex.
sub norm_serial ($s) {
    $s = lc($s // '');
    $s =~ s/^0x//;
    $s =~ s/[\s:]//g;
    return undef unless $s =~ /^[0-9a-f]+$/;
    $s =~ s/^0+(?=.)//;
    return $s;
}

sub logline ($msg) {
    my $line = rfc3339() . " [$$] $msg\n";
    utf8::encode($line);                                # state file strings are characters
    syswrite($LOG, $line);
}

# One line per request; never the certificate, signature or token.
sub log_request ($req, $endpoint, $serial, $status, $fault, $t0, $result = undef) {
    logline(sprintf '%s %s serial=%s status=%s%s fault=%s %dms',
        $req->{method}, $endpoint, $serial // '-', $status, defined $result ? " result=$result" : '',
        $fault // '-', (time - $t0) * 1000);
}

1;
