#!/bin/sh
# interop_e2e.sh TSE_CLI SCENARIO
#
# tse-cli (the engine over mbed TLS) against TLS servers that are NOT
# mbed TLS, on loopback:
#   - py_tscf.py: a TSCF on Python's ssl module (OpenSSL); the tunnel must
#     come UP and pings must be answered through it, then a clean release;
#   - openssl s_server / gnutls-serv: the TLS handshake must complete (the
#     engine reaches CONFIGURING), or, for a server that only speaks what the
#     profile refuses, fail with the specific error and a detail that names
#     the alert and what the client offered.
#
# Scenarios:
#   pyssl-KEY-VER       py_tscf, KEY = rsa2048 | rsa3072 | p256, VER = tls12 |
#                       tls13 (TLS 1.2 with the ECDHE suite of the key type,
#                       the client's preference order)
#   pyssl-rsa2048-tls12-serverpref   the same, the server's own order
#   openssl-KEY-VER     openssl s_server, handshake only
#   gnutls-KEY-VER      gnutls-serv, handshake only
#   refuse-tls11 refuse-cbc refuse-rsakx refuse-group   openssl s_server that
#                       speaks only TLS 1.1 / CBC suites / RSA key exchange /
#                       finite-field DHE groups
# Exit 0 = pass, 1 = fail, 77 = skipped (a needed program is missing).
set -u
CLI=$1
SCENARIO=$2
HERE=$(cd "$(dirname "$0")" && pwd)
d=$(mktemp -d /tmp/tse-interop.XXXXXX)
. "$HERE/../lib/procs.sh" # tse_stop: TERM, a bounded wait, then KILL
pids=""
cleanup() {
    # shellcheck disable=SC2086
    [ -n "$pids" ] && tse_stop $pids
    rm -rf "$d"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
    echo "FAIL [$SCENARIO]: $*"
    for f in "$d"/*.out "$d"/*.err "$d"/*.log; do
        [ -f "$f" ] || continue
        echo "--- $(basename "$f")"
        tail -n 40 "$f"
    done
    exit 1
}
skip() {
    echo "SKIP [$SCENARIO]: $*"
    exit 77
}
command -v openssl >/dev/null 2>&1 || skip "openssl not installed"
command -v python3 >/dev/null 2>&1 || skip "python3 not installed"

# jcheck FILE PYTHON-EXPR over ev (the JSON events) and E(name)
jcheck() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
ev = []
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("{"):
        try:
            ev.append(json.loads(line))
        except ValueError:
            pass
def E(name):
    return [e for e in ev if e.get("event") == name]
def states():
    return [e["state"] for e in E("state")]
sys.exit(0 if eval(sys.argv[2]) else 1)
EOF
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_port PORT: until something accepts on 127.0.0.1:PORT (10 s)
wait_port() {
    python3 - "$1" <<'EOF'
import socket, sys, time
end = time.time() + 10
while time.time() < end:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
EOF
}

# certs KEY: a test CA (P-256) and a server certificate for tscf.test with
# a KEY = rsa2048 | rsa3072 | p256 key: $d/ca.pem $d/srv.pem $d/srv.key
certs() {
    openssl ecparam -name prime256v1 -genkey -noout -out "$d/ca.key" 2>/dev/null &&
    openssl req -x509 -new -key "$d/ca.key" -sha256 -days 2 -subj "/CN=libtse interop CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$d/ca.pem" 2>/dev/null ||
        fail "CA generation"
    case $1 in
    rsa2048) openssl genrsa -out "$d/srv.key" 2048 2>/dev/null ;;
    rsa3072) openssl genrsa -out "$d/srv.key" 3072 2>/dev/null ;;
    p256) openssl ecparam -name prime256v1 -genkey -noout -out "$d/srv.key" 2>/dev/null ;;
    *) fail "unknown key type $1" ;;
    esac || fail "key generation"
    openssl req -new -key "$d/srv.key" -subj "/CN=tscf.test" -out "$d/srv.csr" 2>/dev/null &&
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=serverAuth" "subjectAltName=DNS:tscf.test,IP:127.0.0.1" >"$d/ext.cnf" &&
    openssl x509 -req -in "$d/srv.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
        -days 2 -sha256 -extfile "$d/ext.cnf" -out "$d/srv.pem" 2>/dev/null ||
        fail "certificate generation"
}

# cli OUTFILE ARGS...: tse-cli against 127.0.0.1:$PORT, JSON events, no retry
cli() {
    out=$1; shift
    timeout -k 5 60 "$CLI" --server "127.0.0.1:$PORT" --ca "$d/ca.pem" --sni tscf.test \
        --no-proxy --json "$@" >"$d/$out" 2>"$d/$out.err"
}

# start_pytscf ARGS...: sets PORT
start_pytscf() {
    python3 "$HERE/py_tscf.py" --cert "$d/srv.pem" --key "$d/srv.key" \
        --ready-file "$d/py.ready" --lifetime 90 "$@" 2>"$d/py_tscf.log" &
    pids="$pids $!"
    i=0
    while [ ! -s "$d/py.ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    [ -s "$d/py.ready" ] || fail "py_tscf did not start"
    PORT=$(head -n1 "$d/py.ready"); PORT=${PORT##*:}
}

# start_openssl ARGS...: openssl s_server on a free port; sets PORT
start_openssl() {
    PORT=$(free_port)
    openssl s_server -accept "127.0.0.1:$PORT" -cert "$d/srv.pem" \
        -key "$d/srv.key" -quiet "$@" >"$d/s_server.log" 2>&1 </dev/null &
    pids="$pids $!"
    wait_port "$PORT" || fail "openssl s_server did not start"
}

# start_gnutls PRIORITY: gnutls-serv on a free port; sets PORT
start_gnutls() {
    command -v gnutls-serv >/dev/null 2>&1 || skip "gnutls-serv (gnutls-bin) not installed"
    PORT=$(free_port)
    gnutls-serv --port "$PORT" --x509certfile "$d/srv.pem" --x509keyfile "$d/srv.key" \
        --priority "$1" --quiet >"$d/gnutls-serv.log" 2>&1 </dev/null &
    pids="$pids $!"
    wait_port "$PORT" || fail "gnutls-serv did not start"
}

ver_name() { [ "$1" = tls12 ] && echo "TLSv1.2" || echo "TLSv1.3"; }
suite12() { [ "$1" = p256 ] && echo ECDHE-ECDSA-AES128-GCM-SHA256 || echo ECDHE-RSA-AES128-GCM-SHA256; }

# handshake_ok OUTFILE VER: the engine got past TLS with version VER
handshake_ok() {
    jcheck "$d/$1" "'CONFIGURING' in states()" ||
        fail "the TLS handshake did not complete"
}

PING="--ping 198.18.0.1 --count 2 --interval 200 --timeout 30"

case "$SCENARIO" in
pyssl-*)
    rest=${SCENARIO#pyssl-}
    key=${rest%%-*}; rest=${rest#*-}
    ver=${rest%%-*}
    certs "$key"
    extra=""
    case "$SCENARIO" in *-serverpref) extra="--serverpref" ;; esac
    if [ "$ver" = tls12 ]; then
        # shellcheck disable=SC2086
        start_pytscf --tls12-only --ciphers "$(suite12 "$key")" $extra
    else
        # shellcheck disable=SC2086
        start_pytscf --tls13-only $extra
    fi
    # shellcheck disable=SC2086
    cli up.out $PING || fail "tse-cli exit status"
    jcheck "$d/up.out" "E('tunnel_up') and E('tunnel_up')[0]['tls'] == '$(ver_name "$ver")' and E('summary')[0]['replies'] == 2" ||
        fail "no tunnel with $(ver_name "$ver") and answered pings"
    grep -q released "$d/py_tscf.log" || fail "the TSCF saw no release"
    ;;
openssl-*)
    rest=${SCENARIO#openssl-}
    key=${rest%%-*}; ver=${rest#*-}
    certs "$key"
    if [ "$ver" = tls12 ]; then
        start_openssl -tls1_2 -cipher "$(suite12 "$key")"
    else
        start_openssl -tls1_3
    fi
    cli hs.out --timeout 3 || true
    handshake_ok hs.out "$ver"
    ;;
gnutls-*)
    rest=${SCENARIO#gnutls-}
    key=${rest%%-*}; ver=${rest#*-}
    certs "$key"
    if [ "$ver" = tls12 ]; then
        start_gnutls "NORMAL:-VERS-ALL:+VERS-TLS1.2"
    else
        start_gnutls "NORMAL:-VERS-ALL:+VERS-TLS1.3"
    fi
    cli hs.out --timeout 3 || true
    handshake_ok hs.out "$ver"
    ;;
refuse-tls11|refuse-cbc|refuse-rsakx|refuse-group)
    certs rsa2048
    case $SCENARIO in
    refuse-tls11) start_openssl -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0'
                  want=-410; what="protocol_version" ;;
    refuse-cbc)   start_openssl -tls1_2 -cipher 'ECDHE-RSA-AES128-SHA:AES128-SHA'
                  want=-411; what="handshake_failure" ;;
    refuse-rsakx) start_openssl -tls1_2 -cipher 'AES128-GCM-SHA256'
                  want=-411; what="handshake_failure" ;;
    refuse-group) start_openssl -tls1_3 -groups ffdhe2048
                  want=-411; what="handshake_failure" ;;
    esac
    cli refused.out --timeout 5 && fail "tse-cli succeeded against a refusing server"
    jcheck "$d/refused.out" "E('tunnel_down') and E('tunnel_down')[0]['code'] == $want and '$what' in E('tunnel_down')[0]['detail'] and 'offered' in E('tunnel_down')[0]['detail']" ||
        fail "expected $want with a detail naming $what and what was offered"
    python3 -c 'import json,sys
for l in open(sys.argv[1]):
    if "tunnel_down" in l: e = json.loads(l); print("refused: %d %s: %s" % (e["code"], e["error"], e["detail"])); break' "$d/refused.out"
    ;;
*)
    fail "unknown scenario"
    ;;
esac
echo "PASS [$SCENARIO]"
exit 0
