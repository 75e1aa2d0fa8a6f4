#!/usr/bin/perl
# Cluster benchmark (issue 13, docs/cluster.md "Measured"), one run, ratios:
#   1. session-authenticated requests/s through the balancer with 2 nodes vs
#      1 node (the same wrk load; the balancer re-pointed by a graceful restart);
#   2. server CPU per session request, Redis vs shmcb: the node's httpd
#      utime+stime from /proc divided by the requests wrk made to it directly.
# Usage: bench/cluster.sh [seconds]
use strict;
use warnings;
use FindBin ();
use lib "$FindBin::Bin/../tests/cluster";
use Cluster;

my $SECS = shift // 5;
my ($CONNS, $THREADS) = (16, 2);

sub wrk {
    my ($url, $cookie, $secs) = @_;
    my $out = `wrk -t$THREADS -c$CONNS -d${secs}s -H 'Cookie: $cookie' -H 'Accept: application/json' '$url' 2>&1`;
    my ($rps) = $out =~ /Requests\/sec:\s+([\d.]+)/ or die "wrk: $out";
    my ($n) = $out =~ /(\d+) requests in/;
    my ($bad) = $out =~ /Non-2xx or 3xx responses: (\d+)/;
    return ($rps, $n, $bad // 0);
}

sub session_cookie {
    my $ua = bal_ua();
    my $r = bal_login($ua, 'auth-user01');
    die 'login failed: ' . $r->status_line unless $r->code == 200;
    my $c;
    $ua->cookie_jar->scan(sub { $c = "$_[1]=$_[2]" if $_[1] eq '__Host-jpki_session' });
    return $c;
}

sub cpu_per_request {
    my ($n, $cookie) = @_;
    my $url = node_url($n, '/protected/page.html');
    wrk($url, $cookie, 2);    # warm-up
    my $c0 = Cluster::node_cpu($n);
    my ($rps, $reqs, $bad) = wrk($url, $cookie, $SECS);
    my $cpu = Cluster::node_cpu($n) - $c0;
    die "$bad requests were not 200" if $bad;
    return ($cpu / $reqs * 1e6, $rps);    # microseconds per request
}

# --- Redis, 2 nodes --------------------------------------------------------------
cluster_start(nodes => 2, cache => 'redis');
link_card('auth-user01', 'acct-bench');
my $cookie = session_cookie();
my $bal = Cluster::bal_url('/protected/page.html');
wrk($bal, $cookie, 2);
my @r2;
my @r1;
for my $round (1 .. 2) {    # alternate, so that load from elsewhere hits both alike
    balancer_members('a', 'b');
    my ($rps, undef, $bad) = wrk($bal, $cookie, $SECS);
    die "$bad errors through the balancer" if $bad;
    push @r2, $rps;
    balancer_members('a');
    ($rps, undef, $bad) = wrk($bal, $cookie, $SECS);
    die "$bad errors through the balancer" if $bad;
    push @r1, $rps;
    printf "round %d: through the balancer, 2 nodes %.0f req/s, 1 node %.0f req/s\n", $round, $r2[-1], $r1[-1];
}
my ($redis_us, $redis_rps) = cpu_per_request('a', $cookie);
cluster_stop();

# --- shmcb, 1 node -----------------------------------------------------------------
cluster_start(nodes => 1, cache => 'shmcb');
link_card('auth-user01', 'acct-bench');
$cookie = session_cookie();
my ($shm_us, $shm_rps) = cpu_per_request('a', $cookie);
cluster_stop();

my $mean = sub { my $t = 0; $t += $_ for @_; $t / @_ };
printf "session req/s through the balancer: 2 nodes %.0f, 1 node %.0f, ratio %.2f\n",
    $mean->(@r2), $mean->(@r1), $mean->(@r2) / $mean->(@r1);
printf "node CPU per session request (direct, %d connections): Redis %.0f us (%.0f req/s), "
     . "shmcb %.0f us (%.0f req/s), ratio %.2f\n", $CONNS, $redis_us, $redis_rps, $shm_us, $shm_rps,
    $redis_us / $shm_us;
