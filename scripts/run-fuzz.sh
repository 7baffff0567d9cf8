#!/bin/bash
# libFuzzer fuzzing of the format core (tests/fuzz/).
# usage: run-fuzz.sh [MODE]
#   run       (default) build, then fuzz each harness for $FUZZ_SECONDS
#             seconds (default 60), one at a time, starting from the
#             committed corpus; print executions and findings; fail if any
#             harness left a crash, leak, timeout or oom file
#   build     build the harnesses with clang -fsanitize=fuzzer,address,
#             undefined into build/fuzz, and the seed generator
#   seeds     write fresh seeds (tests/fuzz/gen-corpus.c) to build/fuzz/seeds
#   merge     minimize the committed corpus, the seeds and what fuzzing
#             found (build/fuzz/corpus) into tests/fuzz/corpus (-merge=1)
#   coverage  build with clang source coverage, run the harnesses over the
#             union of the corpora, print line coverage of block/vhdx/
# FUZZ_HARNESSES picks harnesses (default: open session locator log create).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

OUT=$BUILD/fuzz
CORPUS=$ROOT/tests/fuzz/corpus
HARNESSES=(${FUZZ_HARNESSES:-open session locator log create})
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
CC=${FUZZ_CC:-clang}

# Per harness: the largest input libFuzzer makes (see each harness)
declare -A MAX_LEN=([open]=65536 [session]=1024 [locator]=8192 [log]=65536
                    [create]=512)

SUPPORT_SRCS=(tests/unit/vhdx-memio.c tests/unit/vhdx-test-image.c
              tests/fuzz/fuzz-fixup.c tests/fuzz/fuzz-io.c
              tests/fuzz/fuzz-sparse.c tests/fuzz/fuzz-util.c)

# The core's sources, as block/vhdx/meson.build lists them
core_srcs() {
    sed -n '/^vhdx_core_files = files(/,/^)/p' "$ROOT/block/vhdx/meson.build" |
        grep -o "'[a-z0-9_-]*\.c'" | tr -d "'" | sed 's|^|block/vhdx/|'
}

common_flags() {
    echo -g -std=gnu11 -Wall -Werror -I"$ROOT/include" \
         -I"$ROOT/block/vhdx" -I"$ROOT/tests/unit" \
         $(pkg-config --cflags glib-2.0)
}

# stale OBJ SRC: OBJ is missing, or older than SRC or any header
stale() {
    [ ! -f "$1" ] || [ "$2" -nt "$1" ] ||
        [ -n "$(find "$ROOT/include" "$ROOT/block/vhdx" "$ROOT/tests/unit" \
                     "$ROOT/tests/fuzz" -name '*.h' -newer "$1" -print \
                     -quit)" ]
}

# compile DIR FLAGS... -- SRC...: objects in DIR, their paths in OBJS
compile() {
    local dir=$1 flags=() src obj
    shift
    while [ "$1" != -- ]; do flags+=("$1"); shift; done
    shift
    mkdir -p "$dir"
    OBJS=()
    for src in "$@"; do
        obj=$dir/$(echo "${src%.c}" | tr / _).o
        if stale "$obj" "$ROOT/$src"; then
            "$CC" $(common_flags) "${flags[@]}" -c "$ROOT/$src" -o "$obj" ||
                die "compiling $src failed"
        fi
        OBJS+=("$obj")
    done
}

require_clang() {
    command -v "$CC" >/dev/null ||
        die "no $CC: run 'make setup' (packages clang, llvm," \
            "libclang-rt-14-dev)"
}

build() {
    local san=(-O1 -fno-omit-frame-pointer -fsanitize=address,undefined
               -fno-sanitize-recover=undefined) objs h
    require_clang
    say "fuzz: build (${CC}, libFuzzer, ASan, UBSan) in ${OUT#"$ROOT"/}"
    compile "$OUT/obj" "${san[@]}" -fsanitize=fuzzer-no-link -- \
        $(core_srcs) "${SUPPORT_SRCS[@]}"
    objs=("${OBJS[@]}")
    for h in "${HARNESSES[@]}" gen-corpus; do
        local src=tests/fuzz/fuzz-$h.c link=-fsanitize=fuzzer out=fuzz-$h
        if [ "$h" = gen-corpus ]; then
            src=tests/fuzz/gen-corpus.c link= out=gen-corpus
        fi
        compile "$OUT/obj" "${san[@]}" -fsanitize=fuzzer-no-link -- "$src"
        "$CC" "${san[@]}" $link "${OBJS[@]}" "${objs[@]}" \
            $(pkg-config --libs glib-2.0) -o "$OUT/$out" ||
            die "linking $out failed"
    done
}

