use strict;
use warnings FATAL => 'all';

# The sample backends of examples/backends/ (PHP, Python, Java) behind a
# real mod_jpki login (t/conf/jpki-backends.conf.in): each prints the account
# and serial it read, for a TLS client-certificate login and a challenge
# login; identity headers, query parameters and a "Remote-User" sent by the
# client never reach them; reached without AuthType JPKI in front, each
# refuses. Python runs as a CGI script (environment variables), PHP through
# php-cgi and mod_actions (environment variables), Java as a reverse-proxied
# com.sun.net.httpserver application started here with `java Whoami.java`
# (request headers).
use Apache::Test qw(-withtestmore);
use IO::Socket::INET ();
use POSIX ();
use Time::HiRes ();
use JPKITest;
use JPKIExport;

plan tests => 57;

my $V = 'jpki_backends';
my $m = manifest();
my $alice = "$m->{'auth-alice-1'}{issuer_key_id}:$m->{'auth-alice-1'}{serial}";
my $bob = "$m->{'auth-bob'}{issuer_key_id}:$m->{'auth-bob'}{serial}";
my $examples = Apache::Test::vars()->{serverroot} . '/../examples/backends';

# --- start the Java backend ---------------------------------------------------
my $jport = $ENV{JPKI_JAVA_PORT} or die 'JPKI_JAVA_PORT is not set (t/TEST.PL)';
my $t0 = Time::HiRes::time();
my $jpid = fork // die "fork: $!";
if (!$jpid) {
    open STDOUT, '>', Apache::Test::vars()->{t_logs} . '/whoami-java.log';
    open STDERR, '>&', \*STDOUT;
    { exec 'java', "$examples/java/Whoami.java", $jport; }
    POSIX::_exit(127);
}
END { if ($jpid) { local $?; kill "TERM", $jpid; waitpid $jpid, 0; } }
my $up;
for (1 .. 1200) {    # 120 s: compiling the source takes seconds on a busy box
    last if waitpid($jpid, POSIX::WNOHANG()) == $jpid;
    $up = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $jport, Timeout => 1)
        and last;
    Time::HiRes::sleep(0.1);
}
ok $up, 'java Whoami.java listens on its port';
diag sprintf 'java Whoami.java started in %.1f s', Time::HiRes::time() - $t0;

my %path = (python => '/py/whoami.py', php => '/php/whoami.php', java => '/java/whoami');
my %public = (python => '/py-public/whoami.py', php => '/php-public/whoami.php',
              java => '/java-public/whoami');

# "key: value" lines of a backend's answer
sub fields {
    my ($res) = @_;
    return { map { /^([a-z]+): (.*)$/ ? ($1 => $2) : () } split /\n/, $res->decoded_content };
}

# --- TLS client-certificate login: alice --------------------------------------
my $tls = ua(cert => 'auth-alice-1');
for my $b (qw(python php java)) {
    my $res = $tls->get(ssl_url($path{$b}, $V));
    is $res->code, 200, "$b: TLS login reaches the backend" or diag $res->as_string;
    my $f = fields($res);
    is $f->{backend}, $b, "$b: the sample answered";
    is $f->{account}, $alice, "$b: account read (REMOTE_USER / X-Remote-User)";
    is $f->{serial}, $alice, "$b: serial read (JPKI_CERT_SERIAL / X-JPKI-Cert-Serial)";
    is $f->{method}, 'tls', "$b: method tls";
}

# --- challenge login: bob -------------------------------------------------------
my $ua = ua();
is login_on($ua, $V, cert => 'auth-bob')->code, 200, 'challenge login as bob';
my $cookie = session_cookie($ua) or die 'no session cookie';
for my $b (qw(python php java)) {
    my $res = $ua->get(ssl_url($path{$b}, $V));
    my $f = fields($res);
    is $f->{account}, $bob, "$b: account after a challenge login" or diag $res->as_string;
    is $f->{serial}, $bob, "$b: serial after a challenge login";
    is $f->{method}, 'challenge', "$b: method challenge";
}

# --- spoofing: what the client sends never reaches the backend ---------------------
my @spoof = (['X-Remote-User', 'mallory'], ['Remote-User', 'mallory'],
             ['X-JPKI-Account', 'mallory'], ['X-JPKI-Cert-Serial', 'mallory'],
             ['x-jpki-auth-method', 'mallory'], ['X_JPKI_CERT_SERIAL', 'mallory'],
             ['X-JPKI-Status', 'mallory'], ['JPKI_ACCOUNT', 'mallory']);
my $q = '?REMOTE_USER=mallory&JPKI_ACCOUNT=mallory&JPKI_CERT_SERIAL=mallory';
for my $b (qw(python php java)) {
    my $res = raw_get($V, $path{$b} . $q, ['Cookie', $cookie], @spoof);
    is $res->code, 200, "$b: logged in, with spoofed headers and parameters"
        or diag $res->as_string;
    my $f = fields($res);
    is $f->{account}, $bob, "$b: the account is still the logged-in card's";
    is $f->{serial}, $bob, "$b: the serial is still the logged-in card's";
    unlike $res->decoded_content, qr/mallory/, "$b: nothing the client sent is printed";

    # the same without a session: the login page, the backend never runs
    $res = raw_get($V, $path{$b} . $q, @spoof);
    is $res->code, 302, "$b: no session, spoofed headers: sent to the login page";
    like $res->header('Location') // '', qr{^(?:https://[^/]+)?/login\.html\?return_to=},
        "$b: redirect to JPKILoginPage";

    # reached without AuthType JPKI in front: the backend itself refuses
    $res = raw_get($V, $public{$b} . $q, @spoof);
    is $res->code, 403, "$b: without mod_jpki in front the backend refuses"
        or diag $res->as_string;
    like $res->decoded_content, qr/^no identity from mod_jpki$/m, "$b: and says why";
    unlike $res->decoded_content, qr/mallory/, "$b: the spoofed identity is not used";
}

# --- php-cgi's Action is an internal redirect: an unprotected target gets no identity
my $res = $tls->get(ssl_url('/php-unprotected-action/whoami.php', $V));
is $res->code, 403, 'php: Action target without AuthType JPKI: the sample refuses'
    or diag $res->as_string;
like $res->decoded_content, qr/^no identity from mod_jpki$/m,
    'php: only REDIRECT_* copies arrived, which the sample does not trust';

# --- php-cgi cannot be called directly --------------------------------------------
$res = raw_get($V, '/php-cgi-public/php', ['X-Remote-User', 'mallory']);
is $res->code, 403, 'php-cgi without the Action (no REDIRECT_STATUS) is refused';
$res = raw_get($V, '/php-cgi-bin/php/php/whoami.php', ['Cookie', $cookie]);
is $res->code, 403, 'php-cgi called directly with a session is refused too';
