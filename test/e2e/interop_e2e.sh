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
# Scenarios (KEY = rsa2048 | rsa3072 | p256, VER = tls12 | tls13, SUITE =
# aes128 | aes256 | chacha, the AEAD of the profile's suite for that
# version and key type; without SUITE the server's defaults):
#   pyssl-KEY-VER[-SUITE]  py_tscf: tunnel UP with exactly that version and
#                       suite, pings answered, release
#   pyssl-rsa2048-tls12-serverpref   the server's own order (known to fail
#                       with mbed TLS 3.6, see docs/engine.md; not in ctest)
#   openssl-KEY-VER[-SUITE]  openssl s_server: handshake completes
#   gnutls-KEY-VER[-SUITE]   gnutls-serv: handshake completes with that
#                       version and cipher (from the server's log)
#   refuse-tls10 refuse-tls11 refuse-cbc refuse-rsakx refuse-group
#   refuse-curve        openssl s_server that speaks only TLS 1.0 / TLS 1.1
#                       / CBC suites / RSA key exchange / finite-field DHE
#                       groups (TLS 1.3) / the P-521 curve (TLS 1.2)
#   gnutls-refuse-tls11 gnutls-refuse-cbc   the same refusals by GnuTLS (its
#                       TLS 1.1-only refusal is handshake_failure)
#   every refusal: the specific error, a detail naming the alert and what
#   the client offered
# TSE_INTEROP_TLS13=0 (ctest sets it for mbed TLS 2.28): the client has no
# TLS 1.3; tls13 scenarios are skipped and old-version refusals expected as
# handshake_failure.
# Exit 0 = pass, 1 = fail, 77 = skipped (a needed program is missing).
set -u
[ -n "${TSE_TRACE:-}" ] && set -x
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

# start_gnutls PRIORITY [ARGS...]: gnutls-serv on a free port (it listens on
# every interface: it has no option to bind one); sets PORT
start_gnutls() {
    command -v gnutls-serv >/dev/null 2>&1 || skip "gnutls-serv (gnutls-bin) not installed"
    PORT=$(free_port)
    gnutls-serv --port "$PORT" --x509certfile "$d/srv.pem" --x509keyfile "$d/srv.key" \
        --priority "$@" >"$d/gnutls-serv.log" 2>&1 </dev/null &
    pids="$pids $!"
    wait_port "$PORT" || fail "gnutls-serv did not start"
}

ver_name() { [ "$1" = tls12 ] && echo "TLSv1.2" || echo "TLSv1.3"; }
kx() { [ "$1" = p256 ] && echo ECDSA || echo RSA; }
# suite VER KEY SUITE FORMAT: the suite's name for FORMAT = openssl (TLS 1.2
# cipher or TLS 1.3 ciphersuite), mbedtls (what tse-cli reports), gnutls
# (the cipher in a priority string and in gnutls-serv's log)
suite() {
    case $1-$3-$4 in
    tls12-aes128-openssl) echo "ECDHE-$(kx "$2")-AES128-GCM-SHA256" ;;
    tls12-aes256-openssl) echo "ECDHE-$(kx "$2")-AES256-GCM-SHA384" ;;
    tls12-chacha-openssl) echo "ECDHE-$(kx "$2")-CHACHA20-POLY1305" ;;
    tls13-aes128-openssl) echo TLS_AES_128_GCM_SHA256 ;;
    tls13-aes256-openssl) echo TLS_AES_256_GCM_SHA384 ;;
    tls13-chacha-openssl) echo TLS_CHACHA20_POLY1305_SHA256 ;;
    tls12-aes128-mbedtls) echo "TLS-ECDHE-$(kx "$2")-WITH-AES-128-GCM-SHA256" ;;
    tls12-aes256-mbedtls) echo "TLS-ECDHE-$(kx "$2")-WITH-AES-256-GCM-SHA384" ;;
    tls12-chacha-mbedtls) echo "TLS-ECDHE-$(kx "$2")-WITH-CHACHA20-POLY1305-SHA256" ;;
    tls13-aes128-mbedtls) echo TLS1-3-AES-128-GCM-SHA256 ;;
    tls13-aes256-mbedtls) echo TLS1-3-AES-256-GCM-SHA384 ;;
    tls13-chacha-mbedtls) echo TLS1-3-CHACHA20-POLY1305-SHA256 ;;
    *-aes128-gnutls) echo AES-128-GCM ;;
    *-aes256-gnutls) echo AES-256-GCM ;;
    *-chacha-gnutls) echo CHACHA20-POLY1305 ;;
    *) fail "no suite $1 $2 $3 $4" ;;
    esac
}

