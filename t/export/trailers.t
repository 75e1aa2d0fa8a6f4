use strict;
use warnings FATAL => 'all';

# Identity headers sent as trailers of a chunked request body (issue 9,
# item 10). With MergeTrailers on, httpd adds the trailers to the request
# headers once the body is read: after mod_jpki's inbound scrub. The
# trailers that could be mistaken for identity headers are removed at that
# moment, before any module sees the merged headers; other trailers are
# merged as configured. Checked in what the front host holds afterwards
# (mod_headers at response time, the access log), what a reverse-proxied
# backend and a CGI receive, anonymous and authenticated.
use Apache::Test qw(-withtestmore);
use IO::Socket::SSL ();
use HTTP::Response ();
use JPKITest;

my $V = 'jpki_trailers';
my @paths = (
    [ '/pubapp/',         0, 'anonymous, reverse proxy' ],
    [ '/public/ssl-env.cgi',  0, 'anonymous, CGI' ],
    [ '/app/',            1, 'client certificate, reverse proxy, identity headers' ],
    [ '/both/ssl-env.cgi',  1, 'client certificate, CGI, identity headers and env' ],
);

plan tests => 5 * @paths + 3;

my $m = manifest();
my $bob = "$m->{'auth-bob'}{issuer_key_id}:$m->{'auth-bob'}{serial}";

sub chunked_post {
    my ($path, $cert) = @_;
    my $url = ssl_url($path, $V);
    $url =~ m{^https://([^/:]+):(\d+)/} or die $url;
    my ($host, $port) = ($1, $2);
    my $vars = Apache::Test::vars();
    my $s = IO::Socket::SSL->new(PeerHost => '127.0.0.1', PeerPort => $port, SSL_hostname => 'localhost',
                                 SSL_ca_file => "$vars->{sslca}/$vars->{sslcaorg}/certs/ca.crt",
                                 ($cert ? (SSL_cert_file => pki("$cert.crt"), SSL_key_file => pki("$cert.key")) : ()),
                                 Timeout => 30)
        or die "connect: $IO::Socket::SSL::SSL_ERROR";
    print $s "POST $path HTTP/1.1\r\nHost: $host:$port\r\nConnection: close\r\n"
           . "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
           . "Trailer: X-Remote-User, X-JPKI-Account, X_JPKI_Cert_Serial, X-Keep-Trailer\r\n\r\n"
           . "5\r\nhello\r\n0\r\n"
           . "X-Remote-User: evil-trailer-a\r\nX-JPKI-Account: evil-trailer-b\r\n"
           . "X_JPKI_Cert_Serial: evil-trailer-c\r\nX-Keep-Trailer: kept\r\n\r\n";
    local $/;
    my $raw = <$s>;
    close $s;
    $raw =~ s/^HTTP\/\S+/HTTP\/1.1/;
    return HTTP::Response->parse($raw);
}

my $log = Apache::Test::vars()->{t_logs} . '/jpki-trailers.log';
my $mark = error_log_mark();
for my $p (@paths) {
    my ($path, $auth, $what) = @$p;
    my $res = chunked_post($path, $auth ? 'auth-bob' : undef);
    is $res->code, 200, "$what: answered" or diag $res->as_string;
    my $text = $res->as_string;
    unlike $text, qr/evil-trailer/, "$what: no trailer value reached the backend or the front's headers";
    is $res->header('X-Front-Remote-User') // '', $auth ? $bob : '',
        "$what: after the body, X-Remote-User on the front is " . ($auth ? 'the real user' : 'absent');
    my $body = $res->content;
    if ($auth) {
        like $body, qr/\Q$bob\E/, "$what: the backend got the real identity";
    }
    else {
        my $j = json_of($res);
        ok !(grep { /^(HTTP_)?(REMOTE_USER|X_REMOTE_USER|X_JPKI_)/ } keys %$j)
           && !(grep { /^(x-remote-user|x-jpki-)/i } $res->headers->header_field_names),
            "$what: the backend got no identity" or diag $res->as_string;
    }
    # access log: the line of this request (written after the response)
    select undef, undef, undef, 0.3;
    open my $fh, '<', $log or die "$log: $!";
    my @lines = grep { index($_, $path =~ s/\?.*//r) == 0 } <$fh>;
    close $fh;
    unlike $lines[-1] // 'no line', qr/evil-trailer|no line/, "$what: the access log holds no trailer identity";
}
my $elog = error_log_since($mark);
like $elog, qr/JPKI0820: removed \d+ request trailer\(s\) that could be mistaken for mod_jpki's identity headers: .*X-Remote-User/,
    'the removal is logged with the trailer names';
unlike $elog, qr/evil-trailer/, 'never the values';
open my $fh, '<', $log or die;
like join('', <$fh>), qr/keep=\[kept\]/, 'other trailers are still merged (MergeTrailers on)';
