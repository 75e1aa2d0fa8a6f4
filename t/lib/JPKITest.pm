package JPKITest;
# Shared helpers for the mod_jpki Apache::Test suite: test-PKI paths, an
# HTTPS user agent with an optional client certificate, the card-like
# signer (RSASSA-PKCS1-v1_5 over the SHA-256 DigestInfo, as `openssl dgst
# -sha256 -sign` computes it) over the origin-bound client data a card
# helper builds (protocol v2, docs/http-contract.md), and the login flow.
use strict;
use warnings;

use Apache::Test ();
use Apache::TestRequest ();
use Exporter 'import';
use File::Temp ();
use HTTP::Request ();
use JSON::PP ();
use LWP::UserAgent ();
use MIME::Base64 qw(encode_base64 decode_base64);

our @EXPORT = qw(pki pki_slurp ssl_url ua json_of challenge card_sign b64 b64url_decode
                 login_request login error_log_since error_log_mark manifest
                 b64url origin_of vhost_origin client_data card_proof);

sub pki { "$ENV{JPKI_PKI_DIR}/$_[0]" }

sub pki_slurp {
    my ($name) = @_;
    open my $fh, '<:raw', pki($name) or die "$name: $!";
    local $/;
    return scalar <$fh>;
}

# name => {serial, issuer_key_id, ...} from t/pki/out/manifest.tsv
sub manifest {
    my %m;
    open my $fh, '<', pki('manifest.tsv') or die "manifest: $!";
    my $head = <$fh>;
    chomp $head;
    my @cols = split /\t/, $head;
    while (my $l = <$fh>) {
        chomp $l;
        my %row;
        @row{@cols} = split /\t/, $l;
        $m{ $row{name} } = \%row;
    }
    return \%m;
}

sub ssl_url {
    my ($path, $module) = @_;
    return Apache::TestRequest::module2url($module || 'mod_ssl',
                                           { scheme => 'https', path => $path });
}

sub ca_file {
    my $vars = Apache::Test::vars();
    return "$vars->{sslca}/$vars->{sslcaorg}/certs/ca.crt";
}

# An HTTPS client. cert => 'auth-alice-1' presents that client certificate.
sub ua {
    my (%o) = @_;
    my %ssl = (SSL_ca_file => ca_file(), verify_hostname => 1);
    if ($o{cert}) {
        $ssl{SSL_cert_file} = pki("$o{cert}.crt");
        $ssl{SSL_key_file}  = pki("$o{cert}.key");
    }
    my $ua = LWP::UserAgent->new(ssl_opts => \%ssl, keep_alive => 0, max_redirect => 0,
                                 timeout => 30);
    $ua->cookie_jar({}) unless $o{no_cookies};
    return $ua;
}

# A GET as a hostile client that presents a certificate OpenSSL would not
# present at its default security level (1024-bit key, SHA-1): curl with an
# OpenSSL configuration at level 0. Returns an HTTP::Response. $module: the
# vhost (default mod_ssl).
sub weak_client_get {
    my ($cert, $path, $module) = @_;
    my $dir = File::Temp->newdir;
    open my $c, '>', "$dir/openssl.cnf" or die $!;
    print $c "openssl_conf = oc\n[oc]\nssl_conf = sc\n[sc]\nsystem_default = sd\n"
           . "[sd]\nCipherString = DEFAULT:\@SECLEVEL=0\n";
    close $c;
    local $ENV{OPENSSL_CONF} = "$dir/openssl.cnf";
    my $out = `curl -s -D - -o $dir/body --cacert @{[ca_file()]} --cert @{[pki("$cert.crt")]} --key @{[pki("$cert.key")]} '@{[ssl_url($path, $module)]}' 2>&1`;
    require HTTP::Response;
    my $res = HTTP::Response->parse($out =~ s/^HTTP\/\S+/HTTP\/1.1/r);
    if (open my $b, '<:raw', "$dir/body") {
        local $/;
        $res->content(scalar <$b>);
    }
    return $res;
}
push @EXPORT, 'weak_client_get';

sub json_of {
    my ($res) = @_;
    my $j = eval { JSON::PP::decode_json($res->decoded_content) };
    return $j || {};
}

sub b64 { my $s = encode_base64($_[0], ''); return $s }

sub b64url_decode {
    my ($s) = @_;
    $s =~ tr{-_}{+/};
    $s .= '=' x ((4 - length($s) % 4) % 4);
    return decode_base64($s);
}

# GET a challenge with this user agent; returns (challenge text, response).
sub challenge {
    my ($ua) = @_;
    my $res = $ua->get(ssl_url('/jpki/challenge'));
    return (json_of($res)->{challenge}, $res);
}

