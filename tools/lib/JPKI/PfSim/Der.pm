package JPKI::PfSim::Der;
# Decoding an X.509 certificate (RFC 5280) with Convert::ASN1: the few fields
# the simulator needs, including the issuer Name's exact DER bytes (for the
# certificate id) and the certificatePolicies OIDs (for the certificate type).

use v5.36;
use strict;
use warnings;

use Convert::ASN1;

my $OID_POLICIES = '2.5.29.32';

my $ASN = Convert::ASN1->new;
$ASN->prepare(<<'ASN1') or die 'jpki-pf-sim: bad ASN.1 module: ' . $ASN->error;
Certificate ::= SEQUENCE {
    tbsCertificate       TBSCertificate,
    signatureAlgorithm   AlgorithmIdentifier,
    signatureValue       BIT STRING }
TBSCertificate ::= SEQUENCE {
    version         [0] EXPLICIT INTEGER OPTIONAL,
    serialNumber         [UNIVERSAL 2] IMPLICIT OCTET STRING,   -- INTEGER, as its bytes
    signature            AlgorithmIdentifier,
    issuer               ANY,
    validity             Validity,
    subject              ANY,
    subjectPublicKeyInfo SubjectPublicKeyInfo,
    issuerUniqueID  [1] IMPLICIT BIT STRING OPTIONAL,
    subjectUniqueID [2] IMPLICIT BIT STRING OPTIONAL,
    extensions      [3] EXPLICIT Extensions OPTIONAL }
AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL }
Validity ::= SEQUENCE { notBefore Time, notAfter Time }
Time ::= CHOICE { utcTime UTCTime, generalTime GeneralizedTime }
SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }
Extensions ::= SEQUENCE OF Extension
Extension ::= SEQUENCE { extnID OBJECT IDENTIFIER, critical BOOLEAN OPTIONAL, extnValue OCTET STRING }
CertificatePolicies ::= SEQUENCE OF PolicyInformation
PolicyInformation ::= SEQUENCE { policyIdentifier OBJECT IDENTIFIER, policyQualifiers ANY OPTIONAL }
ASN1
my $CERTIFICATE = $ASN->find('Certificate');
my $POLICIES    = $ASN->find('CertificatePolicies');

# Returns {serial (lowercase hex), not_before, not_after (Unix time), key_alg
# (OID), policies ([OID...]), issuer (DER)}, or undef if $der is not a
# certificate.
sub decode_certificate ($der) {
    my $c = $CERTIFICATE->decode($der) or return undef;
    my $t = $c->{tbsCertificate};
    my $serial = serial_hex($t->{serialNumber}) // return undef;
    my %time = map { my $v = $t->{validity}{$_}; ($_ => $v->{utcTime} // $v->{generalTime}) } qw(notBefore notAfter);
    return {
        serial     => $serial,
        not_before => $time{notBefore},
        not_after  => $time{notAfter},
        key_alg    => $t->{subjectPublicKeyInfo}{algorithm}{algorithm},
        policies   => policies($t->{extensions} // []),
        issuer     => $t->{issuer},
    };
}

# The serial INTEGER's content octets (big-endian two's complement) as
# lowercase hex without leading zeros; undef for an empty or negative one.
sub serial_hex ($bytes) {
    return undef if !defined $bytes || !length $bytes || ord($bytes) & 0x80;
    return unpack('H*', $bytes) =~ s/^0+(?=.)//r;
}

# The certificatePolicies OIDs; none if the extension is absent or unreadable.
sub policies ($extensions) {
    my ($ext) = grep { $_->{extnID} eq $OID_POLICIES } @$extensions;
    my $list = $ext ? $POLICIES->decode($ext->{extnValue}) : undef;
    return [map { $_->{policyIdentifier} } @{ $list // [] }];
}

1;
