use strict;
use warnings FATAL => 'all';

# Accounts in PostgreSQL (issue: accounts): the same module and statements
# as SQLite, unchanged; the hot path without SQL; a link that cannot be
# completed leaves nothing behind (one transaction); PostgreSQL stopped and
# restarted under a running httpd: 503 while down, recovers by itself.
use Apache::Test qw(-withtestmore);
use JPKITest;
use JPKIAccount;
use JPKIPg;

plan tests => 24;

my $V = 'jpki_acct_pg';
pg_start();
my $a1 = serial_of('auth-alice-1');

my $res = ua(cert => 'auth-alice-1')->get(ssl_url('/protected/env', $V));
is $res->code, 403, 'unknown certificate => 403';
is $res->header('X-JPKI-Error'), 'no_account', '... no_account';

$res = api($V, { op => 'link', account => 'pg-alice', auth_serial => $a1, birth_date => '1980-02-17' });
is $res->code, 200, 'link through the endpoint (PostgreSQL)' or diag $res->as_string;
is_deeply [pg_sql("SELECT account || ' ' || cert_type || ' ' || (predecessor IS NULL) FROM jpki_serial")],
    ["pg-alice auth true"], 'the serial row is in PostgreSQL';

my $ua = ua(cert => 'auth-alice-1');
$res = $ua->get(ssl_url('/protected/env', $V));
is $res->code, 200, 'login maps to the account';
is json_of($res)->{REMOTE_USER}, 'pg-alice', 'REMOTE_USER from PostgreSQL';
my $mark = error_log_mark();
for (1 .. 3) { ua(cert => 'auth-alice-1')->get(ssl_url('/protected/env', $V)) }
is sql_count($mark), 0, 'three returning logins: 0 SQL statements';
$res = ua(cert => 'auth-alice-1')->get(ssl_url('/adult/env', $V));
is $res->code, 200, 'age check with the stored birth date';
is json_of($res)->{JPKI_AGE_OVER_18}, '1', 'JPKI_AGE_OVER_18';
like((pg_sql("SELECT last_seen FROM jpki_serial WHERE serial = '$a1'"))[0], qr/^\d{4}-\d\d-\d\dT/,
     'last_seen written');

# --- no half-written links: the serial insert fails, the account insert is rolled back
pg_sql('REVOKE INSERT ON jpki_serial FROM jpki_web');
$res = api($V, { op => 'link', account => 'pg-half', auth_serial => serial_of('auth-user07') });
is $res->code, 503, 'a link that fails half-way => 503';
is json_of($res)->{error}, 'account_unavailable', '... account_unavailable';
is_deeply [pg_sql("SELECT count(*) FROM jpki_account WHERE account = 'pg-half'")], [0],
    '... and the account row was rolled back';
pg_sql('GRANT INSERT ON jpki_serial TO jpki_web');

# --- PostgreSQL down -----------------------------------------------------------------
is api($V, { op => 'link', account => 'pg-u6', auth_serial => serial_of('auth-user06') })->code, 200,
    'link a second user (never logged in: not cached)';
pg_stop();
$mark = error_log_mark();
$res = ua(cert => 'auth-user06')->get(ssl_url('/protected/env', $V));
is $res->code, 503, 'PostgreSQL down: login that needs SQL => 503';
is $res->header('X-JPKI-Error'), 'account_unavailable', '... account_unavailable, not no_account';
unlike error_log_since($mark), qr/exit signal|AH00052/, '... no crash';
$res = ua(cert => 'auth-alice-1')->get(ssl_url('/protected/env', $V));
is $res->code, 200, 'PostgreSQL down: a returning user (cached) still logs in';
$res = api($V, { op => 'link', account => 'pg-down', auth_serial => serial_of('auth-user08') });
is $res->code, 503, 'PostgreSQL down: link => 503';

# --- restarted: recovers without restarting httpd ---------------------------------
pg_start();
my $code = 0;
for my $try (1 .. 8) {
    $code = ua(cert => 'auth-user06')->get(ssl_url('/protected/env', $V))->code;
    last if $code == 200;
    sleep 1;
}
is $code, 200, 'PostgreSQL back: the login succeeds again (reconnects by itself)';
is_deeply [pg_sql("SELECT count(*) FROM jpki_account WHERE account = 'pg-down'")], [0],
    'nothing was written while it was down';

# --- removal ---------------------------------------------------------------------------
my $us = ua();
$us->ssl_opts(SSL_cert_file => pki('auth-user06.crt'), SSL_key_file => pki('auth-user06.key'));
is $us->get(ssl_url('/protected/env', $V))->code, 200, 'user06 has a session';
is api($V, { op => 'remove', account => 'pg-u6' })->code, 200, 'remove the account';
$us->ssl_opts(SSL_cert_file => undef, SSL_key_file => undef);
$res = $us->get(ssl_url('/protected/env', $V), Accept => 'application/json');
is $res->header('X-JPKI-Error'), 'account_removed', 'the open session is refused: account_removed';
