use strict;
use warnings FATAL => 'all';

# Accounts in SQLite through mod_dbd (issue: accounts): deny of unknown
# certificates, linking through the jpki-account endpoint, the socache hot
# path (0 SQL statements per returning login), removal while a session is
# open, SQL-looking input, and a database that is read-only, locked or
# missing.
use Apache::Test qw(-withtestmore);
use JPKITest;
use JPKIAccount;

plan tests => 46;

my $V    = 'jpki_acct_sqlite';
my $db   = sqlite_db('sqlite');
my $a1   = serial_of('auth-alice-1');
my $bob  = serial_of('auth-bob');

# --- an unknown certificate is refused (JPKIUnknownCertificate deny) -----------
my $mark = error_log_mark();
my $res = alogin(ua(), $V, cert => 'auth-alice-1');
is $res->code, 403, 'unknown certificate, challenge login => 403';
is json_of($res)->{error}, 'no_account', '... {"error":"no_account"}';
like error_log_since($mark), qr/JPKI0201: login refused: code=no_account method=challenge serial=\Q$a1\E/,
    '... one refusal line with the serial';
$res = ua(cert => 'auth-alice-1')->get(ssl_url('/protected/env', $V));
is $res->code, 403, 'unknown certificate, TLS login => 403';
is $res->header('X-JPKI-Error'), 'no_account', '... X-JPKI-Error: no_account';

# --- the site links the account (internal endpoint) ------------------------------
$res = api($V, { op => 'link', account => 'acct-alice', auth_serial => $a1 });
is $res->code, 200, 'jpki-account link => 200' or diag $res->as_string;
my @rows = sqlite($db, "SELECT serial, account, cert_type, predecessor IS NULL, first_seen <> '' FROM jpki_serial");
is_deeply \@rows, ["$a1|acct-alice|auth|1|1"], 'one serial row with first/last seen';

# --- first login: SQL; returning login: no SQL at all ------------------------------
my $ua = ua();
$mark = error_log_mark();
$res = alogin($ua, $V, cert => 'auth-alice-1');
is $res->code, 200, 'linked certificate logs in' or diag $res->as_string;
ok sql_count($mark) >= 1, 'first login after linking asks SQL (cache cold)';
$res = aget($ua, $V, '/protected/env');
is $res->code, 200, 'Require jpki-account grants the session';
my $env = json_of($res);
is $env->{REMOTE_USER}, 'acct-alice', 'REMOTE_USER is the account, not the serial';
is $env->{JPKI_ACCOUNT}, 'acct-alice', 'JPKI_ACCOUNT';
is $env->{JPKI_CERT_SERIAL}, $a1, 'JPKI_CERT_SERIAL stays the certificate serial';

$mark = error_log_mark();
for (1 .. 3) {
    $res = alogin(ua(), $V, cert => 'auth-alice-1');
    is $res->code, 200, "returning login $_ => 200";
}
is sql_count($mark), 0, 'three returning logins ran 0 SQL statements (socache hit)';
$mark = error_log_mark();
for (1 .. 3) { aget($ua, $V, '/protected/env') }
is sql_count($mark), 0, 'session requests run 0 SQL statements';

# The same database without the cache: every login asks SQL.
$mark = error_log_mark();
$res = ua(cert => 'auth-alice-1')->get(ssl_url('/protected/env', 'jpki_acct_cold'));
is $res->code, 200, 'cold vhost (JPKIAccountCacheTTL 0) logs in';
ok sql_count($mark) >= 1, '... and it ran SQL';

# --- Require jpki-account with a list --------------------------------------------------
$res = aget($ua, $V, '/only-bob/env');
is $res->code, 403, 'Require jpki-account acct-bob refuses acct-alice';

