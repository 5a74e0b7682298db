#!/bin/sh
# install_test.sh BUILD_DIR SOURCE_DIR TSCF_SERVER GEN_CERTS
# `cmake --install` into a temporary prefix, then the out-of-tree consumer
# (test/install/consumer.c) built three ways and each run against
# tscf-server on loopback (tunnel up, release, CLOSED):
#   1. find_package(tse CONFIG), tse::posix (shared) and tse::posix_static
#   2. pkg-config tse-posix (shared)
#   3. the plain source list cmake/sources.txt, compiled with the program
#      (the vendor's own build system), version.h made as it says
# Environment (from test/CMakeLists.txt): TSE_MB_INC (':'-separated mbed
# TLS include dirs, when mbed TLS is compiled from source) / TSE_MB_FULL,
# TSE_MB_LIBS (what links mbed TLS), TSE_CONSUMER_CFLAGS (sanitizers).
set -u
B=$(cd "$1" && pwd)
S=$(cd "$2" && pwd)
SERVER=$3
GEN=$4
CFLAGS_X=${TSE_CONSUMER_CFLAGS:-}
d=$(mktemp -d /tmp/tse-install.XXXXXX)
spid=""
cleanup() {
    if [ -n "$spid" ]; then
        kill "$spid" 2>/dev/null
        i=0
        while kill -0 "$spid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$spid" 2>/dev/null
        wait "$spid" 2>/dev/null
    fi
    rm -rf "$d"
}
trap cleanup EXIT INT TERM
failed=0
ok()   { echo "ok   $1"; }
fail() { echo "FAIL $1"; [ -f "$d/log" ] && sed 's/^/     /' "$d/log" | tail -n 40; failed=$((failed + 1)); }

P=$d/prefix
if cmake --install "$B" --prefix "$P" >"$d/log" 2>&1; then ok "cmake --install"; else fail "cmake --install"; exit 1; fi
(cd "$P" && find . -type f -o -type l | sort) >"$d/files"
echo "installed files:"; sed 's/^/     /' "$d/files"
for f in include/tse/tse.h include/tse/version.h include/tse/export.h include/tse_posix.h \
         include/tse_detect_posix.h lib/libtse.a lib/libtse.so lib/libtse.so.3 lib/libtse_posix.so.3 \
         lib/libtse_posix.a lib/cmake/tse/tseConfig.cmake lib/cmake/tse/tseTargets.cmake \
         lib/pkgconfig/tse.pc lib/pkgconfig/tse-posix.pc; do
    grep -qx "./$f" "$d/files" || { echo "     missing $f"; failed=$((failed + 1)); }
done
if [ -f "$B/pkg/libtse_linux.so" ]; then
    for f in include/tse_tun.h lib/libtse_linux.so.3 lib/libtse_linux.a lib/pkgconfig/tse-linux.pc; do
        grep -qx "./$f" "$d/files" || { echo "     missing $f"; failed=$((failed + 1)); }
    done
fi
# the example programs and their man pages, when they were built
for prog in tse-cli tscf-server; do
    if [ -n "$(find "$B/examples" -name "$prog" -type f -perm -u+x 2>/dev/null | head -n1)" ]; then
        for f in bin/$prog share/man/man1/$prog.1; do
            grep -qx "./$f" "$d/files" || { echo "     missing $f"; failed=$((failed + 1)); }
        done
    fi
done
if readelf -d "$P/lib/libtse.so" | grep -q 'SONAME.*\[libtse\.so\.[0-9]*\]'; then ok "SONAME libtse.so.N"
else fail "SONAME"; fi

sh "$GEN" "$d" || { echo "FAIL: certificate generation"; exit 1; }
"$SERVER" --listen 127.0.0.1:0 --cert "$d/server.pem" --key "$d/server.key" \
    --ready-file "$d/ready" 2>"$d/server.log" &
