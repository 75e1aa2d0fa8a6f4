#!/usr/bin/perl
# Soak verdict (bench/soak.sh): reads the run directory and prints the summary
# tables; exits 1 when a criterion fails.
#   bench/soak-report.pl RUN_DIR
# RUN_DIR/phases.tsv   "<epoch s> <event>" written by soak.sh: start, the warm-up
#                      cycle (w:pf-slow, w:pf-down, w:pf-back, w:cache-down,
#                      w:cache-back), main, the main cycle (the same without
#                      "w:"), end
# RUN_DIR/events.log   one line per request (bench/soak-load.pl)
# RUN_DIR/snap-warm.txt, snap-end.txt  "<pid> <role> <VmRSS kB> <open fds>"
# RUN_DIR/error_log    httpd's, time first in UTC (httpd-soak.conf.in)
use strict;
use warnings;
use Time::Local qw(timegm);

my $run = shift or die "usage: $0 RUN_DIR\n";
my $RSS_MAX_GROWTH = 5.0;    # % per process, warm-up -> end
# How long after "back" a documented 503 may still come: the breaker's
# back-off (JPKIStatusBreaker 3 10) plus one total timeout (10 s) plus 5 s for
# a loaded machine; after the cache restart, socache_memcache's retry interval
# for a dead server (5 s) plus 10 s.
my $PF_TAIL = 25;
my $CACHE_TAIL = 15;

sub lines { my $f = shift; open my $h, '<', $f or die "$f: $!"; chomp(my @l = <$h>); @l }
my %t = map { my ($e, $n) = split; ($n => $e) } lines("$run/phases.tsv");
my @cyc = qw(pf-slow pf-down pf-back cache-down cache-back);
defined $t{$_} or die "phases.tsv lacks $_\n" for qw(start main end), @cyc, map { "w:$_" } @cyc;
my @phases = (['warm-up', $t{start}, $t{main}], ['normal', $t{main}, $t{'pf-slow'}],
              ['pf-slow', $t{'pf-slow'}, $t{'pf-down'}], ['pf-down', $t{'pf-down'}, $t{'pf-back'}],
              ['pf-back', $t{'pf-back'}, $t{'cache-down'}], ['cache-restart', $t{'cache-down'}, $t{'cache-back'}],
              ['after', $t{'cache-back'}, $t{end} + 60]);
sub phase_of { my $s = shift; for (@phases) { return $_->[0] if $s >= $_->[1] && $s < $_->[2] } 'after' }

# Documented 503s, and when they are expected. status_unavailable: the PF is
# slow or down (docs/status.md, fail mode closed; the store of a status
# answer in a dead cache also ends UNKNOWN). cache_unavailable,
# session_unavailable: JPKICache is down (docs/errors.md).
# Windows (both cycles): [start, end] pairs.
my @pf_win    = map { [$t{"${_}pf-slow"}, $t{"${_}pf-back"} + $PF_TAIL] } 'w:', '';
my @cache_win = map { [$t{"${_}cache-down"}, $t{"${_}cache-back"} + $CACHE_TAIL] } 'w:', '';
sub in_win { my ($s, $w) = @_; grep { $s >= $_->[0] && $s <= $_->[1] } @$w }
sub documented_503 {
    my ($s, $err) = @_;
    return 1 if $err eq 'status_unavailable' && (in_win($s, \@pf_win) || in_win($s, \@cache_win));
    return 1 if $err =~ /^(cache|session)_unavailable$/ && in_win($s, \@cache_win);
    return 0;
}

