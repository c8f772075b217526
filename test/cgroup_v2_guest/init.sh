#!/bin/sh
# /init of the cgroup v2 test guest: cgroup2 mounted alone at /sys/fs/cgroup, hako's compiled
# binary at /bin/hako, a busybox image at /bb.tar.gz. Runs the limit checks and prints one
# "HAKO-RESULT <key> <value>" line per figure on the serial console; the test parses them.
export PATH=/bin HOME=/root
if [ "$1" != stage2 ]; then
  # pivot_root(2) refuses the initramfs (rootfs) as the old root: move to a tmpfs first.
  mkdir /newroot
  mount -t tmpfs -o size=90% tmpfs /newroot
  for f in /*; do
    case "$f" in /newroot | /dev | /proc | /sys) ;; *) cp -a "$f" /newroot/ ;; esac
  done
  mkdir -p /newroot/dev /newroot/proc /newroot/sys
  exec switch_root /newroot /init stage2
fi
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mkdir -p /var/lib/hako /root
mount -t cgroup2 cgroup2 /sys/fs/cgroup
for m in /lib/modules/*.ko; do
  case "$m" in */brd.ko) insmod "$m" rd_nr=1 rd_size=65536 ;; *) insmod "$m" ;; esac
done
# hako's store on ext4 on a RAM disk: a real block device, so the io controller counts writes.
zcat /store.ext4.gz >/dev/ram0 && rm /store.ext4.gz
mount -t ext4 /dev/ram0 /var/lib/hako

r() { echo "HAKO-RESULT $*"; }
# Seconds since boot, 2 decimals, and a cgroup file's keyed value.
now() { cut -d' ' -f1 /proc/uptime; }
key() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }
cg() { echo "/sys/fs/cgroup/hako/$(hako inspect -f '{{.Id}}' "$1")"; }
# Bytes written according to io.stat, summed over devices.
wbytes() { tr ' ' '\n' <"$1/io.stat" | awk -F= '$1 == "wbytes" { n += $2 } END { print n + 0 }'; }

r kernel "$(uname -r)"
r mounts "$(grep cgroup /proc/mounts | tr '\n' ';')"
r controllers "$(cat /sys/fs/cgroup/cgroup.controllers)"
r boot "$(now)"
hako import /bb.tar.gz bb:1 >/dev/null 2>/tmp/err || r error "import: $(cat /tmp/err)"
r imported "$(now)"

# 1. A 32 MiB limit and a process that allocates 64 MiB.
hako run --name oom --network none --memory 32m bb:1 dd if=/dev/zero of=/dev/null bs=64M count=1 \
  2>/tmp/err
r oom.exit $?
r oom.killed "$(hako inspect -f '{{.State.OOMKilled}}' oom)"
r oom.memory "$(hako inspect -f '{{.HostConfig.Memory}}' oom)"
hako rm oom >/dev/null

# 2. A fork bomb under --pids-limit 50 (the init forks one launcher, then execs a sleep, so it
# outlives the bomb however fast the loops fill the limit).
hako run -d --name bomb --network none --pids-limit 50 bb:1 sh -c \
  '(for i in 1 2 3 4 5 6 7 8; do (while :; do sleep 1000 & done) & done) 2>/dev/null & exec sleep 1000' \
  >/dev/null 2>/tmp/err || r error "bomb: $(cat /tmp/err)"
d=$(cg bomb)
last=-1
for i in $(seq 1 600); do
  cur=$(cat "$d/pids.current")
  [ "$(key "$d/pids.events" max)" -gt 0 ] && [ "$cur" = "$last" ] && break
  last=$cur
  sleep 0.5
done
r bomb.max "$(cat "$d/pids.max")"
r bomb.current "$(cat "$d/pids.current")"
r bomb.refused "$(key "$d/pids.events" max)"
t0=$(now)
hako ps --format '{{.Names}}' >/tmp/ps 2>&1
r bomb.ps "$(cat /tmp/ps | tr '\n' ' ')"
r bomb.ps_seconds "$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')"
hako rm -f bomb >/dev/null
r bomb.cgroup_left "$([ -d "$d" ] && echo yes || echo no)"

# 3. A busy loop under --cpus 0.5, measured from cpu.stat over 10 s of guest time.
hako run -d --name busy --network none --cpus 0.5 bb:1 sh -c 'while :; do :; done' >/dev/null
d=$(cg busy)
r cpu.max "$(cat "$d/cpu.max")"
sleep 1
u0=$(key "$d/cpu.stat" usage_usec) n0=$(key "$d/cpu.stat" nr_periods)
h0=$(key "$d/cpu.stat" nr_throttled) t0=$(now)
sleep 10
u1=$(key "$d/cpu.stat" usage_usec) n1=$(key "$d/cpu.stat" nr_periods)
h1=$(key "$d/cpu.stat" nr_throttled) t1=$(now)
r cpu.percent "$(awk -v u="$((u1 - u0))" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", u / ((b - a) * 1e6) * 100 }')"
r cpu.seconds "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
r cpu.throttled "$((h1 - h0)) of $((n1 - n0))"

# 4. hako stats against the kernel's counters of the same container.
u0=$(key "$d/cpu.stat" usage_usec) t0=$(now)
hako stats --no-stream --format json busy >/tmp/stats 2>&1
u1=$(key "$d/cpu.stat" usage_usec) t1=$(now)
r stats.json "$(cat /tmp/stats)"
r stats.kernel_cpu_percent "$(awk -v u="$((u1 - u0))" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", u / ((b - a) * 1e6) * 100 }')"
r stats.kernel_pids "$(cat "$d/pids.current")"
r stats.kernel_memory "$(($(cat "$d/memory.current") - $(key "$d/memory.stat" inactive_file)))"
r stats.kernel_memory_max "$(cat "$d/memory.max")"

# 4b. Block I/O: 8 MiB written and synced to the store's disk, against io.stat.
hako run -d --name io --network none bb:1 sh -c \
  'dd if=/dev/zero of=/tmp/f bs=1M count=8 conv=fsync 2>/dev/null; sleep 1000; :' >/dev/null
i=$(cg io)
for n in $(seq 1 100); do
  [ "$(wbytes "$i")" -ge 8388608 ] 2>/dev/null && break
  sleep 0.2
done
r io.kernel_before "$(wbytes "$i")"
hako stats --no-stream --format '{{.BlockIO}}' io >/tmp/stats 2>&1
r io.stats "$(cat /tmp/stats)"
r io.kernel_after "$(wbytes "$i")"
hako rm -f io >/dev/null

# 5. update of the running container: memory.max, cpu.max and pids.max change.
hako update --memory 64m --cpus 1 --pids-limit 20 busy >/dev/null 2>/tmp/err || r error "update: $(cat /tmp/err)"
r update.memory_max "$(cat "$d/memory.max")"
r update.cpu_max "$(cat "$d/cpu.max")"
r update.pids_max "$(cat "$d/pids.max")"
r update.inspect "$(hako inspect -f '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}' busy)"
hako rm -f busy >/dev/null

# Nothing may be left behind.
r leftover_cgroups "$(find /sys/fs/cgroup/hako -mindepth 1 -type d 2>/dev/null | tr "\n" " ")"
r leftover_containers "$(hako ps -aq | tr '\n' ' ')"
r done "$(now)"
poweroff -f
