use strict;
use warnings FATAL => 'all';

# Registration (issue: accounts): JPKIUnknownCertificate register gives a
# registration session without REMOTE_USER that only JPKIRegistration
# locations accept; JPKIRegistration Signing verifies a proof made with the
# card's signing key and hands the 4 facts to that request only; the site
# links the account through the jpki-account endpoint and the session
# becomes an account session.
use Apache::Test qw(-withtestmore);
use Encode ();
use JPKITest;
use JPKIAccount;
use utf8;

plan tests => 40;

my $V   = 'jpki_acct_reg';
my $db  = sqlite_db('reg');
my $bob = serial_of('auth-bob');
my $sbob = serial_of('sign-bob');

# --- login with an unknown certificate: a registration session -----------------
my $ua = ua();
my $res = alogin($ua, $V, cert => 'auth-bob');
is $res->code, 200, 'unknown certificate logs in (register mode)' or diag $res->as_string;
is json_of($res)->{registration}, JSON::PP::true(), '... the answer says registration';

$res = aget($ua, $V, '/protected/env');
is $res->code, 403, 'a registration session is refused outside registration locations';
is $res->header('X-JPKI-Error'), 'no_account', '... no_account';

$res = aget($ua, $V, '/register/env');
is $res->code, 200, 'JPKIRegistration On accepts it';
my $env = json_of($res);
ok !exists $env->{REMOTE_USER}, '... with no REMOTE_USER';
is $env->{JPKI_REGISTRATION}, '1', '... JPKI_REGISTRATION=1';
is $env->{JPKI_CERT_SERIAL}, $bob, '... and the verified certificate facts';
ok !exists $env->{JPKI_ACCOUNT}, '... no JPKI_ACCOUNT';

# --- the signing-certificate step ----------------------------------------------
sub sign_headers {
    my ($ua, %o) = @_;
    my ($ch) = json_of($ua->get(ssl_url('/jpki/challenge', $V)))->{challenge};
    my $cert = $o{cert} || 'sign-bob';
    my %p = card_proof($o{key} || $cert, $ch, vhost => $V, origin => $o{origin});
    return ('X-JPKISign-Challenge' => $o{challenge} || $ch,
            'X-JPKISign-Certificate' => b64(pki_der($cert)),
            'X-JPKISign-Signature' => $p{signature},
            ($o{no_client_data} ? () : ('X-JPKISign-ClientData' => $p{client_data})));
}

$res = aget($ua, $V, '/register-sign/env');
is $res->code, 400, 'JPKIRegistration Signing without a proof => 400';
is $res->header('X-JPKI-Error'), 'sign_proof_missing', '... sign_proof_missing';

# the signing proof is origin-bound like a login (X-JPKISign-ClientData)
$res = aget($ua, $V, '/register-sign/env', sign_headers($ua, no_client_data => 1));
is $res->code, 400, 'signing proof over the bare challenge (no client data) => 400';
is $res->header('X-JPKI-Error'), 'client_data_missing', '... client_data_missing';
$res = aget($ua, $V, '/register-sign/env', sign_headers($ua, origin => 'https://phish.localhost'));
is $res->code, 401, 'signing proof made for another origin => 401';
is $res->header('X-JPKI-Error'), 'origin_mismatch', '... origin_mismatch';

$res = aget($ua, $V, '/register-sign/env', sign_headers($ua, key => 'auth-bob'));
is $res->code, 401, 'proof signed with another key => 401';
is $res->header('X-JPKI-Error'), 'signature_invalid', '... signature_invalid';
$res = aget($ua, $V, '/register-sign/env', sign_headers($ua, cert => 'auth-bob'));
is $res->header('X-JPKI-Error'), 'cert_wrong_type', 'user-authentication certificate as signing proof => cert_wrong_type';

my $mark = error_log_mark();
my %h = sign_headers($ua);
$res = aget($ua, $V, '/register-sign/env', %h);
is $res->code, 200, 'valid signing proof => 200' or diag $res->as_string;
$env = json_of($res);
is $env->{JPKI_NAME}, "山田\x{3000}太郎", 'JPKI_NAME';
is $env->{JPKI_NAME_ALT}, '00000', 'JPKI_NAME_ALT';
is $env->{JPKI_ADDRESS}, '大阪府大阪市北区中之島一丁目３番２０号', 'JPKI_ADDRESS';
is $env->{JPKI_ADDRESS_ALT}, '0' x 19, 'JPKI_ADDRESS_ALT';
is $env->{JPKI_BIRTH_DATE}, '2004-02-29', 'JPKI_BIRTH_DATE (ISO 8601)';
is $env->{JPKI_SEX}, '1', 'JPKI_SEX';
is $env->{JPKI_SIGN_CERT_SERIAL}, $sbob, 'JPKI_SIGN_CERT_SERIAL';
ok !exists $env->{REMOTE_USER}, 'still no REMOTE_USER';
ok !(grep { /JPKISIGN/ } keys %$env), 'the proof headers do not reach the backend';
my $log = error_log_since($mark);
like $log, qr/JPKI0750: registration: signing certificate serial=\Q$sbob\E verified/, 'verification logged';
my ($n8, $a8) = map { Encode::encode('UTF-8', $_) } @$env{qw(JPKI_NAME JPKI_ADDRESS)};
unlike $log, qr/\Q$n8\E|\Q$a8\E|2004-02-29|420040229/, 'no name, address or birth date in the log';

$res = aget($ua, $V, '/register-sign/env', %h);
is $res->header('X-JPKI-Error'), 'challenge_replayed', 'the same proof again => challenge_replayed';
$env = json_of(aget($ua, $V, '/register/env'));
ok !exists $env->{JPKI_NAME} && !exists $env->{JPKI_BIRTH_DATE}, 'the facts are not in the session (next request has none)';

# --- the site creates the account and links both certificates --------------------
$res = api($V, { op => 'link', account => 'cust-0001', auth_serial => $bob, sign_serial => $sbob,
                 birth_date => '2004-02-29' });
is $res->code, 200, 'link auth + sign serials to the new account' or diag $res->as_string;
is_deeply [sqlite($db, "SELECT serial || ' ' || cert_type FROM jpki_serial ORDER BY cert_type")],
    ["$bob auth", "$sbob sign"], 'both serials recorded';
is_deeply [sqlite($db, "SELECT birth_date FROM jpki_account WHERE account = 'cust-0001'")],
    ['2004-02-29'], 'birth date stored with the account';

$res = aget($ua, $V, '/protected/env');
is $res->code, 200, 'the registration session became an account session';
is json_of($res)->{REMOTE_USER}, 'cust-0001', '... REMOTE_USER is the new account';
is aget($ua, $V, '/adult/env')->code, 200, 'age check from the stored birth date';

# --- TLS login of an unknown certificate ---------------------------------------------
$res = ua(cert => 'auth-carol')->get(ssl_url('/register/env', $V));
is $res->code, 200, 'TLS login of an unknown certificate on a registration location => 200';
ok !exists json_of($res)->{REMOTE_USER}, '... as a registration session';
