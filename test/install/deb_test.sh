#!/bin/sh
# deb_test.sh BUILD_DIR SOURCE_DIR TSCF_SERVER GEN_CERTS
# The CPack .deb: build it, `dpkg -i` it, build the out-of-tree consumer
# (test/install/consumer.c) against the installed files only (pkg-config
# and find_package without any path), run it against tscf-server, then
# `dpkg -r` and check that nothing the package listed (dpkg -L) is left on
# the filesystem (files, links, and directories that did not exist before).
# Root only (exit 77 = skipped otherwise).  Modifies the system's package
# database: ctest holds the "dpkg" resource lock, and the package is
# removed again on every exit path.  Environment: TSE_CONSUMER_CFLAGS.
set -u
B=$(cd "$1" && pwd)
S=$(cd "$2" && pwd)
SERVER=$3
GEN=$4
CFLAGS_X=${TSE_CONSUMER_CFLAGS:-}
PKG=libtse-dev
if [ "$(id -u)" != 0 ] || ! command -v dpkg >/dev/null 2>&1 || ! command -v cpack >/dev/null 2>&1; then
    echo "skip: needs root, dpkg and cpack"
    exit 77
fi
d=$(mktemp -d /tmp/tse-deb.XXXXXX)
spid=""
installed=0
# dpkg_retry ARGS...: dpkg, retried while another process holds its lock
dpkg_retry() {
    n=0
    while :; do
        if dpkg "$@" >"$d/dpkg.log" 2>&1; then return 0; fi
        if ! grep -qi 'lock' "$d/dpkg.log" || [ $n -ge 120 ]; then cat "$d/dpkg.log"; return 1; fi
        n=$((n + 1)); sleep 5
    done
}
cleanup() {
    if [ -n "$spid" ]; then
        kill "$spid" 2>/dev/null
        i=0
        while kill -0 "$spid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$spid" 2>/dev/null
        wait "$spid" 2>/dev/null
    fi
    if [ $installed = 1 ]; then dpkg_retry -P "$PKG" >/dev/null 2>&1; fi
    rm -rf "$d"
}
trap cleanup EXIT INT TERM
failed=0
ok()   { echo "ok   $1"; }
fail() { echo "FAIL $1"; [ -f "$d/log" ] && sed 's/^/     /' "$d/log" | tail -n 40; failed=$((failed + 1)); }

st=$(dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null || true)
if [ -n "$st" ] && [ "$st" != not-installed ]; then
    echo "FAIL: $PKG is already on this system ($st): not touching it"
    exit 1
fi

