#!/bin/bash
# qemu-vhdx benchmark (make bench): our VHDX driver against the stock VHDX
# driver, qcow2 and raw, every case in one run, in interleaved rounds.
# bench/bench.py does the work and says what each case measures; this
# wrapper only picks Debian's python3 (stdlib only), as scripts/lib.sh does.
#
# Usage: bench/run.sh [--quick] [--reps N] [--cases a,b,...]
#   --quick  smaller images, fewer requests, 3 rounds: about 70 s idle
#   (full: 1 GiB images, 5 rounds, about 8 minutes)
# Results: printed, and kept as build/bench/bench-TIME[-quick].{txt,json}
#
# SPDX-License-Identifier: GPL-2.0-or-later
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
exec /usr/bin/python3 "$ROOT/bench/bench.py" "$@"
