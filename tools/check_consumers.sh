#!/usr/bin/env bash
# tools/check_consumers.sh SOURCE_ROOT: proves that other projects can use rill
#  1. `meson install` into a temporary prefix, then a program built with
#     `pkg-config --cflags --libs rill` against the installed shared library;
#  2. a meson project that has rill as a subproject (dependency('rill')).
# Each program runs a coroutine that sends 42 over a channel and checks it.
set -eu
src=$(cd "${1:-$(dirname "$0")/..}" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== meson install + pkg-config"
meson setup "$tmp/build" "$src" -Dtests=false -Dsamples=false --prefix="$tmp/prefix" --wrap-mode=nodownload >/dev/null
ninja -C "$tmp/build" >/dev/null
meson install -C "$tmp/build" >/dev/null
pc=$(dirname "$(find "$tmp/prefix" -name rill.pc | head -n1)")
libdir=$(PKG_CONFIG_PATH=$pc pkg-config --variable=libdir rill)
# shellcheck disable=SC2046
${CXX:-c++} -std=c++20 "$src/tools/consumer/main.cpp" $(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs rill) \
    -Wl,-rpath,"$libdir" -o "$tmp/consumer-pc"
[ "$("$tmp/consumer-pc")" = 42 ] && echo "pkg-config consumer: ok"

echo "== meson subproject"
mkdir -p "$tmp/sub/subprojects"
cp "$src/tools/consumer/meson.build" "$src/tools/consumer/main.cpp" "$tmp/sub/"
# the source tree without build directories, as a subproject would ship it
mkdir -p "$tmp/sub/subprojects/rill"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$src" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$tmp/sub/subprojects/rill"
else
    tar -C "$src" --exclude='./build*' --exclude='./corpus' -cf - . | tar -xf - -C "$tmp/sub/subprojects/rill"
fi
meson setup "$tmp/sub/build" "$tmp/sub" --force-fallback-for=rill >/dev/null
ninja -C "$tmp/sub/build" >/dev/null
[ "$("$tmp/sub/build/consumer")" = 42 ] && echo "subproject consumer: ok"
