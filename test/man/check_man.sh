#!/bin/sh
# check_man.sh PAGE PROGRAM [HELP_ARGS]...
# A man page checked against the program it documents (ctest man_*):
#  1. `man --warnings -l -E UTF-8 PAGE` prints no warning (stderr empty,
#     status 0);
#  2. every long option of `PROGRAM --help` appears as a described option
#     of PAGE (in the tag of a .TP/.TQ paragraph), so an option added to
#     the program without its man page fails;
#  3. every option PAGE describes is in the help, so a removed or renamed
#     option fails too.
# HELP_ARGS: more help texts to read, each one argument list separated by
# ';' (tse-cli: '--detect --help' for its detection mode).
# Then the same checks are run on two spoiled copies of PAGE (an undefined
# macro; the first option of the help renamed where the page describes it),
# which must both fail: the checks can fail.
set -u
PAGE=$1
PROG=$2
shift 2
d=$(mktemp -d /tmp/tse-man.XXXXXX)
trap 'rm -rf "$d"' EXIT INT TERM

# help texts -> $d/help_opts
"$PROG" --help >"$d/help" 2>&1 || { echo "FAIL: $PROG --help exited $?"; exit 1; }
for extra in "$@"; do
    # shellcheck disable=SC2086
    $PROG $extra >>"$d/help" 2>&1 || { echo "FAIL: $PROG $extra exited $?"; exit 1; }
done
grep -oE -- '--[a-z0-9][a-z0-9-]*[a-z0-9]' "$d/help" | sort -u >"$d/help_opts"
n=$(wc -l <"$d/help_opts")
[ "$n" -ge 3 ] || { echo "FAIL: only $n long options found in the help of $PROG"; exit 1; }

# check PAGE LABEL: 0 if all three checks pass, with the findings on stdout
check() {
    page=$1
    bad=0
    if ! man --warnings -l -E UTF-8 "$page" >/dev/null 2>"$d/warn" || [ -s "$d/warn" ]; then
        echo "  man --warnings:"; sed 's/^/    /' "$d/warn"
        bad=1
    fi
    # the options in the tags of .TP/.TQ paragraphs, "\-\-a\-b" -> "--a-b"
    awk '/^\.(TP|TQ)/ { tag = 1; next } tag { print; tag = 0 }' "$page" |
        grep -oE '\\-\\-([a-z0-9]|\\-)+' | sed 's/\\-/-/g' | sort -u >"$d/page_opts"
    missing=$(comm -23 "$d/help_opts" "$d/page_opts")
    extra=$(comm -13 "$d/help_opts" "$d/page_opts")
    if [ -n "$missing" ]; then
        echo "  in the help of $PROG but not described in $(basename "$page"):" $missing
        bad=1
    fi
    if [ -n "$extra" ]; then
        echo "  described in $(basename "$page") but not in the help of $PROG:" $extra
        bad=1
    fi
    return $bad
}

failed=0
if check "$PAGE"; then
    echo "ok   $(basename "$PAGE"): no warning; $n options, each in the help and the page"
else
    echo "FAIL $(basename "$PAGE")"
    failed=1
fi

# the checks must be able to fail
sed '0,/^\.SH DESCRIPTION/s//.XX undefined macro\n&/' "$PAGE" >"$d/spoil1.1"
# spoil2: the first option of the help renamed in the tags that describe it
o=$(head -n1 "$d/help_opts" | sed 's/-/\\-/g')
O="$o" perl -pe 'if ($t) { s/\Q$ENV{O}\E(?![a-z0-9]|\\-)/\\-\\-spoiled/g } $t = /^\.(TP|TQ)/' \
    "$PAGE" >"$d/spoil2.1"
for s in spoil1 spoil2; do
    if check "$d/$s.1" >"$d/$s.out"; then
        echo "FAIL the check passed a spoiled page ($s)"
        failed=1
    else
        echo "ok   a spoiled page ($s) fails:" $(cat "$d/$s.out")
    fi
done
exit $failed
