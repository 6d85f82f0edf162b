#!/bin/sh
# Each public header compiles alone (it includes what it needs), twice (its
# include guard works), as C99 -pedantic and as C++11 -pedantic, with every
# warning an error. The headers are globbed now, so a new one is covered.
# Usage: check_headers.sh CC CXX INCLUDE_DIR
set -eu
cc=$1 cxx=$2 inc=$(cd "$3" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
warn="-Wall -Wextra -Werror -pedantic"
status=0 n=0
for h in "$inc"/modnorm.h "$inc"/modnorm/*.h; do
    rel=${h#"$inc"/}
    printf '#include "%s"\n#include "%s"\nint main(void) { return 0; }\n' "$rel" "$rel" >"$tmp/one.c"
    cp "$tmp/one.c" "$tmp/one.cpp"
    if ! "$cc" -std=c99 $warn -I"$inc" -c "$tmp/one.c" -o "$tmp/one.o" 2>"$tmp/err"; then
        echo "$rel: does not compile alone as C99 -pedantic:" >&2
        cat "$tmp/err" >&2
        status=1
    fi
    if ! "$cxx" -std=c++11 $warn -I"$inc" -c "$tmp/one.cpp" -o "$tmp/one.o" 2>"$tmp/err"; then
        echo "$rel: does not compile alone as C++11 -pedantic:" >&2
        cat "$tmp/err" >&2
        status=1
    fi
    n=$((n + 1))
done
[ $status -eq 0 ] && echo "$n public headers compile alone as C99 and C++11 (-pedantic -Werror)"
exit $status
