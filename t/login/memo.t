use strict;
use warnings FATAL => 'all';

# The per-process copy of the local session cache (core/jpki_memo.c,
# docs/testing.md "Session path"): each child keeps the session record and
# the account mapping it read last, and must drop them when any child
# writes. The test server has two children or more (StartServers 2); every request
# here is a new connection, and the pid log (t/conf/extra.conf.in) says
# which child answered. Both children serve the session first (so both hold
# a copy), then one child ends it: a logout, an account removal. Every later
# request, in either child, must be refused.
use Apache::Test qw(-withtestmore);
use JPKITest;
use JPKIAccount;

plan tests => 14;

like slurp_log(), qr/JPKI1107: JPKICache shmcb: each namespace in 4 shards of 16777216 bytes/,
    'the test cache is sharded (64 MB: 4 shards per namespace)';

my $log = Apache::Test::vars()->{t_logs} . '/pid_log';
my $NAME = '__Host-jpki_session';

sub cookie_of {
    my ($res) = @_;
    for ($res->header('Set-Cookie')) { return "$NAME=$1" if /^\Q$NAME\E=([^;]+)/ }
    return undef;
}
# GETs of $path on new connections, tagged, until two children (or more:
# the MPM may start a third) answered at least 3 each (at most $max): { pid => { code => n } }.
sub burst {
    my ($vhost, $path, $cookie, $tag, $max) = @_;
    my $mark = -s $log || 0;
    my %seen;
    for my $i (1 .. $max) {
        ua(no_cookies => 1)->get(ssl_url("$path?$tag=$i", $vhost), Cookie => $cookie,
                                 Accept => 'application/json');
        next if $i % 10;
        %seen = ();
        open my $fh, '<', $log or die "$log: $!";
        seek $fh, $mark, 0;
        while (<$fh>) {
            my ($pid, $code, $url) = split;
            $seen{$pid}{$code}++ if $url =~ /\Q$tag\E=/;
        }
        last if (grep { sum(values %$_) >= 3 } values %seen) >= 2;
    }
    return \%seen;
}
sub slurp_log { open my $fh, '<', JPKITest::error_log_path() or die; local $/; <$fh> }
sub sum { my $s = 0; $s += $_ for @_; $s }
sub codes { my ($seen) = @_; my %c; for my $p (values %$seen) { $c{$_} += $p->{$_} for keys %$p } join ',', map { "$_ x$c{$_}" } sort keys %c }

# --- 1: a logout in one child ends the copies of both --------------------------
my $res = login(ua(), cert => 'auth-user13');
is $res->code, 200, 'login' or diag $res->as_string;
my $cookie = cookie_of($res);
my $seen = burst(undef, '/protected/env', $cookie, 'warm1', 200);
ok keys(%$seen) >= 2, 'two children or more served the session' or diag explain $seen;
is codes($seen), '200 x' . sum(map { sum(values %$_) } values %$seen), '... every request accepted';
my $req = HTTP::Request->new(POST => ssl_url('/jpki/logout'));
$req->header(Cookie => $cookie);
is ua(no_cookies => 1)->request($req)->code, 200, 'logout (one child)';
$seen = burst(undef, '/protected/env', $cookie, 'after1', 200);
ok keys(%$seen) >= 2, 'two children or more asked after the logout' or diag explain $seen;
is codes($seen), '401 x' . sum(map { sum(values %$_) } values %$seen), '... every request refused (401)';

# --- 2: an account removal in one child ends the copies of both ------------------
my $V = 'jpki_acct_sqlite';
sqlite_db('sqlite');
is api($V, { op => 'link', account => 'acct-memo', auth_serial => serial_of('auth-user12') })->code,
    200, 'link auth-user12 to acct-memo';
$res = alogin(ua(), $V, cert => 'auth-user12');
is $res->code, 200, 'login' or diag $res->as_string;
$cookie = cookie_of($res);
$seen = burst($V, '/protected/env', $cookie, 'warm2', 200);
ok keys(%$seen) >= 2, 'two children or more served the session' or diag explain $seen;
is codes($seen), '200 x' . sum(map { sum(values %$_) } values %$seen), '... every request accepted';
is api($V, { op => 'remove', account => 'acct-memo' })->code, 200, 'remove the account (one child)';
$seen = burst($V, '/protected/env', $cookie, 'after2', 200);
ok keys(%$seen) >= 2, 'two children or more asked after the removal' or diag explain $seen;
is codes($seen), '403 x' . sum(map { sum(values %$_) } values %$seen), '... every request refused (403 account_removed)';
