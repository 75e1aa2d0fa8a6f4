#!/usr/bin/perl
# Memory per cached entry in Redis and memcached (docs/cluster.md "Sizing").
# Writes N keys of mod_jpki's shape (jpki-<ns>: + 32 hex digits, a value of the
# namespace's real length, an expiry) into a fresh, empty server and divides the
# growth of its own memory figure (Redis used_memory, memcached bytes +
# slab pages) by N. The value lengths default to those the cluster test prints
# ("bytes per entry ... value length"); override with ns=len arguments.
# Usage: bench/cache-size.pl [count] [sess=N stat=N acct=N]
use strict;
use warnings;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep);

my $N = @ARGV && $ARGV[0] =~ /^\d+$/ ? shift : 200_000;
my %len = (sess => 485, stat => 93, acct => 11);
for (@ARGV) { my ($k, $v) = /^(\w+)=(\d+)$/ or die "bad argument $_\n"; $len{$k} = $v }

sub free_port { my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1') or die; my $p = $s->sockport; close $s; $p }

sub start {
    my @cmd = @_;
    my $pid = fork // die;
    if (!$pid) { open STDOUT, '>', '/dev/null'; open STDERR, '>&', \*STDOUT; exec @cmd or POSIX::_exit(127) }
    return $pid;
}

sub connect_to {
    my ($port) = @_;
    for (1 .. 100) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port);
        return $s if $s;
        sleep 0.05;
    }
    die "no server on $port\n";
}

sub cmd { my ($s, $c) = @_; print $s $c; my $l = <$s>; return $l }

sub redis_mem {
    my ($s) = @_;
    print $s "INFO memory\r\n";
    my $h = <$s>; my ($n) = $h =~ /^\$(\d+)/; read $s, my $b, $n + 2;
    return $b =~ /used_memory:(\d+)/ ? $1 : die "no used_memory\n";
}

sub mc_mem {
    my ($s) = @_;
    print $s "stats slabs\r\n";
    my $pages = 0; my $b = 0;
    while (my $l = <$s>) { last if $l =~ /^END/; $pages += $1 if $l =~ /:total_pages (\d+)/ }
    print $s "stats\r\n";
    while (my $l = <$s>) { last if $l =~ /^END/; $b = $1 if $l =~ /STAT bytes (\d+)/ }
    return ($b, $pages);
}

sub key_of { my ($ns, $i) = @_; sprintf 'jpki-%s:%032x', $ns, $i * 2654435761 + 17 }

my %res;
for my $ns (sort keys %len) {
    my $v = 'x' x $len{$ns};
    # Redis: pipelined SET ... PX, in batches
    my $rp = free_port();
    my $rpid = start('redis-server', '--port', $rp, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no');
    my $r = connect_to($rp);
    my $before = redis_mem($r);
    for (my $i = 0; $i < $N; $i += 1000) {
        my $batch = '';
        for my $j ($i .. ($i + 999 < $N ? $i + 999 : $N - 1)) {
            my $k = key_of($ns, $j);
            $batch .= sprintf "*5\r\n\$3\r\nSET\r\n\$%d\r\n%s\r\n\$%d\r\n%s\r\n\$2\r\nPX\r\n\$7\r\n3600000\r\n", length $k, $k, length $v, $v;
        }
        print $r $batch;
        <$r> for 1 .. ($i + 1000 <= $N ? 1000 : $N - $i);
    }
    my $after = redis_mem($r);
    $res{$ns}{redis} = ($after - $before) / $N;
    kill TERM => $rpid; waitpid $rpid, 0;
    # memcached: set with an expiry, noreply
    my $mp = free_port();
    my $mpid = start('memcached', '-l', '127.0.0.1', '-p', $mp, '-U', '0', '-m', '1024', '-u', 'nobody');
    my $m = connect_to($mp);
    my ($b0, $p0) = mc_mem($m);
    for my $j (0 .. $N - 1) {
        printf $m "set %s 0 3600 %d noreply\r\n%s\r\n", key_of($ns, $j), length $v, $v;
    }
    my ($b1, $p1) = mc_mem($m);
    $res{$ns}{mc_item} = ($b1 - $b0) / $N;
    $res{$ns}{mc_slab} = ($p1 - $p0) * 1048576 / $N;
    kill TERM => $mpid; waitpid $mpid, 0;
}
printf "%d entries per namespace, keys jpki-<ns>: + 32 hex digits\n", $N;
printf "%-5s %6s %14s %16s %16s %12s\n", 'ns', 'value', 'Redis B/entry', 'memcached item', 'memcached slab', '1M in Redis';
for my $ns (sort keys %len) {
    my $x = $res{$ns};
    printf "%-5s %6d %14.0f %16.0f %16.0f %9.0f MB\n", $ns, $len{$ns}, $x->{redis}, $x->{mc_item}, $x->{mc_slab}, $x->{redis} * 1e6 / 1048576;
}
