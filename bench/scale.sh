#!/usr/bin/env bash
# Issue 14 "memory and scale on one node": httpd CPU per session request
# with 1 k, 10 k, 100 k and 1 M live sessions in the shmcb session cache,
# and whether a flood of unused challenges evicts sessions.
#
# The server is bench/login.sh's (bench/bench-server.sh), with a JPKICache
# large enough for 1 M sessions (JPKI_BENCH_CACHE bytes per namespace,
# default 700,000,000; docs/testing.md "Memory") and sessions that outlive
# the fill (JPKISessionIdleTimeout 7200). At each level the cache is filled with
# real challenge logins (bench/loadgen.c, LOADGEN_COOKIES keeps the
# cookies), then 3 alternating rounds of:
#   static      GET /public/page.html (the baseline of the round)
#   session-one one session's cookie on every request (the per-process
#               copy answers: core/jpki_memo.c)
#   session-mix a random cookie per request out of up to 10,000 live
#               sessions (wrk + Lua): most lookups miss the per-process
#               copy and search shmcb, the cost that could grow with the
#               number of entries
# Then the flood: 100,000 GET /jpki/challenge (never used), and every one
# of 200 sampled sessions must still be accepted.
# Usage: bench/scale.sh [seconds-per-round] [levels...]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-5}
shift || :
LEVELS=${*:-1000 10000 100000 1000000}
CONNS=${JPKI_BENCH_CONNS:-32}
LTHREADS=${JPKI_BENCH_LTHREADS:-8}
export JPKI_BENCH_CACHE=${JPKI_BENCH_CACHE:-700000000}
export JPKI_BENCH_CONF_EXTRA="JPKISessionIdleTimeout 7200"
export JPKI_BENCH_RUN=${JPKI_BENCH_RUN:-$PWD/bench/run-scale}
. bench/bench-server.sh

LG=$RUN/loadgen
COOKIES=$RUN/cookies
: > "$COOKIES"
cat > "$RUN/mix.lua" <<'EOF'
local cookies = {}
for line in io.lines(os.getenv("JPKI_SAMPLE")) do cookies[#cookies + 1] = line end
math.randomseed(os.time())
request = function()
    return wrk.format("GET", "/private/page.html", { ["Cookie"] = cookies[math.random(#cookies)] })
end
EOF

fill() { # fill to $1 live sessions
    local need=$(($1 - $(wc -l < "$COOKIES")))
    [ "$need" -gt 0 ] || return 0
    LOADGEN_COOKIES=$COOKIES LOADGEN_MAX=$need $LG login localhost "$PORT" "$LTHREADS" 36000 \
        "$PKI/server-ca.crt" "$PKI/auth-user01.der" "$PKI/auth-user01.key" "https://localhost:$PORT" > "$RUN/fill.out"
    read -r ok bad _ < "$RUN/fill.out"
    [ "$bad" = 0 ] || { echo "fill: $bad failed logins" >&2; exit 1; }
}
# wrk on a path: prints "<requests> <wrk CPU s>"
load() {
    local t out
    t=$( { TIMEFORMAT='%U %S'; time wrk -t2 -c"$CONNS" -d"${SECS}s" "$@" > "$RUN/wrk.out"; } 2>&1 )
    out=$(awk '/requests in/ { n = $1 } /Non-2xx/ { bad = $NF } END { print n, bad + 0 }' "$RUN/wrk.out")
    [ "${out#* }" = 0 ] || { echo "wrk: non-2xx answers on $*" >&2; cat "$RUN/wrk.out" >&2; exit 1; }
    echo "${out% *} $(echo "$t" | awk '{ print $1 + $2 }')"
}
measure() { # level path
    local t0 t1 r
    case $2 in
    static) t0=$(ticks); r=$(load "$URL/public/page.html"); t1=$(ticks);;
    session-one) t0=$(ticks); r=$(load -H "Cookie: $(head -1 "$COOKIES")" "$URL/private/page.html"); t1=$(ticks);;
    session-mix) t0=$(ticks); r=$(JPKI_SAMPLE=$RUN/sample load -s "$RUN/mix.lua" "$URL/private/page.html"); t1=$(ticks);;
    esac
    echo "$1 $2 $r $((t1 - t0))" >> "$RUN/rounds"
}
: > "$RUN/rounds"
SHM=$RUN/shm
SHM0=$(awk '/^Shmem:/ { print $2 }' /proc/meminfo)
for level in $LEVELS; do
    t0=$(date +%s)
    fill "$level"
    echo "level $level: filled in $(($(date +%s) - t0)) s ($(wc -l < "$COOKIES") live sessions)" >&2
    shuf -n 10000 "$COOKIES" > "$RUN/sample"
    for round in 1 2 3; do
        for p in static session-one session-mix; do measure "$level" "$p"; done
    done
    # shared memory resident since the start (kB; the pages shmcb's rings touched)
    echo $(($(awk '/^Shmem:/ { print $2 }' /proc/meminfo) - SHM0)) > "$SHM.$level"
done

# The flood: 100,000 challenges nobody uses, then 200 sampled sessions.
shuf -n 200 "$COOKIES" > "$RUN/flood-sample"
n=0
while [ "$n" -lt 100000 ]; do
    r=$(SECS=3 load "$URL/jpki/challenge"); n=$((n + ${r%% *}))
done
kept=0
while read -r c; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$PKI/server-ca.crt" -H "Cookie: $c" "$URL/private/page.html")
    [ "$code" = 200 ] && kept=$((kept + 1))
done < "$RUN/flood-sample"

HZ=$(getconf CLK_TCK)
echo "bench/scale.sh: ${SECS}s rounds, wrk -c$CONNS, load avg $(cut -d' ' -f1-3 /proc/loadavg)"
perl -e '
    my ($hz, $f, $shm) = @ARGV; my (%r, @lv);
    open my $in, "<", $f or die;
    while (<$in>) {
        my ($lv, $p, $n, $gen, $ticks) = split;
        push @lv, $lv unless grep { $_ == $lv } @lv;
        push @{ $r{$lv}{$p} }, $ticks / $hz / $n * 1e6;
    }
    sub med { my @a = sort { $a <=> $b } @_; $a[$#a / 2] }
    printf "%-9s %10s %14s %8s %14s %8s %12s\n", "sessions", "static us", "session-one us", "x", "session-mix us", "x", "shm MB";
    for my $lv (@lv) {
        my ($s, $o, $m) = map { med(@{ $r{$lv}{$_} }) } qw(static session-one session-mix);
        my $rss = do { open my $h, "<", "$shm.$lv"; <$h> } // 0;
        printf "%-9d %10.1f %14.1f %7.2fx %14.1f %7.2fx %12.0f\n", $lv, $s, $o, $o / $s, $m, $m / $s, $rss / 1024;
    }
' "$HZ" "$RUN/rounds" "$SHM"
echo "challenge flood: $n unused challenges; sampled sessions still accepted: $kept of 200"
[ "$kept" = 200 ] || { echo "FAIL: the challenge flood evicted sessions"; exit 1; }
