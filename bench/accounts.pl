#!/usr/bin/perl
# Driver for bench/accounts.sh: one keep-alive TLS client presenting a
# linked user-authentication certificate without cookies, so every request
# is a full login (certificate checks, account lookup, new session).
use strict;
use warnings;
use Apache::Test ();
use Apache::TestRequest ();
use Time::HiRes qw(time);
use JPKITest;
use JPKIAccount;
use JPKIPg;

my $secs = shift || 4;
Apache::Test::config();    # the running test server's configuration

my $a1 = serial_of('auth-alice-1');
sqlite_db('sqlite');
pg_start();
for my $v (qw(jpki_acct_sqlite jpki_acct_pg)) {
    my $res = api($v, { op => 'link', account => 'bench-alice', auth_serial => $a1 });
    die "link on $v: " . $res->as_string unless $res->code == 200;
}

sub round {
    my ($vhost) = @_;
    my $ua = ua(cert => 'auth-alice-1', no_cookies => 1);
    $ua->conn_cache({ total_capacity => 1 });    # keep-alive: measure logins, not handshakes
    my $url = ssl_url('/protected/page', $vhost);
    $ua->get($url)->code == 200 or die "login on $vhost failed";
    my $mark = error_log_mark();
    my ($n, $t0) = (0, time);
    while (time - $t0 < $secs) {
        my $res = $ua->get($url);
        die "login on $vhost: " . $res->code unless $res->code == 200;
        $n++;
    }
    my $el = time - $t0;
    return ($n / $el, sql_count($mark) / $n);
}

my %r;
for my $v (qw(jpki_acct_sqlite jpki_acct_cold jpki_acct_pg jpki_acct_pg_cold)) {
    $r{$v} = [round($v)];
}
printf "%-34s %10s %16s\n", 'returning-user login', 'logins/s', 'SQL per login';
my @rows = (['SQLite, cache warm', 'jpki_acct_sqlite'], ['SQLite, cache cold (TTL 0)', 'jpki_acct_cold'],
            ['PostgreSQL, cache warm', 'jpki_acct_pg'], ['PostgreSQL, cache cold (TTL 0)', 'jpki_acct_pg_cold']);
printf "%-34s %10.0f %16.2f\n", $_->[0], @{ $r{ $_->[1] } } for @rows;
printf "warm/cold ratio: SQLite %.2fx, PostgreSQL %.2fx\n",
    $r{jpki_acct_sqlite}[0] / $r{jpki_acct_cold}[0], $r{jpki_acct_pg}[0] / $r{jpki_acct_pg_cold}[0];
