#!/usr/bin/env bash
# Set everything up on a fresh Debian 12 machine and run the whole test
# suite: C unit tests (libcheck) and the Apache::Test suite (make check),
# the Debian packages installed into this machine's apache2 and purged
# (scripts/test-package.sh),
# the same suite against the ASan + UBSan build of the module (make
# check-asan), then every fuzz target for a bounded time (make fuzz-ci;
# FUZZ_SECONDS per target, default 60, two at a time). docs/testing.md.
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
# TEST_FLAGS (optional) is passed to t/TEST, e.g. TEST_FLAGS=t/status/ (one area);
# the base port: APACHE_TEST_PORT=14000 (t/TEST has -port select baked in)
make check TEST_FLAGS="${TEST_FLAGS:-}" </dev/null
scripts/test-package.sh </dev/null   # the Debian packages: build, install, log in, purge
make check-asan TEST_FLAGS="${TEST_FLAGS:-}" </dev/null
make fuzz-ci FUZZ_SECONDS="${FUZZ_SECONDS:-60}" FUZZ_JOBS="${FUZZ_JOBS:-2}" </dev/null