# handshake_ok OUTFILE: the engine got past TLS (reached CONFIGURING)
handshake_ok() {
    jcheck "$d/$1" "'CONFIGURING' in states()" ||
        fail "the TLS handshake did not complete"
}

# parse SCENARIO-without-prefix: sets key, ver, st (suite or empty)
parse() {
    key=${1%%-*}; rest=${1#*-}
    ver=${rest%%-*}
    st=""
    case $rest in *-*) st=${rest#*-} ;; esac
}

# refused: tse-cli fails with $want, the detail naming $what and the offer
refused() {
    cli refused.out --timeout 5 && fail "tse-cli succeeded against a refusing server"
    jcheck "$d/refused.out" "E('tunnel_down') and E('tunnel_down')[0]['code'] == $want and '$what' in E('tunnel_down')[0]['detail'] and 'offered' in E('tunnel_down')[0]['detail']" ||
        fail "expected $want with a detail naming $what and what was offered"
    python3 -c 'import json,sys
for l in open(sys.argv[1]):
    if "tunnel_down" in l: e = json.loads(l); print("refused: %d %s: %s" % (e["code"], e["error"], e["detail"])); break' "$d/refused.out"
}

PING="--ping 198.18.0.1 --count 2 --interval 200 --timeout 30"

case "$SCENARIO" in
*-tls13*)
    [ "${TSE_INTEROP_TLS13:-1}" = 1 ] || skip "this mbed TLS has no TLS 1.3"
    ;;
esac

case "$SCENARIO" in
pyssl-*)
    parse "${SCENARIO#pyssl-}"
    certs "$key"
    extra=""
    if [ "$st" = serverpref ]; then extra="--serverpref"; st=""; fi
    want_suite=""
    if [ "$ver" = tls12 ]; then
        ciphers=$(suite tls12 "$key" "${st:-aes128}" openssl)
        [ -n "$st" ] && want_suite=$(suite tls12 "$key" "$st" mbedtls)
        # shellcheck disable=SC2086
        start_pytscf --tls12-only --ciphers "$ciphers" $extra
    else
        if [ -n "$st" ]; then
            # Python's ssl cannot set TLS 1.3 suites: OpenSSL's own config can
            printf '%s\n' "openssl_conf = c" "[c]" "ssl_conf = s" "[s]" "system_default = d" \
                "[d]" "Ciphersuites = $(suite tls13 "$key" "$st" openssl)" >"$d/openssl.cnf"
            want_suite=$(suite tls13 "$key" "$st" mbedtls)
            # shellcheck disable=SC2086
            OPENSSL_CONF="$d/openssl.cnf" start_pytscf --tls13-only $extra
        else
            # shellcheck disable=SC2086
            start_pytscf --tls13-only $extra
        fi
    fi
    # shellcheck disable=SC2086
    cli up.out $PING || fail "tse-cli exit status"
    jcheck "$d/up.out" "E('tunnel_up') and E('tunnel_up')[0]['tls'] == '$(ver_name "$ver")' and E('summary')[0]['replies'] == 2" ||
        fail "no tunnel with $(ver_name "$ver") and answered pings"
    if [ -n "$want_suite" ]; then
        jcheck "$d/up.out" "E('tunnel_up')[0]['suite'] == '$want_suite'" ||
            fail "suite is not $want_suite"
    fi
    grep -q released "$d/py_tscf.log" || fail "the TSCF saw no release"
    python3 -c 'import json,sys
