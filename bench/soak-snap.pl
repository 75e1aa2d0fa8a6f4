#!/usr/bin/perl
# Snapshot of httpd's processes for bench/soak.sh: one line per process,
#   <pid> <role> <VmRSS kB> <RssAnon kB> <RssShmem kB> <open fds>
#   <client> <memcached> <pf> <unix> <sqlite> <other>
# (VmRSS = RssAnon + RssFile + RssShmem; RssShmem grows as a process first
# touches pages of shared memory such as mod_ssl's shmcb session cache)
# where the descriptors are split into the kinds that are pools (connections
# to memcached and to the PF, libcurl's socket pairs, SQLite handles),
# accepted client connections, and everything else (files, pipes, the
# listener, unknown sockets). libcurl keeps a socket pair (2 Unix sockets) in
# every easy handle that has performed a transfer (the wakeup pair of its
# internal multi handle), so mod_jpki's idle handles hold 2 each.
# Also writes the raw listing of every process to OUT.fd.<pid>.
#   bench/soak-snap.pl PIDFILE PORT PFPORT MCPORT OUT
use strict;
use warnings;

my ($pidfile, $port, $pfport, $mcport, $out) = @ARGV;
@ARGV == 5 or die "usage: $0 PIDFILE PORT PFPORT MCPORT OUT\n";
open my $pf, '<', $pidfile or die "$pidfile: $!";
chomp(my $ppid = <$pf>);
my @procs = ([$ppid, 'parent']);
for (glob '/proc/[0-9]*/stat') {
    open my $s, '<', $_ or next;
    my $st = <$s> // next;
    my ($pid, $parent) = $st =~ /^(\d+) \(.*\) \S+ (\d+)/ or next;
    push @procs, [$pid, 'child'] if $parent == $ppid;
}

# socket inode -> [local port, remote port, state] from /proc/net/tcp{,6}
my (%sock, %unix);
if (open my $u, '<', '/proc/net/unix') { <$u>; while (<$u>) { my @c = split; $unix{ $c[6] } = 1 } }
for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
    open my $h, '<', $f or next;
    <$h>;
    while (<$h>) {
        my @c = split;
        my ($lp) = $c[1] =~ /:([0-9A-F]{4})$/;
        my ($rp) = $c[2] =~ /:([0-9A-F]{4})$/;
        $sock{ $c[9] } = [hex $lp, hex $rp, $c[3]];
    }
}

open my $o, '>', $out or die "$out: $!";
for my $p (sort { $a->[0] <=> $b->[0] } @procs) {
    my ($pid, $role) = @$p;
    open my $st, '<', "/proc/$pid/status" or next;
    my %m = map { /^(VmRSS|RssAnon|RssShmem):\s+(\d+)/ ? ($1 => $2) : () } <$st>;
    my %n = map { $_ => 0 } qw(client memcached pf unix sqlite other);
    my $total = 0;
    open my $l, '>', "$out.fd.$pid" or die $!;
    opendir my $d, "/proc/$pid/fd" or next;
    for my $fd (sort { $a <=> $b } grep { /^\d+$/ } readdir $d) {
        my $t = readlink "/proc/$pid/fd/$fd" // next;
        $total++;
        my $kind = 'other';
        if ($t =~ /^socket:\[(\d+)\]$/ && $sock{$1}) {
            my ($lp, $rp, $state) = @{ $sock{$1} };
            $kind = $rp == $mcport ? 'memcached' : $rp == $pfport ? 'pf'
                  : ($lp == $port && $state ne '0A') ? 'client' : 'other';
            $t .= " $lp->$rp state $state";
        }
        elsif ($t =~ /^socket:\[(\d+)\]$/ && $unix{$1}) {
            $kind = 'unix';
        }
        elsif ($t =~ m{/accounts\.db(-journal)?$}) {
            $kind = 'sqlite';
        }
        $n{$kind}++;
        print $l "$fd $kind $t\n";
    }
    print $o join(' ', $pid, $role, @m{qw(VmRSS RssAnon RssShmem)}, $total, @n{qw(client memcached pf unix sqlite other)}), "\n";
}
