#!/bin/bash
# Everything before the QEMU build: apt set-up, QEMU source, our patches,
# and the overlay of this project's files onto the source.
set -euo pipefail
dir=$(dirname "$0")
if [ "${SKIP_APT:-}" != 1 ]; then
    bash "$dir/setup-apt.sh"
fi
bash "$dir/fetch-qemu.sh"
bash "$dir/patch-qemu.sh"
bash "$dir/overlay.sh"
