use strict;
use warnings FATAL => 'all';

# Coalesced status calls under JPKIStatusFailMode grace (security issue 9,
# item 7): concurrent logins of one certificate share one PF call; when
# that call gets a definite answer that is not a revocation (STATUS_UNKNOWN
# -> cert_status_unknown, never cached), every waiter must get that answer
# too, never "coalesced_call_failed" followed by a grace pass. A PF that
# does not answer at all still lets the waiters pass by grace (that is what
# the mode is for).
use Apache::Test qw(-withtestmore);
use File::Temp ();
use HTTP::Request ();
use JSON::PP ();
use POSIX ();
use Time::HiRes ();
use JPKITest;
use JPKIStatus;

plan tests => 9;

my $V = 'jpki_pf_grace';    # TTL 1 s, grace 60 s, timeout 1 s / 2 s
my $cert = 'auth-user09';
my $serial = serial_hex($cert);

# N logins of $cert started together; returns the list of [code, error].
sub concurrent_logins {
    my ($n) = @_;
    my $dir = File::Temp->newdir;
    my $go = Time::HiRes::time() + 0.8;    # all children post at the same instant
    my @pids;
    for my $i (1 .. $n) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $ua = ua();
            my ($ch) = vchallenge($ua, $V);
            my $req = HTTP::Request->new(POST => vurl($V, '/jpki/login'));
            $req->header('Content-Type' => 'application/json');
            $req->content(JSON::PP::encode_json(
                { challenge => $ch, certificate => b64(pki_der($cert)), card_proof($cert, $ch, vhost => $V) }));
            my $left = $go - Time::HiRes::time();
            Time::HiRes::sleep($left) if $left > 0;
            my $res = $ua->request($req);
            my $err = eval { json_of($res)->{error} } // '';
            open my $fh, '>', "$dir/$i" or POSIX::_exit(1);
            print $fh $res->code, " $err\n";
            close $fh;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    waitpid $_, 0 for @pids;
    my @out;
    for my $i (1 .. $n) {
        open my $fh, '<', "$dir/$i" or die "child $i wrote nothing";
        my $l = <$fh>;
        chomp $l;
        push @out, [split / /, $l, 2];
    }
    return @out;
}

sim_start(state => {});
is vlogin(ua(), $V, $cert)->code, 200, 'GOOD login: the certificate is now "last seen good"';
Time::HiRes::sleep(1.3);    # the cached GOOD (TTL 1 s) has expired; grace (60 s) has not

# The PF now answers STATUS_UNKNOWN for this serial, slowly, so that the
# concurrent logins coalesce behind one call.
sim_state({ unknown => [$serial], faults => { $serial => { delay_ms => 600 } } });
sim_reset();
my $mark = error_log_mark();
my @r = concurrent_logins(4);
my @passed = grep { $_->[0] == 200 } @r;
is scalar(@passed), 0, 'no login passes on a definite "unknown" answer (no grace pass)'
    or diag join ' ', map { "@$_" } @r;
is scalar(grep { $_->[0] == 403 && $_->[1] eq 'cert_status_unknown' } @r), 4,
    'every login, leader and waiters, gets 403 cert_status_unknown'
    or diag join ' ', map { "@$_" } @r;
my $log = error_log_since($mark);
unlike $log, qr/JPKI0512: grace pass: signature_verification serial=\S*\Q$serial\E/,
    'no grace pass is logged';
like $log, qr/JPKI0581: status signature_verification serial=\S*\Q$serial\E: the coalesced call was answered cert_status_unknown/,
    'the waiters took the leader\'s answer (they were coalesced)';
my $calls = sim_calls()->{total};
cmp_ok $calls, '<', 4, 'fewer PF calls than logins (the calls were coalesced)';
diag "4 concurrent logins, PF answering STATUS_UNKNOWN after 600 ms: $calls PF call(s)";

# Control: the same burst while the PF does not answer at all (HTTP 503):
# the certificate was seen GOOD within the grace window, so grace passes it.
Time::HiRes::sleep(2.5);    # the previous outcome has gone
sim_state({ faults => { $serial => { delay_ms => 600, http_status => 503 } } });
$mark = error_log_mark();
@r = concurrent_logins(4);
is scalar(grep { $_->[0] == 200 } @r), 4, 'PF unavailable: all 4 pass by grace (the mode still works)'
    or diag join ' ', map { "@$_" } @r;
like error_log_since($mark), qr/JPKI0512: grace pass/, 'grace pass logged';

is sim_stop(), 0, 'simulator stopped cleanly';
