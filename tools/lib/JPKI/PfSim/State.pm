package JPKI::PfSim::State;
# The state file: revocations, user ids, renewal links, birth dates and faults,
# re-read whenever it changes so that a test can steer the simulator while it
# runs (docs/platform-simulator.md, "The state file").

use v5.36;
use strict;
use warnings;

use Digest::SHA qw(sha256_hex);
use Time::HiRes qw(time);

use JPKI::PfSim::Faults;
use JPKI::PfSim::Util qw($JSON logline norm_serial);

# Reason spellings (camelCase as documented; snake_case and the enum names work too).
my %REASON = map { my $k = lc s/^REVOCATION_REASON_//r =~ tr/_//dr; ($k => $_) } qw(
    REVOCATION_REASON_UNSPECIFIED REVOCATION_REASON_KEY_COMPROMISE REVOCATION_REASON_CA_COMPROMISE
    REVOCATION_REASON_AFFILIATION_CHANGED REVOCATION_REASON_SUPERSEDED
    REVOCATION_REASON_CESSATION_OF_OPERATION REVOCATION_REASON_CERTIFICATE_HOLD);

sub new ($class, $path) {
    my $self = bless { path => $path, data => undef, stamp => '', mtime => time }, $class;
    $self->reload;
    return $self;
}

sub data ($self)  { $self->{data} }
sub stamp ($self) { $self->{stamp} }    # identifies the version of the file in force
sub mtime ($self) { $self->{mtime} }    # when it last changed: the simulated CRL's age

# Re-reads the file when its identity, size or (sub-second) mtime changed.  A
# missing or unparsable file is logged once per change and the last good state
# stays in force (the empty state at start-up).
sub reload ($self) {
    my $path = $self->{path};
    my @st = Time::HiRes::stat($path);
    my $stamp = @st ? join(':', @st[0, 1, 7, 9]) : 'missing';
    return if $stamp eq $self->{stamp};
    $self->{stamp} = $stamp;
    if (!@st) {
        logline("state file $path missing; keeping the last good state");
        $self->{data} //= normalise({});
        return;
    }
    my $raw = do { local $/; my $fh; open($fh, '<:raw', $path) ? <$fh> : undef };
    my $data = defined $raw ? eval { $JSON->decode($raw) } : undef;
    if (ref $data ne 'HASH') {
        logline("state file $path unreadable or not a JSON object; keeping the last good state");
        $self->{data} //= normalise({});
        return;
    }
    $self->{data} = normalise($data);
    $self->{mtime} = $st[9];
}

sub normalise ($d) {
    my %s;
    $s{revoked} = revocations(_hash($d, 'revoked'));
    my $users = _hash($d, 'users');
    $s{users} = { map { my $n = norm_serial($_); defined $n ? ($n => "$users->{$_}") : () } keys %$users };
    my $pred = _hash($d, 'predecessors');
    for (keys %$pred) {
        my ($new, $old) = (norm_serial($_), norm_serial($pred->{$_}));
        $s{predecessors}{$new} = $old if defined $new && defined $old;
    }
    for my $k (qw(link_pending unknown)) {
        my $l = ref $d->{$k} eq 'ARRAY' ? $d->{$k} : do { warn_shape($k, 'array') if defined $d->{$k}; [] };
        $s{$k} = { map { my $n = norm_serial($_); defined $n ? ($n => 1) : () } @$l };
    }
    $s{birth_dates} = _hash($d, 'birth_dates');
    my $faults = _hash($d, 'faults');
    for my $k (keys %$faults) {
        if ($k eq 'next') {
            $s{next} = [grep { JPKI::PfSim::Faults::valid($_, 'next') }
                        ref $faults->{next} eq 'ARRAY' ? @{ $faults->{next} } : ()];
        } elsif (JPKI::PfSim::Faults::valid($faults->{$k}, $k)) {
            my $key = $k eq '*' ? '*' : norm_serial($k) // next;
            $s{faults}{$key} = $faults->{$k};
        }
    }
    $s{$_} //= {} for qw(revoked users predecessors faults);
    $s{next} //= [];
    return \%s;
}

sub _hash ($d, $k) {
    return $d->{$k} if ref $d->{$k} eq 'HASH';
    warn_shape($k, 'object') if defined $d->{$k};
    return {};
}

sub revocations ($rev) {
    my %out;
    for my $k (keys %$rev) {
        my $serial = norm_serial($k) // next;
        my $v = ref $rev->{$k} eq 'HASH' ? $rev->{$k} : { reason => $rev->{$k} };
        my $name = lc(($v->{reason} // 'unspecified') =~ s/^REVOCATION_REASON_//ir =~ tr/_//dr);
        my $reason = $REASON{$name} // do {
            logline("state: unknown revocation reason '$v->{reason}' for $serial; using unspecified");
            'REVOCATION_REASON_UNSPECIFIED';
        };
        $out{$serial} = { reason => $reason, date => $v->{date} };
    }
    return \%out;
}

sub warn_shape ($key, $want) { logline("state: '$key' should be a JSON $want; ignoring it") }

# The PF user id: an explicit "users" entry, else the one of the nearest
# predecessor that has an entry, else a deterministic id derived from the oldest
# serial of the chain.
sub user_id_for ($self, $serial) {
    my $s = $self->{data};
    my %seen;
    my $cur = $serial;
    while (1) {
        return $s->{users}{$cur} if defined $s->{users}{$cur};
        $seen{$cur} = 1;
        my $p = $s->{predecessors}{$cur};
        last if !defined $p || $seen{$p};
        $cur = $p;
    }
    return 'usr_' . substr(sha256_hex($cur), 0, 20);
}

1;
