package JPKI::PfSim::Server;
# The simulator process: start-up checks, the accepting parent, the connection
# children and the dispatch of requests to the API.
#
# Process model: the parent only accepts TCP connections and forks one child per
# connection; the child does the TLS handshake and serves HTTP/1.1 keep-alive
# requests.  Everything that must be shared between children lives in
# JPKI::PfSim::Store.

use v5.36;
use strict;
use warnings;

use Digest::SHA qw(sha256_hex);
use IO::Select;
use IO::Socket::SSL;
use POSIX qw(WNOHANG _exit);
use Time::HiRes qw(time sleep);

use JPKI::PfSim::Api;
use JPKI::PfSim::Certs;
use JPKI::PfSim::Faults;
use JPKI::PfSim::Http;
use JPKI::PfSim::State;
use JPKI::PfSim::Store;
use JPKI::PfSim::Util qw($JSON logline log_request);

use constant MIB => 1024 * 1024;

# %opt: listen cert key token_file state (required), client_ca pidfile log
# max_seconds max_children idle_timeout.  Dies with a message on a bad option.
sub new ($class, %opt) {
    my $self = bless { opt => \%opt }, $class;
    @$self{qw(host port)} = parse_listen($opt{listen});
    JPKI::PfSim::Util::open_log($opt{log});
    $self->{token} = read_token($opt{token_file});
    $self->{store} = JPKI::PfSim::Store->new($opt{state});
    JPKI::PfSim::Certs::init_scratch();
    $self->{tls} = IO::Socket::SSL::SSL_Context->new(
        SSL_server    => 1,
        SSL_cert_file => $opt{cert},
        SSL_key_file  => $opt{key},
        defined $opt{client_ca}
            ? (SSL_verify_mode    => SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
               SSL_ca_file        => $opt{client_ca},
               SSL_client_ca_file => $opt{client_ca})
            : (SSL_verify_mode => SSL_VERIFY_NONE),
    ) or die "jpki-pf-sim: TLS setup failed: $SSL_ERROR\n";
    $self->{state} = JPKI::PfSim::State->new($opt{state});
    $self->{listen} = JPKI::PfSim::Http::Daemon->new(
        LocalHost => $self->{host}, LocalPort => $self->{port}, Listen => 1024, ReuseAddr => 1,
    ) or die "jpki-pf-sim: cannot listen on $opt{listen}: $@\n";
    my $bound = $self->{listen}->sockhost;
    is_loopback($bound) or die "jpki-pf-sim: bound to non-loopback address $bound; refusing\n";
    $self->{port} = $self->{listen}->sockport;
    $self->{listen}->url;                               # fixed now, before any child closes the socket
    return $self;
}

sub parse_listen ($spec) {
    my ($host, $port) = $spec =~ /^\[([^\]]+)\]:(\d+)$/ ? ($1, $2)
                      : $spec =~ /^([^:\[\]]+):(\d+)$/  ? ($1, $2)
                      : die "jpki-pf-sim: --listen wants HOST:PORT, e.g. 127.0.0.1:8443\n";
    $host = '127.0.0.1' if lc $host eq 'localhost';
    is_loopback($host)
        or die "jpki-pf-sim: --listen $spec: refusing a non-loopback address "
             . "(the simulator is a development tool and never leaves loopback)\n";
    $port <= 65535 or die "jpki-pf-sim: --listen $spec: bad port\n";
    return ($host, $port);
}

sub is_loopback ($addr) {
    return 1 if $addr eq '::1';
    return $addr =~ /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/ && $1 < 256 && $2 < 256 && $3 < 256;
}

sub read_token ($path) {
    open(my $fh, '<', $path) or die "jpki-pf-sim: cannot read --token-file $path: $!\n";
    local $/;
    my $t = <$fh> // '';
    $t =~ s/^\s+|\s+$//g;
    length $t or die "jpki-pf-sim: --token-file $path is empty\n";
    return $t;
}

# Writes the pidfile, prints "READY <port>" and serves until a signal or
# --max-seconds; then stops every child and cleans up.
sub run ($self) {
    my $opt = $self->{opt};
    if (defined $opt->{pidfile}) {
        open(my $fh, '>', $opt->{pidfile}) or die "jpki-pf-sim: cannot write --pidfile $opt->{pidfile}: $!\n";
        print $fh "$$\n";
        close $fh;
    }
    my $host = $self->{host} =~ /:/ ? "[$self->{host}]" : $self->{host};
    logline("listening on https://$host:$self->{port}"
        . (defined $opt->{client_ca} ? " (client certificates required)" : "") . ", state $opt->{state}");
    # Handlers are in place before READY, so a client may send SIGTERM as soon as it has read it.
    my $stop = 0;
    $SIG{TERM} = $SIG{INT} = $SIG{HUP} = sub { $stop = 1 };
    $SIG{PIPE} = 'IGNORE';
    $| = 1;
    print "READY $self->{port}\n";
    my $kids = $self->accept_loop(\$stop);
    $self->shutdown($kids);
}