seeds() {
    rm -rf "$OUT/seeds"
    "$OUT/gen-corpus" "$OUT/seeds" | sed 's/^/    /'
}

# libFuzzer options every run of harness $1 uses
fuzz_opts() {
    echo -max_len="${MAX_LEN[$1]}" -dict="$ROOT/tests/fuzz/vhdx.dict" \
         -timeout=25 -rss_limit_mb=2560 -print_final_stats=1
}

# fuzz_one HARNESS: fuzz for $FUZZ_SECONDS; prints one summary line
fuzz_one() {
    local h=$1 work=$OUT/run/$1 found=$OUT/findings/$1 log execs secs n cpu
    mkdir -p "$work" "$found" "$OUT/corpus/$h"
    rm -f "$work"/fuzz-*.log
    # -jobs=1: one worker whose output goes to fuzz-0.log in $work
    (cd "$work" &&
     /usr/bin/time -f '%e %U %S' -o "$work/time" \
     "$OUT/fuzz-$h" $(fuzz_opts "$h") -jobs=1 -workers=1 \
         -max_total_time="$FUZZ_SECONDS" -artifact_prefix="$found/" \
         "$OUT/corpus/$h" "$CORPUS/$h" >"$work/driver.log" 2>&1) || true
    log=$work/fuzz-0.log
    # time(1) says first how the command exited when it failed
    secs=$(tail -n 1 "$work/time" | awk '{ printf "%.0f", $1 }')
    cpu=$(tail -n 1 "$work/time" | awk '{ printf "%.0f", $2 + $3 }')
    cp "$log" "$LOGS/fuzz-$h.log" 2>/dev/null || true
    # The final statistics, or the last status line of a run that crashed
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" |
            grep -o '[0-9]*$' | tail -n 1)
    [ -n "$execs" ] ||
        execs=$(grep -ao '^#[0-9]*' "$log" | tail -n 1 | tr -d '#')
    n=$(find "$found" -type f \( -name 'crash-*' -o -name 'leak-*' \
             -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
    printf '    %-8s %9s executions in %ss (%ss CPU), corpus %s, %s\n' \
        "$h" "${execs:-?}" "${secs:-?}" "$cpu" \
        "$(ls "$OUT/corpus/$h" | wc -l)+$(ls "$CORPUS/$h" | wc -l)" \
        "findings $n"
    if [ "$n" != 0 ]; then
        find "$found" -type f | sed 's/^/        /'
        grep -m 3 -E 'ERROR|FUZZ FINDING|runtime error' "$log" |
            sed 's/^/        /' || true
        return 1
    fi
}

run() {
    local failed=0 h
    build
    say "fuzz: ${FUZZ_SECONDS}s per harness" \
        "(logs: ${LOGS#"$ROOT"/}/fuzz-*.log)"
    for h in "${HARNESSES[@]}"; do
        fuzz_one "$h" || failed=1
    done
    [ "$failed" = 0 ] ||
        die "fuzzing found something (see build/fuzz/findings)"
}

# Replaces the committed corpus by a minimal one covering everything the
# committed corpus, the seeds and the fuzzing corpus cover
merge() {
    local h dirs d
    build
    seeds
    for h in "${HARNESSES[@]}"; do
        rm -rf "$OUT/merged/$h"
        mkdir -p "$OUT/merged/$h"
        dirs=()
        for d in "$CORPUS/$h" "$OUT/seeds/$h" "$OUT/corpus/$h"; do
            [ -d "$d" ] && dirs+=("$d")
        done
        # Edges only, not hit counts: a corpus make check replays in
        # seconds, also with ASan
        "$OUT/fuzz-$h" $(fuzz_opts "$h") -merge=1 -use_counters=0 \
            -use_value_profile=0 "$OUT/merged/$h" \
            "${dirs[@]}" >"$LOGS/fuzz-merge-$h.log" 2>&1 ||
            die "merging the $h corpus failed (see $LOGS/fuzz-merge-$h.log)"
        # What the committed corpus held stays in the fuzzing corpus
        mkdir -p "$OUT/corpus/$h"
        cp -n "$CORPUS/$h"/* "$OUT/corpus/$h"/ 2>/dev/null || true
        rm -rf "$CORPUS/$h"
        mkdir -p "$CORPUS"
        cp -r "$OUT/merged/$h" "$CORPUS/$h"
        note "$h: $(ls "$CORPUS/$h" | wc -l) inputs," \
             "$(du -sh "$CORPUS/$h" | cut -f1)"
    done
}

# The first of the names given that is a command
first_tool() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null && { echo "$t"; return; }
    done
    die "none of $* found (Debian package llvm)"
}

coverage() {
    local cov=$OUT/cov flags=(-O0 -fprofile-instr-generate -fcoverage-mapping)
    local profdata llvmcov objs bins=() h d
    require_clang
    profdata=$(first_tool llvm-profdata llvm-profdata-14)
    llvmcov=$(first_tool llvm-cov llvm-cov-14)
    say "fuzz: coverage build in ${cov#"$ROOT"/}"
    compile "$cov/obj" "${flags[@]}" -- $(core_srcs) "${SUPPORT_SRCS[@]}" \
        tests/fuzz/fuzz-replay-main.c
    objs=("${OBJS[@]}")
    rm -rf "$cov/prof"
    mkdir -p "$cov/prof"
    for h in "${HARNESSES[@]}"; do
        local dirs=()
        compile "$cov/obj" "${flags[@]}" -- "tests/fuzz/fuzz-$h.c"
        "$CC" "${flags[@]}" "${OBJS[@]}" "${objs[@]}" \
            $(pkg-config --libs glib-2.0) -o "$cov/fuzz-$h" ||
            die "linking the coverage fuzz-$h failed"
        for d in "$CORPUS/$h" "$OUT/corpus/$h"; do
            [ -d "$d" ] && [ -n "$(ls "$d")" ] && dirs+=("$d")
        done
        LLVM_PROFILE_FILE=$cov/prof/$h.profraw "$cov/fuzz-$h" "${dirs[@]}" \
            >"$LOGS/fuzz-cov-$h.log" 2>&1 ||
            die "replaying the $h corpus failed (see $LOGS/fuzz-cov-$h.log)"
        note "$h: $(grep -o '[0-9]* inputs' "$LOGS/fuzz-cov-$h.log" |
                    awk '{ n += $1 } END { print n }') inputs"
        bins+=("$cov/fuzz-$h")
    done
    "$profdata" merge -sparse "$cov"/prof/*.profraw -o "$cov/all.profdata"
    say "fuzz: line coverage of block/vhdx/ by the union of the corpora"
    "$llvmcov" report -instr-profile="$cov/all.profdata" "${bins[0]}" \
        $(printf -- '-object=%s ' "${bins[@]:1}") \
        "$ROOT"/block/vhdx/*.c > "$cov/report.txt"
    # Filename ... Lines Missed Cover ...: keep the name and the lines
    awk 'NR > 2 && $1 !~ /^-+$/ {
             n = split($1, p, "/");
             printf "    %-12s %6s lines %6s missed %8s\n",
                    p[n], $8, $9, $10
         }' "$cov/report.txt"
    "$llvmcov" show -instr-profile="$cov/all.profdata" "${bins[0]}" \
        $(printf -- '-object=%s ' "${bins[@]:1}") -format=html \
        -output-dir="$cov/html" "$ROOT"/block/vhdx/*.c
    note "annotated sources: ${cov#"$ROOT"/}/html/index.html"
}

case ${1:-run} in
    run) run ;;
    build) build ;;
    seeds) build; seeds ;;
    merge) merge ;;
    coverage) coverage ;;
    *) die "unknown mode '$1' (run, build, seeds, merge, coverage)" ;;
esac
