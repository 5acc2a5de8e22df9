#!/usr/bin/env bash
# tests/overflow/check_overflow.sh CHILD: the child must die of SIGSEGV and
# say which coroutine overflowed which stack.
child=$1
err=$("$child" 2>&1 >/dev/null)
rc=$?
expect='rill: coroutine 2 "recursive descent" overflowed its stack of 64 KiB'
if [ "$rc" -ne 139 ] && [ "$rc" -ne $((128 + 11)) ]; then
  echo "expected death by SIGSEGV (exit 139), got exit $rc; stderr: $err"
  exit 1
fi
case $err in
  *"$expect"*) echo "ok: $expect"; exit 0 ;;
  *) echo "missing message '$expect'; stderr was: $err"; exit 1 ;;
esac
