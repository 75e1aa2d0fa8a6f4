package Cluster;
# The cluster harness (issue 13, docs/cluster.md): N httpd nodes loading
# this build's mod_jpki.so, one configuration each generated from
# tests/cluster/node.conf.in, sharing Redis (or memcached) as JPKICache and
# one PostgreSQL cluster as the account store, the platform simulator as
# status provider, and an httpd balancer (mod_proxy_balancer, round-robin,
# no stickiness) in front. Loopback only, random free ports; everything is
# stopped at exit, also when the test dies or is interrupted.
#
# Reuses the Apache::Test suite's helpers without Apache::Test running:
# t/lib/JPKIPg.pm (PostgreSQL), t/lib/JPKIStatus.pm (the simulator) and
# t/lib/JPKITest.pm (the card-like signer, the test PKI).
use strict;
use warnings;

use Cwd ();
use Exporter 'import';
use File::Path ();
use File::Temp ();
use HTTP::Request ();
use IO::Socket::INET ();
use JSON::PP ();
use LWP::UserAgent ();
use POSIX ();
use Time::HiRes ();

our $TOP;
BEGIN {
    require File::Basename;
    $TOP = Cwd::abs_path(File::Basename::dirname(Cwd::abs_path(__FILE__)) . '/../..');
    $ENV{JPKI_TOP_DIR} = $TOP;
    $ENV{JPKI_PKI_DIR} ||= "$TOP/t/pki/out";
}
use lib "$TOP/t/lib";
use JPKITest qw(pki pki_der card_sign b64 b64url client_data json_of manifest);
use JPKIStatus qw(sim_start sim_stop sim_state sim_calls sim_reset serial_hex);
use JPKIPg qw(pg_start pg_stop pg_sql);

our @EXPORT = qw(cluster_start cluster_stop node_url bal_url node_names
                 node_get node_login node_challenge node_logout site_origin
                 bal_ua bal_login redis_cli cache_dump cache_kind cache_stop cache_start
                 node_kill node_start node_graceful node_pids node_log
                 serial_of api_call link_card
                 sim_state sim_calls sim_reset serial_hex pg_sql pg_start pg_stop pki pki_der
                 free_port);

my $HTTPD = -x '/usr/sbin/apache2' ? '/usr/sbin/apache2' : 'httpd';
my $MODDIR = `apxs -q LIBEXECDIR 2>/dev/null` || '/usr/lib/apache2/modules';
chomp $MODDIR;

our %C;    # the running cluster: ports, names, run dir, cache kind
our $BALPORT;    # the balancer's port (default: a free one)
my @started;    # what to stop, in reverse order

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1,
                                  ReuseAddr => 1) or die "free port: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

sub wait_port {
    my ($port, $secs) = @_;
    my $end = Time::HiRes::time() + ($secs // 20);
    while (Time::HiRes::time() < $end) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 1);
        if ($s) { close $s; return 1 }
        Time::HiRes::sleep(0.1);
    }
    return 0;
}

sub fill {
    my ($in, $out, %v) = @_;
    open my $fh, '<', $in or die "$in: $!";
    my $t = do { local $/; <$fh> };
    close $fh;
    $t =~ s/\@([A-Z]+)\@/exists $v{$1} ? $v{$1} : die "no value for \@$1\@ in $in"/ge;
    open $fh, '>', $out or die "$out: $!";
    print $fh $t;
    close $fh;
}

# --- the shared cache: redis-server or memcached -----------------------------------
sub cache_kind { $C{cache} }

sub cache_start {
    my (%o) = @_;
    return 0 if $C{cache} eq 'shmcb';    # bench/cluster.sh: one node, no cache server
    my $dir = "$C{run}/$C{cache}";
    File::Path::make_path($dir);
    my $bin = $C{cache} eq 'redis' ? 'redis-server' : 'memcached';
    system("command -v $bin >/dev/null 2>&1") == 0
        or die "$bin is not installed: scripts/deps.sh test\n";
    my @cmd = $C{cache} eq 'redis'
        ? ('redis-server', '--port', $C{cache_port}, '--bind', '127.0.0.1', '--dir', $dir,
           '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', '--logfile',
           "$dir/redis.log", '--daemonize', 'no')
        : ('memcached', '-l', '127.0.0.1', '-p', $C{cache_port}, '-U', '0', '-m', '64',
           '-u', 'nobody');
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        POSIX::setsid();
        open STDOUT, '>>', "$dir/stdout.log";
        open STDERR, '>&', \*STDOUT;
        exec @cmd or POSIX::_exit(127);
    }
    $C{cache_pid} = $pid;
    wait_port($C{cache_port}) or die "$C{cache} did not start";
    return $pid;
}

