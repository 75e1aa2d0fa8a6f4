package JPKI::PfSim::Http;
# HTTP/1.1 over TLS for the simulator, on HTTP::Daemon (libhttp-daemon-perl)
# and IO::Socket::SSL: the listening socket is an HTTP::Daemon, and a
# connection child upgrades its accepted socket to JPKI::PfSim::Http::Conn, an
# IO::Socket::SSL that is also an HTTP::Daemon::ClientConn, so HTTP::Daemon
# parses the requests (keep-alive, pipelining, Expect: 100-continue, chunked
# bodies).  This module adds what a test double needs on top: size limits and
# timeouts, Connect-style error answers, and responses written byte for byte
# so that the faults can break them on purpose.

use v5.36;
use strict;
use warnings;

use HTTP::Daemon;

package JPKI::PfSim::Http::Daemon {
    our @ISA = ('HTTP::Daemon');

    # HTTP::Daemon asks its daemon for the URL on every request; a connection
    # child has closed the listening socket, so the URL is fixed at start-up.
    sub url ($self) { ${*$self}{pfsim_url} //= $self->SUPER::url }
}

package JPKI::PfSim::Http::Conn;

use HTTP::Date qw(time2str);
use HTTP::Response;
use HTTP::Status qw(status_message);
use IO::Select;
use IO::Socket::SSL;
use POSIX qw(_exit);
use Socket qw(SOL_SOCKET SO_LINGER);
use Time::HiRes qw(time sleep);

our @ISA = ('IO::Socket::SSL', 'HTTP::Daemon::ClientConn');

use constant {
    MAX_BODY       => 1024 * 1024,      # request bodies above this get 413
    MAX_READ       => 1024 * 1024 + 64 * 1024,  # bytes read for one request before giving up
    READ_TIMEOUT   => 30,               # seconds to finish a request once it has started
    BLACKHOLE_SECS => 60,
};

# Does the TLS handshake on an accepted socket.  Returns the connection, or
# undef (reason in $SSL_ERROR).  $idle: seconds a keep-alive connection may
# stay idle.
sub upgrade ($class, $sock, $tls_ctx, $idle) {
    my $self = $class->start_SSL($sock, SSL_server => 1, SSL_reuse_ctx => $tls_ctx, Timeout => 10)
        or return undef;
    ${*$self}{pfsim_idle} = $idle;
    ${*$self}{pfsim_parent} = getppid();
    return $self;
}

# Reads the next request.  Returns undef when the client has gone or stayed
# idle; {error => [status, code, message]} for a protocol error (answer it,
# then close); else {method, path, body, keep_alive, req (HTTP::Request)}.
sub next_request ($self) {
    ${*$self}{pfsim_got} = 0;
    delete @{*$self}{qw(pfsim_too_large pfsim_error)};
    my $r = $self->get_request;
    if (!$r) {
        return { error => [413, 'resource_exhausted', 'request body larger than 1 MiB'] } if ${*$self}{pfsim_too_large};
        my $status = ${*$self}{pfsim_error} or return undef;
        return { error => protocol_error($status, $self->reason // '') };
    }
    my $proto = $r->protocol // '';
    $proto =~ m{^HTTP/1\.[01]$} or return { error => [400, 'invalid_argument', 'malformed request line'] };
    return { error => [413, 'resource_exhausted', 'request body larger than 1 MiB'] } if length ${ $r->content_ref } > MAX_BODY;
    my $conn = lc($r->header('Connection') // '');
    my $keep = $proto eq 'HTTP/1.1' ? $conn !~ /\bclose\b/ : $conn =~ /\bkeep-alive\b/;
    return { method => $r->method, path => $r->uri->path, body => $r->content, req => $r, keep_alive => $keep };
}

# HTTP::Daemon's protocol errors (its send_error calls), as Connect errors.
sub protocol_error ($status, $reason) {
    return [431, 'resource_exhausted', 'request header too large'] if $status == 413 || $status == 414;
    return [417, 'invalid_argument', 'unsupported Expect header value'] if $status == 417;
    return [501, 'unimplemented', 'unsupported Transfer-Encoding'] if $status == 501;
    my $msg = $reason =~ /^Bad request line/ ? 'malformed request line'
            : $reason =~ /Content-Length/    ? 'bad Content-Length'
            : $reason =~ /^Bad chunk/        ? 'bad chunk header'
            :                                  'malformed request';
    return [400, 'invalid_argument', $msg];
}

# HTTP::Daemon calls this on a protocol error; the answer is sent by the
# server, in the simulator's JSON form, after get_request has returned.
sub send_error ($self, $status = 400, $error = '') {
    ${*$self}{pfsim_error} = $status;
    return $status;
}

# HTTP::Daemon's read primitive, replaced: TLS-buffered bytes count as
# readable, an idle connection and a started request have their own timeouts,
# and one request may not make it read more than MAX_READ bytes.  (_need_more is
# HTTP::Daemon's internal hook for reading; HTTP::Daemon::SSL overrides it the
# same way; the self-test's "100 MiB announced" case fails without it.)
sub _need_more {
    my $self = shift;
    my $got = \${*$self}{pfsim_got};
    if ($$got > MAX_READ) {
        ${*$self}{pfsim_too_large} = 1;
        $self->reason('request too large');
        return;
    }
    my $timeout = length($_[0]) || $$got ? READ_TIMEOUT : ${*$self}{pfsim_idle};
    unless ($self->pending || $self->wait_readable($timeout)) {
        $self->reason('Timeout');
        return;
    }
    my $n = $self->sysread($_[0], 16384, length $_[0]);
    $self->reason(defined $n ? 'Client closed' : "sysread: $!") unless $n;
    $$got += $n if $n;
    return $n;
}

# Waits until the socket has data, in one-second slices so that a child whose
# parent has vanished (killed with SIGKILL) exits instead of lingering.
sub wait_readable ($self, $timeout) {
    my $sel = IO::Select->new($self);
    my $end = time + $timeout;
    while (1) {
        _exit(0) if getppid() != ${*$self}{pfsim_parent};
        my $left = $end - time;
        return 0 if $left <= 0;
        return 1 if $sel->can_read($left < 1 ? $left : 1);
    }
}

sub write_all ($self, $data) {
    my $off = 0;
    while ($off < length $data) {
        my $n = $self->syswrite($data, length($data) - $off, $off);
        return 0 unless $n;
        $off += $n;
    }
    return 1;
}

# Sends one response and returns true if the connection may carry another
# request.  Options: close (send Connection: close), type, headers (arrayref of
# name => value), and for the faults: fill/end (stream that many filler bytes,
# then the closing bytes, after $body), truncate (send only the first half of
# the announced body, then close), trickle_ms (one byte at a time).
sub respond ($self, $status, $body, %o) {
    state $filler = 'x' x 65536;
    my $fill = $o{fill} // 0;
    my $end = $o{end} // '';
    my $length = length($body) + $fill + length $end;
    my $close = $o{close} || $o{truncate} || $fill;
    my $res = HTTP::Response->new($status, status_message($status) // 'Status');
    $res->protocol('HTTP/1.1');
    $res->header(Date => time2str(), Server => 'jpki-pf-sim', 'Content-Type' => $o{type} // 'application/json',
                 'Content-Length' => $length, @{ $o{headers} // [] },
                 $close ? (Connection => 'close') : ('Keep-Alive' => 'timeout=' . ${*$self}{pfsim_idle}));
    my $head = $res->as_string("\r\n");
    my $budget = length($head) + ($o{truncate} ? int($length / 2) : $length);
    my $put = sub ($d) {
        $d = substr($d, 0, $budget) if length $d > $budget;
        $budget -= length $d;
        return $o{trickle_ms} ? $self->trickle($d, $o{trickle_ms}) : $self->write_all($d);
    };
    $put->($head . $body) or return 0;
    while ($fill > 0 && $budget > 0) {                  # huge bodies are streamed, not built
        my $n = $fill < length $filler ? $fill : length $filler;
        $put->(substr($filler, 0, $n)) or return 0;
        $fill -= $n;
    }
    $put->($end) or return 0 if length $end && $budget > 0;
    return !$close;
}

sub trickle ($self, $data, $ms) {
    for my $byte (split //, $data) {
        $self->write_all($byte) or return 0;
        sleep($ms / 1000);
    }
    return 1;
}

# Reads and discards what the client still sends (e.g. the rest of an oversized
# body) for up to two seconds, so that closing does not reset the connection
# before the client has read the error response.
sub drain ($self) {
    my $end = time + 2;
    while ((my $left = $end - time) > 0) {
        last unless $self->pending || $self->wait_readable($left);
        $self->sysread(my $junk, 65536) or last;
    }
}

# The "reset" fault: drop the connection with a TCP RST (SO_LINGER 0) and no TLS alert.
sub reset_now ($self) {
    setsockopt($self, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
    _exit(0);                                           # close without close_notify
}

# The "blackhole" fault: never answer; wait for the client to go away (or give up).
sub blackhole ($self) {
    my $end = time + BLACKHOLE_SECS;
    while ((my $left = $end - time) > 0) {
        next unless $self->pending || $self->wait_readable($left < 1 ? $left : 1);
        $self->sysread(my $junk, 65536) or last;        # EOF or error: the client left
    }
    _exit(0);
}

1;
