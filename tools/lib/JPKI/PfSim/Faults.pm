package JPKI::PfSim::Faults;
# Fault injection: which fault a request gets, how faults are described in the
# log, and the "wrong_types" body mangling.  The faults that act on the
# connection (delay, reset, blackhole, truncate, trickle, huge bodies) are
# carried out by JPKI::PfSim::Server and JPKI::PfSim::Http.

use v5.36;
use strict;
use warnings;

use JSON::PP ();

use JPKI::PfSim::Util qw(logline);

my %KNOWN = map { $_ => 1 } qw(delay_ms http_status malformed_json wrong_types truncate
                               huge_body_mb reset trickle_ms blackhole);

# Checks one fault object of the state file; logs and drops what is wrong.
sub valid ($f, $where) {
    ref $f eq 'HASH' or do { logline("state: fault '$where' is not an object; ignoring it"); return 0 };
    my @unknown = grep { !$KNOWN{$_} } keys %$f;
    logline("state: fault '$where' has unknown keys (@unknown); they do nothing") if @unknown;
    if (defined $f->{http_status} && ($f->{http_status} !~ /^\d+$/ || $f->{http_status} < 300 || $f->{http_status} > 599)) {
        logline("state: fault '$where' http_status must be 300-599; ignoring that key");
        delete $f->{http_status};
    }
    return 1;
}

# The fault for this request: the next unconsumed entry of faults.next (one per
# request, shared by all children), else the request serial's entry, else "*".
# Rewriting the state file re-arms faults.next.  Returns (fault, description)
# or nothing.
sub pick ($state, $store, $serial) {
    my $s = $state->data;
    if (@{ $s->{next} }) {
        my $stamp = $state->stamp;
        my $i = $store->update(next => sub ($d) {
            $d = { stamp => $stamp, used => 0 } if ($d->{stamp} // '') ne $stamp;
            return (undef, undef) if $d->{used} >= @{ $s->{next} };
            return ($d, $d->{used}++);
        });
        return ($s->{next}[$i], "next[$i]:" . describe($s->{next}[$i])) if defined $i;
    }
    for my $key (defined $serial ? ($serial, '*') : ('*')) {
        my $f = $s->{faults}{$key} or next;
        return ($f, "$key:" . describe($f));
    }
    return;
}

sub describe ($f) {
    return join ',', map {
        my $v = $f->{$_};
        "$_=" . (JSON::PP::is_bool($v) ? ($v ? 'true' : 'false') : $v);
    } sort keys %$f;
}

# The "wrong_types" fault: valid JSON, but the fields a client reads have the wrong types.
sub mangle_types ($o) {
    $o->{verification}{result}      = 42         if ref $o->{verification} eq 'HASH';
    $o->{certificateStatus}{status} = 42         if ref $o->{certificateStatus} eq 'HASH';
    $o->{certificate}{id}           = [1, 2]     if ref $o->{certificate} eq 'HASH';
    $o->{user}{id}                  = 12345      if ref $o->{user} eq 'HASH';
    $o->{isNewUser}                 = 'yes'      if exists $o->{isNewUser};
    $o->{certificateState}          = 42         if exists $o->{certificateState};
    $o->{latestCertificateSerial}   = { x => 1 } if exists $o->{latestCertificateSerial};
    $o->{code}                      = 42         if exists $o->{code};
}

1;
