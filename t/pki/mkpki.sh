#!/usr/bin/env bash
# mkpki.sh OUTDIR -- generate mod_jpki's JPKI-shaped test PKI into OUTDIR.
#
# Needs only bash, coreutils and the openssl CLI (OpenSSL 3.x). See README.md
# in this directory for every file that is produced.
#
# Idempotent: if OUTDIR/.complete exists, is newer than this script and is
# less than MKPKI_MAX_AGE_DAYS (default 5) days old, exit 0 at once.
# Otherwise OUTDIR is wiped and regenerated; OUTDIR/.complete is written last.
# (The age limit exists because validity periods are relative to the time of
# generation: bad-notyet becomes valid 10 days after it was made.)

set -Eeuo pipefail
umask 022
export LC_ALL=C.UTF-8

die() { echo "mkpki: error: $*" >&2; exit 1; }
trap 'echo "mkpki: error: command failed (line $LINENO): $BASH_COMMAND" >&2' ERR

[[ $# -eq 1 && -n $1 ]] || die "usage: $0 OUTDIR"
OUT=${1%/}
[[ -n $OUT ]] || die "refusing to use / as OUTDIR"
SELF=${BASH_SOURCE[0]}
MAX_AGE_DAYS=${MKPKI_MAX_AGE_DAYS:-5}
NOW=$(date -u +%s)

# ---------------------------------------------------------------- fast path
if [[ -f $OUT/.complete && $OUT/.complete -nt $SELF ]]; then
    mtime=$(stat -c %Y -- "$OUT/.complete")
    (( NOW - mtime < MAX_AGE_DAYS * 86400 )) && exit 0
fi

command -v openssl >/dev/null 2>&1 || die "openssl not found in PATH"
ver=$(openssl version)
[[ $ver == "OpenSSL 3."* ]] || die "OpenSSL 3.x required, found: $ver"

# The character counts below (alt-char position strings) need a UTF-8 locale.
probe='番号　花子'
[[ ${#probe} -eq 5 ]] || die "the C.UTF-8 locale is not available"

# ---------------------------------------------------------------- OUTDIR
MARKER=.mkpki-outdir
if [[ -e $OUT ]]; then
    [[ -d $OUT ]] || die "$OUT exists and is not a directory"
    if [[ ! -e $OUT/$MARKER && -n $(ls -A -- "$OUT") ]]; then
        die "$OUT is not empty and was not made by mkpki.sh; refusing to wipe it"
    fi
    rm -rf -- "$OUT"
fi
mkdir -p -- "$OUT"
: >"$OUT/$MARKER"

W=$(mktemp -d "${TMPDIR:-/tmp}/mkpki.XXXXXX")
trap 'wait; rm -rf -- "$W"' EXIT   # wait: background post jobs use $W
mkdir -p "$W/keys" "$W/csr" "$W/ca" "$W/log" "$W/meta"
export CADIR=$W   # referenced by openssl.cnf; overridden per openssl ca call

# run CMD...: run quietly; on failure show the command and its output.
run() {
    local log="$W/log/$BASHPID.$RANDOM"
    if ! "$@" >"$log" 2>&1; then
        echo "mkpki: error: command failed: $*" >&2
        cat "$log" >&2
        exit 1
    fi
    rm -f -- "$log"
}

# t DAYS -> YYYYMMDDHHMMSSZ for now + DAYS (negative = past)
t() { date -u -d "@$(( NOW + $1 * 86400 ))" +%Y%m%d%H%M%SZ; }
# tu DAYS -> YYMMDDHHMMSSZ (UTCTime, the format of the openssl ca index)
tu() { date -u -d "@$(( NOW + $1 * 86400 ))" +%y%m%d%H%M%SZ; }

# ---------------------------------------------------------------- configs
CNF=$W/openssl.cnf
cat >"$CNF" <<'EOF'
[ ca ]
default_ca = CA_default

[ CA_default ]
dir            = $ENV::CADIR
database       = $dir/index.txt
new_certs_dir  = $dir/newcerts
serial         = $dir/serial
default_md     = sha256
policy         = policy_any
unique_subject = no
email_in_dn    = no
preserve       = yes
string_mask    = utf8only

[ policy_any ]
countryName            = optional
organizationName       = optional
organizationalUnitName = optional
localityName           = optional
commonName             = optional

[ req ]
distinguished_name = req_dn
string_mask        = utf8only
prompt             = no

[ req_dn ]
CN = placeholder
EOF

EXT=$W/ext.cnf
cat >"$EXT" <<'EOF'
# ---------------- roots
# Same extensions, in the same order, as the real J-LIS roots: KeyUsage,
# SubjectAltName (DirName with Japanese UTF8Strings, copied byte for byte from
# the real roots as raw DER because a dirName section in an openssl config
# cannot hold UTF-8), BasicConstraints, CRLDP (DirName = own DN), SKI.
[ v3_root_auth ]
keyUsage               = critical,keyCertSign,cRLSign
# DirName: C=JP, O=公的個人認証サービス, OU=公的個人認証サービス利用者証明用, OU=地方公共団体情報システム機構
subjectAltName         = DER:3081ACA481A93081A6310B3009060355040613024A5031273025060355040A0C1EE585ACE79A84E5808BE4BABAE8AA8DE8A8BCE382B5E383BCE38393E382B931393037060355040B0C30E585ACE79A84E5808BE4BABAE8AA8DE8A8BCE382B5E383BCE38393E382B9E588A9E794A8E88085E8A8BCE6988EE794A831333031060355040B0C2AE59CB0E696B9E585ACE585B1E59BA3E4BD93E68385E5A0B1E382B7E382B9E38386E383A0E6A99FE6A78B
basicConstraints       = critical,CA:TRUE
crlDistributionPoints  = crldp_root_auth
subjectKeyIdentifier   = hash

[ crldp_root_auth ]
fullname = dirName:dn_root_auth

[ dn_root_auth ]
C    = JP
O    = JPKI
0.OU = JPKI for user authentication
1.OU = Japan Agency for Local Authority Information Systems

[ v3_root_sign ]
keyUsage               = critical,keyCertSign,cRLSign
# DirName: C=JP, O=公的個人認証サービス, OU=公的個人認証サービス署名用, OU=地方公共団体情報システム機構
subjectAltName         = DER:3081A3A481A030819D310B3009060355040613024A5031273025060355040A0C1EE585ACE79A84E5808BE4BABAE8AA8DE8A8BCE382B5E383BCE38393E382B93130302E060355040B0C27E585ACE79A84E5808BE4BABAE8AA8DE8A8BCE382B5E383BCE38393E382B9E7BDB2E5908DE794A831333031060355040B0C2AE59CB0E696B9E585ACE585B1E59BA3E4BD93E68385E5A0B1E382B7E382B9E38386E383A0E6A99FE6A78B
basicConstraints       = critical,CA:TRUE
crlDistributionPoints  = crldp_root_sign
subjectKeyIdentifier   = hash

[ crldp_root_sign ]
fullname = dirName:dn_root_sign

[ dn_root_sign ]
C    = JP
O    = JPKI
0.OU = JPKI for digital signature
1.OU = Japan Agency for Local Authority Information Systems

[ v3_root_test ]
keyUsage               = critical,keyCertSign,cRLSign
basicConstraints       = critical,CA:TRUE
crlDistributionPoints  = crldp_root_test
subjectKeyIdentifier   = hash

[ crldp_root_test ]
fullname = dirName:dn_root_test

[ dn_root_test ]
C    = JP
O    = JPKI-TEST
0.OU = JPKI for user authentication
1.OU = Japan Agency for Local Authority Information Systems

[ v3_root_plain ]
basicConstraints       = critical,CA:TRUE
keyUsage               = critical,keyCertSign,cRLSign
subjectKeyIdentifier   = hash

[ v3_notca ]
basicConstraints       = critical,CA:FALSE
keyUsage               = critical,digitalSignature
subjectKeyIdentifier   = hash

# ---------------- user authentication (利用者証明用)
[ v3_auth ]
keyUsage               = critical,digitalSignature
certificatePolicies    = critical,1.2.392.200149.8.5.1.3.30
crlDistributionPoints  = crldp_auth
authorityKeyIdentifier = keyid
subjectKeyIdentifier   = hash

[ crldp_auth ]
fullname = dirName:dn_crldp_auth

[ dn_crldp_auth ]
C    = JP
O    = JPKI
0.OU = JPKI for user authentication
1.OU = CRL Distribution Points
2.OU = Tokyo-to
CN   = Chiyoda-ku

# ---------------- bad cases
[ v3_bad_policy ]
keyUsage               = critical,digitalSignature
certificatePolicies    = critical,1.2.3.4.5
crlDistributionPoints  = crldp_auth
authorityKeyIdentifier = keyid
subjectKeyIdentifier   = hash

[ v3_bad_nodigsig ]
keyUsage               = critical,keyEncipherment
certificatePolicies    = critical,1.2.392.200149.8.5.1.3.30
crlDistributionPoints  = crldp_auth
authorityKeyIdentifier = keyid
subjectKeyIdentifier   = hash

[ v3_bad_crit ]
keyUsage               = critical,digitalSignature
certificatePolicies    = critical,1.2.392.200149.8.5.1.3.30
crlDistributionPoints  = crldp_auth
authorityKeyIdentifier = keyid
subjectKeyIdentifier   = hash
1.2.3.4.5.6.7          = critical,DER:05:00

[ v3_bad_test ]
keyUsage               = critical,digitalSignature
certificatePolicies    = critical,1.2.392.200149.8.5.1.0.30
crlDistributionPoints  = crldp_test
authorityKeyIdentifier = keyid
subjectKeyIdentifier   = hash

[ crldp_test ]
fullname = dirName:dn_crldp_test

[ dn_crldp_test ]
C    = JP
O    = JPKI-TEST
0.OU = JPKI for user authentication
1.OU = CRL Distribution Points
2.OU = Tokyo-to
CN   = Chiyoda-ku

# ---------------- OCSP responders
[ v3_ocsp ]
basicConstraints       = critical,CA:FALSE
keyUsage               = critical,digitalSignature
extendedKeyUsage       = OCSPSigning
noCheck                = yes
authorityKeyIdentifier = keyid
subjectKeyIdentifier   = hash

# ---------------- TLS
[ v3_tls_server ]
basicConstraints       = critical,CA:FALSE
keyUsage               = critical,digitalSignature,keyEncipherment
extendedKeyUsage       = serverAuth
subjectAltName         = DNS:localhost,IP:127.0.0.1
authorityKeyIdentifier = keyid
subjectKeyIdentifier   = hash

[ v3_tls_client ]
basicConstraints       = critical,CA:FALSE
keyUsage               = critical,digitalSignature
extendedKeyUsage       = clientAuth
authorityKeyIdentifier = keyid
subjectKeyIdentifier   = hash

# ---------------- signing (署名用): one section per certificate is appended
[ pol_sign ]
policyIdentifier = 1.2.392.200149.8.5.1.1.20
CPS.1            = http://www.jpki.go.jp/cps.html

[ crldp_sign ]
fullname = dirName:dn_crldp_sign

[ dn_crldp_sign ]
C    = JP
O    = JPKI
0.OU = JPKI for digital signature
1.OU = CRL Distribution Points
2.OU = Tokyo-to
CN   = Chiyoda-ku
EOF

# ---------------------------------------------------------------- keys
# All keys are generated up front, in parallel.
genkey() { # genkey NAME BITS: key + a placeholder CSR (openssl ca -subj sets the real DN)
    if openssl req -new -config "$CNF" -newkey rsa:"$2" -noenc \
           -keyout "$W/keys/$1.pem" -subj "/CN=placeholder" -out "$W/csr/$1.csr" \
           >"$W/log/key.$1" 2>&1; then
        : >"$W/keys/$1.ok"
    fi
}
KEYS2048=(
    auth-root-g1 auth-root-g2 sign-root-g1 sign-root-g2 forged-auth-root
    test-auth-root other-root server-ca server-ca-other
    auth-alice-1 auth-alice-2 auth-alice-3 auth-bob auth-carol
    shared-user shared-rev shared-bad
    sign-alice sign-bob sign-minor
    ocsp-auth-g1 server-localhost pf-client server-localhost-other
)
for k in "${KEYS2048[@]}"; do genkey "$k" 2048 & done
genkey shared-bad1024 1024 &
wait
for k in "${KEYS2048[@]}" shared-bad1024; do
    [[ -f $W/keys/$k.ok ]] || { cat "$W/log/key.$k" >&2; die "key generation failed for $k"; }
done

# ---------------------------------------------------------------- serials
RANDPOOL=$(openssl rand -hex 2048)
RANDPOS=0
randhex() { # randhex NBYTES -> lowercase hex from the pool
    local n=$(( $1 * 2 ))
    if (( RANDPOS + n > ${#RANDPOOL} )); then
        RANDPOOL=$(openssl rand -hex 2048); RANDPOS=0
    fi
    REPLY=${RANDPOOL:RANDPOS:n}
    RANDPOS=$(( RANDPOS + n ))
}
declare -A USED_SERIAL=()
# gen_serial HIGHBIT -> SERIAL (uppercase hex, 4..9 bytes, first byte != 0).
# HIGHBIT=1 sets the top bit of the first byte, so that the DER INTEGER
# needs a leading 00 byte; otherwise the top bit is cleared.
gen_serial() {
    local hi=$1 n b
    while :; do
        randhex 1; n=$(( 4 + 16#$REPLY % 6 ))
        randhex "$n"
        b=$(( 16#${REPLY:0:2} ))
        if (( hi )); then b=$(( b | 0x80 )); else b=$(( b & 0x7f )); (( b )) || b=0x5a; fi
        printf -v SERIAL '%02X%s' "$b" "${REPLY:2}"
        SERIAL=${SERIAL^^}
        [[ -z ${USED_SERIAL[$SERIAL]:-} ]] && break
    done
    USED_SERIAL[$SERIAL]=1
}

# ---------------------------------------------------------------- issuing
ORDER=()                # certificate names in issuance order
declare -A TYPE=()      # name -> manifest type
declare -A ISSUER=()    # name -> issuing CA name (itself for self-signed)
declare -A SER=()       # name -> serial as in the openssl ca index

cadir() { # cadir NAME -> create/return the private CA directory of NAME
    local d=$W/ca/$1
    if [[ ! -d $d ]]; then mkdir -p "$d/newcerts"; : >"$d/index.txt"; fi
    REPLY=$d
}

# issue NAME TYPE ISSUER KEY SUBJECT EXTSECTION START_DAYS END_DAYS [HIGHBIT] [MD]
#   ISSUER "-" = self-signed. KEY = key name under $W/keys.
declare -A DATECACHE=() KEYPEM=()
tcached() { # tcached DAYS -> REPLY = t DAYS, cached
    [[ -n ${DATECACHE[$1]:-} ]] || DATECACHE[$1]=$(t "$1")
    REPLY=${DATECACHE[$1]}
}

# post NAME: DER copy + the fields the manifest needs; run in the background.
post() {
    local name=$1 line b64=''
    # PEM -> DER: the base64 body between the BEGIN and END lines.
    while IFS= read -r line; do
        [[ $line == -----* ]] || b64+=$line
    done <"$OUT/$name.crt"
    base64 -d <<<"$b64" >"$OUT/$name.der" 2>"$W/log/post.$name" || return 0
    openssl x509 -inform DER -in "$OUT/$name.der" -noout -serial -dateopt iso_8601 -enddate \
        -subject -nameopt RFC2253 -ext subjectKeyIdentifier \
        >"$W/meta/$name.info" 2>>"$W/log/post.$name" || return 0
    : >"$W/meta/$name.ok"
}

issue() {
    local name=$1 type=$2 issuer=$3 key=$4 subj=$5 sect=$6 sd=$7 ed=$8
    local hi=${9:-0} md=${10:-sha256} d sdate edate
    local -a signer
    gen_serial "$hi"
    if [[ $issuer == - ]]; then
        cadir _selfsigned; d=$REPLY
        signer=(-selfsign -keyfile "$W/keys/$key.pem")
        issuer=$name
    else
        cadir "$issuer"; d=$REPLY
        signer=(-cert "$OUT/$issuer.crt" -keyfile "$W/keys/$issuer.pem")
    fi
    echo "$SERIAL" >"$d/serial"
    tcached "$sd"; sdate=$REPLY
    tcached "$ed"; edate=$REPLY
    CADIR=$d run openssl ca -batch -config "$CNF" "${signer[@]}" \
        -in "$W/csr/$key.csr" -subj "$subj" -utf8 -out "$OUT/$name.crt" -notext \
        -md "$md" -startdate "$sdate" -enddate "$edate" \
        -extfile "$EXT" -extensions "$sect"
    [[ -n ${KEYPEM[$key]:-} ]] || IFS= read -r -d "" "KEYPEM[$key]" <"$W/keys/$key.pem" || true
    printf "%s" "${KEYPEM[$key]}" >"$OUT/$name.key"
    post "$name" &
    ORDER+=("$name"); TYPE[$name]=$type; ISSUER[$name]=$issuer; SER[$name]=$SERIAL
}

DN_AUTH='/C=JP/O=JPKI/OU=JPKI for user authentication/OU=Japan Agency for Local Authority Information Systems'
DN_SIGN='/C=JP/O=JPKI/OU=JPKI for digital signature/OU=Japan Agency for Local Authority Information Systems'
DN_TEST='/C=JP/O=JPKI-TEST/OU=JPKI for user authentication/OU=Japan Agency for Local Authority Information Systems'

# ---- 1. roots (now-365d .. now+3650d)
issue auth-root-g1     root - auth-root-g1     "$DN_AUTH" v3_root_auth  -365 3650
issue auth-root-g2     root - auth-root-g2     "$DN_AUTH" v3_root_auth  -365 3650
issue sign-root-g1     root - sign-root-g1     "$DN_SIGN" v3_root_sign  -365 3650
issue sign-root-g2     root - sign-root-g2     "$DN_SIGN" v3_root_sign  -365 3650
issue forged-auth-root root - forged-auth-root "$DN_AUTH" v3_root_auth  -365 3650
issue test-auth-root   root - test-auth-root   "$DN_TEST" v3_root_test  -365 3650
issue other-root       root - other-root '/C=JP/O=Example Unrelated CA/CN=Unrelated Root' v3_root_plain -365 3650
issue notca            root - shared-bad '/C=JP/O=mod_jpki test/CN=Not a CA (CA:FALSE)' v3_notca -365 3650

cat "$OUT/auth-root-g1.crt" "$OUT/auth-root-g2.crt" >"$OUT/trust-auth.pem"
cat "$OUT/sign-root-g1.crt" "$OUT/sign-root-g2.crt" >"$OUT/trust-sign.pem"
cat "$OUT/trust-auth.pem" "$OUT/trust-sign.pem" >"$OUT/trust-all.pem"

# ---- 2. user authentication certificates (now-30d .. now+1500d)
AUTHSEQ=0
auth() { # auth NAME TYPE ISSUER KEY SECTION START END [HIGHBIT] [MD]
    AUTHSEQ=$(( AUTHSEQ + 1 ))
    local cn
    printf -v cn 'TESTAUTH%04dA' "$AUTHSEQ"
    issue "$1" "$2" "$3" "$4" "/C=JP/CN=$cn" "$5" "$6" "$7" "${8:-0}" "${9:-sha256}"
}
auth auth-alice-1 auth auth-root-g1 auth-alice-1 v3_auth -30 1500
auth auth-alice-2 auth auth-root-g2 auth-alice-2 v3_auth -30 1500
auth auth-alice-3 auth auth-root-g2 auth-alice-3 v3_auth -30 1500
auth auth-bob     auth auth-root-g1 auth-bob     v3_auth -30 1500 1   # leading-00 serial
auth auth-carol   auth auth-root-g2 auth-carol   v3_auth -30 1500
for i in $(seq -w 1 16); do
    auth "auth-user$i" auth auth-root-g1 shared-user v3_auth -30 1500
done
for r in superseded keycompromise hold cessation affiliation unspecified; do
    auth "auth-rev-$r" auth auth-root-g1 shared-rev v3_auth -30 1500
done

# ---- 3. signing certificates
SIGNSEQ=0
zeros() { local s; printf -v s '%*s' "$1" ''; REPLY=${s// /0}; }
# count_in_der FILE STRING -> number of occurrences of STRING's bytes in FILE
count_in_der() {
    local hay needle rest
    hay=$(od -An -v -tx1 -- "$1" | tr -d '\n')
    needle=$(printf '%s' "$2" | od -An -v -tx1 | tr -d '\n')
    rest=${hay//"$needle"/}
    REPLY=$(( (${#hay} - ${#rest}) / ${#needle} ))
}
# sign NAME NAME_JA NAME_ALT SEX BIRTH ADDRESS ADDRESS_ALT [HIGHBIT]
sign() {
    local name=$1 nm=$2 nmalt=$3 sex=$4 birth=$5 addr=$6 addralt=$7 hi=${8:-0}
    local sect=v3_${name//-/_} cn ts
    (( ${#nmalt} == ${#nm} )) || die "$name: name alt length ${#nmalt} != ${#nm}"
    (( ${#addralt} == ${#addr} )) || die "$name: address alt length ${#addralt} != ${#addr}"
    # SAN order 1, 4, 3, 5, 2, 6 as seen on a real card.
    cat >>"$EXT" <<EOF

[ $sect ]
keyUsage               = critical,digitalSignature,nonRepudiation
certificatePolicies    = critical,@pol_sign
subjectAltName         = @san_$sect
crlDistributionPoints  = crldp_sign
authorityKeyIdentifier = keyid
subjectKeyIdentifier   = hash

[ san_$sect ]
otherName.1 = 1.2.392.200149.8.5.5.1;FORMAT:UTF8,UTF8:$nm
otherName.4 = 1.2.392.200149.8.5.5.4;FORMAT:UTF8,UTF8:$birth
otherName.3 = 1.2.392.200149.8.5.5.3;FORMAT:UTF8,UTF8:$sex
otherName.5 = 1.2.392.200149.8.5.5.5;FORMAT:UTF8,UTF8:$addr
otherName.2 = 1.2.392.200149.8.5.5.2;FORMAT:UTF8,UTF8:$nmalt
otherName.6 = 1.2.392.200149.8.5.5.6;FORMAT:UTF8,UTF8:$addralt
EOF
    SIGNSEQ=$(( SIGNSEQ + 1 ))
    ts=$(TZ=JST-9 date -d "@$(( NOW - 30 * 86400 ))" +%Y%m%d%H%M%S)
    printf -v cn '%s%04dTK' "$ts" "$SIGNSEQ"
    issue "$name" sign sign-root-g1 "$name" "/C=JP/L=Tokyo-to/L=Chiyoda-ku/CN=$cn" \
        "$sect" -30 1500 "$hi"
    # Checked after all DER files exist (see "sanity checks").
    UTF8_CHECKS+=("$name" "$nm" "$name" "$addr")
}
UTF8_CHECKS=()

ADDR_ALICE='東京都千代田区永田町一丁目７番１号'
zeros "${#ADDR_ALICE}"; ALT_ALICE="001${REPLY:3}"
sign sign-alice '番号　花子' 00000 2 319800217 "$ADDR_ALICE" "$ALT_ALICE"

ADDR_BOB='大阪府大阪市北区中之島一丁目３番２０号'
zeros "${#ADDR_BOB}"; ALT_BOB=$REPLY
sign sign-bob '山田　太郎' 00000 1 420040229 "$ADDR_BOB" "$ALT_BOB" 1   # leading-00 serial

# Born exactly 17 years before today (today in JST); 02-29 maps to 02-28.
read -r Y MD < <(TZ=JST-9 date -d "@$NOW" '+%Y %m%d')
[[ $MD == 0229 ]] && MD=0228
BIRTH_MINOR="5$(( Y - 17 ))$MD"
ADDR_MINOR='神奈川県横浜市中区日本大通１番地'
zeros "${#ADDR_MINOR}"; ALT_MINOR=$REPLY
sign sign-minor '子供　一郎' 00000 9 "$BIRTH_MINOR" "$ADDR_MINOR" "$ALT_MINOR"

# ---- 4. bad cases (auth-shaped, auth-root-g1 unless stated)
auth bad-expired        bad auth-root-g1     shared-bad     v3_auth         -800 -1
auth bad-notyet         bad auth-root-g1     shared-bad     v3_auth           10 400
auth bad-unknown-issuer bad other-root       shared-bad     v3_auth          -30 1500
auth bad-forged         bad forged-auth-root shared-bad     v3_auth          -30 1500
auth bad-wrong-policy   bad auth-root-g1     shared-bad     v3_bad_policy    -30 1500
auth bad-no-digsig      bad auth-root-g1     shared-bad     v3_bad_nodigsig  -30 1500
auth bad-rsa1024        bad auth-root-g1     shared-bad1024 v3_auth          -30 1500
auth bad-sha1           bad auth-root-g1     shared-bad     v3_auth          -30 1500 0 sha1
auth bad-unknown-crit   bad auth-root-g1     shared-bad     v3_bad_crit      -30 1500
auth bad-test-hierarchy bad test-auth-root   shared-bad     v3_bad_test      -30 1500


# ---- 5. OCSP responders
issue ocsp-auth-g1 ocsp auth-root-g1 ocsp-auth-g1 \
    '/C=JP/O=JPKI/OU=JPKI for user authentication/CN=OCSP Responder G1 (mod_jpki test)' \
    v3_ocsp -30 1500
issue ocsp-rogue ocsp other-root shared-bad \
    '/C=JP/O=Example Unrelated CA/CN=Rogue OCSP Responder' v3_ocsp -30 1500

# ---- 6. TLS
issue server-ca       tls - server-ca '/C=JP/O=mod_jpki test/CN=mod_jpki test server CA' v3_root_plain -365 3650
issue server-localhost tls server-ca server-localhost '/C=JP/O=mod_jpki test/CN=localhost' v3_tls_server -30 1500
issue pf-client       tls server-ca pf-client '/C=JP/O=mod_jpki test/CN=pf-client' v3_tls_client -30 1500
issue server-ca-other tls - server-ca-other '/C=JP/O=mod_jpki test other/CN=mod_jpki test other server CA' v3_root_plain -365 3650
issue server-localhost-other tls server-ca-other server-localhost-other '/C=JP/O=mod_jpki test other/CN=localhost' v3_tls_server -30 1500

# ---- 5b. OCSP index of everything auth-root-g1 issued
# shellcheck disable=SC2054  # the commas are part of the index revocation field
declare -A REVOKE=(
    [auth-rev-superseded]=superseded
    [auth-rev-keycompromise]=keyCompromise
    [auth-rev-hold]=certificateHold,holdInstructionReject
    [auth-rev-cessation]=cessationOfOperation
    [auth-rev-affiliation]=affiliationChanged
    [auth-rev-unspecified]=unspecified
)
declare -A REVOKE_BY_SERIAL=()
for n in "${!REVOKE[@]}"; do REVOKE_BY_SERIAL[${SER[$n]}]=${REVOKE[$n]}; done
REVTIME=$(tu -1)
TAB=$'\t'
nrev=0
while IFS= read -r line; do
    st=${line%%"$TAB"*};   rest=${line#*"$TAB"}
    exp=${rest%%"$TAB"*};  rest=${rest#*"$TAB"}
    rest=${rest#*"$TAB"}   # revocation field (empty for V)
    ser=${rest%%"$TAB"*};  rest=${rest#*"$TAB"}
    [[ $st == V ]] || die "unexpected status in the CA index: $line"
    if [[ -n ${REVOKE_BY_SERIAL[$ser]:-} ]]; then
        printf 'R\t%s\t%s,%s\t%s\t%s\n' "$exp" "$REVTIME" "${REVOKE_BY_SERIAL[$ser]}" "$ser" "$rest"
        nrev=$(( nrev + 1 ))
    else
        printf '%s\n' "$line"
    fi
done <"$W/ca/auth-root-g1/index.txt" >"$OUT/ocsp-index-auth-g1.txt"
(( nrev == 6 )) || die "expected 6 revoked entries in the OCSP index, got $nrev"
echo 'unique_subject = no' >"$OUT/ocsp-index-auth-g1.txt.attr"

# ---- wait for the background DER/metadata jobs
wait
for n in "${ORDER[@]}"; do
    [[ -f $W/meta/$n.ok ]] || { cat "$W/log/post.$n" >&2 || true; die "DER conversion/inspection failed for $n"; }
done

# ---- 4b. garbage.bin, huge.bin
openssl rand -out "$OUT/garbage.bin" 2000
size=$(stat -c %s -- "$OUT/auth-alice-1.der")
{ cat -- "$OUT/auth-alice-1.der"; openssl rand $(( 1048576 - size )); } >"$OUT/huge.bin"
[[ $(stat -c %s -- "$OUT/huge.bin") -eq 1048576 ]] || die "huge.bin has the wrong size"

# ---- 7. manifest
declare -A SKI=()
{
    printf 'name\ttype\tserial\tissuer_key_id\tnot_after\tsubject\n'
    for n in "${ORDER[@]}"; do
        serial='' notafter='' subject='' ski='' want_ski=0
        while IFS= read -r l; do
            case $l in
                serial=*)   serial=${l#serial=} ;;
                notAfter=*) notafter=${l#notAfter=} ;;
                subject=*)  subject=${l#subject=} ;;
                *'Subject Key Identifier'*) want_ski=1 ;;
                *) if (( want_ski )); then ski=${l//[ :]/}; want_ski=0; fi ;;
            esac
        done <"$W/meta/$n.info"
        [[ -n $serial && -n $notafter && -n $subject && -n $ski ]] \
            || die "could not read serial/notAfter/subject/SKI of $n"
        SKI[$n]=${ski,,}
        serial=${serial,,}
        while [[ $serial == 0?* ]]; do serial=${serial#0}; done
        [[ $notafter =~ ^([0-9]{4}-[0-9]{2}-[0-9]{2})\ ([0-9]{2}:[0-9]{2}:[0-9]{2})Z$ ]] \
            || die "unexpected notAfter format for $n: $notafter"
        notafter="${BASH_REMATCH[1]}T${BASH_REMATCH[2]}Z"
        iss=${ISSUER[$n]}
        [[ -n ${SKI[$iss]:-} ]] || die "issuer $iss of $n has no SKI recorded"
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "${TYPE[$n]}" "$serial" "${SKI[$iss]}" "$notafter" "$subject"
    done
} >"$OUT/manifest.tsv"

# ---- sanity checks
chk_verify() { # chk_verify ok|fail CAFILE CERT
    local res=0
    openssl verify -CAfile "$OUT/$2" "$OUT/$3" >"$W/log/verify" 2>&1 || res=1
    if [[ $1 == ok && $res -ne 0 ]]; then cat "$W/log/verify" >&2; die "self-check: $3 does not verify against $2"; fi
    if [[ $1 == fail && $res -eq 0 ]]; then die "self-check: $3 unexpectedly verifies against $2"; fi
}
chk_verify ok   trust-auth.pem auth-alice-1.crt
chk_verify ok   trust-auth.pem auth-alice-2.crt
chk_verify ok   trust-auth.pem auth-user16.crt
chk_verify ok   trust-sign.pem sign-alice.crt
chk_verify fail trust-auth.pem bad-forged.crt
chk_verify fail trust-auth.pem bad-expired.crt
chk_verify fail trust-auth.pem bad-unknown-crit.crt
chk_verify fail trust-auth.pem sign-alice.crt
chk_verify ok   server-ca.crt  server-localhost.crt
# The 4 facts must be stored as real UTF-8 bytes, exactly once (not double-encoded).
for (( i = 0; i < ${#UTF8_CHECKS[@]}; i += 2 )); do
    count_in_der "$OUT/${UTF8_CHECKS[i]}.der" "${UTF8_CHECKS[i+1]}"
    (( REPLY == 1 )) || die "${UTF8_CHECKS[i]}: the UTF-8 bytes of '${UTF8_CHECKS[i+1]}' occur $REPLY times in the DER (want 1)"
done

# ---- permissions, completion marker
chmod 0755 -- "$OUT"
chmod 0644 -- "$OUT"/* "$OUT/$MARKER"
date -u +%Y-%m-%dT%H:%M:%SZ >"$OUT/.complete"
chmod 0644 -- "$OUT/.complete"