# The parent: accepts and forks until $$stop.  Returns the children still running.
sub accept_loop ($self, $stop) {
    my %kids;
    my $opt = $self->{opt};
    my $deadline = $opt->{max_seconds} > 0 ? time + $opt->{max_seconds} : 0;
    my $sel = IO::Select->new($self->{listen});
    # Children are reaped here rather than in a SIGCHLD handler, so a child that exits
    # before the parent has recorded it cannot leave a stale entry in %kids.
    until ($$stop) {
        while ((my $pid = waitpid(-1, WNOHANG)) > 0) { delete $kids{$pid} }
        if ($deadline && time >= $deadline) { logline("--max-seconds reached"); last }
        if (keys %kids >= $opt->{max_children}) { sleep 0.02; next }
        $sel->can_read(0.5) or next;
        my $client = $self->{listen}->accept or next;
        my $pid = fork;
        if (!defined $pid) {
            logline("fork failed: $!");
            close $client;
            sleep 0.1;
            next;
        }
        if ($pid == 0) {
            $SIG{$_} = 'DEFAULT' for qw(TERM INT HUP);
            close $self->{listen};
            $self->serve_connection($client);
            _exit(0);
        }
        $kids{$pid} = 1;
        close $client;
    }
    return \%kids;
}

sub shutdown ($self, $kids) {
    logline("stopping; " . scalar(keys %$kids) . " connection(s) open");
    close $self->{listen};
    kill 'TERM', keys %$kids;
    my $reap = sub { while ((my $pid = waitpid(-1, WNOHANG)) > 0) { delete $kids->{$pid} } };
    my $give_up = time + 3;
    while (%$kids && time < $give_up) { $reap->(); sleep 0.02 if %$kids }
    if (%$kids) { kill 'KILL', keys %$kids; $reap->() }
    unlink $self->{opt}{pidfile} if defined $self->{opt}{pidfile};
    JPKI::PfSim::Certs::cleanup();
}

# ---------------------------------------------------------------- a connection child

sub serve_connection ($self, $sock) {
    my $peer = $sock->peerhost . ':' . $sock->peerport;
    my $conn = JPKI::PfSim::Http::Conn->upgrade($sock, $self->{tls}, $self->{opt}{idle_timeout});
    if (!$conn) {
        logline("TLS handshake with $peer failed: $SSL_ERROR");
        return;
    }
    while (my $req = $conn->next_request) {
        if ($req->{error}) {
            my ($status, $code, $msg) = @{ $req->{error} };
            $conn->respond($status, JPKI::PfSim::Api::error_json($code, $msg), close => 1);
            logline("$peer bad request: $msg -> $status");
            $conn->drain;
            last;
        }
        $self->handle_request($conn, $req) or last;
    }
    $conn->close(SSL_fast_shutdown => 1);
}

# Answers one request; returns true if the connection may carry another.
sub handle_request ($self, $conn, $req) {
    my $t0 = time;
    my $path = $req->{path};
    my $close = !$req->{keep_alive};
    if (my $rpc = $JPKI::PfSim::Api::RPC{$path}) {
        return $self->handle_rpc($conn, $req, @$rpc);
    }
    my %simple = (
        '/healthz'     => ['GET',  sub { ("ok\n", type => 'text/plain') }],
        '/calls'       => ['GET',  sub { $JSON->encode($self->{store}->calls) }],
        '/calls/reset' => ['POST', sub { $self->{store}->reset_calls; $JSON->encode($self->{store}->calls) }],
    );
    my ($status, $keep);
    if (my $e = $simple{$path}) {
        ($status, $keep) = $req->{method} eq $e->[0]
            ? (200, $conn->respond(200, $e->[1]->(), close => $close))
            : method_not_allowed($conn, $req, $e->[0]);
    } else {
        $status = 404;
        $keep = $conn->respond(404, JPKI::PfSim::Api::error_json('not_found', "no such endpoint: $path"), close => $close);
    }
    log_request($req, $path, undef, $status, undef, $t0);
    return $keep;
}

