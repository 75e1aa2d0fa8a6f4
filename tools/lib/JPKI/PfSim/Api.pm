package JPKI::PfSim::Api;
# The three RPCs of PocketSign Verify API v2 that mod_jpki uses (Connect
# protocol, JSON): request fields, the answers, and Connect errors.  Each RPC
# takes a context {name, state (JPKI::PfSim::State), store (JPKI::PfSim::Store)}
# and the decoded request, and returns the answer or dies with a
# JPKI::PfSim::Error.

use v5.36;
use strict;
use warnings;

use Digest::SHA qw(sha256_hex);
use JSON::PP ();
use MIME::Base64 qw(encode_base64 decode_base64);

use Time::HiRes qw(time);

use JPKI::PfSim::Certs;
use JPKI::PfSim::Util qw($JSON rfc3339);

our %RPC = (
    '/pocketsign.verify.v2.VerificationService/Verify'                => ['Verify',                 \&verify],
    '/pocketsign.verify.v2.CertificateService/CheckCertificateStatus' => ['CheckCertificateStatus', \&check_certificate],
    '/pocketsign.verify.v2.UserService/CheckUserStatus'               => ['CheckUserStatus',        \&check_user],
);

# Connect protocol: error code -> HTTP status, and the code a client derives
# from a bare HTTP status (used for the http_status fault).
my %CODE_HTTP = (
    invalid_argument => 400, failed_precondition => 400, out_of_range => 400,
    unauthenticated => 401, permission_denied => 403, not_found => 404,
    already_exists => 409, aborted => 409, resource_exhausted => 429,
    canceled => 499, unknown => 500, internal => 500, data_loss => 500,
    unimplemented => 501, unavailable => 503, deadline_exceeded => 504,
);
our %HTTP_CODE = (
    400 => 'invalid_argument', 401 => 'unauthenticated', 403 => 'permission_denied',
    404 => 'not_found', 408 => 'deadline_exceeded', 409 => 'aborted', 412 => 'failed_precondition',
    413 => 'resource_exhausted', 415 => 'invalid_argument', 429 => 'unavailable', 499 => 'canceled',
    500 => 'internal', 501 => 'unimplemented', 502 => 'unavailable', 503 => 'unavailable',
    504 => 'unavailable',
);

my %CHECK_METHOD  = map { $_ => 1 } qw(CHECK_METHOD_OCSP CHECK_METHOD_CRL);
my %CHECK_PURPOSE = map { $_ => 1 } qw(CHECK_PURPOSE_SIGNATURE_VERIFICATION CHECK_PURPOSE_LIVENESS_CHECK);

# ---------------------------------------------------------------- errors

sub error_json ($code, $message) { $JSON->encode({ code => $code, message => $message }) }

