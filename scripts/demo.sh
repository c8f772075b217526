#!/usr/bin/env bash
# hako's main job on a fresh machine, offline: install the runtimes (npm), build the single
# binary, make an image from Debian's busybox-static, and run a container from it.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x node_modules/.bin/deno ] && [ -x node_modules/.bin/bun ] || npm install --no-audit --no-fund
if [ ! -x /bin/busybox ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static
fi
node_modules/.bin/deno run -A build.ts
root=${HAKO_ROOT:-/var/lib/hako}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A root filesystem: busybox and its applets, /etc/passwd and /etc/group.
mkdir -p "$work/rootfs"/{bin,etc,tmp,root,proc,sys,dev}
cp /bin/busybox "$work/rootfs/bin/busybox"
for a in sh echo cat ls id hostname ps sleep uname true mount; do ln -s busybox "$work/rootfs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$work/rootfs/etc/passwd"
printf 'root:x:0:\n' > "$work/rootfs/etc/group"
tar -C "$work/rootfs" -czf "$work/rootfs.tar.gz" .
./dist/hako --root "$root" import "$work/rootfs.tar.gz" demo:busybox >/dev/null
./dist/hako --root "$root" images
./dist/hako --root "$root" run --rm --hostname demo demo:busybox \
  sh -c 'echo "hello from a hako container: pid $$ on host $(hostname), kernel $(uname -r)"; ps'
