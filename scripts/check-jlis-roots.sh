#!/bin/sh
# Check the J-LIS root certificates in DIR against DIR/SHA256SUMS (SHA-256 of
# the DER certificate, "AA:BB:..." as openssl prints it). Fails when a .pem is
# not listed, a listed file is missing, or a fingerprint differs.
#   scripts/check-jlis-roots.sh DIR [--facts jpki-facts.md]
# --facts also checks each listed fingerprint against the table in
# jpki-facts.md §1.1 (first and last 8 hex digits, "4DCFC4CA…1D58CA7D").
set -eu
dir=${1:?usage: check-jlis-roots.sh DIR [--facts FILE]}
facts=
[ "${2:-}" = --facts ] && facts=${3:?--facts FILE}
sums=$dir/SHA256SUMS
[ -r "$sums" ] || { echo "check-jlis-roots: $sums: cannot read" >&2; exit 1; }
fail=0
for f in "$dir"/*.pem; do
    [ -e "$f" ] || continue
    name=$(basename "$f")
    want=$(awk -v n="$name" '!/^#/ && $1 == n { print toupper($2) }' "$sums")
    if [ -z "$want" ]; then
        echo "check-jlis-roots: $name: not listed in $sums" >&2; fail=1; continue
    fi
    got=$(openssl x509 -in "$f" -noout -fingerprint -sha256 2>/dev/null | sed 's/.*=//' | tr a-f A-F)
    if [ "$got" != "$want" ]; then
        echo "check-jlis-roots: $name: SHA-256 fingerprint ${got:-(unreadable)} != $want" >&2
        fail=1; continue
    fi
    if [ -n "$facts" ]; then
        # J-LIS name (authca03) -> the table row; compare head and tail
        row=$(grep "^| ${name%.pem} |" "$facts" || :)
        hex=$(echo "$want" | tr -d :)
        head8=$(echo "$hex" | cut -c1-8); tail8=$(echo "$hex" | cut -c57-64)
        if ! echo "$row" | tr a-f A-F | grep -q "$head8…$tail8"; then
            echo "check-jlis-roots: $name: $head8…$tail8 is not in the table of $facts" >&2
            fail=1; continue
        fi
    fi
    echo "check-jlis-roots: $name: OK $want"
done
for name in $(awk '!/^#/ && NF { print $1 }' "$sums"); do
    [ -e "$dir/$name" ] || { echo "check-jlis-roots: $name: listed but missing" >&2; fail=1; }
done
exit $fail
