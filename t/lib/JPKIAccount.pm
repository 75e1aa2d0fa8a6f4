package JPKIAccount;
# Helpers for the account tests: per-vhost logins, the jpki-account
# endpoint, SQLite databases owned by the test, and counting the SQL
# statements the module ran (one JPKI0712 debug line each).
use strict;
use warnings;

use Apache::Test ();
use Exporter 'import';
use File::Path qw(make_path);
use HTTP::Request ();
use JSON::PP ();
use JPKITest;

our @EXPORT = qw(serial_of alogin aget api api_token sqlite_db sqlite sql_count state_dir);

sub serial_of {
    my ($name) = @_;
    my $m = manifest()->{$name} or die "no $name in the manifest";
    return "$m->{issuer_key_id}:$m->{serial}";
}

sub state_dir {
    my $d = Apache::Test::vars()->{serverroot} . '/state/acct';
    make_path($d);
    my (undef, undef, $uid, $gid) = getpwnam('nobody');
    chown $uid, $gid, $d, Apache::Test::vars()->{serverroot} . '/state';
    chmod 0755, $d;
    return $d;
}

# A SQLite database with the shipped schema and no rows, writable by
# nobody. An existing file is emptied, not replaced: httpd children may
# hold connections to it (t/account/age.t and t/account/sqlite.t share one).
sub sqlite_db {
    my ($name, %o) = @_;
    my $dir  = state_dir();
    my $file = "$dir/$name.db";
    if (-s $file && !$o{fresh}) {
        sqlite($file, 'DELETE FROM jpki_serial; DELETE FROM jpki_account;');
        return $file;
    }
    unlink $file, "$file-journal";
    my $schema = Apache::Test::vars()->{top_dir} . '/conf/jpki-schema.sql';
    system("sqlite3 '$file' < '$schema'") == 0 or die "sqlite3 schema: $?";
    my (undef, undef, $uid, $gid) = getpwnam('nobody');
    chown $uid, $gid, $file;
    return $file;
}

# Run SQL with the sqlite3 CLI; returns the output lines.
sub sqlite {
    my ($file, $sql) = @_;
    open my $p, '-|', 'sqlite3', '-batch', $file, $sql or die "sqlite3: $!";
    my @out = <$p>;
    close $p;
    chomp @out;
    return @out;
}

# Challenge login on a vhost: returns the HTTP::Response.
sub alogin {
    my ($ua, $vhost, %o) = @_;
    my $cert = $o{cert} || 'auth-alice-1';
    my $res = $ua->get(ssl_url('/jpki/challenge', $vhost));
    my $ch = json_of($res)->{challenge} or die "no challenge: " . $res->as_string;
    my $req = HTTP::Request->new(POST => ssl_url('/jpki/login', $vhost));
    $req->header('Content-Type' => 'application/json');
    $req->content(JSON::PP::encode_json({ challenge => $ch, certificate => b64(pki_der($cert)),
                                          card_proof($o{key} || $cert, $ch, vhost => $vhost) }));
    return $ua->request($req);
}

sub aget {
    my ($ua, $vhost, $path, @h) = @_;
    return $ua->get(ssl_url($path, $vhost), Accept => 'application/json', @h);
}

# The bearer token of the jpki-account endpoint (JPKIAccountAPIToken in
# t/conf/jpki-account.conf.in).
sub api_token {
    open my $fh, '<', Apache::Test::vars()->{top_dir} . '/t/data/api-token' or die "api-token: $!";
    my $t = <$fh>;
    $t =~ s/\s+\z//;
    return $t;
}

# POST to the internal jpki-account endpoint, with the bearer token unless
# %h gives another Authorization (undef: none).
sub api {
    my ($vhost, $body, %h) = @_;
    my $req = HTTP::Request->new(POST => ssl_url('/internal/account', $vhost));
    $req->header('Content-Type' => 'application/json');
    my $auth = exists $h{Authorization} ? $h{Authorization} : 'Bearer ' . api_token();
    $req->header(Authorization => $auth) if defined $auth;
    $req->content(ref $body ? JSON::PP::encode_json($body) : $body);
    return ua()->request($req);
}

# Statements run since an error_log_mark().
sub sql_count {
    my ($mark) = @_;
    my @l = error_log_since($mark) =~ /JPKI0712: account sql:/g;
    return scalar @l;
}

1;
