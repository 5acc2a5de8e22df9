#!/usr/bin/env bash
# scripts/test.sh - the README's second command: build rill and run every test.
#
#   ./scripts/test.sh [meson test arguments]     e.g. --suite samples, or a test name
#
# Environment: BUILD (build directory, default build).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD

./scripts/setup.sh
exec meson test -C "$BUILD" --print-errorlogs "$@"
