#!/usr/bin/env bash
# Runs every test file under Deno and under Bun and prints one closing line
# "N passed, N failed, N skipped" summed over both runtimes. Exit status is non-zero
# when any test failed or a runtime's runner could not run.
set -u
export NO_COLOR=1
cd "$(dirname "$0")/.."
[ -x node_modules/.bin/deno ] && [ -x node_modules/.bin/bun ] || npm install --no-audit --no-fund >&2
DENO=node_modules/.bin/deno
BUN=node_modules/.bin/bun
filter=("$@")
files=$(find src ffi test bench -name '*_test.ts' | sort)
if [ ${#filter[@]} -gt 0 ]; then files=$(printf '%s\n' $files | grep -E "$(IFS='|'; echo "${filter[*]}")"); fi
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
pass=0 fail=0 skip=0 status=0

echo "== deno test"
# shellcheck disable=SC2086
$DENO test -A --no-check $files 2>&1 | tee "$log/deno"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
line=$(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$log/deno" | tail -n 1)
if [ -n "$line" ]; then
  p=$(sed -E 's/.*\| ([0-9]+) passed.*/\1/' <<<"$line"); f=$(sed -E 's/.*\| ([0-9]+) failed.*/\1/' <<<"$line")
  s=$(grep -oE '[0-9]+ ignored' <<<"$line" | grep -oE '[0-9]+' || echo 0)
  pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + ${s:-0}))
else
  echo "deno test printed no summary"; fail=$((fail + 1)); status=1
fi

echo "== bun test"
# shellcheck disable=SC2086
$BUN test $(printf './%s ' $files) 2>&1 | tee "$log/bun"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
p=$(grep -E '^ *[0-9]+ pass$' "$log/bun" | tail -n 1 | grep -oE '[0-9]+')
f=$(grep -E '^ *[0-9]+ fail$' "$log/bun" | tail -n 1 | grep -oE '[0-9]+')
s=$(grep -E '^ *[0-9]+ skip$' "$log/bun" | tail -n 1 | grep -oE '[0-9]+')
if [ -n "$p$f" ]; then
  pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0})); skip=$((skip + ${s:-0}))
else
  echo "bun test printed no summary"; fail=$((fail + 1)); status=1
fi

[ "$fail" -eq 0 ] || status=1
if [ "$skip" -gt 0 ]; then echo "$pass passed, $fail failed, $skip skipped"; else echo "$pass passed, $fail failed"; fi
exit $status
