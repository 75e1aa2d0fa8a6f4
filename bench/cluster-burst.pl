#!/usr/bin/perl
# PF calls across nodes (issue 13, docs/cluster.md "PF calls across nodes"):
# R rounds of 64 concurrent logins of 16 cards spread over nodes a and b, each
# round with a cold status cache (the cache server flushed). Prints the PF
# calls per round; one call per card is 16.
# Usage: bench/cluster-burst.pl [rounds] [redis|memcache]
use strict;
use warnings;
use FindBin ();
use lib "$FindBin::Bin/../tests/cluster";
use IO::Socket::INET;
use Cluster;

my $ROUNDS = shift // 10;
my $CACHE = shift // 'redis';
my @CARDS = map { sprintf 'auth-user%02d', $_ } 1 .. 16;
cluster_start(nodes => 2, cache => $CACHE, sim_state => {});
link_card($_, 'acct-' . ($_ =~ s/^auth-//r)) for @CARDS;

sub flush {
    if ($CACHE eq 'redis') { redis_cli('FLUSHALL'); return }
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $Cluster::C{cache_port}) or die;
    print $s "flush_all\r\n";
    <$s>;
}

my @calls;
for my $round (1 .. $ROUNDS) {
    flush();
    sim_reset();
    my @specs = map { [ $CARDS[$_ % 16], (qw(a b))[$_ % 2], (qw(a b))[($_ >> 1) % 2] ] } 0 .. 63;
    my @r = concurrent_logins(@specs);
    my $ok = grep { $_->[0] == 200 } @r;
    push @calls, sim_calls()->{total};
    printf "round %2d: %d PF calls, %d/64 logins 200\n", $round, $calls[-1], $ok;
}
my %hist;
$hist{$_}++ for @calls;
printf "%s, %d rounds: %s\n", $CACHE, $ROUNDS, join ', ', map { "$_ calls in $hist{$_}" } sort { $a <=> $b } keys %hist;
cluster_stop();