# how: 'save' (Redis writes its snapshot first, as SHUTDOWN SAVE), else SIGTERM
# without a snapshot (--save ''), i.e. the cache comes back empty.
sub cache_stop {
    my (%o) = @_;
    my $pid = delete $C{cache_pid} or return;
    if ($o{save} && $C{cache} eq 'redis') {
        redis_cli('SHUTDOWN', 'SAVE');
    } else {
        unlink "$C{run}/redis/dump.rdb" if $C{cache} eq 'redis';
        kill TERM => $pid;
    }
    waitpid $pid, 0;
}

sub redis_cli {
    my @args = @_;
    open my $p, '-|', 'redis-cli', '-h', '127.0.0.1', '-p', $C{cache_port}, '--no-raw', @args
        or die "redis-cli: $!";
    my @out = <$p>;
    close $p;
    chomp @out;
    return @out;
}

# Every live entry of the shared cache: [key, value, ttl in s (-1 none), bytes the
# server accounts for it]. Redis: SCAN + GET/TTL/MEMORY USAGE; memcached:
# lru_crawler metadump (keys, expiry, item size) + get.
sub cache_dump {
    return redis_dump() if $C{cache} eq 'redis';
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $C{cache_port}, Timeout => 10)
        or die "memcached: $!";
    my $now = time;
    print $s "lru_crawler metadump all\r\n";
    my @meta;
    while (my $l = <$s>) {
        $l =~ s/\r?\n$//;
        last if $l eq 'END' || $l =~ /^(?:ERROR|CLIENT_ERROR|BUSY)/;
        my %f = map { split /=/, $_, 2 } split / /, $l;
        push @meta, \%f if defined $f{key};
    }
    my @out;
    for my $m (@meta) {
        (my $k = $m->{key}) =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
        print $s "get $k\r\n";
        my $h = <$s> // last;
        next unless $h =~ /^VALUE \S+ \d+ (\d+)/;
        read $s, my $v, $1 + 2;
        <$s>;    # END
        push @out, [$k, substr($v, 0, $1), $m->{exp} == -1 ? -1 : $m->{exp} - $now, $m->{size}];
    }
    return @out;
}

