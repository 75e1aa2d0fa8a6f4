#!/usr/bin/env bash
# Set everything up on a fresh Debian 12 machine and run the demo: a local
# httpd on https://localhost:8443 with mod_jpki protecting /account/, using
# the project's test PKI. Then log in the way a card would: by TLS client
# certificate, and by challenge-response with tools/jpki-login (then log
# out). "scripts/demo.sh stop" stops the server. "scripts/demo.sh cluster" runs
# three nodes with Redis, PostgreSQL and a balancer instead (docs/cluster.md).
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
RUN=$SRC/demo/run
PORT=${JPKI_DEMO_PORT:-8443}
PFPORT=${JPKI_DEMO_PF_PORT:-8444}
HTTPD=/usr/sbin/apache2

stop_sim() {
  if [ -f "$RUN/pf-sim.pid" ]; then kill "$(cat "$RUN/pf-sim.pid")" 2>/dev/null || :; rm -f "$RUN/pf-sim.pid"; fi
}
if [ "${1:-}" = cluster ]; then
  # several servers (docs/cluster.md): 3 nodes, Redis, PostgreSQL, a balancer on
  # https://localhost:${JPKI_DEMO_PORT:-8443}; runs in the foreground until Ctrl-C
  scripts/deps.sh test
  d=$SRC; while [ "$d" != / ]; do chmod o+x "$d"; d=$(dirname "$d"); done
  [ -x configure ] || autoreconf -fi
  [ -f Makefile ] || ./configure
  make -j"$(nproc)" >/dev/null
  exec perl tests/cluster/demo.pl
fi
if [ "${1:-}" = stop ]; then
  [ -f "$RUN/httpd.pid" ] && $HTTPD -f "$RUN/httpd.conf" -k stop && echo "demo stopped"
  stop_sim
  exit 0
fi

scripts/deps.sh demo
d=$SRC; while [ "$d" != / ]; do chmod o+x "$d"; d=$(dirname "$d"); done
[ -x configure ] || autoreconf -fi
[ -f Makefile ] || ./configure
make -j"$(nproc)" >/dev/null

mkdir -p "$RUN"
PKI=$RUN/pki
bash t/pki/mkpki.sh "$PKI"
MODDIR=$(apxs -q LIBEXECDIR)
sed -e "s|@RUN@|$RUN|g" -e "s|@PORT@|$PORT|g" -e "s|@MODDIR@|$MODDIR|g" \
    -e "s|@SRC@|$SRC|g" -e "s|@PKI@|$PKI|g" -e "s|@PFPORT@|$PFPORT|g" \
    demo/httpd.conf.in > "$RUN/httpd.conf"

# The platform operator, simulated: one card of the demo is revoked (renewed).
stop_sim
head -c 24 /dev/urandom | base64 > "$RUN/pf-token"
chmod 644 "$RUN/pf-token"
REVOKED=$(awk -F'\t' '$1=="auth-rev-superseded"{print $3}' "$PKI/manifest.tsv")
printf '{"revoked": {"%s": {"reason": "superseded", "date": "2026-01-01T00:00:00Z"}}}\n' "$REVOKED" > "$RUN/pf-state.json"
tools/jpki-pf-sim --listen "127.0.0.1:$PFPORT" --cert "$PKI/server-localhost.crt" \
    --key "$PKI/server-localhost.key" --token-file "$RUN/pf-token" --state "$RUN/pf-state.json" \
    --pidfile "$RUN/pf-sim.pid" --log "$RUN/pf-sim.log" > "$RUN/pf-sim.out" 2>&1 &
for _ in $(seq 50); do grep -q READY "$RUN/pf-sim.out" 2>/dev/null && break; sleep 0.1; done
[ -f "$RUN/httpd.pid" ] && $HTTPD -f "$RUN/httpd.conf" -k stop 2>/dev/null && sleep 1
$HTTPD -f "$RUN/httpd.conf" -k start
for _ in $(seq 50); do curl -s -o /dev/null --cacert "$PKI/server-ca.crt" "https://localhost:$PORT/" && break; sleep 0.1; done

URL=https://localhost:$PORT/account/
echo "== demo httpd: $URL (error log: $RUN/error_log)"
echo "== 1. without a card: the browser is sent to the login page"
curl -s -o /dev/null -w '   %{http_code} -> %{redirect_url}\n' --cacert "$PKI/server-ca.crt" "$URL"
echo "== 2. TLS client certificate of a (test) card: logged in"
curl -s --cacert "$PKI/server-ca.crt" --cert "$PKI/auth-alice-1.crt" --key "$PKI/auth-alice-1.key" "$URL" | sed 's/^/   /'
echo "== 3. an expired card: refused with a clear reason"
curl -s -o /dev/null -D - --cacert "$PKI/server-ca.crt" --cert "$PKI/bad-expired.crt" \
     --key "$PKI/bad-expired.key" "$URL" | grep -iE '^(HTTP|x-jpki-error)' | sed 's/^/   /'
echo "== 3b. a card whose certificate was renewed (revoked: superseded, per the platform simulator)"
curl -s -o /dev/null -D - --cacert "$PKI/server-ca.crt" --cert "$PKI/auth-rev-superseded.crt" \
     --key "$PKI/auth-rev-superseded.key" "$URL" | grep -iE '^(HTTP|x-jpki-error)' | sed 's/^/   /'
echo "   platform calls so far: $(curl -s --cacert "$PKI/server-ca.crt" "https://localhost:$PFPORT/calls")"
echo "== 4. challenge-response login, as the card does it (tools/jpki-login signs the challenge)"
COOKIE=$(tools/jpki-login --url "https://localhost:$PORT" --cacert "$PKI/server-ca.crt" \
         --key "$PKI/auth-alice-2.key" --cert "$PKI/auth-alice-2.der")
echo "   session cookie: ${COOKIE%%=*}=..."
curl -s --cacert "$PKI/server-ca.crt" -H "Cookie: $COOKIE" "$URL" | sed 's/^/   /'
echo "== 5. logout ends the session: the same cookie is sent to the login page again"
tools/jpki-login --url "https://localhost:$PORT" --cacert "$PKI/server-ca.crt" --logout "$COOKIE" | sed 's/^/   /'
curl -s -o /dev/null -w '   %{http_code} -> %{redirect_url}\n' --cacert "$PKI/server-ca.crt" \
     -H "Cookie: $COOKIE" "$URL"
echo "== in a browser: https://localhost:$PORT/login.html?signer=software"
echo "   (software signer: pick $PKI/auth-alice-1.key and auth-alice-1.der;"
echo "    the browser must trust $PKI/server-ca.crt or accept the warning)"
echo "   card-helper path: tools/jpki-test-card-helper --key $PKI/auth-bob.key --cert $PKI/auth-bob.der \\"
echo "       --origin https://localhost:$PORT   then https://localhost:$PORT/account/"
echo "== the servers keep running (httpd and the platform simulator on $PFPORT); stop them with: scripts/demo.sh stop"