if cpack --config "$B/CPackConfig.cmake" -B "$d/cpack" >"$d/log" 2>&1; then ok "cpack"; else fail cpack; exit 1; fi
deb=$(ls "$d"/cpack/*.deb 2>/dev/null | head -n1)
[ -n "$deb" ] || { echo "FAIL: no .deb"; exit 1; }
echo "package: $(basename "$deb")"
dpkg-deb -I "$deb" | sed -n 's/^ \(Package\|Version\|Architecture\|Depends\|Section\):/     \1:/p'
dpkg-deb -c "$deb" | awk '{ print "     " $6 ($7 == "->" ? " -> " $8 : "") }' | grep -v '/$' >"$d/contents"
cat "$d/contents"

# the directories the package brings, and whether each exists before
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed -n 's#^\./\(.*[^/]\)/$#/\1#p' >"$d/dirs"
: >"$d/newdirs"
while IFS= read -r p; do [ -e "$p" ] || echo "$p" >>"$d/newdirs"; done <"$d/dirs"

if dpkg_retry -i "$deb"; then installed=1; ok "dpkg -i"; else fail "dpkg -i"; exit 1; fi
dpkg -L "$PKG" >"$d/listed"
for f in /usr/include/tse/tse.h /usr/include/tse_posix.h /usr/lib/libtse.so /usr/lib/libtse.a \
         /usr/lib/cmake/tse/tseConfig.cmake /usr/lib/pkgconfig/tse.pc; do
    grep -qx "$f" "$d/listed" || { echo "     dpkg -L lacks $f"; failed=$((failed + 1)); }
done

# the example programs and their man pages, when they were built: man(1)
# finds the page in the system's manual path
for prog in tse-cli tscf-server; do
    [ -n "$(find "$B/examples" -name "$prog" -type f -perm -u+x 2>/dev/null | head -n1)" ] || continue
    for f in /usr/bin/$prog /usr/share/man/man1/$prog.1; do
        grep -qx "$f" "$d/listed" || { echo "     dpkg -L lacks $f"; failed=$((failed + 1)); }
    done
    if command -v man >/dev/null 2>&1; then
        w=$(man -w "$prog" 2>/dev/null)
        if [ "$w" = "/usr/share/man/man1/$prog.1" ]; then ok "man -w $prog: $w"
        else echo "     man -w $prog: '$w'"; failed=$((failed + 1)); fi
    fi
done

sh "$GEN" "$d" || { echo "FAIL: certificate generation"; exit 1; }
"$SERVER" --listen 127.0.0.1:0 --cert "$d/server.pem" --key "$d/server.key" \
    --ready-file "$d/ready" 2>"$d/server.log" &
spid=$!
i=0
while [ ! -s "$d/ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$d/ready" ] || { echo "FAIL: tscf-server did not start"; cat "$d/server.log"; exit 1; }
ADDR=$(head -n1 "$d/ready")
PORT=${ADDR##*:}
run() {
    if timeout 60 "$2" 127.0.0.1 "$PORT" "$d/ca.pem" tscf.test >"$d/log" 2>&1 &&
       grep -q '^consumer: up 198\.18\.' "$d/log" && grep -q '^consumer: closed' "$d/log"; then
        ok "$1: $(grep '^consumer: up' "$d/log")"
    else
        fail "$1"
    fi
}

# the system's pkg-config and CMake search paths only
if pc=$(env -u PKG_CONFIG_PATH pkg-config --cflags --libs tse-posix 2>"$d/log") &&
   # shellcheck disable=SC2086
   cc -std=c99 -Wall -Wextra -Werror $CFLAGS_X -o "$d/pc-consumer" "$S/test/install/consumer.c" \
       $pc >"$d/log" 2>&1; then
    ok "pkg-config (installed .deb): built ($pc)"
    run "pkg-config (installed .deb)" "$d/pc-consumer"
else
    fail "pkg-config (installed .deb): build"
fi
if env -u CMAKE_PREFIX_PATH cmake -S "$S/test/install" -B "$d/fp" -DCMAKE_C_FLAGS="$CFLAGS_X" \
       -DCMAKE_EXE_LINKER_FLAGS="$CFLAGS_X" >"$d/log" 2>&1 &&
   cmake --build "$d/fp" >>"$d/log" 2>&1; then
    ok "find_package (installed .deb): built"
    run "find_package (installed .deb)" "$d/fp/tse-consumer"
else
    fail "find_package (installed .deb): build"
fi

if dpkg_retry -r "$PKG"; then installed=0; ok "dpkg -r"; else fail "dpkg -r"; fi
# CPack's postrm (ldconfig) keeps the package in "config-files" state after
# -r; it has no conffiles, so purging it only drops the database entry.
st=$(dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null || true)
cf=$(dpkg-query -W -f='${Conffiles}' "$PKG" 2>/dev/null || true)
if [ -n "$cf" ]; then fail "$PKG has conffiles: $cf"; fi
if [ "$st" = config-files ]; then
    if dpkg_retry -P "$PKG"; then ok "dpkg -P (no conffiles: database entry only)"; else fail "dpkg -P"; fi
    st=$(dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null || true)
fi
if [ -z "$st" ] || [ "$st" = not-installed ]; then ok "dpkg: $PKG not installed"; else fail "dpkg status after -r: $st"; fi
left=0
while IFS= read -r p; do
    [ "$p" = "/." ] && continue
    if [ -d "$p" ] && [ ! -L "$p" ]; then
        if grep -qx "$p" "$d/newdirs"; then echo "     left behind: $p/"; left=$((left + 1)); fi
    elif [ -e "$p" ] || [ -L "$p" ]; then
        echo "     left behind: $p"; left=$((left + 1))
    fi
done <"$d/listed"
if ldconfig -p | grep -q 'libtse'; then echo "     ld.so cache still lists libtse"; left=$((left + 1)); fi
if [ $left -eq 0 ]; then ok "nothing left behind ($(grep -c . "$d/listed") paths checked)"
else fail "$left paths left behind"; fi

[ $failed -eq 0 ] && echo "deb: all passed" || echo "deb: $failed failed"
[ $failed -eq 0 ]
