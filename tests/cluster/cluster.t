use strict;
use warnings;

# Several servers (issue 13, docs/cluster.md): three httpd nodes with this
# build's mod_jpki sharing Redis (JPKI_CLUSTER_CACHE=memcache: memcached) and
# one PostgreSQL, the platform simulator as status provider, an httpd
# balancer in front (round-robin, no stickiness). Run: make cluster-check,
# or prove tests/cluster/cluster.t after make.
use FindBin ();
use lib $FindBin::Bin;
use Test::More;
use Time::HiRes qw(sleep time);
use Cluster;

my $CACHE = $ENV{JPKI_CLUSTER_CACHE} || 'redis';
my $T0 = time;
my %USERS = map { serial_hex($_) => 'usr_alice' } qw(auth-alice-1 auth-alice-2 auth-alice-3);
my %BASE = (users => \%USERS,
            predecessors => { serial_hex('auth-alice-2') => serial_hex('auth-alice-1'),
                              serial_hex('auth-alice-3') => serial_hex('auth-alice-2') },
            birth_dates => { usr_alice => '1980-02-17' });
my @CARDS = map { sprintf 'auth-user%02d', $_ } 1 .. 16;

cluster_start(nodes => 3, cache => $CACHE, sim_state => \%BASE);
diag sprintf 'cluster (%s) up in %.1f s', $CACHE, time - $T0;
link_card($_, 'acct-' . ($_ =~ s/^auth-//r)) for @CARDS, qw(auth-alice-1 auth-bob auth-carol
                                                          auth-rev-cessation auth-rev-hold);
# the PF's user id of alice's card, as a registration stores it (docs/accounts.md)
pg_sql("UPDATE jpki_account SET platform_user_id = 'usr_alice' WHERE account = 'acct-alice-1'");

sub code_err {
    my ($res) = @_;
    my $e = eval { JSON::PP::decode_json($res->decoded_content)->{error} } // '';
    return $res->code . ($e ? " $e" : '');
}
sub who { $_[0]->code . ' ' . ($_[0]->header('X-Cluster-User') // '-') }
sub calls { sim_calls()->{total} }

# --- PF calls: 64 concurrent logins of 16 cards over 2 nodes, cold cache --------
{
    sim_reset();
    my @specs = map { [ $CARDS[$_ % 16], (qw(a b))[$_ % 2], (qw(a b))[($_ >> 1) % 2] ] } 0 .. 63;
    my $t = time;
    my @r = concurrent_logins(@specs);
    my $cold = calls();
    is scalar(grep { $_->[0] == 200 } @r), 64, '64 concurrent logins of 16 cards over nodes a and b, cold cache: all 200'
        or diag join ' ', map { "$_->[0]/$_->[1]" } @r;
    is $cold, 16, 'exactly one PF call per card across both nodes (the claim: docs/cluster.md)';
    my $by = sim_calls()->{by_serial};
    my @per_card = map { $by->{ serial_hex($_) } // 0 } @CARDS;
    diag sprintf "cold burst: %d PF calls for 64 logins of 16 cards on 2 nodes (per card: %s), %.1f s",
        $cold, join(',', @per_card), time - $t;
    @r = concurrent_logins(@specs);
    is scalar(grep { $_->[0] == 200 } @r), 64, 'the same 64 logins again, warm cache: all 200';
    is calls() - $cold, 0, '... and no PF call at all (every node reads the shared status cache)';
}

# --- one login, several nodes ----------------------------------------------------
{
    my $jar = {};
    my $res = node_login('a', 'b', 'auth-alice-1', $jar);
    is $res->code, 200, 'challenge fetched through node a, redeemed at node b' or diag $res->content;
    my %env = map { $_ => who(node_get($_, '/protected/page.html', $jar)) } qw(a b c);
    is_deeply \%env, { a => '200 acct-alice-1', b => '200 acct-alice-1', c => '200 acct-alice-1' },
        'the session opened at b is valid on a, b and c';

    # a used challenge is spent for every node: the same signed login replayed at c
    my $j2 = {};
    my ($ch) = node_challenge('a', $j2);
    my $ok = node_post_login('b', {%$j2}, 'auth-bob', $ch);
    is $ok->code, 200, 'a login (bob) with a challenge of node a at node b';
    is code_err(node_post_login('c', {%$j2}, 'auth-bob', $ch)), '401 challenge_replayed',
        'the same challenge replayed at node c: challenge_replayed';

    is node_logout('b', {%$jar})->code, 200, 'logout at node b';
    %env = map { $_ => node_get($_, '/protected/page.html', {%$jar})->code } qw(a b c);
    is_deeply \%env, { a => 401, b => 401, c => 401 }, '... ends the session on a and c too';
}

# --- a card checked by one node is not charged again by another -------------------
{
    sim_reset();
    my $r = node_login('a', 'a', 'auth-carol', {});
    is $r->code, 200, 'carol logs in at node a';
    is calls(), 1, '... one PF call';
    is node_login('b', 'b', 'auth-carol', {})->code, 200, 'carol at node b';
    is node_login('c', 'c', 'auth-carol', {})->code, 200, 'carol at node c';
    is calls(), 1, 'still one PF call: b and c used the status a cached (within the TTL)';
}

# --- idle and absolute timeouts are the same on every node (short site: idle 6 s,
# max age 14 s) -----------------------------------------------------------------------
{
    my (%abs, %idle);
    my $t0 = time;
    is node_login('a', 'a', 'auth-user01', \%abs, site => 'short')->code, 200, 'short site: login at a (absolute)';
    is node_login('b', 'b', 'auth-user02', \%idle, site => 'short')->code, 200, 'short site: login at b (idle)';
    my (@abs_codes, @idle_codes);
    my @nodes = qw(a b c);
    for my $i (1 .. 8) {
        sleep(($t0 + 2 * $i) - time) if $t0 + 2 * $i > time;
        my $n = $nodes[$i % 3];
        my $age = time - $t0;
        push @abs_codes, [ $age, $n, node_get($n, '/protected/page.html', {%abs}, site => 'short')->code ];
        # the idle session is used at 2 and 4 s only, then left alone
        push @idle_codes, [ $age, $n, node_get($n, '/protected/page.html', {%idle}, site => 'short')->code ]
            if $i <= 2 || $i >= 6;
    }
    my @live = grep { $_->[0] < 12.5 } @abs_codes;
    my @dead = grep { $_->[0] > 15 } @abs_codes;
    ok !grep({ $_->[2] != 200 } @live), 'in constant use on a, b, c in turn, the session lives until its max age'
        or diag join ' ', map { sprintf '%.1fs:%s:%d', @$_ } @abs_codes;
    # 16 s after the login: past the 14 s absolute lifetime on every node
    my %after = map { $_ => node_get($_, '/protected/page.html', {%abs}, site => 'short')->code } qw(a b c);
    is_deeply \%after, { a => 401, b => 401, c => 401 }, '... and is ended on every node past it (14 s)'
        or diag join ' ', map { sprintf '%.1fs:%s:%d', @$_ } @abs_codes;
    my @early = grep { $_->[0] < 5 } @idle_codes;
    my @late = grep { $_->[0] > 11 } @idle_codes;
    ok @early == 2 && !grep({ $_->[2] != 200 } @early), 'idle session: used at 2 s and 4 s on two nodes';
    ok @late >= 2 && !grep({ $_->[2] != 401 } @late), '... unused for more than 6 s: ended on every node'
        or diag join ' ', map { sprintf '%.1fs:%s:%d', @$_ } @idle_codes;
}

# --- a revoked card seen by a ends its sessions on b at b's next re-check ------------
{
    my (%sa, %sb);
    is node_login('a', 'a', 'auth-rev-hold', \%sa, site => 'short')->code, 200, 'short site: card X at a';
    is node_login('b', 'b', 'auth-rev-hold', \%sb, site => 'short')->code, 200, 'card X again at b (second session)';
    sim_state({ %BASE, revoked => { serial_hex('auth-rev-hold') => 'keyCompromise' } });
    sleep 2.3;    # both sessions are due their re-check (status TTL 2 s)
    sim_reset();
    is code_err(node_get('a', '/protected/page.html', \%sa, site => 'short')),
        '403 cert_revoked_key_compromise', 'the PF revokes X; a re-checks: session ended';
    is code_err(node_get('b', '/protected/page.html', \%sb, site => 'short')),
        '403 cert_revoked_key_compromise', "b's next re-check ends the other session";
    is calls(), 1, '... with the REVOKED answer node a cached (one PF call in all)';
    is node_get('c', '/protected/page.html', \%sb, site => 'short')->code, 401, 'and that session is gone on c';
    sim_state(\%BASE);
}

# --- accounts: link and removal on a seen by b at once; renewals across nodes ---------
{
    my $x = 'auth-rev-superseded';    # linked by no one yet
    is code_err(node_login('b', 'b', $x, {})), '403 no_account', 'an unlinked card at b: no_account';
    my $r = api_call('a', { op => 'link', account => 'acct-new', auth_serial => serial_of($x) });
    is $r->code, 200, 'linked through node a\'s jpki-account endpoint' or diag $r->content;
    my (%jb, %jc);
    is who(do { node_login('b', 'b', $x, \%jb); node_get('b', '/protected/page.html', \%jb) }),
        '200 acct-new', '... node b logs it in as acct-new at once';
    is node_login('c', 'c', $x, \%jc)->code, 200, 'a second session at c';
    is api_call('a', { op => 'remove', account => 'acct-new' })->code, 200, 'node a removes acct-new';
    is code_err(node_get('b', '/protected/page.html', \%jb)), '403 account_removed',
        '... b refuses its session at the next request (shared account cache dropped)';
    is code_err(node_get('c', '/protected/page.html', \%jc)), '403 account_removed', '... and so does c';

    # relink on a: the session of the moved card on b ends, a new login at c gets the new account
    my $y = 'auth-rev-affiliation';
    link_card($y, 'acct-r1');
    my %jy;
    is who(do { node_login('b', 'b', $y, \%jy); node_get('b', '/protected/page.html', \%jy) }), '200 acct-r1',
        'another card logged in at b as acct-r1';
    $r = api_call('a', { op => 'relink', account => 'acct-r2', from_account => 'acct-r1', auth_serial => serial_of($y) });
    is $r->code, 200, 'node a relinks it to acct-r2' or diag $r->content;
    is code_err(node_get('b', '/protected/page.html', \%jy)), '403 account_removed', '... its session at b ends';
    my %jy2;
    is who(do { node_login('c', 'c', $y, \%jy2); node_get('c', '/protected/page.html', \%jy2) }), '200 acct-r2',
        '... a new login at c is acct-r2';

    # renewal alice-1 (linked) -> alice-2 -> alice-3; alice-2's first logins race on a and b
    my @r = concurrent_logins([ 'auth-alice-2', 'a', 'a' ], [ 'auth-alice-2', 'b', 'b' ],
                              [ 'auth-alice-2', 'a', 'a' ], [ 'auth-alice-2', 'b', 'b' ]);
    is_deeply [ map { $_->[0] } @r ], [ 200, 200, 200, 200 ],
        'renewed card: 4 racing first logins on a and b all succeed'
        or diag join ' ', map { "$_->[0]/$_->[1]" } @r;
    my $s2 = serial_of('auth-alice-2');
    is_deeply [ pg_sql("SELECT account FROM jpki_serial WHERE serial = '$s2'") ], ['acct-alice-1'],
        '... one row for the new serial, on the old account';
    my %jc3;
    node_login('c', 'c', 'auth-alice-3', \%jc3);
    is who(node_get('c', '/protected/page.html', \%jc3)), '200 acct-alice-1',
        'its successor alice-3 at node c: the same account';
    is_deeply [ pg_sql("SELECT count(*) FROM jpki_serial WHERE account = 'acct-alice-1'") ], [3],
        'the account holds the chain of three serials';
}

# pg_ctl talks on stdout: keep it out of the TAP stream
sub quiet {
    my ($code) = @_;
    open my $save, '>&', \*STDOUT or die;
    open STDOUT, '>', '/dev/null' or die;
    my $ok = eval { $code->(); 1 };
    open STDOUT, '>&', $save or die;
    die $@ unless $ok;
}

# --- failure drills -------------------------------------------------------------------
# Until $try answers $want $k times in a row (within $limit s): (seconds, the
# other answers meanwhile), or () if it never settles.
sub settle {
    my ($try, $want, %o) = @_;
    my ($t0, $ok, $fail) = (time, 0, 0);
    while (time - $t0 < ($o{limit} // 25)) {
        if ($try->() eq $want) {
            return (time - $t0, $fail) if ++$ok >= ($o{k} // 1);
        } else {
            ($ok, $fail) = (0, $fail + 1);
            sleep 0.2;
        }
    }
    return ();
}
sub recovery { my ($s) = settle(@_); return $s }

# Probe nodes a, b, c in turn with $try->(node) until no answer other than
# $want for $quiet s (at most 30 s): (seconds, failed rounds, time of the last
# failure), or () if it never gets there.
sub clean_for {
    my ($quiet, $try, $want) = @_;
    my ($t0, $fails, $last) = (time, 0, 0);
    my $i = 0;
    while (time - $t0 < 30) {
        my $n = (qw(a b c))[ $i++ % 3 ];
        if ($try->($n) ne $want) {
            $fails++;
            $last = time - $t0;
        }
        return (time - $t0, $fails, $last) if time - $t0 - $last >= $quiet;
        sleep 0.05;
    }
    return ();
}

my %kept;    # a session that lives through the drills
is node_login('a', 'a', 'auth-user03', \%kept)->code, 200, 'drills: a session opened at a';

# 1. the cache goes down and comes back: Redis from the snapshot it wrote when
# shut down (SHUTDOWN SAVE); memcached has no persistence and comes back empty
{
    cache_stop(save => 1);
    my $down = time;
    is code_err(node_get('b', '/protected/page.html', {%kept})), '503 session_unavailable',
        "$CACHE down: a session request is refused 503 session_unavailable (fail closed)";
    is code_err(node_get('c', '/jpki/challenge', {})), '503 cache_unavailable',
        '... a challenge 503 cache_unavailable';
    cmp_ok time - $down, '<', 5, '... answered within the cache timeout';
    cache_start();
    # Every httpd process holds pooled connections to the old server: the first
    # use of each fails (503, fail closed), and apr-util then keeps that server
    # aside in that process for a few seconds. Probe a, b, c in turn until 4 s
    # pass without a failure.
    my $want = $CACHE eq 'redis' ? 200 : 401;
    my ($rec, $fails, $last) = clean_for(4, sub {
        my $n = shift;
        node_get($n, '/protected/page.html', {%kept})->code . node_get($n, '/jpki/challenge', {})->code
    }, "${want}200");
    ok defined $rec,
        $CACHE eq 'redis' ? 'redis back from its snapshot: the session works again on every node (no httpd restart)'
                          : 'memcache back (empty): challenges work on every node, the old session is gone (401)';
    diag sprintf "$CACHE back: %d failed rounds (503), the last %.1f s after the restart; clean from then on",
        $fails // -1, $last // -1;
    %kept = () if $CACHE ne 'redis';
    is node_login('c', 'a', 'auth-user03', \%kept)->code, 200, '... and logins work (challenge at c, login at a)';
    is node_login('a', 'b', 'auth-user05', {})->code, 200, '... (another card, a to b: its account is cached again)';
}

# 2. PostgreSQL down and back
{
    quiet(\&pg_stop);
    is node_login('b', 'b', 'auth-user05', {})->code, 200,
        'PostgreSQL down: a returning user (account cached) still logs in';
    is code_err(node_login('c', 'c', 'auth-rev-cessation', {})), '503 account_unavailable',
        '... a card whose account is not cached: 503 account_unavailable';
    is node_get('a', '/protected/page.html', {%kept})->code, 200, '... open sessions keep working';
    quiet(\&pg_start);
    my $rec = recovery(sub { node_login('c', 'c', 'auth-rev-cessation', {})->code }, 200);
    ok defined $rec, 'PostgreSQL back: that login succeeds without an httpd restart';
    diag sprintf 'PostgreSQL restarted: first successful SQL login after %.1f s', $rec // -1;
}

# 3. the cache restarted empty: everyone logs in again
{
    cache_stop();
    cache_start();
    my ($rec, $fails, $last) = clean_for(4, sub { node_get($_[0], '/jpki/challenge', {})->code }, 200);
    ok defined $rec, "$CACHE restarted empty: every node uses it again";
    diag sprintf "$CACHE restarted empty: %d failed challenges (503), the last %.1f s after the restart",
        $fails // -1, $last // -1;
    is node_get('b', '/protected/page.html', {%kept})->code, 401, '... the old session is gone (401: log in again)';
    sim_reset();
    my %j;
    is node_login('a', 'c', 'auth-user03', \%j)->code, 200, '... a new login works';
    is calls(), 1, '... and costs a PF call again (the status cache was lost too)';
}

# 4. one node killed mid-load: the others keep serving
{
    my $h = load_start(secs => 6, clients => 3, logins => 1, cards => [ @CARDS[5 .. 8] ]);
    sleep(($h->{start} + 2) - time);
    my $kill = time;
    node_kill('c');
    my @rows = load_wait($h);
    my @bad = grep { $_->[1] >= 500 } @rows;
    my @after = grep { $_->[0] > $kill + 1 } @rows;
    my @after_bad = grep { $_->[1] != 200 } @after;
    my %by = map { $_->[2] => 1 } grep { $_->[0] > $kill + 1 } @rows;
    ok @rows > 50 && !@after_bad, 'node c killed under load: every request from 1 s after the kill answered 200'
        or diag scalar(@rows) . ' requests, bad after: ' . join ' ', map { "$_->[1]/$_->[2]/$_->[3]" } @after_bad;
    ok !$by{c} && $by{a} && $by{b}, '... by a and b';
    cmp_ok scalar(@bad), '<=', 4, '... at most the requests in flight at the kill failed';
    diag sprintf 'node killed: %d requests (%d logins), %d 5xx in all (%s), %d after the kill + 1 s',
        scalar(@rows), scalar(grep { $_->[3] eq 'login' } @rows), scalar(@bad),
        join(',', map { "$_->[1]" } @bad) || 'none', scalar(@after);
    node_start('c');
    my $rec = recovery(sub { my $u = bal_ua(); $u->get(Cluster::bal_url('/page.html'))->header('X-Cluster-Node') // '' }, 'c');
    ok defined $rec, 'node c started again: the balancer sends it requests again';
}

# 5. graceful restart of a node under load: no 5xx
{
    my $h = load_start(secs => 6, clients => 3, logins => 1, cards => [ @CARDS[9 .. 12] ]);
    sleep(($h->{start} + 2) - time);
    node_graceful('a');
    my @rows = load_wait($h);
    my @bad = grep { $_->[1] != 200 } @rows;
    my %by = map { $_->[2] => 1 } @rows;
    ok @rows > 50 && !@bad, 'graceful restart of node a under load: no error'
        or diag scalar(@rows) . ' requests, bad: ' . join ' ', map { "$_->[1]/$_->[2]/$_->[3]" } @bad;
    ok $by{a} && $by{b} && $by{c}, '... all three nodes served';
    diag sprintf 'graceful restart: %d requests (%d logins), %d not 200',
        scalar(@rows), scalar(grep { $_->[3] eq 'login' } @rows), scalar(@bad);
}

# --- no secret or personal data in any cache value ---------------------------------
{
    my @entries = cache_dump();
    my (%bad, %mem, %vlen, @forever);
    my @forbidden = (keys %Cluster::SEEN_CHALLENGE, keys %Cluster::SEEN_COOKIE,
                     '1980-02-17', '19800217', "\x{756a}\x{53f7}", "\x{82b1}\x{5b50}",
                     "\x{6771}\x{4eac}\x{90fd}", 'Chiyoda', 'Tokyo');
    for my $c (@CARDS, qw(auth-alice-1 auth-alice-2 auth-alice-3 auth-bob auth-carol)) {
        my $der = pki_der($c);
        push @forbidden, Cluster::b64($der), substr(unpack('H*', $der), -64), substr(Cluster::b64($der), -48, 40);
    }
    require Encode;
    for my $e (@entries) {
        my ($k, $v, $ttl, $bytes) = @$e;
        my $text = Encode::decode('UTF-8', $v, Encode::FB_DEFAULT());
        for my $f (@forbidden) {
            $bad{$k} = $f if index($text, $f) >= 0 || index($v, $f) >= 0;
        }
        push @forever, $k if $ttl == -1;
        my ($ns) = $k =~ /^jpki-(\w+):/ or next;
        push @{ $mem{$ns} }, $bytes;
        push @{ $vlen{$ns} }, length $v;
    }
    cmp_ok scalar(@entries), '>', 20, "$CACHE dump after the run: " . scalar(@entries) . ' values read';
    is_deeply \%bad, {}, '... none holds a challenge, a cookie value, a certificate, a name, address or birth date';
    # memory per entry, by namespace (docs/cluster.md "Sizing"); every entry expires
    my $mean = sub { my $t = 0; $t += $_ for @{ $_[0] }; @{ $_[0] } ? $t / @{ $_[0] } : 0 };
    diag "$CACHE bytes per entry (Redis MEMORY USAGE / memcached item size, mean; value length): "
        . join ', ', map { sprintf '%s %.0f / %.0f (%d keys)', $_, $mean->($mem{$_}),
                           $mean->($vlen{$_}), scalar @{ $mem{$_} } } sort keys %mem;
    is_deeply \@forever, [], '... every entry has an expiry (safe under volatile-lru, nothing stays for ever)';
    # key shape: a cname of at most 16 characters (ap_socache.h) and a 128-bit id in hex
    # (docs/cluster.md "Sizing": the key is a third of a status entry's memory)
    my @odd = grep { !/^jpki-(?:chal|sess|stat|acct):[0-9a-f]{32}$/ } map { $_->[0] } @entries;
    is_deeply \@odd, [], '... every key is jpki-<ns>: and 32 hex digits';
    my ($sv) = map { $_->[1] } grep { $_->[0] =~ /^jpki-sess:/ } @entries;
    ok defined $sv, '... a session record is in the dump';
    unlike $sv // '', qr/[\x{3000}-\x{9fff}]|BEGIN|MII/, '... a session record holds ids (sample checked)';
    diag "a session record: $sv" if $ENV{JPKI_CLUSTER_SHOW};
}

diag sprintf 'cluster test: %.1f s in all', time - $T0;
done_testing;
