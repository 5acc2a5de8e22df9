#!/usr/bin/env bash
# tests/overflow/check_overflow.sh CHILD SIGNAL MESSAGE: the child must die of
# SIGNAL (SEGV: a guard page; ABRT: a slab stack's canary) and print MESSAGE,
# which names the coroutine that overflowed and its stack size. SIGNAL may
# instead be a number: the exit status expected (AddressSanitizer's report).
child=$1 signal=$2 expect=$3
err=$("$child" 2>&1 >/dev/null)
rc=$?
case $signal in
  [0-9]*) want=$signal ;;
  *) want=$((128 + $(kill -l "$signal"))) ;;
esac
if [ "$rc" -ne "$want" ]; then
  echo "expected exit $want ($signal), got exit $rc; stderr: $err"
  exit 1
fi
case $err in
  *"$expect"*) echo "ok: $expect"; exit 0 ;;
  *) echo "missing message '$expect'; stderr was: $err"; exit 1 ;;
esac
