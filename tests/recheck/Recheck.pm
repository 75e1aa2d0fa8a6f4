# Fixtures for tests/recheck/*.t: throwaway CA and TLS certificates, an
# account store (SQLite or PostgreSQL) filled from a plan, the platform
# simulator, an `openssl ocsp` responder, and running jpki-recheck.
package Recheck;
use v5.36;
use strict;
use warnings;

use Exporter 'import';
use File::Temp qw(tempdir);
use FindBin;
use JSON::PP;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);

our @EXPORT = qw($DIR $TOP $BIN openssl slurp spew make_pki write_conf run_recheck
                 start_sim sim_calls sim_reset stop_all read_jsonl kid start_ocsp
                 sqlite_fill sql_sqlite ca_db_line plan_kinds);

our $TOP = "$FindBin::Bin/../..";
our $BIN = $ENV{JPKI_RECHECK_BIN} // "$TOP/tools/recheck/jpki-recheck";
our $DIR = tempdir('recheck-t-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $JSON = JSON::PP->new->utf8->canonical;
my @PIDS;

sub openssl (@args) {
    my $out = qx{openssl @args 2>&1};
    $? == 0 or die "openssl @args failed: $out";
    return $out;
}
sub slurp ($path) { open(my $fh, '<:raw', $path) or die "$path: $!"; local $/; return <$fh> }
sub spew ($path, $data) { open(my $fh, '>:raw', $path) or die "$path: $!"; print $fh $data; close $fh or die }

# A CA for the simulator's TLS (and its client certificate) and an issuing
# CA for the OCSP checks (its subject key id is the serials' issuer key id).
sub make_pki () {
    spew("$DIR/ext.cnf", <<'CNF');
[server]
basicConstraints = CA:FALSE
subjectAltName = DNS:localhost,IP:127.0.0.1
extendedKeyUsage = serverAuth
[client]
basicConstraints = CA:FALSE
extendedKeyUsage = clientAuth
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
CNF
    openssl("req -x509 -newkey rsa:2048 -nodes -keyout $DIR/ca.key -out $DIR/ca.crt -subj '/CN=recheck test TLS CA' -days 2");
    for my $n (qw(server client)) {
        openssl("req -new -newkey rsa:2048 -nodes -keyout $DIR/$n.key -subj '/CN=localhost' -out $DIR/$n.csr");
        openssl("x509 -req -in $DIR/$n.csr -CA $DIR/ca.crt -CAkey $DIR/ca.key -set_serial 0x10"
                . ($n eq 'client' ? '1' : '0') . " -days 2 -extfile $DIR/ext.cnf -extensions $n -out $DIR/$n.crt");
    }
    openssl("req -x509 -newkey rsa:2048 -nodes -keyout $DIR/issuer.key -out $DIR/issuer.crt"
            . " -subj '/C=JP/O=JPKI-TEST/CN=recheck issuing CA' -days 2") unless -e "$DIR/issuer.crt";
    my $token = join '', map { ('a' .. 'z')[rand 26] } 1 .. 32;
    spew("$DIR/token", "$token\n");
}

# One line of an `openssl ca` database (index.txt) for a serial in hex:
# 'V' valid, 'R,<reason>' revoked, '-' none (the CA does not know it).
sub ca_db_line ($serial, $st) {
    return () if $st eq '-';
    my $hex = uc $serial;
    return "V\t301231000000Z\t\t$hex\tunknown\t/CN=x" if $st eq 'V';
    (my $r = $st) =~ s/^R,//;
    return "R\t301231000000Z\t261101000000Z,$r\t$hex\tunknown\t/CN=x";
}

# Accounts 1..$n cycling through 9 kinds [auth status, sign status, category,
# yen]: kind 5 also holds an older, superseded auth serial; kind 8 has an
# issuer key id ('ffff') of no configured CA. Returns the store plan, the CA
# database lines, the expected categories, the yen and the checks expected
# (a yen of 22 = two checks, 2 = the auth check only, 0 = none).
sub plan_kinds ($kinds, $n, $prefix, $kid) {
    my (@plan, @db, %expect);
    my ($yen, $checks) = (0, 0);
    for my $i (1 .. $n) {
        my $k = $i % 9;
        my ($st_a, $st_s, $cat, $cost) = @{ $kinds->[$k] };
        my ($au, $si, $old) = map { sprintf '%s%07x', $_, $i } qw(a b 9);
        my $issuer = $k == 8 ? 'ffff' : $kid;
        my $acct = sprintf '%s%04d', $prefix, $i;
        push @plan, { account => $acct, uid => undef,
                      auth => [$k == 5 ? ("$issuer:$old") : (), "$issuer:$au"], sign => ["$issuer:$si"] };
        push @db, ca_db_line($au, $st_a), ca_db_line($si, $st_s);
        push @db, ca_db_line($old, 'R,superseded') if $k == 5;
        $expect{$acct} = $cat;
        $yen += $cost;
        $checks += $cost == 22 ? 2 : $cost == 2 ? 1 : 0;
    }
    return { plan => \@plan, db => \@db, expect => \%expect, yen => $yen, checks => $checks };
}

# The issuing CA's subject key id, lowercase hex without colons.
sub kid () {
    my $t = openssl("x509 -in $DIR/issuer.crt -noout -ext subjectKeyIdentifier");
    my ($hex) = $t =~ /\n\s*([0-9A-F:]+)\s*$/ or die "no SKI in $t";
    $hex =~ s/://g;
    return lc $hex;
}

# One SQL file that creates the schema and the accounts of $plan:
# [{account, uid, auth => [serials old..new], sign => [serials]}].
sub sql_sqlite ($plan) {
    my @q = ("BEGIN;", slurp("$TOP/conf/jpki-schema.sql"));
    for my $a (@$plan) {
        my $uid = defined $a->{uid} ? "'$a->{uid}'" : 'NULL';
        push @q, "INSERT INTO jpki_account VALUES ('$a->{account}', $uid, NULL, '2026-01-01T00:00:00.000Z');";
        for my $t (qw(auth sign)) {
            my $prev = 'NULL';
            for my $s (@{ $a->{$t} // [] }) {
                push @q, "INSERT INTO jpki_serial VALUES ('$s', '$a->{account}', '$t', $prev,"
                    . " '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');";
                $prev = "'$s'";
            }
        }
    }
    push @q, "COMMIT;";
    return join "\n", @q;
}

sub sqlite_fill ($db, $plan) {
    unlink $db;
    spew("$DIR/fill.sql", sql_sqlite($plan));
    system("sqlite3 $db < $DIR/fill.sql") == 0 or die "sqlite3 failed";
}

sub write_conf ($path, %kv) {
    spew($path, join '', "# jpki-recheck test configuration\n", map { "$_ = $kv{$_}\n" } sort keys %kv);
}

# Runs jpki-recheck; returns (exit code, summary hash, stderr text).
sub run_recheck (@args) {
    my $err = "$DIR/recheck.err";
    my $out = qx{$BIN @args 2>$err};
    my $rc = $? >> 8;
    my ($line) = grep { /^\{/ } split /\n/, $out;
    my $sum = $line ? eval { $JSON->decode($line) } : undef;
    return ($rc, $sum, -e $err ? slurp($err) : '');
}

sub read_jsonl ($path) {
    return [] unless -e $path;
    return [ map { $JSON->decode($_) } grep { length } split /\n/, slurp($path) ];
}

sub start_sim ($state) {
    spew("$DIR/state.json.tmp", $JSON->encode($state));
    rename "$DIR/state.json.tmp", "$DIR/state.json" or die;
    my $pid = open(my $out, '-|', $^X, "$TOP/tools/jpki-pf-sim", '--listen', '127.0.0.1:0',
                   '--cert', "$DIR/server.crt", '--key', "$DIR/server.key", '--client-ca', "$DIR/ca.crt",
                   '--token-file', "$DIR/token", '--state', "$DIR/state.json", '--log', "$DIR/sim.log",
                   '--max-seconds', 600) or die "cannot start the simulator: $!";
    my $l = <$out>;
    my ($port) = ($l // '') =~ /^READY (\d+)/ or die "simulator did not start: " . ($l // 'EOF');
    push @PIDS, [$pid, $out];
    return $port;
}

sub sim_get ($port, $path, $method = 'GET') {
    my $t = qx{curl -s --cacert $DIR/ca.crt --cert $DIR/client.crt --key $DIR/client.key -X $method https://127.0.0.1:$port$path};
    return $JSON->decode($t);
}
sub sim_calls ($port) { return sim_get($port, '/calls') }
sub sim_reset ($port) { return sim_get($port, '/calls/reset', 'POST') }

# `openssl ocsp` on a free port with the index; returns the URL.
sub start_ocsp ($index, $signer = 'issuer') {
    spew("$index.attr", "unique_subject = no\n");
    for my $try (1 .. 20) {
        my $port = 20000 + int rand 20000;
        my $log = "$DIR/ocsp-$port.log";
        my $pid = fork // die;
        if (!$pid) {
            open STDOUT, '>', $log; open STDERR, '>&', \*STDOUT;
            exec 'timeout', '600', 'openssl', 'ocsp', '-index', $index, '-port', $port,  # it takes no address (as in t/status/ocsp.t)
                '-rsigner', "$DIR/$signer.crt", '-rkey', "$DIR/$signer.key", '-CA', "$DIR/issuer.crt",
                '-nmin', '5', '-ignore_err';
            exit 127;
        }
        for (1 .. 50) {
            last if -s $log;
            sleep 0.1;
        }
        if (slurp($log) =~ /ACCEPT/) {
            push @PIDS, [$pid];
            return "http://127.0.0.1:$port/";
        }
        kill 'TERM', $pid; waitpid $pid, 0;
    }
    die "openssl ocsp did not start";
}

sub stop_all () {
    for my $p (@PIDS) {
        kill 'TERM', $p->[0];
        waitpid $p->[0], 0;
    }
    @PIDS = ();
}
END { local $?; stop_all() }

1;
