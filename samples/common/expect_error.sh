#!/bin/sh
# samples/pipeline/expect_error.sh WANT PROGRAM [ARGS...]: the samples' bad-input
# test. Passes when PROGRAM ARGS exits with a non-zero status (not a crash:
# below 128) and its stderr contains WANT.
want=$1
shift
err=$("$@" 2>&1 >/dev/null)
rc=$?
if [ "$rc" -eq 0 ] || [ "$rc" -ge 128 ]; then
    echo "FAIL: '$*' exited with status $rc, wanted an error exit (1..127)"
    echo "$err"
    exit 1
fi
case $err in
*"$want"*) echo "ok: '$*' -> status $rc: $(echo "$err" | head -n 1)" ;;
*) echo "FAIL: '$*' -> status $rc, but stderr lacks '$want':"; echo "$err"; exit 1 ;;
esac
