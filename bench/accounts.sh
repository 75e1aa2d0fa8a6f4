#!/usr/bin/env bash
# Account lookup benchmark (docs/accounts.md "Measured"): logins/s of a
# returning user with the serial -> account cache warm vs cold
# (JPKIAccountCacheTTL 0: SQL on every login), on SQLite and PostgreSQL,
# and SQL statements per login counted from the module's JPKI0712 lines.
# Uses the test server and its vhosts (t/conf/jpki-account.conf.in).
# Run from the build tree after `make check` (needs t/TEST and t/pki/out):
#   bench/accounts.sh [seconds-per-round]      (default 4; 4 rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-4}
test -x t/TEST || { echo "run 'make check' once first (t/TEST)"; exit 1; }
export JPKI_PKI_DIR=${JPKI_PKI_DIR:-$PWD/t/pki/out}
export JPKI_PG_PORT=${JPKI_PG_PORT:-$(perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen=>1,LocalAddr=>"127.0.0.1")->sockport')}
perl t/TEST -start-httpd >/dev/null 2>&1
trap 'perl t/TEST -stop-httpd >/dev/null 2>&1 || :' EXIT
perl -Ilib -It/lib bench/accounts.pl "$SECS"
