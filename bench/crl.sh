#!/usr/bin/env bash
# Issue 15 CRL benchmark (JPKIStatusProvider crl, docs/status.md):
#  1. a CRL of N entries (default 10 M) made by bench/crl-gen.c (DER
#     assembly, signed by the test PKI's auth-root-g1), and a second one for
#     the swap; both list the six auth-rev-* cards
#  2. index time, peak memory and bytes per entry of tools/crl/jpki-crl-index,
#     next to `openssl crl` (OpenSSL's in-memory X509_CRL) parsing the same file
#  3. bench/crl-lookup.c: map + validate time of the index (what each child
#     pays once per new index) and CPU per lookup
#  4. httpd CPU per login (ticks of parent + children / logins, as
#     bench/login.sh) with the crl provider against the same login with the
#     platform provider's status served from the status cache (pf-sim)
#  5. swap under load: logins for SWAPSECS s while the index is replaced
#     (rename) by the other CRL's every second; every login must succeed
# Usage: bench/crl.sh [seconds-per-round]  (JPKI_BENCH_CRL_N, JPKI_BENCH_PORT
# default 8643 and the two ports after it)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-5}
SRC=$PWD
RUN=$SRC/bench/run-crl
N=${JPKI_BENCH_CRL_N:-10000000}
PORT=${JPKI_BENCH_PORT:-8643}
PORT1=$((PORT + 1)); PFPORT=$((PORT + 2))
ROUNDS=${JPKI_BENCH_ROUNDS:-3}
LTHREADS=${JPKI_BENCH_LTHREADS:-8}
SWAPSECS=${JPKI_BENCH_SWAPSECS:-20}
for c in cc openssl apr-1-config; do command -v $c >/dev/null || { echo "missing: $c"; exit 1; }; done
[ -f mod_jpki.so ] && [ -x tools/crl/jpki-crl-index ] && [ -f .libs/libjpki_core.a ] || { echo "build first: make"; exit 1; }
rm -rf "$RUN"; mkdir -p "$RUN/www" "$RUN/crl" "$RUN/crl-b"
cc -O2 -Wall -o "$RUN/loadgen" bench/loadgen.c -lssl -lcrypto -lpthread
cc -O2 -Wall -o "$RUN/crl-gen" bench/crl-gen.c -lcrypto
cc -O2 -Wall -I mod_jpki $(apr-1-config --includes) -o "$RUN/crl-lookup" bench/crl-lookup.c \
    .libs/libjpki_core.a $(apr-1-config --link-ld) -lcrypto
bash t/pki/mkpki.sh "$RUN/pki" >/dev/null
PKI=$RUN/pki
KID=$(awk -F'\t' '$1 == "auth-user01" { print $4 }' "$PKI/manifest.tsv")
rev=()
for n in superseded:4 keycompromise:1 hold:6 cessation:5 affiliation:3 unspecified:0; do
    rev+=("$(awk -F'\t' -v n="auth-rev-${n%:*}" '$1 == n { print $3 }' "$PKI/manifest.tsv"):${n#*:}")
done
TIME='%e s elapsed, %U s user, %M KB max RSS'
echo "== 1. CRLs of $N entries"
/usr/bin/time -f "crl-gen: $TIME" "$RUN/crl-gen" "$PKI/auth-root-g1.crt" "$PKI/auth-root-g1.key" "$N" "$RUN/a.der" "${rev[@]}"
"$RUN/crl-gen" "$PKI/auth-root-g1.crt" "$PKI/auth-root-g1.key" "$N" "$RUN/b.der" "${rev[@]}"
echo "CRL size: $(stat -c %s "$RUN/a.der") bytes ($(( $(stat -c %s "$RUN/a.der") / N )) bytes per entry)"
echo "== 2. index"
/usr/bin/time -f "jpki-crl-index: $TIME" tools/crl/jpki-crl-index --roots "$PKI/auth-root-g1.crt" --out "$RUN/crl" "$RUN/a.der"
tools/crl/jpki-crl-index --quiet --roots "$PKI/auth-root-g1.crt" --out "$RUN/crl-b" "$RUN/b.der"
tools/crl/jpki-crl-index --show "$RUN/crl/$KID.crlidx" | grep -E 'entries|bytes_per_entry'
/usr/bin/time -f "openssl crl (X509_CRL, parse only): $TIME" openssl crl -inform DER -in "$RUN/a.der" -noout
echo "== 3. lookups"
"$RUN/crl-lookup" "$RUN/crl/$KID.crlidx" 2000000
cp "$RUN/crl/$KID.crlidx" "$RUN/a.crlidx"; cp "$RUN/crl-b/$KID.crlidx" "$RUN/b.crlidx"
rm -f "$RUN/a.der" "$RUN/b.der"

echo "== 4. httpd CPU per login"
head -c 24 /dev/urandom | base64 > "$RUN/pf-token"
echo '{}' > "$RUN/pf-state.json"
perl tools/jpki-pf-sim --listen "127.0.0.1:$PFPORT" --cert "$PKI/server-localhost.crt" \
    --key "$PKI/server-localhost.key" --token-file "$RUN/pf-token" --state "$RUN/pf-state.json" \
    --log "$RUN/sim.log" --max-seconds 3600 > "$RUN/sim.out" 2>&1 &
