use strict;
use warnings FATAL => 'all';

# Spoofing protection (issue: export): inbound headers that could be
# mistaken for the identity headers (the configured prefixes, compared
# case-insensitively with '-' and '_' alike, and the REMOTE_USER-style
# headers) are removed on every request path, so no backend ever sees them.
# Headers are written on the wire exactly as below (raw_get): LWP would
# canonicalise the names.
use Apache::Test qw(-withtestmore);
use File::Temp qw(tempdir);
use JPKITest;
use JPKIExport;

my @spoof = (
    [ 'X-JPKI-Account',    'admin-a' ],
    [ 'X_JPKI_ACCOUNT',    'admin-b' ],
    [ 'x-jpki-account',    'admin-c' ],
    [ 'Remote-User',       'admin-d' ],
    [ 'REMOTE_USER',       'admin-e' ],
    [ 'X-Remote-User',     'admin-f' ],
    [ 'x_remote_user',     'admin-g' ],
    [ 'X-Jpki-Cert-Serial','admin-h' ],
    [ 'x-JPKI_status',     'admin-i' ],
    [ 'Bank-Auth-Account', 'admin-j' ],
    [ 'BANK_USER',         'admin-k' ],
);

# [path, with session?, what it is]
my @paths = (
    [ '/pubapp/',                   0, 'unauthenticated, reverse proxy' ],
    [ '/app/',                      1, 'authenticated, reverse proxy' ],
    [ '/bankapp/',                  1, 'authenticated, reverse proxy, other prefix' ],
    [ '/public/env.cgi',            0, 'unauthenticated, CGI' ],
    [ '/both/env.cgi',              1, 'authenticated, CGI' ],
    [ '/err-public/missing',        0, 'error document (public) via reverse proxy' ],
    [ '/err-protected/missing',     1, 'error document of a protected location' ],
    [ '/err-app/missing',           1, 'protected error document' ],
    [ '/err-cgi/missing',           0, 'CGI error document' ],
    [ '/public/jpki-redirect.cgi',  0, 'internal redirect (CGI local Location)' ],
    [ '/both/jpki-redirect.cgi?app',1, 'internal redirect into a protected app' ],
    [ '/jpki-export/',              1, 'subrequest (DirectoryIndex)' ],
    [ '/env/env.cgi',               0, 'protected, no session: the login redirect' ],
);

plan tests => 4 * @paths + 9;

my $m = manifest();
my $alice = "$m->{'auth-alice-1'}{issuer_key_id}:$m->{'auth-alice-1'}{serial}";
my $V = 'jpki_export';

my $ua = ua();
is login_on($ua, $V, cert => 'auth-alice-1')->code, 200, 'logged in (challenge)';
my $cookie = session_cookie($ua);
ok $cookie, 'have a session cookie';

my $mark = error_log_mark();
for my $p (@paths) {
    my ($path, $auth, $what) = @$p;
    my @h = @spoof;
    push @h, [ 'Cookie', $cookie ] if $auth;
    my $res = raw_get($V, $path, @h);
    ok $res->code =~ /^(200|302|404)$/, "$what: answered (" . $res->code . ")"
        or diag $res->as_string;
    my $text = $res->as_string;
    unlike $text, qr/admin-[a-k]/, "$what: no spoofed value reached the backend or the response";
    # what the backend saw: echoed request headers (proxy) or HTTP_* (CGI)
    my $body = json_of($res);
    my @seen = ($res->headers->header_field_names, keys %$body);
    my @ours = grep { my $n = lc($_) =~ tr/_/-/r;
                      $n =~ /^(x-jpki-|bank-auth-|http-x-jpki-|http-bank-auth-)/
                      || $n =~ /^(http-)?(x-remote-user|remote-user|bank-user)$/ } @seen;
    if ($auth && $path !~ m{^/(err-protected|both/env|both/jpki-redirect|jpki-export)}) {
        ok scalar(@ours), "$what: the real identity headers are there";
        my @acct = grep { (lc($_) =~ tr/_/-/r) =~ /^(http-)?(x-jpki-account|x-remote-user|bank-auth-account|bank-user)$/ } @ours;
        ok @acct && !(grep { my @v = $res->header($_) ? ($res->header($_)) : ($body->{$_});
                             @v != 1 || $v[0] ne $alice } @acct),
            "$what: and they carry the real account (@acct)";
    }
    elsif ($auth) {
        # CGI or redirect targets: every identity value is the real one
        ok !(grep { defined $body->{$_} && $body->{$_} =~ /admin/ } keys %$body),
            "$what: CGI environment clean";
        ok !(grep { /^(HTTP_)?(REMOTE_USER)$/ && $body->{$_} ne $alice } keys %$body),
            "$what: REMOTE_USER is the real account";
    }
    else {
        is scalar(@ours), 0, "$what: no identity header at all" or diag "@ours";
        ok !exists $body->{REMOTE_USER}, "$what: no REMOTE_USER";
    }
}

