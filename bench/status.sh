#!/usr/bin/env bash
# Issue "status" benchmark, against the platform simulator (tools/jpki-pf-sim)
# with 100 ms of added latency per call. One httpd, one run:
#   1. PF calls per login: 64 concurrent logins of 16 certificates, cold
#      cache (goal: exactly 16 calls);
#   2. login latency p50/p99: that cold run, and the same 64 logins warm;
#   3. static-page requests/s (wrk, TLS keep-alive) normally and while the
#      PF is blackholed and logins keep arriving (goal: ratio >= 0.90).
# Usage: bench/status.sh [seconds per wrk round, default 5]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-5}
SRC=$PWD
RUN=$SRC/bench/run-status
PORT=${JPKI_BENCH_PORT:-8553}
PFPORT=${JPKI_BENCH_PF_PORT:-8554}
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
perl -MCrypt::OpenSSL::RSA -e1 2>/dev/null || apt-get install -y -qq libcrypt-openssl-rsa-perl >/dev/null
[ -f mod_jpki.so ] || { echo "build first: make"; exit 1; }
rm -rf "$RUN"; mkdir -p "$RUN/www"
bash t/pki/mkpki.sh "$RUN/pki"
head -c 1024 /dev/zero | tr '\0' 'x' > "$RUN/www/page.html"
head -c 24 /dev/urandom | base64 > "$RUN/pf-token"
chmod -R o+rX "$RUN"
PKI=$RUN/pki
state() { printf '%s' "$1" > "$RUN/state.tmp"; mv "$RUN/state.tmp" "$RUN/state.json"; }
state '{"faults":{"*":{"delay_ms":100}}}'
perl tools/jpki-pf-sim --listen "127.0.0.1:$PFPORT" --cert "$PKI/server-localhost.crt" \
    --key "$PKI/server-localhost.key" --token-file "$RUN/pf-token" --state "$RUN/state.json" \
    --log "$RUN/sim.log" --max-seconds 600 > "$RUN/sim.out" &
SIM=$!
sed -e "s|@RUN@|$RUN|g" -e "s|@PORT@|$PORT|g" -e "s|@PFPORT@|$PFPORT|g" \
    -e "s|@MODDIR@|$(apxs -q LIBEXECDIR)|g" -e "s|@SRC@|$SRC|g" -e "s|@PKI@|$PKI|g" \
    bench/httpd-status.conf.in > "$RUN/httpd.conf"
/usr/sbin/apache2 -f "$RUN/httpd.conf" -k start
trap '/usr/sbin/apache2 -f "$RUN/httpd.conf" -k stop; kill $SIM 2>/dev/null; wait $SIM 2>/dev/null || :' EXIT
URL=https://localhost:$PORT
for _ in $(seq 100); do grep -q READY "$RUN/sim.out" 2>/dev/null && break; sleep 0.1; done
for _ in $(seq 50); do curl -s -o /dev/null --cacert "$PKI/server-ca.crt" "$URL/page.html" && break; sleep 0.1; done
calls() { curl -s --cacert "$PKI/server-ca.crt" "https://127.0.0.1:$PFPORT/calls" | perl -MJSON::PP -0 -ne 'print decode_json($_)->{total}'; }
reset() { curl -s -o /dev/null -X POST --cacert "$PKI/server-ca.crt" "https://127.0.0.1:$PFPORT/calls/reset"; }
pct() { sort -n | awk -v p="$1" '{a[NR]=$1} END {i=int(NR*p/100+0.999); if(i<1)i=1; printf "%.0f", a[i]*1000}'; }
CERTS=$(printf 'auth-user%02d,' $(seq 1 16)); CERTS=${CERTS%,}

# 1 + 2: cold, then warm
reset
perl bench/status-load.pl --url "$URL" --pki "$PKI" --n 64 --certs "$CERTS" > "$RUN/cold.txt"
C=$(calls)
perl bench/status-load.pl --url "$URL" --pki "$PKI" --n 64 --certs "$CERTS" > "$RUN/warm.txt"
W=$(calls)
okc=$(awk '$1==200' "$RUN/cold.txt" | wc -l); okw=$(awk '$1==200' "$RUN/warm.txt" | wc -l)
echo "64 concurrent logins, 16 certificates, cold cache: $okc x 200, PF calls $C (goal 16): $(awk -v c="$C" 'BEGIN{printf "%.3f", c/64}') calls/login"
echo "same 64 logins, warm cache:                        $okw x 200, PF calls $((W - C)) more"
echo "login latency cold (PF +100 ms): p50 $(awk '{print $2}' "$RUN/cold.txt" | pct 50) ms, p99 $(awk '{print $2}' "$RUN/cold.txt" | pct 99) ms"
echo "login latency warm (cache):      p50 $(awk '{print $2}' "$RUN/warm.txt" | pct 50) ms, p99 $(awk '{print $2}' "$RUN/warm.txt" | pct 99) ms"

# 3: static pages, normal vs PF blackholed with logins arriving
rps() { wrk -t2 -c32 -d"${SECS}s" "$URL/page.html" | awk '/Requests\/sec/ {print $2}'; }
wrk -t2 -c32 -d1s "$URL/page.html" > /dev/null
A=$(rps)
state '{"faults":{"*":{"blackhole":true}}}'
OUTAGE_CERTS=auth-alice-1,auth-alice-2,auth-alice-3,auth-bob,auth-carol,auth-rev-hold,auth-rev-superseded,auth-rev-cessation
perl bench/status-load.pl --url "$URL" --pki "$PKI" --loop "$SECS" --procs 4 --certs "$OUTAGE_CERTS" > "$RUN/outage.txt" &
LOAD=$!
B=$(rps)
wait $LOAD
state '{}'
read -r okl badl < <(awk '{o+=$1; b+=$2} END {print o+0, b+0}' "$RUN/outage.txt")
echo "static page, PF healthy:     $A req/s"
echo "static page, PF blackholed:  $B req/s (logins meanwhile: $okl ok, $badl refused 503)"
awk -v a="$A" -v b="$B" 'BEGIN { printf "ratio blackholed/healthy:     %.3f (goal >= 0.90)\n", b/a }'
