#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS (default 60) each, one after the
# other, and prints per target the executions and whether it crashed.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# Each target starts from its committed corpus (fuzz/corpus/<target>/) and
# keeps what it finds in fuzz/target/work/<target>/ (not committed); a crash
# is written to fuzz/artifacts/<target>/. Minimize a crash with
# `cargo +nightly fuzz tmin -s none -a <target> <file>` and commit the result
# to the target's corpus: `cargo test -p cairn-e2e --test fuzz_corpora`
# replays it on stable from then on.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(ls fuzz_targets | sed 's/\.rs$//')
fi
# Built as the runs below use it: no sanitizer (the code under test forbids
# unsafe code; panics, aborts, overflows and memory limits are what the
# fuzzer looks for), debug assertions on so arithmetic overflow panics.
flags=(-s none -a)
cargo +nightly fuzz build "${flags[@]}"
status=0
summary=()
for target in "${targets[@]}"; do
    work="target/work/$target"
    mkdir -p "$work" "artifacts/$target"
    log="target/work/$target.log"
    if cargo +nightly fuzz run "${flags[@]}" "$target" "$work" "corpus/$target" -- \
        -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 > "$log" 2>&1; then
        result="no crash"
    else
        result="CRASH (see $log and artifacts/$target/)"
        status=1
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    summary+=("$(printf '%-18s %10s executions in %ss: %s' "$target" "${runs:-?}" "$seconds" "$result")")
done
printf '%s\n' "${summary[@]}"
exit $status
