#!/usr/bin/env bash
# scripts/setup.sh - get a fresh Debian 12 / Ubuntu machine ready to build rill,
# then configure and build it in build/ (or $BUILD).
#
#   ./scripts/setup.sh
#
# Idempotent and quiet when everything is there. It installs with apt-get
# (through sudo when not root) only what is missing among: g++, meson,
# ninja-build, pkg-config, python3, libfmt-dev, doctest-dev, and Boost with
# Boost.Context. Boost comes last and most carefully: Debian's 1.74 and 1.81
# -dev packages conflict, so any Boost >= 1.74 that has Context is used as it
# is; only when there is none does it install libboost-dev libboost-context-dev.
# `apt-get update` runs only when something must be installed.
#
# Environment: BUILD (build directory, default build), JOBS (ninja -j),
# MESON_OPTIONS (extra `meson setup` options for a new build directory, e.g.
# "-Db_sanitize=thread -Db_lundef=false"; .ci/run uses it for sanitizer builds).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

have() { command -v "$1" >/dev/null 2>&1; }
# A header under the usual include directories.
have_header() { [ -f "/usr/include/$1" ] || [ -f "/usr/local/include/$1" ]; }
# A library to link with (libX.so or libX.a, as the -dev packages install them;
# a runtime-only libX.so.N is not enough) under the usual library directories.
have_lib() {
  local d
  for d in /usr/lib /usr/lib/*-linux-gnu /usr/lib64 /usr/local/lib /usr/local/lib/*-linux-gnu; do
    if [ -e "$d/$1.so" ] || [ -e "$d/$1.a" ]; then return 0; fi
  done
  return 1
}

# The installed Boost's version as a number (107400 for 1.74.0), or empty.
boost_version() {
  local f
  for f in /usr/include/boost/version.hpp /usr/local/include/boost/version.hpp; do
    [ -f "$f" ] && { sed -n 's/^#define BOOST_VERSION \([0-9][0-9]*\).*/\1/p' "$f" | head -n1; return 0; }
  done
  return 0   # none: empty output (a failing status would end the script here, under set -e, with no message)
}

need=()
have g++ || need+=(g++)
have meson || need+=(meson)
have ninja || need+=(ninja-build)
have pkg-config || need+=(pkg-config)
have python3 || need+=(python3)
{ have_header fmt/format.h && have_lib libfmt; } || need+=(libfmt-dev)
have_header doctest/doctest.h || need+=(doctest-dev)

bv=$(boost_version)
if [ -n "$bv" ] && [ "$bv" -ge 107400 ] && have_lib libboost_context; then
  :  # a usable Boost is there: never touch it
elif [ -n "$bv" ] && [ "$bv" -ge 107400 ]; then
  # Boost headers without Context: add the Context package of that very version,
  # since another version's -dev packages would conflict with the installed ones.
  v="$((bv / 100000)).$((bv / 100 % 1000))"
  if dpkg-query -S /usr/include/boost/version.hpp >/dev/null 2>&1; then
    need+=("libboost-context$v-dev")
  else
    die "Boost $v (not from a Debian package) lacks Boost.Context: add it the way Boost was installed"
  fi
elif [ -n "$bv" ]; then
  die "Boost $((bv / 100000)).$((bv / 100 % 1000)) is installed, but rill needs >= 1.74 with Boost.Context; remove it or upgrade it"
else
  need+=(libboost-dev libboost-context-dev)
fi

if [ ${#need[@]} -gt 0 ]; then
  have apt-get || die "missing: ${need[*]}, and no apt-get here: install them by hand"
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    have sudo || die "missing: ${need[*]}; run this as root, or install sudo"
    sudo=(sudo)
  fi
  say "installing ${need[*]}"
  log=$(mktemp)
  if ! { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
         "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    die "apt-get failed"
  fi
  rm -f "$log"
fi

# meson_version in meson.build asks for >= 1.0 (Debian 12 has 1.0.1; Ubuntu
# 22.04's 0.61 is too old: `pip install meson` then).
mv=$(meson --version)
case "$mv" in
  0.*) die "meson $mv is too old (rill needs >= 1.0): pip3 install --user meson, or use Debian 12 / Ubuntu 24.04" ;;
esac

# Configure (or reconfigure) and build. --wrap-mode=nodownload: never the network.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if [ -f "$BUILD/meson-private/coredata.dat" ]; then   # configured: keep its options
  meson setup --reconfigure "$BUILD" --wrap-mode=nodownload >"$log" 2>&1 || { cat "$log" >&2; die "meson setup --reconfigure $BUILD failed"; }
else
  say "configuring $BUILD/"
  # shellcheck disable=SC2086
  meson setup "$BUILD" --wrap-mode=nodownload ${MESON_OPTIONS:-} >"$log" 2>&1 || { cat "$log" >&2; die "meson setup $BUILD failed"; }
fi
jflag=()
[ -n "${JOBS:-}" ] && jflag=(-j "$JOBS")
plan=$(ninja -C "$BUILD" -n "${jflag[@]}" 2>&1 || true)
if [ "${plan##*$'\n'}" != "ninja: no work to do." ]; then
  say "building in $BUILD/ (a minute or two the first time)"
  ninja -C "$BUILD" "${jflag[@]}" >"$log" 2>&1 || { cat "$log" >&2; die "the build failed (see above)"; }
fi
