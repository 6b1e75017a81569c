#!/bin/bash
# Runs every tests/integration/test_*.sh (or the ones named as arguments), each
# under a time limit, streams their output, and ends with the line
# "N passed, N failed" (", N skipped" when tests were skipped), counted from the
# PASS:/FAIL:/SKIP: lines. A test that exits non-zero without printing a FAIL
# line (crash, timeout) counts as one failure. Exits 1 when anything failed.
# Env: T_TIMEOUT (seconds per test file, default 600), VXMESH_BIN, LAB_KEEP.
set -u
DIR=$(cd "$(dirname "$0")" && pwd)
T_TIMEOUT=${T_TIMEOUT:-600}
if [ $# -gt 0 ]; then
    tests=("$@")
else
    # Cheap lab checks first, then the vxmesh tests.
    tests=()
    for t in test_lab_selftest.sh test_cleanup.sh; do [ -x "$DIR/$t" ] && tests+=("$DIR/$t"); done
    for t in "$DIR"/test_*.sh; do
        case $(basename "$t") in test_lab_selftest.sh | test_cleanup.sh) continue ;; esac
        tests+=("$t")
    done
fi
if [ "$(id -u)" != 0 ]; then
    echo "FAIL: integration: needs root (network namespaces)"
    echo "0 passed, 1 failed"
    exit 1
fi

passed=0 failed=0 skipped=0
summary=()
child=
trap '[ -n "$child" ] && kill -TERM "$child" 2>/dev/null && wait "$child"; rm -f "${fifo:-}" "${log:-}"; echo "FAIL: integration: interrupted"; echo "$passed passed, $((failed + 1)) failed"; exit 130' INT TERM
for t in "${tests[@]}"; do
    [ -f "$t" ] || t=$DIR/$t
    name=$(basename "$t" .sh)
    log=$(mktemp /tmp/vxmesh-it-"$name".XXXXXX)
    fifo=$log.fifo
    mkfifo "$fifo"
    echo "##### $name"
    start=$(date +%s)
    tee "$log" <"$fifo" &
    teepid=$!
    # timeout sends SIGTERM (the test's traps clean its lab up), SIGKILL 20 s later.
    timeout -k 20 "$T_TIMEOUT" bash "$t" >"$fifo" 2>&1 &
    child=$!
    wait "$child"
    rc=$?
    child=
    # tee ends when every writer has closed the fifo; do not hang on a stray one.
    for ((i = 0; i < 100; i++)); do kill -0 "$teepid" 2>/dev/null || break; sleep 0.1; done
    kill "$teepid" 2>/dev/null
    wait "$teepid" 2>/dev/null
    rm -f "$fifo"
    p=$(grep -c '^PASS: ' "$log")
    f=$(grep -c '^FAIL: ' "$log")
    s=$(grep -c '^SKIP: ' "$log")
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
        if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
            echo "FAIL: $name: timed out after ${T_TIMEOUT}s"
        else
            echo "FAIL: $name: exited $rc without a FAIL line"
        fi
        f=1
    fi
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
    summary+=("$(printf '%-22s %3d passed %3d failed %3d skipped  %4ds  exit %d' "$name" "$p" "$f" "$s" $(($(date +%s) - start)) "$rc")")
    rm -f "$log"
done
echo "##### summary"
printf '%s\n' "${summary[@]}"
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" = 0 ]
