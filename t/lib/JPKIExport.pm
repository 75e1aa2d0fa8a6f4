package JPKIExport;
# Helpers for the export / spoofing / audit / status-page tests: a card
# login on a given vhost, a raw HTTPS request whose header names go on the
# wire exactly as written (LWP would canonicalise "x-jpki-account" and turn
# '_' into '-'), and the audit-log reader.
use strict;
use warnings;

use Apache::Test ();
use Apache::TestRequest ();
use Exporter 'import';
use HTTP::Request ();
use HTTP::Response ();
use IO::Socket::SSL ();
use JSON::PP ();
use JPKITest;

our @EXPORT = qw(login_on raw_get audit_read audit_path wait_for_lines session_cookie
                 vhost_hostport);

# Challenge-response login with the card's key on vhost $module.
sub login_on {
    my ($ua, $module, %o) = @_;
    my $cert = $o{cert} || 'auth-alice-1';
    my $r = $ua->get(ssl_url('/jpki/challenge', $module));
    my $ch = json_of($r)->{challenge} or die "no challenge: " . $r->as_string;
    my $body = { challenge => $ch, certificate => b64(pki_der($cert)),
                 card_proof($o{key} || $cert, $ch, vhost => $module) };
    my $req = HTTP::Request->new(POST => ssl_url('/jpki/login', $module));
    $req->header('Content-Type' => 'application/json');
    $req->content(JSON::PP::encode_json($body));
    return $ua->request($req);
}

# "name=value" of the session cookie held by $ua for vhost $module.
sub session_cookie {
    my ($ua) = @_;
    my $c;
    $ua->cookie_jar->scan(sub { $c = "$_[1]=$_[2]" if $_[1] eq 'jpki_session' });
    return $c;
}

sub vhost_hostport {
    my ($module) = @_;
    my $url = ssl_url('/', $module);
    $url =~ m{^https://([^/:]+):(\d+)/} or die $url;
    return ($1, $2);
}

# GET $path on $module with the header lines given verbatim ([name, value]...).
sub raw_get {
    my ($module, $path, @headers) = @_;
    my ($host, $port) = vhost_hostport($module);
    my $vars = Apache::Test::vars();
    my $s = IO::Socket::SSL->new(PeerHost => '127.0.0.1', PeerPort => $port,
                                 SSL_hostname => 'localhost',
                                 SSL_ca_file => "$vars->{sslca}/$vars->{sslcaorg}/certs/ca.crt",
                                 Timeout => 30)
        or die "connect: $IO::Socket::SSL::SSL_ERROR";
    my $req = "GET $path HTTP/1.1\r\nHost: $host:$port\r\nConnection: close\r\n";
    $req .= "$_->[0]: $_->[1]\r\n" for @headers;
    print $s "$req\r\n";
    local $/;
    my $raw = <$s>;
    close $s;
    my $res = HTTP::Response->parse($raw);
    # the body may be chunked
    if (($res->header('Transfer-Encoding') // '') =~ /chunked/i) {
        my $body = $res->content;
        my $out = '';
        while ($body =~ s/^([0-9a-fA-F]+)\r\n//) {
            my $n = hex $1;
            last if $n == 0;
            $out .= substr($body, 0, $n, '');
            $body =~ s/^\r\n//;
        }
        $res->content($out);
    }
    return $res;
}

sub audit_path { Apache::Test::vars()->{t_logs} . '/' . $_[0] }

# All JSON lines of an audit log (undef for a line that does not parse).
sub audit_read {
    my ($file) = @_;
    open my $fh, '<:raw', audit_path($file) or return ();
    my @l;
    while (my $line = <$fh>) {
        chomp $line;
        push @l, { raw => $line, json => eval { JSON::PP::decode_json($line) } };
    }
    return @l;
}

# Wait (bounded) until the log has at least $n lines; returns them.
sub wait_for_lines {
    my ($file, $n) = @_;
    my @l;
    for (1 .. 50) {
        @l = audit_read($file);
        return @l if @l >= $n;
        select undef, undef, undef, 0.1;
    }
    return @l;
}

1;
