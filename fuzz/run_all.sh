#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 600), two at a time at the lowest priority, with the
# allocation cap, collecting every crash (fork mode) instead of stopping at the first. Logs go to
# fuzz/logs/<target>.log; prints each target's final libFuzzer line (executions, cov, ft, crashes).
# Usage (from the repository root, after fuzz/make_corpus.sh): fuzz/run_all.sh [SECONDS] [TARGET...]
set -uo pipefail
cd "$(dirname "$0")"
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(npy safetensors csv scene model_config onnx session)
mkdir -p logs
export RUSTC_BOOTSTRAP=1
cargo fuzz build
# The built binaries are run directly (as `cargo fuzz run` does), so editing the sources while the
# fuzzers run does not rebuild them mid-way.
bin=target/x86_64-unknown-linux-gnu/release
run() {
  mkdir -p "artifacts/$1"
  nice -n 19 "$bin/$1" "corpus/$1" -artifact_prefix="artifacts/$1/" -max_total_time="$seconds" -rss_limit_mb=2048 \
    -malloc_limit_mb=512 -timeout=10 -print_final_stats=1 -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 >"logs/$1.log" 2>&1
  echo "$1 (exit $?): $(grep -E '^#[0-9]+' "logs/$1.log" | tail -1)"
}
for ((i = 0; i < ${#targets[@]}; i += 2)); do
  run "${targets[i]}" &
  [ $((i + 1)) -lt ${#targets[@]} ] && run "${targets[i + 1]}" &
  wait
done
# Each fuzzing process leaves its scratch file behind (fork mode starts a new process per job).
rm -f /dev/shm/diffscope-fuzz-* "${TMPDIR:-/tmp}"/diffscope-fuzz-*
