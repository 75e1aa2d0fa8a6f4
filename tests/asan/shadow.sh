#!/usr/bin/env bash
# Build a shadow tree in which the Apache::Test suite runs against another
# mod_jpki.so (used by check.sh for ASan and by valgrind.sh).
#
# Apache::Test loads the module from <top>/mod_jpki.so (t/conf/extra.conf.in
# and several .t files use "ServerRoot/../mod_jpki.so"), so RUN gets
# symlinks to the sources (the .t files one by one, in real area folders),
# its own t/conf, t/logs and t/htdocs (written by Apache::Test), and a copy
# of MODULE as RUN/mod_jpki.so (conf, docs, htdocs, tools, examples linked). t/config/directives.t reads the real J-LIS
# roots from ServerRoot/../../shared: RUN/../shared links to SRC/../shared.
# Then t/TEST is generated there with httpd = WRAPPER.
#
# Usage: shadow.sh SRC BUILD RUN MODULE WRAPPER     Env: APXS PERL
set -euo pipefail
src=$1 build=$2 run=$3 module=$4 wrapper=$5
: "${APXS:?}" "${PERL:?}"
if [ -x "$run/t/TEST" ]; then (cd "$run" && "$PERL" t/TEST -clean >/dev/null 2>&1) || :; fi
rm -rf "$run/t" "$run/reports" "$run/tests"
mkdir -p "$run/t/conf/ssl" "$run/t/htdocs" "$run/reports"
chmod 1777 "$run/reports"   # httpd children (User nobody) write reports too
for n in conf docs htdocs tools examples; do ln -sfn "$src/$n" "$run/$n"; done
# t/web/card-helper.t runs the card helper with tests/helper/fake-pinentry
mkdir -p "$run/tests"
ln -sfn "$src/tests/helper" "$run/tests/helper"
[ "$module" -ef "$run/mod_jpki.so" ] || cp -f "$module" "$run/mod_jpki.so"
# The .t files sit in area folders (t/login/, t/status/ ...): Apache::Test
# finds them with File::Find, which does not enter a linked directory, so
# an area folder is a real directory of links to its files.
for e in "$src"/t/*; do
    n=$(basename "$e")
    case $n in
    TEST | SMOKE | logs | state | state-pf | conf | htdocs | cgi-bin | e2e | httpd-modules.conf) ;;
    *)
        if [ -d "$e" ] && compgen -G "$e/*.t" >/dev/null; then
            mkdir -p "$run/t/$n"
            for f in "$e"/*; do ln -sfn "$f" "$run/t/$n/"; done
        else
            ln -sfn "$e" "$run/t/$n"
        fi
        ;;
    esac
done
for e in "$src"/t/conf/*.conf.in; do ln -sfn "$e" "$run/t/conf/"; done
ln -sfn "$src/t/conf/ssl/ssl.conf.in" "$run/t/conf/ssl/"
# Copies, not links: CGI scripts find t/logs through FindBin, which
# resolves links (it would find the source tree's t/logs).
cp -a "$src/t/cgi-bin" "$run/t/"
# t/web/browser.t runs `npm ci --prefix t/e2e`, which refuses a linked
# directory: a real one, reusing the source tree's node_modules if made.
mkdir -p "$run/t/e2e"
for e in "$src"/t/e2e/*; do
    case $(basename "$e") in node_modules) ;; *) cp -a "$e" "$run/t/e2e/" ;; esac
done
[ -d "$src/t/e2e/node_modules" ] && ln -sfn "$src/t/e2e/node_modules" "$run/t/e2e/node_modules"
for e in "$src"/t/htdocs/*; do
    [ "$(basename "$e")" = index.html ] || cp -a "$e" "$run/t/htdocs/"
done
if [ -d "$src/../shared" ]; then ln -sfn "$src/../shared" "$(dirname "$run")/shared"; fi
cd "$run"
"$PERL" -MApache::TestMM -e 'Apache::TestMM::filter_args(); Apache::TestMM::generate_script("t/TEST")' -- \
    -apxs "$APXS" -httpd "$wrapper" -httpd_conf "$build/t/httpd-modules.conf" \
    -port select -startup_timeout 120 >/dev/null