spid=$!
i=0
while [ ! -s "$d/ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$d/ready" ] || { echo "FAIL: tscf-server did not start"; cat "$d/server.log"; exit 1; }
ADDR=$(head -n1 "$d/ready")
PORT=${ADDR##*:}

# run NAME BINARY: the consumer against the server
run() {
    if timeout 60 "$2" 127.0.0.1 "$PORT" "$d/ca.pem" tscf.test >"$d/log" 2>&1 &&
       grep -q '^consumer: up 198\.18\.' "$d/log" && grep -q '^consumer: closed' "$d/log"; then
        ok "$1: $(grep "^consumer: up" "$d/log")"
    else
        fail "$1"
    fi
}

# 1. find_package
for link in shared static; do
    if cmake -S "$S/test/install" -B "$d/fp-$link" -DCMAKE_PREFIX_PATH="$P" -DTSE_LINK=$link \
           -DCMAKE_C_FLAGS="$CFLAGS_X" -DCMAKE_EXE_LINKER_FLAGS="$CFLAGS_X" >"$d/log" 2>&1 &&
       cmake --build "$d/fp-$link" >>"$d/log" 2>&1; then
        ok "find_package ($link): built"
        run "find_package ($link)" "$d/fp-$link/tse-consumer"
    else
        fail "find_package ($link): build"
    fi
done
# the shared one needs libtse_posix.so.N and libtse.so.N, the static one neither
if readelf -d "$d/fp-shared/tse-consumer" 2>/dev/null | grep -q 'NEEDED.*libtse\.so\.' &&
   readelf -d "$d/fp-shared/tse-consumer" | grep -q 'NEEDED.*libtse_posix\.so\.' &&
   ! readelf -d "$d/fp-static/tse-consumer" | grep -q 'NEEDED.*libtse'; then
    ok "shared consumer needs libtse*.so, static one does not"
else
    fail "DT_NEEDED of the consumers"
fi

# 2. pkg-config
export PKG_CONFIG_PATH="$P/lib/pkgconfig"
if pc=$(pkg-config --cflags --libs tse-posix 2>"$d/log") &&
   # shellcheck disable=SC2086
   cc -std=c99 -Wall -Wextra -Werror $CFLAGS_X -o "$d/pc-consumer" "$S/test/install/consumer.c" \
       $pc -Wl,-rpath,"$P/lib" >"$d/log" 2>&1; then
    ok "pkg-config: built ($pc)"
    run "pkg-config" "$d/pc-consumer"
else
    fail "pkg-config: build"
fi
unset PKG_CONFIG_PATH

# 3. the plain source list
mkdir -p "$d/src-inc/tse"
ver=$(sed -n 's/^project(libtse VERSION \([0-9.]*\).*/\1/p' "$S/CMakeLists.txt")
maj=${ver%%.*}; rest=${ver#*.}; min=${rest%%.*}; pat=${rest#*.}
sed -e "s/@PROJECT_VERSION_MAJOR@/$maj/g" -e "s/@PROJECT_VERSION_MINOR@/$min/g" \
    -e "s/@PROJECT_VERSION_PATCH@/$pat/g" "$S/include/tse/version.h.in" >"$d/src-inc/tse/version.h"
srcs="" incs="-I$d/src-inc"
section=""
while IFS= read -r line; do
    case "$line" in
        '#'*|'') continue ;;
        '['*']') section=$line; continue ;;
    esac
    [ "$section" = "[core]" ] || [ "$section" = "[posix]" ] || continue
    case "$line" in
        "include <"*) ;;
        "include "*) incs="$incs -I$S/${line#include }" ;;
        *) srcs="$srcs $S/$line" ;;
    esac
done <"$S/cmake/sources.txt"
# every lib/*.c and port/posix/*.c is in the list
for f in "$S"/lib/*.c "$S"/port/posix/*.c; do
    [ "$f" = "$S/lib/tls_identity.c" ] && continue # fuzz builds only
    case " $srcs " in *" $f "*) ;; *) echo "     cmake/sources.txt lacks ${f#"$S"/}"; failed=$((failed + 1)) ;; esac
done
mbflags=""
if [ -n "${TSE_MB_INC:-}" ]; then
    oldifs=$IFS; IFS=:
    for i in $TSE_MB_INC; do mbflags="$mbflags -I$i"; done
    IFS=$oldifs
    mbflags="$mbflags -DMBEDTLS_CONFIG_FILE=<tse_mbedtls_config.h>"
    [ "${TSE_MB_FULL:-0}" = 1 ] && mbflags="$mbflags -DTSE_MBEDTLS_FULL"
fi
# shellcheck disable=SC2086
if cc -std=c99 -O1 -Wall -Wextra -Werror -Wno-unused-parameter $CFLAGS_X $incs $mbflags \
       -o "$d/src-consumer" "$S/test/install/consumer.c" $srcs ${TSE_MB_LIBS:-} >"$d/log" 2>&1; then
    ok "source list: built ($(echo $srcs | wc -w) files)"
    run "source list" "$d/src-consumer"
else
    fail "source list: build"
fi

[ $failed -eq 0 ] && echo "install: all passed" || echo "install: $failed failed"
[ $failed -eq 0 ]
