use strict;
use warnings FATAL => 'all';

# Audit log (issue: export/audit): one JSON line per decision, written to
# JPKIAuditLog (a file here; a rotatelogs pipe on vhost jpki_export_pipe;
# the error log where it is not set), with UTC ms time, request id,
# normalised serial, account, and never personal data or certificate text.
use Apache::Test qw(-withtestmore);
use HTTP::Request ();
use JSON::PP ();
use MIME::Base64 qw(encode_base64);
use POSIX ();
use JPKITest;
use JPKIExport;

plan tests => 36;

my $m = manifest();
my $ser = sub { "$m->{$_[0]}{issuer_key_id}:$m->{$_[0]}{serial}" };
my $V = 'jpki_export';
my $LOG = 'jpki-audit.log';
my @before = audit_read($LOG);
my $emark = error_log_mark();
my $new = sub { my @l = wait_for_lines($LOG, @before + $_[0]); return @l[@before .. $#l] };

# --- login ok (challenge), a refusal (TLS), logout ----------------------------------
my $ua = ua();
is login_on($ua, $V, cert => 'auth-alice-1')->code, 200, 'challenge login';
my $res = ua(cert => 'bad-expired')->get(ssl_url('/env/env.cgi', $V));
is $res->code, 403, 'expired certificate refused';
my $req = HTTP::Request->new(POST => ssl_url('/jpki/logout', $V));
is $ua->request($req)->code, 200, 'logout';

my @l = $new->(3);
my ($ok) = grep { $_->{json} && $_->{json}{event} eq 'login_ok' } @l;
ok $ok, 'login_ok line written' or diag join "\n", map { $_->{raw} } @l;
$ok = $ok->{json} || {};
is $ok->{code}, 'ok', 'login_ok: code ok';
is $ok->{method}, 'challenge', 'login_ok: method';
is $ok->{serial}, $ser->('auth-alice-1'), 'login_ok: normalised serial';
is $ok->{account}, $ser->('auth-alice-1'), 'login_ok: account';
like $ok->{time} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'time: UTC with milliseconds';
my $now = POSIX::strftime('%Y-%m-%dT%H', gmtime);
my $prev = POSIX::strftime('%Y-%m-%dT%H', gmtime(time - 3600));
like $ok->{time} // '', qr/^(\Q$now\E|\Q$prev\E)/, 'time: is UTC now';
like $ok->{request_id} // '', qr/^[A-Za-z0-9+\/@\-_]{6,}$/, 'request_id present';
is $ok->{client_ip}, '127.0.0.1', 'client_ip';
like $ok->{vhost} // '', qr/:\d+$/, 'vhost';

my ($ref) = grep { $_->{json} && $_->{json}{event} eq 'login_refused' } @l;
$ref = $ref ? $ref->{json} : {};
is $ref->{code}, 'cert_expired', 'login_refused: the stable code';
is $ref->{method}, 'tls', 'login_refused: method';
is $ref->{serial}, $ser->('bad-expired'), 'login_refused: serial of the refused certificate';
ok exists $ref->{account} && !defined $ref->{account}, 'login_refused: no account';

my ($out) = grep { $_->{json} && $_->{json}{event} eq 'logout' } @l;
$out = $out ? $out->{json} : {};
is $out->{serial}, $ser->('auth-alice-1'), 'logout: serial';
is $out->{account}, $ser->('auth-alice-1'), 'logout: account';
isnt $out->{request_id}, $ok->{request_id}, 'each request has its own id';

# --- personal data of the signing certificate never reaches a log ---------------------
# sign-alice carries name/address/birth date/sex (the 4 facts). Present it both
# ways: TLS (refused: cert_wrong_type) and in a challenge login body.
$res = ua(cert => 'sign-alice')->get(ssl_url('/env/env.cgi', $V));
is $res->code, 403, 'signing certificate refused for login (TLS)';
$res = login_on(ua(), $V, cert => 'sign-alice');
is $res->code, 401, 'signing certificate refused for login (challenge)';
@l = $new->(5);
is scalar(grep { $_->{json} && $_->{json}{event} eq 'login_refused'
                 && $_->{json}{code} eq 'cert_wrong_type' } @l), 2, 'both refusals audited';
my $der_b64 = encode_base64(pki_der('sign-alice'), '');
my @pii = ('番号', '花子', '東京都', '千代田', '永田町', '1980-02-17', '19800217', '319800217',
           '\\u756a\\u53f7', '\\u82b1\\u5b50', '\\u6771\\u4eac',
           'BEGIN CERTIFICATE', substr($der_b64, 200, 48), substr($der_b64, -120, 48));
my $audit_text = join "\n", map { $_->{raw} } audit_read($LOG);
my $elog = error_log_since($emark);
for my $where ([ 'audit log', $audit_text ], [ 'error log', $elog ]) {
    my @found = grep { index($where->[1], $_) >= 0 } @pii;
    is "@found", '', "$where->[0]: no name, address, birth date or certificate text";
}

# --- every line is one JSON object under PIPE_BUF, even from concurrent processes ----
my $n0 = scalar audit_read($LOG);
my @kids;
for my $k (1 .. 6) {
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        for (1 .. 4) { ua(cert => 'bad-expired')->get(ssl_url('/env/env.cgi', $V)) }
        POSIX::_exit(0);
    }
    push @kids, $pid;
}
waitpid $_, 0 for @kids;
my @all = wait_for_lines($LOG, $n0 + 24);
is scalar(@all) - $n0, 24, '24 concurrent refusals: 24 lines';
is scalar(grep { !$_->{json} } @all), 0, 'every line of the audit log is a JSON object';
is scalar(grep { length($_->{raw}) >= 4096 } @all), 0, 'every line is under PIPE_BUF';

# --- through a pipe: rotatelogs -----------------------------------------------------------
my $PIPE = 'jpki-audit-pipe.log';
my @pb = audit_read($PIPE);
my $bob_in_file = grep { ($_->{json}{serial} // '') eq $ser->('auth-bob') } audit_read($LOG);
$res = ua(cert => 'auth-bob')->get(ssl_url('/tls/env.cgi', 'jpki_export_pipe'));
is $res->code, 200, 'TLS login on the vhost with a piped audit log';
my @pl = wait_for_lines($PIPE, @pb + 1);
my ($bob) = grep { $_->{json} && ($_->{json}{serial} // '') eq $ser->('auth-bob') } @pl[@pb .. $#pl];
ok $bob, 'rotatelogs wrote the line' or diag join "\n", map { $_->{raw} } @pl;
is $bob && $bob->{json}{event}, 'login_ok', 'piped line: login_ok';
is $bob && $bob->{json}{method}, 'tls', 'piped line: method tls';
is scalar(grep { ($_->{json}{serial} // '') eq $ser->('auth-bob') } audit_read($LOG)), $bob_in_file,
    'the other vhost\'s audit file did not get it';

# --- no JPKIAuditLog: the same line in the error log, and JPKI0201 stays ---------------------
$emark = error_log_mark();
$res = ua(cert => 'auth-carol')->get(ssl_url('/tls-only/env'));
is $res->code, 200, 'TLS login on the main test vhost (no JPKIAuditLog)';
$res = ua(cert => 'bad-expired')->get(ssl_url('/tls-only/env'));
$elog = error_log_since($emark);
my ($jl) = $elog =~ /JPKI0901: audit: (\{[^\n]*"event":"login_ok"[^\n]*\})/;
ok $jl && eval { JSON::PP::decode_json($jl)->{serial} eq $ser->('auth-carol') },
    'error-log fallback: JPKI0901 with the JSON line' or diag $elog;
like $elog, qr/JPKI0201: login refused: code=cert_expired method=tls/, 'JPKI0201 refusal line kept';
