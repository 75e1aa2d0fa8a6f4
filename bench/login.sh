#!/usr/bin/env bash
# Issue "login" benchmark. One httpd, one run, ratios against the same
# server's unprotected static page:
#   A = requests/s of an unprotected static page (wrk, TLS keep-alive)
#   B = requests/s of the same page behind AuthType JPKI with a session
#   L = full logins/s (challenge + card signature + login; status checks off)
# prints B/A (goal >= 0.90) and L/A. Usage: bench/login.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-5}
SRC=$PWD
RUN=$SRC/bench/run
PORT=${JPKI_BENCH_PORT:-8543}
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
perl -MCrypt::OpenSSL::RSA -e1 2>/dev/null || apt-get install -y -qq libcrypt-openssl-rsa-perl >/dev/null
[ -f mod_jpki.so ] || { echo "build first: scripts/test.sh or make"; exit 1; }
mkdir -p "$RUN/www/private"
bash t/pki/mkpki.sh "$RUN/pki"
head -c 1024 /dev/zero | tr '\0' 'x' > "$RUN/www/page.html"
cp "$RUN/www/page.html" "$RUN/www/private/page.html"
chmod -R o+rX "$RUN"
sed -e "s|@RUN@|$RUN|g" -e "s|@PORT@|$PORT|g" -e "s|@MODDIR@|$(apxs -q LIBEXECDIR)|g" \
    -e "s|@SRC@|$SRC|g" -e "s|@PKI@|$RUN/pki|g" bench/httpd-bench.conf.in > "$RUN/httpd.conf"
/usr/sbin/apache2 -f "$RUN/httpd.conf" -k start
trap '/usr/sbin/apache2 -f "$RUN/httpd.conf" -k stop' EXIT
URL=https://localhost:$PORT
for _ in $(seq 50); do curl -s -o /dev/null --cacert "$RUN/pki/server-ca.crt" "$URL/page.html" && break; sleep 0.1; done

COOKIE=$(perl bench/login-load.pl --url "$URL" --pki "$RUN/pki" --once)
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$RUN/pki/server-ca.crt" -H "Cookie: $COOKIE" "$URL/private/page.html")
[ "$code" = 200 ] || { echo "session check failed: $code"; exit 1; }

rps() { wrk -t2 -c32 -d"${SECS}s" "$@" | awk '/Requests\/sec/ {print $2}'; }
wrk -t2 -c32 -d2s "$URL/page.html" >/dev/null        # warm-up, both paths
wrk -t2 -c32 -d2s -H "Cookie: $COOKIE" "$URL/private/page.html" >/dev/null
# Alternate rounds so load from elsewhere hits both sides alike; report the median.
ratios=()
for round in 1 2 3; do
  A=$(rps "$URL/page.html")
  B=$(rps -H "Cookie: $COOKIE" "$URL/private/page.html")
  r=$(awk -v a="$A" -v b="$B" 'BEGIN { printf "%.3f", b/a }')
  ratios+=("$r")
  echo "round $round: unprotected $A req/s, session-authenticated $B req/s, ratio $r"
done
L=$(perl bench/login-load.pl --url "$URL" --pki "$RUN/pki" --procs 4 --seconds "$SECS" | awk '{print $1}')
A2=$(rps "$URL/page.html")
MED=$(printf '%s\n' "${ratios[@]}" | sort -n | sed -n 2p)
echo "full logins (challenge+login):    $L logins/s (unprotected right after: $A2 req/s)"
echo "median ratio session/unprotected: $MED (goal >= 0.90)"
awk -v a="$A2" -v l="$L" 'BEGIN { printf "ratio logins/unprotected:         %.3f\n", l/a }'