sub redis_dump {
    my @out;
    for my $k (grep { length } map { s/^"|"$//gr } redis_cli('--scan')) {
        my @lines = redis_cli('--raw', 'GET', $k);
        next unless @lines;
        my ($ttl) = map { /(-?\d+)/ } redis_cli('TTL', $k);
        my ($b) = map { /(\d+)/ } redis_cli('MEMORY', 'USAGE', $k);
        push @out, [$k, join("\n", @lines), $ttl // -1, $b // 0];
    }
    return @out;
}

# --- nodes ------------------------------------------------------------------------
sub node_names { @{ $C{names} } }

sub node_conf { "$C{run}/$_[0]/httpd.conf" }

sub node_start {
    my ($n) = @_;
    system($HTTPD, '-f', node_conf($n), '-k', 'start') == 0 or die "httpd $n did not start";
    wait_port($C{port}{$n}) or die "node $n does not listen: " . node_log($n);
}

sub node_pids {
    my ($n) = @_;
    open my $fh, '<', "$C{run}/$n/httpd.pid" or return;
    my $pid = <$fh>;
    chomp $pid;
    return $pid;
}

# SIGKILL to the node's whole process group (httpd's parent is a session
# leader; its children are in its group): the node is gone at once.
sub node_kill {
    my ($n) = @_;
    my $pid = node_pids($n) or return;
    kill KILL => -$pid;
    unlink "$C{run}/$n/httpd.pid";
    Time::HiRes::sleep(0.3);
}

sub node_graceful {
    my ($n) = @_;
    system($HTTPD, '-f', node_conf($n), '-k', 'graceful') == 0 or die "graceful $n failed";
}

sub node_log {
    my ($n) = @_;
    open my $fh, '<', "$C{run}/$n/error_log" or return '';
    local $/;
    return scalar <$fh>;
}

sub node_stop {
    my ($n) = @_;
    my $pid = node_pids($n) or return;
    system($HTTPD, '-f', node_conf($n), '-k', 'stop');
    for (1 .. 50) { last unless kill 0, $pid; Time::HiRes::sleep(0.1) }
    kill KILL => -$pid if kill 0, $pid;
}

# --- start / stop everything ---------------------------------------------------
# %o: nodes => 2|3, cache => 'redis'|'memcache', bal_nodes => [names] (default all)
sub cluster_start {
    my (%o) = @_;
    -f "$TOP/mod_jpki.so" or die "build first (make): no $TOP/mod_jpki.so";
    system('bash', "$TOP/t/pki/mkpki.sh", $ENV{JPKI_PKI_DIR}) == 0 or die "mkpki failed";
    %C = (cache => $o{cache} || 'redis', names => [ ('a' .. 'z')[0 .. ($o{nodes} || 3) - 1] ]);
    $C{run} = File::Temp::tempdir('jpki-cluster-XXXXXX', TMPDIR => 1, CLEANUP => 0);
    chmod 0755, $C{run};
    $C{$_} = free_port() for qw(balport shortname cache_port);
    $C{balport} = $BALPORT if $BALPORT;
    $ENV{JPKI_PF_PORT} = free_port();
    $ENV{JPKI_PG_PORT} = free_port();
    $SIG{INT} = $SIG{TERM} = sub { cluster_stop(); POSIX::_exit(130) };

    # PostgreSQL with the shipped schema and the jpki_web role (t/lib/JPKIPg.pm)
    {   # initdb and pg_ctl talk on stdout: keep the TAP stream clean
        open my $save, '>&', \*STDOUT or die;
        open STDOUT, '>>', "$C{run}/pg-setup.log" or die;
        my $ok = eval { pg_start(); 1 };
        open STDOUT, '>&', $save or die;
        die $@ unless $ok;
    }
    push @started, 'pg';
    # the simulator (t/lib/JPKIStatus.pm): mutual TLS, t/data/pf-token
    sim_start(state => $o{sim_state} || {}, max_seconds => 900);
    push @started, 'sim';
    cache_start();
    push @started, 'cache';

    File::Path::make_path("$C{run}/www/protected");
    for my $f ('page.html', 'protected/page.html') {
        open my $fh, '>', "$C{run}/www/$f" or die $!;
        print $fh "<p>cluster test page</p>\n";
        close $fh;
    }
    my $cache = $C{cache} eq 'redis' ? "redis:127.0.0.1:$C{cache_port}"
              : $C{cache} eq 'shmcb' ? "shmcb:$C{run}/jpki-cache(4194304)"
              : "memcache:127.0.0.1:$C{cache_port}";
    for my $n (node_names()) {
        $C{port}{$n} = free_port();
        $C{sport}{$n} = free_port();
        File::Path::make_path("$C{run}/$n");
        fill("$TOP/tests/cluster/node.conf.in", node_conf($n),
             RUN => $C{run}, NODE => $n, PORT => $C{port}{$n}, SPORT => $C{sport}{$n},
             BALPORT => $C{balport}, SHORTNAME => $C{shortname}, MODDIR => $MODDIR, SRC => $TOP,
             PKI => $ENV{JPKI_PKI_DIR}, CACHE => $cache, PFPORT => $ENV{JPKI_PF_PORT},
             PGPORT => $ENV{JPKI_PG_PORT});
    }
    system('chown', '-R', 'nobody:nogroup', $C{run});
    for my $n (node_names()) {
        node_start($n);
        push @started, "node:$n";
    }
    File::Path::make_path("$C{run}/balancer");
    balancer_conf(@{ $o{bal_nodes} || $C{names} });
    system($HTTPD, '-f', "$C{run}/balancer/httpd.conf", '-k', 'start') == 0
        or die 'balancer did not start';
    push @started, 'balancer';
    wait_port($C{balport}) or die 'balancer does not listen';
    return \%C;
}

sub balancer_conf {
    my (@names) = @_;
    my @members = map { "    BalancerMember \"http://127.0.0.1:$C{port}{$_}\" route=$_ retry=2 "
                        . "connectiontimeout=1 timeout=30" } @names;
    fill("$TOP/tests/cluster/balancer.conf.in", "$C{run}/balancer/httpd.conf",
         RUN => $C{run}, BALPORT => $C{balport}, MODDIR => $MODDIR, PKI => $ENV{JPKI_PKI_DIR},
         MEMBERS => join("\n", @members), MAXATTEMPTS => scalar(@members));
    system('chown', '-R', 'nobody:nogroup', "$C{run}/balancer");
}

# Point the running balancer at these nodes only (graceful restart of the balancer).
sub balancer_members {
    my (@names) = @_;
    balancer_conf(@names);
    system($HTTPD, '-f', "$C{run}/balancer/httpd.conf", '-k', 'graceful') == 0 or die 'balancer graceful';
    Time::HiRes::sleep(1);
}
push @EXPORT, 'balancer_members';

# CPU seconds (utime + stime) used so far by node $n's processes (its process
# group; children that exited are counted in the parent's cutime/cstime).
sub node_cpu {
    my ($n) = @_;
    my $pgid = node_pids($n) or return 0;
    my $tck = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;
    my $t = 0;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $l = <$fh> // next;
        $l =~ s/^.*\) //;    # after "pid (comm) "
        my @f = split ' ', $l;    # f[0] = state, f[2] = pgrp, f[11..14] = utime stime cutime cstime
        next unless $f[2] == $pgid;
        $t += $f[11] + $f[12] + $f[13] + $f[14];
    }
    return $t / $tck;
}
push @EXPORT, 'node_cpu';

