#!/usr/bin/env bash
# test-v2.sh: the cgroup and container specs on a pure cgroup v2 kernel.
# This host is hybrid (v1 controllers, an empty v2 tree), so the v2 paths
# with real controllers (cpu.max, memory.max, pids.max, io, the v2 stats
# files, cgroup.subtree_control) run here, in Debian's user-mode-linux: a
# 6.1 kernel that is an ordinary process, booted with the host's / as its
# root (hostfs, read-only). See linux.uml(1) and the kernel's
# Documentation/virt/uml/user_mode_linux_howto_v2.rst.
#
#   scripts/test-v2.sh                 the specs below (V2_RUNS)
#   scripts/test-v2.sh BUSTED-ARGS...  one busted run with these instead
#
# The same file is the guest's init (it knows by being PID 1): it mounts
# proc, sysfs, cgroup2 on /sys/fs/cgroup with +cpu +io +memory +pids in the
# root's subtree_control, devpts, and private tmpfs on /tmp, /run and
# /dev/shm, loads the overlay module, runs busted, and powers off. The
# guest's /dev/tty1 (con1) is fd 3 of linux.uml, a file here: the results.
# Its console (the kernel log) is another file, shown when no result came.
# The output ends with "v2: N passed, N failed[, N skipped]"; a guest that
# did not come up or stopped early counts as a failure.
#
# The host's files stay as they were: the guest's root is read-only, and
# linux.uml's own files (its memory in $TMPDIR, its uml_dir) go in temp dirs
# removed at exit. It runs in a pid namespace of its own whose init is
# timeout(1): when that ends, at the deadline, on Ctrl-C or with the guest,
# the kernel ends every process of linux.uml before unshare(1) returns.
set -uo pipefail

# The busted runs: the specs that create groups with limits (and the
# lifecycle's that read, freeze and thaw them; and a user's, in a subtree
# delegated to it). Each string is split on spaces into busted's
# arguments (a pattern says %s for a space).
V2_RUNS=(
  "spec/cgroup_spec.lua spec/container_spec.lua spec/escape_spec.lua"
  "spec/rootless_cgroup_spec.lua"
  "--filter=^examples%scgroups%s spec/examples_spec.lua"
  "--filter=pause --filter=stats%s%-%-no%-stream spec/lifecycle_spec.lua"
  "spec/oci_runtime_spec.lua"
)

UML=${UML:-/usr/bin/linux.uml}
V2_MEM=${V2_MEM:-1024M}
V2_TIMEOUT=${V2_TIMEOUT:-600}

# Guest ---------------------------------------------------------------------

# Runs as PID 1 in the guest; V2_WORK, V2_TREE and V2_MODULES come from the
# kernel command line. Never returns: init exiting panics the kernel.
guest() {
  export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  export HOME=/root LANG=C.UTF-8
  exec 3>/dev/tty1 </dev/null
  stty -opost <&3 2>/dev/null
  say() { printf '%s\n' "$*" >&3; }
  # Before /tmp, where $V2_WORK is, becomes the guest's own.
  local busted runs run
  if [ -s "$V2_WORK/args" ]; then
    mapfile -t run <"$V2_WORK/args"
    runs=("${run[*]}")
  else
    runs=("${V2_RUNS[@]}")
  fi
  off() {
    sync
    busybox poweroff -f
    echo o >/proc/sysrq-trigger
    sleep 60
  }
  must() { "$@" || { say "@@v2 setup failed: $*"; off; }; }
  must mount -t proc proc /proc
  must mount -t sysfs sysfs /sys
  # As systemd mounts it on a pure v2 host.
  must mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup
  must sh -c 'echo "+cpu +io +memory +pids" >/sys/fs/cgroup/cgroup.subtree_control'
  # CONFIG_DEVTMPFS_MOUNT put a devtmpfs on /dev before init.
  mountpoint -q /dev || must mount -t devtmpfs devtmpfs /dev
  mkdir -p /dev/pts /dev/shm
  must mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
  # The tree may lie below one of the tmpfs mounts to come (a clone in
  # /tmp): hold it open, and bind it back at its path if they hide it.
  exec 9<"$V2_TREE" || { say "@@v2 setup failed: open $V2_TREE"; off; }
  must mount -t tmpfs -o mode=1777 tmpfs /dev/shm
  must mount -t tmpfs -o mode=1777 tmpfs /tmp
  must mount -t tmpfs -o mode=0755 tmpfs /run
  if [ ! -f "$V2_TREE/scripts/test-v2.sh" ]; then
    must mkdir -p "$V2_TREE"
    # -c: mount(8) would otherwise resolve the fd's link to the path,
    # which now names the empty directory just made.
    must mount -c --bind /proc/self/fd/9 "$V2_TREE"
  fi
  exec 9<&-
  if ! grep -qw overlay /proc/filesystems; then
    must busybox insmod "$V2_MODULES/kernel/fs/overlayfs/overlay.ko"
  fi
  say "@@v2 up $(cut -d' ' -f1 /proc/uptime) $(uname -r) $(cat /sys/fs/cgroup/cgroup.subtree_control)"
  cd "$V2_TREE" || { say "@@v2 setup failed: cd $V2_TREE"; off; }
  # What the specs expect of this machine (spec/support/helper.lua).
  export LUACTR_SPEC_LAYOUT=v2
  [ -z "${V2_DEBUG:-}" ] || export LUACTR_DEBUG=1
  busted=$(command -v busted)
  for run in "${runs[@]}"; do
    say "@@v2 run $run"
    # Its stdout a pipe, as under CI; word splitting is the point here.
    # shellcheck disable=SC2086
    lua5.4 "$busted" --lua=lua5.4 -o spec/support/summary.lua $run 2>&1 | cat >&3
    say "@@v2 rc ${PIPESTATUS[0]}"
  done
  say "@@v2 done $(cut -d' ' -f1 /proc/uptime)"
  off
}

