# qemu-vhdx: thin wrappers around scripts/.  Run as root on Debian 12.
#   make demo    build QEMU with our VHDX driver and show it at work
#   make check   build everything and run all tests (ends "N passed, M failed")
#   make bench   compare our driver with the stock one, qcow2 and raw
#   make crash   the power-loss simulation, every state (over 20,000)
#   make fuzz    libFuzzer on the format core, FUZZ_SECONDS per harness
.PHONY: all demo check check-sanitize bench crash setup source qemu unit unit-asan tools-tests iotests fuzz clean distclean

all: qemu

demo:
	@bash scripts/demo.sh

check:
	@bash scripts/check.sh

# Our iotests on a QEMU built with ASan and UBSan (build/qemu-sanitize)
check-sanitize:
	@bash scripts/check-sanitize.sh

# Our driver against the stock VHDX driver, qcow2 and raw: every case of
# bench/bench.py in one run.  make bench BENCH_ARGS=--quick: under 2 minutes
BENCH_ARGS ?=
bench: qemu
	@bash bench/run.sh $(BENCH_ARGS)

# Power loss simulated over recorded real I/O (tests/crash/): every state
# of every cut point, four seeds per workload.
crash: qemu
	@bash scripts/run-crash.sh full

# The steps, one by one.
setup:                          # apt sources and packages
	@bash scripts/setup-apt.sh
source:                         # QEMU source, patches/, overlay of our files
	@bash scripts/prepare.sh
qemu: source                    # configure and build QEMU in build/qemu-build
	@bash scripts/build-qemu.sh
unit:                           # unit tests of the format core
	@bash scripts/run-unit.sh unit
unit-asan:
	@bash scripts/run-unit.sh unit-asan -Db_sanitize=address,undefined -Db_lundef=false
tools-tests:                    # vhdx-merge's unit tests, pyflakes, pycodestyle
	@bash scripts/run-tools-tests.sh
iotests: qemu                   # QEMU's iotests with format vhdx
	@bash scripts/run-iotests.sh

# libFuzzer harnesses of the format core (tests/fuzz/), one after the
# other; scripts/run-fuzz.sh has the other modes (coverage, merge, seeds)
FUZZ_SECONDS ?= 60
fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/run-fuzz.sh run

clean:                          # build trees and logs; keeps the QEMU source
	rm -rf build/qemu-build build/qemu-sanitize build/unit build/unit-asan \
	       build/logs build/demo build/crash build/fuzz
distclean:                      # everything, including the QEMU source
	rm -rf build
