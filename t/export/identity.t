use strict;
use warnings FATAL => 'all';

# Identity export (issue: export): REMOTE_USER and the JPKI_* variables as
# environment variables (CGI) and, with JPKIPassIdentityAs, as request
# headers with a configurable prefix, to a CGI backend and to a backend
# reached through mod_proxy (vhost jpki_backend echoes what it received),
# on the direct path, a subrequest and internal redirects.
use Apache::Test qw(-withtestmore);
use File::Temp qw(tempdir);
use JPKITest;
use JPKIExport;

plan tests => 50;

my $m = manifest();
my $alice = "$m->{'auth-alice-1'}{issuer_key_id}:$m->{'auth-alice-1'}{serial}";
my $bob = "$m->{'auth-bob'}{issuer_key_id}:$m->{'auth-bob'}{serial}";
my $V = 'jpki_export';
my $url = sub { ssl_url($_[0], $V) };

# --- default: environment only ------------------------------------------------
my $ua = ua(cert => 'auth-alice-1');
my $res = $ua->get($url->('/env/env.cgi'));
is $res->code, 200, 'TLS login on the export vhost' or diag $res->as_string;
my $env = json_of($res);
is $env->{REMOTE_USER}, $alice, 'env: REMOTE_USER is the account';
is $env->{JPKI_ACCOUNT}, $alice, 'env: JPKI_ACCOUNT';
is $env->{JPKI_CERT_SERIAL}, $alice, 'env: JPKI_CERT_SERIAL';
is $env->{JPKI_AUTH_METHOD}, 'tls', 'env: JPKI_AUTH_METHOD';
ok !(grep { /^HTTP_X_JPKI_|^HTTP_X_REMOTE_USER$/ } keys %$env),
    'default (env): no identity request headers';

# --- both: the CGI sees the variables and the headers ---------------------------
$env = json_of($ua->get($url->('/both/env.cgi')));
is $env->{JPKI_ACCOUNT}, $alice, 'both: env JPKI_ACCOUNT';
is $env->{HTTP_X_JPKI_ACCOUNT}, $alice, 'both: X-JPKI-Account header';
is $env->{HTTP_X_REMOTE_USER}, $alice, 'both: X-Remote-User header carries REMOTE_USER';
is $env->{HTTP_X_JPKI_CERT_SERIAL}, $alice, 'both: X-JPKI-Cert-Serial';
is $env->{HTTP_X_JPKI_CERT_ISSUER}, $env->{JPKI_CERT_ISSUER}, 'both: X-JPKI-Cert-Issuer (DN unchanged)';
is $env->{HTTP_X_JPKI_CERT_TYPE}, 'auth', 'both: X-JPKI-Cert-Type';
like $env->{HTTP_X_JPKI_CERT_NOT_AFTER}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
    'both: X-JPKI-Cert-Not-After';
