use strict;
use warnings FATAL => 'all';

# Status page (issue: status page): SetHandler jpki-status in JSON and
# Prometheus text format; counters in shared memory, shared by every
# process and kept across a graceful restart; protected by Require.
use Apache::Test qw(-withtestmore);
use HTTP::Request ();
use JPKITest;
use JPKIExport;

plan tests => 42;

my $V = 'jpki_export';
my $url = sub { ssl_url($_[0], $V) };
my $st = sub {
    my $res = ua()->get($url->('/jpki-status'));
    return json_of($res);
};

my $res = ua()->get($url->('/jpki-status'));
is $res->code, 200, 'status page answers';
like $res->header('Content-Type'), qr{^application/json}, 'JSON by default';
my $s0 = json_of($res);
for my $k (qw(logins sessions cache status_calls status_latency breaker grace_passes yen_spent)) {
    ok exists $s0->{$k}, "JSON has $k";
}
is_deeply $s0->{fees_yen}, { auth => 3, sign => 30 }, 'JPKIFee 3 30 of this vhost';
ok exists $s0->{logins}{$_}, "logins has a series for $_ from the start"
    for qw(ok cert_expired signature_invalid other);

# --- one login, two refusals, a session use, a logout ---------------------------
my $ua = ua();
is login_on($ua, $V, cert => 'auth-alice-1')->code, 200, 'login';
is $ua->get($url->('/env/env.cgi'))->code, 200, 'session used';
ua(cert => 'bad-expired')->get($url->('/env/env.cgi'));
login_on(ua(), $V, cert => 'auth-alice-1', key => 'auth-bob');   # signature_invalid
raw_get($V, '/pubapp/', [ 'X-JPKI-Account', 'x' ], [ 'Remote-User', 'y' ]);
my $s1 = $st->();
is $s1->{logins}{ok} - $s0->{logins}{ok}, 1, 'logins.ok +1';
is $s1->{logins}{cert_expired} - $s0->{logins}{cert_expired}, 1, 'logins.cert_expired +1';
is $s1->{logins}{signature_invalid} - $s0->{logins}{signature_invalid}, 1,
    'logins.signature_invalid +1';
is $s1->{sessions}{opened} - $s0->{sessions}{opened}, 1, 'sessions opened +1';
ok $s1->{cache}{session}{hits} > $s0->{cache}{session}{hits}, 'session cache hits counted';
ok $s1->{cache}{challenge}{hits} > $s0->{cache}{challenge}{hits}, 'challenge cache hits counted';
is $s1->{spoofed_headers_removed} - $s0->{spoofed_headers_removed}, 2,
    'spoofed headers removed: counted';
ok $s1->{audit}{lines} > $s0->{audit}{lines}, 'audit lines counted';

my $req = HTTP::Request->new(POST => $url->('/jpki/logout'));
$ua->request($req);
my $s2 = $st->();
is $s2->{sessions}{ended} - $s1->{sessions}{ended}, 1, 'logout: sessions ended +1';
is $s2->{sessions}{active}, $s2->{sessions}{opened} - $s2->{sessions}{ended},
    'active = opened - ended';

# --- Prometheus text format ---------------------------------------------------------
$res = ua()->get($url->('/jpki-status?format=prometheus'));
is $res->code, 200, '?format=prometheus';
like $res->header('Content-Type'), qr{^text/plain; version=0\.0\.4}, 'exposition format 0.0.4';
my $p = $res->decoded_content;
my ($pok) = $p =~ /^jpki_logins_total\{code="ok"\} (\d+)$/m;
is $pok, $s2->{logins}{ok}, 'jpki_logins_total{code="ok"} matches the JSON';
like $p, qr/^# TYPE jpki_status_call_duration_seconds histogram$/m, 'latency histogram declared';
like $p, qr/^jpki_status_call_duration_seconds_bucket\{le="\+Inf"\} \d+$/m, 'histogram +Inf bucket';
like $p, qr/^jpki_fees_yen_total \d+$/m, 'yen counter';
like $p, qr/^jpki_status_calls_total\{purpose="signature_verification",cert_type="auth",result="answered"\} \d+$/m,
    'status calls by purpose';
ok !(grep { !/^(#|[a-z_]+(\{[^}]*\})? [0-9.e+-]+$)/ } split /\n/, $p), 'every line is valid exposition text';
$req = HTTP::Request->new(GET => $url->('/jpki-status'));
$req->header(Accept => 'text/plain');
like ua()->request($req)->header('Content-Type'), qr{^text/plain; version=0\.0\.4},
    'Accept: text/plain gives the Prometheus format';

# --- bad requests and access control ------------------------------------------------
$res = ua()->get($url->('/jpki-status?format=xml'));
is $res->code, 400, 'unknown format: 400';
$req = HTTP::Request->new(POST => $url->('/jpki-status'));
is ua()->request($req)->code, 405, 'POST: 405';
is ua()->get($url->('/jpki-status-denied'))->code, 403, 'Require all denied: 403';

# --- graceful restart: same counters -------------------------------------------------------
my $before = $st->();
open my $pf, '<', Apache::Test::vars()->{t_logs} . '/httpd.pid' or die "pid: $!";
my $ppid = <$pf>;
chomp $ppid;
kill USR1 => $ppid;
my $after;
for (1 .. 100) {
    select undef, undef, undef, 0.2;
    $after = eval { $st->() };
    last if $after && ($after->{generations} // 0) > $before->{generations};
}
is $after->{generations}, $before->{generations} + 1, 'a graceful restart happened';
is $after->{logins}{ok}, $before->{logins}{ok}, 'logins survive the graceful restart';
is $after->{sessions}{opened}, $before->{sessions}{opened}, 'session counters survive';
