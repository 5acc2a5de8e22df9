#!/usr/bin/env bash
# samples/chanbench/build_static.sh: a fully static, stripped chanbench for a
# bare x86-64 machine (no Boost, fmt or libstdc++ needed there), built with
# the same flags as the default build's chanbench (-O3 with LTO, assertions on:
# meson.build's lto_options), like the peers.
# `make static`.
#
#   samples/chanbench/build_static.sh bench-static     # -> bench-static/chanbench
#
# Debian ships no libfmt.a, so fmt is compiled in header-only mode.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:?usage: build_static.sh OUTDIR}
mkdir -p "$out"
boost_a=$(ls /usr/lib/x86_64-linux-gnu/libboost_context.a /usr/lib/libboost_context.a 2>/dev/null | head -1 || true)
[ -n "$boost_a" ] || { echo "build_static.sh: libboost_context.a not found (libboost-context-dev)" >&2; exit 1; }
${CXX:-g++} -std=c++20 -O3 -flto=auto -pthread -Wall -Wextra -DFMT_HEADER_ONLY -DRILL_BUILDING \
  -I"$root/include" -I"$root/samples" \
  "$root"/src/*.cpp "$here/main.cpp" \
  -static -s -o "$out/chanbench" "$boost_a"
echo "build_static.sh: $out/chanbench"
