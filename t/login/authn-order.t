use strict;
use warnings FATAL => 'all';

# AuthType JPKI decisions that do not depend on the request chain
# (issue 9, items 8 and 11):
# - a client certificate presented on the connection takes priority over a
#   session cookie of another identity (planted, unknown, foreign): the
#   certificate is judged and the user is logged in as its owner;
# - a session of the same certificate is used as is (no new session);
# - 401 login_required is a JSON body (application/json) for non-GET
#   requests and JSON clients, whatever the Accept header says.
use Apache::Test qw(-withtestmore);
use HTTP::Request ();
use JPKITest;

plan tests => 20;

my $m = manifest();
my %serial = map { $_ => "$m->{$_}{issuer_key_id}:$m->{$_}{serial}" } qw(auth-alice-1 auth-bob);

sub cookie_of {
    my ($ua) = @_;
    my $c;
    $ua->cookie_jar->scan(sub { $c = "$_[1]=$_[2]" if $_[1] eq '__Host-jpki_session' });
    return $c;
}

# --- a planted session of another identity + the victim's card ---------------------
# (the certificate's login ends the planted session: one per case)
for my $path ('/protected/env', '/tls-only/env') {
    my $attacker = ua();
    login($attacker, cert => 'auth-alice-1');
    my $planted = cookie_of($attacker);
    ok $planted, "$path: the attacker logged in with her own card";
    my $mark = error_log_mark();
    my $res = ua(cert => 'auth-bob', no_cookies => 1)->get(ssl_url($path), Cookie => $planted);
    is $res->code, 200, "$path: the victim's certificate with the planted cookie => 200" or diag $res->as_string;
    is json_of($res)->{REMOTE_USER}, $serial{'auth-bob'}, "$path: logged in as the certificate's owner";
    is json_of($res)->{JPKI_AUTH_METHOD}, 'tls', "$path: by the certificate";
    like error_log_since($mark), qr/JPKI0211: session \w+ is not the presented client certificate's/,
        "$path: logged";
}

# --- an unknown (made-up) session id + a certificate ---------------------------------------
my $res = ua(cert => 'auth-bob', no_cookies => 1)->get(ssl_url('/protected/env'),
    Cookie => '__Host-jpki_session=' . ('A' x 43));
is $res->code . ' ' . (json_of($res)->{REMOTE_USER} // ''), "200 $serial{'auth-bob'}",
    'unknown session id + certificate => logged in by the certificate';

# --- the session of that very certificate is kept --------------------------------------------
my $ua = ua(cert => 'auth-bob');
is $ua->get(ssl_url('/protected/env'))->code, 200, 'TLS login';
my $own = cookie_of($ua);
$res = ua(cert => 'auth-bob', no_cookies => 1)->get(ssl_url('/protected/env'), Cookie => $own);
is $res->code, 200, 'certificate + its own session => 200';
ok !defined $res->header('Set-Cookie'), 'no new session: the existing one is used';

# --- 401 login_required: JSON whatever the Accept header says ----------------------------------
for my $case ([ 'POST', 'text/html,application/xhtml+xml' ], [ 'GET', 'application/json' ]) {
    my ($method, $accept) = @$case;
    my $req = HTTP::Request->new($method => ssl_url('/protected/env'));
    $req->header(Accept => $accept);
    $req->content('a=1') if $method eq 'POST';
    $res = ua()->request($req);
    is $res->code, 401, "$method Accept: $accept, no session => 401";
    like $res->header('Content-Type') // '', qr{^application/json}, "$method: Content-Type application/json";
    is json_of($res)->{error}, 'login_required', "$method: {\"error\":\"login_required\"}" or diag $res->as_string;
}
