#!/usr/bin/env bash
# Cluster benchmark: session req/s through the balancer with 2 nodes vs 1,
# and node CPU per session request with Redis vs shmcb (docs/cluster.md).
# Usage: bench/cluster.sh [seconds per measurement]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null && command -v redis-server >/dev/null || scripts/deps.sh test
[ -f mod_jpki.so ] || { echo "build first: make"; exit 1; }
exec perl bench/cluster.pl "${1:-5}"
