#!/usr/bin/env bash
# Platform simulator (tools/jpki-pf-sim) throughput: requests/s of
# CheckCertificateStatus (with the certificate in the body, no fault) over TLS
# keep-alive, measured with wrk: one connection, then 8 connections.  Each
# connection is one forked simulator child, so 8 connections use both cores.
# The load generator runs on the same box, so requests/s depends on whatever
# else the machine is doing; the simulator's CPU time per request (parent and
# reaped children, from /proc/PID/stat) does much less.
# Usage: bench/pf-sim.sh [seconds per round, default 5]
#   SIM=/path/to/jpki-pf-sim bench/pf-sim.sh   (compare another version)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-5}
SIM=${SIM:-tools/jpki-pf-sim}
RUN=$PWD/bench/run-pf-sim
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
rm -rf "$RUN"; mkdir -p "$RUN"
bash t/pki/mkpki.sh "$RUN/pki"
PKI=$RUN/pki
head -c 24 /dev/urandom | base64 > "$RUN/pf-token"
printf '{}' > "$RUN/state.json"
perl "$SIM" --listen 127.0.0.1:0 --cert "$PKI/server-localhost.crt" --key "$PKI/server-localhost.key" \
    --token-file "$RUN/pf-token" --state "$RUN/state.json" --log "$RUN/sim.log" \
    --max-seconds 300 > "$RUN/sim.out" &
SIM_PID=$!
trap 'kill $SIM_PID 2>/dev/null; wait $SIM_PID 2>/dev/null || :' EXIT
for _ in $(seq 100); do grep -q READY "$RUN/sim.out" 2>/dev/null && break; sleep 0.1; done
PORT=$(awk '/^READY/ {print $2}' "$RUN/sim.out")
[ -n "$PORT" ] || { echo "simulator did not start"; cat "$RUN/sim.log"; exit 1; }

CERT=$(base64 -w0 "$PKI/auth-alice-1.der")
cat > "$RUN/check.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $(tr -d ' \n' < "$RUN/pf-token")"
wrk.body = '{"certificate":"$CERT","checkMethod":"CHECK_METHOD_OCSP"}'
function response(status, headers, body)
  if status ~= 200 then io.stderr:write("unexpected status " .. status .. "\n") end
end
EOF
URL=https://127.0.0.1:$PORT/pocketsign.verify.v2.CertificateService/CheckCertificateStatus
curl -sf --cacert "$PKI/server-ca.crt" -H "Content-Type: application/json" \
    -H "Authorization: Bearer $(tr -d ' \n' < "$RUN/pf-token")" \
    -d "{\"certificate\":\"$CERT\",\"checkMethod\":\"CHECK_METHOD_OCSP\"}" "$URL" | grep -q STATUS_GOOD \
    || { echo "CheckCertificateStatus did not answer STATUS_GOOD"; exit 1; }
# CPU ticks of the simulator: its own plus those of its reaped children.
ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$SIM_PID/stat"; }
HZ=$(getconf CLK_TCK)
for c in 1 8; do
    t0=$(ticks)
    wrk -t1 -c$c -d${SECS}s -s "$RUN/check.lua" "$URL" > "$RUN/wrk-$c.out" 2>"$RUN/wrk-$c.err"
    sleep 1.5                     # the children see EOF, exit and are reaped
    t1=$(ticks)
    rps=$(awk '/^Requests\/sec/ {print $2}' "$RUN/wrk-$c.out")
    n=$(awk '/requests in/ {print $1}' "$RUN/wrk-$c.out")
    bad=$(wc -l < "$RUN/wrk-$c.err")
    cpu=$(awk -v t=$((t1 - t0)) -v n="$n" -v hz="$HZ" 'BEGIN {printf "%.2f", t * 1000 / hz / n}')
    echo "CheckCertificateStatus over TLS keep-alive, $c connection(s): $rps requests/s, $cpu ms simulator CPU per request ($n requests, $bad non-200)"
done