if [ $$ = 1 ] && [ -n "${V2_WORK:-}" ]; then guest; fi

# Host ----------------------------------------------------------------------

cd "$(dirname "$0")/.." || exit 1
self=$PWD/scripts/test-v2.sh

# One failure and the closing line; for a run that could not start.
give_up() {
  echo "v2: $*" >&2
  echo "v2: 0 passed, 1 failed"
  exit 1
}

[ "$(id -u)" = 0 ] || give_up "needs root (the specs make namespaces, mounts and cgroups)"
[ -x "$UML" ] || give_up "no $UML: apt-get install user-mode-linux (make test-v2 does)"
kver=$("$UML" --version 2>/dev/null)
modules=/usr/lib/uml/modules/$kver
[ -f "$modules/kernel/fs/overlayfs/overlay.ko" ] || give_up "no overlay module in $modules"
command -v busted >/dev/null || give_up "no busted: apt-get install lua-busted"
command -v busybox >/dev/null || give_up "no busybox: apt-get install busybox-static"
[ -d /var/lib/luactr/images/busybox/rootfs ] || give_up "no busybox image: make rootfs first"

work=$(mktemp -d /tmp/uml-v2.XXXXXX) || give_up "mktemp failed"
# linux.uml's memory is a file in $TMPDIR: on tmpfs it never hits the disk.
if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] && mem=$(mktemp -d /dev/shm/uml-v2-mem.XXXXXX); then :; else
  mem=$work/mem
  mkdir "$mem"
