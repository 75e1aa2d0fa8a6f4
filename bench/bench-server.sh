# The benchmark server shared by bench/login.sh and bench/scale.sh (sourced,
# from the source tree's top): one httpd from bench/httpd-bench.conf.in with
# this build's module (or $JPKI_BENCH_MODULE), tools/jpki-pf-sim as the
# platform, a SQLite account store with auth-user01's serial linked, a
# test PKI, bench/loadgen.c built; stopped on exit (bench/bench-lib.sh). Sets SRC RUN PORT PORT1
# PORT2 PFPORT PKI URL and ticks() (httpd CPU ticks, parent + children).
# JPKI_BENCH_RUN: its directory (default bench/run); JPKI_BENCH_CONF_EXTRA:
# lines added to the first virtual host (bench/scale.sh: longer sessions).
SRC=$PWD
RUN=${JPKI_BENCH_RUN:-$SRC/bench/run}
PORT=${JPKI_BENCH_PORT:-8543}
PORT1=$((PORT + 1)); PORT2=$((PORT + 2)); PFPORT=$((PORT + 3))
CACHEBYTES=${JPKI_BENCH_CACHE:-33554432}  # per namespace: ~61,000 entries (docs/testing.md)
for c in wrk sqlite3 cc; do command -v $c >/dev/null || { echo "missing: $c"; exit 1; }; done
[ -f mod_jpki.so ] || { echo "build first: make"; exit 1; }
[ -f /usr/include/openssl/ssl.h ] || { echo "missing: libssl-dev"; exit 1; }
rm -rf "$RUN"; mkdir -p "$RUN/www/private" "$RUN/www/public" "$RUN/state"
cc -O2 -Wall -o "$RUN/loadgen" bench/loadgen.c -lssl -lcrypto -lpthread
bash t/pki/mkpki.sh "$RUN/pki" >/dev/null
PKI=$RUN/pki
head -c 1024 /dev/zero | tr '\0' 'x' > "$RUN/www/page.html"
# static and session pages at the same depth: directory_walk's stat()s are
# then the same for both, and only the authentication differs
cp "$RUN/www/page.html" "$RUN/www/private/page.html"
cp "$RUN/www/page.html" "$RUN/www/public/page.html"
head -c 24 /dev/urandom | base64 > "$RUN/pf-token"
echo '{}' > "$RUN/pf-state.json"
ser() { awk -F'\t' -v n="$1" '$1 == n { print $4 ":" $3 }' "$PKI/manifest.tsv"; }
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
{
    cat conf/jpki-schema.sql
    echo "INSERT INTO jpki_account VALUES ('acct-user01', NULL, NULL, '$NOW');"
    echo "INSERT INTO jpki_serial VALUES ('$(ser auth-user01)', 'acct-user01', 'auth', NULL, '$NOW', '$NOW');"
} | sqlite3 "$RUN/state/accounts.db"
chown -R nobody:nogroup "$RUN/state"
chmod -R o+rX "$RUN"
perl tools/jpki-pf-sim --listen "127.0.0.1:$PFPORT" --cert "$PKI/server-localhost.crt" \
    --key "$PKI/server-localhost.key" --token-file "$RUN/pf-token" --state "$RUN/pf-state.json" \
    --log "$RUN/sim.log" --max-seconds 3600 > "$RUN/sim.out" &
SIM=$!
sed -e "s|@RUN@|$RUN|g" -e "s|@PORT@|$PORT|g" -e "s|@PORT1@|$PORT1|g" -e "s|@PORT2@|$PORT2|g" \
    -e "s|@PFPORT@|$PFPORT|g" -e "s|@CACHEBYTES@|$CACHEBYTES|g" \
    -e "s|@MODDIR@|$(apxs -q LIBEXECDIR)|g" -e "s|@SRC@|$SRC|g" -e "s|@PKI@|$PKI|g" \
    -e "s|@MODULE@|${JPKI_BENCH_MODULE:-$SRC/mod_jpki.so}|g" bench/httpd-bench.conf.in > "$RUN/httpd.conf"
if [ -n "${JPKI_BENCH_CONF_EXTRA:-}" ]; then
    perl -0pi -e 's|(JPKIOrigin https://localhost:\d+\n)|$1$ENV{JPKI_BENCH_CONF_EXTRA}\n|' "$RUN/httpd.conf"
fi
# JPKI_BENCH_MUTEX=fcntl|posixsem|sysvsem|pthread: the jpki-cache lock's mechanism
[ -n "${JPKI_BENCH_MUTEX:-}" ] && echo "Mutex $JPKI_BENCH_MUTEX jpki-cache" >> "$RUN/httpd.conf"
. bench/bench-lib.sh
URL=https://localhost:$PORT
bench_start_httpd "$URL/page.html"
