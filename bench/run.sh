#!/bin/bash
# qemu-vhdx benchmark: one run, one table.
#
# Compares, on this machine and in this run: our VHDX driver (build/), the
# stock VHDX driver (Debian's qemu-img 10.0 at /usr/bin/qemu-img), qcow2 and
# raw (both with the build's qemu-img).  Every case uses `qemu-img bench`
# with cache=none and native AIO off (threads), so only the drivers differ.
# No pass/fail: it prints throughput, ratios and peak memory.
#
# Cases:
#   seq-write   1 MiB writes over a new 1 GiB image (allocating)
#   seq-read    1 MiB reads of that image
#   alloc-4k    4 KiB writes, stride 2 MiB (each allocates a new block),
#               a flush every 8 requests
#   rand-read   4 KiB reads hopping across the disk (stride 4 KiB * 65537,
#               an odd multiple, so every 4 KiB slot is visited once)
#
# Usage: bench/run.sh [--quick]   (quick: 256 MiB images, fewer requests)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OURS=$ROOT/build/qemu-build/qemu-img
STOCK=/usr/bin/qemu-img
WORK=$ROOT/build/bench
SIZE_MIB=1024
RAND_COUNT=20000
[ "${1:-}" = "--quick" ] && SIZE_MIB=256 && RAND_COUNT=5000

[ -x "$OURS" ] || { echo "bench: build first (make qemu)" >&2; exit 1; }
[ -x "$STOCK" ] || { echo "bench: $STOCK missing (make setup)" >&2; exit 1; }
mkdir -p "$WORK"
rm -f "$WORK"/*

# name binary format
CONFIGS=(
    "ours  $OURS  vhdx"
    "stock $STOCK vhdx"
    "qcow2 $OURS  qcow2"
    "raw   $OURS  raw"
)

# Runs qemu-img bench; prints "seconds peak_rss_kib"
bench() {
    local bin=$1 fmt=$2 img=$3
    shift 3
    local out
    out=$( { /usr/bin/time -f 'RSS %M' "$bin" bench -f "$fmt" -t none -i threads \
             "$@" "$img" ; } 2>&1 )
    local secs rss
    secs=$(sed -n 's/^Run completed in \([0-9.]*\) seconds\./\1/p' <<<"$out")
    rss=$(sed -n 's/^RSS \([0-9]*\)$/\1/p' <<<"$out")
    [ -n "$secs" ] || { echo "bench: $bin $fmt failed: $out" >&2; exit 1; }
    echo "$secs $rss"
}

create() {
    local bin=$1 fmt=$2 img=$3
    rm -f "$img"
    "$bin" create -q -f "$fmt" "$img" "${SIZE_MIB}M"
}

results=$WORK/results.txt
: > "$results"
seq_count=$SIZE_MIB
alloc_count=$((SIZE_MIB / 2))
for c in "${CONFIGS[@]}"; do
    read -r name bin fmt <<<"$c"
    img=$WORK/$name.img
    create "$bin" "$fmt" "$img"
    r=$(bench "$bin" "$fmt" "$img" -w -d 16 -c "$seq_count" -s 1M -S 1M)
    echo "$name seq-write $seq_count 1048576 $r" >> "$results"
    r=$(bench "$bin" "$fmt" "$img" -d 16 -c "$seq_count" -s 1M -S 1M)
    echo "$name seq-read $seq_count 1048576 $r" >> "$results"
    r=$(bench "$bin" "$fmt" "$img" -d 16 -c "$RAND_COUNT" -s 4k \
              -S $((4096 * 65537)))
    echo "$name rand-read $RAND_COUNT 4096 $r" >> "$results"
    create "$bin" "$fmt" "$img"
    r=$(bench "$bin" "$fmt" "$img" -w -d 8 -c "$alloc_count" -s 4k -S 2M \
              --flush-interval=8)
    echo "$name alloc-4k $alloc_count 4096 $r" >> "$results"
    rm -f "$img"
done

/usr/bin/python3 - "$results" "$SIZE_MIB" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    name, case, count, size, secs, rss = line.split()
    rows[(name, case)] = (int(count) * int(size) / float(secs) / 2**20,
                          int(count) / float(secs), int(rss) / 1024)
names = ["ours", "stock", "qcow2", "raw"]
cases = ["seq-write", "seq-read", "alloc-4k", "rand-read"]
print(f"qemu-vhdx benchmark, {sys.argv[2]} MiB images, cache=none, "
      "throughput in MiB/s (IOPS for 4 KiB cases)")
hdr = f"{'case':<10}" + "".join(f"{n:>10}" for n in names) + \
      f"{'ours/qcow2':>12}{'ours/stock':>12}"
print(hdr)
for c in cases:
    small = c in ("alloc-4k", "rand-read")
    vals = [rows[(n, c)][1 if small else 0] for n in names]
    line = f"{c:<10}" + "".join(f"{v:>10.0f}" if small else f"{v:>10.1f}"
                                 for v in vals)
    line += f"{vals[0] / vals[2]:>12.2f}{vals[0] / vals[1]:>12.2f}"
    print(line)
print()
print("peak RSS of qemu-img bench, MiB")
print(f"{'case':<10}" + "".join(f"{n:>10}" for n in names))
for c in cases:
    print(f"{c:<10}" + "".join(f"{rows[(n, c)][2]:>10.1f}" for n in names))
PY
