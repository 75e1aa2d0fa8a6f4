#!/usr/bin/perl
# scripts/demo.sh cluster: the cluster of tests/cluster/ in the foreground for
# an integrator (docs/cluster.md): 3 httpd nodes with mod_jpki sharing Redis
# and PostgreSQL, the platform simulator, an httpd balancer on
# https://localhost:$JPKI_DEMO_PORT (default 8443). Logs a test card in
# through the balancer, shows requests spread over the nodes, logs out on
# another node; then runs until Ctrl-C, which stops everything.
use strict;
use warnings;
use FindBin ();
use lib $FindBin::Bin;
use Cluster;

$Cluster::BALPORT = $ENV{JPKI_DEMO_PORT} || 8443;
my $c = cluster_start(nodes => 3, cache => $ENV{JPKI_CLUSTER_CACHE} || 'redis');
link_card('auth-alice-1', 'cust-0001');
print "== balancer: https://localhost:$c->{balport}/  (CA: $ENV{JPKI_PKI_DIR}/server-ca.crt)\n";
print "   nodes: ", join(', ', map { "$_ http://127.0.0.1:$c->{port}{$_}" } node_names()), "\n";
print "   JPKICache $c->{cache} on 127.0.0.1:$c->{cache_port}; PostgreSQL on 127.0.0.1:$ENV{JPKI_PG_PORT} (db jpki)\n";
print "   run directory (configurations, error logs): $c->{run}\n";
my $ua = bal_ua();
my $r = bal_login($ua, 'auth-alice-1');
print "== login through the balancer (challenge and login may hit different nodes): ", $r->code, "\n";
for (1 .. 6) {
    my $g = $ua->get(Cluster::bal_url('/protected/page.html'));
    printf "   GET /protected/page.html -> %d from node %s as %s\n", $g->code,
        $g->header('X-Cluster-Node') // '-', $g->header('X-Cluster-User') // '-';
}
my $calls = sim_calls();
print "== platform calls so far: $calls->{total} (one per card per status TTL, whatever the node)\n";
print "== the cluster runs until Ctrl-C (then everything is stopped)\n";
$SIG{INT} = $SIG{TERM} = sub { print "\nstopping\n"; Cluster::cluster_stop(); exit 0 };
sleep 3600 while 1;
