#!/usr/bin/env bash
# The Debian packages, end to end, on this machine (README "Installing on a
# server"; scripts/test.sh runs it after make check):
#   1. build them with dpkg-buildpackage from a clean copy of the tree
#      (the files git tracks plus new, not ignored ones), lintian: no errors;
#      the J-LIS root check fails the install on a wrong fingerprint;
#   2. record /etc/apache2 (and apache2's enable state in /var/lib/apache2);
#   3. apt-get install the packages, a2enmod jpki, apachectl -t; a2enmod ssl,
#      a2enconf jpki-login, apachectl -t;
#   4. start a SEPARATE apache2 (Debian's apache2.conf without ports.conf and
#      sites-enabled, loopback ports 9200-9201, its own run/log directories)
#      with a site written from docs/integration.md, the platform simulator of
#      jpki-tools on 9202, and log in with the test PKI: the challenge path with
#      jpki-login, the TLS client-certificate path with curl;
#   5. purge the packages and check /etc/apache2 is exactly as before.
# Bounded: fails when it takes more than JPKI_PKG_TIMEOUT seconds (180).
# Needs root (apt-get, /etc/apache2). Usage: scripts/test-package.sh
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
PORT=${JPKI_PKG_PORT:-9200}          # bank host; +1 the TLS-card host; +2 the simulator
CPORT=$((PORT + 1))
PFPORT=$((PORT + 2))
LIMIT=${JPKI_PKG_TIMEOUT:-180}
PKGS=(libapache2-mod-jpki jpki-tools jpki-card-helper)
export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -o DPkg::Lock::Timeout=120 -y -q --no-install-recommends)
SECONDS=0
step() { printf '== package test (%3ds): %s\n' "$SECONDS" "$*"; }
die() { echo "package test FAILED: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (apt-get install, /etc/apache2)"

W=$(mktemp -d /tmp/jpki-pkg.XXXXXX)
chmod 755 "$W"
HTTPD_STARTED=
enabled_before=
# what this test enabled itself (ssl, headers, and socache_shmcb through the
# Depends: lines); the packages' own jpki and jpki-login go with the purge
disable_ours() {
    [ -n "$enabled_before" ] || return 0
    for f in /etc/apache2/mods-enabled/*.load; do
        m=$(basename "$f" .load)
        [[ "$enabled_before" == *" $m.load "* ]] || a2dismod -q -f -p "$m" >/dev/null
    done
}
cleanup() {
    rc=$?
    set +e
    if [ -n "$HTTPD_STARTED" ]; then
        env "${APENV[@]}" apache2 -d /etc/apache2 -f "$W/apache2.conf" -k stop 2>/dev/null
        for _ in $(seq 50); do [ -f "$W/run/apache2.pid" ] || break; sleep 0.1; done
    fi
    [ -f "$W/pf-sim.pid" ] && kill "$(cat "$W/pf-sim.pid")" 2>/dev/null
    if dpkg-query -W -f='${db:Status-Abbrev}' "${PKGS[@]}" 2>/dev/null | grep -q i; then
        "${APT[@]}" purge "${PKGS[@]}" >"$W/purge-on-exit.log" 2>&1 </dev/null
        disable_ours
    fi
    if [ "$rc" = 0 ]; then rm -rf "$W"; else echo "package test: logs kept in $W" >&2; fi
    exit "$rc"
}
trap cleanup EXIT

# --- 0. what the build needs -----------------------------------------------------
"$SRC/scripts/deps.sh" package

# --- 1. build from a clean copy --------------------------------------------------
step "build (dpkg-buildpackage -us -uc -b) from a clean copy in $W/src"
mkdir "$W/src"
git -C "$SRC" ls-files -co --exclude-standard -z | (cd "$SRC" && tar --null -T - -c) | tar -x -C "$W/src"
want=$(sed -n 's/^AC_INIT(\[[^]]*\], *\[\([^]]*\)\].*/\1/p' "$W/src/configure.ac")
got=$(cd "$W/src" && dpkg-parsechangelog -S Version)
[ "$want" = "$got" ] || die "debian/changelog version $got != configure.ac AC_INIT version $want"
(cd "$W/src" && timeout 150 dpkg-buildpackage -us -uc -b -j2) >"$W/build.log" 2>&1 \
    || { tail -40 "$W/build.log"; die "dpkg-buildpackage (log: $W/build.log)"; }
debs=()
for p in "${PKGS[@]}"; do
    f=$(ls "$W"/${p}_"$want"_*.deb 2>/dev/null) || die "$p was not built"
    debs+=("$f")
done
for f in "${debs[@]}"; do echo "   $(basename "$f"): $(dpkg-deb -c "$f" | grep -vc '/$') files"; done
step "lintian"
lrc=0
lintian --fail-on error "$W"/*.changes >"$W/lintian.txt" 2>&1 || lrc=$?
grep -v '^running with root' "$W/lintian.txt" | sed 's/^/   /' || :
[ "$lrc" = 0 ] || die "lintian reports errors"

step "jpki.conf shows every directive the module has"
for d in $(grep -rhoE 'AP_INIT_[A-Z0-9_]+\("JPKI[A-Za-z0-9]+"' "$W/src/mod_jpki" | sed 's/.*("//; s/"$//' | sort -u); do
    grep -q "^#$d " "$W/src/conf/jpki.conf" || die "conf/jpki.conf does not show $d (commented, with its default)"
done

step "J-LIS roots: the install refuses a wrong fingerprint"
if [ -r "$SRC/../shared/docs/jpki-facts.md" ]; then
    "$SRC/scripts/check-jlis-roots.sh" "$SRC/conf/jlis-roots" --facts "$SRC/../shared/docs/jpki-facts.md" \
        >/dev/null || die "conf/jlis-roots/SHA256SUMS disagrees with jpki-facts.md §1.1"
fi
sed -i 's/^\(authca03.pem *\)64:11/\164:12/' "$W/src/conf/jlis-roots/SHA256SUMS"
if make -C "$W/src" install-jlis-roots DESTDIR="$W/roots" >"$W/roots.log" 2>&1; then
    die "make install-jlis-roots accepted a wrong fingerprint"
fi
grep -q 'authca03.pem: SHA-256 fingerprint' "$W/roots.log" || die "no fingerprint message: $(cat "$W/roots.log")"
[ ! -e "$W/roots/usr/share/mod_jpki/jlis-roots/authca03.pem" ] || die "a root was installed anyway"

# --- 2. the state of apache2 before ---------------------------------------------
snapshot() {
    # /etc/apache2 all of it; apache2's enable markers (a2enmod creates their
    # empty directories once, like any admin's first a2enmod)
    (cd / && find etc/apache2 -printf '%p %y %m %l\n' | sort
     cd / && find var/lib/apache2 -type f -printf '%p %y %m\n' | sort
     cd / && find etc/apache2 -type f -print0 | sort -z | xargs -0 sha256sum)
}
for p in "${PKGS[@]}"; do
    ! dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q i \
        || die "$p is already installed; purge it first (apt-get purge $p)"
done
for f in /usr/lib/apache2/modules/mod_jpki.so /etc/apache2/mods-available/jpki.load \
         /etc/apache2/mods-available/jpki.conf /etc/apache2/conf-available/jpki-login.conf; do
    [ ! -e "$f" ] || die "$f exists and belongs to no package (make install?); remove it first"
done
snapshot >"$W/before.txt"
enabled_before=" $(ls /etc/apache2/mods-enabled /etc/apache2/conf-enabled | tr '\n' ' ') "

# --- 3. install, enable, apachectl -t ----------------------------------------------
step "apt-get install ./*.deb"
timeout 120 "${APT[@]}" install "${debs[@]}" >"$W/install.log" 2>&1 </dev/null \
    || { tail -20 "$W/install.log"; die "apt-get install"; }
[ " $(ls /etc/apache2/mods-enabled /etc/apache2/conf-enabled | tr '\n' ' ') " = "$enabled_before" ] \
    || die "installing enabled something (nothing may change until a2enmod)"
for t in jpki-pf-sim jpki-login jpki-test-card-helper; do
    perl -c "/usr/bin/$t" >/dev/null 2>&1 || die "/usr/bin/$t does not compile: $(perl -c "/usr/bin/$t" 2>&1 | head -3)"
done
out=$(jpki-recheck --version 2>&1 || :)
[[ "$out" == "jpki-recheck "* ]] || die "jpki-recheck --version: $out"
[ -f /usr/share/doc/jpki-tools/examples/jpki-recheck.timer ] || die "jpki-recheck.timer example not installed"
out=$(jpki-card-helper --help 2>&1 || :)
[[ "$out" == "usage: jpki-card-helper "* ]] || die "jpki-card-helper --help: $out"
step "a2enmod jpki && apachectl -t"
a2enmod -q jpki
[ -L /etc/apache2/mods-enabled/socache_shmcb.load ] || die "a2enmod jpki did not enable socache_shmcb (# Depends:)"
apachectl -t 2>&1 | sed 's/^/   /'
[ "${PIPESTATUS[0]}" = 0 ] || die "apachectl -t with jpki enabled"
step "a2enmod ssl headers && a2enconf jpki-login && apachectl -t"
a2enmod -q ssl headers
a2enconf -q jpki-login
apachectl -t 2>&1 | sed 's/^/   /'
[ "${PIPESTATUS[0]}" = 0 ] || die "apachectl -t with ssl and the login page"

# --- 4. a separate apache2 with the site of docs/integration.md ---------------------
PKI=${JPKI_PKI_DIR:-$SRC/t/pki/out}
if [ ! -f "$PKI/.complete" ]; then
    step "test PKI (t/pki/mkpki.sh)"
    PKI=$W/pki
    bash "$SRC/t/pki/mkpki.sh" "$PKI" >"$W/pki.log" 2>&1 || die "mkpki.sh (log: $W/pki.log)"
fi
step "start the platform simulator (jpki-pf-sim) on 127.0.0.1:$PFPORT"
mkdir -p "$W/run" "$W/lock" "$W/log" "$W/www/account" "$W/www-cert" "$W/jpki"
head -c 24 /dev/urandom | base64 >"$W/jpki/pf-token"
chmod 600 "$W/jpki/pf-token"
echo '{}' >"$W/pf-state.json"
jpki-pf-sim --listen "127.0.0.1:$PFPORT" --cert "$PKI/server-localhost.crt" \
    --key "$PKI/server-localhost.key" --token-file "$W/jpki/pf-token" --state "$W/pf-state.json" \
    --pidfile "$W/pf-sim.pid" --log "$W/pf-sim.log" >"$W/pf-sim.out" 2>&1 &
for _ in $(seq 100); do grep -q READY "$W/pf-sim.out" 2>/dev/null && break; sleep 0.1; done
grep -q READY "$W/pf-sim.out" || die "jpki-pf-sim did not start: $(cat "$W/pf-sim.out")"

# The login page path of the bank example and the guide: the live test below
# sends browsers there, so it must be what "a2enconf jpki-login" serves.
LOGIN_PAGE=$(awk '$1 == "JPKILoginPage" { print $2; exit }' "$W/src/conf/jpki-bank-example.conf")
pages=$(grep -ho 'JPKILoginPage [^ `]*' "$W/src/conf/jpki-bank-example.conf" "$W/src/docs/integration.md" \
        "$W/src/conf/jpki.conf" "$W/src/docs/directives.md" "$W/src/docs/login-page.md" | grep -v "/local/path$" | sort -u)
[ -n "$LOGIN_PAGE" ] && [ "$pages" = "JPKILoginPage $LOGIN_PAGE" ] \
    || die "the examples disagree on JPKILoginPage: $pages"
echo "account page" >"$W/www/account/index.html"
echo "card host" >"$W/www-cert/index.html"
# Debian's own apache2.conf, without the system's Listen lines and sites.
sed -e '/^Include ports.conf/d' -e '/^IncludeOptional sites-enabled/d' \
    /etc/apache2/apache2.conf >"$W/apache2.conf"
echo "Include $W/site.conf" >>"$W/apache2.conf"
# The site: docs/integration.md steps 2-11 for one server on loopback. What
# differs from the guide: host names and ports, the test PKI instead of the
# J-LIS roots, the simulator as the platform, shmcb (one server), no accounts
# (step 5), static pages instead of PHP and the proxied app (steps 7-8).
cat >"$W/site.conf" <<EOF
ServerName localhost
ServerTokens Full
Listen 127.0.0.1:$PORT https
Listen 127.0.0.1:$CPORT https
LogLevel warn jpki:info

# 2. trust (the test PKI's roots here; the J-LIS roots in production)
JPKITrustedCA $PKI/trust-all.pem
# 3. shared state: one server, the default shmcb
JPKICache shmcb
# 4. revocation status: the platform operator (here jpki-pf-sim)
JPKIStatusProvider platform
JPKIPlatformURL https://localhost:$PFPORT
JPKIPlatformTokenFile $W/jpki/pf-token
JPKIPlatformCA $PKI/server-ca.crt
JPKIStatusCacheTTL 300 86400
JPKIStatusFailMode closed
# 10. audit log
JPKIAuditLog $W/log/jpki-audit.log

<VirtualHost 127.0.0.1:$PORT>
    ServerName localhost:$PORT
    DocumentRoot $W/www
    <Directory $W/www>
        Require all granted
    </Directory>
    SSLEngine on
    SSLCertificateFile    $PKI/server-localhost.crt
    SSLCertificateKeyFile $PKI/server-localhost.key
    JPKISessionIdleTimeout 900
    JPKISessionMaxAge 28800

    # 6. the endpoints (the login page: a2enconf jpki-login, at /jpki-login/)
    <Location /jpki/challenge>
        SetHandler jpki-challenge
    </Location>
    <Location /jpki/login>
        SetHandler jpki-login
    </Location>
    <Location /jpki/logout>
        SetHandler jpki-logout
    </Location>

    # 7. the protected area
    <Location /account/>
        AuthType JPKI
        AuthName "My Number Card"
        JPKILoginPage $LOGIN_PAGE
        Require valid-user
    </Location>

    # 10. the status page
    <Location /server/jpki-status>
        SetHandler jpki-status
        Require ip 127.0.0.1
    </Location>
</VirtualHost>

# 9. TLS client-certificate login: a host of its own, TLS 1.2
<VirtualHost 127.0.0.1:$CPORT>
    ServerName localhost:$CPORT
    DocumentRoot $W/www-cert
    <Directory $W/www-cert>
        Require all granted
    </Directory>
    SSLEngine on
    SSLCertificateFile    $PKI/server-localhost.crt
    SSLCertificateKeyFile $PKI/server-localhost.key
    SSLProtocol -all +TLSv1.2
    SSLVerifyClient optional_no_ca
    SSLVerifyDepth 2
    JPKITLSClientAuth On
    <Location />
        AuthType JPKI
        AuthName "My Number Card"
        Require valid-user
    </Location>
</VirtualHost>
EOF
APENV=(APACHE_RUN_USER=www-data APACHE_RUN_GROUP=www-data APACHE_PID_FILE="$W/run/apache2.pid"
       APACHE_RUN_DIR="$W/run" APACHE_LOCK_DIR="$W/lock" APACHE_LOG_DIR="$W/log" LANG=C)
step "apache2 -t and start on 127.0.0.1:$PORT, :$CPORT (the site of docs/integration.md)"
env "${APENV[@]}" apache2 -d /etc/apache2 -f "$W/apache2.conf" -t 2>&1 | sed 's/^/   /'
[ "${PIPESTATUS[0]}" = 0 ] || die "apache2 -t on the test site"
env "${APENV[@]}" apache2 -d /etc/apache2 -f "$W/apache2.conf" -k start \
    || die "apache2 start: $(tail -5 "$W/log/error.log")"
HTTPD_STARTED=1
C=(curl -sS --max-time 10 --cacert "$PKI/server-ca.crt")
for _ in $(seq 100); do "${C[@]}" -o /dev/null "https://localhost:$PORT/" 2>/dev/null && break; sleep 0.1; done

URL=https://localhost:$PORT
step "a browser without a session is sent to the examples' login page ($LOGIN_PAGE), which is served"
out=$("${C[@]}" -o /dev/null -w '%{http_code} %{redirect_url}' "$URL/account/")
[[ "$out" == "302 $URL$LOGIN_PAGE?return_to="* ]] || die "GET /account/: $out"
out=$("${C[@]}" -D "$W/h.txt" -o "$W/page.html" -w '%{http_code}' "${out#302 }")
[ "$out" = 200 ] && grep -q 'data-challenge-url="/jpki/challenge"' "$W/page.html" \
    || die "the login page: $out"
grep -qi '^content-security-policy:' "$W/h.txt" || die "the login page has no CSP header"
grep -qi "^server: .*mod_jpki/$want" "$W/h.txt" || die "no mod_jpki/$want in the Server banner: $(grep -i ^server: "$W/h.txt")"

step "challenge login with jpki-login (jpki-tools), then the protected page"
cookie=$(timeout 30 jpki-login --url "$URL" --cacert "$PKI/server-ca.crt" \
         --key "$PKI/auth-alice-2.key" --cert "$PKI/auth-alice-2.der") || die "jpki-login refused"
out=$("${C[@]}" -H "Cookie: $cookie" "$URL/account/")
[ "$out" = "account page" ] || die "GET /account/ with the session: $out"

step "TLS client-certificate login with curl"
out=$("${C[@]}" --cert "$PKI/auth-alice-1.crt" --key "$PKI/auth-alice-1.key" "https://localhost:$CPORT/")
[ "$out" = "card host" ] || die "TLS login: $out"
out=$("${C[@]}" -o /dev/null -D - "https://localhost:$CPORT/" | tr -d '\r' | grep -i '^x-jpki-error:' || :)
[ "$out" = "X-JPKI-Error: cert_missing" ] || die "TLS without a card: '$out'"
out=$("${C[@]}" -o /dev/null -w '%{http_code}' --cert "$PKI/bad-expired.crt" --key "$PKI/bad-expired.key" \
      "https://localhost:$CPORT/")
[ "$out" = 403 ] || die "TLS with an expired card: $out"

step "audit log, platform calls, status page"
grep -q '"event":"login_ok","code":"ok","method":"challenge"' "$W/log/jpki-audit.log" \
    && grep -q '"event":"login_ok","code":"ok","method":"tls"' "$W/log/jpki-audit.log" \
    || die "the logins are not in the audit log"
calls=$("${C[@]}" "https://localhost:$PFPORT/calls")
echo "   platform calls: $calls"
"${C[@]}" "$URL/server/jpki-status" | grep -q '"logins"' || die "the status page"

env "${APENV[@]}" apache2 -d /etc/apache2 -f "$W/apache2.conf" -k stop
for _ in $(seq 100); do [ -f "$W/run/apache2.pid" ] || break; sleep 0.1; done
HTTPD_STARTED=
kill "$(cat "$W/pf-sim.pid")"; rm -f "$W/pf-sim.pid"

# --- 5. purge: apache2 as before ----------------------------------------------------
step "apt-get purge; /etc/apache2 as before"
timeout 60 "${APT[@]}" purge "${PKGS[@]}" >"$W/purge.log" 2>&1 </dev/null || die "apt-get purge"
disable_ours
snapshot >"$W/after.txt"
diff -u "$W/before.txt" "$W/after.txt" || die "/etc/apache2 differs after the purge"
echo "== package test: OK in ${SECONDS}s"
[ "$SECONDS" -le "$LIMIT" ] || die "took ${SECONDS}s (> ${LIMIT}s)"
