#!/bin/sh
# check_snippets.sh MARKDOWN CC [CFLAGS]...
# Every ```c block of MARKDOWN, in order, concatenated into one file and
# compiled (-c) with CC and CFLAGS (the include directories of the public
# headers among them) and -std=c99 -Wall -Wextra -Werror: the snippets of
# docs/integration.md must compile as printed.
set -u
MD=$1
CC=$2
shift 2
d=$(mktemp -d /tmp/tse-snippets.XXXXXX)
trap 'rm -rf "$d"' EXIT INT TERM
printf '#define _POSIX_C_SOURCE 200809L\n' >"$d/snippets.c"
awk '/^```c[ \t]*$/ { inb = 1; printf "#line %d \"%s\"\n", NR + 1, FILENAME; next }
     /^```/ { inb = 0; next }
     inb { print }' "$MD" >>"$d/snippets.c"
n=$(grep -c '^```c[ \t]*$' "$MD")
[ "$n" -ge 1 ] || { echo "FAIL: no c block in $MD"; exit 1; }
if "$CC" -std=c99 -Wall -Wextra -Werror "$@" -c -o "$d/snippets.o" "$d/snippets.c"; then
    echo "ok   $n c blocks of $(basename "$MD") compile"
else
    echo "FAIL: the c blocks of $MD do not compile"
    exit 1
fi