# --- requests ------------------------------------------------------------------
my (%by, %flow_ok, @bad, $total, %lat, $after_logout, $after_logout_ok);
for (lines("$run/events.log")) {
    my ($s, $flow, $step, $code, $err, $ms, $why) = split;
    next unless defined $ms;
    $total++;
    my $p = phase_of($s);
    $by{"$code $err"}{$p}++;
    $by{"$code $err"}{total}++;
    $flow_ok{$flow}{$p}++ if $code == 200;
    push @{ $lat{$step} }, $ms if $code == 200;
    if ($step eq 'after-logout') { $after_logout++; $after_logout_ok++ if $code == 200 }
    push @bad, "$s $flow $step $code $err" . ($why ? " $why" : '') if $code == 0 || ($code >= 500 && !($code == 503 && documented_503($s, $err)));
}
my @cols = ((map { $_->[0] } @phases), 'total');
print "== requests by status and error code, per phase of the run\n";
printf "%-28s" . (" %13s" x @cols) . "\n", 'status error', @cols;
for my $k (sort { ($a =~ /^(\d+)/)[0] <=> ($b =~ /^(\d+)/)[0] || $a cmp $b } keys %by) {
    printf "%-28s" . (" %13s" x @cols) . "\n", $k, map { $by{$k}{$_} // 0 } @cols;
}
printf "%-28s %13s\n", 'all requests', $total // 0;
printf "phase lengths (s): %s\n", join ', ', map { sprintf '%s %.0f', $_->[0], ($_->[0] eq 'after' ? $t{end} : $_->[2]) - $_->[1] } @phases;
print "\n== successful (200) requests per flow and phase\n";
printf "%-28s" . (" %13s" x @cols) . "\n", 'flow', @cols;
for my $f (sort keys %flow_ok) {
    my $sum = 0;
    $sum += $_ for values %{ $flow_ok{$f} };
    printf "%-28s" . (" %13s" x @cols) . "\n", $f, (map { $flow_ok{$f}{$_} // 0 } @cols[0 .. $#cols - 1]), $sum;
}
print "\n== latency of 200 answers (ms): p50 / p99 / max\n";
for my $step (sort keys %lat) {
    my @v = sort { $a <=> $b } @{ $lat{$step} };
    printf "%-28s %6.0f %6.0f %6.0f  (n=%d)\n", $step, $v[int($#v * 0.5)], $v[int($#v * 0.99)], $v[-1], scalar @v;
}

# --- processes -------------------------------------------------------------------
# Descriptors: accepted client connections must be 0 once the load has
# drained; files, pipes, the listener and anything unknown must be exactly
# as after the warm-up; the pools (connections to memcached and the PF,
# libcurl's socket pairs, SQLite handles) hold as many as were busy at once
# and must stay within their bound: memcached 4 socache instances x 25
# threads, PF one idle libcurl handle per thread (25) with one connection and
# one socket pair (2 Unix sockets) each, SQLite DBDMax 4.
my %bound = (memcached => 100, pf => 25, unix => 50, sqlite => 4);
my @kinds = qw(client memcached pf unix sqlite other);
my %warm = map { my @f = split; ($f[0] => \@f) } lines("$run/snap-warm.txt");
my %endp = map { my @f = split; ($f[0] => \@f) } lines("$run/snap-end.txt");
my (@proc_fail);
print "\n== httpd processes: after warm-up -> at the end (load stopped and drained both times)\n";
printf "%-7s %-6s %15s %7s %15s %15s %9s %9s %9s %9s %9s %9s %9s\n", 'pid', 'role', 'RSS kB', 'growth',
    'anon kB', 'shmem kB', 'fds', map { $_ eq 'memcached' ? 'memcache' : $_ } @kinds;
for my $pid (sort { $a <=> $b } keys %warm) {
    my $w = $warm{$pid};
    my $e = $endp{$pid};
    if (!$e) {
        printf "%-7s %-6s %15s\n", $pid, $w->[1], "$w->[2] -> GONE";
        push @proc_fail, "process $pid ($w->[1]) present after warm-up is gone at the end (crash or recycle)";
        next;
    }
    my $g = 100 * ($e->[2] - $w->[2]) / $w->[2];
    printf "%-7s %-6s %15s %6.2f%% %15s %15s" . (" %9s" x 7) . "\n", $pid, $w->[1], "$w->[2] -> $e->[2]", $g,
        map { "$w->[$_]->$e->[$_]" } 3 .. 11;
    push @proc_fail, sprintf('process %s (%s) RSS grew %.2f%% (limit %.0f%%)', $pid, $w->[1], $g, $RSS_MAX_GROWTH)
        if $g >= $RSS_MAX_GROWTH;
    my %k;
    @k{@kinds} = (6 .. 11);
    push @proc_fail, "process $pid: $w->[$k{client}] / $e->[$k{client}] client connections left after the load drained"
        if $e->[$k{client}] || $w->[$k{client}];
    push @proc_fail, "process $pid: other descriptors $w->[$k{other}] -> $e->[$k{other}]"
        if $e->[$k{other}] != $w->[$k{other}];
    for my $kind (sort keys %bound) {
        push @proc_fail, "process $pid: $e->[$k{$kind}] $kind descriptors, above the pool bound $bound{$kind}"
            if $e->[$k{$kind}] > $bound{$kind};
    }
}
for my $pid (grep { !$warm{$_} } keys %endp) {
    push @proc_fail, "process $pid ($endp{$pid}[1]) appeared after warm-up (a child was replaced)";
}
# the course of RSS and descriptors, sampled every 5 s: the last sample of each phase
my %last;
for (grep { /^\d+ proc / } lines("$run/samples.txt")) {
    my (undef, undef, $pid, $role, $rss, $anon, undef, $fds) = split;
    my ($ts) = split;
    $last{$pid}{ phase_of($ts) } = "$rss/$anon/$fds";
}
print "\nRSS kB / anon kB / open fds, last 5-s sample of each phase (under load)\n";
printf "%-7s" . (" %16s" x (@cols - 1)) . "\n", 'pid', @cols[0 .. $#cols - 1];
for my $pid (sort { $a <=> $b } keys %last) {
    printf "%-7s" . (" %16s" x (@cols - 1)) . "\n", $pid, map { $last{$pid}{$_} // '-' } @cols[0 .. $#cols - 1];
}

# --- error log ---------------------------------------------------------------------
# Lines above warn (error, crit, alert, emerg). Expected ones, with the window
# in which they are expected (docs/status.md "Audit, metrics, logs"):
my @expected = (
    [qr/JPKI0507\b/, \@pf_win, 'circuit breaker opened (PF down)'],
    # memcached down: httpd's mod_socache_memcache (crit AH00790 "error
    # setting key", error AH00791 "'retrieve' FAIL") and mod_jpki's own lines
    # for each cache it could not use: challenge lookup/store (JPKI0301,
    # JPKI0302), session lookup/store (JPKI0401, JPKI0404), status cache
    # lookup/store (JPKI0504, JPKI0505)
    [qr/AH0079[01]\b/, \@cache_win, 'memcached down (mod_socache_memcache)'],
    [qr/JPKI030[12]\b|JPKI040[14]\b|JPKI050[45]\b/, \@cache_win, 'memcached down (mod_jpki)'],
);
my (%log, @log_bad);
for my $l (lines("$run/error_log")) {
    my ($Y, $M, $D, $h, $m, $sec) = $l =~ /^\[(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d(?:\.\d+)?)\]/ or next;
    my ($level) = $l =~ /^\[[^]]*\] \[[^:]*:(\w+)\]/ or next;
    next unless $level =~ /^(error|crit|alert|emerg)$/;
    my $s = timegm(int $sec, $m, $h, $D, $M - 1, $Y) + ($sec - int $sec);
    my ($tag) = $l =~ /\b(JPKI\d{4}|AH\d{5})\b/;
    $tag //= 'untagged';
    my ($why) = map { $_->[2] } grep { $l =~ $_->[0] && in_win($s, $_->[1]) } @expected;
    $log{"$level $tag"}{ $why ? 'expected' : 'unexpected' }++;
    push @log_bad, $l unless $why;
}
print "\n== error log lines above warn\n";
printf "%-28s %9s %11s\n", 'level tag', 'expected', 'unexpected';
printf "%-28s %9d %11d\n", $_, $log{$_}{expected} // 0, $log{$_}{unexpected} // 0 for sort keys %log;
print "(none)\n" unless %log;

# --- verdict -------------------------------------------------------------------------
my @flows = split ' ', ($ENV{SOAK_FLOWS} || 'challenge session tls register');
my @crit = (
    ['no 5xx except documented 503s in their window, no unanswered request', !@bad,
     scalar(@bad) . ' bad'],
    ['every flow succeeded in the warm-up and after both outages',
     !(grep { my $f = $_; grep { !($flow_ok{$f}{$_}) } 'warm-up', 'pf-back', 'after' } @flows),
     join(' ', map { my $f = $_; "$f:" . join('/', map { $flow_ok{$f}{$_} // 0 } 'warm-up', 'pf-back', 'after') } @flows)],
    ['logout ends the session (no 200 for the session after logout)', !$after_logout_ok && $after_logout,
     ($after_logout_ok // 0) . " x 200 of " . ($after_logout // 0)],
    ['the PF outage was seen (503 status_unavailable while down)', ($by{'503 status_unavailable'}{'pf-down'} // 0) > 0,
     ($by{'503 status_unavailable'}{'pf-down'} // 0) . ' x 503 while down'],
    ['RSS growth < 5 %, descriptors flat (pools within bounds), same children', !@proc_fail, scalar(@proc_fail) . ' problems'],
    ['no unexpected error-log line above warn', !@log_bad, scalar(@log_bad) . ' lines'],
);
print "\n== criteria\n";
my $fail = 0;
for (@crit) {
    printf "%-4s %-70s %s\n", $_->[1] ? 'PASS' : 'FAIL', $_->[0], $_->[2];
    $fail ||= !$_->[1];
}
if (@bad) { print "\nbad requests (first 20 of ", scalar @bad, "):\n"; print "  $_\n" for @bad[0 .. ($#bad < 19 ? $#bad : 19)] }
if (@proc_fail) { print "\nprocess problems:\n"; print "  $_\n" for @proc_fail }
if (@log_bad) { print "\nunexpected error-log lines (first 20 of ", scalar @log_bad, "):\n"; print "  $_\n" for @log_bad[0 .. ($#log_bad < 19 ? $#log_bad : 19)] }
print "\nsoak: ", $fail ? 'FAIL' : 'PASS', "\n";
exit($fail ? 1 : 0);
