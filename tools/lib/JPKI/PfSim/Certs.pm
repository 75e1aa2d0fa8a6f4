package JPKI::PfSim::Certs;
# The certificates the simulator is asked about: what it reads from one (serial,
# validity, JPKI type, RSA or not, its id) and the signature check of Verify.

use v5.36;
use strict;
use warnings;

use Digest::SHA qw(sha256_hex);
use File::Temp qw(tempdir);
use File::Path qw(remove_tree);
use POSIX qw(_exit);

use JPKI::PfSim::Der;
use JPKI::PfSim::Util qw(rfc3339);

our $OID_AUTH = '1.2.392.200149.8.5.1.3.30';    # certificatePolicies of the user authentication certificate
our $OID_SIGN = '1.2.392.200149.8.5.1.1.20';    # ... and of the digital signature certificate
my $OID_RSA   = '1.2.840.113549.1.1.1';         # rsaEncryption

# Parses a DER certificate.  Returns {der, serial, not_before, not_after (RFC
# 3339), rsa, type (undef without a JPKI policy), id}, or undef if $der is not a
# certificate.
sub parse ($der) {
    my $d = JPKI::PfSim::Der::decode_certificate($der) or return undef;
    my %policy = map { $_ => 1 } @{ $d->{policies} };
    return {
        der        => $der,
        serial     => $d->{serial},
        not_before => rfc3339($d->{not_before}),
        not_after  => rfc3339($d->{not_after}),
        rsa        => $d->{key_alg} eq $OID_RSA,
        type       => $policy{$OID_AUTH} ? 'TYPE_JPKI_CARD_USER_AUTHENTICATION'
                    : $policy{$OID_SIGN} ? 'TYPE_JPKI_CARD_DIGITAL_SIGNATURE'
                    : undef,
        # Deterministic, so every forked child hands out the same id for the same certificate.
        id         => 'crt_' . substr(sha256_hex($d->{issuer} . $d->{serial}), 0, 24),
    };
}

# Scratch space for the openssl signature check; removed by cleanup().
my $TMP;

sub init_scratch { $TMP = tempdir('jpki-pf-sim-XXXXXX', TMPDIR => 1) }
sub cleanup      { remove_tree($TMP) if defined $TMP }

# RSASSA-PKCS1-v1_5 over DigestInfo(SHA-256, $digest), checked by openssl
# pkeyutl.  One fork+exec per Verify: about 15 ms of CPU, most of a Verify's cost.
sub rsa_signature_ok ($der, $digest, $sig) {
    state $n = 0;
    my $base = "$TMP/$$-" . $n++;
    my %f = (crt => "$base.der", dig => "$base.dig", sig => "$base.sig");
    for ([crt => $der], [dig => $digest], [sig => $sig]) {
        open(my $fh, '>:raw', $f{ $_->[0] }) or die "cannot write $f{$_->[0]}: $!";
        print $fh $_->[1];
        close $fh or die "cannot write $f{$_->[0]}: $!";
    }
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open(STDOUT, '>', '/dev/null');
        open(STDERR, '>', '/dev/null');
        $ENV{OPENSSL_CONF} = '/dev/null';               # skip config loading: a good part of the start-up cost
        no warnings 'exec';                             # failure is reported by exit code 127
        exec 'openssl', 'pkeyutl', '-verify', '-certin', '-inkey', $f{crt}, '-keyform', 'DER',
             '-in', $f{dig}, '-sigfile', $f{sig}, '-pkeyopt', 'digest:sha256';
        _exit(127);
    }
    waitpid($pid, 0);
    my $rc = $?;
    unlink values %f;
    die "openssl could not be run\n" if $rc >> 8 == 127;
    return $rc == 0;
}

1;
