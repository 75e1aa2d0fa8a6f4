package JPKIStatus;
# Helpers for the status tests (t/status/*.t): the platform simulator
# (tools/jpki-pf-sim) started from the .t on $JPKI_PF_PORT with the test
# PKI's server-localhost certificate, mutual TLS (pf-client) and the token
# in t/data/pf-token; its state file and /calls counters; logins against
# a named test vhost.
use strict;
use warnings;

use Apache::Test ();
use Apache::TestRequest ();
use Cwd ();
use Exporter 'import';
use File::Temp ();
use HTTP::Request ();
use JSON::PP ();
use LWP::UserAgent ();
use POSIX ();
use Time::HiRes ();
use JPKITest;

our @EXPORT = qw(sim_start sim_stop sim_state sim_calls sim_reset vurl vchallenge vlogin
                 vget serial_hex timed revoked_cards);

my $sim;

# The test PKI's revoked cards (t/pki/mkpki.sh): card => [RFC 5280 reason as
# every source reports it, the stable refusal code a login gets].
sub revoked_cards {
    return (
        'auth-rev-superseded'    => ['superseded',           'cert_revoked_superseded'],
        'auth-rev-affiliation'   => ['affiliationChanged',   'cert_revoked_affiliation_changed'],
        'auth-rev-cessation'     => ['cessationOfOperation', 'cert_revoked_cessation'],
        'auth-rev-hold'          => ['certificateHold',      'cert_revoked_hold'],
        'auth-rev-keycompromise' => ['keyCompromise',        'cert_revoked_key_compromise'],
        'auth-rev-unspecified'   => ['unspecified',          'cert_revoked'],
    );
}    # {pid, dir, port}

# JPKI_TOP_DIR: used outside Apache::Test (tests/cluster/)
sub top { Cwd::abs_path($ENV{JPKI_TOP_DIR} // Apache::Test::vars()->{top_dir}) }

# Start the simulator; returns once it printed READY. %o: cert => name of
# the server certificate in the test PKI (default server-localhost).
sub sim_start {
    my (%o) = @_;
    my $port = $ENV{JPKI_PF_PORT} or die "JPKI_PF_PORT not set";
    my $dir = File::Temp->newdir('pf-sim-XXXXXX', TMPDIR => 1);
    my $state = "$dir/state.json";
    _write_json($state, $o{state} || {});
    my $cert = $o{cert} || 'server-localhost';
    pipe my $r, my $w or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        close $r;
        open STDOUT, '>&', $w or die;
        open STDERR, '>>', "$dir/stderr.log";
        exec $^X, top() . '/tools/jpki-pf-sim', '--listen', "127.0.0.1:$port",
            '--cert', pki("$cert.crt"), '--key', pki("$cert.key"),
            '--token-file', top() . '/t/data/pf-token', '--state', $state,
            '--client-ca', pki('server-ca.crt'), '--log', "$dir/sim.log",
            '--max-seconds', $o{max_seconds} || 300
            or POSIX::_exit(127);
    }
    close $w;
    my $line = '';
    my $rin = '';
    vec($rin, fileno($r), 1) = 1;
    if (select(my $rout = $rin, undef, undef, 30)) {
        $line = <$r> // '';
    }
    die "simulator did not start: $line" unless $line =~ /^READY (\d+)/;
    $sim = { pid => $pid, dir => $dir, port => $port, state => $state, out => $r };
    return $sim;
}

sub sim_stop {
    return unless $sim;
    kill TERM => $sim->{pid};
    waitpid $sim->{pid}, 0;
    my $rc = $?;
    $sim = undef;
    return $rc;
}

sub _write_json {
    my ($file, $data) = @_;
    open my $fh, '>', "$file.tmp" or die "$file: $!";
    print $fh JSON::PP->new->canonical->encode($data);
    close $fh;
    rename "$file.tmp", $file or die "rename: $!";
}

# Replace the simulator's state (atomically, as its docs ask).
sub sim_state { _write_json($sim->{state}, $_[0]) }

sub _sim_ua {
    return LWP::UserAgent->new(
        timeout  => 10,
        ssl_opts => { SSL_ca_file => pki('server-ca.crt'), SSL_cert_file => pki('pf-client.crt'),
                      SSL_key_file => pki('pf-client.key'), verify_hostname => 1 });
}

sub sim_calls {
    my $res = _sim_ua()->get("https://127.0.0.1:$sim->{port}/calls");
    die 'GET /calls: ' . $res->status_line unless $res->is_success;
    return JSON::PP::decode_json($res->decoded_content);
}

sub sim_reset {
    my $res = _sim_ua()->post("https://127.0.0.1:$sim->{port}/calls/reset");
    die 'POST /calls/reset: ' . $res->status_line unless $res->is_success;
}

sub vurl { ssl_url($_[1], $_[0]) }

sub vchallenge {
    my ($ua, $vhost) = @_;
    my $res = $ua->get(vurl($vhost, '/jpki/challenge'));
    return (json_of($res)->{challenge}, $res);
}

# Challenge + card signature + login on a vhost. Returns the response.
sub vlogin {
    my ($ua, $vhost, $cert) = @_;
    my ($ch) = vchallenge($ua, $vhost);
    die "no challenge from $vhost" unless $ch;
    my $req = HTTP::Request->new(POST => vurl($vhost, '/jpki/login'));
    $req->header('Content-Type' => 'application/json');
    $req->content(JSON::PP::encode_json(
        { challenge => $ch, certificate => b64(pki_der($cert)),
          card_proof($cert, $ch, vhost => $vhost) }));
    return $ua->request($req);
}

sub vget {
    my ($ua, $vhost, $path, @h) = @_;
    return $ua->get(vurl($vhost, $path), @h);
}

# The serial as the simulator's state file keys it (hex of the manifest).
sub serial_hex {
    my ($name) = @_;
    return manifest()->{$name}{serial};
}

# (result, seconds) of a code block.
sub timed {
    my ($code) = @_;
    my $t0 = Time::HiRes::time();
    my $r = $code->();
    return ($r, Time::HiRes::time() - $t0);
}

END { sim_stop() if $sim }

1;