# Sign bytes with a test key the way the card does (PKCS#1 v1.5, SHA-256).
sub card_sign {
    my ($key, $bytes) = @_;
    my $in = File::Temp->new;
    binmode $in;
    print $in $bytes;
    close $in;
    my $keyfile = $key =~ m{/} ? $key : pki("$key.key");
    open my $p, '-|', 'openssl', 'dgst', '-sha256', '-sign', $keyfile, $in->filename
        or die "openssl: $!";
    binmode $p;
    local $/;
    my $sig = <$p>;
    close $p;
    die "openssl dgst -sign failed" unless defined $sig && length $sig;
    return $sig;
}

sub b64url {
    my $s = encode_base64($_[0], '');
    $s =~ tr{+/}{-_};
    $s =~ s/=+$//;
    return $s;
}

# scheme://host:port of a URL: what a browser sends as Origin from a page there.
sub origin_of {
    my ($url) = @_;
    $url =~ m{^(https?://[^/?#]+)} or die "no origin in $url";
    return lc $1;
}

# The origin of a test vhost (default the mod_ssl one): https://localhost:PORT,
# which is what mod_jpki derives from its ServerName localhost:PORT.
sub vhost_origin { origin_of(ssl_url('/', $_[0])) }

# The canonical client-data bytes a card helper builds and the card signs.
sub client_data {
    my ($ch, $origin, $type) = @_;
    return '{"type":"' . ($type // 'jpki.login') . '","challenge":"' . $ch
        . '","origin":"' . $origin . '"}';
}

# What a card helper returns for challenge $ch: (client_data => base64url,
# signature => base64 over the client data) signed with $key. The origin is
# the vhost's (vhost => name) unless origin => is given.
sub card_proof {
    my ($key, $ch, %o) = @_;
    my $cd = client_data($ch, $o{origin} // vhost_origin($o{vhost}));
    return (client_data => b64url($cd), signature => b64(card_sign($key, $cd)));
}

sub login_request {
    my ($ua, $body, %o) = @_;
    my $req = HTTP::Request->new(POST => ssl_url($o{path} || '/jpki/login'));
    $req->header('Content-Type' => exists $o{ctype} ? $o{ctype} : 'application/json');
    $req->content(ref $body ? JSON::PP::encode_json($body) : $body);
    return $ua->request($req);
}

# Full card login: challenge, sign with key, post. Overrides in %o.
sub login {
    my ($ua, %o) = @_;
    my $cert = $o{cert} || 'auth-alice-1';
    my ($ch) = challenge($ua);
    my %body = (challenge => $ch, certificate => b64(pki_der($cert)),
                card_proof($o{key} || $cert, $ch, origin => $o{origin}));
    $body{return_to} = $o{return_to} if exists $o{return_to};
    return login_request($ua, \%body);
}

sub pki_der { pki_slurp("$_[0].der") }
push @EXPORT, 'pki_der';

# The smallest httpd.conf that loads the module: ServerRoot $dir, the core
# modules it needs (socache_shmcb unless shmcb => 0), one loopback Listen
# (listen => port, default 1: never bound by httpd -t), then $body.
# Writes $dir/httpd.conf and returns its path.
sub minimal_httpd_conf {
    my ($dir, $body, %opt) = @_;
    my $vars = Apache::Test::vars();
    my $modules = '/usr/lib/apache2/modules';
    my $shmcb = ($opt{shmcb} // 1)
        ? "LoadModule socache_shmcb_module $modules/mod_socache_shmcb.so\n" : '';
    my $listen = $opt{listen} // 1;
    my $extra = $opt{extra} // '';
    open my $fh, '>', "$dir/httpd.conf" or die $!;
    print $fh <<"EOC";
ServerRoot $dir
ServerName localhost
LoadModule mpm_event_module $modules/mod_mpm_event.so
LoadModule authz_core_module $modules/mod_authz_core.so
LoadModule authn_core_module $modules/mod_authn_core.so
${shmcb}LoadModule jpki_module $vars->{serverroot}/../mod_jpki.so
Listen 127.0.0.1:$listen
ErrorLog $dir/error_log
PidFile $dir/httpd.pid
$extra$body
EOC
    close $fh;
    return "$dir/httpd.conf";
}
push @EXPORT, 'minimal_httpd_conf';

# httpd -t on minimal_httpd_conf($body, %opt) in a new temp dir; returns
# (exit code, output).
sub httpd_configtest {
    my ($body, %opt) = @_;
    require File::Temp;
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    my $conf = minimal_httpd_conf($dir, $body, %opt);
    my $out = `@{[Apache::Test::vars()->{httpd}]} -t -f $conf 2>&1`;
    return ($? >> 8, $out);
}
push @EXPORT, 'httpd_configtest';

# Error-log helpers: remember the size, then read what was added since.
sub error_log_path { Apache::Test::vars()->{t_logs} . '/error_log' }
sub error_log_mark { return -s error_log_path() || 0 }

sub error_log_since {
    my ($mark) = @_;
    select undef, undef, undef, 0.2;    # let the child flush its line
    open my $fh, '<', error_log_path() or return '';
    seek $fh, $mark, 0;
    local $/;
    return scalar <$fh> // '';
}

1;
