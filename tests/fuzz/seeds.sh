#!/usr/bin/env bash
# Seeds made from the current test PKI (t/pki/mkpki.sh regenerates keys and
# serials on every run, so these are made fresh next to the checked-in
# corpus): certificates for fuzz_cert, subjectAltName values for
# fuzz_facts, `openssl ocsp` responses to fuzz_ocsp's fixed requests.
# Usage: seeds.sh PKI_DIR OUT_DIR   (writes OUT_DIR/{cert,facts,ocsp}/)
set -euo pipefail
pki=$1 out=$2
mkdir -p "$out/cert" "$out/facts" "$out/ocsp"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# cert: every certificate as DER, a few as PEM and as base64url DER
for f in "$pki"/*.der; do cp "$f" "$out/cert/$(basename "$f")"; done
for n in auth-alice-1 sign-alice bad-test-hierarchy bad-unknown-crit; do
    cp "$pki/$n.crt" "$out/cert/$n.pem"
    openssl base64 -A -in "$pki/$n.der" | tr '+/' '-_' | tr -d '=' >"$out/cert/$n.b64url"
done

# facts: the DER value of the subjectAltName extension of the signing certs
for n in sign-alice sign-bob sign-minor; do
    openssl asn1parse -inform DER -in "$pki/$n.der" >"$tmp/asn1"
    perl -ne 'if (/Subject Alternative Name/) { $want = 1; next }
              if ($want && /OCTET STRING\s+\[HEX DUMP\]:([0-9A-F]+)/) { print pack("H*", $1); exit }' \
        "$tmp/asn1" >"$out/facts/$n.der"
    [ -s "$out/facts/$n.der" ] || { echo "seeds.sh: no subjectAltName in $n" >&2; exit 1; }
done

# ocsp: answers for the requests fuzz_ocsp makes (CertID SHA-1, no nonce),
# signed by the delegated responder, by the root itself and by a rogue one
for leaf in auth-alice-1 auth-rev-superseded auth-rev-hold; do
    openssl ocsp -issuer "$pki/auth-root-g1.crt" -cert "$pki/$leaf.crt" -no_nonce \
        -reqout "$tmp/$leaf.req" >/dev/null 2>&1
    for signer in ocsp-auth-g1 auth-root-g1 ocsp-rogue; do
        openssl ocsp -index "$pki/ocsp-index-auth-g1.txt" -CA "$pki/auth-root-g1.crt" \
            -rsigner "$pki/$signer.crt" -rkey "$pki/$signer.key" -reqin "$tmp/$leaf.req" \
            -ndays 1 -respout "$out/ocsp/$leaf-$signer.der" >/dev/null 2>&1
    done
    openssl ocsp -index "$pki/ocsp-index-auth-g1.txt" -CA "$pki/auth-root-g1.crt" \
        -rsigner "$pki/ocsp-auth-g1.crt" -rkey "$pki/ocsp-auth-g1.key" -resp_no_certs \
        -resp_key_id -reqin "$tmp/$leaf.req" -respout "$out/ocsp/$leaf-nocerts.der" \
        >/dev/null 2>&1
done
