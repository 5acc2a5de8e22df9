#!/usr/bin/env bash
# scripts/wordcount.sh - the README's first command: build rill, make a corpus
# if there is none, count its words with the wordcount sample.
#
#   ./scripts/wordcount.sh [wordcount options]      e.g. --threads 2 --top 20
#
# Environment: CORPUS (the file to count; default corpus/words-${CORPUS_MB}MiB.txt,
# generated when missing), CORPUS_MB (default 64), BUILD (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD

./scripts/setup.sh

mb=${CORPUS_MB:-64}
corpus=${CORPUS:-corpus/words-${mb}MiB.txt}
if [ ! -e "$corpus" ]; then
  mkdir -p "$(dirname "$corpus")"
  echo "wordcount.sh: generating $corpus ($mb MiB, seeded, the same bytes every time)" >&2
  "$BUILD/samples/wordcount/gen_corpus" "$corpus" "$mb"
fi
exec "$BUILD/samples/wordcount/wordcount" "$@" "$corpus"
