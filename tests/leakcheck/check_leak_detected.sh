#!/usr/bin/env bash
# tests/leakcheck/check_leak_detected.sh CHILD: under ASan with detect_leaks=1
# the child must fail and LeakSanitizer must name the 4242-byte leak.
child=$1
err=$(ASAN_OPTIONS=detect_leaks=1 "$child" 2>&1 >/dev/null)
rc=$?
if [ "$rc" -eq 0 ]; then
  echo "the leak went unnoticed: LeakSanitizer is not working here, so no leak check in this build proves anything"
  exit 1
fi
case $err in
  *"LeakSanitizer: detected memory leaks"*"4242 byte(s)"*) echo "ok: LeakSanitizer reported the 4242-byte leak (exit $rc)"; exit 0 ;;
  *) echo "exit $rc without LeakSanitizer's report of 4242 bytes; stderr was: $err"; exit 1 ;;
esac
