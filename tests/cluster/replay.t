#!/usr/bin/perl
# A challenge is single-use across nodes (docs/cluster.md, docs/security.md
# "Several servers"): the SAME signed login (challenge, its pre-login
# cookie, the card's signature) POSTed to node a and node b at the same
# instant, N rounds: exactly one node may accept it. The take reads, then
# removes; the remove (redis DEL, memcached delete: atomic) decides, and the
# tombstone lives under its own key. Before that, both were accepted in 8
# of 30 rounds (Redis). Run by make cluster-check.
# Usage: prove tests/cluster/replay.t   (JPKI_REPLAY_ROUNDS, default 20)
use strict;
use warnings;
use FindBin ();
use lib $FindBin::Bin;
use Cluster;
use JPKITest qw(client_data b64 b64url card_sign pki_der);
use LWP::UserAgent ();
use HTTP::Request ();
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(time sleep);
use Test::More;

my $ROUNDS = $ENV{JPKI_REPLAY_ROUNDS} // 20;
cluster_start(nodes => 2, cache => $ENV{JPKI_CLUSTER_CACHE} || 'redis');
link_card('auth-user01', 'acct-user01');
node_login('a', 'a', 'auth-user01', {});    # warm the status and account caches
my %n = (2 => 0, 1 => 0, 0 => 0);
for (1 .. $ROUNDS) {
    my $jar = {};
    my ($ch) = Cluster::node_challenge('a', $jar);
    my $cd = client_data($ch, Cluster::site_origin());
    my $body = JSON::PP::encode_json({ challenge => $ch, certificate => b64(pki_der('auth-user01')),
                                       client_data => b64url($cd),
                                       signature => b64(card_sign('auth-user01', $cd)) });
    my $go = time + 0.3;
    pipe my $r, my $w or die;
    my @pids;
    for my $node (qw(a b)) {
        my $pid = fork // die;
        if (!$pid) {
            close $r;
            my $req = HTTP::Request->new(POST => node_url($node, '/jpki/login'));
            $req->header('Content-Type' => 'application/json');
            $req->header(Cookie => join '; ', map { "$_=$jar->{$_}" } keys %$jar);
            $req->content($body);
            my $ua = LWP::UserAgent->new(keep_alive => 0);
            sleep($go - time) if $go > time;
            print $w $ua->request($req)->code, "\n";
            close $w;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    close $w;
    my @codes = <$r>;
    waitpid $_, 0 for @pids;
    $n{ scalar grep { /^200/ } @codes }++;
}
diag "the same signed login POSTed to nodes a and b at once, $ROUNDS rounds: "
    . "both accepted $n{2}, one $n{1}, none $n{0}";
is $n{2}, 0, 'no round in which both nodes accepted the same challenge';
is $n{1}, $ROUNDS, 'every round: exactly one node accepted it';
done_testing();