for l in open(sys.argv[1]):
    if "tunnel_up" in l: e = json.loads(l); print("up: %s %s" % (e["tls"], e["suite"])); break' "$d/up.out"
    ;;
openssl-*)
    parse "${SCENARIO#openssl-}"
    certs "$key"
    if [ "$ver" = tls12 ]; then
        start_openssl -tls1_2 -cipher "$(suite tls12 "$key" "${st:-aes128}" openssl)"
    elif [ -n "$st" ]; then
        start_openssl -tls1_3 -ciphersuites "$(suite tls13 "$key" "$st" openssl)"
    else
        start_openssl -tls1_3
    fi
    cli hs.out --timeout 2 || true
    handshake_ok hs.out
    ;;
gnutls-refuse-tls11|gnutls-refuse-cbc)
    certs rsa2048
    if [ "$SCENARIO" = gnutls-refuse-tls11 ]; then
        # GnuTLS answers a TLS 1.2+ hello it cannot serve with
        # handshake_failure ("no supported cipher suites": ours are TLS 1.2
        # AEAD suites), not protocol_version as OpenSSL does
        start_gnutls "NORMAL:-VERS-ALL:+VERS-TLS1.1:+VERS-TLS1.0"
        want=-411; what=handshake_failure
    else
        start_gnutls "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-CBC:+AES-256-CBC"
        want=-411; what=handshake_failure
    fi
    refused
    ;;
gnutls-*)
    parse "${SCENARIO#gnutls-}"
    certs "$key"
    v=$([ "$ver" = tls12 ] && echo TLS1.2 || echo TLS1.3)
    prio="NORMAL:-VERS-ALL:+VERS-$v"
    [ -n "$st" ] && prio="$prio:-CIPHER-ALL:+$(suite "$ver" "$key" "$st" gnutls)"
    # --echo: gnutls-serv returns our Configuration_Request, which ends the
    # connection (TSE_ERR_PROTO_UNEXPECTED) at once, after the handshake
    start_gnutls "$prio" --echo
    cli hs.out --timeout 2 || true
    handshake_ok hs.out
    if [ -n "$st" ]; then
        grep -q "$(suite "$ver" "$key" "$st" gnutls)" "$d/gnutls-serv.log" ||
            fail "gnutls-serv did not log cipher $(suite "$ver" "$key" "$st" gnutls)"
    fi
    ;;
refuse-*)
    certs rsa2048
    case $SCENARIO in
    # a client that offers TLS 1.3 sends supported_versions, and OpenSSL
    # answers protocol_version; to a TLS 1.2-only client (mbed TLS 2.28)
    # it picks its own old version and finds no suite: handshake_failure
    refuse-tls10|refuse-tls11)
        if [ "$SCENARIO" = refuse-tls10 ]; then v=-tls1; else v=-tls1_1; fi
        start_openssl "$v" -cipher 'DEFAULT:@SECLEVEL=0'
        if [ "${TSE_INTEROP_TLS13:-1}" = 1 ]; then
            want=-410; what="protocol_version"
        else
            want=-411; what="handshake_failure"
        fi ;;
    refuse-cbc)   start_openssl -tls1_2 -cipher 'ECDHE-RSA-AES128-SHA:AES128-SHA'
                  want=-411; what="handshake_failure" ;;
    refuse-rsakx) start_openssl -tls1_2 -cipher 'AES128-GCM-SHA256'
                  want=-411; what="handshake_failure" ;;
    refuse-group) start_openssl -tls1_3 -groups ffdhe2048
                  want=-411; what="handshake_failure" ;;
    refuse-curve) start_openssl -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 -groups secp521r1
                  want=-411; what="handshake_failure" ;;
    refuse-weakcurve) start_openssl -tls1_2 -cipher 'ECDHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0' \
                      -groups secp224r1:secp192r1
                  want=-411; what="handshake_failure" ;;
    *) fail "unknown refusal" ;;
    esac
    refused
    ;;
*)
    fail "unknown scenario"
    ;;
esac
echo "PASS [$SCENARIO]"
exit 0
