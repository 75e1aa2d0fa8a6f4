use strict;
use warnings FATAL => 'all';

# The account's last re-check (jpki-recheck, docs/recheck.md) at login:
# JPKI_RECHECK_CATEGORY / JPKI_RECHECK_AT from jpki_recheck, read once at
# login (then from the session record and the socache: no SQL on session
# requests or returning logins), never from what the client sends.
use Apache::Test qw(-withtestmore);
use JPKITest;
use JPKIAccount;

plan tests => 18;

my $V  = 'jpki_acct_sqlite';
my $db = sqlite_db('sqlite');
my $a1 = serial_of('auth-alice-1');
sqlite($db, 'CREATE TABLE IF NOT EXISTS jpki_recheck (account VARCHAR(128) PRIMARY KEY, '
          . 'category VARCHAR(32) NOT NULL, status VARCHAR(16) NOT NULL, reason VARCHAR(40), '
          . 'checked_at VARCHAR(32) NOT NULL); DELETE FROM jpki_recheck;');
my $bob = serial_of('auth-bob');
my $res = api($V, { op => 'link', account => 'acct-rc', auth_serial => $a1 });
is $res->code, 200, 'account linked' or diag $res->as_string;
is api($V, { op => 'link', account => 'acct-none', auth_serial => $bob })->code, 200, 'second account linked';
# jpki-recheck found acct-rc's signing certificate revoked (the row the tool
# writes; tests/recheck/ covers the tool itself); acct-none was never re-checked.
sqlite($db, "INSERT INTO jpki_recheck VALUES ('acct-rc', 'name_or_address_changed', 'revoked', "
          . "'affiliationChanged', '2026-11-29T03:00:00.000Z')");

my @forged = ('X-JPKI-Recheck-Category' => 'unchanged', 'X-JPKI-Recheck-At' => '2000-01-01T00:00:00Z',
              'JPKI-Recheck-Category' => 'unchanged');
sub rc_lines { my @l = error_log_since($_[0]) =~ /account sql: statement=recheck/g; scalar @l }
# The module's variables (JPKI_*) and the headers it scrubs (X-JPKI-*);
# a header named JPKI-... arrives as HTTP_JPKI_... like any request header,
# which no backend mistakes for JPKI_... (docs/variables.md).
sub forged_value {
    my ($env) = @_;
    grep { /^(JPKI_|HTTP_X_JPKI_)/ && ($env->{$_} // '') =~ /^(unchanged|2000-01-01T00:00:00Z)$/ } keys %$env;
}

# --- login: one query, the category reaches the backend -------------------------------
my $ua = ua();
my $mark = error_log_mark();
is alogin($ua, $V, cert => 'auth-alice-1')->code, 200, 'login';
is rc_lines($mark), 1, 'one re-check query at login';
my $env = json_of(aget($ua, $V, '/protected/env'));
is $env->{JPKI_RECHECK_CATEGORY}, 'name_or_address_changed', 'JPKI_RECHECK_CATEGORY=name_or_address_changed';
is $env->{JPKI_RECHECK_AT}, '2026-11-29T03:00:00.000Z', 'JPKI_RECHECK_AT';

# --- session requests: from the session record, no SQL; forged headers lose -----------
$mark = error_log_mark();
$env = json_of(aget($ua, $V, '/protected/env', @forged));
is $env->{JPKI_RECHECK_CATEGORY}, 'name_or_address_changed', 'session request with forged headers: the real category';
is $env->{JPKI_RECHECK_AT}, '2026-11-29T03:00:00.000Z', '... and the real time';
is_deeply [forged_value($env)], [], 'no variable carries a forged value';
is rc_lines($mark), 0, 'session request: no re-check query';

# --- returning login: from the socache ---------------------------------------------------
$mark = error_log_mark();
my $ua2 = ua();
is alogin($ua2, $V, cert => 'auth-alice-1')->code, 200, 'returning login';
is rc_lines($mark), 0, 'returning login: no re-check query (socache)';
is json_of(aget($ua2, $V, '/protected/env'))->{JPKI_RECHECK_CATEGORY}, 'name_or_address_changed',
    'returning login: exported';

# --- never re-checked: nothing exported, whatever the client claims ----------------------
my $ub = ua();
is alogin($ub, $V, cert => 'auth-bob')->code, 200, 'login of an account never re-checked';
$env = json_of(aget($ub, $V, '/protected/env', @forged));
ok !exists $env->{JPKI_RECHECK_CATEGORY} && !exists $env->{JPKI_RECHECK_AT},
    'no JPKI_RECHECK_* (the forged headers are not taken)';
is_deeply [forged_value($env)], [], 'no variable carries a forged value';

# Leave the shared store and the account cache as found (t/account/sqlite.t
# and age.t use the same database and certificates).
is api($V, { op => 'remove', account => $_ })->code, 200, "$_ removed" for qw(acct-rc acct-none);
sqlite($db, 'DELETE FROM jpki_recheck');
