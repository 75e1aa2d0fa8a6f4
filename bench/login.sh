#!/usr/bin/env bash
# Issue 14 "hot path" benchmark: per path, the httpd CPU per request (utime +
# stime from /proc/<pid>/stat, fields 14 + 15, of the parent and its children,
# before and after, divided by the requests served) next to requests/s, with
# ratios against the static page of the same round; 3 alternating rounds,
# median. The load generators' own CPU is printed too (they share the cores).
#   static   1 KiB page (/public/page.html), TLS keep-alive (wrk)
#   session  the same page (/private/page.html) behind AuthType JPKI + Require jpki-account, with a
#            session; status (platform, tools/jpki-pf-sim) and account (dbd,
#            SQLite) checks configured and cached (wrk)
#   login    challenge + card signature + login, keep-alive TLS, no cookie
#            (bench/loadgen.c; one "request" = the two HTTP requests)
#   tlslogin TLS client-certificate login: new handshake per request, status
#            and account cached (bench/loadgen.c)
#   handshake the anchor: mod_ssl alone with SSLVerifyClient require, new
#            handshake per request, static page (bench/loadgen.c)
# JPKI_BENCH_MODULE=/path/mod_jpki.so: benchmark another build (before/after).
# Usage: bench/login.sh [seconds-per-path]   (JPKI_BENCH_PORT, default 8543,
# and the next two ports; the PF simulator takes the port after them)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-5}
ROUNDS=${JPKI_BENCH_ROUNDS:-3}
CONNS=${JPKI_BENCH_CONNS:-32}      # wrk connections
LTHREADS=${JPKI_BENCH_LTHREADS:-8} # loadgen connections
. bench/bench-server.sh

LG=$RUN/loadgen
login_args() { echo "login localhost $PORT $1 $2 $PKI/server-ca.crt $PKI/auth-user01.der $PKI/auth-user01.key https://localhost:$PORT"; }
tls_args() { echo "tls localhost $1 $2 $3 $PKI/server-ca.crt $PKI/auth-user01.crt $PKI/auth-user01.key $4"; }
# one login with a cookie for the session path (perl: the cookie is printed)
COOKIE=$(perl bench/login-load.pl --url "$URL" --pki "$PKI" --once)
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$PKI/server-ca.crt" -H "Cookie: $COOKIE" "$URL/private/page.html")
[ "$code" = 200 ] || { echo "session check failed: $code"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$PKI/server-ca.crt" --cert "$PKI/auth-user01.crt" \
    --key "$PKI/auth-user01.key" "https://localhost:$PORT1/private/page.html")
[ "$code" = 200 ] || { echo "TLS client-certificate login failed: $code"; exit 1; }

# run PATH: prints "<requests> <seconds> <generator CPU s>"
run() {
    local out t
    case $1 in
    static|session)
        local h=(); local u=$URL/public/page.html
        [ "$1" = session ] && { h=(-H "Cookie: $COOKIE"); u=$URL/private/page.html; }
        t=$( { TIMEFORMAT='%U %S'; time wrk -t2 -c"$CONNS" -d"${SECS}s" "${h[@]}" "$u" > "$RUN/wrk.out"; } 2>&1 )
        out=$(awk '/requests in/ { n = $1 } /Non-2xx/ { bad = $NF } END { print n, bad + 0 }' "$RUN/wrk.out")
        [ "${out#* }" = 0 ] || { echo "wrk: non-2xx answers on $1" >&2; exit 1; }
        echo "${out% *} $SECS $(echo "$t" | awk '{ print $1 + $2 }')"; return;;
    login)  out=$($LG $(login_args "$LTHREADS" "$SECS"));;
    tlslogin) out=$($LG $(tls_args "$PORT1" "$LTHREADS" "$SECS" /private/page.html));;
    handshake) out=$($LG $(tls_args "$PORT2" "$LTHREADS" "$SECS" /page.html));;
    esac
    if [ -n "${out:-}" ]; then
        set -- $out
        [ "$2" = 0 ] || { echo "loadgen: $2 failed requests" >&2; exit 1; }
        echo "$1 $SECS $4"
    fi
}
PATHS=${JPKI_BENCH_PATHS:-static session login tlslogin handshake}
for p in $PATHS; do SECS=2 run "$p" > /dev/null; done   # warm-up: caches, pools
: > "$RUN/rounds"
for round in $(seq "$ROUNDS"); do
    for p in $PATHS; do
        t0=$(ticks); r=$(run "$p"); t1=$(ticks)
        echo "$round $p $r $((t1 - t0))" >> "$RUN/rounds"
    done
done
# JPKI_BENCH_PERF="session login": a perf profile of the httpd processes
# during one more run of each named path (bench/run/perf.<path>.txt)
for p in ${JPKI_BENCH_PERF:-}; do
    pp=$(cat "$RUN/httpd.pid")
    pids=$(echo $pp $(cat /proc/$pp/task/$pp/children) | tr ' ' ,)
    perf record -q ${JPKI_BENCH_PERF_CG:--g} -F 499 -p "$pids" -o "$RUN/perf.$p.data" 2>/dev/null &
    PERF=$!; sleep 0.5
    run "$p" > /dev/null
    kill -INT $PERF; wait $PERF 2>/dev/null || :
    perf report -q -i "$RUN/perf.$p.data" --no-children --sort dso,symbol --percent-limit 0.7 \
        2>/dev/null | grep -v '^$' | grep -v '^ *|' | grep -v '^ *-' > "$RUN/perf.$p.txt" || :
    perf report -q -i "$RUN/perf.$p.data" --no-children --sort dso --percent-limit 0.5 \
        2>/dev/null | grep '%' > "$RUN/perf.$p.dso.txt" || :
done
echo "bench/login.sh: $ROUNDS rounds of ${SECS}s per path, wrk -c$CONNS, loadgen $LTHREADS connections, load avg $(cut -d' ' -f1-3 /proc/loadavg)"
perl -e '
    my ($hz, $f) = @ARGV; my (%r, @order);
    open my $in, "<", $f or die;
    while (<$in>) {
        my ($round, $p, $n, $s, $gen, $ticks) = split;
        push @order, $p unless $r{$p};
        push @{ $r{$p} }, { rps => $n / $s, cpu => $ticks / $hz / $n * 1e6, gen => $gen / $n * 1e6, round => $round };
    }
    my %st = map { $_->{round} => $_ } @{ $r{static} };
    sub med { my @a = sort { $a <=> $b } @_; $a[$#a / 2] }
    printf "%-10s %10s %12s %14s %14s %14s\n", "path", "req/s", "CPU us/req", "CPU vs static", "req/s vs static", "generator us";
    for my $p (@order) {
        my @x = @{ $r{$p} };
        printf "%-10s %10.0f %12.1f %14s %14s %14.1f\n", $p, med(map { $_->{rps} } @x), med(map { $_->{cpu} } @x),
            sprintf("%.2fx", med(map { $_->{cpu} / $st{ $_->{round} }{cpu} } @x)),
            sprintf("%.2fx", med(map { $_->{rps} / $st{ $_->{round} }{rps} } @x)),
            med(map { $_->{gen} } @x);
    }
    my %hs = map { $_->{round} => $_ } @{ $r{handshake} || [] };
    printf "tlslogin vs handshake (CPU): %.2fx\n", med(map { $_->{cpu} / $hs{ $_->{round} }{cpu} } @{ $r{tlslogin} }) if %hs && $r{tlslogin};
    print "rounds (round path requests seconds generator-cpu-s httpd-ticks):\n";
' "$HZ" "$RUN/rounds"
cat "$RUN/rounds"
