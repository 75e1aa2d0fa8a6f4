use strict;
use warnings FATAL => 'all';

# Successor resolution and same-person registration against the platform
# simulator (issue: accounts): the platform status provider supplies the PF
# user id and the predecessor serial (vhost jpki_acct_pf).
use Apache::Test qw(-withtestmore);
use POSIX ();
use JPKITest;
use JPKIAccount;
use JPKIStatus qw(sim_start sim_stop sim_state serial_hex);

plan tests => 25;

my $V  = 'jpki_acct_pf';
my $db = sqlite_db('pf');
my ($a1, $a2, $a3) = map { serial_of("auth-alice-$_") } 1 .. 3;
my ($u1, $u2, $u3) = map { serial_of("auth-user0$_") } 1 .. 3;

my %state = (
    users => {
        serial_hex('auth-alice-1') => 'usr_alice', serial_hex('auth-alice-2') => 'usr_alice',
        serial_hex('auth-alice-3') => 'usr_alice',
        serial_hex('auth-user01') => 'usr_race', serial_hex('auth-user02') => 'usr_race',
        serial_hex('auth-user03') => 'usr_pending',
        serial_hex('auth-bob') => 'usr_bob', serial_hex('sign-bob') => 'usr_bob',
        serial_hex('sign-alice') => 'usr_alice',
    },
    predecessors => {
        serial_hex('auth-alice-2') => serial_hex('auth-alice-1'),
        serial_hex('auth-alice-3') => serial_hex('auth-alice-2'),
    },
    link_pending => [serial_hex('auth-user03')],
);
sim_start(state => \%state);

# The site registered alice with her first card and the PF user id.
is api($V, { op => 'link', account => 'acct-alice', auth_serial => $a1,
             platform_user_id => 'usr_alice' })->code, 200, 'acct-alice linked to the first card';

my $res = ua(cert => 'auth-alice-1')->get(ssl_url('/protected/env', $V));
is json_of($res)->{REMOTE_USER}, 'acct-alice', 'first card => acct-alice';

# --- renewal A -> B -> C lands on one account --------------------------------------
my $mark = error_log_mark();
my $ua = ua();
$res = alogin($ua, $V, cert => 'auth-alice-2');
is $res->code, 200, 'renewed card (unknown serial) logs in' or diag $res->as_string;
my $env = json_of(aget($ua, $V, '/protected/env'));
is $env->{REMOTE_USER}, 'acct-alice', '... to the same account';
like $env->{JPKI_PREVIOUS_SERIAL} // '', qr/\Q@{[serial_hex('auth-alice-1')]}\E$/, '... JPKI_PREVIOUS_SERIAL is the old serial';
like error_log_since($mark), qr/JPKI0730: renewed certificate linked: serial=\Q$a2\E .*account=acct-alice/, '... the link is logged';
$res = ua(cert => 'auth-alice-3')->get(ssl_url('/protected/env', $V));
is json_of($res)->{REMOTE_USER}, 'acct-alice', 'second renewal => the same account';
is_deeply [sqlite($db, "SELECT count(*) FROM jpki_serial WHERE account = 'acct-alice'")], [3],
    'the serial history has all three serials';
is_deeply [sqlite($db, "SELECT predecessor IS NOT NULL FROM jpki_serial WHERE serial IN ('$a2', '$a3')")],
    [1, 1], 'each renewal records its predecessor';
$mark = error_log_mark();
alogin(ua(), $V, cert => 'auth-alice-2');
is sql_count($mark), 0, 'the renewed card is now a returning user: 0 SQL';

# --- two concurrent first logins of one renewed card: one row ----------------------
is api($V, { op => 'link', account => 'acct-race', auth_serial => $u2,
             platform_user_id => 'usr_race' })->code, 200, 'acct-race linked to its old card';
my @pids;
for my $i (1 .. 4) {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $r = ua(cert => 'auth-user01')->get(ssl_url('/protected/env', $V));
        POSIX::_exit((json_of($r)->{REMOTE_USER} // '') eq 'acct-race' ? 0 : 1);
    }
    push @pids, $pid;
}
my $ok = 0;
for (@pids) { waitpid $_, 0; $ok++ if $? == 0 }
is $ok, 4, 'four racing first logins of the renewed card all reach acct-race';
is_deeply [sqlite($db, "SELECT count(*) FROM jpki_serial WHERE serial = '$u1'")], [1],
    '... and wrote exactly one row';

# --- link data not there yet: 503 link_pending, not "unknown user" ----------------
$res = ua(cert => 'auth-user03')->get(ssl_url('/protected/env', $V), Accept => 'application/json');
is $res->code, 503, 'renewal link pending => 503';
is $res->header('X-JPKI-Error'), 'link_pending', '... link_pending';

# --- registration with the signing certificate: the same person --------------------
sub sign_headers {
    my ($ua, $cert) = @_;
    my $ch = json_of($ua->get(ssl_url('/jpki/challenge', $V)))->{challenge};
    my %p = card_proof($cert, $ch, vhost => $V);
    return ('X-JPKISign-Challenge' => $ch, 'X-JPKISign-Certificate' => b64(pki_der($cert)),
            'X-JPKISign-Signature' => $p{signature}, 'X-JPKISign-ClientData' => $p{client_data});
}
my $ub = ua();
$res = alogin($ub, $V, cert => 'auth-bob');
is json_of($res)->{registration}, JSON::PP::true(), 'bob (unknown) gets a registration session';
$res = aget($ub, $V, '/register-sign/env', sign_headers($ub, 'sign-alice'));
is $res->code, 403, "someone else's signing certificate => 403";
is $res->header('X-JPKI-Error'), 'person_mismatch', '... person_mismatch';
# fees: the status page (vhost jpki_export) counts the signing check at 20 yen
my $page = sub { json_of(ua()->get(ssl_url('/jpki-status', 'jpki_export'))) };
my $before = $page->();
$res = aget($ub, $V, '/register-sign/env', sign_headers($ub, 'sign-bob'));
is $res->code, 200, 'his own signing certificate (same PF user id) => 200' or diag $res->as_string;
my $after = $page->();
is $after->{yen_spent} - $before->{yen_spent}, 20, 'one signing-certificate check costs 20 yen';
is $after->{status_calls}{signature_verification}{sign}{answered}
     - $before->{status_calls}{signature_verification}{sign}{answered}, 1,
    '... counted as one signature_verification call of a signing certificate';
$before = $after;
alogin(ua(), $V, cert => 'auth-alice-3');    # cached: no PF call, no fee
is $page->()->{yen_spent} - $before->{yen_spent}, 0, 'a cached status costs nothing';
$env = json_of($res);
is $env->{JPKI_BIRTH_DATE}, '2004-02-29', '... with the 4 facts';
is $env->{JPKI_SIGN_PLATFORM_USER_ID}, 'usr_bob', '... and the PF user id of the signing certificate';
is api($V, { op => 'link', account => 'acct-bob', auth_serial => serial_of('auth-bob'),
             sign_serial => $env->{JPKI_SIGN_CERT_SERIAL}, platform_user_id => 'usr_bob',
             birth_date => $env->{JPKI_BIRTH_DATE} })->code, 200,
    'the site links both certificates of the same person';

sim_stop();