# --- SQL-looking input -------------------------------------------------------------
$res = api($V, { op => 'link', account => "x'; DROP TABLE jpki_account; --", auth_serial => $bob });
is $res->code, 400, 'SQL-looking account id => 400';
$res = api($V, { op => 'link', account => 'acct-bob', auth_serial => "1' OR '1'='1" });
is $res->code, 400, 'SQL-looking serial => 400';
my $evil = q{u'); DROP TABLE jpki_serial; --};
$res = api($V, { op => 'link', account => 'acct-bob', auth_serial => $bob, platform_user_id => $evil });
is $res->code, 200, 'a quote in a parameter is only data (prepared statements)';
is_deeply [sqlite($db, "SELECT platform_user_id FROM jpki_account WHERE account = 'acct-bob'")], [$evil],
    '... stored verbatim';
is_deeply [sqlite($db, "SELECT count(*) FROM jpki_serial")], [2], '... and both tables are intact';
$res = api($V, '{"op":"link","account":');
is $res->code, 400, 'malformed JSON => 400';
$res = api($V, { op => 'drop' });
is $res->code, 400, 'unknown op => 400';

# --- removal while a session is open ------------------------------------------------
my $ub = ua();
is alogin($ub, $V, cert => 'auth-bob')->code, 200, 'bob logs in';
is aget($ub, $V, '/protected/env')->code, 200, 'bob session works';
$res = api($V, { op => 'remove', account => 'acct-bob' });
is $res->code, 200, 'remove => 200' or diag $res->as_string;
$mark = error_log_mark();
$res = aget($ub, $V, '/protected/env');
is $res->code, 403, 'next request of the open session is refused';
is $res->header('X-JPKI-Error'), 'account_removed', '... account_removed';
like error_log_since($mark), qr/JPKI0733: session refused: serial=\Q$bob\E/, '... logged';
$res = aget($ub, $V, '/protected/env');
is $res->header('X-JPKI-Error'), 'cert_missing', 'the session is gone (no session, no certificate)';
is api($V, { op => 'remove', account => 'acct-bob' })->code, 404, 'removing it again => 404';
is alogin(ua(), $V, cert => 'auth-bob')->code, 403, 'bob cannot log in any more';

# --- faults --------------------------------------------------------------------------
# Read-only database: a returning user still logs in (lookup works, the
# last_seen update fails and is logged); a link cannot be written => 503.
my $ro = sqlite_db('ro', fresh => 1);
sqlite($ro, "INSERT INTO jpki_account (account, created_at) VALUES ('acct-alice', 'x');"
          . "INSERT INTO jpki_serial VALUES ('$a1', 'acct-alice', 'auth', NULL, 'x', 'x')");
chown 0, 0, $ro;
chmod 0444, $ro;
$mark = error_log_mark();
$res = ua(cert => 'auth-alice-1')->get(ssl_url('/protected/env', 'jpki_acct_ro'));
is $res->code, 200, 'read-only database: returning user (SQL lookup) still logs in';
like error_log_since($mark), qr/JPKI0715: account store write 'seen' failed/, '... the last_seen write failure is logged';
$res = api('jpki_acct_ro', { op => 'link', account => 'acct-carol', auth_serial => serial_of('auth-carol') });
is $res->code, 503, 'read-only database: link => 503';
is json_of($res)->{error}, 'account_unavailable', '... account_unavailable';
is_deeply [sqlite($ro, "SELECT count(*) FROM jpki_account WHERE account = 'acct-carol'")], [0],
    '... nothing half-written';

# Locked database: another writer holds an exclusive lock for 2 s. The warm
# path needs no SQL and answers at once; a cold login waits and succeeds.
my $pid = open my $lock, '|-', 'sqlite3', $db or die "sqlite3: $!";
print $lock "BEGIN EXCLUSIVE;\nSELECT 1;\n";
$lock->flush;
select undef, undef, undef, 0.3;
my $t0 = time;
$res = alogin(ua(), $V, cert => 'auth-alice-1');
is $res->code, 200, 'locked database: returning login from the cache => 200';
$res = ua(cert => 'auth-alice-1')->get(ssl_url('/protected/env', 'jpki_acct_cold'));
ok $res->code == 200 || $res->code == 503, 'locked database: cold login waits, then 200 or 503 (never 500)';
print $lock "COMMIT;\n";
close $lock;

# Missing database (its directory does not exist): 503, not "unknown user".
$res = ua(cert => 'auth-alice-1')->get(ssl_url('/protected/env', 'jpki_acct_missing'));
is $res->code, 503, 'missing database => 503';
is $res->header('X-JPKI-Error'), 'account_unavailable', '... account_unavailable';