# the removal is logged (names, never values) and counted
my $log = error_log_since($mark);
like $log, qr/JPKI0801: removed \d+ inbound header\(s\).*X_JPKI_ACCOUNT/,
    'the removal is logged with the header names';
unlike $log, qr/admin-[a-k]/, 'the spoofed values are never logged';

# a header that merely resembles ours is left alone
my $res = raw_get($V, '/pubapp/', [ 'X-JPKIX', 'keep' ], [ 'Remote-User-Agent', 'keep2' ]);
is $res->header('X-JPKIX'), 'keep', 'X-JPKIX (not the prefix X-JPKI-) is passed on';
is $res->header('Remote-User-Agent'), 'keep2', 'Remote-User-Agent is passed on';

# --- an empty prefix is refused at startup -----------------------------------------
my $vars = Apache::Test::vars();
my $dir = tempdir(CLEANUP => 1);
for my $case ([ 'JPKIHeaderPrefix ""', 'server config' ],
              [ "<Location /a>\nJPKIHeaderPrefix \"\"\n</Location>", 'location' ]) {
    open my $fh, '>', "$dir/httpd.conf" or die $!;
    print $fh <<"EOC";
ServerRoot $dir
ServerName localhost
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule authn_core_module /usr/lib/apache2/modules/mod_authn_core.so
LoadModule socache_shmcb_module /usr/lib/apache2/modules/mod_socache_shmcb.so
LoadModule jpki_module $vars->{serverroot}/../mod_jpki.so
Listen 127.0.0.1:1
ErrorLog $dir/error_log
PidFile $dir/httpd.pid
$case->[0]
EOC
    close $fh;
    my $out = `$vars->{httpd} -t -f $dir/httpd.conf 2>&1`;
    ok $? != 0 && $out =~ /JPKIHeaderPrefix: the prefix must not be empty/,
        "empty JPKIHeaderPrefix ($case->[1]) stops httpd -t, naming the directive" or diag $out;
}
# .htaccess cannot change the prefix (the protection must know it at startup)
open my $fh, '>', "$dir/httpd.conf" or die $!;
print $fh "ServerRoot $dir\nServerName localhost\n"
    . "LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so\n"
    . "LoadModule jpki_module $vars->{serverroot}/../mod_jpki.so\n"
    . "Listen 127.0.0.1:1\nErrorLog $dir/error_log\nPidFile $dir/httpd.pid\n";
close $fh;
my @cmds = `$vars->{httpd} -L -f $dir/httpd.conf 2>&1`;
my $txt = join '', @cmds;
my ($prefix_ctx) = $txt =~ /^JPKIHeaderPrefix .*?\n((?:\t.*\n)+)/m;
unlike $prefix_ctx // '', qr/htaccess/i, 'JPKIHeaderPrefix is not allowed in .htaccess';
