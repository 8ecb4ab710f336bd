#!/usr/bin/env bash
# f32 decode ms/token with the machine idle and with one core kept busy by `yes`, for
# `--threads 2`, `--threads 1` and the governed default, each idle/busy pair back to back.
#
#   scripts/bench/threads_busy.sh [ROUNDS]      (default 2; needs a release build)
#
# Settings: TOKENS (64 decode tokens per run), RUNS (3; `bench` reports their median).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BIN=target/release/logitscope
[ -x "$BIN" ] || { echo "threads_busy: build first: cargo build --release" >&2; exit 1; }
ROUNDS="${1:-2}"

one() {
  "$BIN" bench --only f32 --runs "${RUNS:-3}" --decode-tokens "${TOKENS:-64}" "$@" 2>/dev/null |
    python3 -c '
import json, sys
d = json.load(sys.stdin); f = d["f32"]
runs = " ".join(f"{x:.1f}" for x in f["decode_runs_ms_per_token"])
ms, n, g = f["decode_ms_per_token"], d["threads"], d["threads_governed"]
print(f"{ms:.1f} ms/token (runs {runs}; {n} threads, governed {g})")'
}

busy=""
trap '[ -n "$busy" ] && kill "$busy" 2>/dev/null' EXIT
for _ in $(seq "$ROUNDS"); do
  for cfg in "--threads 2" "--threads 1" ""; do
    echo "${cfg:-default (governed)}"
    printf '  idle: '; one $cfg
    yes > /dev/null & busy=$!
    sleep 1
    printf '  busy: '; one $cfg
    kill "$busy"; wait "$busy" 2>/dev/null || true; busy=""
  done
done
