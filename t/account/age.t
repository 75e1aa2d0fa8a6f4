use strict;
use warnings FATAL => 'all';

# Require jpki-age-over N (issue: accounts): the age comes from the birth
# date stored with the account, on the request's day in Japan time.
# Birthday edges: the day before, the day of, a 29 February birthday.
use Apache::Test qw(-withtestmore);
use JPKITest;
use JPKIAccount;

plan tests => 22;

my $V  = 'jpki_acct_sqlite';
my $db = sqlite_db('sqlite');

# Today and tomorrow in Japan (UTC+9).
sub jst_day { my @t = gmtime($_[0] + 9 * 3600); return ($t[5] + 1900, $t[4] + 1, $t[3]) }
my ($y, $m, $d)    = jst_day(time);
my $leap_had = ($m > 2 || ($m == 2 && $d == 29)) ? 1 : 0;
my ($ty, $tm, $td) = jst_day(time + 86400);
$d = 28 if $m == 2 && $d == 29;    # 18 years before a 29 Feb is not a leap year
my $born_today    = sprintf '%04d-%02d-%02d', $y - 18, $m, $d;
my $born_tomorrow = sprintf '%04d-%02d-%02d', $ty - 18, $tm, $td;

# The rule for a 29 February birthday (年齢計算ニ関スル法律): in common years
# the age increases on 1 March.
my $leap = '2008-02-29';
my $leap_age = $y - 2008 - ($leap_had ? 0 : 1);

my %who = (
    'auth-user01' => ['acct-18-today',    $born_today],
    'auth-user02' => ['acct-18-tomorrow', $born_tomorrow],
    'auth-user03' => ['acct-no-birth',    undef],
    'auth-user04' => ['acct-leap',        $leap],
);
for my $cert (sort keys %who) {
    my ($acct, $birth) = @{ $who{$cert} };
    my $res = api($V, { op => 'link', account => $acct, auth_serial => serial_of($cert),
                        (defined $birth ? (birth_date => $birth) : ()) });
    is $res->code, 200, "link $acct" or diag $res->as_string;
}

sub as {
    my ($cert) = @_;
    my $ua = ua();
    my $res = alogin($ua, $V, cert => $cert);
    die "login $cert: " . $res->as_string unless $res->code == 200;
    return $ua;
}

# 18 today: granted, JPKI_AGE_OVER_18 exported.
my $ua = as('auth-user01');
my $res = aget($ua, $V, '/adult/env');
is $res->code, 200, "born $born_today (18th birthday today, JST) => over 18";
is json_of($res)->{JPKI_AGE_OVER_18}, '1', 'JPKI_AGE_OVER_18=1';
$res = aget($ua, $V, '/over20/env');
is $res->code, 403, '... but not over 20';
is json_of($res)->{error}, 'age_under', '... {"error":"age_under"}';

# The age is cached for the rest of the JST day: no SQL on the next request.
my $mark = error_log_mark();
is aget($ua, $V, '/adult/env')->code, 200, 'again over 18';
is sql_count($mark), 0, '... without SQL';

# 18 tomorrow: still 17 today.
$ua = as('auth-user02');
$res = aget($ua, $V, '/adult/env');
is $res->code, 403, "born $born_tomorrow (18th birthday tomorrow) => not over 18";
is $res->header('X-JPKI-Error'), 'age_under', '... X-JPKI-Error: age_under';
is json_of($res)->{JPKI_AGE_OVER_18}, undef, '... no JPKI_AGE_OVER_18';

# No stored birth date.
$ua = as('auth-user03');
$res = aget($ua, $V, '/adult/env');
is $res->code, 403, 'no birth date => 403';
is json_of($res)->{error}, 'age_unknown', '... {"error":"age_unknown"}';
is aget($ua, $V, '/protected/env')->code, 200, '... while the account itself is fine';

# 29 February birthday.
$ua = as('auth-user04');
$res = aget($ua, $V, '/adult/env');
is $res->code, ($leap_age >= 18 ? 200 : 403), "born $leap: age $leap_age today => over 18 is " . ($leap_age >= 18 ? 'granted' : 'refused');
$res = aget($ua, $V, '/over20/env');
is $res->code, ($leap_age >= 20 ? 200 : 403), "born $leap: over 20 is " . ($leap_age >= 20 ? 'granted' : 'refused');

# Bad birth dates are refused by the endpoint.
for my $bad ('2030-01-01', '1980-02-30', '19800217', "1980-02-17' OR 1=1") {
    is api($V, { op => 'link', account => 'acct-bad', auth_serial => serial_of('auth-user05'),
                 birth_date => $bad })->code, 400, "birth_date '$bad' => 400";
}