fi
uml_pid='' show_pid=''
cleanup() {
  if [ -n "$uml_pid" ] && kill -0 "$uml_pid" 2>/dev/null; then
    # unshare's child is the namespace's init: ending it ends the rest.
    local init=''
    read -r init _ <"/proc/$uml_pid/task/$uml_pid/children" 2>/dev/null
    kill -KILL "${init:-$uml_pid}" 2>/dev/null
    wait "$uml_pid" 2>/dev/null
  fi
  # tail --pid follows linux.uml and ends with it.
  [ -z "$show_pid" ] || wait "$show_pid" 2>/dev/null
  rm -rf "$work" "$mem"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

[ $# -eq 0 ] || printf '%s\n' "$@" >"$work/args"
: >"$work/results"

t0=$EPOCHREALTIME
# con0 (the console) and linux.uml's own messages: $work/console; con1 (the
# guest's /dev/tty1): $work/results; no other channel (ssl=null con=null:
# no host ptys). uml_dir keeps its pid file and mconsole socket in $work.
# SIGKILL, as linux.uml takes SIGTERM for a shutdown that a hung guest never
# finishes.
TMPDIR=$mem unshare --fork --pid --kill-child timeout -s KILL "$V2_TIMEOUT" \
  "$UML" mem="$V2_MEM" rootfstype=hostfs rootflags=/ ro init="$self" \
  con0=null,fd:2 con1=null,fd:3 con=null ssl=null loglevel=4 \
  uml_dir="$work" umid=v2 \
  V2_WORK="$work" V2_TREE="$PWD" V2_MODULES="$modules" ${LUACTR_DEBUG:+V2_DEBUG=1} \
  </dev/null >"$work/console" 2>&1 3>"$work/results" &
uml_pid=$!

# Show the results as they come, without the runs' own closing lines (the
# v2 line below sums them) and with the markers turned into notes.
show() {
  local line
  while IFS= read -r line; do
    line=${line%$'\r'}
    case $line in
      "@@v2 up "*)
        read -r _ _ up rel ctrls <<<"$line"
        printf 'v2: kernel %s up in %.1f s (%.1f s of it the guest kernel), cgroup2 subtree_control: %s\n' \
          "$rel" "$(minus "$EPOCHREALTIME" "$t0")" "$up" "$ctrls"
        printf '%s\n' "$(minus "$EPOCHREALTIME" "$t0")" >"$work/boot" ;;
      "@@v2 run "*) echo "v2: busted ${line#@@v2 run }" ;;
      "@@v2 "*) ;;
      *) [[ $line =~ ^[0-9]+\ passed,\ [0-9]+\ failed ]] || printf '%s\n' "$line" ;;
    esac
  done
}
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }

# In the background: the wait builtin, unlike a foreground pipeline, lets
# the traps run at once.
tail -n +1 -s 0.2 -f --pid="$uml_pid" "$work/results" | show &
show_pid=$!
wait "$show_pid"
show_pid=
wait "$uml_pid"
uml_rc=$?
uml_pid=
t1=$EPOCHREALTIME

# Tally the results file.
passed=0 failed=0 skipped=0 up=0 done=0 started=0 summaries=0 bad_rc=0
while IFS= read -r line; do
  line=${line%$'\r'}
  if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ ([0-9]+)\ skipped)?$ ]]; then
    summaries=$((summaries + 1))
    passed=$((passed + BASH_REMATCH[1]))
    failed=$((failed + BASH_REMATCH[2]))
    skipped=$((skipped + ${BASH_REMATCH[4]:-0}))
    last_failed=${BASH_REMATCH[2]}
  fi
  case $line in
    "@@v2 up "*) up=1 ;;
    "@@v2 run "*) started=$((started + 1)); last_failed='' ;;
    "@@v2 rc "*)
      rc=${line#@@v2 rc }
      # busted exits non-zero on failures; one that did so with none
      # counted died past its summary.
      if [ "$rc" != 0 ] && [ "${last_failed:-0}" = 0 ]; then
        echo "v2: busted exited $rc after a run with no failure counted"
        bad_rc=$((bad_rc + 1))
      fi ;;
    "@@v2 done "*) done=1 ;;
    "@@v2 setup failed: "*) echo "v2: FAIL guest set-up: ${line#@@v2 setup failed: }" ;;
  esac
done <"$work/results"
failed=$((failed + bad_rc))

console_tail() {
  local why=
  [ "$(minus "$t1" "$t0" | cut -d. -f1)" -lt "$V2_TIMEOUT" ] || why=" (timed out after $V2_TIMEOUT s)"
  echo "v2: linux.uml exited $uml_rc$why; the end of its console:"
  tail -n 25 "$work/console" | tr -d '\r' | sed 's/^/v2:   /'
}
if [ "$up" = 0 ]; then
  echo "v2: FAIL the UML kernel did not come up"
  console_tail
  failed=$((failed + 1))
elif [ "$done" = 0 ] || [ "$summaries" -lt "$started" ]; then
  echo "v2: FAIL the guest stopped before the end ($summaries of $started busted runs gave a result)"
  console_tail
  failed=$((failed + 1))
fi

boot=$(cat "$work/boot" 2>/dev/null || echo "?")
echo "v2: $(minus "$t1" "$t0") s in all, boot $boot s"
line="v2: $passed passed, $failed failed"
[ "$skipped" = 0 ] || line="$line, $skipped skipped"
echo "$line"
[ "$failed" = 0 ]
