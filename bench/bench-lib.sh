# Shared by the bench scripts that start their own httpd (sourced): start it
# once the platform simulator is ready, stop both on exit, and read httpd's
# CPU ticks. Needs RUN (httpd.conf, httpd.pid and sim.out in it), SIM (the
# simulator's pid) and PKI (server-ca.crt).

# bench_start_httpd PROBE_URL: start, and wait until PROBE_URL answers
bench_start_httpd() {
    for _ in $(seq 100); do grep -q READY "$RUN/sim.out" 2>/dev/null && break; sleep 0.1; done
    trap '/usr/sbin/apache2 -f "$RUN/httpd.conf" -k stop 2>/dev/null; kill $SIM 2>/dev/null; wait $SIM 2>/dev/null || :' EXIT
    /usr/sbin/apache2 -f "$RUN/httpd.conf" -k start
    for _ in $(seq 100); do curl -s -o /dev/null --cacert "$PKI/server-ca.crt" "$1" && break; sleep 0.1; done
    sleep 1
}

# CPU ticks of httpd (parent + children; the bench configurations keep the
# children fixed, so the same processes are read before and after a round)
ticks() {
    local pp; pp=$(cat "$RUN/httpd.pid")
    for p in $pp $(cat /proc/$pp/task/$pp/children); do cut -d' ' -f14,15 /proc/$p/stat; done |
        awk '{ s += $1 + $2 } END { print s }'
}
HZ=$(getconf CLK_TCK)
