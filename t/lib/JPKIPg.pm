package JPKIPg;
# A private PostgreSQL cluster for the account tests: initdb into a temp
# directory owned by postgres, listening on 127.0.0.1:$JPKI_PG_PORT only
# (socket in the same directory), trust authentication, the shipped
# schema, and a non-superuser role jpki_web that the test vhost uses.
# Stopped (and removed) at the end of the .t even when it dies.
use strict;
use warnings;

use Apache::Test ();
use Exporter 'import';
use File::Temp ();

our @EXPORT = qw(pg_start pg_stop pg_sql);

my $BIN = (sort glob('/usr/lib/postgresql/*/bin'))[-1] or die "no PostgreSQL server binaries";
my ($dir, $running);

sub port { $ENV{JPKI_PG_PORT} or die "JPKI_PG_PORT is not set (t/TEST.PL)" }

sub as_pg {
    my @cmd = @_;
    my $rc = system('runuser', '-u', 'postgres', '--', @cmd);
    return $rc == 0;
}

sub pg_ctl_start {
    return as_pg("$BIN/pg_ctl", '-D', "$dir/data", '-l', "$dir/server.log", '-w', '-t', '30',
                 '-o', "-k $dir -c listen_addresses=127.0.0.1 -p " . port()
                     . " -c fsync=off -c synchronous_commit=off", 'start');
}

sub pg_start {
    my (%o) = @_;
    unless ($dir) {
        $dir = File::Temp::tempdir('jpki-pg-XXXXXX', TMPDIR => 1, CLEANUP => 0);
        my (undef, undef, $uid, $gid) = getpwnam('postgres');
        chown $uid, $gid, $dir;
        as_pg("$BIN/initdb", '-D', "$dir/data", '-A', 'trust', '-U', 'postgres', '--no-sync',
              '-E', 'UTF8', '--locale=C') or die "initdb failed";
        pg_ctl_start() or die "pg_ctl start failed: " . `cat $dir/server.log`;
        $running = 1;
        my $schema = ($ENV{JPKI_TOP_DIR} // Apache::Test::vars()->{top_dir}) . '/conf/jpki-schema.sql';
        pg_sql('CREATE DATABASE jpki', 'postgres');
        system("psql -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p " . port()
               . " -U postgres -d jpki -f '$schema' >/dev/null") == 0 or die "schema failed";
        pg_sql('CREATE ROLE jpki_web LOGIN; '
             . 'GRANT SELECT, INSERT, UPDATE, DELETE ON jpki_account, jpki_serial TO jpki_web; '
             . 'GRANT SELECT ON jpki_recheck TO jpki_web');
        return 1;
    }
    $running = pg_ctl_start() or die "pg_ctl restart failed";
    return 1;
}

sub pg_stop {
    return 1 unless $running;
    as_pg("$BIN/pg_ctl", '-D', "$dir/data", '-m', 'fast', '-w', 'stop');
    $running = 0;
    return 1;
}

# Run SQL as postgres; returns the unaligned output lines.
sub pg_sql {
    my ($sql, $db) = @_;
    $db ||= 'jpki';
    open my $p, '-|', 'psql', '-q', '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1',
        '-p', port(), '-U', 'postgres', '-d', $db, '-c', $sql or die "psql: $!";
    my @out = <$p>;
    close $p;
    chomp @out;
    return @out;
}

END {
    pg_stop();
    File::Path::rmtree($dir) if $dir && -d $dir;
}
require File::Path;

1;
