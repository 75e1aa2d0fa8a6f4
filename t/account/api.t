use strict;
use warnings FATAL => 'all';

# The jpki-account endpoint authenticates its caller (security issue 9,
# item 5): network ACLs alone are not enough, since an SSRF anywhere on the
# site reaches 127.0.0.1. Without the bearer token of JPKIAccountAPIToken
# (or with a wrong one) every request is 401 account_api_unauthenticated and
# changes nothing; with it, link works. A serial linked to another account
# is never moved by link (409 account_link_conflict); relink moves it only
# from the account the caller names, and both sides are audited.
# (Startup without the token: t/config/startup.t.)
use Apache::Test qw(-withtestmore);
use JPKITest;
use JPKIAccount;
use HTTP::Request ();
use JSON::PP ();

plan tests => 43;

my $V  = 'jpki_acct_sqlite';
my $db = sqlite_db('sqlite');
my $u9 = serial_of('auth-user09');
my $u10 = serial_of('auth-user10');
my $token = api_token();
my $link = { op => 'link', account => 'api-a', auth_serial => $u9 };

sub rows { join ',', sort(sqlite($db, 'SELECT serial || "=" || account FROM jpki_serial')) }
sub pairs { my %h = @_; join ',', sort map { "$_=$h{$_}" } keys %h }

# --- no token, wrong token, other schemes: 401, nothing changes ----------------------
my @bad = (
    ['no Authorization header',     undef],
    ['wrong token',                 'Bearer ' . ('0' x 64)],
    ['token with a byte more',      "Bearer ${token}0"],
    ['token prefix',                'Bearer ' . substr($token, 0, 63)],
    ['Basic scheme with the token', 'Basic ' . b64("x:$token")],
    ['empty Bearer',                'Bearer '],
);
for my $b (@bad) {
    my ($name, $auth) = @$b;
    my $mark = error_log_mark();
    my $res = api($V, $link, Authorization => $auth);
    is $res->code, 401, "$name: 401";
    is eval { json_of($res)->{error} } // '', 'account_api_unauthenticated', "$name: account_api_unauthenticated";
    like error_log_since($mark), qr/JPKI0772: jpki-account: request refused/, "$name: logged";
}
is rows(), '', 'no refused request wrote anything';
my $res = api($V, $link, Authorization => undef);
like $res->header('WWW-Authenticate') // '', qr/^Bearer realm="jpki-account"/, 'WWW-Authenticate: Bearer';
# even a GET without the token learns nothing (401, not 405)
is ua()->get(ssl_url('/internal/account', $V))->code, 401, 'GET without the token: 401 before anything else';

my $mark = error_log_mark();
api($V, $link, Authorization => "Bearer ${token}0");
my $log = error_log_since($mark);
like $log, qr/JPKI0901: audit: \{(?=[^\n]*"event":"account_api_refused")(?=[^\n]*"code":"account_api_unauthenticated")(?=[^\n]*"client_ip":"127\.0\.0\.1")/,
    'the refusal is audited (who: client address)';
unlike $log, qr/\Q$token\E/, 'the token is never logged';

# --- the right token ---------------------------------------------------------------
$res = api($V, $link);
is $res->code, 200, 'right token: link => 200' or diag $res->as_string;
is rows(), "$u9=api-a", '... the serial is linked';
is api($V, $link, Authorization => "bearer  $token ")->code, 200,
    'scheme case-insensitive, surrounding blanks ignored';

# --- link never moves a serial ---------------------------------------------------------
$mark = error_log_mark();
$res = api($V, { op => 'link', account => 'api-b', auth_serial => $u10, sign_serial => undef });
is $res->code, 200, 'another account with another serial';
$res = api($V, { op => 'link', account => 'api-b', auth_serial => $u9 });
is $res->code, 409, 'link of a serial that belongs to another account: 409';
is json_of($res)->{error}, 'account_link_conflict', '... account_link_conflict';
is rows(), pairs($u9 => 'api-a', $u10 => 'api-b'), '... nothing moved';
like error_log_since($mark), qr/JPKI0774: jpki-account link refused: serial=\Q$u9\E is linked to account=api-a/,
    '... logged';

# --- relink: explicit, from the named account only, audited --------------------------
is api($V, { op => 'relink', account => 'api-b', auth_serial => $u9 })->code, 400,
    'relink without from_account: 400';
$res = api($V, { op => 'relink', account => 'api-b', from_account => 'api-c', auth_serial => $u9 });
is $res->code, 409, 'relink from the wrong account: 409';
is json_of($res)->{error}, 'account_link_conflict', '... account_link_conflict';
is rows(), pairs($u9 => 'api-a', $u10 => 'api-b'), '... nothing moved';
$mark = error_log_mark();
$res = api($V, { op => 'relink', account => 'api-b', from_account => 'api-a', auth_serial => $u9 });
is $res->code, 200, 'relink from the right account: 200' or diag $res->as_string;
is rows(), pairs($u9 => 'api-b', $u10 => 'api-b'), '... moved';
$log = error_log_since($mark);
like $log, qr/JPKI0760: serial=\Q$u9\E moved from account=api-a to account=api-b/, '... logged';
like $log, qr/"event":"serial_unlinked"(?=[^\n]*"serial":"\Q$u9\E")(?=[^\n]*"account":"api-a")/,
    '... audited: unlinked from api-a';
like $log, qr/"event":"serial_relinked"(?=[^\n]*"serial":"\Q$u9\E")(?=[^\n]*"account":"api-b")/,
    '... audited: relinked to api-b';

# --- mounted where httpd -t cannot see it, on a host without the token ----------------
{
    my $dir = Apache::Test::vars()->{serverroot} . '/state/ht-api';
    mkdir $dir;
    open my $fh, '>', "$dir/.htaccess" or die "$dir/.htaccess: $!";
    print $fh "SetHandler jpki-account\n";
    close $fh;
    chmod 0755, $dir;
    chmod 0644, "$dir/.htaccess";
    my $mark = error_log_mark();
    my $req = HTTP::Request->new(POST => ssl_url('/ht-api/x', 'jpki_acct_cold'));
    $req->header('Content-Type' => 'application/json', Authorization => "Bearer $token");
    $req->content(JSON::PP::encode_json($link));
    my $res = ua()->request($req);
    is $res->code, 503, '.htaccess mount on a host without JPKIAccountAPIToken: 503';
    is eval { json_of($res)->{error} } // '', 'account_api_unconfigured', '... account_api_unconfigured';
    like error_log_since($mark), qr/JPKI0773: jpki-account: request refused: JPKIAccountAPIToken is not set/,
        '... logged';
    unlink "$dir/.htaccess";
}