# Dies with a Connect error; the server turns it into the response.
sub fail ($code, $message, $reason = undef) {
    my %b = (code => $code, message => $message);
    $b{details} = [error_detail($reason)] if $reason;
    die bless { status => $CODE_HTTP{$code} // 500, body => \%b }, 'JPKI::PfSim::Error';
}

# A Connect error detail.  A Connect server sends {type, value: base64 protobuf,
# debug}; the simulator also puts the reason at the top level so that simple
# clients can read it.
sub error_detail ($reason) {
    my $domain = 'jpki-pf-sim';
    my $pb = "\x0a" . chr(length $reason) . $reason . "\x12" . chr(length $domain) . $domain;  # ErrorInfo{reason, domain}
    (my $value = encode_base64($pb, '')) =~ s/=+$//;
    return { reason => $reason, type => 'google.rpc.ErrorInfo', value => $value,
             debug => { reason => $reason, domain => $domain } };
}

sub bad ($message) { fail('invalid_argument', $message) }

# ---------------------------------------------------------------- the RPCs

sub verify ($ctx, $in) {
    my $c = request_certificate($ctx, $in, 1);
    my $sig = b64_field($in, 'signature');
    defined $sig && length $sig or bad('signature: required, base64');
    my $digest = b64_field($in, 'digest');
    defined $digest && length $digest == 32 or bad('digest: required, the base64 of a 32-byte SHA-256 hash');
    my $alg = field($in, 'hashAlgorithm') // bad('hashAlgorithm: required');
    $alg eq 'HASH_ALGORITHM_SHA256' or bad("hashAlgorithm: the simulator supports HASH_ALGORITHM_SHA256 only");
    my $method = check_method($in);
    my $purpose = check_purpose($in, 'CHECK_PURPOSE_SIGNATURE_VERIFICATION');
    my $identify = bool_field($in, 'identifyUser');
    link_check($ctx, $c) if $identify;

    my $sig_ok = JPKI::PfSim::Certs::rsa_signature_ok($c->{der}, $digest, $sig);
    my $st = status_block($ctx, $c, $method, $purpose);
    my $result = !$sig_ok                             ? 'RESULT_SIGNATURE_MISMATCH'
               : $st->{status} eq 'STATUS_REVOKED'    ? 'RESULT_CERTIFICATE_REVOKED'
               : $st->{status} eq 'STATUS_EXPIRED'    ? 'RESULT_CERTIFICATE_EXPIRED'
               :                                        'RESULT_OK';
    $ctx->{store}->remember_certificate($c);
    my %out = (
        verification => { id => new_uuid(), result => $result, hashAlgorithm => $alg, createdAt => rfc3339() },
        certificate => certificate_block($c), certificateStatus => $st,
        certificateContent => content_block($ctx, $c),
    );
    if ($identify) {
        my $uid = $ctx->{state}->user_id_for($c->{serial});
        $out{user} = { id => $uid };
        $out{isNewUser} = $ctx->{store}->first_sight($uid, $result eq 'RESULT_OK') ? JSON::PP::true : JSON::PP::false;
    }
    return \%out;
}

sub check_certificate ($ctx, $in) {
    my $c = request_certificate($ctx, $in, 0);
    my $method = check_method($in);
    my $purpose = check_purpose($in, 'CHECK_PURPOSE_LIVENESS_CHECK');
    my $identify = bool_field($in, 'identifyUser');
    link_check($ctx, $c) if $identify;
    $ctx->{store}->remember_certificate($c);
    my %out = (certificate => certificate_block($c), certificateStatus => status_block($ctx, $c, $method, $purpose),
               certificateContent => content_block($ctx, $c));
    $out{user} = { id => $ctx->{state}->user_id_for($c->{serial}) } if $identify;
    return \%out;
}

sub check_user ($ctx, $in) {
    my $uid = field($in, 'userId');
    defined $uid && !ref $uid && length $uid or bad('userId: required');
    check_method($in);
    my $s = $ctx->{state}->data;

    # The user's certificates: every serial the simulator knows of that resolves to this id.
    # The latest is one that no other serial names as its predecessor.
    my $certs = $ctx->{store}->certificates;
    my %by_serial = map { $_->{serial} => $_ } values %$certs;
    my @mine = @{ user_index($ctx, $s, \%by_serial)->{$uid} // [] };
    @mine or fail('not_found', "no user with id $uid");
    my %older = map { $_ => 1 } grep { defined } map { $s->{predecessors}{$_} } @mine;
    my @latest = grep { !$older{$_} } @mine;
    @latest = @mine unless @latest;
    my ($serial) = sort { length $b <=> length $a || $b cmp $a } @latest;   # deterministic tie-break

    my $state = $s->{unknown}{$serial}  ? 'STATE_UNKNOWN'
              : $s->{revoked}{$serial}  ? 'STATE_REVOKED'
              : $by_serial{$serial} && ($by_serial{$serial}{not_after} // '9') lt rfc3339() ? 'STATE_EXPIRED'
              :                           'STATE_GOOD';
    my %out = (user => { id => $uid }, certificateState => $state, latestCertificateSerial => $serial);
    $out{revocationReason} = $s->{revoked}{$serial}{reason} if $state eq 'STATE_REVOKED';   # as in certificateStatus
    return \%out;
}

# user id -> its serials, built once per version of the state file and of the
# stored certificates (so a check is not linear in the number of users).
sub user_index ($ctx, $s, $by_serial) {
    my $st = $ctx->{state};
    my $key = join '|', $st->stamp, scalar keys %$by_serial;
    return $st->{user_index}{idx} if ($st->{user_index}{key} // '') eq $key;
    my %known = map { $_ => 1 } keys %{ $s->{users} }, %{ $s->{predecessors} }, keys %$by_serial;  # both ends of links
    my %idx;
    push @{ $idx{ $st->user_id_for($_) } }, $_ for keys %known;
    $st->{user_index} = { key => $key, idx => \%idx };
    return \%idx;
}

# ---------------------------------------------------------------- answers

sub certificate_block ($c) { return { id => $c->{id}, type => $c->{type} } }

sub content_block ($ctx, $c) {
    my %b = (validity => { notBefore => $c->{not_before}, notAfter => $c->{not_after} });
    if ($c->{type} eq 'TYPE_JPKI_CARD_DIGITAL_SIGNATURE') {
        my $dob = $ctx->{state}->data->{birth_dates}{ $ctx->{state}->user_id_for($c->{serial}) };
        $b{jpkiCardDigitalSignatureContent} = { dateOfBirth => $dob } if defined $dob;
    }
    return \%b;
}

sub status_block ($ctx, $c, $method, $purpose) {
    my $s = $ctx->{state}->data;
    my %b = (checkMethod => $method, checkPurpose => $purpose,
             # OCSP answers live; the CRL is as fresh as the state file's last change.
             sourceUpdatedAt => $method eq 'CHECK_METHOD_OCSP' ? rfc3339() : rfc3339($ctx->{state}->mtime));
    my $r = $s->{revoked}{ $c->{serial} };
    if ($c->{not_after} lt rfc3339()) {                # JPKI drops expired certificates from its CRLs
        $b{status} = 'STATUS_EXPIRED';
    } elsif ($r) {
        $b{status} = 'STATUS_REVOKED';
        $b{revocationReason} = $r->{reason};
        $b{revokedAt} = $r->{date} if defined $r->{date};
    } elsif ($s->{unknown}{ $c->{serial} }) {
        $b{status} = 'STATUS_UNKNOWN';
    } else {
        $b{status} = 'STATUS_GOOD';
    }
    return \%b;
}

sub link_check ($ctx, $c) {
    $ctx->{state}->data->{link_pending}{ $c->{serial} }
        and fail('failed_precondition',
                 "no certificate link data for serial $c->{serial} yet, so the user cannot be identified",
                 'ERROR_REASON_ASSOCIATED_CERTIFICATE_NOT_EXISTS');
}

sub new_uuid {
    state $n = 0;
    my $h = sha256_hex(join ':', $$, time, $n++, rand);
    return join '-', substr($h, 0, 8), substr($h, 8, 4), '4' . substr($h, 13, 3),
        (qw(8 9 a b))[hex(substr($h, 16, 1)) % 4] . substr($h, 17, 3), substr($h, 20, 12);
}

# ---------------------------------------------------------------- request fields

# proto3 JSON: accept lowerCamelCase and snake_case names.
sub field ($in, $camel) {
    my $v = $in->{$camel};
    return $v if defined $v;
    return $in->{ $camel =~ s/([A-Z])/_\l$1/gr };
}

# proto3 JSON bytes: standard or URL-safe base64, padding optional.
sub b64_field ($in, $name) {
    my $v = field($in, $name);
    return undef unless defined $v;
    bad("$name: must be a base64 string") if ref $v;
    (my $s = $v) =~ tr{-_}{+/};
    $s =~ s/=+$//;
    $s =~ m{^[A-Za-z0-9+/]*$} && length($s) % 4 != 1 or bad("$name: not valid base64");
    return decode_base64($s . '=' x ((4 - length($s) % 4) % 4));
}

sub bool_field ($in, $name) {
    my $v = field($in, $name);
    return 0 unless defined $v;
    JSON::PP::is_bool($v) or bad("$name: must be true or false");
    return $v ? 1 : 0;
}

sub check_method ($in) {
    my $m = field($in, 'checkMethod') // bad('checkMethod: required (CHECK_METHOD_OCSP or CHECK_METHOD_CRL)');
    !ref $m && $CHECK_METHOD{$m} or bad('checkMethod: must be CHECK_METHOD_OCSP or CHECK_METHOD_CRL');
    return $m;
}

sub check_purpose ($in, $default) {
    my $p = field($in, 'checkPurpose') // return $default;
    !ref $p && $CHECK_PURPOSE{$p}
        or bad('checkPurpose: must be CHECK_PURPOSE_SIGNATURE_VERIFICATION or CHECK_PURPOSE_LIVENESS_CHECK');
    return $p;
}

# The certificate a request is about: the "certificate" field, or
# (CheckCertificateStatus only) "certificateId" looked up among the certificates
# the simulator has seen.
sub request_certificate ($ctx, $in, $der_only) {
    return $ctx->{cert} if $ctx->{cert};
    my $der = b64_field($in, 'certificate');
    my $id = field($in, 'certificateId');
    my $c;
    if (defined $der && length $der) {
        $c = JPKI::PfSim::Certs::parse($der)
            or fail('invalid_argument', 'certificate: not a DER X.509 certificate', 'ERROR_REASON_INVALID_CERTIFICATE');
        !defined $id || $id eq $c->{id} or bad("certificateId $id does not match the certificate given");
    } elsif ($der_only) {
        bad('certificate: required, base64 DER');
    } elsif (defined $id && !ref $id && length $id) {
        my $known = $ctx->{store}->certificates->{$id}
            or fail('not_found', "no certificate with id $id (ids are issued by Verify or by a check with a certificate)");
        $c = JPKI::PfSim::Certs::parse(decode_base64($known->{der})) or fail('internal', "stored certificate $id unreadable");
    } else {
        bad('certificateId or certificate: one is required');
    }
    $ctx->{parsed} = $c;                                # known serial, even if refused below
    $c->{rsa} or fail('invalid_argument', 'certificate: only RSA keys are supported', 'ERROR_REASON_UNSUPPORTED_CERTIFICATE');
    $c->{type} or fail('invalid_argument',
                       "certificate: no JPKI certificate policy ($JPKI::PfSim::Certs::OID_AUTH or $JPKI::PfSim::Certs::OID_SIGN)",
                       'ERROR_REASON_UNSUPPORTED_CERTIFICATE');
    return $ctx->{cert} = $c;
}

# Serial for counting and fault lookup, before the request is validated (errors come later).
sub request_serial ($ctx, $in) {
    return undef if $ctx->{name} eq 'CheckUserStatus';
    eval { request_certificate($ctx, $in, $ctx->{name} eq 'Verify') };
    return $ctx->{parsed} ? $ctx->{parsed}{serial} : undef;
}

1;
