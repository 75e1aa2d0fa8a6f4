#!/usr/bin/env bash
# Install the Debian 12 packages mod_jpki needs to build, test and demo,
# only those missing. Usage: scripts/deps.sh [build|test|demo|package]
set -euo pipefail
what=${1:-test}
export DEBIAN_FRONTEND=noninteractive
pkgs=(
  build-essential autoconf automake libtool pkg-config      # toolchain
  apache2 apache2-dev                                        # httpd, apxs, mod_ssl, socache, mod_dbd
  libcurl4-openssl-dev libjansson-dev libssl-dev openssl check
  libaprutil1-dbd-sqlite3 libaprutil1-dbd-pgsql sqlite3
  libmicrohttpd-dev libp11-kit-dev libassuan-dev             # the card helper (tools/card-helper)
)
if [ "$what" != build ]; then
  pkgs+=(
    libapache2-mod-perl2                                     # Apache::Test
    libwww-perl liblwp-protocol-https-perl libio-socket-ssl-perl
    libnet-ssleay-perl libhttp-daemon-perl libconvert-asn1-perl libcpanel-json-xs-perl
    curl
  )
fi
if [ "$what" = test ] || [ "$what" = package ]; then
  # the Debian packages (debian/, scripts/test-package.sh)
  pkgs+=(debhelper dpkg-dev devscripts lintian fakeroot git)
fi
if [ "$what" = test ]; then
  pkgs+=(memcached redis-server postgresql chromium wrk)   # redis-server: the cluster tests (tests/cluster/)
  pkgs+=(softhsm2 opensc)        # the card helper's tests: a PKCS#11 token, pkcs11-tool
  pkgs+=(fonts-ipafont-gothic)   # Japanese glyphs in the browser test's screenshots
  pkgs+=(php-cgi python3 openjdk-17-jdk-headless)   # the sample backends (t/export/backends.t)
  # make fuzz (clang + libFuzzer/sanitizer runtimes, llvm-symbolizer for
  # readable reports), make check-asan (gcc's libasan/libubsan come with
  # build-essential), and the valgrind run (tests/asan/valgrind.sh)
  pkgs+=(clang-14 libclang-rt-14-dev llvm-14 valgrind)
  # Node.js drives Chromium in the browser test; keep whatever node the
  # machine has (it may not come from Debian), install Debian's otherwise.
  command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' \
    || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
fi
