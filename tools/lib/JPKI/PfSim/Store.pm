package JPKI::PfSim::Store;
# The simulator's shared on-disk records, in small JSON files under
# "<state file>.d/", each updated under flock(2) so that every forked
# connection child sees the same counters, "users seen" set, id -> certificate
# map and consumption of one-shot faults.  Counters and fault consumption start
# afresh with every run; the users-seen set and the certificate map persist,
# like a real PF's records.

use v5.36;
use strict;
use warnings;

use Fcntl qw(:flock O_RDWR O_CREAT);
use MIME::Base64 qw(encode_base64);

use JPKI::PfSim::Util qw($JSON rfc3339);

my @RPC_NAMES = qw(Verify CheckCertificateStatus CheckUserStatus);

sub new ($class, $state_path) {
    my $dir = "$state_path.d";
    -d $dir or mkdir($dir, 0700) or die "jpki-pf-sim: cannot create $dir: $!\n";
    my $self = bless { file => { map { $_ => "$dir/$_.json" } qw(calls next seen certs) } }, $class;
    unlink @{ $self->{file} }{qw(calls next)};
    return $self;
}

# Runs $cb on the decoded content of file $name under an exclusive lock.  $cb
# returns (new content or undef to leave the file alone, result); the result is
# returned.
sub update ($self, $name, $cb) {
    my $path = $self->{file}{$name};
    sysopen(my $fh, $path, O_RDWR | O_CREAT, 0600) or die "cannot open $path: $!";
    flock($fh, LOCK_EX) or die "cannot lock $path: $!";
    my $raw = do { local $/; <$fh> } // '';
    my $data = length $raw ? eval { $JSON->decode($raw) } : undef;
    my ($new, $result) = $cb->(ref $data eq 'HASH' ? $data : {});
    if ($new) {
        seek($fh, 0, 0);
        truncate($fh, 0);
        print $fh $JSON->encode($new);
    }
    close $fh;                                          # flushes, then unlocks
    return $result;
}

sub load ($self, $name) {
    open(my $fh, '<', $self->{file}{$name}) or return {};
    flock($fh, LOCK_SH);
    my $raw = do { local $/; <$fh> } // '';
    close $fh;
    my $data = length $raw ? eval { $JSON->decode($raw) } : undef;
    return ref $data eq 'HASH' ? $data : {};
}

sub count_call ($self, $name, $serial) {
    $self->update(calls => sub ($d) {
        $d->{$name}++;
        $d->{total}++;
        $d->{by_serial}{$serial}++ if defined $serial;
        return ($d);
    });
}

sub reset_calls ($self) { $self->update(calls => sub ($d) { return ({}) }) }

sub calls ($self) {
    my $d = $self->load('calls');
    $d->{$_} //= 0 for @RPC_NAMES, 'total';
    $d->{by_serial} //= {};
    return $d;
}

# True while a user id has not yet been answered by a successful Verify; $record
# marks it seen (only RESULT_OK does, so a failed attempt does not use up the
# "new user" answer).
sub first_sight ($self, $uid, $record) {
    return $self->update(seen => sub ($d) {
        return (undef, 0) if exists $d->{$uid};
        return (undef, 1) unless $record;
        $d->{$uid} = rfc3339();
        return ($d, 1);
    });
}

sub remember_certificate ($self, $c) {
    $self->update(certs => sub ($d) {
        return (undef) if $d->{ $c->{id} };
        $d->{ $c->{id} } = { serial => $c->{serial}, not_after => $c->{not_after}, der => encode_base64($c->{der}, '') };
        return ($d);
    });
}

sub certificates ($self) { $self->load('certs') }

1;
