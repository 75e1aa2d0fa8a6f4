#!/usr/bin/env bash
# Soak test (docs/testing.md "Soak"): mixed load against one httpd for a few
# minutes while the platform operator goes slow, down and back and the cache
# (memcached, the JPKICache) restarts. Not in CI; one command:
#   bench/soak.sh [minutes]          (default 10, at least 2; loopback only)
# Load (bench/soak-load.pl, one process per flow): challenge logins with
# session requests and logout, long-lived sessions (re-checked against the
# PF every 15 s), TLS client-certificate logins, registrations with the
# signing certificate. Timeline of D minutes: a warm-up cycle of 25 % (at
# least 40 s), then a main cycle of the rest. A cycle: 15 % normal, PF slow
# (+2 s per call) for 15 %, PF process stopped for 15 %, PF back; at 60 %
# memcached stopped for 8 s and started again (empty); load until the end;
# load stopped and drained. After the warm-up cycle a burst of about as many
# clients as httpd has threads, then the first snapshot; the second after
# the main cycle. The warm-up runs every path once (errors, reconnects,
# nearly every thread), so warm-up -> end compares one cycle with two.
# Criteria (bench/soak-report.pl): no 5xx except the documented 503s in
# their window, every flow works again after each outage, RSS of every httpd
# process grows < 5 % from warm-up to the end, open descriptors flat, the
# same children throughout, no unexpected error-log line above warn.
# Prints the tables, exits 1 when a criterion fails. Run directory: bench/run-soak.
# Ports: JPKI_SOAK_PORT (httpd, 16000), +1 the PF simulator, +2 memcached.
# SOAK_CLIENT_DATA=1 signs origin-bound client data (login protocol v2).
# SOAK_FLOWS="session tls" runs only those flows (to find which one a
# problem comes with). SOAK_MAXMEMFREE=<KB> sets httpd's MaxMemFree
# (default 2048, httpd's own default).
set -euo pipefail
cd "$(dirname "$0")/.."
MIN=${1:-10}
# at least 2 minutes: a shorter main cycle leaves no time after the cache restart
[[ $MIN =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v m="$MIN" 'BEGIN { exit !(m >= 2 && m <= 240) }' ||
    { echo "usage: bench/soak.sh [minutes 2..240]"; exit 2; }
SRC=$PWD
RUN=$SRC/bench/run-soak
PORT=${JPKI_SOAK_PORT:-16000}
PFPORT=$((PORT + 1))
MCPORT=$((PORT + 2))
PFDELAYMS=2000
FLOWS=${SOAK_FLOWS:-challenge session tls register}
CDFLAG=(); [ "${SOAK_CLIENT_DATA:-1}" = 0 ] && CDFLAG=(--no-client-data)   # v2 client data by default
export SOAK_FLOWS=$FLOWS
export TZ=UTC
D=$(awk -v m="$MIN" 'BEGIN { printf "%d", m * 60 }')
W=$(( D * 25 / 100 < 40 ? 40 : D * 25 / 100 ))   # warm-up: one short cycle
M=$(( D - W ))                                    # main run: one long cycle
CD=8                                              # memcached down for CD s
for c in memcached sqlite3 openssl; do command -v $c >/dev/null || apt-get install -y -qq "$c" >/dev/null; done
perl -MCrypt::OpenSSL::RSA -e1 2>/dev/null || apt-get install -y -qq libcrypt-openssl-rsa-perl >/dev/null
[ -f mod_jpki.so ] || { echo "build first: make"; exit 1; }
[ -f "$RUN/httpd.pid" ] && /usr/sbin/apache2 -f "$RUN/httpd.conf" -k stop 2>/dev/null || :
rm -rf "$RUN"; mkdir -p "$RUN/www/protected" "$RUN/www/register" "$RUN/state"
bash t/pki/mkpki.sh "$RUN/pki"
PKI=$RUN/pki
head -c 1024 /dev/zero | tr '\0' 'x' > "$RUN/www/protected/page.html"
cp "$RUN/www/protected/page.html" "$RUN/www/register/page.html"
echo '<!doctype html><title>login</title>' > "$RUN/www/login.html"
head -c 24 /dev/urandom | base64 > "$RUN/pf-token"

# Accounts for the login certificates; auth-bob has none (he registers).
ser() { awk -F'\t' -v n="$1" '$1 == n { print $4 ":" $3 }' "$PKI/manifest.tsv"; }
hex() { awk -F'\t' -v n="$1" '$1 == n { print $3 }' "$PKI/manifest.tsv"; }
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
{
    cat conf/jpki-schema.sql
    for c in $(printf 'auth-user%02d ' $(seq 1 16)) auth-alice-1 auth-carol; do
        echo "INSERT INTO jpki_account VALUES ('acct-$c', NULL, NULL, '$NOW');"
        echo "INSERT INTO jpki_serial VALUES ('$(ser "$c")', 'acct-$c', 'auth', NULL, '$NOW', '$NOW');"
    done
} | sqlite3 "$RUN/state/accounts.db"
chown -R nobody:nogroup "$RUN/state"
chmod -R o+rX "$RUN"

state() { printf '%s' "$1" > "$RUN/pf-state.tmp"; mv "$RUN/pf-state.tmp" "$RUN/pf-state.json"; }
USERS="\"users\":{\"$(hex auth-bob)\":\"usr_bob\",\"$(hex sign-bob)\":\"usr_bob\"}"
state "{$USERS}"
SIM=; MC=; SAMPLER=; LOADPIDS=()
sim_start() {
    : > "$RUN/sim.out"
    perl tools/jpki-pf-sim --listen "127.0.0.1:$PFPORT" --cert "$PKI/server-localhost.crt" \
        --key "$PKI/server-localhost.key" --token-file "$RUN/pf-token" --state "$RUN/pf-state.json" \
        --log "$RUN/sim.log" --max-seconds $((D + 300)) > "$RUN/sim.out" &
    SIM=$!
    for _ in $(seq 100); do grep -q READY "$RUN/sim.out" 2>/dev/null && return; sleep 0.1; done
    echo "the PF simulator did not start"; exit 1
}
mc_start() {
    memcached -l 127.0.0.1 -p "$MCPORT" -U 0 -u nobody -m 64 -c 512 &
    MC=$!
    for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$MCPORT) 2>/dev/null && return; sleep 0.1; done
    echo "memcached did not start"; exit 1
}
stop_pid() { [ -n "$1" ] && kill "$1" 2>/dev/null && wait "$1" 2>/dev/null || :; }
cleanup() {
    for p in "${LOADPIDS[@]}"; do kill "$p" 2>/dev/null || :; done
    [ -f "$RUN/httpd.pid" ] && /usr/sbin/apache2 -f "$RUN/httpd.conf" -k stop 2>/dev/null || :
    stop_pid "$SIM"; stop_pid "$MC"; stop_pid "$SAMPLER"
}
trap cleanup EXIT
sim_start
mc_start
sed -e "s|@RUN@|$RUN|g" -e "s|@PORT@|$PORT|g" -e "s|@PFPORT@|$PFPORT|g" -e "s|@MCPORT@|$MCPORT|g" \
    -e "s|@PFDELAYMS@|$PFDELAYMS|g" -e "s|@MAXMEMFREE@|${SOAK_MAXMEMFREE:-2048}|g" -e "s|@MODDIR@|$(apxs -q LIBEXECDIR)|g" -e "s|@SRC@|$SRC|g" \
    -e "s|@PKI@|$PKI|g" bench/httpd-soak.conf.in > "$RUN/httpd.conf"
/usr/sbin/apache2 -f "$RUN/httpd.conf" -k start
URL=https://localhost:$PORT
for _ in $(seq 100); do curl -s -o /dev/null --cacert "$PKI/server-ca.crt" "$URL/login.html" && break; sleep 0.1; done

# every 5 s: the load average, and RSS and descriptors of every httpd process
( while :; do
    echo "$(date +%s) load $(cut -d' ' -f1 /proc/loadavg)"
    perl bench/soak-snap.pl "$RUN/httpd.pid" "$PORT" "$PFPORT" "$MCPORT" "$RUN/sample.tmp" 2>/dev/null &&
        awk -v t="$(date +%s)" '{ print t, "proc", $1, $2, $3, $4, $5, $6 }' "$RUN/sample.tmp"
    sleep 5
  done ) > "$RUN/samples.txt" &
SAMPLER=$!
mark() { echo "$(date +%s.%N) $1" >> "$RUN/phases.tsv"; echo "$(date -u +%T) $1"; }
# one load generator per flow, each bounded by time and by request count
load() {   # $1 = seconds
    local s=$1
    local common=(--url "$URL" --pki "$PKI" --seconds "$s" --out "$RUN/events.log" "${CDFLAG[@]}")
    LOADPIDS=()
    run() { [[ " $FLOWS " == *" $2 "* ]] || return 0; perl bench/soak-load.pl "${common[@]}" "$@" & LOADPIDS+=($!); }
    run --flow challenge --pause-ms 50 --max-requests $((s * 100)) \
        --certs "$(printf 'auth-user%02d,' $(seq 1 8))auth-alice-1"
    run --flow challenge --pause-ms 50 --max-requests $((s * 100)) \
        --certs "$(printf 'auth-user%02d,' $(seq 9 16))auth-carol"
    run --flow session --pause-ms 20 --max-requests $((s * 100)) --certs auth-user01
    run --flow session --pause-ms 20 --max-requests $((s * 100)) --certs auth-alice-1
    run --flow tls --pause-ms 100 --max-requests $((s * 20)) --certs auth-carol,auth-alice-1,auth-user05
    run --flow register --pause-ms 200 --max-requests $((s * 20)) --certs auth-bob --sign-cert sign-bob
    run --flow static --pause-ms 0 --max-requests $((s * 100)) --certs auth-user01
    run --flow static --pause-ms 0 --max-requests $((s * 100)) --certs auth-user01
}
snap() { perl bench/soak-snap.pl "$RUN/httpd.pid" "$PORT" "$PFPORT" "$MCPORT" "$1"; }
drain() { for p in "${LOADPIDS[@]}"; do wait "$p" || :; done; LOADPIDS=(); sleep 4; }

# One cycle of $1 seconds of load: 15 % normal, PF slow for 15 %, PF process
# stopped for 15 %, PF back; at 60 % memcached stopped for CD s and started
# again (empty); then load until the end of the cycle, and drain. $2 prefixes
# the marks ("w:" in the warm-up).
cycle() {
    local s=$1 p=$2
    load "$s"
    sleep $(( s * 15 / 100 )); mark "${p}pf-slow"
    state "{$USERS,\"faults\":{\"*\":{\"delay_ms\":$PFDELAYMS}}}"
    sleep $(( s * 15 / 100 )); mark "${p}pf-down"
    state "{$USERS}"
    stop_pid "$SIM"; SIM=
    sleep $(( s * 15 / 100 )); mark "${p}pf-back"
    sim_start
    sleep $(( s * 15 / 100 )); mark "${p}cache-down"
    stop_pid "$MC"; MC=
    sleep "$CD"; mark "${p}cache-back"
    mc_start
    drain
}
# Before the first snapshot nearly every worker thread runs each flow: a
# thread keeps its own memory (its allocator keeps up to MaxMemFree of freed
# blocks; OpenSSL and libcurl state), so RSS grows with each thread's first
# busy requests. Up to 40 clients at once for 50 threads (more would queue,
# and httpd logs "reached MaxRequestWorkers" as an error).
burst() {
    local common=(--url "$URL" --pki "$PKI" --seconds 60 --out "$RUN/events.log" --pause-ms 0 "${CDFLAG[@]}")
    LOADPIDS=()
    run() { [[ " $FLOWS " == *" $2 "* ]] || return 0; perl bench/soak-load.pl "${common[@]}" "$@" & LOADPIDS+=($!); }
    run --flow challenge --procs 40 --max-requests 7 --certs "$(printf 'auth-user%02d,' $(seq 1 16))auth-alice-1"
    drain
    run --flow tls --procs 30 --max-requests 1 --certs auth-carol,auth-alice-1,auth-user05
    run --flow register --procs 10 --max-requests 4 --certs auth-bob --sign-cert sign-bob
    drain
    run --flow session --procs 40 --max-requests 10 --certs auth-user02
    drain
}

echo "soak: $MIN min (warm-up ${W}s, main ${M}s), httpd $URL, PF :$PFPORT, memcached :$MCPORT, load avg $(cut -d' ' -f1-3 /proc/loadavg)"
mark start
cycle "$W" w:
mark w:burst
burst
snap "$RUN/snap-warm.txt"
mark main
cycle "$M" ""
mark end
snap "$RUN/snap-end.txt"
stop_pid "$SAMPLER"; SAMPLER=
awk '$2 == "load" { s += $3; n++; if ($3 > mx) mx = $3 } END { printf "load average (1 min) during the run: mean %.1f, max %.1f on %d cores\n", s / n, mx, '"$(nproc)"' }' "$RUN/samples.txt"
perl bench/soak-report.pl "$RUN"
