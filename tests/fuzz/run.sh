#!/usr/bin/env bash
# Run libFuzzer targets for a bounded time, JOBS at a time; fail if any
# target finds anything (crash, leak, UB, timeout, out-of-memory, oracle).
# Usage: run.sh [-t SECONDS] [-r RUNS] [-j JOBS] [-s SRCDIR] [-b BINDIR] TARGET...
# (-r: stop a target after RUNS executions, or at SECONDS, whichever is first.)
# (make fuzz-ci passes the list from Makefile.am.) Per target it uses
# BINDIR/work/TARGET/: corpus/ (grows, kept between runs), seeds/ (made
# from the test PKI by seeds.sh), log, and crash-*/leak-*/... artifacts.
set -uo pipefail
secs=60 runs=-1 jobs=2 src=. bin=tests/fuzz
while getopts t:r:j:s:b: o; do
    case $o in
    t) secs=$OPTARG ;; r) runs=$OPTARG ;; j) jobs=$OPTARG ;; s) src=$OPTARG ;; b) bin=$OPTARG ;;
    *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { echo "run.sh: no targets" >&2; exit 2; }
: "${JPKI_PKI_DIR:?JPKI_PKI_DIR must point at the test PKI (t/pki/out)}"
work=$bin/work
mkdir -p "$work"
bash "$src/tests/fuzz/seeds.sh" "$JPKI_PKI_DIR" "$work/pki-seeds" || exit 1

one() {
    local t=$1 w=$work/$1 seeds=()
    rm -rf "$w/artifacts"
    mkdir -p "$w/corpus" "$w/artifacts"
    [ -d "$src/tests/fuzz/corpus/$t" ] && seeds+=("$src/tests/fuzz/corpus/$t")
    [ -d "$work/pki-seeds/$t" ] && seeds+=("$work/pki-seeds/$t")
    # -timeout: one input taking 10 s is a finding; -rss_limit_mb: so is 2 GB
    "$bin/fuzz_$t" -max_total_time="$secs" -runs="$runs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$w/artifacts/" \
        "$w/corpus" "${seeds[@]}" >"$w/log" 2>&1
    echo $? >"$w/rc"
}

start=$(date +%s)
running=0
for t in "$@"; do
    [ -x "$bin/fuzz_$t" ] || { echo "run.sh: $bin/fuzz_$t not built (make fuzz)" >&2; exit 2; }
    if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
    one "$t" &
    running=$((running + 1))
done
wait

fail=0
printf '%-12s %12s %8s %8s  %s\n' target executions exec/s coverage result
for t in "$@"; do
    w=$work/$t rc=$(cat "$w/rc" 2>/dev/null || echo 99)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$w/log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$w/log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$w/log" | tail -1 | cut -d' ' -f2)
    if [ "$rc" = 0 ] && ! ls "$w/artifacts" | grep -q .; then
        res=ok
    else
        res="FAILED (exit $rc): $(ls "$w/artifacts" | tr '\n' ' ')"
        fail=1
    fi
    printf '%-12s %12s %8s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$res"
done
echo "fuzz: $# targets, ${secs}s each, $jobs at a time, $(($(date +%s) - start))s wall"
if [ "$fail" != 0 ]; then
    for t in "$@"; do
        [ "$(cat "$work/$t/rc" 2>/dev/null)" = 0 ] && continue
        echo "---- $work/$t/log (tail)"
        tail -40 "$work/$t/log"
    done
    echo "fuzz: FINDINGS; reproduce with: $bin/fuzz_TARGET $work/TARGET/artifacts/FILE"
fi
exit "$fail"
