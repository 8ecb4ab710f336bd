"""logitscope against Hugging Face transformers and llama.cpp, in one invocation.

Runs, back to back on the same machine and thread count: `logitscope bench` (f32, bf16, q8,
q4 interleaved), hf_baseline.py (f32, bf16) and llama_baseline.py (the Q4_1 GGUF and its f32
dequantisation): 128-token prompt, 128 greedy tokens, median of --runs runs after a warm-up.
Prints one JSON object with the three reports and the ratios the speed targets are stated in
on stdout, and the same as a Markdown table on stderr. Run by hand in the bench venv
(scripts/bench/README.md) on an otherwise idle machine, after `cargo build --release`:

    python scripts/bench/compare.py [--threads 2] [--runs 5]
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

# (name, numerator, denominator, target): decode ms/token unless the path says prefill.
TARGETS = [
    ("f32 decode / HF f32", ("ours", "f32", "decode"), ("hf", "f32", "decode"), 0.6),
    ("f32 decode / llama.cpp f32", ("ours", "f32", "decode"), ("llama", "f32", "decode"), 1.1),
    ("bf16 decode / HF bf16", ("ours", "bf16", "decode"), ("hf", "bf16", "decode"), 0.5),
    ("fastest decode / llama.cpp Q4_1", ("ours", "fastest", "decode"),
     ("llama", "q4_1", "decode"), 1.5),
    ("f32 prefill-128 / HF f32", ("ours", "f32", "prefill"), ("hf", "f32", "prefill"), 1.0),
]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run_json(cmd):
    log("$ " + " ".join(str(c) for c in cmd))
    out = subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def value(reports, impl, mode, what):
    key = "prefill_ms" if what == "prefill" else "decode_ms_per_token"
    r = reports[impl]
    if mode == "fastest":
        mode = min(("f32", "bf16", "q8", "q4"), key=lambda m: r[m][key])
    return r[mode][key], mode


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--binary", type=Path, default=ROOT / "target" / "release" / "logitscope")
    args = ap.parse_args()
    if not args.binary.exists():
        sys.exit(f"{args.binary} not found: run `cargo build --release` first")
    t, r = str(args.threads), str(args.runs)
    load_before = os.getloadavg()[0]
    reports = {
        "ours": run_json([args.binary, "bench", "--threads", t, "--runs", r]),
        "hf": run_json([sys.executable, HERE / "hf_baseline.py", "--threads", t, "--runs", r]),
        "llama": run_json([sys.executable, HERE / "llama_baseline.py", "--threads", t,
                           "--runs", r]),
    }
    ratios = []
    for name, num, den, target in TARGETS:
        a, mode = value(reports, *num)
        b, _ = value(reports, *den)
        ratios.append({"ratio": name, "mode": mode, "value": round(a / b, 3), "target": target,
                       "met": a / b <= target})
    result = {"threads": args.threads, "runs": args.runs,
              "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
              "ratios": ratios, **reports}
    print(json.dumps(result))

    rows = [("logitscope " + m, reports["ours"][m]) for m in ("f32", "bf16", "q8", "q4")]
    rows += [("transformers " + m, reports["hf"][m]) for m in ("f32", "bf16")]
    rows += [("llama.cpp " + m, reports["llama"][k]) for m, k in (("f32", "f32"),
                                                                 ("Q4_1", "q4_1"))]
    log("\n| | prefill 128 tok (ms) | decode (ms/token) |\n|---|---|---|")
    for name, v in rows:
        log(f"| {name} | {v['prefill_ms']:.1f} | {v['decode_ms_per_token']:.2f} |")
    log("\n| ratio | mode | value | target | met |\n|---|---|---|---|---|")
    for x in ratios:
        log(f"| {x['ratio']} | {x['mode']} | {x['value']:.2f}× | ≤ {x['target']}× | "
            f"{'yes' if x['met'] else 'no'} |")


if __name__ == "__main__":
    main()
