#!/usr/bin/env bash
# N sequential `hako run --rm` (default 1000) with the compiled binary; fails on the first
# failed run, then compares what hako can leave on the host before and after: mounts,
# cgroup directories, processes started from this store, and its container directories.
set -euo pipefail
n=${1:-1000}
hako=${HAKO:-$(dirname "$0")/../dist/hako}
root=$(mktemp -d /tmp/hako-soak-XXXXXX)
# Bridges and NAT tables are host-wide: `network reset` removes this store's before the root goes.
trap '"$hako" --root "$root" network reset >/dev/null 2>&1; rm -rf "$root"' EXIT
work=$(mktemp -d); mkdir -p "$work/r/bin" "$work/r/etc"
cp /bin/busybox "$work/r/bin/"; ln -s busybox "$work/r/bin/true"; ln -s busybox "$work/r/bin/sh"
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/r/etc/passwd"
tar -C "$work/r" -czf "$work/r.tgz" . && "$hako" --root "$root" import "$work/r.tgz" soak:1 >/dev/null
rm -rf "$work"
count() {
  echo "mounts=$(wc -l < /proc/self/mountinfo) hako-cgroups=$(find /sys/fs/cgroup -type d -path '*/hako*' | wc -l)" \
    "procs=$(pgrep -fc "$root" || true) containers=$(ls "$root/containers" 2>/dev/null | wc -l)"
}
before=$(count)
start=$(date +%s%N)
for i in $(seq "$n"); do
  "$hako" --root "$root" run --rm soak:1 true || { echo "run $i failed"; exit 1; }
done
end=$(date +%s%N)
sleep 0.5
after=$(count)
echo "runs=$n failed=0 mean=$(( (end - start) / n / 1000 ))us"
echo "before: $before"
echo "after:  $after"
[ "$before" = "$after" ] && echo "nothing leaked" || { echo "LEAK"; exit 1; }