is $env->{HTTP_X_JPKI_STATUS}, 'unchecked', 'both: X-JPKI-Status';
is $env->{HTTP_X_JPKI_REGISTRATION}, '0', 'both: X-JPKI-Registration';
my @env_vars = sort grep { /^JPKI_/ } keys %$env;
my @hdr_vars = sort map { s/^HTTP_X_//r } grep { /^HTTP_X_JPKI_/ } keys %$env;
is_deeply \@hdr_vars, \@env_vars, 'both: one header for every JPKI_* variable';

# --- headers only: no JPKI_* environment ------------------------------------------
$env = json_of($ua->get($url->('/hdr/env.cgi')));
is $env->{HTTP_X_JPKI_ACCOUNT}, $alice, 'headers: X-JPKI-Account';
ok !(grep { /^JPKI_/ } keys %$env), 'headers: no JPKI_* environment variables';
is $env->{REMOTE_USER}, $alice, 'headers: REMOTE_USER is still the CGI user';

# --- reverse proxy ------------------------------------------------------------------
$res = $ua->get($url->('/app/'));
is $res->code, 200, 'proxied backend reached' or diag $res->as_string;
is $res->header('X-JPKI-Account'), $alice, 'backend received X-JPKI-Account';
is $res->header('X-Remote-User'), $alice, 'backend received X-Remote-User';
is $res->header('X-JPKI-Cert-Serial'), $alice, 'backend received X-JPKI-Cert-Serial';
is $res->header('X-JPKI-Auth-Method'), 'tls', 'backend received X-JPKI-Auth-Method';
is $res->header('X-JPKI-Probe'), '%E5%90%8D%E5%89%8D 100%25',
    'a non-ASCII value is percent-encoded (UTF-8), and % itself too';
is json_of($res)->{HTTP_X_JPKI_ACCOUNT}, $alice, 'backend CGI sees HTTP_X_JPKI_ACCOUNT';

# configurable prefix and REMOTE_USER header
$res = $ua->get($url->('/bankapp/'));
is $res->header('Bank-Auth-Account'), $alice, 'JPKIHeaderPrefix Bank-Auth-: Bank-Auth-Account';
is $res->header('Bank-Auth-Cert-Serial'), $alice, 'Bank-Auth-Cert-Serial';
is $res->header('Bank-User'), $alice, 'JPKIRemoteUserHeader Bank-User';
ok !defined $res->header('X-JPKI-Account'), 'no X-JPKI-* where another prefix is configured';
ok !defined $res->header('X-Remote-User'), 'no X-Remote-User where another header is configured';

# unauthenticated location: nothing
$res = $ua->get($url->('/pubapp/'));
is $res->code, 200, 'public proxied location';
ok !(grep { /^x-jpki-|^x-remote-user$/i } $res->headers->header_field_names),
    'public location: no identity headers';

# --- a challenge login (session cookie) on the proxied path ---------------------------
my $cua = ua();
is login_on($cua, $V, cert => 'auth-bob')->code, 200, 'challenge login as bob';
$res = $cua->get($url->('/app/'));
is $res->header('X-JPKI-Account'), $bob, 'session: backend receives bob';
is $res->header('X-JPKI-Auth-Method'), 'challenge', 'session: X-JPKI-Auth-Method challenge';

# --- subrequest: mod_dir's DirectoryIndex lookup --------------------------------------
$res = $cua->get($url->('/jpki-export/'));
is $res->code, 200, 'DirectoryIndex index.cgi (subrequest + fast redirect)' or diag $res->as_string;
$env = json_of($res);
is $env->{JPKI_ACCOUNT}, $bob, 'subrequest: JPKI_ACCOUNT';
is $env->{HTTP_X_JPKI_ACCOUNT}, $bob, 'subrequest: X-JPKI-Account';

# --- internal redirects ----------------------------------------------------------------
$res = $cua->get($url->('/err-app/missing'));
is json_of($res)->{HTTP_X_JPKI_ACCOUNT}, $bob, 'protected 404: the protected ErrorDocument ran';
is $res->header('X-JPKI-Account'), $bob, 'the identity follows the redirect to the error document';
$res = $cua->get($url->('/both/jpki-redirect.cgi?app'));
is $res->code, 200, 'CGI local redirect to the proxied app';
is $res->header('X-JPKI-Account'), $bob, 'the identity follows a CGI internal redirect';
$res = $cua->get($url->('/err-protected/missing'));
ok exists json_of($res)->{HTTP_HOST}, 'protected 404: the public ErrorDocument ran';
ok !defined $res->header('X-JPKI-Account'),
    'a public error document does not receive the identity';

# --- configuration errors stop httpd -t --------------------------------------------------
my $vars = Apache::Test::vars();
my @bad = (
    [ "JPKIPassIdentityAs sideways", qr/JPKIPassIdentityAs: 'sideways' is not env, headers or both/ ],
    [ "JPKIRemoteUserHeader \"X User\"", qr/JPKIRemoteUserHeader: 'X User' is not usable/ ],
    [ "JPKIHeaderPrefix X-JPKI:", qr/JPKIHeaderPrefix: 'X-JPKI:' is not usable/ ],
    [ "JPKIFee 2 lots", qr/JPKIFee: 'lots' is not a whole number/ ],
);
for my $b (@bad) {
    my ($rc, $out) = httpd_configtest($b->[0]);
    ok $rc != 0 && $out =~ $b->[1], "httpd -t refuses: $b->[0]" or diag $out;
}
my ($rc, $out) = httpd_configtest("<Location /x>\nJPKIPassIdentityAs both\nJPKIHeaderPrefix Bank-\n"
                            . "JPKIRemoteUserHeader Bank-User\n</Location>\nJPKIFee 0 0");
is $rc, 0, 'valid export directives pass httpd -t' or diag $out;
