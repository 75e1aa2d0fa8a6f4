use strict;
use warnings FATAL => 'all';

# Session lifetimes and shared storage (issue: login):
# idle timeout, absolute lifetime, challenge lifetime, and a session that
# outlives a graceful restart when JPKICache is memcache.
use Apache::Test qw(-withtestmore);
use File::Temp qw(tempdir);
use HTTP::Request ();
use IO::Socket::INET ();
use JSON::PP ();
use POSIX ();
use JPKITest;

plan tests => 15;

# --- idle timeout (5 s) and challenge lifetime (5 s) on vhost jpki_idle ----------
sub login_on {
    my ($ua, $module, %o) = @_;
    my $r = $ua->get(ssl_url('/jpki/challenge', $module));
    my $ch = json_of($r)->{challenge};
    my $cert = $o{cert} || 'auth-alice-1';
    return ($ch, sub {
        my $body = { challenge => $ch, certificate => b64(pki_der($cert)),
                     card_proof($cert, $ch, vhost => $module) };
        my $req = HTTP::Request->new(POST => ssl_url('/jpki/login', $module));
        $req->header('Content-Type' => 'application/json');
        $req->content(JSON::PP::encode_json($body));
        return $ua->request($req);
    });
}

my $idle = ua();
my (undef, $do) = login_on($idle, 'jpki_idle');
is $do->()->code, 200, 'login on the 5 s idle-timeout host';
my $late = ua();
my ($late_ch, $late_login) = login_on($late, 'jpki_idle');    # used after 6 s

my $max = ua();
(undef, $do) = login_on($max, 'jpki_maxage');
my $r = $do->();
is $r->code, 200, 'login on the 10 s max-age host';
like join("\n", $r->header('Set-Cookie')), qr/other_session=[^;]+; Path=\/protected;/,
    'JPKISessionCookie name and path';

# keep the max-age session busy (every 2 s) for 12 s; leave the idle one alone 6 s
my $busy_ok = 1;
for my $i (1 .. 6) {
    sleep 2;
    my $code = $max->get(ssl_url('/protected/env', 'jpki_maxage'), Accept => 'application/json')->code;
    if ($i <= 4) { $busy_ok &&= $code == 200 }
    if ($i == 3) {
        my $mark = error_log_mark();
        is $idle->get(ssl_url('/protected/env', 'jpki_idle'), Accept => 'application/json')->code, 401,
            'session unused for 6 s ends (idle timeout 5 s)';
        like error_log_since($mark), qr/JPKI0901: audit: \{[^\n]*"event":"session_expired"/,
            'the expiry is an audit record';
        my $lr = $late_login->();
        is $lr->code, 401, 'a challenge older than JPKIChallengeLifetime is refused';
        is json_of($lr)->{error}, 'challenge_expired', 'challenge_expired';
    }
}
ok $busy_ok, 'an active session stays valid within its absolute lifetime';
is $max->get(ssl_url('/protected/env', 'jpki_maxage'), Accept => 'application/json')->code, 401,
    'an active session ends at JPKISessionMaxAge (10 s) all the same';

# an active session on the idle host survives past the idle timeout
my $active = ua();
(undef, $do) = login_on($active, 'jpki_idle');
$do->();
my $alive = 1;
for (1 .. 4) {
    sleep 2;
    $alive &&= $active->get(ssl_url('/protected/env', 'jpki_idle'))->code == 200;
}
ok $alive, 'a session used every 2 s outlives the 5 s idle timeout';

# --- memcache: a second httpd whose JPKICache is memcache ---------------------------
my $vars = Apache::Test::vars();
my $dir = tempdir(CLEANUP => 1);
chmod 0755, $dir;
my $mport = $ENV{JPKI_MEMCACHED_PORT};
my $mpid = fork // die;
if (!$mpid) {
    exec 'memcached', '-l', '127.0.0.1', '-p', $mport, '-U', '0', '-u', 'nobody', '-m', '16';
    die "memcached: $!";
}
for (1 .. 50) {
    last if IO::Socket::INET->new("127.0.0.1:$mport");
    select undef, undef, undef, 0.1;
}

my $hport = do {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1);
    my $p = $s->sockport;
    close $s;
    $p;
};
my $modules = '/usr/lib/apache2/modules';
my $ssl = "$vars->{sslca}/$vars->{sslcaorg}";
open my $c, '>', "$dir/httpd.conf" or die;
print $c <<"EOC";
ServerRoot $dir
ServerName localhost:$hport
Listen 127.0.0.1:$hport
PidFile $dir/httpd.pid
ErrorLog $dir/error_log
DefaultRuntimeDir $dir
User nobody
Group nogroup
LoadModule mpm_event_module $modules/mod_mpm_event.so
LoadModule authz_core_module $modules/mod_authz_core.so
LoadModule authz_user_module $modules/mod_authz_user.so
LoadModule authn_core_module $modules/mod_authn_core.so
LoadModule alias_module $modules/mod_alias.so
LoadModule cgid_module $modules/mod_cgid.so
LoadModule socache_memcache_module $modules/mod_socache_memcache.so
LoadModule socache_shmcb_module $modules/mod_socache_shmcb.so
LoadModule ssl_module $modules/mod_ssl.so
LoadModule jpki_module $vars->{serverroot}/../mod_jpki.so
SSLEngine on
SSLCertificateFile $ssl/certs/server.crt
SSLCertificateKeyFile $ssl/keys/server.pem
SSLSessionCache none
JPKITrustedCA @{[pki('trust-all.pem')]}
JPKIStatusProvider none
JPKICache memcache:127.0.0.1:$mport
<Location /jpki/challenge>
    SetHandler jpki-challenge
