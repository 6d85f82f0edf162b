#!/bin/sh
# The shared library's ABI is the public headers, nothing else: every symbol
# libmodnorm.so exports is an mn_ name declared in include/modnorm/*.h, and
# every function declared there is exported (a missing MN_API, or a declared
# function nobody defined, fails here rather than at a user's link time).
# The headers are globbed now, so a new one is covered without a list.
# Usage: check_exports.sh LIBMODNORM.so CC INCLUDE_DIR
set -eu
lib=$1 cc=$2 inc=$(cd "$3" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nm -D --defined-only "$lib" | awk 'NF >= 3 {print $3}' | sort -u >"$tmp/exported"
if [ ! -s "$tmp/exported" ]; then
    echo "$lib: exports nothing (nm -D failed?)" >&2
    exit 1
fi
status=0
if grep -v '^mn_' "$tmp/exported" >"$tmp/foreign"; then
    echo "$lib exports symbols without the mn_ prefix:" >&2
    sed 's/^/  /' "$tmp/foreign" >&2
    status=1
fi

for h in "$inc"/modnorm/*.h; do
    printf '#include "modnorm/%s"\n' "${h##*/}"
done >"$tmp/all.c"
"$cc" -std=c99 -I"$inc" -aux-info "$tmp/aux" -fsyntax-only "$tmp/all.c"
# Lines look like: /* /path/include/modnorm/x.h:12:NC */ extern T *name (args);
grep -F "$inc/modnorm/" "$tmp/aux" | grep -F '*/ extern ' |
    sed -E 's@^/\*[^*]*\*/ extern @@; s@^([^(]*[ *])([A-Za-z_][A-Za-z0-9_]*) \(.*@\2@' |
    sort -u >"$tmp/declared"
if [ ! -s "$tmp/declared" ]; then
    echo "found no declarations in $inc/modnorm/*.h (gcc -aux-info failed?)" >&2
    exit 1
fi
comm -23 "$tmp/declared" "$tmp/exported" >"$tmp/hidden"
if [ -s "$tmp/hidden" ]; then
    echo "declared in include/modnorm/ but not exported by $lib (MN_API missing, or not defined):" >&2
    sed 's/^/  /' "$tmp/hidden" >&2
    status=1
fi
comm -13 "$tmp/declared" "$tmp/exported" >"$tmp/extra"
if [ -s "$tmp/extra" ]; then
    echo "exported by $lib but declared in no public header (internal symbols leak):" >&2
    sed 's/^/  /' "$tmp/extra" >&2
    status=1
fi
[ $status -eq 0 ] && echo "$lib: $(wc -l <"$tmp/exported") symbols, all mn_, all declared in include/modnorm/"
exit $status
