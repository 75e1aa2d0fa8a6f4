#!/usr/bin/env bash
# Set everything up on a fresh Debian 12 machine and run the whole test
# suite: C unit tests (libcheck) and the Apache::Test suite (make check).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test

# As root, the test httpd's children run as User nobody: every parent
# directory of the checkout must be searchable (e.g. /root is 0700).
d=$PWD
while [ "$d" != / ]; do chmod o+x "$d"; d=$(dirname "$d"); done

[ -x configure ] || autoreconf -fi
[ -f Makefile ] || ./configure
make -j"$(nproc)"
make check </dev/null
