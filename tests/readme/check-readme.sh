#!/bin/bash
# Runs the commands of README's "Hyper-V checkpoints on QEMU" block as
# written, on a chain made here (disk.vhdx <- disk_A.avhdx <-
# disk_B.avhdx, each with data), in a scratch directory.  The VM command
# gets -S -display none added (there is no guest to boot; a paused VM
# runs block jobs all the same) and is started in the background; after
# the first command that talks to it over QMP, it is shut down, as the
# README's "with the VM off" says.  Then the qcow2 and raw images must
# read as the chain did, and disk.vhdx must check clean.
# Writes "P F S" to build/logs/results/readme (one count per command and
# per final check).
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"

Q=$QEMU_BUILD
export Q
result=$LOGS/results/readme
LOG=$LOGS/readme.log
WORK=$BUILD/readme
QMP=/tmp/vm.qmp
mkdir -p "$LOGS/results"
rm -rf "$WORK" "$QMP"
mkdir -p "$WORK"
: > "$LOG"
p=0 f=0 failures=() vm=

# The block after the marker comment, continuation lines joined
commands() {
    awk '/tests\/readme\/check-readme.sh/ { marked = 1; next }
         marked && /^```sh/ { inside = 1; next }
         inside && /^```/ { exit }
         inside' "$ROOT/README.md" |
        sed -e ':a' -e '/\\$/N; s/\\\n *//; ta' | grep -v '^#' | grep .
}

count() {       # count WHAT STATUS
    if [ "$2" = 0 ]; then
        p=$((p + 1))
    else
        f=$((f + 1)) failures+=("$1")
        printf 'FAIL: %s\n' "$1" >> "$LOG"
    fi
}

stop_vm() {
    [ -n "$vm" ] || return 0
    printf '%s\n' '{"execute":"qmp_capabilities"}' '{"execute":"quit"}' |
        socat - "UNIX-CONNECT:$QMP" >> "$LOG" 2>&1 || true
    wait "$vm" || true
    vm=
}
trap stop_vm EXIT

make_chain() {
    "$Q/qemu-img" create -q -f vhdx disk.vhdx 64M
    "$Q/qemu-io" -c 'write -P 0x11 0 8M' disk.vhdx
    "$Q/qemu-img" create -q -f vhdx -b disk.vhdx -F vhdx disk_A.avhdx
    "$Q/qemu-io" -c 'write -P 0x22 4M 4M' -c 'write -P 0x23 30M 64k' \
        disk_A.avhdx
    "$Q/qemu-img" create -q -f vhdx -b disk_A.avhdx -F vhdx disk_B.avhdx
    "$Q/qemu-io" -c 'write -P 0x33 6M 1M' -c 'write -z 0 512k' disk_B.avhdx
    "$Q/qemu-img" convert -O raw disk_B.avhdx chain.raw
}

say "readme: the commands of README's Hyper-V block (log: ${LOG#$ROOT/})"
cd "$WORK"
make_chain >> "$LOG" 2>&1
n=0
while IFS= read -r cmd; do
    n=$((n + 1))
    printf '$ %s\n' "$cmd" >> "$LOG"
    case $cmd in
    *qemu-system-x86_64*)
        eval "$cmd -S -display none" >> "$LOG" 2>&1 &
        vm=$!
        for _ in $(seq 200); do
            [ -S "$QMP" ] && break
            kill -0 "$vm" 2>/dev/null || break
            sleep 0.05
        done
        [ -S "$QMP" ]; count "$cmd" $?
        ;;
    *)
        rc=0
        eval "$cmd" >> "$LOG" 2>&1 < /dev/null || rc=$?
        count "$cmd" $rc
        case $cmd in *--qmp*) stop_vm ;; esac
        ;;
    esac
done < <(commands)
[ $n -ge 8 ] || count "README block has $n commands, expected 8 or more" 1

for img in disk.qcow2 disk.raw; do
    rc=0
    "$Q/qemu-img" compare chain.raw "$img" >> "$LOG" 2>&1 || rc=$?
    count "$img reads as the chain did" $rc
done
rc=0
"$Q/qemu-img" check disk.vhdx >> "$LOG" 2>&1 || rc=$?
count "disk.vhdx checks clean" $rc

{ echo "$p $f 0"; printf '%s\n' "${failures[@]+"${failures[@]}"}" | grep . || true; } > "$result"
say "readme: $p passed, $f failed"
[ "$f" = 0 ] || exit 1
