use strict;
use warnings FATAL => 'all';

# An ended session stays ended (issue 9, item 6; docs/security.md "Ending a
# session"): requests that refresh the record (idle refresh, status re-check)
# while a logout happens must not bring it back. Vhost jpki_race re-checks
# the status after 1 s against the platform simulator, whose answers are
# slowed down so that the refreshes straddle the logout.
use Apache::Test qw(-withtestmore);
use HTTP::Request ();
use POSIX ();
use Time::HiRes qw(sleep time);
use JPKITest;
use JPKIStatus;

plan tests => 15;

my $NAME = '__Host-jpki_session';
sub session_cookie {
    my ($res) = @_;
    for ($res->header('Set-Cookie')) { return "$NAME=$1" if /^\Q$NAME\E=([^;]+)/ }
    return undef;
}
sub get_env {
    my ($cookie) = @_;
    return ua(no_cookies => 1)->get(vurl('jpki_race', '/protected/env'), Cookie => $cookie,
                                    Accept => 'application/json');
}
sub logout {
    my ($cookie) = @_;
    my $req = HTTP::Request->new(POST => vurl('jpki_race', '/jpki/logout'));
    $req->header(Cookie => $cookie);
    return ua(no_cookies => 1)->request($req);
}
# Requests spread over 2.5 s (past the status TTL and the refresh interval, so
# that a restored record would be used, re-checked and refreshed): codes.
sub afterwards {
    my ($cookie, $n) = @_;
    my @codes;
    for (1 .. $n) {
        push @codes, get_env($cookie)->code;
        sleep 2.5 / $n;
    }
    return @codes;
}

sim_start(state => {});

# --- 1: one slow status re-check straddles the logout -------------------------
my $res = vlogin(ua(), 'jpki_race', 'auth-alice-1');
is $res->code, 200, 'login' or diag $res->as_string;
my $cookie = session_cookie($res);
is get_env($cookie)->code, 200, 'the session works';
sleep 1.3;    # the status is due for a re-check, last_seen for a refresh
sim_state({ faults => { '*' => { delay_ms => 1500 } } });
my $mark = error_log_mark();
my $pid = fork // die "fork: $!";
if (!$pid) {    # loads the session now, saves it after the slow re-check
    my $code = get_env($cookie)->code;
    POSIX::_exit($code == 200 ? 0 : 1);
}
sleep 0.6;
my $t0 = time;
is logout($cookie)->code, 200, 'logout while a request is re-checking the status';
ok time - $t0 < 1, '... without waiting for it';
waitpid $pid, 0;
is $? >> 8, 0, 'the concurrent request itself was served (it began before the logout)';
sim_state({});
my @codes = afterwards($cookie, 8);
is_deeply \@codes, [ (401) x 8 ], 'after the logout the session is refused every time'
    or diag "codes: @codes";
like error_log_since($mark), qr/JPKI0422: session [0-9a-f]{12} had ended \(logout, revocation or account removal\); the record a concurrent request wrote back is removed/,
    'the write-back was noticed and undone';

# --- 2: many parallel refreshes around a logout, three rounds -----------------
for my $round (1 .. 3) {
    $res = vlogin(ua(), 'jpki_race', 'auth-alice-1');
    my $c = session_cookie($res);
    sleep 1.2;
    sim_state({ faults => { '*' => { delay_ms => 300 } } });
    my @kids;
    for my $k (1 .. 12) {
        my $p = fork // die "fork: $!";
        if (!$p) {
            get_env($c) for 1 .. 3;
            POSIX::_exit(0);
        }
        push @kids, $p;
    }
    sleep 0.2;
    my $lo = logout($c);
    waitpid $_, 0 for @kids;
    sim_state({});
    my @after = afterwards($c, 6);
    ok $lo->code == 200 && !grep({ $_ != 401 } @after),
        "round $round: 12 clients x 3 requests refreshing around a logout; afterwards refused every time"
        or diag 'logout ' . $lo->code . "; codes: @after";
}

# --- 3: the ordinary path still works --------------------------------------------
$res = vlogin(ua(), 'jpki_race', 'auth-alice-1');
$cookie = session_cookie($res);
sleep 1.2;
is get_env($cookie)->code, 200, 'a live session refreshed after its interval';
is get_env($cookie)->code, 200, '... and again';
# the status page counts session lookups, not the tombstone probes
sub session_lookups {
    my $j = json_of(ua()->get(vurl('jpki_export', '/jpki-status') . '?format=json'));
    return ($j->{cache}{session}{hits} // 0) + ($j->{cache}{session}{misses} // 0);
}
my $before = session_lookups();
get_env($cookie) for 1 .. 5;
is session_lookups() - $before, 5, 'five session requests are five session lookups on the status page';
is logout($cookie)->code, 200, 'plain logout';
is get_env($cookie)->code, 401, '... ends it';

sim_stop();