SIM=$!
trap 'kill $SIM 2>/dev/null; wait $SIM 2>/dev/null || :' EXIT
MODDIR=$(apxs -q LIBEXECDIR)
cat > "$RUN/httpd.conf" <<EOC
ServerRoot "$RUN"
ServerName localhost
Listen 127.0.0.1:$PORT
Listen 127.0.0.1:$PORT1
PidFile "$RUN/httpd.pid"
ErrorLog "$RUN/error_log"
LogLevel warn jpki:info
User nobody
Group nogroup
DefaultRuntimeDir "$RUN"
LoadModule mpm_event_module      $MODDIR/mod_mpm_event.so
LoadModule authz_core_module     $MODDIR/mod_authz_core.so
LoadModule authn_core_module     $MODDIR/mod_authn_core.so
LoadModule socache_shmcb_module  $MODDIR/mod_socache_shmcb.so
LoadModule ssl_module            $MODDIR/mod_ssl.so
LoadModule jpki_module           "$SRC/mod_jpki.so"
ServerLimit 2
StartServers 2
ThreadsPerChild 32
MaxRequestWorkers 64
MinSpareThreads 8
MaxSpareThreads 96
MaxConnectionsPerChild 0
MaxKeepAliveRequests 0
DocumentRoot "$RUN/www"
SSLSessionCache shmcb:$RUN/ssl_scache(512000)
SSLCertificateFile    "$PKI/server-localhost.crt"
SSLCertificateKeyFile "$PKI/server-localhost.key"
JPKICache shmcb:$RUN/jpki_cache(33554432)
<VirtualHost 127.0.0.1:$PORT>
    SSLEngine on
    JPKITrustedCA "$PKI/trust-all.pem"
    JPKIOrigin https://localhost:$PORT
    JPKIStatusProvider crl
    JPKICRLIndexDir "$RUN/crl"
    <Location /jpki/challenge>
        SetHandler jpki-challenge
    </Location>
    <Location /jpki/login>
        SetHandler jpki-login
    </Location>
</VirtualHost>
<VirtualHost 127.0.0.1:$PORT1>
    SSLEngine on
    JPKITrustedCA "$PKI/trust-all.pem"
    JPKIOrigin https://localhost:$PORT1
    JPKIStatusProvider platform
    JPKIPlatformURL https://127.0.0.1:$PFPORT
    JPKIPlatformTokenFile "$RUN/pf-token"
    JPKIPlatformCA "$PKI/server-ca.crt"
    JPKIStatusCacheTTL 600
    <Location /jpki/challenge>
        SetHandler jpki-challenge
    </Location>
    <Location /jpki/login>
        SetHandler jpki-login
    </Location>
</VirtualHost>
EOC
chmod -R o+rX "$RUN"
. bench/bench-lib.sh
bench_start_httpd "https://localhost:$PORT/"
login() { # login PORT SECS -> "<ok> <bad> <ok/s> <gen cpu>"
    "$RUN/loadgen" login localhost "$1" "$LTHREADS" "$2" "$PKI/server-ca.crt" \
        "$PKI/auth-user01.der" "$PKI/auth-user01.key" "https://localhost:$1"
}
login "$PORT" 2 >/dev/null; login "$PORT1" 2 >/dev/null   # warm-up (fills the status cache)
: > "$RUN/rounds"
for round in $(seq "$ROUNDS"); do
    for p in "crl $PORT" "platform-cached $PORT1"; do
        set -- $p
        t0=$(ticks); out=$(login "$2" "$SECS"); t1=$(ticks)
        set -- $1 $out
        [ "$3" = 0 ] || { echo "$1: $3 failed logins" >&2; exit 1; }
        echo "$round $1 $2 $((t1 - t0))" >> "$RUN/rounds"
    done
done
perl -e '
    my ($hz, $secs, $f) = @ARGV; my %r;
    open my $in, "<", $f or die;
    while (<$in>) { my ($round, $p, $n, $t) = split; push @{ $r{$p} }, [ $n, $t / $hz / $n * 1e6 ] }
    sub med { my @a = sort { $a <=> $b } @_; $a[$#a / 2] }
    printf "%-16s %10s %14s\n", "status", "logins/s", "httpd CPU us";
    for my $p ("crl", "platform-cached") {
        printf "%-16s %10.0f %14.1f\n", $p, med(map { $_->[0] / $secs } @{ $r{$p} }), med(map { $_->[1] } @{ $r{$p} });
    }
    printf "crl - platform-cached: %+.1f us httpd CPU per login\n",
        med(map { $_->[1] } @{ $r{crl} }) - med(map { $_->[1] } @{ $r{"platform-cached"} });
' "$HZ" "$SECS" "$RUN/rounds"

echo "== 5. swap under load ($SWAPSECS s of logins, index replaced every second)"
(
    i=0
    end=$(( $(date +%s) + SWAPSECS ))
    while [ "$(date +%s)" -lt "$end" ]; do
        if (( i % 2 )); then src=$RUN/a.crlidx; else src=$RUN/b.crlidx; fi
        ln -f "$src" "$RUN/crl/.swap" && mv -f "$RUN/crl/.swap" "$RUN/crl/$KID.crlidx"
        i=$((i + 1)); sleep 1
    done
    echo "$i" > "$RUN/swaps"
) &
SW=$!
out=$(login "$PORT" "$SWAPSECS")
wait $SW
set -- $out
echo "swaps: $(cat "$RUN/swaps"), logins: $1 ok, $2 failed, $3/s"
grep -c 'JPKI1302' "$RUN/error_log" | sed 's/^/index mappings by the 2 children (JPKI1302, incl. start): /' || :
[ "$2" = 0 ] || { echo "FAIL: logins failed during the swaps" >&2; exit 1; }
echo "bench/crl.sh: load avg $(cut -d' ' -f1-3 /proc/loadavg)"