</Location>
<Location /jpki/login>
    SetHandler jpki-login
</Location>
ScriptAlias /protected/env "$vars->{serverroot}/cgi-bin/env.cgi"
<Location /protected>
    AuthType JPKI
    AuthName "My Number Card"
    Require valid-user
</Location>
EOC
close $c;
my $httpd = $vars->{httpd};
system($httpd, '-f', "$dir/httpd.conf", '-k', 'start') == 0 or die "httpd start failed";
my $base = "https://localhost:$hport";
my $mua = ua();
for (1 .. 50) {
    last if $mua->get("$base/jpki/challenge")->code == 200;
    select undef, undef, undef, 0.1;
}
my $mch = json_of($mua->get("$base/jpki/challenge"))->{challenge};
my $req = HTTP::Request->new(POST => "$base/jpki/login");
$req->header('Content-Type' => 'application/json');
$req->content(JSON::PP::encode_json({ challenge => $mch, certificate => b64(pki_der('auth-bob')),
                                      card_proof('auth-bob', $mch, origin => $base) }));
is $mua->request($req)->code, 200, 'login on a server whose JPKICache is memcache';
is $mua->get("$base/protected/env")->code, 200, 'session works';

# graceful restart: new generation, new socache instances, same memcached
open my $pf, '<', "$dir/httpd.pid" or die;
my $ppid = <$pf>;
chomp $ppid;
kill USR1 => $ppid;
my $gen_ok = 0;
for (1 .. 50) {
    select undef, undef, undef, 0.2;
    my $log = do { local $/; open my $l, '<', "$dir/error_log" or die; <$l> };
    my $n = () = $log =~ /resuming normal operations/g;
    if ($n >= 2) { $gen_ok = 1; last }
}
ok $gen_ok, 'graceful restart happened (a second generation started)';
my $after = $mua->get("$base/protected/env");
is $after->code, 200, 'the session outlives a graceful restart with memcache';
is json_of($after)->{JPKI_AUTH_METHOD}, 'challenge', 'same session data';

system($httpd, '-f', "$dir/httpd.conf", '-k', 'stop');
for (1 .. 50) { last unless kill 0, $ppid; select undef, undef, undef, 0.1 }
kill TERM => $mpid;
waitpid $mpid, 0;