sub cluster_stop {
    while (my $what = pop @started) {
        eval {
            if ($what eq 'balancer') {
                system($HTTPD, '-f', "$C{run}/balancer/httpd.conf", '-k', 'stop');
            } elsif ($what =~ /^node:(.+)/) {
                node_stop($1);
            } elsif ($what eq 'cache') {
                cache_stop();
            } elsif ($what eq 'sim') {
                sim_stop();
            } elsif ($what eq 'pg') {
                open my $save, '>&', \*STDOUT or die;
                open STDOUT, '>', '/dev/null' or die;    # pg_ctl's chatter
                pg_stop();
                open STDOUT, '>&', $save or die;
            }
            1;
        } or warn "stopping $what: $@";
    }
    if ($C{run} && -d $C{run}) {
        if ($ENV{JPKI_CLUSTER_KEEP}) {
            warn "cluster files kept in $C{run}\n";
        } else {
            File::Path::rmtree($C{run});
        }
    }
}

END {
    my $rc = $?;
    cluster_stop() if @started;
    $? = $rc;
}

# --- clients ----------------------------------------------------------------------
# Nodes speak plain HTTP on loopback (the balancer terminates TLS); a test
# talking to one node directly carries its cookies itself (they are Secure,
# so a cookie jar would not send them over http).
sub node_url {
    my ($n, $path, $site) = @_;
    my $port = ($site // '') eq 'short' ? $C{sport}{$n} : $C{port}{$n};
    return "http://127.0.0.1:$port$path";
}
sub bal_url { "https://localhost:$C{balport}$_[0]" }

sub site_origin {
    my ($site) = @_;
    return 'https://localhost:' . (($site // '') eq 'short' ? $C{shortname} : $C{balport});
}

my $plain_ua;
sub plain_ua {
    $plain_ua ||= LWP::UserAgent->new(keep_alive => 0, max_redirect => 0, timeout => 30);
    return $plain_ua;
}

sub cookie_header {
    my ($jar) = @_;
    return join '; ', map { "$_=$jar->{$_}" } sort keys %$jar;
}

our (%SEEN_CHALLENGE, %SEEN_COOKIE);    # for the cache dump check (item 4)

sub take_cookies {
    my ($jar, $res) = @_;
    for my $h ($res->header('Set-Cookie')) {
        next unless defined $h && $h =~ /^([^=;\s]+)=([^;]*)/;
        my ($k, $v) = ($1, $2);
        $SEEN_COOKIE{$v} = 1 if length $v >= 16;
        if ($h =~ /Max-Age=0\b|Expires=Thu, 01 Jan 1970/i || $v eq '') { delete $jar->{$k} }
        else { $jar->{$k} = $v }
    }
}

# GET on a node; $jar (hash) gives and takes the cookies.
sub node_get {
    my ($n, $path, $jar, %o) = @_;
    my $res = plain_ua()->get(node_url($n, $path, $o{site}),
                              ($jar && %$jar ? (Cookie => cookie_header($jar)) : ()),
                              Accept => 'application/json');
    take_cookies($jar, $res) if $jar;
    return $res;
}

sub node_challenge {
    my ($n, $jar, %o) = @_;
    my $res = node_get($n, '/jpki/challenge', $jar, %o);
    my $ch = json_of($res)->{challenge};
    $SEEN_CHALLENGE{$ch} = 1 if $ch;
    return ($ch, $res);
}

# The login POST for challenge $ch, signed by $cert over this site's origin.
sub node_post_login {
    my ($n, $jar, $cert, $ch, %o) = @_;
    my $cd = client_data($ch, site_origin($o{site}));
    my $req = HTTP::Request->new(POST => node_url($n, '/jpki/login', $o{site}));
    $req->header('Content-Type' => 'application/json');
    $req->header(Cookie => cookie_header($jar)) if %$jar;
    $req->content(JSON::PP::encode_json({ challenge => $ch, certificate => b64(pki_der($cert)),
                                          client_data => b64url($cd),
                                          signature => b64(card_sign($cert, $cd)) }));
    my $res = plain_ua()->request($req);
    take_cookies($jar, $res);
    return $res;
}

# Challenge from node $cn, login at node $ln (default the same): the response.
sub node_login {
    my ($cn, $ln, $cert, $jar, %o) = @_;
    $jar //= {};
    my ($ch, $r) = node_challenge($cn, $jar, %o);
    die "no challenge from $cn: " . $r->status_line unless $ch;
    return node_post_login($ln // $cn, $jar, $cert, $ch, %o);
}
push @EXPORT, 'node_post_login';

# Logins started together: @specs = ([cert, challenge node, login node, site]).
# Challenges are fetched and signed first; every POST is sent at the same
# instant. Returns ([code, error, session cookie value], ...) in order.
sub concurrent_logins {
    my (@specs) = @_;
    my $dir = File::Temp->newdir;
    my $go = Time::HiRes::time() + 1.5 + 0.05 * @specs;
    my @pids;
    for my $i (0 .. $#specs) {
        my ($cert, $cn, $ln, $site) = @{ $specs[$i] };
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $jar = {};
            my ($ch) = node_challenge($cn, $jar, site => $site);
            my $cd = client_data($ch, site_origin($site));
            my $req = HTTP::Request->new(POST => node_url($ln, '/jpki/login', $site));
            $req->header('Content-Type' => 'application/json');
            $req->header(Cookie => cookie_header($jar));
            $req->content(JSON::PP::encode_json({ challenge => $ch, certificate => b64(pki_der($cert)),
                                                  client_data => b64url($cd),
                                                  signature => b64(card_sign($cert, $cd)) }));
            my $ua = LWP::UserAgent->new(keep_alive => 0, timeout => 60);
            my $left = $go - Time::HiRes::time();
            Time::HiRes::sleep($left) if $left > 0;
            my $res = $ua->request($req);
            take_cookies($jar, $res);
            my $err = eval { json_of($res)->{error} } // '-';
            open my $fh, '>', "$dir/$i" or POSIX::_exit(1);
            print $fh join(' ', $res->code, $err || '-', $jar->{'__Host-jpki_session'} // '-', $ch), "\n";
            close $fh;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    waitpid $_, 0 for @pids;
    my @out;
    for my $i (0 .. $#specs) {
        open my $fh, '<', "$dir/$i" or die "login $i wrote nothing";
        my @f = split ' ', scalar <$fh>;
        $SEEN_CHALLENGE{ $f[3] } = 1;
        $SEEN_COOKIE{ $f[2] } = 1 if $f[2] ne '-';
        push @out, [ @f[0 .. 2] ];
    }
    return @out;
}
push @EXPORT, 'concurrent_logins';

# Load through the balancer: $clients processes, each logged in with its own
# card, GET /protected/page.html in a loop on keep-alive TLS for $secs; with
# logins => 1 one more process does full logins in a loop. Returns a handle
# for load_wait: lines "time code node kind".
# A GET as a browser makes it: when a reused keep-alive connection is closed
# without any answer, an idempotent request is sent once more on a new
# connection (RFC 9112 section 9.3.1). mod_proxy relies on it: when a node
# closes a pooled connection under it (a graceful restart ends the old
# children's keep-alive connections), mod_proxy_http closes the client's
# connection without a response "to trigger a retry by the client". LWP
# reports that as its own 500 (Client-Warning: Internal response). Any
# other answer, a 500 from the balancer or a node included, is returned as
# it is. Returns (response, 'get' or 'get-retried').
sub browser_get {
    my ($ua, $url) = @_;
    my $res = $ua->get($url);
    return ($res, 'get')
        unless $res->code == 500 && ($res->header('Client-Warning') // '') eq 'Internal response'
        && $res->decoded_content =~ /closed connection without sending any data back/i;
    return ($ua->get($url), 'get-retried');
}

sub load_start {
    my (%o) = @_;
    my $file = "$C{run}/load-" . ++$C{loads} . '.log';
    my $start = Time::HiRes::time() + 0.5;
    my @pids;
    my @cards = @{ $o{cards} };
    for my $k (0 .. $o{clients} + ($o{logins} ? 1 : 0) - 1) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $ua = bal_ua(keep_alive => 1);
            my $is_login = $k >= $o{clients};
            my $cert = $cards[$k % @cards];
            open my $fh, '>>', $file or POSIX::_exit(1);
            $fh->autoflush(1);
            my $r;
            for (1 .. 5) {
                $r = bal_login($ua, $cert);
                last if $r->code == 200;
                Time::HiRes::sleep(0.3);
            }
            printf $fh "%.3f %d - setup\n", Time::HiRes::time(), $r->code if $r->code != 200;
            my $left = $start - Time::HiRes::time();
            Time::HiRes::sleep($left) if $left > 0;
            my $end = $start + $o{secs};
            while (Time::HiRes::time() < $end) {
                my $t = Time::HiRes::time();
                my ($res, $kind) = $is_login ? (bal_login(bal_ua(), $cert), 'login')
                                             : browser_get($ua, bal_url('/protected/page.html'));
                printf $fh "%.3f %d %s %s\n", $t, $res->code, $res->header('X-Cluster-Node') // '-', $kind;
            }
            close $fh;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    return { pids => \@pids, file => $file, start => $start };
}

sub load_wait {
    my ($h) = @_;
    waitpid $_, 0 for @{ $h->{pids} };
    open my $fh, '<', $h->{file} or return ();
    my @rows = map { [split] } <$fh>;
    return @rows;
}
push @EXPORT, qw(load_start load_wait);

sub node_logout {
    my ($n, $jar, %o) = @_;
    my $req = HTTP::Request->new(POST => node_url($n, '/jpki/logout', $o{site}));
    $req->header(Cookie => cookie_header($jar)) if %$jar;
    my $res = plain_ua()->request($req);
    take_cookies($jar, $res);
    return $res;
}

# Through the balancer: an HTTPS client with a cookie jar.
sub bal_ua {
    my (%o) = @_;
    my $ua = LWP::UserAgent->new(keep_alive => $o{keep_alive} // 0, max_redirect => 0,
                                 timeout => 30,
                                 ssl_opts => { SSL_ca_file => pki('server-ca.crt'),
                                               verify_hostname => 1 });
    $ua->cookie_jar({});
    return $ua;
}

sub bal_login {
    my ($ua, $cert) = @_;
    my $res = $ua->get(bal_url('/jpki/challenge'));
    my $ch = json_of($res)->{challenge} or return $res;
    $SEEN_CHALLENGE{$ch} = 1;
    my $cd = client_data($ch, site_origin());
    my $req = HTTP::Request->new(POST => bal_url('/jpki/login'));
    $req->header('Content-Type' => 'application/json');
    $req->content(JSON::PP::encode_json({ challenge => $ch, certificate => b64(pki_der($cert)),
                                          client_data => b64url($cd),
                                          signature => b64(card_sign($cert, $cd)) }));
    return $ua->request($req);
}

# --- accounts ---------------------------------------------------------------------
sub serial_of {
    my ($name) = @_;
    my $m = manifest()->{$name} or die "no $name in the manifest";
    return "$m->{issuer_key_id}:$m->{serial}";
}

sub api_token {
    open my $fh, '<', "$TOP/t/data/api-token" or die "api-token: $!";
    my $t = <$fh>;
    $t =~ s/\s+\z//;
    return $t;
}

# POST the jpki-account endpoint of node $n.
sub api_call {
    my ($n, $body) = @_;
    my $req = HTTP::Request->new(POST => node_url($n, '/internal/account'));
    $req->header('Content-Type' => 'application/json');
    $req->header(Authorization => 'Bearer ' . api_token());
    $req->content(JSON::PP::encode_json($body));
    return plain_ua()->request($req);
}

# Link a card to an account directly in SQL (setup; the endpoint is tested itself).
sub link_card {
    my ($cert, $account) = @_;
    my $s = serial_of($cert);
    pg_sql("INSERT INTO jpki_account (account, created_at) VALUES ('$account', '2026-01-01T00:00:00Z') "
         . "ON CONFLICT DO NOTHING; INSERT INTO jpki_serial (serial, account, cert_type, first_seen, last_seen) "
         . "VALUES ('$s', '$account', 'auth', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z') ON CONFLICT DO NOTHING");
}

1;