sub method_not_allowed ($conn, $req, $allow) {
    return (405, $conn->respond(405, JPKI::PfSim::Api::error_json('unimplemented', "use $allow for $req->{path}"),
                                headers => [Allow => $allow], close => !$req->{keep_alive}));
}

sub handle_rpc ($self, $conn, $req, $name, $handler) {
    my $t0 = time;
    my $close = !$req->{keep_alive};
    if ($req->{method} ne 'POST') {
        my ($status, $keep) = method_not_allowed($conn, $req, 'POST');
        log_request($req, $name, undef, $status, undef, $t0);
        return $keep;
    }
    $self->{state}->reload;

    # Every request that reaches an RPC path counts as a call, whatever its outcome: the
    # counters answer "how often did the client hit the PF".  The serial is best effort.
    my $ctx = { name => $name, state => $self->{state}, store => $self->{store} };
    my $in = eval { my $v = $JSON->decode($req->{body}); ref $v eq 'HASH' ? $v : undef };
    my $serial = $in ? JPKI::PfSim::Api::request_serial($ctx, $in) : undef;
    $self->{store}->count_call($name, $serial);

    my ($auth) = ($req->{req}->header('Authorization') // '') =~ /^Bearer[ \t]+(\S+)$/i;
    if (!defined $auth || sha256_hex($auth) ne sha256_hex($self->{token})) {
        my $keep = $conn->respond(401, JPKI::PfSim::Api::error_json('unauthenticated', 'missing or invalid bearer token'),
                                  headers => ['WWW-Authenticate' => 'Bearer realm="jpki-pf-sim"'], close => $close);
        log_request($req, $name, $serial, 401, undef, $t0);
        return $keep;
    }

    my ($fault, $fault_desc) = JPKI::PfSim::Faults::pick($self->{state}, $self->{store}, $serial);
    $fault //= {};
    sleep($fault->{delay_ms} / 1000) if $fault->{delay_ms};
    for my $k (qw(reset blackhole)) {                  # neither returns
        next unless $fault->{$k};
        log_request($req, $name, $serial, $k, $fault_desc, $t0);
        $k eq 'reset' ? $conn->reset_now : $conn->blackhole;
    }
    my ($status, $out, $result) = $self->answer($req, $name, $handler, $ctx, $in, $fault);
    ($status, my $body, my %send) = shape_body($status, $out, $fault);
    my $keep = $conn->respond($status, $body, close => $close, %send);
    log_request($req, $name, $serial, $status, $fault_desc, $t0, $result);
    return $keep;
}

# The answer of an authenticated RPC: (HTTP status, JSON object, Verify result).
sub answer ($self, $req, $name, $handler, $ctx, $in, $fault) {
    if (my $hs = $fault->{http_status}) {
        return ($hs, { code => $JPKI::PfSim::Api::HTTP_CODE{$hs} // 'unknown', message => "simulated fault: HTTP $hs" });
    }
    if (($req->{req}->header('Content-Type') // '') !~ m{^application/json\s*(;|$)}i) {
        return (415, { code => 'invalid_argument', message => 'Content-Type must be application/json' });
    }
    return (400, { code => 'invalid_argument', message => 'request body is not a JSON object' }) unless $in;
    my ($status, $out) = eval { (200, $handler->($ctx, $in)) };
    if (my $e = $@) {
        return ($e->{status}, $e->{body}) if ref $e eq 'JPKI::PfSim::Error';
        logline("internal error in $name: $e");
        return (500, { code => 'internal', message => 'simulator internal error' });
    }
    return ($status, $out, $out->{verification} ? $out->{verification}{result} : undef);
}

# The body-shaping faults: returns (status, body, respond options).
sub shape_body ($status, $out, $fault) {
    JPKI::PfSim::Faults::mangle_types($out) if $fault->{wrong_types};
    my $body = $JSON->encode($out);
    my %send = (truncate => $fault->{truncate}, trickle_ms => $fault->{trickle_ms});
    if ($fault->{malformed_json}) {
        $body = substr($body, 0, int(length($body) / 2)) . '<cut>';
    } elsif (my $mb = $fault->{huge_body_mb}) {
        # The real answer padded to exactly $mb MiB, well-formed, so only a size limit stops it.
        ($status, $body) = (200, substr($body, 0, -1) . ',"padding":"');
        my $fill = int($mb * MIB) - length($body) - 2;
        @send{qw(fill end)} = ($fill > 0 ? $fill : 0, '"}');
    }
    return ($status, $body, %send);
}

1;
